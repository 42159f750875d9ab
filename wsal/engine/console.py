"""A Runner whose console shows only what the user asked for.

mmengine's Runner logs the environment, the whole config and the hook order
at INFO, to the console and to ``<work_dir>/<timestamp>/<timestamp>.log``
alike. :class:`ConsoleRunner` keeps the log file complete (INFO, or DEBUG when
asked) and gives the console its own level, ``console_log_level`` in the
config (default ``'WARNING'``): a run prints its progress line
(:class:`~wsal.engine.progress_hook.ProgressHook`), warnings and its result.
"""
from __future__ import annotations

import copy
import logging
import uuid
from typing import Optional, Set, Union

from mmengine.runner import Runner

from .config_text import with_plain_text

__all__ = ['ConsoleRunner', 'CONSOLE_LEVEL_KEY', 'DEFAULT_CONSOLE_LEVEL', 'LOG_LEVELS',
           'level_number', 'new_experiment_name']

#: Config key of the console's log level.
CONSOLE_LEVEL_KEY = 'console_log_level'
DEFAULT_CONSOLE_LEVEL = 'WARNING'
LOG_LEVELS = ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')


def level_number(level: Union[int, str, None], default: str = DEFAULT_CONSOLE_LEVEL) -> int:
    """``'warning'`` -> ``logging.WARNING``; raises ``ValueError`` naming the choices."""
    if level is None:
        level = default
    if isinstance(level, int):
        return level
    name = str(level).upper()
    if name not in LOG_LEVELS:
        raise ValueError(f'unknown log level {level!r}; choose one of {", ".join(LOG_LEVELS)}')
    return logging.getLevelName(name)


#: Experiment names made by :func:`new_experiment_name` in this process.
_GENERATED_NAMES: Set[str] = set()


def new_experiment_name(stem: str) -> str:
    """A name of its own for one runner (``<stem>_<random tag>``).

    The name stays out of the config copy the runner dumps to its work dir: a
    run started from that copy gets a name of its own too, instead of sharing
    the first run's logger and message hub when both start within the same
    second (mmengine adds the time to the second).
    """
    name = f'{stem}_{uuid.uuid4().hex[:8]}'
    _GENERATED_NAMES.add(name)
    return name


class _DropDeprecations(logging.Filter):
    """Keep mmengine's notices about its own deprecated internals off the console."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not ('will be deprecated' in msg or 'is the alias of' in msg)


class ConsoleRunner(Runner):
    """mmengine ``Runner`` with a console log level apart from the log file's.

    Its config's text is mmengine's rendering without yapf
    (:func:`~wsal.engine.config_text.with_plain_text`): the Runner reads it to
    log it, to dump it and for every checkpoint's meta.
    """

    def __init__(self, *args, cfg=None, **kwargs):
        super().__init__(*args, cfg=with_plain_text(cfg), **kwargs)

    def dump_config(self) -> None:
        """The config copy in the work dir, without an experiment name wsal made up."""
        if self.cfg.get('experiment_name') not in _GENERATED_NAMES:
            return super().dump_config()
        full = self.cfg
        trimmed = copy.deepcopy(full)
        trimmed.pop('experiment_name')
        self.cfg = trimmed
        try:
            return super().dump_config()
        finally:
            self.cfg = full

    def build_logger(self, log_level: Union[int, str] = 'INFO', log_file: Optional[str] = None,
                     **kwargs):
        """The Runner's logger: file at ``log_level`` (at least INFO), console at
        the config's ``console_log_level``."""
        cfg = getattr(self, 'cfg', None)
        console = level_number(cfg.get(CONSOLE_LEVEL_KEY) if cfg is not None else None)
        file_level = min(level_number(log_level, 'INFO'), logging.INFO, console)
        logger = super().build_logger(log_level=file_level, log_file=log_file, **kwargs)
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:  # noqa: E721 - not the FileHandler
                handler.setLevel(max(handler.level, console))
                if not any(isinstance(f, _DropDeprecations) for f in handler.filters):
                    handler.addFilter(_DropDeprecations())
        return logger
