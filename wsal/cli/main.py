"""Entry point of the ``wsal`` command line.

Each sub-command lives in its own module of :mod:`wsal.cli` exposing
``register(subparsers)`` (adds its parser and sets ``func``) so that importing
the CLI stays cheap: heavy imports happen inside the command functions.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import List, Optional

# order = order in ``wsal --help``
COMMANDS = [
    'wsal.cli.train',
    'wsal.cli.test',
    'wsal.cli.localize',
    'wsal.cli.demo',
    'wsal.cli.ablate',
    'wsal.cli.compare',
    'wsal.cli.eval_cmd',
    'wsal.cli.inspect_cmd',
    'wsal.cli.make_synthetic',
    'wsal.cli.convert',
    'wsal.cli.list_cmd',
]

#: Set to 1 to see the full traceback of an error the CLI would print as one line.
DEBUG_ENV = 'WSAL_DEBUG'


class CLIError(Exception):
    """An error to print as one clear line (exit code 2), without a traceback."""


def one_line(exc: BaseException, limit: int = 2000) -> str:
    """The message of ``exc`` on one line (whitespace runs collapsed)."""
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        msg = f'{exc.strerror}: {exc.filename}'
    text = ' '.join(str(msg).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _is_plugin_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a strict-mode plugin failure (without importing the
    registry: it has been imported if one was raised)."""
    registry = sys.modules.get('wsal.registry')
    return registry is not None and isinstance(exc, registry.PluginError)


def build_parser() -> argparse.ArgumentParser:
    from wsal import __version__
    parser = argparse.ArgumentParser(
        prog='wsal',
        description='Weakly-supervised temporal action localization with background modeling.')
    parser.add_argument('--version', action='version', version=f'wsal {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, 'func', None):
        parser.print_help()
        return 0
    try:
        ret = args.func(args)
    except (CLIError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
            ValueError, KeyError) as exc:
        # library errors are written to be read: show the message, not the stack
        if os.environ.get(DEBUG_ENV, '').strip() not in ('', '0'):
            raise
        print(f'wsal {args.command}: error: {one_line(exc)}', file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - only a plugin error is turned into one line
        if not _is_plugin_error(exc) or os.environ.get(DEBUG_ENV, '').strip() not in ('', '0'):
            raise
        print(f'wsal {args.command}: error: {one_line(exc)}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'wsal {args.command}: interrupted', file=sys.stderr)
        return 130
    return int(ret or 0)


if __name__ == '__main__':
    raise SystemExit(main())
