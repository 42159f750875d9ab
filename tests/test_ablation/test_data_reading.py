"""A campaign's data reading: the video-label probe per seed, cached beside the cells."""
import json
import shutil

import pytest

from wsal.experiments import data_reading as dr
from wsal.apis.data_report import inspect_data


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    from wsal.datasets.synthetic import make_synthetic
    return make_synthetic(tmp_path_factory.mktemp('reading') / 'data', preset='tiny', seed=0)


def test_reading_is_the_probe_and_is_cached(tiny_root, tmp_path, monkeypatch):
    lines = []
    got = dr.data_reading(str(tiny_root), seed=5, work_dir=str(tmp_path), log=lines.append)
    probes = inspect_data(tiny_root, max_frames=0, max_shift_frames=10, seed=5)['probes']
    assert got['video_label_auc'] == pytest.approx(
        {v: p['video_label']['mean'] for v, p in probes.items()})
    assert got['below_chance'] == pytest.approx(
        {v: p['video_label']['below_chance'] for v, p in probes.items()})
    assert len(lines) == 1 and str(tiny_root) in lines[0]
    cached = tmp_path / 'seed5' / dr.READING_FILE
    assert json.loads(cached.read_text()) == got

    def refuse(*args, **kwargs):
        raise AssertionError('probed again')

    monkeypatch.setattr('wsal.apis.data_report.inspect_data', refuse)
    assert dr.data_reading(str(tiny_root), seed=5, work_dir=str(tmp_path), log=lines.append) == got
    assert len(lines) == 1                      # read from the cache, nothing printed


def test_changed_data_is_read_again(tiny_root, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(tiny_root, root)
    first = dr.data_reading(str(root), seed=0, work_dir=str(tmp_path / 'w'))
    gt = json.loads((root / 'gt.json').read_text())
    for v in gt['database'].values():           # drop every test annotation
        if v['subset'] == 'test':
            v['annotations'] = []
    (root / 'gt.json').write_text(json.dumps(gt, indent=1))
    # nothing to read the test frames against: no reading (the evaluation names it)
    assert first is not None
    assert dr.data_reading(str(root), seed=0, work_dir=str(tmp_path / 'w')) is None


def test_format_lists_each_seed_and_skips_missing():
    reading = {'video_label_auc': {'all': 0.481, 'rgb': 0.416, 'flow': 0.528},
               'reading': 'video-label AUC 0.48 < 0.6: the scene tells the class'}
    lines = dr.format_data_readings({'data_readings': {'7': reading, '8': None}})
    assert '(all / rgb / flow)' in lines[0]
    assert lines[1] == '- seed 7: 0.48 / 0.42 / 0.53; video-label AUC 0.48 < 0.6: the scene tells the class.'
    assert len(lines) == 3 and lines[-1] == ''
    assert dr.format_data_readings({}) == [] == dr.format_data_readings({'data_readings': {'1': None}})
