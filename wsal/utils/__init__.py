"""Small shared helpers (atomic file output)."""
from .io import atomic_write, atomic_write_json, atomic_write_text

__all__ = ['atomic_write', 'atomic_write_json', 'atomic_write_text']
