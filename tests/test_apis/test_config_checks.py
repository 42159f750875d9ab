"""Config preparation: key checks, dims from the data, one ground truth for every table."""
import os

import pytest
from mmengine.config import Config

from wsal.apis import load_config, prepare_config
from wsal.apis.config_check import (ConfigKeyError, apply_overrides, check_config_keys,
                                    check_overrides)
from wsal.apis.data_dims import checkpoint_dims, data_dims
from wsal.utils.config_files import packaged_config_dir

PACKAGED = sorted(str(p.relative_to(packaged_config_dir()))
                  for p in packaged_config_dir().rglob('*.py')
                  if '_base_' not in p.parts and 'sweeps' not in p.parts)  # sweeps/: no model


@pytest.mark.parametrize('name', PACKAGED)
def test_every_packaged_config_passes_the_key_checks(name):
    load_config(name)  # raises ConfigKeyError on an unknown key


def test_overrides_name_the_full_key_and_close_matches():
    cfg = load_config('bm/bm_i3d_thumos14.py')
    with pytest.raises(ConfigKeyError, match=r'train_cfg has no key .max_iter. .*'
                       r'Did you mean: train_cfg\.max_iters\?'):
        check_overrides(cfg, {'train_cfg.max_iter': 10})
    with pytest.raises(ConfigKeyError, match=r'model\.losses\.bgg does not exist\)\. '
                       r'Did you mean: model\.losses\.bg\?'):
        check_overrides(cfg, {'model.losses.bgg.weight': 0.2})
    with pytest.raises(ConfigKeyError, match=r'model\.losses\.bg\.weight is a float'):
        check_overrides(cfg, {'model.losses.bg.weight.x': 1})
    # existing keys, and new keys unlike any existing one, are fine
    check_overrides(cfg, {'model.losses.bg.weight': 0.2, 'train_cfg.max_iters': 3,
                          'model.losses.margin': dict(type='BackgroundLoss'),
                          'val_evaluator.0.preset': 'thumos14'})


def test_a_switched_off_term_is_switched_on_by_naming_its_fields():
    """``None`` in a child config (r3 switches L_bg off) takes a dict from the overrides."""
    row = 'ablation/r3_fg-guide_i3d_thumos14.py'
    cfg = load_config(row)
    assert cfg.model.losses.bg is None
    with pytest.raises(TypeError):  # what mmengine alone does
        cfg.copy().merge_from_dict({'model.losses.bg.type': 'BackgroundLoss'})
    apply_overrides(cfg, {'model.losses.bg.type': 'BackgroundLoss',
                          'model.losses.bg.weight': 0.2})
    assert dict(cfg.model.losses.bg) == dict(type='BackgroundLoss', weight=0.2)
    cfg = load_config(row, {'model.losses.bg.type': 'BackgroundLoss'})
    assert cfg.model.losses.bg.type == 'BackgroundLoss'
    load_config('bm/bm_i3d_thumos14.py', {'model.losses.bg': None})
    # typos are still caught above the switched-off entry, and nothing is changed
    cfg = load_config(row)
    with pytest.raises(ConfigKeyError, match=r'Did you mean: model\.losses\.bg\?'):
        apply_overrides(cfg, {'model.losses.bgg.type': 'BackgroundLoss'})
    assert cfg.model.losses.bg is None
    apply_overrides(cfg, None)
    apply_overrides(cfg, {})


def test_a_new_entry_is_added_by_naming_its_type():
    """``model.losses.<new>.type=...`` adds a term from the command line; typos are still caught."""
    from wsal import build_model
    extra = {'model.losses.extra.type': 'SparsityLoss', 'model.losses.extra.weight': 0.05}
    cfg = load_config('bm/bm_i3d_thumos14.py', extra)
    assert dict(cfg.model.losses.extra) == dict(type='SparsityLoss', weight=0.05)
    model = build_model(cfg.model)
    assert 'extra' in model.losses and model.losses['extra'].weight == 0.05
    with pytest.raises(ConfigKeyError, match=r'model\.losses\.extra does not exist'):
        load_config('bm/bm_i3d_thumos14.py', {'model.losses.extra.weight': 0.05})  # no type
    with pytest.raises(ConfigKeyError, match=r'Did you mean: model\.losses\.cluster\?'):
        load_config('bm/bm_i3d_thumos14.py', {'model.losses.clusterr.type': 'ClusterLoss'})
    with pytest.raises(ConfigKeyError, match=r'unknown key'):  # its arguments are checked
        load_config('bm/bm_i3d_thumos14.py', dict(extra, **{'model.losses.extra.wieght': 1}))


