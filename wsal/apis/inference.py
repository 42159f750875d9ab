"""Inference without the Runner: build a trained localizer, localize new videos.

Example:
    >>> from wsal.apis import init_localizer, localize
    >>> model = init_localizer('configs/bm/bm_i3d_thumos14.py', 'work_dirs/bm/iter_10000.pth')
    >>> pred = localize(model, {'rgb': rgb_feats, 'flow': flow_feats})   # [T, D] each
    >>> pred['detections']['segments']       # FloatTensor[N, 2], seconds
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from wsal.engine.compat import load_checkpoint_file
from wsal.models.localizers.base import INPUT_ORDER_KEY, decode_names
from wsal.visualization import trace_videos

__all__ = ['load_config', 'with_test_cfg_of', 'check_postprocessing_reads', 'init_localizer',
           'localize', 'video_items', 'trace_videos', 'trace_features',
           'check_state_dict', 'dataset_cfg_of', 'feature_time_scale']

PathLike = Union[str, os.PathLike]


def load_config(config: Any, cfg_options: Optional[dict] = None):
    """Load a config file (or pass a ``Config`` through), with overrides.

    Mistyped keys (in the file or in ``cfg_options``) are refused with the
    full key and close matches named (:mod:`wsal.apis.config_check`).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be parsed (the message names it).
        KeyError: a key that does not exist (``ConfigKeyError``).
    """
    from mmengine.config import Config
    if isinstance(config, Config):
        cfg = config
    elif isinstance(config, dict):
        cfg = Config(dict(config))
    else:
        from wsal.utils.config_files import enable_package_configs, resolve_config
        enable_package_configs()
        path = resolve_config(config)
        try:
            cfg = Config.fromfile(str(path))
        except Exception as exc:  # noqa: BLE001 - any parse failure: name the file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ''
            raise ValueError(f'cannot load config {path}: {type(exc).__name__}: {first}') from None
    from wsal.apis.config_check import apply_overrides, check_config_keys
    name = getattr(cfg, 'filename', None) or '<dict>'
    apply_overrides(cfg, cfg_options)
    if 'model' not in cfg:
        raise ValueError(f"config {name} has no 'model'")
    check_config_keys(cfg, name=name)
    return cfg



def check_postprocessing_reads(config: Any, source: Any) -> None:
    """Refuse, before any work, a post-processing that cannot read a model's outputs.

    Every post-processor reads the localizer outputs (per stream a
    class-agnostic ``attention`` and the class logits ``cas``, the stream
    weights, the fused ``attention``, ``video_scores``, ``mask``), which the
    background-aware localizer and every ``HeadLocalizer`` method produce; the
    class-score post-processors of W-TALC, BaS-Net, UM and CoLA also read
    their head's ``class_scores``, which the background-aware localizer does
    not report. So the check runs the post-processing: ``config``'s model is
    built at random (its input normalisation left out) and ``source``'s
    ``model.test_cfg`` is applied to its outputs on one random 8-segment
    video (milliseconds).

    Args:
        config: The model's config (``Config``), already loaded.
        source: The config whose ``model.test_cfg`` is to score it (``Config``).

    Raises:
        ValueError: the post-processing needs an output the model lacks, or
            cannot be built; the message names both configs.
    """
    import copy
    from wsal.registry import build_model
    name = getattr(source, 'filename', None) or '<dict>'
    own = getattr(config, 'filename', None) or '<dict>'
    model_cfg = copy.deepcopy(config.model)
    model_cfg = model_cfg.to_dict() if hasattr(model_cfg, 'to_dict') else dict(model_cfg)
    test_cfg = source.model.get('test_cfg')
    model_cfg['test_cfg'] = copy.deepcopy(test_cfg.to_dict() if hasattr(test_cfg, 'to_dict')
                                          else test_cfg)
    model_cfg['input_norm'] = None
    model_cfg.pop('data_preprocessor', None)
    where = (f"the post-processing of {name} (for a {source.model.get('type')}) on the model of "
             f"{own} (a {config.model.get('type')})")
    try:
        model = build_model(model_cfg)
    except Exception as exc:  # noqa: BLE001 - name both configs
        raise ValueError(f'{where}: cannot be built: {type(exc).__name__}: {exc}') from None
    gen = torch.Generator().manual_seed(0)
    inputs = {k: torch.rand(1, 8, int(d), generator=gen) for k, d in model.input_streams.items()}
    sample = {'video_id': 'probe', 'num_segments': 8, 'seconds_per_segment': 0.64,
              'duration': 5.12}
    model.eval()
    try:
        with torch.no_grad():
            model.predict(inputs, [sample])
    except (KeyError, AttributeError) as exc:
        detail = exc.args[0] if exc.args else exc
        raise ValueError(f'{where}: it reads an output that model does not produce ({detail})'
                         ) from None


def with_test_cfg_of(config: Any, source: Any):
    """``config`` with the post-processing (``model.test_cfg``) of ``source``.

    Scores one model's checkpoint the way another config scores its own,
    e.g. STPN's with the background-aware configs' proposals and scores, or
    W-TALC's with them, so that methods can be compared with the same
    post-processing.

    Args:
        config: The checkpoint's config (path, packaged name, ``Config`` or dict).
        source: The config whose ``model.test_cfg`` to use.

    Returns:
        mmengine.Config: ``config`` loaded, its ``model.test_cfg`` replaced by
        a copy of ``source``'s.

    Raises:
        FileNotFoundError / ValueError: either config cannot be read.
        ValueError: ``source`` has no ``model.test_cfg``, or its
            post-processing reads an output ``config``'s model does not produce
            (:func:`check_postprocessing_reads`).
    """
    import copy
    cfg = load_config(config)
    src = load_config(source)
    name = getattr(src, 'filename', None) or '<dict>'
    test_cfg = src.model.get('test_cfg')
    if not test_cfg:
        raise ValueError(f'config {name} has no model.test_cfg to score with')
    check_postprocessing_reads(cfg, src)
    cfg.model.test_cfg = copy.deepcopy(test_cfg)
    return cfg


def check_state_dict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], *,
                     checkpoint: str = 'checkpoint', config: str = 'config') -> None:
    """Raise a one-line ``ValueError`` if ``state_dict`` does not fit ``model``.

    Reports missing and unexpected keys and shape mismatches (a checkpoint
    trained with another config). Where the checkpoint has none of an
    optional part the model has (``model.OPTIONAL_PARTS``: one the configs
    added after it was trained), the message names the override that
    switches the part off.
    """
    own = model.state_dict()
    if INPUT_ORDER_KEY in own:
        if INPUT_ORDER_KEY in state_dict:
            trained = decode_names(state_dict[INPUT_ORDER_KEY])
            mine = decode_names(own[INPUT_ORDER_KEY])
            if sorted(trained) != sorted(mine):
                raise ValueError(f'checkpoint {checkpoint} was trained on the streams '
                                 f'{", ".join(trained)}, but config {config} has '
                                 f'{", ".join(mine)}')
        own = {k: v for k, v in own.items() if k != INPUT_ORDER_KEY}
        state_dict = {k: v for k, v in state_dict.items() if k != INPUT_ORDER_KEY}
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f'{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}'
              for k in own if k in state_dict and hasattr(state_dict[k], 'shape')
              and tuple(state_dict[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or shapes):
        return

    def few(items):
        return ', '.join(items[:3]) + (f' (+{len(items) - 3} more)' if len(items) > 3 else '')
    parts = []
    if shapes:
        parts.append(f'shape mismatch: {few(shapes)}')
    if missing:
        parts.append(f'missing keys: {few(missing)}')
    if unexpected:
        parts.append(f'unexpected keys: {few(unexpected)}')
    # parts of the config the checkpoint has none of (one the configs added since, say)
    trained_parts = {k.split('.', 1)[0] for k in state_dict}
    absent = sorted({k.split('.', 1)[0] for k in missing} - trained_parts)
    absent = [a for a in absent if a in getattr(model, 'OPTIONAL_PARTS', ())]
    if absent:
        parts.append('the checkpoint has no ' + ', '.join(absent) + ' (trained without it: '
                     + ' '.join(f'--cfg-options model.{a}=None' for a in absent)
                     + ' builds the model as it was)')
    raise ValueError(f'checkpoint {checkpoint} does not match config {config} '
                     f'(trained with another config?): ' + '; '.join(parts))


def dataset_cfg_of(cfg) -> dict:
    """The dataset config of ``test_dataloader`` (else ``val_dataloader``), or {}."""
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, Mapping) and isinstance(loader.get('dataset'), Mapping):
            return dict(loader['dataset'])
    return {}


def feature_time_scale(cfg) -> dict:
    """Time scale of the config's features: ``seconds_per_segment``, resampling.

    ``stride / default_fps`` of the test dataset (16 / 25 for THUMOS14 I3D).
    """
    ds = dataset_cfg_of(cfg)
    stride = float(ds.get('stride', 16))
    fps = float(ds.get('default_fps', 25.0))
    return dict(seconds_per_segment=stride / fps, num_segments=ds.get('num_segments'),
                resample=ds.get('resample', 'interpolate'),
                modalities=tuple(ds.get('modalities', ('rgb', 'flow'))))


def init_localizer(config: Any, checkpoint: Optional[PathLike] = None,
                   device: Union[str, torch.device] = 'cpu', *,
                   cfg_options: Optional[dict] = None,
                   feature_dims: Optional[Mapping[str, int]] = None):
    """Build the localizer of ``config`` and load ``checkpoint`` into it.

    Args:
        config: Config file path (also a path relative to the packaged
            ``configs/``), ``Config`` or dict.
        checkpoint: A ``.pth`` written by ``wsal train`` (None: random weights).
        device: Where the model lives.
        cfg_options: Overrides merged into the config.
        feature_dims: ``{stream: D}`` of the features to localize (replaces
            the config's ``model.streams`` dims; a checkpoint trained on other
            dims is refused in one line).

    Returns:
        WeaklySupervisedLocalizer: in eval mode, with ``cfg`` and
        ``dataset_meta`` (``classes``, ``seconds_per_segment``) attached.

    Raises:
        FileNotFoundError: config or checkpoint missing.
        ValueError: the checkpoint does not fit the config (one line).
    """
    from wsal.registry import build_model
    cfg = load_config(config, cfg_options)
    cfg_name = getattr(cfg, 'filename', None) or '<config>'
    if feature_dims:
        streams = dict(cfg.model.get('streams') or {})
        streams.update({s: int(d) for s, d in feature_dims.items() if s in streams})
        cfg.model.streams = streams
    ckpt = None
    if checkpoint is not None:
        from wsal.apis.data_dims import check_checkpoint_dims
        ckpt = load_checkpoint_file(os.fspath(checkpoint), map_location='cpu')
        state = ckpt.get('state_dict', ckpt)
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
        check_checkpoint_dims(state, dict(cfg.model.get('streams') or {}),
                              checkpoint=os.fspath(checkpoint))
    model = build_model(cfg.model)
    meta: Dict[str, Any] = {}
    if ckpt is not None:
        check_state_dict(model, state, checkpoint=os.fspath(checkpoint), config=cfg_name)
        model.load_state_dict(state, strict=True)
        meta.update((ckpt.get('meta') or {}).get('dataset_meta') or {})
    scale = feature_time_scale(cfg)
    meta.setdefault('seconds_per_segment', scale['seconds_per_segment'])
    if 'classes' not in meta:
        classes = dataset_cfg_of(cfg).get('classes')
        if isinstance(classes, (list, tuple)):
            meta['classes'] = tuple(classes)
    model.cfg = cfg
    model.dataset_meta = meta
    return model.to(device).eval()


# --------------------------------------------------------------------------
# localize
# --------------------------------------------------------------------------
def _as_tensor(x: Any, where: str) -> torch.Tensor:
    if isinstance(x, (str, os.PathLike)):
        from wsal.datasets.base import read_npy
        x = read_npy(Path(x))
    t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=torch.float32)
    if t.dim() != 2:
        raise ValueError(f'{where}: features must be [T, D], got shape {tuple(t.shape)}')
    if not torch.isfinite(t).all():
        raise ValueError(f'{where}: features contain NaN or Inf')
    return t


def video_items(model, features: Any, *, video_ids: Optional[Sequence[str]] = None,
                seconds_per_segment: Optional[float] = None) -> List[dict]:
    """Model inputs for ``features``, built like a dataset's items.

    Args:
        model: A localizer from :func:`init_localizer` (its streams, config
            and ``dataset_meta`` give the streams and the time scale).
        features: See :func:`localize`.
        video_ids: See :func:`localize`.
        seconds_per_segment: See :func:`localize`.

    Returns:
        list[dict]: one :func:`wsal.datasets.base.video_item` per video.

    Raises:
        ValueError: a stream is missing, not ``[T, D]``, not finite, or the
            streams' lengths differ by more than one segment (the message
            names the video).
    """
    from wsal.datasets.base import video_item
    streams = list(getattr(model, 'input_streams', {}) or ())
    meta = getattr(model, 'dataset_meta', None) or {}
    cfg = getattr(model, 'cfg', None)
    scale = feature_time_scale(cfg) if cfg is not None else {}
    sps = float(seconds_per_segment or meta.get('seconds_per_segment')
                or scale.get('seconds_per_segment') or 1.0)
    if isinstance(features, Mapping) and features and all(
            isinstance(v, Mapping) for v in features.values()):
        videos = list(features.items())
    elif isinstance(features, Mapping):
        videos = [(None, features)]
    else:
        videos = [(None, f) for f in features]
    if video_ids is not None:
        if len(video_ids) != len(videos):
            raise ValueError(f'{len(video_ids)} video ids for {len(videos)} videos')
        videos = [(vid, f) for vid, (_, f) in zip(video_ids, videos)]
    items = []
    for i, (vid, feats) in enumerate(videos):
        vid = str(vid) if vid is not None else f'video_{i}'
        if not isinstance(feats, Mapping):
            raise TypeError(f"video '{vid}': features must be a dict {{stream: [T, D]}}, "
                            f'got {type(feats).__name__}')
        missing = [s for s in streams if s not in feats]
        if missing:
            raise ValueError(f"video '{vid}': missing stream(s) {missing}; the model needs "
                             f'{streams}, got {sorted(feats)}')
        inputs = {s: _as_tensor(feats[s], f"video '{vid}' stream '{s}'") for s in streams}
        lengths = {s: x.shape[0] for s, x in inputs.items()}
        if max(lengths.values()) - min(lengths.values()) > 1:
            raise ValueError(f"video '{vid}': streams have different lengths {lengths}")
        items.append(video_item(inputs, video_id=vid, seconds_per_segment=sps,
                                num_segments=scale.get('num_segments'),
                                resample=scale.get('resample', 'interpolate')))
    return items


@torch.no_grad()
def localize(model, features: Any, *, video_ids: Optional[Sequence[str]] = None,
             seconds_per_segment: Optional[float] = None, batch_size: int = 1):
    """Detect actions in videos given their features (no ground truth needed).

    Args:
        model: A localizer from :func:`init_localizer`.
        features: One video ``{stream: [T, D]}`` (tensor, array or ``.npy``
            path per stream), a list of such dicts, or ``{video_id: {stream:
            [T, D]}}``.
        video_ids: Names for the videos (default ``video_<i>`` or the dict keys).
        seconds_per_segment: Time scale; default the config's ``stride / fps``.
        batch_size: Videos per forward pass.

    Returns:
        dict or list[dict]: the model's ``predict`` output (``video_id``,
        ``detections`` with ``segments [N, 2]`` in seconds, ``scores [N]``,
        ``labels [N]``; ``video_scores [C]``, ``attention [T]``,
        ``stream_attention``) — one dict for a single video, else a list.
    """
    from wsal.datasets.collate import wsal_collate
    single = isinstance(features, Mapping) and not all(
        isinstance(v, Mapping) for v in features.values())
    items = video_items(model, features, video_ids=video_ids,
                        seconds_per_segment=seconds_per_segment)
    was_training = model.training
    model.eval()
    out: List[dict] = []
    try:
        for start in range(0, len(items), batch_size):
            out += model.test_step(wsal_collate(items[start:start + batch_size]))
    finally:
        model.train(was_training)
    return out[0] if single else out


def trace_features(model, features: Any, *, video_ids: Optional[Sequence[str]] = None,
                   seconds_per_segment: Optional[float] = None) -> List[dict]:
    """:func:`localize` plus what a Figure-4 plot needs, one video at a time.

    Args:
        model, features, video_ids, seconds_per_segment: As for :func:`localize`.

    Returns:
        list[dict]: per video, the ``predict`` output plus ``tcam`` and
        ``stream_weights`` (:func:`wsal.visualization.trace_videos`).
    """
    from wsal.datasets.collate import wsal_collate
    traces: List[dict] = []
    for item in video_items(model, features, video_ids=video_ids,
                            seconds_per_segment=seconds_per_segment):
        traces += trace_videos(model, wsal_collate([item]))
    return traces
