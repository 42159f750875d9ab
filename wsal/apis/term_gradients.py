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
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import torch

__all__ = ['attention_term_gradients']

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
