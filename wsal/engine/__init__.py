"""wsal.engine: Runner integration (hooks, mmengine/torch compatibility, config lookup)."""
from .checkpoint_hook import AtomicCheckpointHook
from .compat import (CHECKPOINT_SAFE_GLOBALS, distributed_launcher, end_distributed,
                     load_checkpoint_file, prepare_distributed, safe_checkpoint_loading)
from .config_paths import packaged_config_dir, resolve_config
from .health_hook import LocalizationHealthHook
from .input_stats_hook import InputStatisticsHook
from .loss_curve_hook import LossCurveHook
from .progress_hook import ProgressHook
from .rng_hook import RNGStateHook
from .scopes import ENGINE_CHILDREN
from .train_progress_hook import TrainProgressHook

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'safe_checkpoint_loading', 'load_checkpoint_file',
    'prepare_distributed', 'end_distributed', 'distributed_launcher', 'packaged_config_dir',
    'resolve_config',
    'AtomicCheckpointHook', 'InputStatisticsHook', 'LocalizationHealthHook', 'LossCurveHook',
    'ProgressHook', 'RNGStateHook', 'TrainProgressHook',
]
