"""A config whose text is mmengine's plain rendering, without yapf.

mmengine's ``Config.pretty_text`` renders the config as Python source and then
runs yapf over it, and a Runner reads that text to log the config, to dump it
to the work dir and into the meta of every checkpoint it saves. yapf takes
0.2-0.5 s per call on the shipped configs (about half of a short run: a test,
a ``wsal ablate`` cell), while the rendering itself takes a few milliseconds
and is already valid Python with one item per line. :class:`PlainTextConfig`
returns that rendering: the same content, loadable by ``Config.fromfile``,
recomputed on every read so the text always matches the content.
"""
from __future__ import annotations

import copy

from mmengine.config import Config

__all__ = ['PlainTextConfig', 'with_plain_text']


class PlainTextConfig(Config):
    """``Config`` whose ``pretty_text`` is mmengine's rendering with formatting off."""

    @property
    def pretty_text(self) -> str:
        if not self._format_python_code:
            return super().pretty_text
        plain = copy.copy(self)
        object.__setattr__(plain, '_format_python_code', False)
        return Config.pretty_text.fget(plain)


def with_plain_text(cfg):
    """``cfg`` as a :class:`PlainTextConfig` (a shallow copy; ``cfg`` itself is
    left as it is). Anything that is not a ``Config`` is returned unchanged."""
    if not isinstance(cfg, Config) or isinstance(cfg, PlainTextConfig):
        return cfg
    out = copy.copy(cfg)
    object.__setattr__(out, '__class__', PlainTextConfig)  # Config's own setattr writes keys
    return out
