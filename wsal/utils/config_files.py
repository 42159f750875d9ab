"""Config files by path, by packaged name, and ``wsal::`` in a user config's ``_base_``.

The repository's ``configs/`` folder ships inside the package as
``wsal/.mim/configs`` (a symlink in the source tree; setuptools copies the
files into wheels), so ``bm/bm_i3d_thumos14.py`` names a packaged config from
any folder.

A user's config inherits a packaged one with mmengine's package syntax::

    _base_ = ['wsal::bm/bm_i3d_thumos14.py']

mmengine resolves ``pkg::`` only for the OpenMMLab packages listed in its
``MODULE2PACKAGE`` table (anything else fails with "mmengine does not support
to load wsal config"), and then looks for ``<site-packages>/<pkg>/.mim/configs``,
which an editable install does not have. :func:`enable_package_configs`
teaches mmengine's ``Config`` to resolve ``wsal::<path>`` to
:func:`packaged_config_dir` ``/ <path>`` (scope ``'wsal'``), for installed
and editable copies alike; every wsal entry point that loads a config calls it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple, Union

__all__ = ['PACKAGE_PREFIX', 'packaged_config_dir', 'resolve_config', 'enable_package_configs']

#: ``_base_`` entries starting with this name packaged configs.
PACKAGE_PREFIX = 'wsal::'


def packaged_config_dir() -> Path:
    """The ``configs/`` folder shipped with the package."""
    here = Path(__file__).resolve().parent.parent  # the wsal package
    mim = here / '.mim' / 'configs'
    if mim.is_dir():
        return mim
    return here.parent / 'configs'  # source checkout without the symlink


def _candidates(text: str) -> List[Path]:
    if text.startswith(PACKAGE_PREFIX):
        return [packaged_config_dir() / text[len(PACKAGE_PREFIX):]]
    p = Path(text).expanduser()
    out = [p]
    if not p.is_absolute():
        parts = p.parts
        rel = Path(*parts[1:]) if parts and parts[0] == 'configs' and len(parts) > 1 else p
        out.append(packaged_config_dir() / rel)
    return out


def resolve_config(config: Union[str, os.PathLike]) -> Path:
    """Path of ``config``: the file itself, else the packaged copy.

    ``configs/bm/bm_i3d_thumos14.py``, ``bm/bm_i3d_thumos14.py`` and
    ``wsal::bm/bm_i3d_thumos14.py`` all find the packaged config when no such
    file exists under the current directory.

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
    if text.startswith(PACKAGE_PREFIX):
        where = f' (looked for {cands[0]})'
    raise FileNotFoundError(f'config file not found: {text}{where}')


_ENABLED = False


def enable_package_configs() -> None:
    """Let mmengine's ``Config`` resolve ``_base_ = ['wsal::<path>']`` (idempotent).

    Wraps ``Config._get_cfg_path`` so that ``wsal::`` paths resolve to the
    packaged configs with scope ``'wsal'``; every other path goes to
    mmengine's own resolution unchanged.
    """
    global _ENABLED
    if _ENABLED:
        return
    from mmengine.config import Config
    original = Config._get_cfg_path

    def _get_cfg_path(cfg_path: str, filename: str) -> Tuple[str, Optional[str]]:
        if isinstance(cfg_path, str) and cfg_path.startswith(PACKAGE_PREFIX):
            return str(resolve_config(cfg_path)), 'wsal'
        return original(cfg_path, filename)

    Config._get_cfg_path = staticmethod(_get_cfg_path)
    _ENABLED = True
