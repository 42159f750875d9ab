"""Small shared helpers (atomic file output, JSON-safe values)."""
from .io import (atomic_directory, atomic_write, atomic_write_json, atomic_write_text, fsync_dir,
                 nonfinite_to_none)

__all__ = ['atomic_directory', 'atomic_write', 'atomic_write_json', 'atomic_write_text', 'fsync_dir',
           'nonfinite_to_none']
