import json
import math

import numpy as np
import pytest

from wsal.datasets import WSALFeatureDataset, WeakLabelFeatureDataset
from wsal.datasets import synthetic as syn
from wsal.evaluation import frame_auc, frames_in_segments


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob('*') if p.is_file())


def test_tiny_structure_follows_real_thumos14(tiny_root):
    gt = json.loads((tiny_root / 'gt.json').read_text())
    real = syn.load_thumos14_gt()['database']
    db = gt['database']
    assert gt['classes'] == sorted(gt['classes']) and len(gt['classes']) == 20
    subsets = [v['subset'] for v in db.values()]
    assert subsets.count('validation') == 8 and subsets.count('test') == 4
    for vid, v in db.items():
        assert v['fps'] == 25.0
        assert v['duration'] == real[vid]['duration'] and v['duration'] <= 90
        assert v['annotations'] == [{'segment': a['segment'], 'label': a['label']}
                                    for a in real[vid]['annotations']]
        rgb = np.load(tiny_root / 'features' / 'rgb' / f'{vid}.npy')
        flow = np.load(tiny_root / 'features' / 'flow' / f'{vid}.npy')
        assert rgb.dtype == np.float32 and rgb.shape == flow.shape
        assert rgb.shape == (math.floor(v['duration'] * 25 / 16), 32)
        assert np.isfinite(rgb).all() and (rgb >= 0).all() and (flow >= 0).all()
    # every test video's main class also occur in the training subset (stratified choice)
    train_labels = {syn._primary_label(v) for v in db.values() if v['subset'] == 'validation'}
    test_labels = {syn._primary_label(v) for v in db.values() if v['subset'] == 'test'}
    assert test_labels <= train_labels
    meta = json.loads((tiny_root / 'synthetic.json').read_text())
    assert meta['seed'] == 0 and meta['preset'] == 'tiny' and meta['config']['rgb_dim'] == 32


def test_same_seed_same_bytes_other_seed_differs(tmp_path, tiny_root):
    again = syn.make_synthetic(tmp_path / 'again', 'tiny', seed=0)
    assert _files(again) == _files(tiny_root)
    for rel in _files(tiny_root):
        assert (again / rel).read_bytes() == (tiny_root / rel).read_bytes(), rel
    other = syn.generate_synthetic('tiny', seed=1)
    vid = next(iter(other.gt['database']))
    if (tiny_root / 'features' / 'rgb' / f'{vid}.npy').exists():
        assert not np.array_equal(other.features[vid]['rgb'],
                                  np.load(tiny_root / 'features' / 'rgb' / f'{vid}.npy'))


def test_in_memory_matches_disk(tiny_root):
    data = syn.generate_synthetic('tiny', seed=0)
    assert data.gt == json.loads((tiny_root / 'gt.json').read_text())
    for vid, feats in data.features.items():
        for m, arr in feats.items():
            np.testing.assert_array_equal(arr, np.load(tiny_root / 'features' / m / f'{vid}.npy'))


def test_generated_data_loads_as_datasets(tiny_root):
    train = WSALFeatureDataset(data_root=tiny_root, subset='validation')
    test = WSALFeatureDataset(data_root=tiny_root, subset='test')
    mv = WeakLabelFeatureDataset(data_root=tiny_root, label_file='micro_videos.json')
    assert len(train) == 8 and len(test) == 4 and len(mv) == 8
    assert train.metainfo == test.metainfo == mv.metainfo
    item = mv[3]
    assert item['data_sample']['label'].sum() == 1
    assert 6 <= item['data_sample']['duration'] <= 15
    assert item['data_sample']['gt_segments'].shape == (0, 2)


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = {'n': 0}
    real_save = np.save

    def failing_save(*args, **kwargs):
        calls['n'] += 1
        if calls['n'] == 5:
            raise KeyboardInterrupt
        return real_save(*args, **kwargs)
    monkeypatch.setattr(syn.np, 'save', failing_save)
    with pytest.raises(KeyboardInterrupt):
        syn.make_synthetic(tmp_path / 'out', 'tiny', seed=0)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_refused_unless_overwrite(tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'keep.txt').write_text('x')
    with pytest.raises(ValueError, match='not empty'):
        syn.make_synthetic(out, 'tiny', seed=0, num_micro_videos=0)
    syn.make_synthetic(out, 'tiny', seed=0, num_micro_videos=0, overwrite=True)
    assert not (out / 'keep.txt').exists() and (out / 'gt.json').exists()
    assert not (out / 'micro_videos.json').exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out']


