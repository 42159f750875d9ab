"""Former home of the localizer; it now lives in :mod:`wsal.models.localizers`."""
from .localizers import StreamLocalizer, WeaklySupervisedLocalizer

__all__ = ['StreamLocalizer', 'WeaklySupervisedLocalizer']
