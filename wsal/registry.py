"""Registries of swappable wsal parts, ``build_*`` helpers and the plugin loader.

wsal keeps few registries, each with explicit ``scope='wsal'``:

* ``MODELS``: localizers, attention heads, pooling schemes, classifiers and
  clustering heads (child of mmengine's ``MODELS`` so the Runner finds them).
* ``LOSSES``: loss terms (standalone: mmengine allows one child per scope).
* ``POSTPROCESSORS``: proposal generators, proposal scorers, NMS variants and
  the detection pipeline (standalone).
* ``METRICS``: evaluators (child of mmengine's ``METRICS``).
* ``DATASETS``: feature datasets (child of mmengine's ``DATASETS``).
* ``HOOKS`` and ``FUNCTIONS``: Runner hooks and collate functions (children of
  mmengine's roots, needed so configs can name wsal's by string).

Third-party packages extend wsal through ``importlib.metadata`` entry points in
the group ``wsal.plugins``. They are imported lazily, on the first registry
lookup (never at ``import wsal``). A plugin that fails to import is reported
and skipped; set ``WSAL_PLUGINS_STRICT=1`` to make that fatal and
``WSAL_DISABLE_PLUGINS=1`` to skip plugin loading altogether.
"""
from __future__ import annotations

import difflib
import os
import sys
import threading
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Dict, List, Optional

import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

__all__ = [
    'MODELS', 'LOSSES', 'POSTPROCESSORS', 'METRICS', 'DATASETS', 'HOOKS',
    'FUNCTIONS', 'PLUGIN_GROUP', 'build_model', 'build_loss',
    'build_postprocessor', 'build_metric', 'build_dataset', 'build_component',
    'load_plugins', 'plugin_report', 'registered', 'RegistryKeyError',
]

PLUGIN_GROUP = 'wsal.plugins'
ENV_STRICT = 'WSAL_PLUGINS_STRICT'
ENV_DISABLE = 'WSAL_DISABLE_PLUGINS'


# --------------------------------------------------------------------------
# plugin loading
# --------------------------------------------------------------------------
@dataclass
class PluginRecord:
    """Outcome of loading one ``wsal.plugins`` entry point."""

    name: str
    value: str
    distribution: Optional[str]
    error: Optional[str] = None
    registered: List[str] = field(default_factory=list)


class _PluginState:
    def __init__(self) -> None:
        self.loaded = False
        self.loading = False
        self.lock = threading.RLock()
        self.records: List[PluginRecord] = []


_PLUGINS = _PluginState()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, '').strip().lower() not in ('', '0', 'false', 'no', 'off')


class PluginError(RuntimeError):
    """Raised for a broken plugin when ``WSAL_PLUGINS_STRICT`` is set.

    Its message is one line naming the entry point, its distribution and the
    plugin's own exception (type and message); the ``wsal`` command prints
    it as its error line and exits with status 2.
    """


def _one_line(text: str) -> str:
    return ' '.join(str(text).split())


def load_plugins(*, force: bool = False) -> List[PluginRecord]:
    """Import every entry point of the ``wsal.plugins`` group once.

    Called automatically on the first registry lookup. An entry point may name
    a module (imported for its registration side effects) or a callable
    (``pkg.mod:register``), which is called with no arguments.

    Args:
        force: Reload even if plugins were already loaded (tests use this
            after installing a distribution).

    With ``WSAL_DISABLE_PLUGINS`` set no entry point is imported, and the
    records returned are those of the plugins this process imported before
    the variable was set (none when it is set from the start).

    Returns:
        list[PluginRecord]: one record per entry point, with the error text for
        plugins that failed.

    Raises:
        PluginError: if a plugin fails and ``WSAL_PLUGINS_STRICT`` is set.
    """
    with _PLUGINS.lock:
        if (_PLUGINS.loaded and not force) or _PLUGINS.loading:
            return _PLUGINS.records
        if _env_flag(ENV_DISABLE):
            _PLUGINS.loaded = True
            return _PLUGINS.records
        _PLUGINS.loading = True
        records: List[PluginRecord] = []
        try:
            try:
                eps = metadata.entry_points(group=PLUGIN_GROUP)
            except Exception as exc:  # pragma: no cover - broken metadata
                warnings.warn(f'wsal: could not list {PLUGIN_GROUP} entry points: {exc}')
                eps = []
            seen = set()
            for ep in eps:
                key = (ep.name, ep.value)
                if key in seen:  # the same distribution on sys.path twice
                    continue
                seen.add(key)
                dist = getattr(getattr(ep, 'dist', None), 'name', None)
                rec = PluginRecord(name=ep.name, value=ep.value, distribution=dist)
                before = {r: set(reg._module_dict) for r, reg in _ALL.items()}
                try:
                    obj = ep.load()
                    if callable(obj) and not isinstance(obj, type(sys)):
                        obj()
                except Exception as exc:  # noqa: BLE001 - report any failure
                    rec.error = _one_line(f'{type(exc).__name__}: {exc}')
                    where = (f"wsal plugin '{ep.name}' ({ep.value}) from distribution "
                             f"'{dist}'")
                    if _env_flag(ENV_STRICT):
                        records.append(rec)
                        _PLUGINS.records = records
                        raise PluginError(
                            f'{where} failed to load: {rec.error} ({ENV_STRICT} is set, so a '
                            'broken plugin is fatal; unset it to skip the plugin with a '
                            'warning)') from None
                    warnings.warn(f'{where} failed to load and was skipped: {rec.error}',
                                  RuntimeWarning, stacklevel=2)
                for rname, reg in _ALL.items():
                    rec.registered += [f'{rname}.{k}' for k in reg._module_dict
                                       if k not in before[rname]]
                records.append(rec)
            _PLUGINS.records = records
            _PLUGINS.loaded = True
        finally:
            _PLUGINS.loading = False
        return records


