"""A config whose text is mmengine's plain rendering, without yapf.

mmengine's ``Config.pretty_text`` renders the config as Python source and then
runs yapf over it, and a Runner reads that text to log the config, to dump it
to the work dir and into the meta of every checkpoint it saves. yapf takes
0.2-0.5 s per call on the shipped configs (about half of a short run: a test,
a ``wsal ablate`` cell), while the rendering itself takes a few milliseconds
and is already valid Python with one item per line. :func:`with_plain_text`
switches the formatting off through mmengine's own ``format_python_code``
flag, which copies, deep copies and pickles keep: the same content, loadable
by ``Config.fromfile``, rendered on every read so the text always matches the
content.
"""
from __future__ import annotations

import copy

from mmengine.config import Config

__all__ = ['with_plain_text']


def with_plain_text(cfg):
    """``cfg`` with its text rendered without yapf (a shallow copy; ``cfg`` itself
    is left as it is). Anything that is not a ``Config`` is returned unchanged,
    and so is a config whose formatting is already off."""
    if not isinstance(cfg, Config) or not cfg._format_python_code:
        return cfg
    out = copy.copy(cfg)
    object.__setattr__(out, '_format_python_code', False)  # Config's own setattr writes keys
    return out
