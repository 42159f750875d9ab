"""Find config files: as given, or among the configs shipped in the package.

Kept for ``wsal.engine`` users; the lookup lives in
:mod:`wsal.utils.config_files` (also used by ``wsal.build_model``).
"""
from __future__ import annotations

from wsal.utils.config_files import enable_package_configs, packaged_config_dir, resolve_config

__all__ = ['packaged_config_dir', 'resolve_config', 'enable_package_configs']
