"""Multi-threshold proposal generators: 1-D connected components, all thresholds at once.

A proposal is a maximal run of consecutive valid segments whose signal is
strictly above a threshold. For a row ``x [T]`` and threshold ``thr`` the runs
start where ``x_t > thr`` and ``x_{t-1}`` is not (or ``t`` is the first
segment) and end where ``x_t > thr`` and ``x_{t+1}`` is not: the differences
of the thresholded mask. The valid entries of all rows are packed into one
sequence (padding costs nothing) and compared with all thresholds in one
``[K, N]`` tensor; ``nonzero`` lists starts and ends in the same order, so
the i-th start and the i-th end delimit the i-th run.

Proposals are listed row by row, each row by increasing threshold and then
by start; ``end`` is inclusive. Thresholds are compared in float64
(``float64(x) > thr``) so a threshold list such as ``0.025 * k`` means what it
says for float32 and float64 signals alike.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..registry import POSTPROCESSORS
from ..utils.ranges import check_choice, check_number, check_number_list

__all__ = ['Proposals', 'default_thresholds', 'threshold_runs', 'attention_proposals',
           'AttentionThresholdProposals', 'TCAMThresholdProposals', 'stream_weighted_sum',
           'model_streams', 'stream_weights_of', 'valid_mask', 'check_stream_weights',
           'attention_weighted_probabilities', 'weighted_tcam', 'check_thresholds',
           'minmax_per_video', 'quantile_per_video', 'counts_below', 'ATTENTION_FORMS',
           'PROPOSAL_FORMS',
           'check_attention_form']

#: Bound on the ``[rows, K, T]`` comparison tensor of one chunk (elements).
_CHUNK_ELEMENTS = 1 << 25


class Proposals(NamedTuple):
    """Proposals of a batch, in segment indices (``end`` inclusive).

    Attributes:
        video: ``LongTensor[P]`` video index in the batch.
        start: ``LongTensor[P]`` first segment.
        end: ``LongTensor[P]`` last segment (inclusive).
        label: ``LongTensor[P]`` foreground class ``0..C-1``, or None for
            class-agnostic proposals shared by every selected class of the video.
    """

    video: Tensor
    start: Tensor
    end: Tensor
    label: Optional[Tensor] = None


def default_thresholds() -> Tuple[float, ...]:
    """The paper's thresholds: 0 to 0.5 in steps of 0.025 (21 values)."""
    return tuple(round(0.025 * k, 10) for k in range(21))


def _threshold_tensor(thresholds: Sequence[float], device) -> Tensor:
    thr = torch.as_tensor(list(thresholds), dtype=torch.float64, device=device)
    if thr.dim() != 1 or thr.numel() == 0:
        raise ValueError(f'thresholds must be a non-empty 1-D sequence, got {thresholds!r}')
    return thr


def check_thresholds(thresholds: Optional[Sequence[float]], *, owner: str) -> Tuple[float, ...]:
    """Proposal thresholds: finite, in ``[0, 1]``, each once (None: the paper's list)."""
    if thresholds is None:
        return default_thresholds()
    return check_number_list(thresholds, owner=owner, key='thresholds', low=0.0, high=1.0)


def check_stream_weights(weights: Optional[dict], *, owner: str) -> Optional[dict]:
    """``{stream: θ}`` with finite non-negative weights, or None."""
    if weights is None:
        return None
    if not isinstance(weights, dict) or not weights:
        raise ValueError(f'{owner}: stream_weights must be a non-empty dict '
                         f'{{stream: weight}}, got {weights!r}')
    return {str(k): check_number(v, owner=owner, key=f'stream_weights.{k}', low=0.0)
            for k, v in weights.items()}