def test_cli_overrides_name_a_value_they_cannot_read(capsys):
    import argparse
    from wsal.cli._common import add_config_args
    parser = argparse.ArgumentParser(prog='wsal train')
    add_config_args(parser)
    args = parser.parse_args(['--cfg-options', 'train_cfg.max_iters=3', 'a.b=[1,2]',
                              'model.losses.m.type=SparsityLoss'])
    assert args.cfg_options == {'train_cfg.max_iters': 3, 'a.b': [1, 2],
                                'model.losses.m.type': 'SparsityLoss'}
    for bad, match in (("model.losses.m=dict(type='X',weight=0.1)", 'give a dict'),
                       ("model.losses.m=dict(type='X')", 'give a dict'),  # not a string
                       ('model.losses.m', 'expected KEY=VALUE')):
        with pytest.raises(SystemExit):
            parser.parse_args(['--cfg-options', bad])
        err = capsys.readouterr().err
        assert match in err and bad in err
    from wsal.experiments.campaign import parse_cfg_options
    assert parse_cfg_options(['r8:model.losses.m.type=SparsityLoss', 'a=(1,2)']) == {
        'r8': {'model.losses.m.type': 'SparsityLoss'}, '*': {'a': (1, 2)}}
    with pytest.raises(ValueError, match="cannot read the value of 'r8:a=dict"):
        parse_cfg_options(["r8:a=dict(type='X',weight=0.1)"])


def test_file_keys_are_checked_against_the_components():
    cfg = Config.fromfile(str(packaged_config_dir() / 'bm/bm_i3d_thumos14.py'))
    cfg.model.classifier['dropuot'] = 0.1
    cfg.model.losses['sparsity'] = dict(weight=0.1)  # no type
    cfg['defualt_hooks'] = {}
    with pytest.raises(ConfigKeyError) as info:
        check_config_keys(cfg, name='my.py')
    msg = str(info.value)
    assert msg.startswith('my.py: unknown key(s): ')
    assert ("model.classifier.dropuot: LinearClassifier has no argument 'dropuot'. "
            'Did you mean: model.classifier.dropout?') in msg
    assert "model.losses.sparsity has no 'type'" in msg
    assert 'defualt_hooks: not a key the Runner reads. Did you mean: default_hooks?' in msg


def test_dims_follow_the_data_for_model_and_datasets(tiny_root, tmp_path):
    cfg = prepare_config('bm/bm_i3d_thumos14.py', data_root=tiny_root, work_dir=tmp_path)
    assert dict(cfg.model.streams) == {'rgb': 32, 'flow': 32}
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert dict(cfg[key].dataset.feature_dims) == {'rgb': 32, 'flow': 32}
    kept = prepare_config('bm/bm_i3d_thumos14.py', data_root=tiny_root, work_dir=tmp_path,
                          dims_from_data=False)
    assert dict(kept.model.streams) == {'rgb': 1024, 'flow': 1024}
    # no features found (a data root still to be filled): the config is left as it is
    empty = tmp_path / 'empty'
    empty.mkdir()
    cfg = load_config('bm/bm_i3d_thumos14.py')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = str(empty)
    assert data_dims(cfg) == {}
    import torch
    state = {'attention.rgb.fc1.weight': torch.zeros(8, 48), 'attention.rgb.fc1.bias': torch.zeros(8)}
    assert checkpoint_dims(state, ['rgb', 'flow']) == {'rgb': 48}


def test_checkpoint_dims_read_the_first_layer_of_any_attention():
    import torch
    import torch.nn as nn

    class ConvFirst(nn.Module):     # a plugin's attention: a temporal conv, then a linear layer
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(48, 8, 3)
            self.fc = nn.Linear(8, 1)
            self.norm = nn.LayerNorm(8)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.ModuleDict({'rgb': ConvFirst()})

    state = Model().state_dict()
    assert checkpoint_dims(state, ['rgb']) == {'rgb': 48}
    # registration order, not the names' order, says which layer comes first
    late = {'attention.rgb.z_in.weight': torch.zeros(8, 48),
            'attention.rgb.a_out.weight': torch.zeros(1, 8)}
    assert checkpoint_dims(late, ['rgb']) == {'rgb': 48}


