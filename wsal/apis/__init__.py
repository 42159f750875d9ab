"""wsal.apis: Python entry points beside the CLI (train, test, inference)."""
from .inference import (check_postprocessing_reads, init_localizer, load_config, localize,
                        trace_videos, video_items, with_test_cfg_of)
from .runner import (TEST_SELECTED, EvalResult, build_runner, checkpoint_selection,
                     prepare_config, run_test, run_train, set_data_root)
from .term_gradients import attention_term_gradients, classifier_term_gradients

__all__ = ['init_localizer', 'localize', 'video_items', 'trace_videos', 'load_config',
           'with_test_cfg_of', 'check_postprocessing_reads',
           'prepare_config', 'set_data_root', 'build_runner', 'run_train', 'run_test',
           'EvalResult', 'checkpoint_selection', 'TEST_SELECTED', 'attention_term_gradients',
           'classifier_term_gradients']
