"""A config whose formatted text is computed once per content.

mmengine's ``Config.pretty_text`` runs yapf over the whole config every time it
is read, and a Runner reads it several times: to log the config, to dump it to
the work dir and into the meta of every checkpoint it saves. yapf takes
0.2-0.5 s per call on the shipped configs, so a short run (a test, a
``wsal ablate`` cell) spent about half of its time formatting the same text.
:class:`FormattedTextConfig` formats each distinct content once per process.
"""
from __future__ import annotations

import copy
from collections import OrderedDict

from mmengine.config import Config

__all__ = ['FormattedTextConfig', 'with_formatted_text_cache']

#: How many distinct config texts are kept formatted (least recently used out).
CACHE_SIZE = 64

_formatted: 'OrderedDict[str, str]' = OrderedDict()


class FormattedTextConfig(Config):
    """``Config`` whose ``pretty_text`` reuses the formatting of an identical text.

    The key is the unformatted text (mmengine's own rendering of the current
    content with formatting off, a few milliseconds), so a config changed
    after a read is formatted again: the text always matches the content.
    """

    @property
    def pretty_text(self) -> str:
        if not self._format_python_code:
            return super().pretty_text
        plain = copy.copy(self)
        object.__setattr__(plain, '_format_python_code', False)
        key = Config.pretty_text.fget(plain)
        text = _formatted.get(key)
        if text is None:
            text = super().pretty_text
            _formatted[key] = text
            while len(_formatted) > CACHE_SIZE:
                _formatted.popitem(last=False)
        else:
            _formatted.move_to_end(key)
        return text


def with_formatted_text_cache(cfg):
    """``cfg`` as a :class:`FormattedTextConfig` (a shallow copy; ``cfg`` itself is
    left as it is). Anything that is not a ``Config`` is returned unchanged."""
    if not isinstance(cfg, Config) or isinstance(cfg, FormattedTextConfig):
        return cfg
    out = copy.copy(cfg)
    object.__setattr__(out, '__class__', FormattedTextConfig)  # Config's own setattr writes keys
    return out
