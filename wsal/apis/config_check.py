"""Catch mistyped config keys before any Runner is built.

Two checks, both naming the full key and close matches:

* :func:`check_overrides`: ``--cfg-options`` keys against the loaded config
  (``train_cfg.max_iter=10`` -> did you mean ``train_cfg.max_iters``;
  ``model.losses.bgg.weight=0.2`` -> ``model.losses.bgg`` does not exist);
  :func:`apply_overrides` checks them and merges them in;
  :func:`parse_override` reads one ``KEY=VALUE`` of the command line.
* :func:`check_config_keys`: every component dict with a ``type`` against
  the keyword arguments of the class it names (a typo in a config file),
  the entries of a dict of components that lack a ``type``, and top-level
  keys one letter away from the Runner's.
"""
from __future__ import annotations

import difflib
import inspect
import re
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

__all__ = ['ConfigKeyError', 'apply_overrides', 'check_overrides', 'check_config_keys',
           'parse_override', 'RUNNER_KEYS']

#: Top-level keys the Runner (and wsal) read.
RUNNER_KEYS = (
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name', 'custom_imports',
    'model_wrapper_cfg', 'runner_type', 'console_log_level')

#: Keys of a dict that its builder reads besides its ``type``'s arguments:
#: mmengine's optimizer-wrapper constructor takes ``constructor`` and
#: ``paramwise_cfg`` (per-parameter lr and decay multipliers) out of
#: ``optim_wrapper`` before it builds the wrapper.
BUILDER_KEYS = {'optim_wrapper': ('constructor', 'paramwise_cfg')}


