"""Feature-file checks at dataset construction: readability, NaN/Inf, majority dims."""
import json
import shutil

import numpy as np
import pytest

from wsal.datasets import STPNFeatureDataset, WSALFeatureDataset
from wsal.datasets import base as base_module
from wsal.datasets.validation import (majority_dims, nonfinite_summary, read_npy_header,
                                      scan_npy)

from .conftest import write_layout


def _eight_videos(root, *, odd_dim=16, n_odd=1):
    """Eight validation videos; the first ``n_odd`` (listed first) have ``odd_dim`` channels."""
    ids = [f'odd{i}' for i in range(n_odd)] + [f'good{i}' for i in range(8 - n_odd)]
    return write_layout(root, {
        v: dict(duration=6.4, T=10, anns=[(1.0, 2.0, 'A')], dim=odd_dim if v.startswith('odd') else 8)
        for v in ids})


def test_odd_dimension_video_listed_first_is_the_invalid_one(tmp_path, monkeypatch):
    root = _eight_videos(tmp_path)
    assert list(json.loads((root / 'gt.json').read_text())['database'])[0] == 'odd0'
    with pytest.raises(ValueError) as info:
        WSALFeatureDataset(data_root=root)
    text = str(info.value)
    assert '1 of 8 video(s) are invalid' in text
    assert ("odd0.npy (video 'odd0', rgb): feature dim D=16 differs from D=8 set by the "
            'majority of the split (7 of 8 videos)') in text
    assert "odd0.npy (video 'odd0', flow)" in text
    assert 'good' not in text
    logged = []
    monkeypatch.setattr(base_module, 'print_log', lambda msg, **kw: logged.append(msg))
    ds = WSALFeatureDataset(data_root=root, skip_invalid=True)
    assert ds.video_ids == [f'good{i}' for i in range(7)]
    assert ds[0]['inputs']['rgb'].shape == (10, 8)
    assert "video 'odd0'" in logged[0] and 'skipped' in logged[0]


def test_tied_dimensions_ask_for_feature_dims(tmp_path):
    root = _eight_videos(tmp_path, n_odd=4)
    for skip in (False, True):
        with pytest.raises(ValueError, match=r"rgb: the videos disagree on the feature dim with no "
                                             r"majority: D=16 in 4 video\(s\) \('odd0', 'odd1', "
                                             r"'odd2', \.\.\.\); D=8 in 4 video\(s\).*set "
                                             r'feature_dims'):
            WSALFeatureDataset(data_root=root, skip_invalid=skip)
    assert len(WSALFeatureDataset(data_root=root, feature_dims=8, skip_invalid=True)) == 4


@pytest.fixture
def eight(tmp_path):
    return _eight_videos(tmp_path, n_odd=0)


def _feature(root, vid, m='rgb'):
    return root / 'features' / m / f'{vid}.npy'


def test_truncated_text_pickled_wrong_dtype_and_ndim_all_in_one_error(eight):
    good = np.load(_feature(eight, 'good0'))
    whole = _feature(eight, 'good0').read_bytes()
    _feature(eight, 'good0').write_bytes(whole[:len(whole) - 17])  # cut mid-data
    _feature(eight, 'good1', 'flow').write_text('0.1 0.2 0.3\n0.4 0.5 0.6\n')
    np.save(_feature(eight, 'good2'), np.array([good], dtype=object), allow_pickle=True)
    np.save(_feature(eight, 'good3'), good.astype(np.complex64))
    np.save(_feature(eight, 'good4'), good[None])
    for check_finite in (True, False):  # header checks do not depend on the scan
        with pytest.raises(ValueError) as info:
            WSALFeatureDataset(data_root=eight, check_finite=check_finite)
        text = str(info.value)
        assert '5 of 8 video(s) are invalid' in text
        assert "video 'good0' (rgb): feature file " in text and 'good0.npy is truncated: ' in text
        assert f'needs {len(whole)}' in text
        assert "video 'good1' (flow): feature file " in text and 'not a readable .npy array' in text
        assert "video 'good2' (rgb)" in text and 'pickled object array' in text
        assert "video 'good3' (rgb)" in text and 'dtype complex64 is not numeric' in text
        assert "good4.npy (video 'good4', rgb): expected a [T, D] array, got shape (1, 10, 8)" in text


