"""wsal.apis: Python entry points beside the CLI (train, test, inference)."""
from .inference import init_localizer, load_config, localize, trace_videos
from .runner import EvalResult, build_runner, prepare_config, run_test, run_train, set_data_root

__all__ = ['init_localizer', 'localize', 'trace_videos', 'load_config', 'prepare_config',
           'set_data_root', 'build_runner', 'run_train', 'run_test', 'EvalResult']
