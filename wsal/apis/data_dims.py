"""Feature dimensions from the data: one source for the model and every dataset.

A config names each stream's feature dim twice: in ``model.streams`` and in
every dataset's ``feature_dims``. :func:`apply_data_dims` reads the dim of
each stream from the first feature file of the data (its ``.npy`` header
only) and writes it to both places, so the packaged THUMOS14 configs (1024-d
I3D features) run on data with other features unchanged.
:func:`check_checkpoint_dims` says in one line when a checkpoint was trained
on features of other dims than the data's.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

__all__ = ['LOADERS', 'dataset_configs', 'data_dims', 'apply_data_dims', 'checkpoint_dims',
           'check_checkpoint_dims']

#: The Runner's dataloader keys, in order.
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def dataset_configs(loader_cfg) -> List[dict]:
    """The dataset config(s) of a dataloader config (ConcatDataset unrolled)."""
    if not isinstance(loader_cfg, dict) or not isinstance(loader_cfg.get('dataset'), dict):
        return []
    ds = loader_cfg['dataset']
    if isinstance(ds.get('datasets'), (list, tuple)):
        return [d for d in ds['datasets'] if isinstance(d, dict)]
    if isinstance(ds.get('dataset'), dict):  # wrappers such as RepeatDataset
        return [ds['dataset']]
    return [ds]


def _first_feature_file(ds: Mapping[str, Any], stream: str) -> Optional[Path]:
    root = ds.get('data_root')
    if root is None:
        return None
    template = ds.get('feature_template') or 'features/{modality}/{video_id}.npy'
    subsets = ds.get('subset') or ['*']
    if isinstance(subsets, str):
        subsets = [subsets]
    for subset in subsets:
        try:
            pattern = template.format(modality=stream, video_id='*', subset=subset)
        except (KeyError, IndexError):
            return None
        files = sorted(glob.glob(os.path.join(os.fspath(root), glob.escape(pattern)
                                              .replace('[*]', '*'))))
        if files:
            return Path(files[0])
    return None


def data_dims(cfg) -> Dict[str, int]:
    """``{stream: D}`` read from the first feature file of each of the model's streams.

    The datasets of the train, val and test dataloaders are searched in this
    order; a stream without any file found is left out.
    """
    from wsal.datasets.base import probe_npy
    streams = (cfg.get('model') or {}).get('streams')
    if not isinstance(streams, Mapping):
        return {}
    out: Dict[str, int] = {}
    for stream in streams:
        for key in LOADERS:
            for ds in dataset_configs(cfg.get(key)):
                f = _first_feature_file(ds, stream)
                if f is None:
                    continue
                try:
                    shape = probe_npy(f)[0]
                except (OSError, ValueError):
                    continue  # the dataset's own checks name the file
                if len(shape) == 2:
                    out[stream] = int(shape[1])
                    break
            if stream in out:
                break
    return out


def apply_data_dims(cfg) -> Dict[str, int]:
    """Set ``model.streams`` and every dataset's ``feature_dims`` from the data (in place).

    Returns:
        dict: the dims found (empty when no feature file was found: the
        config is left as it was).
    """
    dims = data_dims(cfg)
    if not dims:
        return dims
    model_streams = dict(cfg.model.streams)
    model_streams.update(dims)
    cfg.model.streams = model_streams
    for key in LOADERS:
        for ds in dataset_configs(cfg.get(key)):
            fd = ds.get('feature_dims')
            if isinstance(fd, Mapping):
                ds['feature_dims'] = {s: dims.get(s, d) for s, d in fd.items()}
            elif fd is not None and len(set(dims.values())) == 1:
                ds['feature_dims'] = next(iter(dims.values()))
            elif fd is not None:
                ds['feature_dims'] = dict(dims)
    return dims


def checkpoint_dims(state_dict: Mapping[str, Any], streams) -> Dict[str, int]:
    """Input dim per stream of a localizer checkpoint (first layer of its attention).

    The first layer is the attention's first weight of two or more dimensions
    in the state dict's order (the order its modules were registered): a
    linear ``[out, in]`` or a temporal convolution ``[out, in, k]``; its
    dimension 1 is the input's.
    """
    out: Dict[str, int] = {}
    for stream in streams:
        for prefix in (f'attention.{stream}.', f'module.attention.{stream}.'):
            first = next((v for k, v in state_dict.items() if k.startswith(prefix)
                          and k.endswith('weight') and getattr(v, 'ndim', 0) >= 2), None)
            if first is not None:
                out[stream] = int(first.shape[1])
                break
    return out


def check_checkpoint_dims(state_dict: Mapping[str, Any], model_streams: Mapping[str, int], *,
                          checkpoint: str) -> None:
    """One-line ``ValueError`` when the checkpoint's feature dims are not the data's.

    Raises:
        ValueError: e.g. ``checkpoint X was trained on features rgb=1024,
        flow=1024 but the data has rgb=32, flow=32``.
    """
    have = checkpoint_dims(state_dict, list(model_streams))
    if have and any(have.get(s) not in (None, int(d)) for s, d in model_streams.items()):
        def fmt(d):
            return ', '.join(f'{s}={v}' for s, v in d.items())
        raise ValueError(f'checkpoint {checkpoint} was trained on features {fmt(have)} but the '
                         f'data has {fmt({s: int(d) for s, d in model_streams.items()})}; use '
                         'a checkpoint trained on these features (or --data-root with the '
                         'features it was trained on)')
