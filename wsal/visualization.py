"""Figure-4-style plots of one video's localization (matplotlib, Agg backend).

A figure shows, for one video and one class, a ground-truth row and then one
row block per model: the attention λ of each stream and their mean, the T-CAM
of the class, and the detections of the class. It is used by the
``LocalizationHealthHook`` (every validation), ``wsal localize --plot DIR`` and
``wsal demo`` (STPN and background-aware model side by side).

The input of every function is a *trace*: a mapping describing one video under
one model (see :func:`trace_videos`)::

    {'video_id': str,
     'seconds_per_segment': float, 'duration': float,
     'attention': [T],                       # mean λ over streams
     'stream_attention': {name: [T]},        # λ per stream
     'tcam': {name: [T, C+1]},               # per stream, index 0 = background
     'stream_weights': {name: float},        # θ per stream (optional)
     'detections': {'segments': [N, 2] (s), 'scores': [N], 'labels': [N]},
     'gt_segments': [M, 2], 'gt_labels': [M], # optional (no GT for new videos)
     'video_scores': [C]}                     # optional

Values may be tensors or arrays.
"""
from __future__ import annotations

import io
import os
from typing import Any, List, Mapping, Optional, Sequence

import numpy as np

from wsal.utils import atomic_write

__all__ = ['plot_localization', 'save_localization_figure', 'pick_class', 'pick_figure_video',
           'figure_video_reason', 'trace_videos', 'SCORE_SCALES']

#: What a detection score is, per scorer (shown under the detections row); the
#: ``:minmax`` entries are the scorers with ``normalize='minmax'``, ``:softmax``
#: those with ``activation='softmax'``. A scorer with ``video_score='scale'``
#: is recorded with a ``+video`` suffix and its caption gains
#: :data:`_VIDEO_SCALED`.
_MEAN = 'score = mean over the segment of Σθ·{lam}·(class logit): unbounded, can be negative'
_CONTRAST = 'score = inner minus outer mean of Σθ·{lam}·({what}): can be negative'
_LOGIT, _PROB = 'class logit', "class probability, softmax over the frame's classes"
_RESCALED = "; λ̃ = λ rescaled to its video's range"
_VIDEO_SCALED = "; × the class's video probability p(c) (÷ p(c) where negative)"
_GENERIC_SCALE = "score: the post-processor's (its scale depends on the scorer)"
SCORE_SCALES = {
    'WeightedLogitScorer': _MEAN.format(lam='λ'),
    'WeightedLogitScorer:minmax': _MEAN.format(lam='λ̃') + _RESCALED,
    'WeightedTCAMScorer': _MEAN.format(lam='λ'),
    'OuterInnerContrastScorer': _CONTRAST.format(lam='λ', what=_LOGIT),
    'OuterInnerContrastScorer:minmax': _CONTRAST.format(lam='λ̃', what=_LOGIT) + _RESCALED,
    'OuterInnerContrastScorer:softmax': _CONTRAST.format(lam='λ', what=_PROB),
    'OuterInnerContrastScorer:minmax:softmax': (_CONTRAST.format(lam='λ̃', what=_PROB)
                                                + _RESCALED),
}
#: A detection covering at least this fraction of the video is marked "whole video".
WHOLE_VIDEO = 0.95

_STREAM_COLORS = {'rgb': '#d62728', 'flow': '#1f77b4', 'fused': '#9467bd'}
_FALLBACK_COLORS = ['#ff7f0e', '#2ca02c', '#8c564b', '#e377c2', '#17becf']


def _score_caption(key: str) -> str:
    """The caption for a trace's ``scorer`` key (``Name[:form][:activation][+video]``)."""
    base, scaled = (key[:-len('+video')], True) if key.endswith('+video') else (key, False)
    caption = SCORE_SCALES.get(base)
    if caption is None:
        return _GENERIC_SCALE
    return caption + (_VIDEO_SCALED if scaled else '')


