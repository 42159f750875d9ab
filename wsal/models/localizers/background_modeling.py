"""STPN and the background-modeling localizer: attention + pooling + classifier (+ clustering)."""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch

from wsal.registry import MODELS
from wsal.utils.ranges import check_choice

from ..temporal_ops import minmax_normalize
from .base import StreamLocalizer

__all__ = ['WeaklySupervisedLocalizer']


def _default_losses() -> dict:
    """Eq. 11 with α = β = γ = 0.1 (the paper's full model)."""
    return dict(fg=dict(type='ForegroundLoss', weight=1.0),
                bg=dict(type='BackgroundLoss', weight=0.1),
                guide=dict(type='SelfGuideLoss', weight=0.1),
                cluster=dict(type='ClusterLoss', weight=0.1),
                sparsity=None)


@MODELS.register_module()
class WeaklySupervisedLocalizer(StreamLocalizer):
    """Background-modeling localizer (Nguyen et al., ICCV 2019) and STPN, by config.

    Each model stream has its own attention head Ω, pooling, classifier ``w``
    (C+1 classes, background at index 0) and clustering head ``u``. The
    proposal attention is the plain mean of the streams' λ and the video
    scores the θ-weighted mean of their foreground probabilities (section
    3.2). STPN is the same model with ``L_fg + β L_sparsity``.

    Sub-components (``embedding``, ``attention``, ``pooling``, ``classifier``,
    ``cluster_head``) are each a config dict (built once per stream, with
    ``in_channels`` and, for classifiers, ``num_classes`` filled in), a built
    ``nn.Module`` (single-stream models only), or a dict mapping every stream
    name to a config or module.

    Args:
        num_classes: Number of foreground classes ``C``.
        streams: ``{name: in_channels}`` of the input streams (default
            ``dict(rgb=1024, flow=1024)``).
        fusion: ``'late'`` (a model per stream) or ``'early'`` (stream ``'fused'``).
        stream_weights: θ per model stream; None gives equal weights.
        attention: Attention head (default ``MLPAttention``).
        pooling: Pooling scheme (default ``AttentionAvgPool``).
        classifier: Classifier (default ``LinearClassifier``).
        embedding: Optional per-frame embedding of the classification path
            (default None: the classifier reads the features, as printed;
            e.g. ``dict(type='ConvEmbedding', out_channels=512,
            kernel_size=1, dropout=0.7)``). Built with the stream's
            ``in_channels``; the pools, the classifier and the clustering
            head then read ``embedding(x) [B, T, E]`` (built with its
            ``out_channels``), while the attention still reads the features.
        cluster_head: Clustering head (default ``ClusterHead``). Built only
            when a loss term may read cluster logits (a term without
            ``required_keys``, or one listing ``cluster_*`` keys), so that no
            parameter goes without gradient (DDP requires that).
        cluster_pooling: Pooling whose fg/bg features the clustering head
            reads (default None: the same pools as the classifier, eqs. 8-9
            as printed). Built only with the clustering head.
        actionness: Optional class-agnostic actionness per stream (default
            None: none; ``dict(type='MagnitudeActionness')``: UM's feature
            magnitude, see :class:`~wsal.models.MagnitudeActionness`), built
            like ``attention``. Its outputs (``magnitude [B, T]``,
            ``magnitude_act_feature`` / ``magnitude_bg_feature [B, E]``) join
            the stream's output, for ``FeatureMagnitudeLoss`` and
            ``ActionnessGuideLoss``.
        actionness_ranking: Which magnitudes pick each stream's pseudo action
            and background segments: ``'stream'`` (its own, UM's rule) or
            ``'mean'`` (the streams' mean of their magnitudes, each rescaled
            to the video's range and detached: one choice for all streams,
            since an action happens at the same time in every stream).
        actionness_in_proposals: With an actionness, the model's proposal
            attention (``attention`` of :meth:`extract`) is the streams' mean λ
            times the streams' mean actionness, each rescaled to the video's
            range, instead of the mean λ. The streams' own ``attention`` (λ,
            what the loss terms read) is unchanged.
        video_score: The video-level class scores used to select a video's
            classes: ``'softmax'`` (eq. 2 as printed, the background class in
            the denominator) or ``'foreground'`` (softmax over the ``C``
            foreground logits: which action, given that the pool holds one).
        losses: ``{name: loss config | built module | None}``; None: eq. 11
            with α = β = γ = 0.1.
        loss_warmup: ``{term: length}`` linear ramps of terms over a share
            (up to 1) or a number (2 or more) of the run's first iterations
            (see :class:`StreamLocalizer`).
        input_norm: Normalisation of each input stream's features, e.g.
            ``dict(type='FeatureStandardizer')``; None: features as stored
            (see :class:`StreamLocalizer`).
        test_cfg: Post-processor config or object used by :meth:`predict`.
        data_preprocessor: mmengine data preprocessor.
        init_cfg: mmengine initialisation config.

    Example:
        >>> model = WeaklySupervisedLocalizer(num_classes=3, streams=dict(rgb=8, flow=8))
        >>> out = model.extract({'rgb': torch.randn(2, 6, 8), 'flow': torch.randn(2, 6, 8)})
        >>> out['streams']['rgb']['tcam'].shape
        torch.Size([2, 6, 4])
    """

    VIDEO_SCORES = ('softmax', 'foreground')
    OPTIONAL_PARTS = StreamLocalizer.OPTIONAL_PARTS + ('embedding', 'actionness')

    def __init__(self, *, num_classes: int, streams: Optional[Mapping[str, int]] = None,
                 fusion: str = 'late', stream_weights: Optional[Mapping[str, float]] = None,
                 attention: Any = None, pooling: Any = None, classifier: Any = None,
                 embedding: Any = None, cluster_head: Any = None, cluster_pooling: Any = None,
                 actionness: Any = None, actionness_ranking: str = 'stream',
                 actionness_in_proposals: bool = False, video_score: str = 'softmax',
                 losses: Optional[Mapping[str, Any]] = None,
                 loss_warmup: Optional[Mapping[str, float]] = None, input_norm: Any = None,
                 test_cfg: Any = None, data_preprocessor: Any = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_classes=num_classes, streams=streams, fusion=fusion,
                         stream_weights=stream_weights,
                         losses=_default_losses() if losses is None else losses,
                         loss_warmup=loss_warmup, input_norm=input_norm, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        attention = dict(type='MLPAttention') if attention is None else attention
        pooling = dict(type='AttentionAvgPool') if pooling is None else pooling
        self.video_score = check_choice(video_score, owner='WeaklySupervisedLocalizer',
                                        key='video_score', choices=self.VIDEO_SCORES)
        classifier = dict(type='LinearClassifier') if classifier is None else classifier
        cluster_head = dict(type='ClusterHead') if cluster_head is None else cluster_head
        self.attention = self.build_per_stream(attention, 'attention', with_dim=True)
        self.pooling = self.build_per_stream(pooling, 'pooling', with_dim=False)
        self.embedding = (self.build_per_stream(embedding, 'embedding', with_dim=True)
                          if embedding is not None else None)
        class_dims = None            # what the classifier and the clustering head read
        if self.embedding is not None:
            class_dims = {}
            for name, module in self.embedding.items():
                out_channels = getattr(module, 'out_channels', None)
                if not isinstance(out_channels, int) or out_channels <= 0:
                    raise ValueError(f"WeaklySupervisedLocalizer: embedding for stream '{name}' "
                                     f'({type(module).__name__}) must have a positive int '
                                     f'out_channels, got {out_channels!r}')
                class_dims[name] = out_channels
        self.classifier = self.build_per_stream(classifier, 'classifier', with_dim=True,
                                                extra=dict(num_classes=num_classes),
                                                dims=class_dims)
        # Parameters that never receive a gradient break DDP, so the clustering
        # head exists only when some loss term may read its logits: terms that
        # declare ``required_keys`` without them (fg, bg, guide, sparsity) don't.
        needs_cluster = any(
            getattr(term, 'required_keys', None) is None
            or any(k.startswith('cluster_') for k in term.required_keys)
            for term in self.losses.values())
        self.cluster_head = (self.build_per_stream(cluster_head, 'cluster_head', with_dim=True,
                                                   dims=class_dims)
                             if needs_cluster else None)
        self.cluster_pooling = (self.build_per_stream(cluster_pooling, 'cluster_pooling',
                                                      with_dim=False)
                                if needs_cluster and cluster_pooling is not None else None)
        self.actionness = (self.build_per_stream(actionness, 'actionness', with_dim=True)
                           if actionness is not None else None)
        if actionness_ranking not in ('stream', 'mean'):
            raise ValueError(f"WeaklySupervisedLocalizer: actionness_ranking must be 'stream' "
                             f"or 'mean', got {actionness_ranking!r}")
        self.actionness_ranking = actionness_ranking
        if actionness_in_proposals and actionness is None:
            raise ValueError('WeaklySupervisedLocalizer: actionness_in_proposals needs an '
                             "actionness (e.g. actionness=dict(type='MagnitudeActionness'))")
        self.actionness_in_proposals = bool(actionness_in_proposals)

    def extend_outputs(self, out: dict, feats: Mapping[str, torch.Tensor]) -> None:
        """Each stream's actionness outputs and, if asked, the proposal attention with it."""
        if self.actionness is None:
            return
        mask = out['mask']
        embedded = {name: self.actionness[name].embed(x, mask) for name, x in feats.items()}
        rescaled = None          # the streams' mean actionness, each rescaled per video
        if self.actionness_ranking == 'mean' or self.actionness_in_proposals:
            rescaled = torch.stack([minmax_normalize(m, mask)
                                    for _, m in embedded.values()]).mean(0)
        if self.actionness_ranking == 'mean':
            shared = next(iter(self.actionness.values())).pseudo_segments(rescaled.detach(), mask)
        for name, (h, magnitude) in embedded.items():
            segments = (shared if self.actionness_ranking == 'mean'
                        else self.actionness[name].pseudo_segments(magnitude, mask))
            out['streams'][name].update(self.actionness[name].outputs(h, magnitude, *segments))
        if self.actionness_in_proposals:
            out['attention'] = (minmax_normalize(out['attention'], mask)
                                * minmax_normalize(rescaled, mask))

    def run_stream(self, name: str, x: torch.Tensor, mask: torch.Tensor) -> dict:
        """Attention, T-CAM, pooled fg/bg features and their logits of one stream.

        Returns:
            dict: ``attention [B, T]``, ``cas``/``tcam [B, T, C+1]``,
            ``fg_feature``/``bg_feature [B, D]`` (``[B, E]`` with an
            embedding), ``fg_logits``/``bg_logits [B, C+1]`` and, with a
            clustering head, ``cluster_fg_logits``/``cluster_bg_logits
            [B, 2]``. :meth:`extend_outputs` adds the actionness outputs.
        """
        classifier = self.classifier[name]
        lam = self.attention[name](x, mask)
        lam = lam * mask.to(lam.dtype)
        h = x if self.embedding is None else self.embedding[name](x, mask)
        cas = classifier(h)
        fg, bg = self.pooling[name](h, lam, mask)
        out = {'attention': lam, 'cas': cas, 'tcam': torch.softmax(cas, dim=-1),
               'fg_feature': fg, 'bg_feature': bg,
               'fg_logits': classifier(fg), 'bg_logits': classifier(bg)}
        if self.cluster_head is not None:
            if self.cluster_pooling is not None:
                fg, bg = self.cluster_pooling[name](h, lam, mask)
            out['cluster_fg_logits'] = self.cluster_head[name](fg)
            out['cluster_bg_logits'] = self.cluster_head[name](bg)
        return out

    def stream_video_scores(self, stream_out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The foreground classes' probabilities ``[B, C]``.

        ``softmax(fg_logits)[:, 1:]`` (``'softmax'``) or
        ``softmax(fg_logits[:, 1:])`` (``'foreground'``).
        """
        if self.video_score == 'foreground':
            return torch.softmax(stream_out['fg_logits'][:, 1:], -1)
        return torch.softmax(stream_out['fg_logits'], -1)[:, 1:]
