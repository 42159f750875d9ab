"""CoLA's snippet contrastive (SniCo) loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from wsal.registry import LOSSES

from .base import LossTerm

__all__ = ['SnippetContrastLoss', 'info_nce']


def info_nce(query: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor,
             negative_mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE per row, with the vectors L2-normalised.

    ``-log exp(q·k⁺/τ) / (exp(q·k⁺/τ) + Σ_n exp(q·k_n/τ))``.

    Args:
        query: ``[B, E]``.
        positive: ``[B, E]``.
        negatives: ``[B, N, E]``.
        negative_mask: BoolTensor ``[B, N]``, False on padding negatives.
        temperature: τ.

    Returns:
        Tensor ``[B]``.
    """
    q, k = F.normalize(query, dim=-1), F.normalize(positive, dim=-1)
    neg = F.normalize(negatives, dim=-1)
    pos_logit = (q * k).sum(-1, keepdim=True)
    neg_logit = torch.einsum('be,bne->bn', q, neg).masked_fill(~negative_mask, float('-inf'))
    logits = torch.cat([pos_logit, neg_logit], dim=1) / temperature
    return -torch.log_softmax(logits, dim=1)[:, 0]


def _mean_of(x: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    w = select.to(x.dtype)
    return torch.einsum('bt,btd->bd', w, x) / w.sum(1, keepdim=True).clamp(min=1)


@LOSSES.register_module()
class SnippetContrastLoss(LossTerm):
    """SniCo (Zhang et al., CVPR 2021, eq. 6): hard snippets are pulled to their easy kind.

    With the mined sets of ``CoLAHead`` (``snippets``: ``EA``, ``EB``, ``HA``,
    ``HB``) over the embeddings ``X``::

        L = NCE(mean X[HA], mean X[EA], X[EB]) + NCE(mean X[HB], mean X[EB], X[EA])

    where ``NCE(q, k⁺, {k⁻})`` is :func:`info_nce` with temperature τ, each
    easy snippet of the other kind a negative. Mean over the videos whose
    hard set is not empty (0 when none is).

    Args:
        weight: λ (CoLA: 0.01).
        temperature: τ (0.07).
    """

    loss_name = 'loss_snico'
    required_keys = ('embedding', 'snippets')

    def __init__(self, *, weight: float = 0.01, temperature: float = 0.07) -> None:
        super().__init__(weight=weight)
        if temperature <= 0:
            raise ValueError(f'SnippetContrastLoss: temperature must be positive, got {temperature}')
        self.temperature = float(temperature)

    def _term(self, x, query_sel, pos_sel, neg_sel):
        valid = query_sel.any(1) & pos_sel.any(1) & neg_sel.any(1)
        if not bool(valid.any()):
            return x.new_zeros(())
        loss = info_nce(_mean_of(x, query_sel), _mean_of(x, pos_sel), x, neg_sel,
                        self.temperature)
        return loss[valid].mean()

    def compute(self, stream_out, labels, mask):
        x, s = stream_out['embedding'], stream_out['snippets']
        missing = [k for k in ('EA', 'EB', 'HA', 'HB') if k not in s]
        if missing:
            raise KeyError(f'SnippetContrastLoss: snippets lack {missing}')
        return (self._term(x, s['HA'], s['EA'], s['EB'])
                + self._term(x, s['HB'], s['EB'], s['EA']))

    def extra_repr(self) -> str:
        return f'weight={self.weight}, temperature={self.temperature}'
