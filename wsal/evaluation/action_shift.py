"""How far an action moves a stream's features, against the background's own change.

ρ = ‖ā‖ / σ₁ per stream, with

* ā the mean over videos of each video's action shift, the mean feature of
  its annotated frames minus that of its background frames, and
* σ₁ the standard deviation of the background frames along their largest
  direction of change, measured within each video (each video's background
  frames centred on their own mean, pooled over videos).

Frames that straddle an instance's boundary mix the action with the
background; counted as background they add the action's own direction to
the background's spread, and where the background hardly changes they
decide σ₁ (on wsal's generator with one background mode, ρ flow falls by a
quarter). The background frames are therefore given separately, and
:func:`wsal.apis.data_report.inspect_data` passes the frames that touch no
instance.

With ρ well above 1 an action is the largest change inside a video, and a
split of each video into a foreground and a background pool (the paper's
L_bg) can find it without labels. With ρ around 1 or below, the background
changes as much as the actions do (shots, camera motion, crowds), and the
largest split of a video is often a background one. The measure uses the
annotated segments, so it describes a data set; no model reads it.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

__all__ = ['ActionShift']


class ActionShift:
    """Accumulates ρ = ‖ā‖ / σ₁ of one stream over videos.

    Videos without action frames or without background frames are skipped
    (they have no within-video shift).

    Example::

        acc = ActionShift()
        for features, action_frames in videos:     # [T, D], bool [T]
            acc.update(features, action_frames)
        acc.result()    # {'rho': ..., 'shift': ..., 'sigma1': ..., 'videos': ...}
    """

    def __init__(self) -> None:
        self._shift: Optional[np.ndarray] = None
        self._scatter: Optional[np.ndarray] = None
        self._videos = 0
        self._frames = 0

    def update(self, features: np.ndarray, action_frames: np.ndarray, *,
               background_frames: Optional[np.ndarray] = None,
               sample: Optional[np.ndarray] = None) -> bool:
        """Add one video.

        Args:
            features: ``[T, D]`` the video's features.
            action_frames: Bool ``[T]``, True inside an annotated instance.
            background_frames: Bool ``[T]``, the background frames (None: every
                frame that is not an action frame). It must not overlap
                ``action_frames``.
            sample: Indices of the frames whose spread enters σ₁ (all frames
                when None). The shift always uses every frame; a sample
                bounds the ``O(frames · D²)`` cost of the scatter.

        Returns:
            bool: whether the video was used.

        Raises:
            ValueError: shapes that do not match, overlapping action and
                background frames, or a width that differs from the earlier
                videos'.
        """
        x = np.asarray(features)
        mask = np.asarray(action_frames, dtype=bool)
        if x.ndim != 2 or mask.shape != (x.shape[0],):
            raise ValueError(f'features must be [T, D] and action_frames [T], got '
                             f'{x.shape} and {mask.shape}')
        if background_frames is None:
            background = ~mask
        else:
            background = np.asarray(background_frames, dtype=bool)
            if background.shape != mask.shape:
                raise ValueError(f'background_frames must be [T] = {mask.shape}, got '
                                 f'{background.shape}')
            if (background & mask).any():
                raise ValueError('background_frames and action_frames overlap')
        if self._shift is not None and x.shape[1] != self._shift.shape[0]:
            raise ValueError(f'features have {x.shape[1]} channels, earlier videos '
                             f'{self._shift.shape[0]}')
        if not mask.any() or not background.any():
            return False
        x = x.astype(np.float64, copy=False)
        background_mean = x[background].mean(0)
        shift = x[mask].mean(0) - background_mean
        keep = background.copy()
        if sample is not None:
            chosen = np.zeros_like(mask)
            chosen[np.asarray(sample, dtype=np.int64)] = True
            keep &= chosen
        r = x[keep] - background_mean
        if self._shift is None:
            self._shift = np.zeros_like(shift)
            self._scatter = np.zeros((x.shape[1], x.shape[1]))
        self._shift += shift
        self._scatter += r.T @ r
        self._videos += 1
        self._frames += int(keep.sum())
        return True

    def result(self) -> Dict[str, Optional[float]]:
        """``rho``, ``shift`` (‖ā‖), ``sigma1`` and the counts ``videos``, ``frames``.

        ``rho``, ``shift`` and ``sigma1`` are None without a usable video
        (``rho`` also when the background does not change at all).
        """
        if not self._videos or not self._frames:
            return {'rho': None, 'shift': None, 'sigma1': None, 'videos': self._videos,
                    'frames': self._frames}
        shift = float(np.linalg.norm(self._shift / self._videos))
        top = float(np.linalg.eigvalsh(self._scatter / self._frames)[-1])
        sigma1 = float(np.sqrt(max(top, 0.0)))
        return {'rho': shift / sigma1 if sigma1 > 0 else None, 'shift': shift,
                'sigma1': sigma1, 'videos': self._videos, 'frames': self._frames}
