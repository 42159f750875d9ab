"""Which loss term moves the attention: each term's gradient on every stream's λ.

A term's weight says little about how hard it pushes λ. The classification
terms reach λ through its 1/T pools, and through the sigmoid their push on
the attention logit shrinks as λ(1 − λ) once λ saturates; a term that is
blind to λ's scale (a correlation, a cross-entropy to a target) keeps its
full push. :func:`attention_term_gradients` measures it, per video, so that
a table can say which term set λ's order at a checkpoint. With
``reduce='mean'`` it gives the signed push instead (which term raises λ and
which lowers it), and ``frames`` restricts either to some frames, e.g. those
inside the ground truth against those outside it.

:func:`classifier_term_gradients` does the same for the class rows: which
term grows or shrinks them (the radial part of its gradient) and which
turns them (the rest). A row that keeps growing sharpens the T-CAM that the
self-guide copies into λ, so the two together say which term drives a late
change of λ's order.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import torch
from torch import nn

__all__ = ['attention_term_gradients', 'classifier_term_gradients']

_WRT = ('logit', 'attention')
_REDUCE = ('rms', 'mean')


def attention_term_gradients(model: torch.nn.Module, inputs: Mapping[str, torch.Tensor],
                             data_samples: Sequence, *, wrt: str = 'logit',
                             reduce: str = 'rms', frames: Optional[torch.Tensor] = None
                             ) -> Dict[str, Dict[str, torch.Tensor]]:
    """Size of each loss term's gradient on each stream's attention, per video.

    Every term is evaluated as the model's ``loss`` does (its weight and the current
    warm-up factor included, summed over the streams it is applied to), and
    differentiated with respect to every stream's λ, so a cross-stream term
    is charged with its push on each stream. The size is the root mean square
    over the video's valid frames of ``B · T · ∂L/∂a_t``, with ``T`` the
    video's length and ``B`` the batch size: the loss terms average over
    frames and videos, so this is the push on one frame at a scale that
    depends neither on the video's length nor on what else is in the batch
    (for a term that averages over the batch's videos, as the background
    modelling terms do).

    The model's mode (train or eval) is left as it is; call ``model.eval()``
    first to leave dropout out.

    Args:
        model: A localizer with ``extract``, ``losses`` and ``loss_factors``
            (:class:`~wsal.models.localizers.base.BaseLocalizer`).
        inputs: As for ``model.extract``: ``{stream: FloatTensor[B, T, D]}``
            and optionally ``mask`` ``[B, T]``.
        data_samples: One per video, each with ``label`` (multi-hot ``[C]``).
        wrt: ``'logit'`` (default): the gradient on the attention's logit
            σ⁻¹(λ), i.e. ``∂L/∂λ · λ(1 − λ)``, for heads whose λ is a sigmoid
            (every attention head wsal ships); ``'attention'``: on λ itself.
        reduce: ``'rms'`` (default): the root mean square, the size of the
            push whatever its sign; ``'mean'``: the signed mean of the
            descent direction ``-B · T · ∂L/∂a_t``, positive where the term
            raises λ and negative where it lowers it (terms that push
            some frames up and others down partly cancel).
        frames: Optional BoolTensor ``[B, T]``: average over these of each
            video's valid frames only (a video with none of them gets NaN).

    Returns:
        dict: ``{stream: {term: FloatTensor[B]}}``, one value per video and
        term (every term of ``model.losses``; 0 for a term that does not
        reach that stream's λ).

    Raises:
        ValueError: unknown ``wrt``, a model without loss terms, or labels
            that do not fit (see ``model.loss``).
    """
    if wrt not in _WRT:
        raise ValueError(f'attention_term_gradients: wrt must be one of {_WRT}, got {wrt!r}')
    if reduce not in _REDUCE:
        raise ValueError(f'attention_term_gradients: reduce must be one of {_REDUCE}, '
                         f'got {reduce!r}')
    terms = getattr(model, 'losses', None)
    if not terms:
        raise ValueError(f'attention_term_gradients: {type(model).__name__} has no loss terms')
    # the batch's [B, T] from its first stream (the model's extract checks the streams)
    shape = next((tuple(v.shape[:2]) for k, v in inputs.items() if k != 'mask'), None)
    if frames is not None:
        frames = torch.as_tensor(frames)
        if frames.dtype != torch.bool or (shape is not None and tuple(frames.shape) != shape):
            raise ValueError(f'attention_term_gradients: frames must be a BoolTensor of the '
                             f'batch\'s shape {shape}, got {frames.dtype} '
                             f'{tuple(frames.shape)}')
    with torch.enable_grad():
        outputs = model.extract(inputs)
        mask = outputs['mask']
        labels = model.video_labels(data_samples, batch=mask.shape[0], device=mask.device)
        factors = model.loss_factors()
        streams = outputs['streams']
        names = list(streams)
        lams = [streams[n]['attention'] for n in names]
        valid = mask.to(lams[0].dtype)
        length = valid.sum(1).clamp(min=1)
        chosen = valid if frames is None else (frames.to(mask.device) & mask).to(valid.dtype)
        count = chosen.sum(1)
        batch = mask.shape[0]
        result: Dict[str, Dict[str, torch.Tensor]] = {n: {} for n in names}
        for term_name, term in terms.items():
            factor = factors.get(term_name, 1.0)
            total = None
            for stream_out in streams.values():
                values = term(stream_out, labels, mask)
                part = sum(values.values()) * factor
                total = part if total is None else total + part
            if not (torch.is_tensor(total) and total.requires_grad):
                grads = [None] * len(names)
            else:
                grads = torch.autograd.grad(total, lams, retain_graph=True, allow_unused=True)
            for n, lam, g in zip(names, lams, grads):
                if g is None:
                    result[n][term_name] = torch.where(count.cpu() > 0, 0.0, float('nan'))
                    continue
                lam = lam.detach()
                if wrt == 'logit':
                    g = g * lam * (1 - lam)
                g = g * (batch * length[:, None]) * chosen
                if reduce == 'rms':
                    value = (g.pow(2).sum(1) / count).sqrt()
                else:
                    value = -g.sum(1) / count
                result[n][term_name] = value.detach().cpu()
    return result


def _class_rows(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """``{name: weight}`` of the class rows: the last weight matrix of each classifier."""
    head = getattr(model, 'classifier', None)
    if not isinstance(head, nn.Module):
        raise ValueError(f'classifier_term_gradients: {type(model).__name__} has no classifier '
                         f'module')
    heads = dict(head.items()) if isinstance(head, nn.ModuleDict) else {'classifier': head}
    rows = {}
    for name, module in heads.items():
        weights = [p for key, p in module.named_parameters()
                   if key.split('.')[-1] == 'weight' and p.dim() >= 2]
        if not weights:
            raise ValueError(f'classifier_term_gradients: classifier {name!r} of '
                             f'{type(model).__name__} has no weight matrix')
        rows[name] = weights[-1]
    return rows


def classifier_term_gradients(model: torch.nn.Module, inputs: Mapping[str, torch.Tensor],
                              data_samples: Sequence) -> Dict[str, Dict[str, Dict[str, float]]]:
    """How each loss term moves the class rows: grows or shrinks them, and turns them.

    Each term's value as ``model.loss`` returns it (weighted, summed over the
    streams, the mean over the batch) is differentiated with respect to the
    class rows ``w_c`` of every classifier (the rows of its last weight
    matrix; one classifier per stream for the per-stream localizers). With
    ``g_c = ∂L/∂w_c`` and ``ŵ_c = w_c / ‖w_c‖``, a gradient-descent step
    ``-η g`` changes ``Σ_c ‖w_c‖`` at the rate ``η · radial`` and turns the
    rows by ``η · tangential``::

        radial = -Σ_c g_c · ŵ_c                 (positive: the term grows the rows)
        tangential = ‖g - (g_c · ŵ_c) ŵ_c‖      (Frobenius norm over the rows)

    A row of zero norm counts its whole gradient as radial (any step grows
    it). An optimizer that rescales the gradient per coordinate (Adam) takes
    other step sizes, so the values compare terms with each other, not with
    the step. L2 weight decay ``λ_wd`` added to the gradient (torch's Adam,
    the configs' form) has ``radial = -λ_wd Σ_c ‖w_c‖``.

    The model's mode is left as it is; call ``model.eval()`` first to leave
    dropout out.

    Args:
        model: A localizer with ``loss`` and a ``classifier`` module (or a
            ``ModuleDict`` of them, one per stream).
        inputs: As for ``model.loss``.
        data_samples: One per video, each with ``label`` (multi-hot ``[C]``).

    Returns:
        dict: ``{classifier: {loss key: {'radial': float, 'tangential':
        float}}}`` for every ``loss*`` key of ``model.loss`` (both 0 for a
        term that does not reach those rows).

    Raises:
        ValueError: a model without a classifier or without a weight matrix in it.
    """
    rows = _class_rows(model)
    params = list(rows.values())
    with torch.enable_grad():
        values = model.loss(inputs, data_samples)
        result: Dict[str, Dict[str, Dict[str, float]]] = {name: {} for name in rows}
        for key, value in values.items():
            if not key.startswith('loss'):
                continue
            if torch.is_tensor(value) and value.requires_grad:
                grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
            else:
                grads = [None] * len(params)
            for (name, weight), grad in zip(rows.items(), grads):
                if grad is None:
                    result[name][key] = {'radial': 0.0, 'tangential': 0.0}
                    continue
                w = weight.detach().flatten(1).double()
                g = grad.detach().flatten(1).double()
                norm = w.norm(dim=1, keepdim=True)
                live = norm > 0
                unit = torch.where(live, w / norm.clamp_min(1e-300), 0.0)
                along = (g * unit).sum(1, keepdim=True)
                # a zero row: its whole step grows it
                along = torch.where(live, along, -g.norm(dim=1, keepdim=True))
                turn = torch.where(live, g - along * unit, 0.0)
                result[name][key] = {'radial': float(-along.sum()),
                                     'tangential': float(turn.norm())}
    return result