def test_nan_in_every_split_and_listing_is_capped(eight):
    for i in range(6):
        for m in ('rgb', 'flow'):
            x = np.load(_feature(eight, f'good{i}', m))
            x[3 + i % 2, 1] = np.nan if m == 'rgb' else -np.inf
            np.save(_feature(eight, f'good{i}', m), x)
    with pytest.raises(ValueError) as info:
        WSALFeatureDataset(data_root=eight)
    text = str(info.value)
    assert text.count('\n  /') == 10 and '... and 2 more problem(s)' in text
    assert "good0.npy (video 'good0', rgb): field features: 1 NaN and 0 Inf value(s), " \
           'first at segment 3' in text
    assert "good1.npy (video 'good1', flow): field features: 0 NaN and 1 Inf value(s), " \
           'first at segment 4' in text
    assert '6 of 8 video(s) are invalid' in text
    assert len(WSALFeatureDataset(data_root=eight, check_finite=False)) == 8


def test_cache_reuses_the_arrays_read_by_the_check(eight, monkeypatch):
    reads = []
    real = WSALFeatureDataset._read

    def counting(self, rec, m):
        reads.append((rec.video_id, m))
        return real(self, rec, m)

    monkeypatch.setattr(WSALFeatureDataset, '_read', counting)
    monkeypatch.setattr(WSALFeatureDataset, '_scan', lambda *a: pytest.fail('scanned twice'))
    ds = WSALFeatureDataset(data_root=eight, cache=True)
    assert len(reads) == 16
    items = [ds[i] for i in range(len(ds))]
    assert len(reads) == 16  # items come from the arrays checked at construction
    np.testing.assert_array_equal(items[2]['inputs']['flow'].numpy(),
                                  np.load(_feature(eight, 'good2', 'flow')))
    reads.clear()
    lazy = WSALFeatureDataset(data_root=eight, check_finite=False, cache=True)
    assert reads == []
    lazy[0]
    assert len(reads) == 2


def test_scan_reads_chunks_never_the_whole_array(tmp_path, monkeypatch):
    x = np.zeros((1000, 8), np.float32)
    x[10, 0] = np.inf
    x[777, 3] = np.nan
    x[900, :2] = np.nan
    for order in ('C', 'F'):
        path = tmp_path / f'{order}.npy'
        np.save(path, np.asarray(x, order=order))
        assert read_npy_header(path).fortran_order == (order == 'F')
        for chunk in (32, 256, 1 << 20):  # one row per chunk up to the whole array
            assert scan_npy(path, chunk_bytes=chunk) == '3 NaN and 1 Inf value(s), first at segment 10'
    seen = []
    real_load = np.load
    monkeypatch.setattr(np, 'load', lambda *a, **kw: seen.append(kw.get('mmap_mode')) or real_load(*a, **kw))
    assert scan_npy(tmp_path / 'C.npy') is not None and seen == []  # read in chunks, never whole
    assert scan_npy(tmp_path / 'F.npy') is not None and seen == ['r']  # column-major: memory map
    assert nonfinite_summary(np.arange(6).reshape(3, 2)) is None
    assert nonfinite_summary(np.ones((4, 2), np.float16)) is None
    assert scan_npy(_empty(tmp_path)) is None


def _empty(tmp_path):
    path = tmp_path / 'empty.npy'
    np.save(path, np.zeros((0, 8), np.float32))
    return path


def test_majority_dims_helper():
    chosen, ties = majority_dims({'rgb': [('a', 8), ('b', 8), ('c', 4)], 'flow': [('a', 2)]})
    assert chosen == {'rgb': (8, 'the majority of the split (2 of 3 videos)'),
                      'flow': (2, 'every other video of the split (1 videos)')}
    assert ties == []
    chosen, ties = majority_dims({'rgb': [('a', 8), ('b', 4)]})
    assert chosen == {} and len(ties) == 1 and "D=8 in 1 video(s) ('a')" in ties[0]


