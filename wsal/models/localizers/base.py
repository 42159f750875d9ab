"""What every localizer shares: input streams, fusion, the loss dict, predict.

A method is a :class:`StreamLocalizer` subclass that says how one stream's
features become that stream's outputs (:meth:`StreamLocalizer.run_stream`)
and its video-level class probabilities
(:meth:`StreamLocalizer.stream_video_scores`); everything else (input
checks, early/late fusion, θ-weighting of the streams, applying every named
loss term to every stream, post-processing) lives here once.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModel

from wsal.registry import LOSSES, MODELS, POSTPROCESSORS, build_component

from .._utils import as_mask
from ..input_norm import FeatureMoments, dataset_frames

FUSED = 'fused'
PASS_THROUGH = ('label', 'gt_segments', 'gt_labels', 'duration', 'seconds_per_segment')

__all__ = ['StreamLocalizer', 'FUSED', 'PASS_THROUGH', 'INPUT_ORDER_KEY', 'sample_get',
           'encode_names', 'decode_names']

INPUT_ORDER_KEY = 'input_order'


def encode_names(names: Sequence[str]) -> torch.Tensor:
    """Stream names as a ``uint8`` tensor (UTF-8, one newline between names)."""
    return torch.tensor(list('\n'.join(names).encode('utf-8')), dtype=torch.uint8)


def decode_names(code: torch.Tensor) -> List[str]:
    """Inverse of :func:`encode_names`."""
    return bytes(code.detach().cpu().to(torch.uint8).tolist()).decode('utf-8').split('\n')


def _adopt_input_order(module, state_dict, prefix, local_metadata, strict, missing_keys,
                       unexpected_keys, error_msgs) -> None:
    """Load pre-hook of early-fusion localizers: concatenate as the weights were trained.

    A state dict that records its stream order sets the module's order (the
    streams must be the same). One that does not (written before the order
    was recorded) keeps the config's order, with a warning.
    """
    key = prefix + INPUT_ORDER_KEY
    mine = list(module.input_streams)
    if key not in state_dict:
        warnings.warn(
            f'{type(module).__name__}: the state dict does not record the order in which its '
            f'early-fusion weights saw the streams; concatenating them in the config\'s order '
            f'({", ".join(mine)}). It must be the order of the config the model was trained '
            'with: the copy of a config in a work dir lists the streams alphabetically.',
            stacklevel=2)
        state_dict[key] = module.input_order.detach().clone()
        return
    try:
        saved = decode_names(state_dict[key])
    except (TypeError, ValueError, UnicodeDecodeError):
        error_msgs.append(f'{key}: not a stream-order record')
        return
    if saved == mine:
        return
    if sorted(saved) != sorted(mine):
        error_msgs.append(f'{key}: the weights were trained on the streams {saved}, but the '
                          f'config has {mine}')
        return
    module.input_streams = {name: module.input_streams[name] for name in saved}


def sample_get(sample: Any, key: str, default: Any = None) -> Any:
    """``sample[key]`` for dicts, ``sample.key`` for data-sample objects."""
    if isinstance(sample, Mapping):
        return sample.get(key, default)
    return getattr(sample, key, default)


class StreamLocalizer(BaseModel):
    """Base of the weakly-supervised localizers: streams, losses, predict.

    Each model stream (every input stream with ``fusion='late'``, or one
    stream ``'fused'`` over the concatenated features with ``fusion='early'``)
    is run by :meth:`run_stream`; the proposal attention is the plain mean of
    the streams' ``attention`` and the video scores the θ-weighted mean of the
    streams' :meth:`stream_video_scores`. Every loss term is called once per
    stream, ``term(stream_out, labels [B, C], mask [B, T])``, and the results
    are summed over streams.

    Args:
        num_classes: Number of foreground classes ``C``.
        streams: ``{name: in_channels}`` of the input streams, in the order
            they are concatenated for early fusion (default two-stream I3D).
            An early-fusion model keeps that order in its state dict
            (``input_order``) and, when it loads a state dict, takes the order
            recorded there: mmengine writes the config copy in a work dir with
            its keys sorted, so the copy may list the streams in another order
            than the config the model was trained with.
        fusion: ``'late'`` (a model per stream) or ``'early'``.
        stream_weights: θ per model stream (normalised to sum 1); None: equal.
        losses: ``{name: loss config | built module | None}``; None entries
            are switched off; at least one must remain.
        loss_warmup: ``{term name: length}``: the named terms are ramped in
            linearly from 0 to their full weight over the run's first
            iterations, so the other terms act alone first. A length in
            ``(0, 1]`` is a share of the run; an integer ``N >= 2`` is a
            number of iterations, the same however long the run. Names of
            switched-off terms are allowed (a child config that drops a term
            keeps its base's schedule); unknown names are an error. The ramp
            needs the run's progress: wsal's Runner configs call
            :meth:`set_train_progress` before every iteration
            (``TrainProgressHook``); a plain training loop must call it too
            (without it the terms are used at full weight, with a warning).
            None or ``{}``: no ramp.
        input_norm: Normalisation of each input stream's features before
            everything else, e.g. ``dict(type='FeatureStandardizer')``: a
            config (built per input stream, ``in_channels`` filled in), a
            ``{stream: config or module}`` dict naming every input stream, or
            None (features as stored). Statistics it measures are fitted by
            :meth:`fit_input_norm` before training.
        test_cfg: Post-processor (``POSTPROCESSORS``) used by :meth:`predict`.
        data_preprocessor: mmengine data preprocessor.
        init_cfg: mmengine initialisation config.
    """

    #: Parts that ``None`` leaves out: a checkpoint trained without one loads with it switched off.
    OPTIONAL_PARTS = ('input_norm',)

    def __init__(self, *, num_classes: int, streams: Optional[Mapping[str, int]] = None,
                 fusion: str = 'late', stream_weights: Optional[Mapping[str, float]] = None,
                 losses: Mapping[str, Any], loss_warmup: Optional[Mapping[str, float]] = None,
                 input_norm: Any = None, test_cfg: Any = None, data_preprocessor: Any = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        who = type(self).__name__
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f'{who}: num_classes must be a positive int, got {num_classes!r}')
        self.num_classes = num_classes
        streams = dict(rgb=1024, flow=1024) if streams is None else dict(streams)
        if not streams:
            raise ValueError(f'{who}: streams must name at least one input stream, e.g. '
                             'dict(rgb=1024, flow=1024)')
        for name, dim in streams.items():
            if not isinstance(dim, int) or dim <= 0:
                raise ValueError(f"{who}: streams['{name}'] must be a positive int (its feature "
                                 f'dimension), got {dim!r}')
            if name in (FUSED, 'mask'):
                raise ValueError(f"{who}: '{name}' is reserved and cannot name an input stream")
        if fusion not in ('late', 'early'):
            raise ValueError(f"{who}: fusion must be 'late' or 'early', got '{fusion}'")
        self.fusion = fusion
        self.input_streams: Dict[str, int] = streams
        if fusion == 'early':
            self.model_streams: Dict[str, int] = {FUSED: sum(streams.values())}
        else:
            self.model_streams = dict(streams)
        if fusion == 'early' and len(streams) > 1:
            self.register_buffer('input_order', encode_names(list(streams)))
            self.register_load_state_dict_pre_hook(_adopt_input_order)
        self.stream_weights = self._normalise_weights(stream_weights)
        self.input_norm = (self.build_per_stream(input_norm, 'input_norm', with_dim=True,
                                                 input_streams=True)
                           if input_norm is not None else None)

        self.losses = nn.ModuleDict()
        for name, cfg in dict(losses).items():
            term = build_component(cfg, LOSSES)
            if term is None:
                continue
            if not callable(term):
                raise TypeError(f"{who}: losses['{name}'] must be a loss config dict, a built "
                                f'loss module or None, got {type(term).__name__}')
            self.losses[name] = term
        if len(self.losses) == 0:
            raise ValueError(f'{who}: every loss term is switched off; enable at least one, '
                             "e.g. losses=dict(fg=dict(type='ForegroundLoss'))")
        self.loss_warmup = self._check_warmup(loss_warmup, set(dict(losses)), who)
        self._progress: Optional[Tuple[int, int]] = None
        self._warned_progress = False
        self.test_cfg = test_cfg
        self.postprocessor = build_component(test_cfg, POSTPROCESSORS)

    # ------------------------------------------------------------------ build
    @staticmethod
    def _check_warmup(warmup: Optional[Mapping[str, float]], names: set,
                      who: str) -> Dict[str, float]:
        out: Dict[str, float] = {}
        for name, ratio in dict(warmup or {}).items():
            if name not in names:
                raise ValueError(f"{who}: loss_warmup names '{name}', which is not a loss term "
                                 f'(terms: {sorted(names)})')
            number = isinstance(ratio, (int, float)) and not isinstance(ratio, bool)
            if not number or not (0 < ratio <= 1 or ratio >= 2 and float(ratio).is_integer()):
                raise ValueError(f"{who}: loss_warmup['{name}'] must be a share of the run in "
                                 f'(0, 1] or a whole number of iterations >= 2, got {ratio!r}')
            out[name] = float(ratio)
        return out

    def set_train_progress(self, iteration: int, max_iters: int) -> None:
        """Tell the model where training is (for ``loss_warmup``).

        Args:
            iteration: Iterations done before the coming one (0-based).
            max_iters: Length of the run in iterations.
        """
        if max_iters <= 0 or iteration < 0:
            raise ValueError(f'set_train_progress: need iteration >= 0 and max_iters > 0, got '
                             f'{iteration}, {max_iters}')
        self._progress = (int(iteration), int(max_iters))

    def loss_factors(self) -> Dict[str, float]:
        """Current ramp factor in ``[0, 1]`` of each warmed-up term (others: 1)."""
        active = [n for n in self.loss_warmup if n in self.losses]
        if not active or not self.training:
            return {}
        if self._progress is None:
            if not self._warned_progress:
                warnings.warn(
                    f'{type(self).__name__}: loss_warmup ramps {active} over the run, but the '
                    'model was not told the training progress, so these terms are used at full '
                    'weight. Call model.set_train_progress(iteration, max_iters) before each '
                    "training step (wsal's Runner configs do it with TrainProgressHook).",
                    stacklevel=3)
                self._warned_progress = True
            return {}
        it, total = self._progress
        # a length up to 1 is a share of the run, a larger one a number of iterations
        ramps = {n: self.loss_warmup[n] for n in active}
        return {n: min(1.0, (it + 1) / max(1.0, r * total if r <= 1 else r))
                for n, r in ramps.items()}

    def _normalise_weights(self, weights: Optional[Mapping[str, float]]) -> Dict[str, float]:
        names = list(self.model_streams)
        who = type(self).__name__
        if weights is None:
            return {n: 1.0 / len(names) for n in names}
        weights = dict(weights)
        if set(weights) != set(names):
            hint = (" (early fusion has the single stream 'fused'; set stream_weights=None)"
                    if self.fusion == 'early' else '')
            raise ValueError(f'{who}: stream_weights keys {sorted(weights)} must match the '
                             f'model streams {names}{hint}')
        if any(float(w) < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f'{who}: stream_weights must be non-negative with a positive sum, '
                             f'got {weights}')
        total = float(sum(weights.values()))
        return {n: float(weights[n]) / total for n in names}

    @property
    def needs_input_statistics(self) -> bool:
        """Whether an input normalisation still waits for :meth:`fit_input_norm`."""
        return self.input_norm is not None and any(
            not getattr(m, 'is_fitted', True) for m in self.input_norm.values())

    def fit_input_norm(self, dataset: Any) -> Dict[str, int]:
        """Fit every input stream's normalisation on a dataset's frames (one pass).

        Args:
            dataset: The training split: a wsal feature dataset (its stored
                frames are read) or any dataset whose items carry ``inputs``
                ``{stream: [T, D]}``.

        Returns:
            dict: ``{stream: frames measured}`` (empty without ``input_norm``).

        Raises:
            ValueError: the dataset has no frames, or lacks a stream.
        """
        if self.input_norm is None:
            return {}
        fitted = [n for n, m in self.input_norm.items() if hasattr(m, 'fit')]
        moments = {n: FeatureMoments(self.input_streams[n]) for n in fitted}
        ids = getattr(dataset, 'video_ids', None)
        for i, feats in enumerate(dataset_frames(dataset, fitted)):
            for n in fitted:
                if n not in feats:
                    name = repr(ids[i]) if ids is not None and i < len(ids) else f'#{i}'
                    raise ValueError(f"{type(self).__name__}: training video {name} has no "
                                     f"stream '{n}' to fit input_norm on")
                moments[n].update(feats[n])
        for n in fitted:
            if moments[n].count == 0:
                raise ValueError(f'{type(self).__name__}: no training frames to fit '
                                 f"input_norm['{n}'] on")
            mean, std = moments[n].result()
            self.input_norm[n].set_statistics(mean=mean, std=std, num_frames=moments[n].count)
        return {n: moments[n].count for n in fitted}

    def build_per_stream(self, spec: Any, what: str, *, with_dim: bool,
                         extra: Optional[dict] = None,
                         input_streams: bool = False,
                         dims: Optional[Mapping[str, int]] = None) -> nn.ModuleDict:
        """One module per model stream from a config, a built module or a per-stream dict.

        Args:
            spec: A config dict with ``type`` (built once per stream), a built
                ``nn.Module`` (single-stream models only) or ``{stream: config
                or module}`` naming every model stream.
            what: The part's name, for error messages.
            with_dim: Fill in ``in_channels`` with the stream's dimension.
            extra: Further default arguments (e.g. ``num_classes``).
            input_streams: One module per input stream instead (parts that
                act before early fusion, e.g. ``input_norm``).
            dims: ``{stream: D}`` to fill in as ``in_channels`` instead of the
                streams' own dimensions (parts that read an embedding).

        Returns:
            nn.ModuleDict: ``{stream: module}`` in model-stream order.
        """
        streams = self.input_streams if input_streams else self.model_streams
        kind = 'input' if input_streams else 'model'
        names = list(streams)
        who = type(self).__name__
        is_cfg = isinstance(spec, Mapping) and 'type' in spec
        if isinstance(spec, Mapping) and not is_cfg:
            if set(spec) != set(names):
                raise ValueError(f'{who}: {what} is a per-stream dict with keys {sorted(spec)}, '
                                 f'expected exactly the {kind} streams {names} (or give one '
                                 'config with a "type" key)')
            per_stream = dict(spec)
        elif isinstance(spec, nn.Module):
            if len(names) != 1:
                raise ValueError(f'{who}: {what} is a built module but the model has '
                                 f'{len(names)} streams {names}; pass a config dict (built per '
                                 'stream) or a dict {stream: module}')
            per_stream = {names[0]: spec}
        elif is_cfg:
            per_stream = {n: spec for n in names}
        else:
            raise TypeError(f"{who}: {what} must be a config dict with a 'type' key, a built "
                            f'nn.Module or a per-stream dict, got {type(spec).__name__}')
        if dims is not None:
            streams = {name: int(dims[name]) for name in streams}
        out = nn.ModuleDict()
        for name, item in per_stream.items():
            defaults = dict(extra or {})
            if with_dim:
                defaults['in_channels'] = streams[name]
            module = build_component(item, MODELS, default_args=defaults or None)
            if not isinstance(module, nn.Module):
                raise TypeError(f"{who}: {what} for stream '{name}' must build an nn.Module, "
                                f'got {type(module).__name__}')
            dim = getattr(module, 'in_channels', None)
            if with_dim and dim is not None and dim != streams[name]:
                source = 'its input' if dims is not None else 'the stream'
                raise ValueError(f"{who}: {what} for stream '{name}' has in_channels={dim} but "
                                 f'{source} has {streams[name]} channels')
            out[name] = module
        return out

    # ---------------------------------------------------------- per method
    def run_stream(self, name: str, x: torch.Tensor, mask: torch.Tensor) -> dict:
        """One stream's outputs (subclasses implement).

        Args:
            name: The model stream.
            x: Its features ``[B, T, D]``.
            mask: BoolTensor ``[B, T]``.

        Returns:
            dict: at least ``attention [B, T]`` (0 on padding) and ``cas
            [B, T, C+1]`` (index 0 = background), see docs/design.md.
        """
        raise NotImplementedError

    def stream_video_scores(self, stream_out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Video-level foreground class probabilities ``[B, C]`` of one stream."""
        raise NotImplementedError

    # ----------------------------------------------------------------- tensor
    def _stream_inputs(self, inputs: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        who = type(self).__name__
        if not isinstance(inputs, Mapping):
            raise TypeError(f"{who}: inputs must be a dict {{stream: [B, T, D], 'mask': "
                            f'[B, T]}}, got {type(inputs).__name__}')
        feats = {}
        for name, dim in self.input_streams.items():
            if name not in inputs:
                raise KeyError(f"{who}: input stream '{name}' is missing; inputs have keys "
                               f'{sorted(inputs)}')
            x = inputs[name]
            if not torch.is_tensor(x) or x.dim() != 3:
                shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
                raise ValueError(f"{who}: stream '{name}' must be a [B, T, D] tensor, "
                                 f'got {shape}')
            if x.shape[-1] != dim:
                raise ValueError(f"{who}: stream '{name}' expected feature dim {dim}, got "
                                 f'{x.shape[-1]} (input shape {tuple(x.shape)})')
            feats[name] = x
        shapes = {n: tuple(x.shape[:2]) for n, x in feats.items()}
        if len(set(shapes.values())) > 1:
            raise ValueError(f'{who}: streams disagree on [B, T]: {shapes}')
        if self.input_norm is not None:
            feats = {n: self.input_norm[n](x) for n, x in feats.items()}
        if self.fusion == 'early':
            feats = {FUSED: torch.cat([feats[n] for n in self.input_streams], dim=-1)}
        return feats

    def extract(self, inputs: Mapping[str, torch.Tensor]) -> dict:
        """Tensor path: per-stream outputs, fused attention and video scores.

        Args:
            inputs: ``{stream: FloatTensor[B, T, D_stream], 'mask': BoolTensor[B, T]}``
                (``mask`` optional: all segments valid).

        Returns:
            dict: ``streams`` (per stream, see :meth:`run_stream`, plus
            ``fused_attention [B, T]``, the streams' mean, for cross-stream
            loss terms), ``stream_weights``, ``attention [B, T]`` (mean of the streams'),
            ``video_scores [B, C]`` (θ-weighted) and ``mask [B, T]``.
        """
        feats = self._stream_inputs(inputs)
        first = next(iter(feats.values()))
        mask = as_mask(inputs.get('mask'), first)
        streams = {name: self.run_stream(name, x, mask) for name, x in feats.items()}
        attention = torch.stack([s['attention'] for s in streams.values()]).mean(0)
        for s in streams.values():          # what cross-stream terms read
            s['fused_attention'] = attention
        video_scores = sum(self.stream_weights[n] * self.stream_video_scores(s)
                           for n, s in streams.items())
        out = {'streams': streams, 'stream_weights': dict(self.stream_weights),
               'attention': attention, 'video_scores': video_scores, 'mask': mask}
        self.extend_outputs(out, feats)
        return out

    def extend_outputs(self, out: dict, feats: Mapping[str, torch.Tensor]) -> None:
        """Hook for parts that read every model stream at once (default: nothing).

        Args:
            out: :meth:`extract`'s outputs, changed in place.
            feats: The model streams' features ``{stream: [B, T, D]}``.
        """

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
        raise ValueError(f"{type(self).__name__}: unknown mode '{mode}'; "
                         "use 'tensor', 'loss' or 'predict'")

    # ------------------------------------------------------------------- loss
    def video_labels(self, data_samples: Optional[Sequence], *, batch: int,
                     device: torch.device) -> torch.Tensor:
        """The multi-hot video labels of a batch, checked as :meth:`loss` checks them.

        Args:
            data_samples: One per video, each with ``label`` (multi-hot ``[C]``).
            batch: Number of videos the inputs hold.
            device: Device of the result.

        Returns:
            FloatTensor: ``[B, C]``.

        Raises:
            ValueError / KeyError: no samples, a count other than ``batch``, a
                sample without ``label`` or of another shape (the video named).
        """
        who = type(self).__name__
        if data_samples is None:
            raise ValueError(f"{who}.loss needs data_samples with a video-level 'label' "
                             '(multi-hot [C]) each')
        if len(data_samples) != batch:
            raise ValueError(f'{who}: {len(data_samples)} data samples for a batch of '
                             f'{batch} videos')
        rows = []
        for i, sample in enumerate(data_samples):
            label = sample_get(sample, 'label')
            vid = sample_get(sample, 'video_id', f'#{i}')
            if label is None:
                raise KeyError(f"{who}: data sample of video '{vid}' has no 'label'")
            label = torch.as_tensor(label, dtype=torch.float32)
            if label.shape != (self.num_classes,):
                raise ValueError(f"{who}: label of video '{vid}' has shape "
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
        labels = self.video_labels(data_samples, batch=mask.shape[0], device=mask.device)
        totals: Dict[str, torch.Tensor] = {}
        owner: Dict[str, str] = {}
        factors = self.loss_factors()
        for term_name, term in self.losses.items():
            factor = factors.get(term_name, 1.0)
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
                    if factor != 1.0:
                        value = value * factor
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
            ``seconds_per_segment`` where the sample has them. Where every
            sample has ``gt_labels`` and the post-processor's scorer has a
            ``score_map`` (``[B, T, C]``), also ``class_map [T, K]``: that map's
            columns for the video's ``K`` ground-truth classes, in the order of
            ``class_map_labels [K]`` (ascending), for the attention-health
            metric's class AUCs.
        """
        who = type(self).__name__
        if self.postprocessor is None:
            raise RuntimeError(f'{who}.predict: the model was built without test_cfg; set '
                               'model.test_cfg to a post-processor config (e.g. '
                               "dict(type='DetectionPipeline', ...)) to produce detections")
        outputs = self.extract(inputs)
        mask = outputs['mask']
        if data_samples is None or len(data_samples) != mask.shape[0]:
            raise ValueError(f'{who}.predict needs one data sample per video ({mask.shape[0]}), '
                             f'got {None if data_samples is None else len(data_samples)}')
        detections = self.postprocessor(outputs, data_samples)
        if len(detections) != len(data_samples):
            raise ValueError(f'post-processor {type(self.postprocessor).__name__} returned '
                             f'{len(detections)} results for {len(data_samples)} videos')
        class_maps = self._ground_truth_class_maps(outputs, data_samples)
        results = []
        lengths = mask.sum(1).tolist()
        for i, (sample, det) in enumerate(zip(data_samples, detections)):
            n = int(sample_get(sample, 'num_segments', lengths[i]) or lengths[i])
            item = {
                'video_id': sample_get(sample, 'video_id', str(i)),
                'detections': {k: (v.detach().cpu() if torch.is_tensor(v) else v)
                               for k, v in det.items()},
                'video_scores': outputs['video_scores'][i].detach().cpu(),
                'attention': outputs['attention'][i, :n].detach().cpu(),
                'stream_attention': {name: s['attention'][i, :n].detach().cpu()
                                     for name, s in outputs['streams'].items()},
            }
            for key in PASS_THROUGH:
                value = sample_get(sample, key)
                if value is not None:
                    item[key] = value.detach().cpu() if torch.is_tensor(value) else value
            if class_maps is not None:
                labels, score_map = class_maps[i]
                item['class_map'] = score_map[:n].float().cpu()
                item['class_map_labels'] = labels.cpu()
            results.append(item)
        return results

    def _ground_truth_class_maps(self, outputs: dict, data_samples: Sequence
                                 ) -> Optional[List[Tuple[torch.Tensor, torch.Tensor]]]:
        """Per video ``(labels [K], map [T, K])``: the scorer's class map for the video's
        ground-truth classes; None without a ``score_map`` or without ``gt_labels``."""
        score_map = getattr(getattr(self.postprocessor, 'scorer', None), 'score_map', None)
        gt_labels = [sample_get(s, 'gt_labels') for s in data_samples]
        if score_map is None or any(g is None for g in gt_labels):
            return None
        with torch.no_grad():
            full = score_map(outputs)
        n_classes = full.shape[-1]
        maps = []
        for i, g in enumerate(gt_labels):
            labels = torch.unique(torch.as_tensor(g, dtype=torch.long).reshape(-1).cpu())
            if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):
                vid = sample_get(data_samples[i], 'video_id', str(i))
                raise ValueError(f"video '{vid}': gt_labels {labels.tolist()} outside the "
                                 f'{n_classes} classes of the score map')
            maps.append((labels, full[i].index_select(-1, labels.to(full.device))))
        return maps