def test_bad_options_are_reported():
    with pytest.raises(ValueError, match='unknown synthetic preset'):
        syn.generate_synthetic('huge')
    with pytest.raises(ValueError, match='unknown synthetic option'):
        syn.generate_synthetic('tiny', rgb_dims=3)
    with pytest.raises(ValueError, match='activation'):
        syn.generate_synthetic('tiny', activation='tanh')


def _inside(n, video):
    """Bool mask ``[n]``: segments (0.64 s each) whose centre lies in an annotated instance."""
    return frames_in_segments(n, 0.64, [a['segment'] for a in video['annotations']])


def _action_bg_gap(data, stream):
    """Size of the mean (over videos) within-video action-minus-background feature."""
    diffs = []
    for vid, v in data.gt['database'].items():
        x = data.features[vid][stream]
        inside = _inside(len(x), v)
        if inside.sum() >= 2 and (~inside).sum() >= 2:
            diffs.append(x[inside].mean(0) - x[~inside].mean(0))
    return float(np.sqrt((np.mean(diffs, 0) ** 2).mean()))


def test_actionness_cue_is_stronger_in_flow():
    # only the class-agnostic cue separates action from background here
    data = syn.generate_synthetic('tiny', seed=0, action_rgb=0.0, action_flow=0.0,
                                  anticipation_strength=0.0, num_micro_videos=0)
    assert _action_bg_gap(data, 'flow') > 1.5 * _action_bg_gap(data, 'rgb')
    off = syn.generate_synthetic('tiny', seed=0, action_rgb=0.0, action_flow=0.0,
                                 anticipation_strength=0.0, actionness_flow=0.0,
                                 num_micro_videos=0)
    assert _action_bg_gap(off, 'flow') < 0.5 * _action_bg_gap(data, 'flow')


def test_scene_context_makes_background_class_specific():
    """Background of videos of one class resembles each other more with context on."""
    def within_between(data):
        db = data.gt['database']
        means, labels = [], []
        for vid, v in db.items():
            x = data.features[vid]['rgb']
            t = (np.arange(len(x)) + 0.5) * 0.64
            inside = np.zeros(len(x), bool)
            for a in v['annotations']:
                inside |= (t >= a['segment'][0] - 2.5) & (t < a['segment'][1] + 1)
            if (~inside).sum() < 3:
                continue
            means.append(x[~inside].mean(0))
            labels.append(v['annotations'][0]['label'])
        means = np.stack(means)
        means -= means.mean(0)
        d = np.linalg.norm(means[:, None] - means[None], axis=-1)
        same = np.equal.outer(labels, labels) & ~np.eye(len(labels), dtype=bool)
        return d[same].mean() / d[~same & ~np.eye(len(labels), dtype=bool)].mean()
    kw = dict(num_videos={'validation': 20, 'test': 0}, max_duration=60.0, num_micro_videos=0,
              background_strength=0.5, context_rgb=1.5)
    with_ctx = syn.generate_synthetic('tiny', seed=0, **kw)
    no_ctx = syn.generate_synthetic('tiny', seed=0, **{**kw, 'context_rgb': 0.0})
    assert within_between(with_ctx) < 0.8 * within_between(no_ctx)


def test_rescale_background_keeps_action_time():
    from wsal.datasets.synthetic import rescale_background
    dur, segs = rescale_background(100.0, [(10, 20), (15, 30), (50, 60)], 0.5)
    assert dur == pytest.approx(65.0)  # 30 s of action kept, 70 s of background halved
    assert segs == [(5.0, 15.0), (10.0, 25.0), (35.0, 45.0)]
    assert rescale_background(100.0, [(10, 20)], 1.0) == (100.0, [(10.0, 20.0)])
    dur, segs = rescale_background(100.0, [(10, 20)], 3.0)
    assert dur == pytest.approx(280.0) and segs == [(30.0, 40.0)]