def test_nan_in_a_test_video_stops_train_before_any_iteration(tmp_path, tiny_root, capsys):
    """`wsal train` builds the train and the validation split before iterating."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'test_engine'))
    try:
        from wsal_e2e_support import write_config
    finally:
        sys.path.pop(0)
    from wsal.cli.main import main
    data = tmp_path / 'data'
    shutil.copytree(tiny_root, data)
    gt = json.loads((data / 'gt.json').read_text())
    test_vid = next(v for v, e in gt['database'].items() if e['subset'] == 'test')
    path = data / 'features' / 'flow' / f'{test_vid}.npy'
    x = np.load(path)
    x[2, 5] = np.nan
    np.save(path, x)
    cfg = write_config(tmp_path / 'cfg', data, max_iters=4, val_interval=2)
    sys.path.insert(0, str(cfg.parent))
    try:
        work = tmp_path / 'work'
        assert main(['train', str(cfg), '--work-dir', str(work)]) == 2
    finally:
        sys.path.remove(str(cfg.parent))
    assert not list(work.rglob('*.pth'))
    assert not any('Iter(train)' in p.read_text() for p in work.rglob('*.log'))
    err = capsys.readouterr().err
    assert f"{test_vid}.npy (video '{test_vid}', flow): field features: 1 NaN" in err
    assert 'subset test' in err


def test_stpn_layout_nan_found_at_construction(tmp_path):
    from .test_stpn import make_stpn

    def poison(feats, ann):
        feats[1][4, 7] = np.nan  # flow block of video_validation_2 (split_dim=5)

    make_stpn(tmp_path, extra=poison)
    with pytest.raises(ValueError, match=r"JOINTFeatures.npy \(video 'video_validation_2', flow\): "
                                         r'field features: 1 NaN and 0 Inf value\(s\), first at '
                                         r'segment 4'):
        STPNFeatureDataset(data_root=tmp_path, subset='validation', split_dim=5)
    assert len(STPNFeatureDataset(data_root=tmp_path, subset='test', split_dim=5)) == 1


@pytest.mark.parametrize('dtype', ['<f4', '>f4', '<f2', '<f8'])
def test_sequential_scan_matches_the_in_memory_check(tmp_path, dtype):
    rng = np.random.default_rng(3)
    x = rng.random((301, 7)).astype(dtype)
    x[rng.integers(10, 301, 9), rng.integers(0, 7, 9)] = np.nan
    x[[5, 200], [1, 2]] = [np.inf, -np.inf]
    path = tmp_path / 'x.npy'
    np.save(path, x)
    expected = nonfinite_summary(np.load(path))
    assert expected.endswith('first at segment 5') and ' 2 Inf' in expected
    for chunk in (1, 100, 7 * 8 * 300, 1 << 22):
        assert scan_npy(path, chunk_bytes=chunk) == expected


def test_file_shrinking_after_its_header_was_read(tmp_path):
    path = tmp_path / 'x.npy'
    np.save(path, np.ones((50, 4), np.float32))
    header = read_npy_header(path)
    with open(path, 'r+b') as fh:
        fh.truncate(header.offset + 4 * 4 * 20)
    with pytest.raises(ValueError, match=r'x.npy could not be read \(EOFError: the data end inside rows'):
        scan_npy(path, header, chunk_bytes=4 * 4 * 8)


@pytest.mark.parametrize('version', [(1, 0), (2, 0), (3, 0)])
def test_header_reader_agrees_with_numpy(tmp_path, version):
    arrays = [np.zeros((), '<f4'), np.zeros(5, '>f8'), np.zeros((3, 4), '<i8'),
              np.zeros((0, 8), '<f2'), np.asfortranarray(np.zeros((6, 2), '<f4')),
              np.zeros((2, 3, 4), '|u1'), np.zeros((7, 1024), '<f4')]
    for i, arr in enumerate(arrays):
        path = tmp_path / f'{i}.npy'
        with open(path, 'wb') as fh:
            np.lib.format.write_array(fh, arr, version=version)
        header = read_npy_header(path)
        with open(path, 'rb') as fh:
            np.lib.format.read_magic(fh)
            reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = reader(fh)
            offset = fh.tell()
        assert header == (shape, dtype, fortran, offset), (arr.shape, arr.dtype)
    path = tmp_path / 'structured.npy'
    np.save(path, np.zeros(3, dtype=[('a', '<f4'), ('b', '<i4')]))
    with pytest.raises(ValueError, match=r'dtype .* is not numeric'):
        read_npy_header(path)
