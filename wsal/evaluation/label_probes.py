"""What a data set's video labels can teach about where its actions are, before any training.

Weakly-supervised localizers find actions through class scores learnt from
video labels (the T-CAM, and attention trained to follow it). Where a
class's videos are identified by their scene rather than by the action, the
class evidence those labels teach is no higher inside the actions than
outside, and every such method falls together. These probes measure that
with linear models, in seconds:

* :func:`fit_video_label_probe` and :func:`class_frame_aucs`: a linear classifier trained on each training
  video's mean feature (video labels only), applied to every frame of the
  evaluation videos; the frame ROC AUC of each present class's score against
  that class's instances.
* :func:`norm_auc`: the frame AUC of the feature's row norm (a class-blind
  cue many methods lean on).
* :func:`fit_frame_probe`: a linear action-vs-background classifier trained on
  the training split's annotated frames: what a linear model reaches with
  full supervision, the reference the two above are read against.

Every AUC here is computed within a video and then averaged over videos (or
(video, class) pairs), because proposals threshold scores per video.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from .attention_health import frame_auc

__all__ = ['ProbeVideo', 'LinearProbe', 'fit_linear_probe', 'fit_video_label_probe',
           'class_frame_aucs', 'norm_auc', 'fit_frame_probe', 'summarize_aucs']


@dataclass
class ProbeVideo:
    """One video as the probes see it.

    Attributes:
        video_id: Name, for messages.
        features: ``[T, D]`` frame features (streams concatenated, or one stream).
        label: ``[C]`` multi-hot video label.
        class_frames: ``{class index: bool [T]}``: the frames inside that
            class's annotated instances (empty for a video without segments).
        mean: ``[D]`` mean feature of the whole video when ``features`` holds
            only a sample of its frames (None: the mean of ``features``).
    """

    video_id: str
    features: np.ndarray
    label: np.ndarray
    class_frames: Dict[int, np.ndarray]
    mean: Optional[np.ndarray] = None

    @property
    def mean_feature(self) -> np.ndarray:
        """``[D]``: the video's mean feature (``mean`` if given, else that of ``features``)."""
        return self.features.mean(0, dtype=np.float64) if self.mean is None else self.mean

    @property
    def action_frames(self) -> np.ndarray:
        """Bool ``[T]``: frames inside any annotated instance."""
        out = np.zeros(self.features.shape[0], dtype=bool)
        for m in self.class_frames.values():
            out |= m
        return out


class LinearProbe:
    """A standardized linear map ``((x - mean) / std) @ weight + bias``.

    Attributes:
        mean, std: ``[D]`` standardization fitted on the training inputs.
        weight: ``[D, K]``; bias: ``[K]``.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray, weight: np.ndarray,
                 bias: np.ndarray) -> None:
        self.mean, self.std, self.weight, self.bias = mean, std, weight, bias

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scores ``[N, K]`` (logits) of inputs ``[N, D]``."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        return z @ self.weight + self.bias


def fit_linear_probe(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2,
                     max_iter: int = 500) -> LinearProbe:
    """Independent logistic regressions of ``y [N, K]`` (0/1) on ``x [N, D]``.

    The inputs are standardized, the weights start at zero and L-BFGS
    (scipy, float64) minimises the mean binary cross-entropy plus
    ``l2/2 · ||W||²`` (the bias is not penalized), so the fit is
    deterministic. With fewer inputs than dims (video means) it is solved
    over the inputs' span, which has the same optimum.

    Args:
        x: ``[N, D]`` inputs.
        y: ``[N, K]`` targets in {0, 1}.
        l2: Ridge weight on the standardized inputs' coefficients.
        max_iter: L-BFGS iterations.

    Returns:
        LinearProbe: the fitted map.

    Raises:
        ValueError: shapes that do not match, or fewer than two inputs.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    x = np.asarray(x)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f'fit_linear_probe: inputs {x.shape} and targets {y.shape} must be '
                         '[N, D] and [N, K]')
    if x.shape[0] < 2:
        raise ValueError(f'fit_linear_probe: needs at least 2 inputs, got {x.shape[0]}')
    mean = x.mean(0, dtype=np.float64)
    std = x.std(0, dtype=np.float64) + 1e-6
    z = (x - mean) / std
    n, d = z.shape
    k = y.shape[1]
    # With fewer inputs than dims the optimal W lies in the span of the inputs
    # (W = Zᵀ A), so the same problem is solved over the N×K coefficients A
    # with the Gram matrix G = Z Zᵀ: logits G A + b, penalty l2/2 tr(Aᵀ G A).
    dual = n < d
    gram = z @ z.T if dual else None
    rows = n if dual else d

    def loss_grad(theta):
        a, b = theta[:rows * k].reshape(rows, k), theta[rows * k:]
        logits = (gram @ a if dual else z @ a) + b
        penalty = (a * (gram @ a)).sum() if dual else (a * a).sum()
        # mean BCE with logits, written to stay finite for large |logits|
        loss = (np.logaddexp(0.0, logits) - y * logits).sum() / (n * k) + 0.5 * l2 * penalty
        g = (expit(logits) - y) / (n * k)
        grad_a = gram @ (g + l2 * a) if dual else z.T @ g + l2 * a
        return loss, np.concatenate([grad_a.ravel(), g.sum(0)])

    res = minimize(loss_grad, np.zeros(rows * k + k), jac=True, method='L-BFGS-B',
                   options={'maxiter': max_iter})
    a, b = res.x[:rows * k].reshape(rows, k), res.x[rows * k:]
    return LinearProbe(mean, std, z.T @ a if dual else a, b)


