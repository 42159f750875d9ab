"""Imports every metric module of :mod:`wsal.evaluation` so that their classes register.

``wsal.registry.METRICS`` imports this module on its first lookup;
``import wsal.evaluation`` alone stays free of torch and mmengine.
"""
from . import (attention_health, classification_metric, detection_metric,  # noqa: F401
               detection_records)
