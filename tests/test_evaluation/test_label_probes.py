"""The linear probes of wsal.evaluation.label_probes on data built to give known answers."""
import numpy as np
import pytest

from wsal.evaluation.label_probes import (ProbeVideo, class_frame_aucs, fit_frame_probe,
                                          fit_linear_probe, fit_video_label_probe, norm_auc,
                                          summarize_aucs)

C, D, T = 4, 24, 60


def _videos(n, *, mirror, seed, with_segments=True):
    """Videos of one class each, an action in frames 20-34.

    ``mirror=False``: the action shows its class's direction; the background
    is class-blind noise. ``mirror=True``: the background shows the class's
    scene and the action only a direction shared by every class, so the class
    evidence the labels teach lies outside the actions.
    """
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(np.random.default_rng(99).normal(size=(D, D)))[0]
    cls_dir, shared = basis[:C], basis[C]
    out = []
    for i in range(n):
        c = i % C
        x = rng.normal(scale=0.3, size=(T, D))
        inside = np.zeros(T, dtype=bool)
        inside[20:35] = True
        if mirror:
            x[~inside] += 2.0 * cls_dir[c]
            x[inside] += 2.0 * shared
        else:
            x[inside] += 2.0 * cls_dir[c]
        label = np.eye(C)[c]
        out.append(ProbeVideo(f'v{i}', x, label, {c: inside} if with_segments else {}))
    return out


def test_labels_that_point_at_the_actions_rank_them_high():
    probe = fit_video_label_probe(_videos(40, mirror=False, seed=0))
    aucs = [a for v in _videos(12, mirror=False, seed=1) for a in class_frame_aucs(probe, v)]
    assert len(aucs) == 12 and min(aucs) > 0.95


def test_labels_carried_by_the_scene_rank_the_actions_low():
    probe = fit_video_label_probe(_videos(40, mirror=True, seed=0))
    aucs = [a for v in _videos(12, mirror=True, seed=1) for a in class_frame_aucs(probe, v)]
    assert max(aucs) < 0.5 and np.mean(aucs) < 0.2
    # the supervised reference still finds the actions (the shared direction)
    frame = fit_frame_probe(_videos(40, mirror=True, seed=0))
    test = _videos(12, mirror=True, seed=1)
    from wsal.evaluation import frame_auc
    assert min(frame_auc(frame(v.features)[:, 0], v.action_frames) for v in test) > 0.95


def test_norm_auc_reads_the_row_norm():
    v = _videos(1, mirror=False, seed=2)[0]
    assert norm_auc(v) > 0.9
    v.features[v.action_frames] *= 0.1
    assert norm_auc(v) < 0.1


def test_a_sample_of_frames_keeps_the_whole_video_mean():
    v = _videos(1, mirror=False, seed=3)[0]
    whole = v.features.mean(0)
    sampled = ProbeVideo(v.video_id, v.features[::5], v.label,
                         {c: m[::5] for c, m in v.class_frames.items()}, mean=whole)
    assert np.allclose(sampled.mean_feature, whole)
    assert not np.allclose(sampled.features.mean(0), whole)


def test_frame_probe_needs_segments():
    assert fit_frame_probe(_videos(8, mirror=False, seed=0, with_segments=False)) is None


def test_frame_probe_draws_at_most_max_frames(monkeypatch):
    import wsal.evaluation.label_probes as lp
    seen = {}
    real = lp.fit_linear_probe

    def spy(x, y, **kw):
        seen['n'] = x.shape[0]
        return real(x, y, **kw)

    monkeypatch.setattr(lp, 'fit_linear_probe', spy)
    lp.fit_frame_probe(_videos(10, mirror=False, seed=0), max_frames=123)
    assert seen['n'] == 123


def test_fit_is_deterministic_and_checks_shapes():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 6)), (rng.random((50, 2)) > 0.5).astype(float)
    a, b = fit_linear_probe(x, y), fit_linear_probe(x, y)
    assert np.array_equal(a(x), b(x))
    with pytest.raises(ValueError, match=r'\[N, D\] and \[N, K\]'):
        fit_linear_probe(x, y[:10])
    with pytest.raises(ValueError, match='at least 2'):
        fit_linear_probe(x[:1], y[:1])


def test_summarize_aucs_ignores_nan():
    s = summarize_aucs([0.2, float('nan'), 0.8, 0.9])
    assert s['count'] == 3 and s['below_chance'] == pytest.approx(1 / 3)
    assert s['median'] == pytest.approx(0.8)
    assert summarize_aucs([float('nan')])['count'] == 0


def test_the_span_solution_is_the_primal_one():
    """Fewer inputs than dims is solved over the inputs' span; the optimum is the same."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 80)), (rng.random((30, 3)) > 0.5).astype(float)
    dual = fit_linear_probe(x, y)                              # 30 < 80: span form
    primal = fit_linear_probe(np.repeat(x, 3, 0), np.repeat(y, 3, 0))  # 90 > 80, same objective
    assert np.abs(dual(x) - primal(x)).max() < 0.02
    assert np.abs(dual.weight - primal.weight).max() < 1e-3
