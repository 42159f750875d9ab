"""A frozen copy of the single-class localizer as it was before methods became sets of parts.

Reference only: the equivalence test builds it next to the registered
``WeaklySupervisedLocalizer`` with the same seed and compares parameters,
outputs and losses. Not registered, never imported by the library.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModel

from wsal.registry import LOSSES, MODELS, POSTPROCESSORS, build_component

from wsal.models._utils import as_mask

FUSED = 'fused'
PASS_THROUGH = ('label', 'gt_segments', 'gt_labels', 'duration', 'seconds_per_segment')


def _default_losses() -> dict:
    """Eq. 11 with α = β = γ = 0.1 (the paper's full model)."""
    return dict(fg=dict(type='ForegroundLoss', weight=1.0),
                bg=dict(type='BackgroundLoss', weight=0.1),
                guide=dict(type='SelfGuideLoss', weight=0.1),
                cluster=dict(type='ClusterLoss', weight=0.1),
                sparsity=None)


def _sample_get(sample: Any, key: str, default: Any = None) -> Any:
    if isinstance(sample, Mapping):
        return sample.get(key, default)
    return getattr(sample, key, default)


class FrozenLocalizer(BaseModel):
    """Background-modeling localizer (Nguyen et al., ICCV 2019) and STPN, by config.

    Each stream (``rgb`` and ``flow`` with ``fusion='late'``, or one stream
    ``'fused'`` over the concatenated features with ``fusion='early'``) has its
    own attention head Ω, pooling, classifier ``w`` (C+1 classes, background
    at index 0) and clustering head ``u``. The loss terms are applied to each
    stream and summed over streams; the proposal attention is the plain mean
    of the streams' λ and the video scores the θ-weighted mean of their
    foreground probabilities (section 3.2).

    Sub-components (``attention``, ``pooling``, ``classifier``,
    ``cluster_head``) are each a config dict (built once per stream, with
    ``in_channels`` and, for classifiers, ``num_classes`` filled in), a built
    ``nn.Module`` (single-stream models only), or a dict mapping every stream
    name to a config or module.

    Args:
        num_classes: Number of foreground classes ``C``.
        streams: ``{name: in_channels}`` of the input streams, in the order
            they are concatenated for early fusion. Default
            ``dict(rgb=1024, flow=1024)`` (two-stream I3D).
        fusion: ``'late'`` (a model per stream) or ``'early'`` (one model over
            the concatenated features, stream ``'fused'``).
        stream_weights: θ per model stream (non-negative, normalised to sum
            1); None gives equal weights.
        attention: Attention head (default ``MLPAttention``).
        pooling: Pooling scheme (default ``AttentionAvgPool``).
        classifier: Classifier (default ``LinearClassifier``).
        cluster_head: Clustering head (default ``ClusterHead``). Built only
            when a loss term may read cluster logits (a term without
            ``required_keys``, or one listing ``cluster_*`` keys), so that no
            parameter goes without gradient (DDP requires that).
        losses: ``{name: loss config | built module | None}``; None entries
            are switched off. None: eq. 11 with α = β = γ = 0.1.
        test_cfg: Post-processor (``POSTPROCESSORS``) config or object used by
            :meth:`predict`, called as ``postprocessor(outputs, data_samples)``.
        data_preprocessor: mmengine data preprocessor (None: moves data to
            the model's device).
        init_cfg: mmengine initialisation config.

    Example:
        >>> model = WeaklySupervisedLocalizer(num_classes=3, streams=dict(rgb=8, flow=8))
        >>> out = model.extract({'rgb': torch.randn(2, 6, 8), 'flow': torch.randn(2, 6, 8)})
        >>> out['streams']['rgb']['tcam'].shape
        torch.Size([2, 6, 4])
    """

    def __init__(self, *, num_classes: int, streams: Optional[Mapping[str, int]] = None,
                 fusion: str = 'late', stream_weights: Optional[Mapping[str, float]] = None,
                 attention: Any = None, pooling: Any = None, classifier: Any = None,
                 cluster_head: Any = None, losses: Optional[Mapping[str, Any]] = None,
                 test_cfg: Any = None, data_preprocessor: Any = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f'WeaklySupervisedLocalizer: num_classes must be a positive int, '
                             f'got {num_classes!r}')
        self.num_classes = num_classes
        streams = dict(rgb=1024, flow=1024) if streams is None else dict(streams)
        if not streams:
            raise ValueError('WeaklySupervisedLocalizer: streams must name at least one input '
                             'stream, e.g. dict(rgb=1024, flow=1024)')
        for name, dim in streams.items():
            if not isinstance(dim, int) or dim <= 0:
                raise ValueError(f"WeaklySupervisedLocalizer: streams['{name}'] must be a "
                                 f'positive int (its feature dimension), got {dim!r}')
            if name in (FUSED, 'mask'):
                raise ValueError(f"WeaklySupervisedLocalizer: '{name}' is reserved and "
                                 'cannot name an input stream')
        if fusion not in ('late', 'early'):
            raise ValueError(f"WeaklySupervisedLocalizer: fusion must be 'late' or 'early', "
                             f"got '{fusion}'")
        self.fusion = fusion
        self.input_streams: Dict[str, int] = streams
        if fusion == 'early':
            self.model_streams: Dict[str, int] = {FUSED: sum(streams.values())}
        else:
            self.model_streams = dict(streams)
        self.stream_weights = self._normalise_weights(stream_weights)

        losses = _default_losses() if losses is None else dict(losses)
        self.losses = nn.ModuleDict()
        for name, cfg in losses.items():
            term = build_component(cfg, LOSSES)
            if term is None:
                continue
            if not callable(term):
                raise TypeError(f"WeaklySupervisedLocalizer: losses['{name}'] must be a loss "
                                f'config dict, a built loss module or None, got '
                                f'{type(term).__name__}')
            self.losses[name] = term
        if len(self.losses) == 0:
            raise ValueError('WeaklySupervisedLocalizer: every loss term is switched off; '
                             "enable at least one, e.g. losses=dict(fg=dict(type='ForegroundLoss'))")

        attention = dict(type='MLPAttention') if attention is None else attention
        pooling = dict(type='AttentionAvgPool') if pooling is None else pooling
        classifier = dict(type='LinearClassifier') if classifier is None else classifier
        cluster_head = dict(type='ClusterHead') if cluster_head is None else cluster_head
        self.attention = self._build_per_stream(attention, 'attention', with_dim=True)
        self.pooling = self._build_per_stream(pooling, 'pooling', with_dim=False)
        self.classifier = self._build_per_stream(classifier, 'classifier', with_dim=True,
                                                 extra=dict(num_classes=num_classes))
        # Parameters that never receive a gradient break DDP, so the clustering
        # head exists only when some loss term may read its logits: terms that
        # declare ``required_keys`` without them (fg, bg, guide, sparsity) don't.
        needs_cluster = any(
            getattr(term, 'required_keys', None) is None
            or any(k.startswith('cluster_') for k in term.required_keys)
            for term in self.losses.values())
        self.cluster_head = (self._build_per_stream(cluster_head, 'cluster_head', with_dim=True)
                             if needs_cluster else None)
        self.test_cfg = test_cfg
        self.postprocessor = build_component(test_cfg, POSTPROCESSORS)

    # ------------------------------------------------------------------ build
    def _normalise_weights(self, weights: Optional[Mapping[str, float]]) -> Dict[str, float]:
        names = list(self.model_streams)
        if weights is None:
            return {n: 1.0 / len(names) for n in names}
        weights = dict(weights)
        if set(weights) != set(names):
            hint = (" (early fusion has the single stream 'fused'; set stream_weights=None)"
                    if self.fusion == 'early' else '')
            raise ValueError(f'WeaklySupervisedLocalizer: stream_weights keys {sorted(weights)} '
                             f'must match the model streams {names}{hint}')
        if any(float(w) < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f'WeaklySupervisedLocalizer: stream_weights must be non-negative '
                             f'with a positive sum, got {weights}')
        total = float(sum(weights.values()))
        return {n: float(weights[n]) / total for n in names}

    def _build_per_stream(self, spec: Any, what: str, *, with_dim: bool,
                          extra: Optional[dict] = None) -> nn.ModuleDict:
        names = list(self.model_streams)
        is_cfg = isinstance(spec, Mapping) and 'type' in spec
        if isinstance(spec, Mapping) and not is_cfg:
            if set(spec) != set(names):
                raise ValueError(f'WeaklySupervisedLocalizer: {what} is a per-stream dict with '
                                 f'keys {sorted(spec)}, expected exactly the model streams '
                                 f'{names} (or give one config with a "type" key)')
            per_stream = dict(spec)
        elif isinstance(spec, nn.Module):
            if len(names) != 1:
                raise ValueError(f'WeaklySupervisedLocalizer: {what} is a built module but the '
                                 f'model has {len(names)} streams {names}; pass a config dict '
                                 f'(built per stream) or a dict {{stream: module}}')
            per_stream = {names[0]: spec}
        elif is_cfg:
            per_stream = {n: spec for n in names}
        else:
            raise TypeError(f'WeaklySupervisedLocalizer: {what} must be a config dict with a '
                            f"'type' key, a built nn.Module or a per-stream dict, got "
                            f'{type(spec).__name__}')
        out = nn.ModuleDict()
        for name, item in per_stream.items():
            defaults = dict(extra or {})
            if with_dim:
                defaults['in_channels'] = self.model_streams[name]
            module = build_component(item, MODELS, default_args=defaults or None)
            if not isinstance(module, nn.Module):
                raise TypeError(f"WeaklySupervisedLocalizer: {what} for stream '{name}' must "
                                f'build an nn.Module, got {type(module).__name__}')
            dim = getattr(module, 'in_channels', None)
            if with_dim and dim is not None and dim != self.model_streams[name]:
                raise ValueError(f"WeaklySupervisedLocalizer: {what} for stream '{name}' has "
                                 f'in_channels={dim} but the stream has '
                                 f'{self.model_streams[name]} channels')
            out[name] = module
        return out

    # ----------------------------------------------------------------- tensor
    def _stream_inputs(self, inputs: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        if not isinstance(inputs, Mapping):
            raise TypeError('WeaklySupervisedLocalizer: inputs must be a dict '
                            f"{{stream: [B, T, D], 'mask': [B, T]}}, got {type(inputs).__name__}")
        feats = {}
        for name, dim in self.input_streams.items():
            if name not in inputs:
                raise KeyError(f"WeaklySupervisedLocalizer: input stream '{name}' is missing; "
                               f'inputs have keys {sorted(inputs)}')
            x = inputs[name]
            if not torch.is_tensor(x) or x.dim() != 3:
                shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
                raise ValueError(f"WeaklySupervisedLocalizer: stream '{name}' must be a "
                                 f'[B, T, D] tensor, got {shape}')
            if x.shape[-1] != dim:
                raise ValueError(f"WeaklySupervisedLocalizer: stream '{name}' expected feature "
                                 f'dim {dim}, got {x.shape[-1]} (input shape {tuple(x.shape)})')
            feats[name] = x
        shapes = {n: tuple(x.shape[:2]) for n, x in feats.items()}
        if len(set(shapes.values())) > 1:
            raise ValueError(f'WeaklySupervisedLocalizer: streams disagree on [B, T]: {shapes}')
        if self.fusion == 'early':
            feats = {FUSED: torch.cat([feats[n] for n in self.input_streams], dim=-1)}
        return feats

    def _run_stream(self, name: str, x: torch.Tensor, mask: torch.Tensor) -> dict:
        classifier = self.classifier[name]
        lam = self.attention[name](x, mask)
        lam = lam * mask.to(lam.dtype)
        cas = classifier(x)
        fg, bg = self.pooling[name](x, lam, mask)
        out = {'attention': lam, 'cas': cas, 'tcam': torch.softmax(cas, dim=-1),
               'fg_feature': fg, 'bg_feature': bg,
               'fg_logits': classifier(fg), 'bg_logits': classifier(bg)}
        if self.cluster_head is not None:
            out['cluster_fg_logits'] = self.cluster_head[name](fg)
            out['cluster_bg_logits'] = self.cluster_head[name](bg)
        return out

    def extract(self, inputs: Mapping[str, torch.Tensor]) -> dict:
        """Tensor path: per-stream attention, T-CAM and logits (docs/design.md).

        Args:
            inputs: ``{stream: FloatTensor[B, T, D_stream], 'mask': BoolTensor[B, T]}``
                (``mask`` optional: all segments valid).

        Returns:
            dict: ``streams`` (per stream: ``attention [B, T]``, ``cas``/``tcam
            [B, T, C+1]``, ``fg_feature``/``bg_feature [B, D]``,
            ``fg_logits``/``bg_logits [B, C+1]``, ``cluster_fg_logits``/
            ``cluster_bg_logits [B, 2]``), ``stream_weights``, ``attention
            [B, T]`` (mean of the streams' λ), ``video_scores [B, C]`` and
            ``mask [B, T]``.
        """
        feats = self._stream_inputs(inputs)
        first = next(iter(feats.values()))
        mask = as_mask(inputs.get('mask'), first)
        streams = {name: self._run_stream(name, x, mask) for name, x in feats.items()}
        attention = torch.stack([s['attention'] for s in streams.values()]).mean(0)
        video_scores = sum(self.stream_weights[n] * torch.softmax(s['fg_logits'], -1)[:, 1:]
                           for n, s in streams.items())
        return {'streams': streams, 'stream_weights': dict(self.stream_weights),
                'attention': attention, 'video_scores': video_scores, 'mask': mask}

    def forward(self, inputs: Mapping[str, torch.Tensor], data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """mmengine adapter: ``'tensor'`` -> :meth:`extract`, ``'loss'`` -> :meth:`loss`,
        ``'predict'`` -> :meth:`predict`."""
        if mode == 'tensor':
            return self.extract(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"WeaklySupervisedLocalizer: unknown mode '{mode}'; "
                         "use 'tensor', 'loss' or 'predict'")

    # ------------------------------------------------------------------- loss
    def _labels(self, data_samples: Optional[Sequence], batch: int,
                device: torch.device) -> torch.Tensor:
        if data_samples is None:
            raise ValueError('WeaklySupervisedLocalizer.loss needs data_samples with a '
                             "video-level 'label' (multi-hot [C]) each")
        if len(data_samples) != batch:
            raise ValueError(f'WeaklySupervisedLocalizer: {len(data_samples)} data samples for '
                             f'a batch of {batch} videos')
        rows = []
        for i, sample in enumerate(data_samples):
            label = _sample_get(sample, 'label')
            vid = _sample_get(sample, 'video_id', f'#{i}')
            if label is None:
                raise KeyError(f"WeaklySupervisedLocalizer: data sample of video '{vid}' has "
                               "no 'label'")
            label = torch.as_tensor(label, dtype=torch.float32)
            if label.shape != (self.num_classes,):
                raise ValueError(f"WeaklySupervisedLocalizer: label of video '{vid}' has shape "
                                 f'{tuple(label.shape)}, expected ({self.num_classes},) '
                                 f'(num_classes={self.num_classes})')
            rows.append(label)
        return torch.stack(rows).to(device)

    def loss(self, inputs: Mapping[str, torch.Tensor], data_samples: Sequence) -> Dict[str, torch.Tensor]:
        """Loss path: every term, summed over streams, already weighted.

        Args:
            inputs: As for :meth:`extract`.
            data_samples: One per video, each with ``label`` (multi-hot ``[C]``).

        Returns:
            dict[str, Tensor]: scalar terms keyed ``loss_*``.
        """
        outputs = self.extract(inputs)
        mask = outputs['mask']
        labels = self._labels(data_samples, mask.shape[0], mask.device)
        totals: Dict[str, torch.Tensor] = {}
        owner: Dict[str, str] = {}
        for term_name, term in self.losses.items():
            for stream_out in outputs['streams'].values():
                result = term(stream_out, labels, mask)
                if not isinstance(result, Mapping):
                    raise TypeError(f"loss term '{term_name}' ({type(term).__name__}) must "
                                    f'return a dict of named terms, got {type(result).__name__}')
                for key, value in result.items():
                    if not key.startswith('loss_'):
                        raise ValueError(f"loss term '{term_name}' returned key '{key}'; "
                                         "keys must start with 'loss_'")
                    if owner.setdefault(key, term_name) != term_name:
                        raise ValueError(f"loss terms '{owner[key]}' and '{term_name}' both "
                                         f"return '{key}'")
                    totals[key] = totals[key] + value if key in totals else value
        return totals

    # ---------------------------------------------------------------- predict
    def predict(self, inputs: Mapping[str, torch.Tensor], data_samples: Sequence) -> List[dict]:
        """Detections per video, via the post-processor built from ``test_cfg``.

        Args:
            inputs: As for :meth:`extract`.
            data_samples: One dict per video (``video_id``, ``num_segments``,
                ``seconds_per_segment``, ...).

        Returns:
            list[dict]: per video ``video_id``, ``detections`` (``segments [N, 2]``
            seconds, ``scores [N]``, ``labels [N]`` in 0..C-1), ``video_scores
            [C]``, ``attention [T]``, ``stream_attention {name: [T]}`` (trimmed
            to the video's length, on CPU) and the pass-through fields
            ``label``, ``gt_segments``, ``gt_labels``, ``duration``,
            ``seconds_per_segment`` where the sample has them.
        """
        if self.postprocessor is None:
            raise RuntimeError('WeaklySupervisedLocalizer.predict: the model was built without '
                               "test_cfg; set model.test_cfg to a post-processor config (e.g. "
                               "dict(type='DetectionPipeline', ...)) to produce detections")
        outputs = self.extract(inputs)
        mask = outputs['mask']
        if data_samples is None or len(data_samples) != mask.shape[0]:
            raise ValueError(f'WeaklySupervisedLocalizer.predict needs one data sample per '
                             f'video ({mask.shape[0]}), got '
                             f'{None if data_samples is None else len(data_samples)}')
        detections = self.postprocessor(outputs, data_samples)
        if len(detections) != len(data_samples):
            raise ValueError(f'post-processor {type(self.postprocessor).__name__} returned '
                             f'{len(detections)} results for {len(data_samples)} videos')
        results = []
        lengths = mask.sum(1).tolist()
        for i, (sample, det) in enumerate(zip(data_samples, detections)):
            n = int(_sample_get(sample, 'num_segments', lengths[i]) or lengths[i])
            item = {
                'video_id': _sample_get(sample, 'video_id', str(i)),
                'detections': {k: (v.detach().cpu() if torch.is_tensor(v) else v)
                               for k, v in det.items()},
                'video_scores': outputs['video_scores'][i].detach().cpu(),
                'attention': outputs['attention'][i, :n].detach().cpu(),
                'stream_attention': {name: s['attention'][i, :n].detach().cpu()
                                     for name, s in outputs['streams'].items()},
            }
            for key in PASS_THROUGH:
                value = _sample_get(sample, key)
                if value is not None:
                    item[key] = value.detach().cpu() if torch.is_tensor(value) else value
            results.append(item)
        return results
