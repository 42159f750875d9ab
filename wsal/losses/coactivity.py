"""W-TALC's co-activity similarity loss (CASL) between videos that share a class."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from wsal.registry import LOSSES

from .base import LossTerm

__all__ = ['CoActivitySimilarityLoss']


@LOSSES.register_module()
class CoActivitySimilarityLoss(LossTerm):
    """CASL (Paul et al., ECCV 2018, eqs. 5-8).

    For every class ``j`` and video ``m``, the temporal softmax of the class
    activations ``â_t = softmax_t(A_tj)`` (over valid snippets) pools a
    high-attention feature ``H_m^j = Σ_t â_t X_t`` and a low-attention one
    ``L_m^j = Σ_t (1 - â_t) X_t / (T - 1)``. With ``d = 1 - cos``, every pair
    ``(m, n)`` of videos both labelled ``j`` contributes::

        ½ max(0, d(H_m, H_n) - d(H_m, L_n) + δ) + ½ max(0, d(H_m, H_n) - d(L_m, H_n) + δ)

    and the loss is the mean over all such (pair, class) combinations (the
    authors' normalisation; 0 when the batch has none: use a sampler that puts
    videos of a shared class together, ``ClassPairSampler``). Every pair of
    the batch is considered, not only consecutive ones.

    Args:
        weight: ``1 - λ`` of W-TALC's ``λ L_MIL + (1 - λ) L_CASL`` (0.5).
        margin: δ (0.5).
        feature_key: Stream-output key of the embeddings ``X [B, T, E]``.
        cas_key: Stream-output key of the activations ``A [B, T, C]``.
    """

    loss_name = 'loss_casl'

    def __init__(self, *, weight: float = 0.5, margin: float = 0.5,
                 feature_key: str = 'embedding', cas_key: str = 'cas_fg') -> None:
        super().__init__(weight=weight)
        self.margin = float(margin)
        self.feature_key, self.cas_key = feature_key, cas_key
        self.required_keys = (feature_key, cas_key)

    def compute(self, stream_out, labels, mask):
        x, cas = stream_out[self.feature_key], stream_out[self.cas_key]
        if cas.shape[-1] != labels.shape[-1]:
            raise ValueError(f"CoActivitySimilarityLoss: '{self.cas_key}' has {cas.shape[-1]} "
                             f'classes, labels {labels.shape[-1]}')
        m = mask.unsqueeze(-1)
        att = torch.softmax(cas.masked_fill(~m, float('-inf')), dim=1)       # [B, T, C]
        lengths = mask.sum(1).to(x.dtype).clamp(min=2)
        high = torch.einsum('btc,btd->bcd', att, x)                          # [B, C, E]
        low = torch.einsum('btc,btd->bcd', (1 - att) * m.to(x.dtype), x) / (lengths - 1)[:, None, None]
        present = labels > 0                                                 # [B, C]
        rows, cols = torch.triu_indices(x.shape[0], x.shape[0], offset=1, device=x.device)
        shared = present[rows] & present[cols]                               # [P, C]
        if not bool(shared.any()):
            return (x.sum() + cas.sum()) * 0.0  # no pair: zero, still in the graph
        hm, hn, lm, ln = high[rows], high[cols], low[rows], low[cols]
        d_hh = 1 - F.cosine_similarity(hm, hn, dim=-1)                       # [P, C]
        d_hl = 1 - F.cosine_similarity(hm, ln, dim=-1)
        d_lh = 1 - F.cosine_similarity(lm, hn, dim=-1)
        pair_loss = 0.5 * (torch.relu(d_hh - d_hl + self.margin)
                           + torch.relu(d_hh - d_lh + self.margin))          # [P, C]
        w = shared.to(x.dtype)
        return (pair_loss * w).sum() / w.sum()

    def extra_repr(self) -> str:
        return f'weight={self.weight}, margin={self.margin}'