class ConfigKeyError(KeyError):
    """A config key that does not exist (message names the key and close matches)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def _close(word: str, options: Iterable[str], cutoff: float = 0.75) -> List[str]:
    return difflib.get_close_matches(word, [str(o) for o in options], n=3, cutoff=cutoff)


def _suggest(prefix: str, close: Sequence[str]) -> str:
    if not close:
        return ''
    return ' Did you mean: ' + ', '.join(f'{prefix}{c}' for c in close) + '?'


def parse_override(item: str, *, option: str = '--cfg-options') -> Tuple[str, Any]:
    """One command-line override: ``'a.b=[1,2]'`` -> ``('a.b', [1, 2])``.

    Values are read as mmengine's ``DictAction`` reads them: numbers,
    booleans, ``None``, strings, lists ``[a,b]`` and tuples ``(a,b)``. A dict
    is given field by field (``model.losses.mine.type=MyLoss
    model.losses.mine.weight=0.1``).

    Args:
        item: ``KEY=VALUE``.
        option: The option's name, for the error.

    Raises:
        ValueError: no ``=`` or no key, or a value that cannot be read (the
            message names the item).
    """
    key, sep, value = str(item).partition('=')
    if not sep or not key:
        raise ValueError(f"{option}: expected KEY=VALUE, got '{item}'")
    from mmengine.config import DictAction
    try:
        if re.fullmatch(r'\s*[A-Za-z_][\w.]*\s*\(.*\)\s*', value, flags=re.S):
            raise ValueError('a call is not a value')  # dict(...) would stay a string
        return key, DictAction._parse_iterable(value)
    except (AssertionError, RecursionError, ValueError, SyntaxError):
        raise ValueError(f"{option}: cannot read the value of '{item}'. Values are numbers, "
                         'strings, booleans, None, lists [a,b] or tuples (a,b); give a dict '
                         'field by field, e.g. model.losses.mine.type=MyLoss '
                         'model.losses.mine.weight=0.1') from None


def check_overrides(cfg, options: Optional[Mapping[str, Any]], *, source: str = 'cfg-options'
                    ) -> None:
    """Refuse ``a.b.c=v`` overrides whose path does not exist in ``cfg``.

    A missing intermediate key is an error (the override would create a dict
    the config never reads) unless the overrides name that new entry's
    ``type``: ``model.losses.margin.type=MarginLoss
    model.losses.margin.weight=0.1`` adds a loss term (a registered or a
    plugin's) from the command line. A missing key is an error when a key of
    the same dict is close to it (a typo), a new entry's included; a new,
    unrelated last key is allowed, and so is a keyword argument of the class a
    dict's ``type`` names, however close to a key of the dict
    (``model.head.classifier.background_logit`` beside ``background``). Below
    an entry the config switches off with ``None`` any keys are allowed: they
    define it anew (``model.losses.consensus.type=...``).

    Raises:
        ConfigKeyError: naming the full key and the close matches.
    """
    typed = {str(k)[:-len('.type')] for k in options or {} if str(k).endswith('.type')}
    for key in options or {}:
        parts = str(key).split('.')
        node: Any = cfg
        for depth, part in enumerate(parts):
            path = '.'.join(parts[:depth + 1])
            prefix = '.'.join(parts[:depth]) + '.' if depth else ''
            if isinstance(node, (list, tuple)) and part.lstrip('-').isdigit():
                idx = int(part)
                if not -len(node) <= idx < len(node):
                    raise ConfigKeyError(f'{source}: {key}: {prefix.rstrip(".")} has '
                                         f'{len(node)} entries, no [{idx}]')
                node = node[idx]
                continue
            if not _is_map(node):
                raise ConfigKeyError(f'{source}: {key}: {prefix.rstrip(".")} is a '
                                     f'{type(node).__name__}, not a dict')
            if part in node:
                node = node[part]
                if node is None and depth < len(parts) - 1:
                    break  # a switched-off entry, defined anew by the override
                continue
            last = depth == len(parts) - 1
            if part in BUILDER_KEYS.get(prefix.rstrip('.'), ()):
                break  # read by the builder, not by the type: its contents are its own
            type_name = node.get('type')
            if last and isinstance(type_name, str) and part in (_accepted(type_name) or ()):
                break  # an argument of the component's class that the config leaves at its default
            close = _close(part, node.keys())
            new_entry = any(t == path or t.startswith(path + '.') for t in typed)
            if (last or new_entry) and not close:
                break  # a new key (or a new entry with its type), unlike any existing one
            where = f'{prefix.rstrip(".")}' if prefix else 'the config'
            raise ConfigKeyError(f'{source}: {key}: {where} has no key {part!r} '
                                 f'(so {path} does not exist).{_suggest(prefix, close)}')


def apply_overrides(cfg, options: Optional[Mapping[str, Any]], *,
                    source: str = 'cfg-options') -> None:
    """Check ``a.b.c=v`` overrides (:func:`check_overrides`) and merge them into ``cfg``.

    An entry the config switches off with ``None`` (a loss term in a child
    config, say) is switched on again by naming its fields:
    ``model.losses.consensus.type=StreamConsensusLoss`` first turns that
    ``None`` into an empty dict, which mmengine's merge would otherwise refuse.

    Raises:
        ConfigKeyError: as :func:`check_overrides`.
    """
    if not options:
        return
    check_overrides(cfg, options, source=source)
    for key in options:
        parts = str(key).split('.')
        node: Any = cfg
        for part in parts[:-1]:
            if isinstance(node, (list, tuple)) and part.lstrip('-').isdigit():
                node = node[int(part)]
                continue
            if not _is_map(node) or part not in node:
                break
            if node[part] is None:
                node[part] = {}
            node = node[part]
    cfg.merge_from_dict(dict(options))


def _is_map(node: Any) -> bool:
    return isinstance(node, Mapping) or (hasattr(node, 'keys') and hasattr(node, '__getitem__')
                                         and hasattr(node, '__contains__'))


def _home_registry(path: str):
    """The wsal registry a ``type`` at ``path`` must resolve in (None: not checked)."""
    from wsal import registry as r
    if path.startswith('model.losses'):
        return r.LOSSES
    if path.startswith('model.test_cfg'):
        return r.POSTPROCESSORS
    if path.startswith('model'):
        return r.MODELS
    if path.startswith(('val_evaluator', 'test_evaluator')):
        return r.METRICS
    return None


def _registries():
    from mmengine.registry import LOOPS, OPTIM_WRAPPERS, OPTIMIZERS, PARAM_SCHEDULERS
    from wsal import registry as r
    return [r.MODELS, r.LOSSES, r.POSTPROCESSORS, r.METRICS, r.DATASETS, r.HOOKS, LOOPS,
            PARAM_SCHEDULERS, OPTIM_WRAPPERS, OPTIMIZERS]


def _accepted(type_name: str) -> Optional[List[str]]:
    """Keyword names the class/function registered as ``type_name`` accepts
    (None: unknown type, or it takes ``**kwargs``)."""
    for reg in _registries():
        try:
            obj = reg.get(type_name)
        except Exception:  # noqa: BLE001 - unknown scope prefix, failed plugin
            obj = None
        if obj is None:
            continue
        target = obj.__init__ if inspect.isclass(obj) else obj
        try:
            params = inspect.signature(target).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return [p.name for p in params if p.name != 'self']
    return None


def _walk(node: Any, path: str, errors: List[str]) -> None:
    if isinstance(node, Mapping):
        builder_keys = BUILDER_KEYS.get(path, ())
        type_name = node.get('type')
        home = _home_registry(path) if isinstance(type_name, str) else None
        if home is not None and not home._is_known(type_name):
            errors.append(f'{path}.type: {home.explain_missing(type_name)}')
        elif isinstance(type_name, str):
            accepted = _accepted(type_name)
            if accepted is not None:
                for k in node:
                    if k in ('type', '_scope_') or k in accepted or k in builder_keys:
                        continue
                    close = _close(str(k), accepted)
                    errors.append(f'{path}.{k}: {type_name} has no argument {k!r}.'
                                  f'{_suggest(path + ".", close)}')
        else:
            # a dict of components (e.g. model.losses): an entry without a type is a typo
            typed = [k for k, v in node.items() if isinstance(v, Mapping) and 'type' in v]
            if len(typed) >= 2:
                for k, v in node.items():
                    if isinstance(v, Mapping) and 'type' not in v:
                        close = _close(str(k), typed, cutoff=0.5)
                        errors.append(f"{path}.{k} has no 'type' (every other entry of {path} "
                                      f'names one).{_suggest(path + ".", close)}')
        for k, v in node.items():
            if k in builder_keys:
                continue  # not a component: the builder's own settings
            _walk(v, f'{path}.{k}' if path else str(k), errors)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            _walk(v, f'{path}[{i}]', errors)


def check_config_keys(cfg, *, name: str = 'config') -> None:
    """Check every component of ``cfg`` against what its class accepts.

    Raises:
        ConfigKeyError: listing each unknown key by its full path with close
            matches (the first 5).
    """
    imports = cfg.get('custom_imports')
    if isinstance(imports, Mapping) and imports.get('imports'):
        # the Runner imports them too: their types must be known to be checked
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**imports)
    errors: List[str] = []
    for key in cfg.keys():
        if key not in RUNNER_KEYS and not str(key).startswith('_'):
            close = _close(str(key), RUNNER_KEYS, cutoff=0.85)
            if close:
                errors.append(f'{key}: not a key the Runner reads.{_suggest("", close)}')
    for key in ('model', 'train_cfg', 'val_cfg', 'test_cfg', 'default_hooks', 'custom_hooks',
                'train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
                'test_evaluator', 'param_scheduler', 'optim_wrapper'):
        if key in cfg and cfg[key] is not None:
            _walk(cfg[key], key, errors)
    if errors:
        more = f' (+{len(errors) - 5} more)' if len(errors) > 5 else ''
        raise ConfigKeyError(f'{name}: unknown key(s): ' + ' '.join(errors[:5]) + more)
