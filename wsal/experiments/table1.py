"""The rows of the paper's Table 1 (loss ablation) and their loss check marks."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

__all__ = ['AblationRow', 'ROWS', 'LOSS_COLUMNS', 'select_rows', 'loss_marks']


@dataclass(frozen=True)
class AblationRow:
    """One row of Table 1: a key, its config (relative to ``configs/``) and a name."""

    key: str
    config: str
    name: str


#: Table 1 of the paper, top to bottom (its first row, STPN's L_fg-only
#: number, is r1; r2 is STPN itself).
ROWS: tuple = (
    AblationRow('r1', 'ablation/r1_fg_i3d_thumos14.py', 'fg'),
    AblationRow('r2', 'ablation/r2_fg-sparse_i3d_thumos14.py', 'STPN (fg+sparse)'),
    AblationRow('r3', 'ablation/r3_fg-guide_i3d_thumos14.py', 'fg+guide'),
    AblationRow('r4', 'ablation/r4_fg-bg_i3d_thumos14.py', 'fg+bg'),
    AblationRow('r5', 'ablation/r5_fg-bg-guide_i3d_thumos14.py', 'fg+bg+guide'),
    AblationRow('r6', 'ablation/r6_fg-bg-cluster_i3d_thumos14.py', 'fg+bg+cluster'),
    AblationRow('r7', 'ablation/r7_fg-guide-cluster_i3d_thumos14.py', 'fg+guide+cluster'),
    AblationRow('r8', 'ablation/r8_full_i3d_thumos14.py', 'full (fg+bg+guide+cluster)'),
)

#: (loss term name in ``model.losses``, column header): the paper's terms in
#: its order, STPN's sparsity, then the cross-stream consensus wsal adds.
LOSS_COLUMNS = (('fg', 'L_fg'), ('bg', 'L_bg'), ('guide', 'L_guide'),
                ('cluster', 'L_cluster'), ('sparsity', 'L_sparse'),
                ('consensus', 'L_consensus'))


def select_rows(keys: Optional[Sequence[str]] = None) -> List[AblationRow]:
    """Rows by key (``'r8'``), row config stem or config path; None: all of Table 1.

    Raises:
        ValueError: an unknown key (the message lists the known ones).
    """
    if not keys:
        return list(ROWS)
    by_key = {}
    for r in ROWS:
        for name in (r.key, Path(r.config).stem, r.config, 'configs/' + r.config):
            by_key[name] = r
    out = []
    for k in keys:
        if k not in by_key:
            raise ValueError(f"unknown ablation row '{k}'; choose from "
                             f"{', '.join(r.key for r in ROWS)} (or their config names)")
        if by_key[k] not in out:
            out.append(by_key[k])
    return sorted(out, key=ROWS.index)


def loss_marks(cfg) -> Dict[str, bool]:
    """``{term: on}`` for :data:`LOSS_COLUMNS` from a config's ``model.losses``."""
    losses = cfg['model'].get('losses') or {}
    return {name: losses.get(name) is not None for name, _ in LOSS_COLUMNS}
