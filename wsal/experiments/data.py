"""The synthetic data of an experiment: generated once per (preset, seed, options)."""
from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
import time
from typing import Any, Callable, Iterable, Mapping, Optional, Union

__all__ = ['ensure_synthetic_data', 'synthetic_data_dir', 'options_tag', 'seed_data_root',
           'check_seed_data_roots', 'data_description']

PathLike = Union[str, os.PathLike]


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x))


def options_tag(options: Mapping[str, Any]) -> str:
    """A short stable digest of generator options (folder names)."""
    text = json.dumps(dict(options), sort_keys=True)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]


def synthetic_data_dir(work_dir: PathLike, preset: str, seed: int,
                       options: Optional[Mapping[str, Any]] = None) -> str:
    """``<work_dir>/data/<preset>_seed<k>[_<options tag>]``."""
    opts = dict(options or {})
    name = f'{preset}_seed{seed}' + (f'_{options_tag(opts)}' if opts else '')
    return osp.join(os.fspath(work_dir), 'data', name)


def ensure_synthetic_data(root: PathLike, *, preset: str, seed: int,
                          generator_options: Optional[Mapping[str, Any]] = None,
                          log: Callable[[str], None] = print) -> str:
    """The synthetic data of ``(preset, seed, options)`` in ``root``, generated once.

    An existing folder is reused only when its ``synthetic.json`` records the
    same preset, seed and generator options (the generator writes atomically,
    so a folder with that file is complete); otherwise it is generated again.

    Args:
        root: Folder of the data set.
        preset: :mod:`wsal.datasets.synthetic` preset.
        seed: Generator seed.
        generator_options: Overrides of the generator's config fields.
        log: Progress printer.

    Returns:
        str: ``root``.
    """
    from wsal.datasets.synthetic import make_synthetic
    root = os.fspath(root)
    opts = dict(generator_options or {})
    meta_file = osp.join(root, 'synthetic.json')
    if osp.isfile(meta_file):
        with open(meta_file, encoding='utf-8') as fh:
            meta = json.load(fh)
        cfg = meta.get('config', {})
        same = meta.get('preset') == preset and meta.get('seed') == seed and all(
            _jsonable(cfg.get(k)) == _jsonable(v) for k, v in opts.items())
        if same:
            log(f'using synthetic data {root}')
            return root
    log(f'generating synthetic THUMOS14-structured data: preset {preset}, seed {seed}, '
        f'options {opts or "{}"} -> {root}')
    start = time.time()
    make_synthetic(root, preset=preset, seed=seed, overwrite=True, **opts)
    log(f'  generated in {time.time() - start:.0f}s')
    return root


def seed_data_root(*, seed: int, data_root: Optional[PathLike], work_dir: PathLike, preset: str,
                   generator_options: Optional[Mapping[str, Any]] = None,
                   log: Callable[[str], None] = print) -> str:
    """The data folder of one seed of an experiment.

    Args:
        seed: The seed (generator seed of synthetic data).
        data_root: User data, ``{seed}`` in it replaced by the seed; None
            generates (or reuses) the synthetic data of ``(preset, seed,
            generator_options)`` under ``<work_dir>/data/``.
        work_dir: The experiment's folder.
        preset: Synthetic preset (used without ``data_root``).
        generator_options: Generator overrides (used without ``data_root``).
        log: Progress printer of the generator.

    Returns:
        str: The folder (not checked to exist when it is user data).
    """
    if data_root is not None:
        return os.fspath(data_root).replace('{seed}', str(seed))
    return ensure_synthetic_data(
        synthetic_data_dir(work_dir, preset, seed, generator_options),
        preset=preset, seed=seed, generator_options=generator_options, log=log)


def check_seed_data_roots(data_root: PathLike, seeds: Iterable[int]) -> None:
    """Raise ``FileNotFoundError`` naming the first seed's user data folder that is missing.

    Args:
        data_root: User data, ``{seed}`` in it replaced by each seed.
        seeds: The seeds of the experiment.
    """
    for seed in seeds:
        root = os.fspath(data_root).replace('{seed}', str(seed))
        if not osp.isdir(root):
            raise FileNotFoundError(f'data root not found: {root} (--data-root)')


def data_description(*, data_root: Optional[PathLike], preset: str,
                     generator_options: Mapping[str, Any]) -> str:
    """One line naming an experiment's data, for its tables.

    Args:
        data_root: User data (as given, ``{seed}`` kept), or None for synthetic data.
        preset: Synthetic preset (used without ``data_root``).
        generator_options: Generator options in effect (used without ``data_root``).

    Returns:
        str: ``'user data <root>'`` or ``'synthetic THUMOS14-structured, preset
        <preset>, generator options <JSON>'``.
    """
    if data_root is not None:
        return f'user data {data_root}'
    return (f'synthetic THUMOS14-structured, preset {preset}, generator options '
            f'{json.dumps(generator_options, sort_keys=True)}')
