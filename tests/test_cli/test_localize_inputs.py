"""``wsal localize`` checks every input before a model is built or a video is run."""
import numpy as np
import pytest

from wsal.cli.main import main
from wsal_e2e_support import write_config


@pytest.fixture
def cfg(tmp_path, tiny_root, monkeypatch):
    import wsal.apis.inference as inference

    def no_model(*args, **kwargs):
        raise AssertionError('a model was built before the inputs were checked')

    monkeypatch.setattr(inference, 'init_localizer', no_model)
    path = write_config(tmp_path / 'cfg', tiny_root)  # streams rgb=32, flow=32
    monkeypatch.syspath_prepend(str(path.parent))
    return path


def _videos(folder, n=20, dim=32, length=12):
    for i in range(n):
        for s in ('rgb', 'flow'):
            (folder / s).mkdir(parents=True, exist_ok=True)
            np.save(folder / s / f'video_{i:02d}.npy',
                    np.random.default_rng(i).random((length, dim), dtype=np.float32))
    return folder


def _run(capsys, cfg, tmp_path, *inputs, out=None):
    argv = ['localize', str(cfg), str(tmp_path / 'never_loaded.pth'), *map(str, inputs)]
    if out is not None:
        argv += ['--out', str(out)]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    return err


def test_wrong_dimension_names_file_and_video(cfg, tmp_path, capsys):
    feats = _videos(tmp_path / 'feats')
    np.save(feats / 'rgb' / 'video_13.npy', np.zeros((12, 16), np.float32))
    err = _run(capsys, cfg, tmp_path, feats)
    assert 'video_13.npy' in err and "'video_13'" in err and "stream 'rgb'" in err
    assert 'dim 16' in err and 'takes 32' in err


@pytest.mark.parametrize('case, expect', [
    ('text', 'not a readable .npy'),
    ('empty', 'T = 0'),
    ('single', 'T = 1'),
    ('nan', 'non-finite'),
    ('3d', '2-D'),
    ('object', 'pickled object'),
    ('truncated', 'truncated'),
])
def test_bad_feature_file_named(cfg, tmp_path, capsys, case, expect):
    feats = _videos(tmp_path / 'feats', n=3)
    bad = feats / 'flow' / 'video_01.npy'
    if case == 'text':
        bad.write_text('0.1 0.2 0.3\n')
    elif case == 'empty':
        np.save(bad, np.zeros((0, 32), np.float32))
    elif case == 'single':
        np.save(bad, np.zeros((1, 32), np.float32))
    elif case == 'nan':
        arr = np.zeros((12, 32), np.float32)
        arr[5, 3] = np.nan
        np.save(bad, arr)
    elif case == '3d':
        np.save(bad, np.zeros((12, 4, 8), np.float32))
    elif case == 'object':
        np.save(bad, np.array([{'a': 1}], dtype=object), allow_pickle=True)
    elif case == 'truncated':
        data = bad.read_bytes()
        bad.write_bytes(data[:len(data) - 100])
    err = _run(capsys, cfg, tmp_path, feats)
    assert str(bad) in err and expect in err


def test_out_is_a_folder(cfg, tmp_path, capsys):
    feats = _videos(tmp_path / 'feats', n=2)
    (tmp_path / 'outdir').mkdir()
    err = _run(capsys, cfg, tmp_path, feats, out=tmp_path / 'outdir')
    assert '--out' in err and 'outdir' in err and 'is a folder' in err


def test_out_below_a_file(cfg, tmp_path, capsys):
    feats = _videos(tmp_path / 'feats', n=2)
    (tmp_path / 'plain').write_text('x')
    err = _run(capsys, cfg, tmp_path, feats, out=tmp_path / 'plain' / 'pred.json')
    assert '--out' in err and 'plain' in err
