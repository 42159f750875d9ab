"""build_* helpers: config forms, foreign default scope, clear errors."""
from __future__ import annotations

import pytest
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from wsal import registry as reg


@pytest.fixture
def toy_part():
    """A tiny MODELS part registered for the duration of one test."""
    @reg.MODELS.register_module(force=True)
    class ToyRegistryPart(nn.Module):
        def __init__(self, *, width=3):
            super().__init__()
            self.width = width
    yield ToyRegistryPart
    reg.MODELS._module_dict.pop('ToyRegistryPart', None)


@pytest.mark.parametrize('form', ['dict', 'configdict', 'config', 'outer_dict', 'outer_config'])
def test_build_model_accepts_every_config_form(toy_part, form):
    inner = dict(type='ToyRegistryPart', width=5)
    cfg = {
        'dict': inner,
        'configdict': ConfigDict(inner),
        'config': Config(inner),
        'outer_dict': dict(model=inner, train_cfg=dict()),
        'outer_config': Config(dict(model=inner)),
    }[form]
    model = reg.build_model(cfg)
    assert isinstance(model, toy_part) and model.width == 5


def test_built_module_passes_through(toy_part):
    built = toy_part(width=2)
    assert reg.build_component(built, reg.MODELS) is built
    assert reg.build_component(None, reg.MODELS) is None


def test_build_model_works_under_a_foreign_default_scope(toy_part):
    DefaultScope.get_instance('wsal-test-foreign-scope', scope_name='mmaction')
    try:
        assert DefaultScope.get_current_instance().scope_name == 'mmaction'
        model = reg.build_model(dict(model=dict(type='ToyRegistryPart')))
        assert isinstance(model, toy_part)
    finally:
        DefaultScope._instance_dict.pop('wsal-test-foreign-scope', None)


def test_unknown_type_suggests_close_names(toy_part):
    with pytest.raises(KeyError, match=r"'ToyRegistryPrat' is not registered.*Did you mean: ToyRegistryPart"):
        reg.build_model(dict(type='ToyRegistryPrat'))


def test_config_without_type_is_a_clear_error():
    with pytest.raises(KeyError, match="no 'type' key"):
        reg.build_model(dict(width=3))
    with pytest.raises(TypeError, match='Config, ConfigDict or dict'):
        reg.build_model([1, 2])


def test_registries_have_explicit_wsal_scope():
    for name, r in reg._ALL.items():
        assert r.scope == 'wsal', name
