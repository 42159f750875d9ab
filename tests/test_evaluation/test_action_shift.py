"""ρ = ‖ā‖ / σ₁: the action's mean shift against the background's largest change."""
import numpy as np
import pytest

from wsal.evaluation.action_shift import ActionShift


def _video(t, d, *, shift, spread, offset=0.0, action=slice(10, 20)):
    """Background ±spread along channel 0 (alternating), actions at +shift along channel 1."""
    x = np.full((t, d), offset, dtype=np.float32)
    x[:, 0] += np.where(np.arange(t) % 2 == 0, spread, -spread)
    mask = np.zeros(t, dtype=bool)
    mask[action] = True
    # actions sit on the background's mean along channel 0, away from it along channel 1
    x[mask, 0] = offset
    x[mask, 1] += shift
    return x, mask


def test_rho_of_a_known_shift_and_spread():
    acc = ActionShift()
    x, mask = _video(40, 5, shift=6.0, spread=2.0)
    assert acc.update(x, mask)
    r = acc.result()
    assert r['shift'] == pytest.approx(6.0)
    assert r['sigma1'] == pytest.approx(2.0)
    assert r['rho'] == pytest.approx(3.0)
    assert (r['videos'], r['frames']) == (1, 30)


def test_backgrounds_are_centred_per_video():
    # Two videos whose scenes differ by far more than either one's spread:
    # only the change within a video counts.
    acc = ActionShift()
    for offset in (0.0, 100.0):
        acc.update(*_video(40, 5, shift=6.0, spread=2.0, offset=offset))
    assert acc.result()['rho'] == pytest.approx(3.0)


def test_shift_is_averaged_over_videos_before_its_norm():
    # Opposite shifts cancel: no direction is common to the actions.
    acc = ActionShift()
    acc.update(*_video(40, 5, shift=6.0, spread=2.0))
    acc.update(*_video(40, 5, shift=-6.0, spread=2.0))
    assert acc.result()['shift'] == pytest.approx(0.0, abs=1e-9)


def test_videos_without_both_kinds_of_frames_are_skipped():
    acc = ActionShift()
    x, _ = _video(40, 5, shift=6.0, spread=2.0)
    assert not acc.update(x, np.zeros(40, bool))
    assert not acc.update(x, np.ones(40, bool))
    assert acc.result() == {'rho': None, 'shift': None, 'sigma1': None, 'videos': 0,
                            'frames': 0}


def test_sample_restricts_the_spread_not_the_shift():
    x, mask = _video(40, 5, shift=6.0, spread=2.0)
    x[30:, 0] *= 5.0                                  # a wider tail of background
    full, part = ActionShift(), ActionShift()
    full.update(x, mask)
    part.update(x, mask, sample=np.arange(0, 30))     # the tail left out of σ₁
    assert part.result()['shift'] == pytest.approx(full.result()['shift'])
    assert part.result()['sigma1'] < full.result()['sigma1']
    assert part.result()['frames'] == 20


def test_background_that_never_changes_has_no_rho():
    x, mask = _video(40, 5, shift=6.0, spread=0.0)
    acc = ActionShift()
    acc.update(x, mask)
    r = acc.result()
    assert r['rho'] is None and r['sigma1'] == 0.0 and r['shift'] == pytest.approx(6.0)


def test_bad_shapes_are_named():
    acc = ActionShift()
    with pytest.raises(ValueError, match=r'\[T, D\]'):
        acc.update(np.zeros((10, 3)), np.zeros(9, bool))
    acc.update(*_video(40, 5, shift=1.0, spread=1.0))
    with pytest.raises(ValueError, match='4 channels, earlier videos 5'):
        acc.update(*_video(40, 4, shift=1.0, spread=1.0))


def test_background_frames_leave_out_the_boundaries():
    # Frames half in the action move along the action's direction; counted as
    # background they widen σ₁ where the background itself is still.
    x, mask = _video(40, 5, shift=6.0, spread=0.5)
    x[9, 1] = x[20, 1] = 3.0                          # the frames on either boundary
    edges = np.zeros(40, bool)
    edges[[9, 20]] = True
    loose, clean = ActionShift(), ActionShift()
    loose.update(x, mask)
    clean.update(x, mask, background_frames=~mask & ~edges)
    assert clean.result()['sigma1'] == pytest.approx(0.5)
    assert clean.result()['rho'] == pytest.approx(12.0)
    assert loose.result()['rho'] < 0.7 * clean.result()['rho']
    with pytest.raises(ValueError, match='overlap'):
        ActionShift().update(x, mask, background_frames=np.ones(40, bool))
    with pytest.raises(ValueError, match='background_frames must be'):
        ActionShift().update(x, mask, background_frames=np.ones(39, bool))