def test_coverage_and_scale_knobs():
    from wsal.datasets.synthetic import generate_synthetic
    base = generate_synthetic('tiny', 0)
    dense = generate_synthetic('tiny', 0, background_scale=0.5, feature_scale=2.0,
                               feature_scale_flow=3.0)

    def coverage(gt):
        act = tot = 0.0
        for v in gt['database'].values():
            tot += v['duration']
            act += sum(a['segment'][1] - a['segment'][0] for a in v['annotations'])
        return act / tot
    assert coverage(dense.gt) > coverage(base.gt) + 0.05
    vid = next(iter(dense.gt['database']))
    info = dense.gt['database'][vid]
    feats = dense.features[vid]
    assert feats['rgb'].shape[0] == int(info['duration'] * 25 / 16 + 1e-6)
    assert feats['flow'].mean() / feats['rgb'].mean() > 2.0
    with pytest.raises(ValueError, match='background_scale'):
        generate_synthetic('tiny', 0, background_scale=0.0)


def test_packaged_sweep_settings_are_valid_generator_options():
    """configs/sweeps/generator_settings.py: every setting builds a generator config."""
    import runpy
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / 'configs' / 'sweeps' / 'generator_settings.py'
    settings = runpy.run_path(str(path))['SETTINGS']
    assert len(settings) >= 6 and 'base' in settings
    for name, options in settings.items():
        syn._resolve('small', options)  # raises on an unknown or out-of-range knob


def _background_like_action(data, stream):
    """Share of background segments that project onto their video's action-minus-background
    direction above the lowest quarter of the action's segments."""
    shares = []
    for vid, v in data.gt['database'].items():
        x = data.features[vid][stream]
        t = (np.arange(len(x)) + 0.5) * 0.64
        near = np.zeros(len(x), bool)
        core = np.zeros(len(x), bool)
        for a in v['annotations']:
            near |= (t >= a['segment'][0] - 2.5) & (t < a['segment'][1] + 1)
            core |= (t >= a['segment'][0]) & (t < a['segment'][1])
        if core.sum() >= 2 and (~near).sum() >= 2:
            p = x @ (x[core].mean(0) - x[~near].mean(0))
            shares.append(float((p[~near] > np.quantile(p[core], 0.25)).mean()))
    return float(np.mean(shares))


@pytest.mark.parametrize('knob, stream, quiet', [
    # look-alikes carry the class's appearance (both streams), bursts the motion cue (flow)
    (dict(lookalikes_per_minute=6.0, lookalike_strength=1.0), 'rgb', dict(actionness_rgb=0.0)),
    (dict(motion_bursts_per_minute=6.0), 'flow', dict(action_flow=0.0)),
])
def test_hard_negatives_make_background_look_like_action(knob, stream, quiet):
    kw = dict(num_videos={'validation': 12, 'test': 0}, max_duration=120.0, num_micro_videos=0,
              context_rgb=0.0, context_flow=0.0, anticipation_strength=0.0, **quiet)
    off = syn.generate_synthetic('tiny', seed=2, **kw)
    on = syn.generate_synthetic('tiny', seed=2, **kw, **knob)
    assert on.gt == off.gt  # hard negatives are never annotated
    assert _background_like_action(on, stream) > 1.6 * _background_like_action(off, stream) + 0.02


def test_hard_negatives_stay_off_the_instances():
    from wsal.datasets.synthetic import _events
    rng = np.random.default_rng(0)
    free = np.ones(400)
    free[100:300] = 0.0
    events = _events(rng, free, 30.0, 2.0, 0.64)
    assert 40 < len(events) < 90  # Poisson: 30 per minute of 200 free segments (2.13 min), mean 64
    assert all(free[int(c)] == 1.0 for c, _ in events)
    assert _events(rng, np.zeros(10), 30.0, 2.0, 0.64) == []