def _np(x: Any) -> np.ndarray:
    if x is None:
        return np.zeros(0)
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _stream_color(name: str, i: int) -> str:
    return _STREAM_COLORS.get(name, _FALLBACK_COLORS[i % len(_FALLBACK_COLORS)])


def pick_figure_video(records: Sequence[Any]) -> int:
    """Index of a video worth plotting, like the paper's Figure 4.

    The video whose ground truth has the most instances of a single class
    (only one class present); the first video when none qualifies.

    Args:
        records: Dataset records with a ``gt_labels`` sequence each.
    """
    best, best_n = 0, -1
    for i, rec in enumerate(records):
        labels = list(rec.gt_labels)
        n = max((labels.count(c) for c in set(labels)), default=0)
        if len(set(labels)) == 1 and n > best_n:
            best, best_n = i, n
    return best


def figure_video_reason(records: Sequence[Any], index: int) -> str:
    """Why :func:`pick_figure_video` chose ``records[index]``, in one sentence."""
    labels = list(records[index].gt_labels) if records else []
    if labels and len(set(labels)) == 1:
        return (f'shown: the test video with the most instances of a single class '
                f'({len(labels)} instances)')
    return 'shown: the first test video (no video has instances of one class only)'


def pick_class(trace: Mapping[str, Any]) -> int:
    """The class (0..C-1) a figure shows for ``trace``.

    The most frequent ground-truth class, else the highest video score, else
    the label of the best detection, else 0.
    """
    gt = _np(trace.get('gt_labels')).astype(np.int64).reshape(-1)
    if gt.size:
        return int(np.bincount(gt).argmax())
    vs = _np(trace.get('video_scores')).reshape(-1)
    if vs.size:
        return int(vs.argmax())
    det = trace.get('detections') or {}
    scores, labels = _np(det.get('scores')).reshape(-1), _np(det.get('labels')).reshape(-1)
    if scores.size:
        return int(labels[scores.argmax()])
    return 0


def _tcam_of_class(trace: Mapping[str, Any], cls: int):
    """Per-stream T-CAM of foreground class ``cls`` and their θ-weighted mean."""
    tcams = trace.get('tcam') or {}
    weights = trace.get('stream_weights') or {}
    per_stream = {name: _np(v)[:, cls + 1] for name, v in tcams.items()}
    if not per_stream:
        return per_stream, None
    w = np.array([float(weights.get(n, 1.0)) for n in per_stream])
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    mean = sum(wi * v for wi, v in zip(w, per_stream.values()))
    return per_stream, mean


def _segments_row(ax, segments: np.ndarray, scores: Optional[np.ndarray], color: str,
                  duration: float, label: str, empty: str = 'none') -> None:
    """Ground truth as one lane of bars; detections as one lane each, best on top.

    Detection bar opacity follows the score's min-max normalised value among
    the bars shown (scores may be negative or unbounded, depending on the
    scorer); each bar is labelled with its score, and a detection covering
    the whole video is hatched and says so.
    """
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel(label, rotation=0, ha='right', va='center', fontsize=8)
    if segments.size == 0:
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha='center', va='center',
                fontsize=7, color='0.5')
        return
    segments = segments.reshape(-1, 2)
    if scores is None:
        for s, e in segments:
            ax.axvspan(max(0.0, s), min(duration, e), ymin=0.15, ymax=0.85, color=color,
                       alpha=0.85, lw=0)
        return
    k = len(segments)
    lo, hi = float(scores.min()), float(scores.max())
    for i, ((s, e), sc) in enumerate(zip(segments, scores)):  # sorted, best first
        rel = 1.0 if hi <= lo else (float(sc) - lo) / (hi - lo)
        top, bottom = 1 - i / k, 1 - (i + 1) / k
        whole = duration > 0 and (min(duration, e) - max(0.0, s)) >= WHOLE_VIDEO * duration
        ax.axvspan(max(0.0, s), min(duration, e), ymin=bottom + 0.1 / k, ymax=top - 0.1 / k,
                   color=color, alpha=float(np.clip(0.25 + 0.7 * rel, 0.0, 1.0)), lw=0,
                   hatch='//' if whole else None)
        if k <= 6:
            text = f'{sc:.2f}' + ('  (whole video)' if whole else '')
            near_end = min(duration, e) > 0.85 * duration
            # labels stay inside the axes: right-aligned inside a bar that ends near the edge
            x = min(duration, e)
            ax.text(x, (top + bottom) / 2, (text + ' ') if near_end else (' ' + text),
                    ha='right' if near_end else 'left', va='center', fontsize=6)