def test_detection_metrics_read_the_datasets_ground_truth_file(tiny_root, tmp_path):
    cfg = prepare_config('bm/bm_i3d_thumos14.py', data_root=tiny_root, work_dir=tmp_path)
    for key in ('val_evaluator', 'test_evaluator'):
        metric = next(m for m in cfg[key] if m['type'] == 'DetectionMAP')
        assert metric['ann_file'] == os.path.join(str(tiny_root), 'gt.json')
        assert metric['subset'] == 'test' and metric['video_list'] is None


def test_log_level_and_progress_hook(tmp_path):
    cfg = prepare_config('bm/bm_i3d_thumos14.py', work_dir=tmp_path, log_level='info')
    assert cfg.console_log_level == 'INFO'
    assert [h['type'] for h in cfg.custom_hooks].count('ProgressHook') == 1
    quiet = prepare_config(cfg, work_dir=tmp_path, quiet=True)
    assert quiet.console_log_level == 'ERROR'
    assert 'ProgressHook' not in [h['type'] for h in quiet.custom_hooks]
    with pytest.raises(ValueError, match='unknown log level'):
        prepare_config('bm/bm_i3d_thumos14.py', log_level='LOUD')


def test_health_flags_name_the_streams():
    from wsal.apis.health import health_flags
    metrics = {'health/saturated': 1.0, 'health/rgb/saturated': 1.0, 'health/flow/saturated': 0.0,
               'health/flow/lambda_in': 0.2, 'health/flow/lambda_out': 0.4,
               'health/lambda_in': 0.9, 'health/lambda_out': 0.5, 'detection/mAP@0.5': 0.1}
    assert health_flags(metrics) == ['saturated:mean,rgb', 'inverted:flow']
    assert health_flags({'health/saturated': 0.0, 'health/collapsed': 0.0}) == []


def test_attention_flags_follow_the_order_asked():
    from wsal.apis.health import attention_flags
    health = {'saturated': 1.0, 'rgb/collapsed': 1.0, 'flow/lambda_in': 0.2,
              'flow/lambda_out': 0.4, 'rgb/lambda_in': float('nan'), 'rgb/lambda_out': 0.3}
    assert attention_flags(health) == ['collapsed:rgb', 'saturated:mean', 'inverted:flow']
    assert attention_flags(health, order=('inverted', 'saturated')) == [
        'inverted:flow', 'saturated:mean']
    with pytest.raises(ValueError, match=r"unknown attention flag\(s\) \['idle'\]"):
        attention_flags(health, order=('inverted', 'idle'))


def test_health_metrics_are_the_numeric_health_keys_json_safe():
    import json
    from wsal.apis.health import health_metrics
    metrics = {'health/lambda_in': 0.7, 'health/rgb/auc_video': float('nan'),
               'health/collapsed': 1, 'health/note': 'text', 'detection/mAP@0.5': 0.2,
               'health/in_out_ratio': float('inf')}
    out = health_metrics(metrics)
    assert out == {'lambda_in': 0.7, 'rgb/auc_video': None, 'collapsed': 1.0,
                   'in_out_ratio': None}
    assert health_metrics({'h:lambda_in': 0.5}, prefix='h:') == {'lambda_in': 0.5}
    with pytest.raises(ValueError):        # the metrics files are strict JSON
        json.dumps({k[7:]: v for k, v in metrics.items()}, allow_nan=False)
    json.dumps(out, allow_nan=False)


def test_class_signal_reading_names_the_better_signal_for_lambda_proposals():
    from wsal.apis.health import class_signal_reading
    metrics = {'health/auc_class_lambda': 0.65, 'health/auc_class_map': 0.734}
    line = class_signal_reading(metrics, proposal='AttentionThresholdProposals')
    assert line.startswith("frame AUC against each video's frames of each of its classes: "
                           'λ 0.650, class map 0.734; the proposals threshold λ')
    assert 'FusedRankProposals' in line
    for other in ('FusedRankProposals', 'ClassScoreThresholdProposals', ''):
        assert class_signal_reading(metrics, proposal=other).endswith('class map 0.734')
    close = {'health/auc_class_lambda': 0.72, 'health/auc_class_map': 0.734}
    assert 'Fused' not in class_signal_reading(close, proposal='AttentionThresholdProposals')
    assert class_signal_reading({'health/auc_class_lambda': 0.7}) == ''
    assert class_signal_reading({'health/auc_class_lambda': float('nan'),
                                 'health/auc_class_map': 0.7}) == ''