def test_heavy_tailed_noise_keeps_its_variance_and_adds_outliers():
    kw = dict(num_videos={'validation': 8, 'test': 0}, num_micro_videos=0, frame_noise=2.0,
              background_noise=0.0, background_strength=0.0, video_offset=0.0,
              observation_noise=0.0, context_rgb=0.0, context_flow=0.0, activation='relu',
              bias=0.0)

    def frame_spread(data):
        d = np.concatenate([np.linalg.norm(f['rgb'] - f['rgb'].mean(0), axis=1)
                            for f in data.features.values()])
        return float(np.median(d)), float(np.quantile(d, 0.999) / np.median(d))
    med_g, tail_g = frame_spread(syn.generate_synthetic('tiny', seed=2, **kw))
    med_t, tail_t = frame_spread(syn.generate_synthetic('tiny', seed=2, noise_dof=3.0, **kw))
    assert tail_t > 1.3 * tail_g
    assert 0.5 < med_t / med_g < 1.2


def test_new_knobs_are_validated_and_off_by_default():
    cfg = syn._resolve('tiny', {})
    assert (cfg.drift_strength == cfg.lookalikes_per_minute == cfg.motion_bursts_per_minute
            == cfg.noise_dof == 0)
    for bad in (dict(noise_dof=2.0), dict(noise_dof=-1.0), dict(lookalikes_per_minute=-1.0),
                dict(lookalike_seconds=0.0), dict(motion_burst_strength=-0.5),
                dict(drift_strength=-1.0), dict(drift_seconds=0.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            syn._resolve('tiny', bad)


def test_packaged_confound_settings_are_valid_generator_options():
    import runpy
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / 'configs' / 'sweeps' / 'confound_settings.py'
    settings = runpy.run_path(str(path))['SETTINGS']
    assert {'drift', 'hard_negatives', 'heavy_tails', 'confounded', 'subspace', 'flat_norm',
            'subspace_flat', 'all_confounds'} <= set(settings)
    for options in settings.values():
        syn._resolve('small', options)


def test_drift_process_is_stationary_with_its_correlation():
    from wsal.datasets.synthetic import _drift
    x = _drift(np.random.default_rng(0), 4000, 8, 0.9)
    assert x.var() == pytest.approx(1.0, abs=0.15)
    lag1 = (x[1:] * x[:-1]).mean() / x.var()
    assert lag1 == pytest.approx(0.9, abs=0.03)
    first = _drift(np.random.default_rng(1), 2, 4000, 0.9)[0]
    assert first.var() == pytest.approx(1.0, abs=0.1)  # starts in the stationary state, not at 0


def test_drift_changes_the_background_slowly():
    kw = dict(num_videos={'validation': 6, 'test': 0}, num_micro_videos=0, max_duration=200.0,
              background_strength=0.0, background_noise=0.0, video_offset=0.0,
              frame_noise=0.0, observation_noise=0.0, activation='relu', bias=0.0)

    def change(data, lag):
        """Mean distance between frames ``lag`` segments apart, over every video."""
        return float(np.mean([np.linalg.norm(f['rgb'][lag:] - f['rgb'][:-lag], axis=1).mean()
                              for f in data.features.values()]))
    off = syn.generate_synthetic('tiny', seed=3, **kw)
    on = syn.generate_synthetic('tiny', seed=3, drift_strength=1.0, drift_seconds=30.0, **kw)
    assert on.gt == off.gt
    assert change(on, 40) > change(off, 40) + 0.5
    assert change(on, 1) < 0.3 * change(on, 40)  # neighbours stay alike: the change is slow


def test_action_rank_spreads_the_instances_of_a_class():
    classes = syn.thumos14_classes()
    one = syn._World(syn._resolve('small', {}), classes, 0)
    six = syn._World(syn._resolve('small', {'action_rank': 6}), classes, 0)
    assert one.sub_start is None and six.sub_start.shape == (len(classes), 6, 64)
    np.testing.assert_array_equal(six.sub_start[:, 0], one.proto_start)  # rank 1 is the first direction
    cls = np.zeros(400, int)

    def mean_cosine(world):
        a0, a1 = world.phases(cls, np.random.default_rng(1), 0.0)
        u = a0 / np.linalg.norm(a0, axis=1, keepdims=True)
        c = u @ u.T
        return float(c[np.triu_indices(len(u), 1)].mean()), np.linalg.norm(a0, axis=1)
    c1, n1 = mean_cosine(one)
    c6, n6 = mean_cosine(six)
    assert c1 == pytest.approx(1.0)
    assert 0.5 < c6 < 0.9  # partial activations of one subspace: related, not one direction
    assert np.median(n6) == pytest.approx(np.median(n1), rel=0.3)  # and no weaker on average


def _action_contrast(features, video):
    """Distance between a stream's mean inside and outside the actions, in frame spreads."""
    x = features
    core = _inside(len(x), video)
    if core.sum() < 2 or (~core).sum() < 2:
        return None
    return float(np.linalg.norm(x[core].mean(0) - x[~core].mean(0)) / x[~core].std(0).mean())


def _stream_contrasts(num_videos, swap):
    """Per video, ``{stream: contrast}`` with the whole action cue in rgb unless swapped, on a
    quiet background; videos without both kinds of segments are left out."""
    data = syn.generate_synthetic(
        'tiny', seed=4, cue_swap=swap, num_videos={'validation': num_videos, 'test': 0},
        max_duration=150.0, num_micro_videos=0, action_rgb=1.5, action_flow=0.0,
        actionness_rgb=1.0, actionness_flow=0.0, anticipation_strength=0.0,
        background_strength=0.0, background_noise=0.0)
    pairs = [{m: _action_contrast(data.features[v][m], info) for m in ('rgb', 'flow')}
             for v, info in data.gt['database'].items()]
    return [p for p in pairs if None not in p.values()]


@pytest.mark.parametrize('swap, carrier', [(0.0, 'rgb'), (1.0, 'flow')])
def test_cue_swap_moves_the_action_to_the_other_stream(swap, carrier):
    other = 'flow' if carrier == 'rgb' else 'rgb'
    pairs = _stream_contrasts(8, swap)
    assert len(pairs) >= 5
    assert all(p[carrier] > 3 * p[other] for p in pairs)


def test_cue_swap_draws_per_video():
    in_flow = [p['flow'] > p['rgb'] for p in _stream_contrasts(16, 0.5)]
    assert 0 < sum(in_flow) < len(in_flow)


def test_cut_flow_marks_the_shot_cuts_in_flow_only():
    kw = dict(num_videos={'validation': 6, 'test': 0}, num_micro_videos=0,
              action_rgb=0.0, action_flow=0.0, actionness_rgb=0.0, actionness_flow=0.0)
    off = syn.generate_synthetic('tiny', seed=5, **kw)
    on = syn.generate_synthetic('tiny', seed=5, cut_flow=3.0, **kw)
    changed = []
    for vid in off.features:
        np.testing.assert_array_equal(on.features[vid]['rgb'], off.features[vid]['rgb'])
        diff = np.abs(on.features[vid]['flow'] - off.features[vid]['flow']).max(axis=1)
        changed.append(diff > 1e-6)
    share = np.concatenate(changed).mean()
    assert 0.01 < share < 0.15  # one segment per cut; shots last 12 s (19 segments) on average


def _norm_auc(data, stream):
    scores, labels = [], []
    for vid, v in data.gt['database'].items():
        x = data.features[vid][stream]
        scores.append(np.linalg.norm(x, axis=1))
        labels.append(_inside(len(x), v))
    return frame_auc(np.concatenate(scores), np.concatenate(labels))


def test_latent_norm_takes_the_action_out_of_the_row_norm():
    kw = dict(num_videos={'validation': 12, 'test': 0}, num_micro_videos=0)
    assert _norm_auc(syn.generate_synthetic('tiny', seed=6, **kw), 'flow') > 0.85
    flat = syn.generate_synthetic('tiny', seed=6, latent_norm=1.5, **kw)
    assert abs(_norm_auc(flat, 'flow') - 0.5) < 0.2


def test_subspace_and_stream_knobs_are_validated_and_off_by_default():
    cfg = syn._resolve('tiny', {})
    assert cfg.action_rank == 1 and cfg.cue_swap == cfg.cut_flow == cfg.latent_norm == 0
    for bad in (dict(action_rank=0), dict(action_rank=2.5), dict(cue_swap=1.5),
                dict(cue_swap=-0.1), dict(cut_flow=-1.0), dict(latent_norm=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            syn._resolve('tiny', bad)