def plugin_report() -> List[PluginRecord]:
    """Records of the plugins loaded so far (loads them if needed)."""
    return load_plugins()


# --------------------------------------------------------------------------
# registry class
# --------------------------------------------------------------------------
class RegistryKeyError(KeyError):
    """Unknown ``type`` in a config: names close matches and failed plugins."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0]) if self.args else ''


class WsalRegistry(Registry):
    """mmengine ``Registry`` that loads plugins lazily and explains misses."""

    def get(self, key: str):  # noqa: D102 - documented on Registry
        load_plugins()
        return super().get(key)

    def known_names(self) -> List[str]:
        """Names visible from this registry (its own and its ancestors')."""
        self.import_from_location()
        names, reg = set(), self
        while reg is not None:
            names |= set(reg._module_dict)
            reg = reg.parent
        return sorted(names)

    def explain_missing(self, key: str) -> str:
        """A message for an unknown ``type``: close matches and failed plugins."""
        load_plugins()
        own = set()
        self.import_from_location()
        own |= set(self._module_dict)
        everything = self.known_names()
        close = difflib.get_close_matches(key, everything, n=5, cutoff=0.5)
        msg = f"'{key}' is not registered in wsal's {self.name} registry (scope '{self.scope}')."
        if close:
            msg += ' Did you mean: ' + ', '.join(close) + '?'
        msg += ' wsal registers: ' + (', '.join(sorted(own)) or '(nothing)') + '.'
        failed = [r for r in _PLUGINS.records if r.error]
        if failed:
            msg += ' Plugins that failed to load: ' + '; '.join(
                f"'{r.name}' from '{r.distribution}' ({r.error})" for r in failed) + '.'
        return msg

    def build(self, cfg, *args, **kwargs):  # noqa: D102
        key = cfg.get('type') if isinstance(cfg, dict) else None
        if isinstance(key, str) and not self._is_known(key):
            raise RegistryKeyError(self.explain_missing(key))
        return super().build(cfg, *args, **kwargs)

    def _is_known(self, key: str) -> bool:
        """Whether ``key`` resolves in this registry (scoped names and ancestors included)."""
        try:
            return self.get(key) is not None
        except KeyError:  # mmengine raises for an unknown scope prefix
            return False


MODELS = WsalRegistry('model', parent=MMENGINE_MODELS, scope='wsal',
                      locations=['wsal.models'])
LOSSES = WsalRegistry('loss', scope='wsal', locations=['wsal.losses'])
POSTPROCESSORS = WsalRegistry('postprocessor', scope='wsal', locations=['wsal.postprocess'])
METRICS = WsalRegistry('metric', parent=MMENGINE_METRICS, scope='wsal',
                       locations=['wsal.evaluation', 'wsal.evaluation.registered'])
DATASETS = WsalRegistry('dataset', parent=MMENGINE_DATASETS, scope='wsal',
                        locations=['wsal.datasets'])
HOOKS = WsalRegistry('hook', parent=MMENGINE_HOOKS, scope='wsal', locations=['wsal.engine'])
FUNCTIONS = WsalRegistry('function', parent=MMENGINE_FUNCTIONS, scope='wsal',
                         locations=['wsal.datasets'])

_ALL: Dict[str, WsalRegistry] = {
    'MODELS': MODELS, 'LOSSES': LOSSES, 'POSTPROCESSORS': POSTPROCESSORS,
    'METRICS': METRICS, 'DATASETS': DATASETS, 'HOOKS': HOOKS, 'FUNCTIONS': FUNCTIONS,
}


# --------------------------------------------------------------------------
# build helpers
# --------------------------------------------------------------------------
def _as_plain_cfg(cfg: Any, outer_key: Optional[str]) -> dict:
    """Accept Config / ConfigDict / dict, with or without ``outer_key``."""
    if isinstance(cfg, Config):
        cfg = cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else dict(cfg)
    if not isinstance(cfg, dict):
        raise TypeError(f'expected a Config, ConfigDict or dict, got {type(cfg).__name__}')
    if outer_key is not None and 'type' not in cfg and outer_key in cfg:
        cfg = cfg[outer_key]
        if not isinstance(cfg, dict):
            raise TypeError(f"'{outer_key}' must be a dict, got {type(cfg).__name__}")
    if 'type' not in cfg:
        where = f" (nor a '{outer_key}' key holding one)" if outer_key else ''
        raise KeyError(f"config has no 'type' key{where}; keys: {sorted(cfg)}")
    out = ConfigDict(cfg) if not isinstance(cfg, ConfigDict) else cfg.copy()
    out.setdefault('_scope_', 'wsal')
    return out


def build_component(cfg: Any, registry: WsalRegistry, *, default_args: Optional[dict] = None,
                    outer_key: Optional[str] = None):
    """Build ``cfg`` from ``registry``, or pass an already built object through.

    Args:
        cfg: A ``Config``, ``ConfigDict``, dict with a ``type`` key, an
            ``nn.Module`` / any non-dict object (returned unchanged) or None.
        registry: The registry to build from.
        default_args: Arguments used where ``cfg`` does not set them.
        outer_key: Unwrap ``cfg[outer_key]`` when ``cfg`` has no ``type``.

    Returns:
        The built object (or ``cfg`` itself when it was not a config).
    """
    if cfg is None:
        return None
    if isinstance(cfg, nn.Module) or not isinstance(cfg, (dict, Config)):
        return cfg
    return registry.build(_as_plain_cfg(cfg, outer_key), default_args=default_args)


def build_model(cfg: Any, **default_args):
    """Build a localizer (or any ``MODELS`` part) from a config.

    Works with a ``Config`` loaded from ``configs/``, a ``ConfigDict`` or a
    plain dict, with or without the outer ``model=`` key, and inside host
    codebases that set their own mmengine default scope.

    A ``str`` or ``os.PathLike`` is a config file: a path, or a packaged
    config name (``'bm/bm_i3d_thumos14.py'``, ``'wsal::bm/bm_i3d_thumos14.py'``).

    Example:
        >>> model = build_model('bm/bm_i3d_thumos14.py')
        >>> from mmengine.config import Config
        >>> model = build_model(Config.fromfile('configs/bm/bm_i3d_thumos14.py'))
    """
    if isinstance(cfg, (str, os.PathLike)):
        from wsal.utils.config_files import enable_package_configs, resolve_config
        enable_package_configs()
        cfg = Config.fromfile(str(resolve_config(cfg)))
    if not isinstance(cfg, (dict, Config, nn.Module)):
        raise TypeError('build_model expects a config path or packaged config name, a '
                        'Config, ConfigDict or dict (or a built nn.Module), got '
                        f'{type(cfg).__name__}')
    return build_component(cfg, MODELS, default_args=default_args or None, outer_key='model')


def build_loss(cfg: Any, **default_args):
    """Build a loss term from ``LOSSES``."""
    return build_component(cfg, LOSSES, default_args=default_args or None)


def build_postprocessor(cfg: Any, **default_args):
    """Build a proposal generator, scorer, NMS or pipeline from ``POSTPROCESSORS``."""
    return build_component(cfg, POSTPROCESSORS, default_args=default_args or None)


def build_metric(cfg: Any, **default_args):
    """Build an evaluator from ``METRICS``."""
    return build_component(cfg, METRICS, default_args=default_args or None)


def build_dataset(cfg: Any, **default_args):
    """Build a dataset from ``DATASETS``."""
    return build_component(cfg, DATASETS, default_args=default_args or None)


def _providing_package(obj: Any) -> str:
    module = getattr(obj, '__module__', '') or ''
    top = module.split('.')[0]
    try:
        dists = metadata.packages_distributions().get(top)
    except Exception:  # pragma: no cover
        dists = None
    if dists:
        return dists[0]
    return top or '?'


def registered(registry_name: Optional[str] = None) -> Dict[str, Dict[str, str]]:
    """What is registered, per registry: ``{registry: {name: providing package}}``.

    Loads wsal's own modules and the plugins first.

    Raises:
        ValueError: ``registry_name`` is not one of wsal's registries.
    """
    if registry_name is not None and registry_name.upper() not in _ALL:
        raise ValueError(f"unknown registry '{registry_name}'; choose from {', '.join(_ALL)}")
    load_plugins()
    out: Dict[str, Dict[str, str]] = {}
    for rname, reg in _ALL.items():
        if registry_name is not None and rname != registry_name.upper():
            continue
        reg.import_from_location()
        out[rname] = {k: _providing_package(v) for k, v in sorted(reg._module_dict.items())}
    return out


def _import_all() -> None:
    """Import every wsal module that registers something."""
    for reg in _ALL.values():
        reg.import_from_location()