def test_missing_ground_truth_is_refused_before_the_runner(tmp_path):
    from wsal.apis.runner import check_data_roots
    cfg = prepare_config('bm/bm_i3d_thumos14.py', data_root=tmp_path, work_dir=tmp_path / 'w')
    with pytest.raises(FileNotFoundError, match=r'ground truth not found: .*gt\.json '
                       r'\(train_dataloader\.dataset\.ann_file'):
        check_data_roots(cfg)


def test_types_from_custom_imports_are_known(tmp_path, monkeypatch):
    (tmp_path / 'my_metric_mod.py').write_text(
        'from mmengine.evaluator import BaseMetric\n'
        'from mmengine.registry import METRICS\n\n\n'
        '@METRICS.register_module(force=True)\n'
        'class MyOwnMetric(BaseMetric):\n'
        '    def process(self, data_batch, data_samples):\n        pass\n\n'
        '    def compute_metrics(self, results):\n        return {}\n')
    (tmp_path / 'cfg.py').write_text(
        "_base_ = ['wsal::bm/bm_i3d_thumos14.py']\n"
        "custom_imports = dict(imports=['my_metric_mod'], allow_failed_imports=False)\n"
        "test_evaluator = [dict(type='MyOwnMetric')]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_config(str(tmp_path / 'cfg.py')).test_evaluator == [dict(type='MyOwnMetric')]


def test_an_argument_of_the_components_class_is_set_though_close_to_a_key():
    """A keyword the config leaves at its default is settable even beside a similar key
    (UM's classifier has ``background`` and leaves ``background_logit`` out); a key the class
    does not take is still a typo."""
    name = 'um/um_i3d_thumos14.py'
    classifier = load_config(name).model.head.classifier
    assert 'background' in classifier and 'background_logit' not in classifier
    cfg = load_config(name, {'model.head.classifier.background_logit': 'zero'})
    assert cfg.model.head.classifier.background_logit == 'zero'
    with pytest.raises(ConfigKeyError, match=r'Did you mean: model\.head\.classifier\.background\?'):
        check_overrides(cfg, {'model.head.classifier.backgrounds': False})


def test_the_optimizer_constructors_keys_are_settable(tmp_path):
    """``optim_wrapper.paramwise_cfg`` (per-parameter lr and decay multipliers) is read by
    mmengine's constructor, not by ``OptimWrapper``: a file and an override may set it; a typo
    beside it is still caught."""
    from mmengine.optim import build_optim_wrapper

    from wsal.registry import build_model
    override = {'optim_wrapper.paramwise_cfg.custom_keys.embedding.decay_mult': 10.0,
                'model.embedding.type': 'ConvEmbedding', 'model.embedding.out_channels': 8}
    cfg = load_config('bm/bm_i3d_thumos14.py', override)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys.embedding.decay_mult == 10.0
    check_config_keys(cfg)
    cfg.model.update(num_classes=3, streams=dict(rgb=6, flow=4))
    wrapper = build_optim_wrapper(build_model(cfg.model), cfg.optim_wrapper)
    decay = {g['weight_decay'] for g in wrapper.optimizer.param_groups if len(g['params'])}
    assert decay == {5e-4, 5e-3}
    path = tmp_path / 'mine.py'
    path.write_text("_base_ = ['{}']\noptim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.0))\n"
                    .format(packaged_config_dir() / 'bm/bm_i3d_thumos14.py'))
    assert load_config(str(path)).optim_wrapper.paramwise_cfg.norm_decay_mult == 0.0
    with pytest.raises(ConfigKeyError, match=r'Did you mean: optim_wrapper\.paramwise_cfg\?'):
        check_overrides(cfg, {'optim_wrapper.paramwise_cfgg.bias_decay_mult': 0.0})