def threshold_runs(signal: Tensor, valid: Tensor, thresholds: Sequence[float]) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Connected runs of ``signal > thr`` for every row and every threshold.

    Args:
        signal: ``[G, T]`` per-segment values (any float dtype, any device).
        valid: ``BoolTensor[G, T]``: False segments never belong to a run.
        thresholds: ``K`` thresholds.

    Returns:
        tuple: ``row [P]``, ``threshold index [P]``, ``start [P]``, ``end [P]``
        (LongTensors, ``end`` inclusive), ordered by row, threshold, start.
    """
    if signal.dim() != 2:
        raise ValueError(f'signal must have shape [G, T], got {tuple(signal.shape)}')
    if valid.shape != signal.shape:
        raise ValueError(f'valid mask shape {tuple(valid.shape)} != signal shape '
                         f'{tuple(signal.shape)}')
    device = signal.device
    thr = _threshold_tensor(thresholds, device)
    n_rows, length = signal.shape
    k = thr.shape[0]
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // max(1, k * length))
    if n_rows == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty.clone(), empty.clone(), empty.clone()
    outs = []
    for lo in range(0, n_rows, rows_per_chunk):  # memory bound only; one chunk in practice
        outs.append(_packed_runs(signal[lo:lo + rows_per_chunk],
                                 valid[lo:lo + rows_per_chunk], thr, lo))
    if len(outs) == 1:
        return outs[0]
    return tuple(torch.cat(parts) for parts in zip(*outs))


def _packed_runs(signal: Tensor, valid: Tensor, thr: Tensor, row_offset: int):
    """Runs over the valid entries only (padding is never compared)."""
    row, t = torch.nonzero(valid, as_tuple=True)  # row-major: (row, t) ascending
    x = signal[row, t]
    # entry n continues entry n - 1 when both sit in one row at adjacent times
    link = torch.zeros_like(row, dtype=torch.bool)
    link[1:] = (row[1:] == row[:-1]) & (t[1:] == t[:-1] + 1)
    above = x[None, :] > thr[:, None]  # [K, N], compared in float64
    prev = torch.zeros_like(above)
    prev[:, 1:] = above[:, :-1] & link[None, 1:]
    nxt = torch.zeros_like(above)
    nxt[:, :-1] = above[:, 1:] & link[None, 1:]
    k_s, n_s = torch.nonzero(above & ~prev, as_tuple=True)  # (threshold, entry) order
    n_e = torch.nonzero(above & ~nxt, as_tuple=True)[1]     # i-th end closes i-th start
    order = torch.sort(row[n_s], stable=True).indices        # -> (row, threshold, start)
    n_s, n_e, k_s = n_s[order], n_e[order], k_s[order]
    return row[n_s] + row_offset, k_s, t[n_s], t[n_e]


def attention_proposals(attention: Tensor, mask: Optional[Tensor] = None,
                        thresholds: Optional[Sequence[float]] = None) -> Proposals:
    """Class-agnostic proposals from the attention ``λ``, all thresholds pooled.

    Args:
        attention: ``[B, T]`` attention in ``[0, 1]``.
        mask: ``BoolTensor[B, T]``, False on padding (None: all valid).
        thresholds: Thresholds (default :func:`default_thresholds`).

    Returns:
        Proposals: ``video``, ``start``, ``end`` with ``label=None``; per video
        by increasing threshold, then start.
    """
    if attention.dim() != 2:
        raise ValueError(f'attention must have shape [B, T], got {tuple(attention.shape)}')
    if mask is None:
        mask = torch.ones_like(attention, dtype=torch.bool)
    thresholds = default_thresholds() if thresholds is None else thresholds
    video, _, start, end = threshold_runs(attention, mask.bool(), thresholds)
    return Proposals(video, start, end, None)


def stream_weighted_sum(outputs: dict, per_stream, *,
                        stream_weights: Optional[dict] = None) -> Tensor:
    """``Σ_s θ_s · λ_t^s · f(stream s)``: the one stream-weighted sum of post-processing.

    Args:
        outputs: The model's tensor-path dict (``streams``, ``stream_weights``).
        per_stream: ``f``: one stream's dict -> ``[..., C]`` float64 values
            (the leading dims those of the stream's ``attention``).
        stream_weights: Override ``outputs['stream_weights']`` (``{name: θ}``).

    Returns:
        Tensor: ``[..., C]`` float64.
    """
    streams = model_streams(outputs)
    weights = stream_weights_of(outputs, streams, stream_weights)
    total = None
    for name, theta in weights.items():  # the (at most two) streams
        term = (theta * streams[name]['attention'].double())[..., None] * per_stream(streams[name])
        total = term if total is None else total + term
    return total


def attention_weighted_probabilities(outputs: dict, *, activation: str = 'sigmoid',
                                     stream_weights: Optional[dict] = None) -> Tensor:
    """STPN's attention-weighted T-CAM ``ψ`` of the foreground classes.

    ``ψ_t^c = Σ_s θ_s · λ_t^s · σ(cas_t^{s,c})`` with ``σ`` the sigmoid of the
    class logit (STPN, Nguyen et al. CVPR 2018, "Temporal action localization":
    the weighted T-CAM is ``λ_t · sigmoid(a_t^c)`` per stream, the two streams
    fused with ``θ``), or with ``activation='softmax'`` the frame-level softmax
    over the ``C+1`` classes (the model's ``tcam``). Class probabilities, as
    opposed to :func:`~wsal.postprocess.scoring.attention_weighted_logits`.

    Args:
        outputs: The model's tensor-path dict (``streams``, ``stream_weights``).
        activation: ``'sigmoid'`` or ``'softmax'``.
        stream_weights: Override ``outputs['stream_weights']`` (``{name: θ}``).

    Returns:
        Tensor: ``[B, T, C]`` float64 (background column dropped).
    """
    if activation not in ('sigmoid', 'softmax'):
        raise ValueError(f"activation must be 'sigmoid' or 'softmax', got {activation!r}")

    def probabilities(stream: dict) -> Tensor:
        cas = stream['cas'].double()
        act = torch.sigmoid(cas) if activation == 'sigmoid' else torch.softmax(cas, dim=-1)
        return act[..., 1:]

    return stream_weighted_sum(outputs, probabilities, stream_weights=stream_weights)


#: Former name of :func:`attention_weighted_probabilities` (kept for existing code).
weighted_tcam = attention_weighted_probabilities


def model_streams(outputs: dict) -> dict:
    """``outputs['streams']``, checked: every stream has ``attention`` and ``cas``."""
    streams = outputs.get('streams') if isinstance(outputs, dict) else None
    if not streams:
        raise KeyError("model outputs lack 'streams' (expected {name: {'attention', 'cas', ...}})")
    for name, out in streams.items():
        for key in ('attention', 'cas'):
            if key not in out:
                raise KeyError(f"model outputs['streams'][{name!r}] lacks {key!r}")
    return streams


def stream_weights_of(outputs: dict, streams: dict, override: Optional[dict]) -> dict:
    """The stream weights ``{name: θ}``: the override, the model's, or uniform."""
    weights = override if override is not None else outputs.get('stream_weights')
    if weights is None:
        weights = {name: 1.0 / len(streams) for name in streams}
    missing = [name for name in weights if name not in streams]
    if missing:
        raise KeyError(f'stream weights name streams {missing} absent from the model outputs '
                       f'(streams: {sorted(streams)})')
    return {name: float(w) for name, w in weights.items()}


def valid_mask(outputs: dict, like: Tensor) -> Tensor:
    """``outputs['mask']`` as bool, or all True of ``like``'s ``[B, T]``."""
    mask = outputs.get('mask')
    if mask is None:
        return torch.ones(like.shape[:2], dtype=torch.bool, device=like.device)
    return mask.bool()


#: Forms of λ the post-processing reads: as the model gives it, or rescaled to
#: each video's range (:func:`minmax_per_video`).
ATTENTION_FORMS = (None, 'minmax')


def check_attention_form(normalize: Optional[str], owner: str) -> Optional[str]:
    """``normalize`` if it is one of :data:`ATTENTION_FORMS`, else a ValueError naming ``owner``."""
    return check_choice(normalize, owner=owner, key='normalize', choices=ATTENTION_FORMS)


def minmax_per_video(signal: Tensor, mask: Tensor) -> Tensor:
    """Rescale each row to ``[0, 1]`` over its valid entries: ``(x - min) / (max - min)``.

    A constant row becomes all 0. Padding stays 0.

    Args:
        signal: ``[B, T]``.
        mask: ``BoolTensor[B, T]``.

    Returns:
        Tensor: ``[B, T]``, same dtype.
    """
    big = torch.finfo(signal.dtype).max
    lo = signal.masked_fill(~mask, big).amin(dim=1, keepdim=True)
    hi = signal.masked_fill(~mask, -big).amax(dim=1, keepdim=True)
    span = hi - lo
    out = torch.where(span > 0, (signal - lo) / torch.where(span > 0, span, torch.ones_like(span)),
                      torch.zeros_like(signal))
    return out * mask.to(signal.dtype)


def quantile_per_video(signal: Tensor, mask: Tensor) -> Tensor:
    """Each valid entry's quantile in its row: the fraction of the row's valid entries below it.

    Equal values share a level; the row's minimum becomes 0, so a constant
    row is all 0 and gives no proposal (as with :func:`minmax_per_video`), and
    no threshold keeps a whole video for nothing. Any increasing
    transform of a row (an affine rescaling, a sigmoid's saturation) leaves
    the result unchanged. Padding stays 0.

    Args:
        signal: ``[B, T]``.
        mask: ``BoolTensor[B, T]``.

    Returns:
        Tensor: ``[B, T]`` float64, values ``k / n`` with ``n`` the row's valid length.
    """
    counts = counts_below(signal, mask)
    n = mask.sum(dim=1, keepdim=True).clamp(min=1)
    return torch.where(mask, counts.to(torch.float64) / n.to(torch.float64),
                       torch.zeros(counts.shape, dtype=torch.float64, device=counts.device))


def counts_below(signal: Tensor, mask: Tensor) -> Tensor:
    """For each valid entry, how many valid entries of its row are strictly lower.

    The integer numerator of :func:`quantile_per_video`: sums of such counts
    are exact, where sums of the fractions can differ in their last bit for
    equal totals.

    Args:
        signal: ``[B, T]`` (floating or integer).
        mask: ``BoolTensor[B, T]``.

    Returns:
        LongTensor: ``[B, T]``, 0 on padding.
    """
    x = signal.detach().to(torch.float64)
    ordered = torch.sort(x.masked_fill(~mask, float('inf')), dim=1).values
    counts = torch.searchsorted(ordered, x.contiguous(), right=False)
    return torch.where(mask, counts, torch.zeros_like(counts))


#: Forms of the averaged λ the attention proposals threshold: λ itself, λ
#: rescaled to each video's range, or each frame's quantile in its video.
PROPOSAL_FORMS = ATTENTION_FORMS + ('quantile',)


@POSTPROCESSORS.register_module()
class AttentionThresholdProposals(nn.Module):
    """Proposals from the stream-averaged attention (paper section 3.2 / 4.2).

    Thresholds ``λ`` (``outputs['attention']``, the plain mean of the streams'
    attention) at every threshold and pools the 1-D connected components of
    all thresholds. The proposals are class-agnostic: each is scored for every
    selected class of its video.

    ``normalize='minmax'`` applies the thresholds to each video's λ rescaled
    to its own range, ``(λ - min λ) / (max λ - min λ)``, instead of to λ
    itself. Why: the classification terms constrain which frames λ ranks
    high, not its absolute level (with ``'mass'`` pooling they are blind to
    it; with 1/T pooling L_fg pushes it up and L_bg down), so a fixed list of
    absolute thresholds can miss a selective λ that sits at 0.9-1 or at
    0-0.1 (README, "Model settings").

    ``normalize='quantile'`` applies them to each frame's quantile in its
    video (:func:`quantile_per_video`): threshold ``q`` keeps the frames
    above the video's ``q``-quantile of λ. The proposals then depend only on
    how λ orders the video's frames. Why: λ is a sigmoid, and where it
    saturates (actions and the short gaps between them all at 0.95-1) the
    rescaled range leaves only the top one or two thresholds between them,
    so neighbouring instances come out merged; quantiles spread the
    thresholds over the frames wherever λ puts them.

    Args:
        thresholds: Threshold list (default 0 to 0.5 step 0.025).
        normalize: None (thresholds on λ, as printed in the paper),
            ``'minmax'`` (λ rescaled per video) or ``'quantile'`` (λ's
            quantiles per video).

    Call: ``gen(outputs, class_mask BoolTensor[B, C])`` -> :class:`Proposals`
    with ``label=None``.
    """

    NORMALIZE = PROPOSAL_FORMS

    def __init__(self, *, thresholds: Optional[Sequence[float]] = None,
                 normalize: Optional[str] = None) -> None:
        super().__init__()
        self.normalize = check_choice(normalize, owner='AttentionThresholdProposals',
                                      key='normalize', choices=PROPOSAL_FORMS)
        self.thresholds = check_thresholds(thresholds, owner=type(self).__name__)

    def forward(self, outputs: dict, class_mask: Optional[Tensor] = None) -> Proposals:
        if 'attention' not in outputs:
            raise KeyError("model outputs lack 'attention' ([B, T] mean of the streams' λ)")
        attention = outputs['attention']
        mask = valid_mask(outputs, attention)
        if self.normalize == 'minmax':
            attention = minmax_per_video(attention, mask)
        elif self.normalize == 'quantile':
            attention = quantile_per_video(attention, mask)
        return attention_proposals(attention, mask, self.thresholds)

    def extra_repr(self) -> str:
        return (f'thresholds={len(self.thresholds)} values '
                f'{self.thresholds[0]}..{self.thresholds[-1]}, normalize={self.normalize!r}')


@POSTPROCESSORS.register_module()
class TCAMThresholdProposals(nn.Module):
    """STPN's proposals: threshold the attention-weighted T-CAM of each selected class.

    For every selected (video, class) the weighted T-CAM
    ``ψ_t^c = Σ_s θ_s λ_t^s σ(cas_t^{s,c})`` (see :func:`attention_weighted_probabilities`) is
    thresholded at every threshold and the connected components are pooled,
    labelled with the class. All selected (video, class) rows and all
    thresholds are processed in one tensor.

    Args:
        thresholds: Threshold list on ``ψ`` (default 0 to 0.5 step 0.025).
        activation: ``'sigmoid'`` (STPN) or ``'softmax'``.
        stream_weights: Optional ``{stream: θ}`` override.

    Call: ``gen(outputs, class_mask BoolTensor[B, C])`` -> :class:`Proposals`
    with labels, ordered by (video, class, threshold, start).
    """

    def __init__(self, *, thresholds: Optional[Sequence[float]] = None,
                 activation: str = 'sigmoid', stream_weights: Optional[dict] = None) -> None:
        super().__init__()
        if activation not in ('sigmoid', 'softmax'):
            raise ValueError(f"{type(self).__name__}: activation must be 'sigmoid' or 'softmax', "
                             f'got {activation!r}')
        self.thresholds = check_thresholds(thresholds, owner=type(self).__name__)
        self.activation = activation
        self.stream_weights = check_stream_weights(stream_weights, owner=type(self).__name__)

    def forward(self, outputs: dict, class_mask: Tensor) -> Proposals:
        psi = attention_weighted_probabilities(outputs, activation=self.activation,
                                               stream_weights=self.stream_weights)  # [B, T, C]
        mask = valid_mask(outputs, psi)
        pair_video, pair_class = torch.nonzero(class_mask, as_tuple=True)
        signal = psi[pair_video, :, pair_class]  # [J, T]
        row, _, start, end = threshold_runs(signal, mask[pair_video], self.thresholds)
        return Proposals(pair_video[row], start, end, pair_class[row])

    def extra_repr(self) -> str:
        return f'thresholds={len(self.thresholds)} values, activation={self.activation!r}'
