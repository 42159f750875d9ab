"""Config text without yapf: mmengine's plain rendering, never stale, loadable, read by the Runner."""
import copy
import pickle

import mmengine.config.config as mm_config
import pytest
import torch
from mmengine.config import Config
from wsal_e2e_support import write_config

from wsal.apis import prepare_config, run_train
from wsal.engine.config_paths import resolve_config
from wsal.engine.config_text import with_plain_text


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


def _plain(cfg):
    out = Config(cfg.to_dict(), format_python_code=False)
    return out.pretty_text


def test_text_is_the_plain_rendering_and_loads_back(yapf_calls, tmp_path):
    cfg = Config.fromfile(resolve_config('configs/bm/bm_i3d_thumos14.py'))
    plain = with_plain_text(cfg)
    assert plain is not cfg and type(plain) is Config
    text = plain.pretty_text
    assert yapf_calls == []
    assert text == _plain(cfg) and plain.dump() == text
    assert cfg.pretty_text != text and len(yapf_calls) == 1   # cfg itself is left as it was
    assert max(len(line) for line in text.splitlines()) <= 100
    (tmp_path / 'copy.py').write_text(text)
    assert Config.fromfile(str(tmp_path / 'copy.py')).to_dict() == cfg.to_dict()


def test_a_change_is_in_the_next_text():
    plain = with_plain_text(Config.fromfile(resolve_config('configs/stpn/stpn_i3d_thumos14.py')))
    plain.model.losses.fg.weight = 0.654321
    before = plain.pretty_text
    plain.model.losses.fg.weight = 0.765432
    after = plain.pretty_text
    assert 'weight=0.654321' in before
    assert 'weight=0.765432' in after and 'weight=0.654321' not in after
    assert after == _plain(plain)


def test_copies_and_pickles_keep_the_plain_text(yapf_calls):
    plain = with_plain_text(Config(dict(a=1, b=dict(c=[1, 2]))))
    for again in (pickle.loads(pickle.dumps(plain)), copy.deepcopy(plain), copy.copy(plain)):
        assert again.to_dict() == plain.to_dict() and again.pretty_text == _plain(plain)
    assert yapf_calls == []
    assert with_plain_text(plain) is plain
    assert with_plain_text({'a': 1}) == {'a': 1}


def test_runner_dumps_and_checkpoints_the_exact_text(tmp_path, tiny_root, monkeypatch, yapf_calls):
    cfg_file = write_config(tmp_path / 'cfg', tiny_root, max_iters=2, val_interval=2, num_videos=0)
    monkeypatch.syspath_prepend(str(cfg_file.parent))
    cfg = prepare_config(str(cfg_file), work_dir=tmp_path / 'w')
    runner = run_train(cfg)
    assert runner.cfg.pretty_text == _plain(runner.cfg)
    content = runner.cfg.to_dict()
    ckpt = torch.load(tmp_path / 'w' / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['cfg'] == _plain(runner.cfg)
    # the copy in the work dir leaves out the experiment name wsal made up
    copied = _plain(Config({k: v for k, v in content.items() if k != 'experiment_name'}))
    assert (tmp_path / 'w' / cfg_file.name).read_text() == copied
    assert yapf_calls == []                        # the log, the copy, the checkpoints


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