def summarize_aucs(aucs: Sequence[float]) -> Dict[str, float]:
    """``mean``, ``median``, ``below_chance`` (share under 0.5) and ``count`` of finite AUCs."""
    a = np.asarray([v for v in aucs if np.isfinite(v)], dtype=np.float64)
    if a.size == 0:
        return {'mean': float('nan'), 'median': float('nan'), 'below_chance': float('nan'),
                'count': 0}
    return {'mean': float(a.mean()), 'median': float(np.median(a)),
            'below_chance': float((a < 0.5).mean()), 'count': int(a.size)}


def fit_video_label_probe(train: Iterable[ProbeVideo], *, l2: float = 1e-2) -> LinearProbe:
    """A linear multi-label classifier of the training videos' mean features (video labels only).

    Args:
        train: Training videos (their ``mean`` or features, and labels; segments unused).
        l2: Ridge weight.

    Returns:
        LinearProbe: scores ``[N, C]`` of frames or of video means.
    """
    videos = list(train)
    x = np.stack([v.mean_feature for v in videos])
    y = np.stack([v.label for v in videos]).astype(np.float64)
    return fit_linear_probe(x, y, l2=l2)


def class_frame_aucs(probe: LinearProbe, video: ProbeVideo) -> List[float]:
    """Frame AUC of each present class's score against that class's instances in ``video``.

    With :func:`fit_video_label_probe`'s classifier: 1 when the class
    evidence the video labels teach sits in the actions; 0.5 when it is
    spread evenly over the video (the scene tells the class as well as the
    action does); below 0.5 when it sits outside the actions.
    """
    scores = probe(video.features)
    return [frame_auc(scores[:, c], inside) for c, inside in sorted(video.class_frames.items())]


def norm_auc(video: ProbeVideo) -> float:
    """Frame AUC of the features' row norm against the video's action frames."""
    return frame_auc(np.linalg.norm(video.features, axis=1), video.action_frames)


def fit_frame_probe(train: Iterable[ProbeVideo], *, max_frames: int = 20000, seed: int = 0,
                    l2: float = 1e-2) -> Optional[LinearProbe]:
    """A linear action-vs-background frame classifier with full supervision, as a reference.

    Fitted on at most ``max_frames`` frames (drawn with ``seed``) of the
    training videos, labelled by their annotated segments.

    Args:
        train: Training videos with segments (their ``features`` may be a
            sample of the video's frames, with ``class_frames`` to match).
        max_frames: Frames used for the fit.
        seed: Seed of the draw.
        l2: Ridge weight.

    Returns:
        LinearProbe or None: scores ``[N, 1]``; None when the training frames
        are all background or all action (video labels only).
    """
    videos = list(train)
    x = np.concatenate([v.features for v in videos])
    y = np.concatenate([v.action_frames for v in videos])
    if not y.any() or y.all():
        return None
    if x.shape[0] > max_frames:
        keep = np.sort(np.random.default_rng(seed).choice(x.shape[0], max_frames, replace=False))
        x, y = x[keep], y[keep]
    return fit_linear_probe(x, y[:, None].astype(np.float64), l2=l2)