def plot_localization(traces: Sequence[Mapping[str, Any]], *,
                      model_names: Optional[Sequence[str]] = None,
                      classes: Optional[Sequence[str]] = None,
                      class_index: Optional[int] = None,
                      max_detections: int = 5,
                      title: Optional[str] = None,
                      reason: Optional[str] = None):
    """Plot one video under one or more models, like Figure 4 of the paper.

    Args:
        traces: One trace per model, all for the same video (see module doc).
        model_names: A name per trace (row-block labels).
        classes: Class names (for titles); index = foreground class 0..C-1.
        class_index: Class to show; default :func:`pick_class` of the first trace.
        max_detections: Show at most this many detections of the class per
            model (highest scores, one lane each, best on top).
        title: Figure title (default: the video id, the class and the model
            names).
        reason: Why this video is shown (a line under the title).

    Returns:
        matplotlib.figure.Figure: the figure (caller saves or closes it).
    """
    from matplotlib.figure import Figure

    if not traces:
        raise ValueError('plot_localization needs at least one trace')
    names = list(model_names) if model_names is not None else [
        f'model {i}' for i in range(len(traces))] if len(traces) > 1 else ['']
    if len(names) != len(traces):
        raise ValueError(f'{len(names)} model names for {len(traces)} traces')
    ref = traces[0]
    cls = pick_class(ref) if class_index is None else int(class_index)
    cls_name = classes[cls] if classes is not None and cls < len(classes) else f'class {cls}'
    sps = float(ref.get('seconds_per_segment', 1.0))
    T = len(_np(ref.get('attention')))
    duration = float(ref.get('duration') or T * sps) or T * sps
    has_gt = ref.get('gt_segments') is not None

    heights = ([0.5] if has_gt else []) + [1.2, 1.2, 0.5] * len(traces)
    fig = Figure(figsize=(10, 0.9 + 0.85 * sum(heights)), constrained_layout=True)
    axes = fig.subplots(len(heights), 1, sharex=True, gridspec_kw=dict(height_ratios=heights))
    axes = np.atleast_1d(axes)
    row = 0
    if has_gt:
        gt_seg = _np(ref.get('gt_segments')).reshape(-1, 2)
        gt_lab = _np(ref.get('gt_labels')).astype(np.int64).reshape(-1)
        _segments_row(axes[0], gt_seg[gt_lab == cls], None, '#2ca02c', duration,
                      f'ground truth\n{cls_name}', empty=f'no {cls_name} instance')
        row = 1
    scales: set = set()
    for name, trace in zip(names, traces):
        det = trace.get('detections') or {}
        n_all = len(_np(det.get('scores')).reshape(-1))
        t = (np.arange(len(_np(trace.get('attention')))) + 0.5) * float(
            trace.get('seconds_per_segment', sps))
        # one model: its name is in the title, the row labels stay short
        prefix = f'{name}\n' if name and len(traces) > 1 else ''
        ax = axes[row]
        for i, (sname, att) in enumerate((trace.get('stream_attention') or {}).items()):
            ax.plot(t, _np(att), lw=0.8, color=_stream_color(sname, i), alpha=0.7, label=f'λ {sname}')
        ax.plot(t, _np(trace.get('attention')), lw=1.4, color='k', label='λ mean')
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(prefix + 'attention λ', rotation=0, ha='right', va='center', fontsize=8)
        ax.legend(loc='upper right', fontsize=6, ncol=4, frameon=False)
        ax = axes[row + 1]
        per_stream, mean = _tcam_of_class(trace, cls)
        for i, (sname, v) in enumerate(per_stream.items()):
            ax.plot(t, v, lw=0.8, color=_stream_color(sname, i), alpha=0.7, label=f'{sname}')
        if mean is not None:
            ax.plot(t, mean, lw=1.4, color='k', label='θ-weighted')
            ax.legend(loc='upper right', fontsize=6, ncol=4, frameon=False)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(prefix + f'T-CAM\nP({cls_name})', rotation=0, ha='right', va='center',
                      fontsize=8)
        seg = _np(det.get('segments')).reshape(-1, 2)
        sc = _np(det.get('scores')).reshape(-1)
        lab = _np(det.get('labels')).astype(np.int64).reshape(-1)
        of_class = np.flatnonzero(lab == cls)
        keep = of_class[np.argsort(-sc[of_class], kind='stable')][:max_detections]
        ax = axes[row + 2]
        _segments_row(ax, seg[keep], sc[keep], '#d62728', duration, prefix + 'detections',
                      empty=f'no detection of {cls_name} ({n_all} of other classes)')
        if keep.size:
            scales.add(_score_caption(str(trace.get('scorer') or '')))
            ax.set_title(f'{cls_name}: top {keep.size} of {of_class.size} detections of this '
                         f'class ({n_all} of all classes), best on top, labelled with their '
                         'score; darker = higher score among those shown',
                         fontsize=6, loc='left', pad=2)
        row += 3
    axes[-1].set_xlim(0, duration)
    axes[-1].set_xlabel('time (s)' + ''.join(f'\n{s}' for s in sorted(scales)), fontsize=8)
    if title is None:
        title = f'{ref.get("video_id", "")}: {cls_name}'
        shown = [n for n in names if n]
        if shown:
            title += ' — ' + ' vs '.join(shown)
    if reason:
        title += f'\n{reason}'
    fig.suptitle(title, fontsize=10)
    return fig


