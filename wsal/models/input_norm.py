"""Input normalisation: each feature dimension standardized by the training frames' statistics."""
from __future__ import annotations

from typing import Iterable, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from wsal.registry import MODELS

__all__ = ['FeatureMoments', 'FeatureStandardizer', 'dataset_frames']


class FeatureMoments:
    """Running per-dimension mean and standard deviation of feature frames (float64).

    Args:
        dim: Feature dimension ``D``.

    Example:
        >>> m = FeatureMoments(2)
        >>> m.update(np.array([[0., 1.], [2., 3.]]))
        >>> m.result()[0].tolist()
        [1.0, 2.0]
    """

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)
        self.count = 0
        self._mean = np.zeros(self.dim, dtype=np.float64)
        self._m2 = np.zeros(self.dim, dtype=np.float64)

    def update(self, frames) -> None:
        """Add frames ``[T, D]`` (numpy array or tensor); batches merge exactly (Chan et al.)."""
        x = frames.detach().cpu().numpy() if torch.is_tensor(frames) else np.asarray(frames)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f'FeatureMoments: frames must be [T, {self.dim}], got {x.shape}')
        n = x.shape[0]
        if n == 0:
            return
        x = x.astype(np.float64, copy=False)
        mean = x.mean(0)
        m2 = ((x - mean) ** 2).sum(0)
        total = self.count + n
        delta = mean - self._mean
        self._mean += delta * (n / total)
        self._m2 += m2 + delta ** 2 * (self.count * n / total)
        self.count = total

    def result(self) -> Tuple[np.ndarray, np.ndarray]:
        """``(mean [D], std [D])``, the population standard deviation.

        Raises:
            ValueError: no frame was added.
        """
        if self.count == 0:
            raise ValueError('FeatureMoments: no frames were added')
        return self._mean.copy(), np.sqrt(np.maximum(self._m2 / self.count, 0.0))


@MODELS.register_module()
class FeatureStandardizer(nn.Module):
    """``(x - m) / s`` per feature dimension, ``m`` and ``s`` from the training split's frames.

    The statistics are buffers, so they travel with the checkpoint and a
    trained model standardizes new videos as it did its training videos.
    They are fitted once, before training (:meth:`fit`; wsal's Runner configs
    do it with ``InputStatisticsHook``), and a model that has not been fitted
    refuses to run instead of passing raw features on.

    Why it matters for these models: a linear class score ``w_c·x`` trained
    with Adam moves every weight at about the same rate, so the share of a
    dimension in the score grows with that dimension's scale. Pre-extracted
    features (average-pooled ReLU outputs) have dimensions whose scales differ
    several-fold, and the large ones need not carry the classes (venue, camera
    motion, the frame's overall activation). Standardized, every dimension
    enters on the same footing, as in any linear probe of such features.
    The configs leave it off: it helped on independent data but cost STPN
    and the background-aware model on wsal's own generator (README, "Model
    settings the configs use").

    Args:
        in_channels: Feature dimension ``D``.
        eps: Added to the standard deviation (constant dimensions stay finite).
        center: Subtract ``m``. False divides by ``s`` only (``x / s``): the
            dimensions' scales are equalized and the features' common mean,
            which a bias-free class score or a magnitude cue reads, is kept.

    Example:
        >>> norm = FeatureStandardizer(in_channels=3)
        >>> norm.fit([torch.tensor([[0., 2., 5.], [2., 2., 7.]])])
        >>> norm(torch.tensor([[[1., 2., 6.]]])).abs().max().item() < 1e-6
        True
    """

    def __init__(self, *, in_channels: int, eps: float = 1e-6, center: bool = True) -> None:
        super().__init__()
        if not isinstance(in_channels, int) or in_channels <= 0:
            raise ValueError(f'FeatureStandardizer: in_channels must be a positive int, got '
                             f'{in_channels!r}')
        if not eps > 0:
            raise ValueError(f'FeatureStandardizer: eps must be > 0, got {eps!r}')
        self.in_channels = in_channels
        self.eps = float(eps)
        self.center = bool(center)
        self.register_buffer('mean', torch.zeros(in_channels))
        self.register_buffer('std', torch.ones(in_channels))
        self.register_buffer('fitted', torch.tensor(False))
        self.register_buffer('num_frames', torch.tensor(0, dtype=torch.int64))

    @property
    def is_fitted(self) -> bool:
        """Whether the statistics have been set (by :meth:`fit`, or from a checkpoint)."""
        return bool(self.fitted.item())

    def set_statistics(self, *, mean, std, num_frames: int) -> None:
        """Set the statistics directly.

        Args:
            mean: ``[D]`` per-dimension mean.
            std: ``[D]`` per-dimension standard deviation (``>= 0``; ``eps`` is added).
            num_frames: Frames they were measured on (kept for the record).

        Raises:
            ValueError: wrong shapes, non-finite or negative values.
        """
        mean = torch.as_tensor(np.asarray(mean), dtype=torch.float64)
        std = torch.as_tensor(np.asarray(std), dtype=torch.float64)
        for name, v in (('mean', mean), ('std', std)):
            if tuple(v.shape) != (self.in_channels,):
                raise ValueError(f'FeatureStandardizer: {name} must have shape '
                                 f'({self.in_channels},), got {tuple(v.shape)}')
            if not torch.isfinite(v).all():
                raise ValueError(f'FeatureStandardizer: {name} has non-finite values')
        if (std < 0).any():
            raise ValueError('FeatureStandardizer: std has negative values')
        self.mean.copy_(mean.to(self.mean))
        self.std.copy_((std + self.eps).to(self.std))
        self.num_frames.fill_(int(num_frames))
        self.fitted.fill_(True)

    def fit(self, frames: Iterable) -> None:
        """Measure the statistics on an iterable of ``[T, D]`` frame arrays or tensors."""
        moments = FeatureMoments(self.in_channels)
        for x in frames:
            moments.update(x)
        mean, std = moments.result()
        self.set_statistics(mean=mean, std=std, num_frames=moments.count)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardize ``x [..., D]`` (``(x - m) / s``, or ``x / s`` without ``center``).

        Raises:
            RuntimeError: the statistics were never fitted.
        """
        if not self.is_fitted:
            raise RuntimeError(
                'FeatureStandardizer: its statistics were never fitted. Train through a Runner '
                "config with InputStatisticsHook (configs/_base_/default_runtime.py), call the "
                'model\'s fit_input_norm(dataset) first, or load a checkpoint of a model '
                'trained with it')
        return ((x - self.mean) if self.center else x) / self.std

    def extra_repr(self) -> str:
        state = f'fitted on {int(self.num_frames.item())} frames' if self.is_fitted else 'unfitted'
        return f'in_channels={self.in_channels}, center={self.center}, {state}'


def dataset_frames(dataset, streams: Optional[Iterable[str]] = None):
    """Yield ``{stream: [T, D]}`` per video of a dataset: its raw features where it has them.

    wsal's feature datasets give the stored frames (``get_features``), before
    any resampling of the training pipeline; other datasets their items'
    ``inputs``.
    """
    get = getattr(dataset, 'get_features', None)
    for i in range(len(dataset)):
        feats = get(i) if get is not None else dataset[i]['inputs']
        yield {k: v for k, v in feats.items()
               if k != 'mask' and (streams is None or k in streams)}
