"""What a canonical-layout data root holds: its classes and each stream's feature dim."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Sequence, Union

from .base import probe_npy

__all__ = ['read_data_info']


def read_data_info(data_root: Union[str, os.PathLike], *,
                   streams: Sequence[str] = ('rgb', 'flow')) -> Dict[str, Any]:
    """Classes (from ``gt.json``) and feature dims (from one ``.npy`` header per stream).

    A model trained on the data root takes its class count and input dims from
    here, so the same config works for 1024-d I3D features and 32-d test data.

    Args:
        data_root: Folder with ``gt.json`` and ``features/<stream>/<video>.npy``.
        streams: The streams whose dims are read.

    Returns:
        dict: ``{'classes': [C names], 'dims': {stream: D}}``. The classes are
        ``gt.json``'s ``classes`` list, else the sorted labels of its annotations.

    Raises:
        FileNotFoundError: no ``gt.json`` or no features of a stream (the
            message names the path).
    """
    root = Path(os.fspath(data_root))
    gt_file = root / 'gt.json'
    if not gt_file.is_file():
        raise FileNotFoundError(f'no gt.json in data root {root}')
    with open(gt_file, encoding='utf-8') as fh:
        gt = json.load(fh)
    classes = gt.get('classes') or sorted({a['label'] for v in gt.get('database', {}).values()
                                           for a in v.get('annotations', [])})
    dims = {}
    for stream in streams:
        folder = root / 'features' / stream
        files = sorted(folder.glob('*.npy')) if folder.is_dir() else []
        if not files:
            raise FileNotFoundError(f'no features in {folder}')
        shape = probe_npy(files[0])[0]
        if len(shape) != 2:
            raise ValueError(f'{files[0]}: expected a [T, D] array, got shape {shape}')
        dims[stream] = int(shape[1])
    return {'classes': list(classes), 'dims': dims}
