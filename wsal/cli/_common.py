"""Arguments and helpers shared by the Runner-based commands."""
from __future__ import annotations

import argparse


class _DictAction(argparse.Action):
    """``KEY=VALUE`` overrides read like mmengine's ``DictAction`` (imported when used, so
    ``--help`` stays light); an unreadable value stops the command with its name."""

    def __call__(self, parser, namespace, values, option_string=None):
        from wsal.apis.config_check import parse_override
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in values:
            try:
                key, value = parse_override(item, option=option_string)
            except ValueError as exc:
                parser.error(str(exc))
            options[key] = value
        setattr(namespace, self.dest, options)


def add_config_args(p: argparse.ArgumentParser, *, data_root: bool = True) -> None:
    """``CONFIG`` and the overrides every Runner command accepts."""
    if data_root:
        p.add_argument('--data-root', metavar='DIR', default=None,
                       help="replace every dataset's data_root (the folder with gt.json and features/)")
    p.add_argument('--cfg-options', nargs='+', action=_DictAction, metavar='KEY=VALUE', default=None,
                   help="override config entries, e.g. train_cfg.max_iters=2000 "
                   "'model.losses.bg.weight=0.2'")


def add_cell_args(p: argparse.ArgumentParser) -> None:
    """Options of the commands that run experiment cells (``ablate``, ``compare``):
    ``--threads``, ``--force``, ``--retest``, ``--postprocess-from``, plus the console
    options."""
    add_log_args(p)
    p.add_argument('--threads', type=int, default=1,
                   help='torch CPU threads (default 1: these small models train fastest on one)')
    p.add_argument('--force', action='store_true', help='re-run cells that already have results')
    p.add_argument('--retest', action='store_true',
                   help='test the final checkpoint of finished cells again (post-processing and '
                   'evaluators as the configs have them now; no training) and rewrite the tables')
    p.add_argument('--postprocess-from', metavar='ENTRY|CONFIG', default=None,
                   help="also score every cell's final checkpoint with the post-processing "
                   '(model.test_cfg) of this entry, Table 1 row (e.g. r8) or config, and add '
                   'that table: the model\'s and the post-processing\'s part of a gap apart')


def add_log_args(p: argparse.ArgumentParser) -> None:
    """``--log-level`` and ``-q/--quiet``: what the console shows (the log file keeps all)."""
    p.add_argument('--log-level', default=None, type=str.upper,
                   choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'],
                   help='console log level (default WARNING: progress, warnings and results; '
                   'INFO shows the full mmengine log, which always goes to the log file in the '
                   'work dir)')
    p.add_argument('-q', '--quiet', action='store_true',
                   help='no progress line; only errors and the final result on the console')