def save_localization_figure(path: str | os.PathLike, traces: Sequence[Mapping[str, Any]],
                             *, dpi: int = 110, **kwargs) -> str:
    """Render :func:`plot_localization` to a PNG at ``path``, atomically.

    Returns:
        str: ``path``.
    """
    fig = plot_localization(traces, **kwargs)
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=dpi)
    with atomic_write(path, 'wb') as fh:
        fh.write(buf.getvalue())
    return str(path)


def trace_videos(model, data_batch: Mapping[str, Any],
                 predictions: Optional[Sequence[dict]] = None) -> List[dict]:
    """Everything a Figure-4 plot needs, per video of a collated batch.

    Args:
        model: The (unwrapped) localizer.
        data_batch: A ``wsal_collate`` batch.
        predictions: The model's ``predict`` output for the batch (computed
            when None).

    Returns:
        list[dict]: per video, the prediction plus ``tcam`` (``{stream: [T, C+1]}``)
        and ``stream_weights`` (the trace format above).
    """
    import torch
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            data = model.data_preprocessor(data_batch, False)
            ext = model.extract(data['inputs'])
            if predictions is None:
                predictions = model.predict(data['inputs'], data['data_samples'])
    finally:
        model.train(was_training)
    traces = []
    for i, pred in enumerate(predictions):
        n = len(pred['attention'])
        trace = dict(pred)
        trace['tcam'] = {name: s['tcam'][i, :n].detach().cpu()
                         for name, s in ext['streams'].items()}
        trace['stream_weights'] = dict(ext['stream_weights'])
        scorer = getattr(getattr(model, 'postprocessor', None), 'scorer', None)
        if scorer is not None:
            form = getattr(scorer, 'normalize', None)
            activation = getattr(scorer, 'activation', None)
            scaled = getattr(scorer, 'video_score', None) == 'scale'
            trace['scorer'] = (type(scorer).__name__ + (f':{form}' if form else '')
                               + (f':{activation}' if activation else '')
                               + ('+video' if scaled else ''))
        traces.append(trace)
    return traces
