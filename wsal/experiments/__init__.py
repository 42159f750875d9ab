"""wsal.experiments: experiments built from train / test runs (above :mod:`wsal.apis`).

* :func:`run_demo` — STPN vs the background-aware model on synthetic data (``wsal demo``);
* :func:`run_ablation` — the paper's Table 1 rows × seeds (``wsal ablate``);
* :func:`run_sweep` — the ablation over several synthetic-generator settings
  (``wsal ablate --settings``), with failure flags per cell;
* :func:`run_compare` — several methods on the same data and seeds, beside
  their published numbers (``wsal compare``).

They share one synthetic-data setup (:mod:`.data`), one config preparation
(:func:`experiment_config`), one train-and-test step (:func:`train_and_test`)
and one figure (:func:`save_models_figure`); the ablation and the comparison
are both a :class:`~.campaign.CellCampaign` (seeds × entries of cells, the
tables rewritten after every cell, one campaign per work dir).
"""
from .ablation import PRESET_DEFAULTS, run_ablation
from .compare import resolve_methods, run_compare
from .cell import CellRun, cell_flags, idle_terms, run_cell, train_and_test
from .config import SYNTHETIC_BASE, experiment_config
from .data import ensure_synthetic_data
from .demo import DEMO_METHODS, run_demo
from .figure import save_models_figure
from .published import METHOD_CONFIGS, PUBLISHED, PublishedResult, published_for
from .report import format_markdown, summarize
from .sweep import Setting, load_settings, parse_setting, run_sweep
from .table1 import LOSS_COLUMNS, ROWS, AblationRow, loss_marks, select_rows

__all__ = [
    'PRESET_DEFAULTS', 'run_ablation', 'CellRun', 'cell_flags', 'idle_terms', 'run_cell',
    'train_and_test', 'SYNTHETIC_BASE', 'experiment_config', 'ensure_synthetic_data',
    'DEMO_METHODS', 'run_demo',
    'save_models_figure', 'format_markdown', 'summarize', 'Setting', 'load_settings',
    'parse_setting', 'run_sweep', 'LOSS_COLUMNS', 'ROWS', 'AblationRow', 'loss_marks',
    'select_rows', 'run_compare', 'resolve_methods', 'METHOD_CONFIGS', 'PUBLISHED',
    'PublishedResult', 'published_for',
]
