"""Find config files: as given, or among the configs shipped in the package.

The repository's ``configs/`` folder is shipped inside the package as
``wsal/.mim/configs`` (a symlink in the source tree; setuptools copies the
files into wheels), so ``wsal train configs/bm/bm_i3d_thumos14.py`` and
``wsal demo`` work from any directory after ``pip install`` (editable or not).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Union

__all__ = ['packaged_config_dir', 'resolve_config']


def packaged_config_dir() -> Path:
    """The ``configs/`` folder shipped with the package."""
    here = Path(__file__).resolve().parent.parent  # the wsal package
    mim = here / '.mim' / 'configs'
    if mim.is_dir():
        return mim
    return here.parent / 'configs'  # source checkout without the symlink


def _candidates(text: str) -> List[Path]:
    p = Path(text).expanduser()
    out = [p]
    if not p.is_absolute():
        parts = p.parts
        rel = Path(*parts[1:]) if parts and parts[0] == 'configs' and len(parts) > 1 else p
        out.append(packaged_config_dir() / rel)
    return out


def resolve_config(config: Union[str, os.PathLike]) -> Path:
    """Path of ``config``: the file itself, else the packaged copy.

    ``configs/bm/bm_i3d_thumos14.py`` and ``bm/bm_i3d_thumos14.py`` both find
    the packaged config when no such file exists under the current directory.

    Raises:
        FileNotFoundError: neither exists (message names both places).
    """
    text = os.fspath(config)
    cands = _candidates(text)
    for c in cands:
        if c.is_file():
            return c
    if cands[0].is_dir():
        raise FileNotFoundError(f'config {text} is a directory, not a config file')
    where = f' (nor in the packaged configs at {packaged_config_dir()})' if len(cands) > 1 else ''
    raise FileNotFoundError(f'config file not found: {text}{where}')
