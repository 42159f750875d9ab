"""Config text formatted once per content: equal to mmengine's, never stale, read by the Runner."""
import pickle

import mmengine.config.config as mm_config
import pytest
import torch
from mmengine.config import Config
from wsal_e2e_support import write_config

from wsal.apis import prepare_config, run_train
from wsal.engine.config_paths import resolve_config
from wsal.engine.config_text import FormattedTextConfig, with_formatted_text_cache


@pytest.fixture
def yapf_calls(monkeypatch):
    """Counts mmengine's calls of yapf's FormatCode."""
    calls = []
    original = mm_config.FormatCode

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(mm_config, 'FormatCode', counting)
    return calls


def test_text_equals_mmengine_and_is_formatted_once(yapf_calls):
    cfg = Config.fromfile(resolve_config('configs/bm/bm_i3d_thumos14.py'))
    cfg.model.losses.fg.weight = 0.123456          # content no earlier test formatted
    cached = with_formatted_text_cache(cfg)
    assert isinstance(cached, FormattedTextConfig) and type(cfg) is Config
    expected = cfg.pretty_text
    assert len(yapf_calls) == 1
    assert cached.pretty_text == expected
    assert cached.pretty_text == expected
    assert cached.dump() == expected
    assert len(yapf_calls) == 2                    # mmengine's read above, then one for all three


def test_a_change_is_formatted_again(yapf_calls):
    cached = with_formatted_text_cache(
        Config.fromfile(resolve_config('configs/stpn/stpn_i3d_thumos14.py')))
    cached.model.losses.fg.weight = 0.654321
    before = cached.pretty_text
    cached.model.losses.fg.weight = 0.765432
    after = cached.pretty_text
    assert 'weight=0.654321' in before.replace(' ', '')
    assert 'weight=0.765432' in after.replace(' ', '') and 'weight=0.654321' not in after
    assert after == Config(cached.to_dict()).pretty_text
    assert len(yapf_calls) == 3


def test_copies_and_pickles_keep_the_class():
    cached = with_formatted_text_cache(Config(dict(a=1, b=dict(c=[1, 2]))))
    again = pickle.loads(pickle.dumps(cached))
    assert type(again) is FormattedTextConfig and again.to_dict() == cached.to_dict()
    assert with_formatted_text_cache(cached) is cached
    assert with_formatted_text_cache({'a': 1}) == {'a': 1}


def test_runner_dumps_and_checkpoints_the_exact_text(tmp_path, tiny_root, monkeypatch, yapf_calls):
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=2, val_interval=2, num_videos=0)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    cfg = prepare_config(str(cfg_file), work_dir=tmp_path / 'w')
    runner = run_train(cfg)
    assert isinstance(runner.cfg, FormattedTextConfig)
    content = runner.cfg.to_dict()
    expected = Config(content).pretty_text
    ckpt = torch.load(tmp_path / 'w' / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['cfg'] == expected
    # the copy in the work dir leaves out the experiment name wsal made up
    copied = Config({k: v for k, v in content.items() if k != 'experiment_name'}).pretty_text
    assert (tmp_path / 'w' / cfg_file.name).read_text() == copied
    # the log and the checkpoint's meta: formatted once; the copy once (plus two references)
    assert len(yapf_calls) == 4


def test_config_copy_leaves_out_the_made_up_experiment_name(tmp_path, tiny_root, monkeypatch):
    """A run started from the work dir's config copy gets a name of its own."""
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=1, val_interval=1,
                            num_videos=0)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    first = run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'a'))
    copy = Config.fromfile(str(tmp_path / 'a' / cfg_file.name))
    assert 'experiment_name' not in copy
    second = run_train(prepare_config(str(tmp_path / 'a' / cfg_file.name), work_dir=tmp_path / 'b'))
    assert first.experiment_name != second.experiment_name
    assert first.logger is not second.logger
    # a name the config gives is the user's: kept in the copy
    named = run_train(prepare_config(str(cfg_file), work_dir=tmp_path / 'c',
                                     cfg_options={'experiment_name': 'mine'}))
    assert named.experiment_name.startswith('mine')
    assert Config.fromfile(str(tmp_path / 'c' / cfg_file.name)).experiment_name == 'mine'
