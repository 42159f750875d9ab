"""Plugins: entry points in the ``wsal.plugins`` group, loaded lazily and safely."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

import wsal
from wsal import registry as reg


def _write_dist(root: Path, dist: str, module: str, source: str, entry: str) -> None:
    """A minimal installed distribution: a package plus its dist-info."""
    pkg = root / module
    pkg.mkdir(parents=True)
    (pkg / '__init__.py').write_text(textwrap.dedent(source))
    info = root / f'{dist}-0.1.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n')
    (info / 'entry_points.txt').write_text(f'[wsal.plugins]\n{entry}\n')
    (info / 'RECORD').write_text('')


GOOD = '''
import torch
from wsal.registry import LOSSES

@LOSSES.register_module()
class PluginMarginLoss(torch.nn.Module):
    """Hinge on the background probability of the foreground-pooled feature."""

    def __init__(self, *, weight=1.0, margin=0.5):
        super().__init__()
        self.weight, self.margin = weight, margin

    def forward(self, stream_out, labels, mask):
        p_bg = stream_out['fg_logits'].softmax(-1)[:, 0]
        return {'loss_plugin_margin': self.weight * torch.relu(p_bg - self.margin).mean()}
'''

BROKEN = '''
raise ImportError("needs the package 'unobtainium' which is not installed")
'''


@pytest.fixture
def plugin_env(tmp_path, monkeypatch):
    """Install a good and a broken plugin on sys.path; restore registries after."""
    _write_dist(tmp_path, 'wsal_goodplugin', 'wsal_goodplugin', GOOD,
                'good = wsal_goodplugin')
    _write_dist(tmp_path, 'wsal_brokenplugin', 'wsal_brokenplugin', BROKEN,
                'broken = wsal_brokenplugin')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(reg.ENV_STRICT, raising=False)
    monkeypatch.delenv(reg.ENV_DISABLE, raising=False)
    reg._import_all()  # snapshot after wsal's own modules registered themselves
    saved = {name: dict(r._module_dict) for name, r in reg._ALL.items()}
    saved_records = list(reg._PLUGINS.records)
    yield tmp_path
    for name, r in reg._ALL.items():
        r._module_dict.clear()
        r._module_dict.update(saved[name])
    for mod in ('wsal_goodplugin', 'wsal_brokenplugin'):
        sys.modules.pop(mod, None)
    reg._PLUGINS.records = saved_records


def test_good_plugin_registers_and_broken_one_is_reported(plugin_env):
    with pytest.warns(RuntimeWarning, match=r"wsal plugin 'broken'.*wsal_brokenplugin.*unobtainium"):
        records = reg.load_plugins(force=True)
    by_name = {r.name: r for r in records}
    assert by_name['good'].error is None
    assert by_name['good'].distribution == 'wsal_goodplugin'
    assert 'LOSSES.PluginMarginLoss' in by_name['good'].registered
    assert 'unobtainium' in by_name['broken'].error

    loss = wsal.build_loss(dict(type='PluginMarginLoss', weight=2.0, margin=0.0))
    out = loss({'fg_logits': torch.zeros(1, 3)}, torch.ones(1, 2), torch.ones(1, 4, dtype=torch.bool))
    assert torch.allclose(out['loss_plugin_margin'], torch.tensor(2.0 / 3.0))

    listing = reg.registered('LOSSES')['LOSSES']
    assert listing['PluginMarginLoss'] == 'wsal_goodplugin'


def test_unknown_type_names_close_matches_and_failed_plugins(plugin_env):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        reg.load_plugins(force=True)
    with pytest.raises(KeyError) as info:
        wsal.build_loss(dict(type='PluginMarginLos'))
    text = str(info.value)
    assert "'PluginMarginLos' is not registered" in text
    assert 'Did you mean: PluginMarginLoss' in text
    assert "'broken' from 'wsal_brokenplugin'" in text


def test_strict_mode_makes_a_broken_plugin_fatal(plugin_env, monkeypatch):
    monkeypatch.setenv(reg.ENV_STRICT, '1')
    with pytest.raises(reg.PluginError) as info:
        reg.load_plugins(force=True)
    text = str(info.value)
    assert text == ("wsal plugin 'broken' (wsal_brokenplugin) from distribution 'wsal_brokenplugin' "
                    "failed to load: ImportError: needs the package 'unobtainium' which is not "
                    'installed (WSAL_PLUGINS_STRICT is set, so a broken plugin is fatal; unset it '
                    'to skip the plugin with a warning)')
    assert 'skipped' not in text.split('(WSAL')[0]
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_strict_mode_names_a_failing_register_function(tmp_path, monkeypatch):
    _write_dist(tmp_path, 'wsal_badhook', 'wsal_badhook',
                'def register():\n    raise TypeError("bad\\nmulti-line   message")\n',
                'hook = wsal_badhook:register')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(reg.ENV_STRICT, '1')
    monkeypatch.delenv(reg.ENV_DISABLE, raising=False)
    saved_records = list(reg._PLUGINS.records)
    try:
        with pytest.raises(reg.PluginError, match=r"^wsal plugin 'hook' \(wsal_badhook:register\) "
                                                  r"from distribution 'wsal_badhook' failed to load: "
                                                  r'TypeError: bad multi-line message \('):
            reg.load_plugins(force=True)
    finally:
        sys.modules.pop('wsal_badhook', None)
        reg._PLUGINS.records = saved_records


def test_strict_mode_through_the_cli_is_one_line(plugin_env):
    env = dict(os.environ, PYTHONPATH=str(plugin_env) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    env[reg.ENV_STRICT] = '1'
    env.pop(reg.ENV_DISABLE, None)
    env.pop('WSAL_DEBUG', None)
    out = subprocess.run([sys.executable, '-m', 'wsal', 'list', 'LOSSES'], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("wsal list: error: wsal plugin 'broken' (wsal_brokenplugin) from "
                               "distribution 'wsal_brokenplugin' failed to load: ImportError: "
                               "needs the package 'unobtainium'")


def test_disable_env_var_skips_plugins(plugin_env, monkeypatch):
    # Disabled, no entry point is imported: the records stay those of plugins
    # this process imported before (none where wsal is the only distribution).
    before = list(reg._PLUGINS.records)
    monkeypatch.setenv(reg.ENV_DISABLE, '1')
    records = reg.load_plugins(force=True)
    assert records == before
    assert all(r.name not in ('good', 'broken') for r in records)
    assert reg.LOSSES.get('PluginMarginLoss') is None


def _run_python(code: str, extra_path: Path, **env) -> dict:
    full_env = dict(os.environ, PYTHONPATH=str(extra_path) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    full_env.pop(reg.ENV_STRICT, None)
    full_env.pop(reg.ENV_DISABLE, None)
    full_env.update(env)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env=full_env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_wsal_loads_no_plugin_until_first_lookup(plugin_env):
    code = textwrap.dedent('''
        import json, sys, warnings
        warnings.simplefilter('ignore')
        import wsal
        before = 'wsal_goodplugin' in sys.modules or wsal.registry._PLUGINS.loaded
        found = wsal.registry.LOSSES.get('PluginMarginLoss') is not None
        print(json.dumps({'before': before, 'found': found}))
    ''')
    assert _run_python(code, plugin_env) == {'before': False, 'found': True}


def test_cli_list_shows_plugin_and_its_package(plugin_env):
    env = dict(os.environ, PYTHONPATH=str(plugin_env) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    env.pop(reg.ENV_STRICT, None)
    out = subprocess.run([sys.executable, '-m', 'wsal', 'list', 'LOSSES'], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if 'PluginMarginLoss' in ln)
    assert line.split()[-1] == 'wsal_goodplugin'
    assert "plugin 'broken' from 'wsal_brokenplugin' failed to load" in out.stdout


def test_config_uses_plugin_loss_by_name(plugin_env):
    """A model config switches STPN's sparsity off and adds the plugin's term."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        reg.load_plugins(force=True)
    from mmengine.config import Config
    root = Path(__file__).resolve().parents[2]
    cfg = Config.fromfile(str(root / 'configs' / 'stpn' / 'stpn_i3d_thumos14.py'))
    cfg.merge_from_dict({'model.streams': dict(rgb=6, flow=5), 'model.num_classes': 3,
                         'model.attention.hidden_channels': 4,
                         'model.losses.sparsity': None,
                         'model.losses.margin': dict(type='PluginMarginLoss', weight=1.0,
                                                     margin=0.0)})
    model = wsal.build_model(cfg)
    inputs = {'rgb': torch.rand(1, 9, 6), 'flow': torch.rand(1, 9, 5),
              'mask': torch.ones(1, 9, dtype=torch.bool)}
    losses = model(inputs, [{'label': torch.tensor([0.0, 1.0, 0.0])}], mode='loss')
    assert set(losses) == {'loss_fg', 'loss_plugin_margin'}
    assert torch.isfinite(losses['loss_plugin_margin']) and losses['loss_plugin_margin'] > 0
