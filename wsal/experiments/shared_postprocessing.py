"""Every entry of a campaign scored with one config's post-processing as well.

An entry's mAP mixes what its model learned with how its ``model.test_cfg``
turns the model's outputs into detections: STPN thresholds its T-CAM at fixed
levels, the background-aware configs threshold λ at its quantiles and score
by a contrast. A gap between two rows can therefore be a gap between two
post-processing pipelines. With a shared source (``wsal ablate
--postprocess-from r8``) a campaign also tests every cell's final checkpoint
with that one ``model.test_cfg`` and reports both numbers, so the model's part
and the post-processing's part of a difference can be read apart.

The shared result is stored in the cell's ``result.json`` under
:data:`SHARED_KEY` (``from``, ``test_cfg_sha256``, ``checkpoint``,
``detection``, ``test_seconds``) and reused while the source's
``model.test_cfg`` and the checkpoint are unchanged; the cell's own
``detection`` is left as it is. The test writes its logs to
``<cell>/shared_postprocessing/``.
"""
from __future__ import annotations

import copy
import json
import os.path as osp
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from wsal.utils import nonfinite_to_none

from .cell import json_digest

__all__ = ['SHARED_KEY', 'SharedPostprocessing', 'resolve_shared_postprocessing',
           'score_cell', 'shared_summary', 'shared_table']

#: Key of the shared-post-processing result in a cell's ``result.json``.
SHARED_KEY = 'shared_postprocessing'
#: Sub-folder of a cell where the shared test writes its logs.
FOLDER = 'shared_postprocessing'


@dataclass(frozen=True)
class SharedPostprocessing:
    """One ``model.test_cfg`` to score every entry of a campaign with.

    Attributes:
        label: How the tables name it: an entry key (``'r8'``) or the
            config's file name.
        test_cfg: The ``model.test_cfg`` (a plain dict).
        digest: SHA-256 of ``test_cfg`` (a stored result is reused while it
            matches).
    """

    label: str
    test_cfg: Dict[str, Any]
    digest: str


def resolve_shared_postprocessing(spec: str, *, configs: Mapping[str, Any],
                                  options: Optional[Mapping[str, Mapping[str, Any]]] = None
                                  ) -> SharedPostprocessing:
    """The post-processing named by ``spec``, checked against every entry before any work.

    Args:
        spec: An entry of the campaign (its config as the campaign trains
            it, overrides included), a Table 1 row key (``r1`` .. ``r8``), a
            method's short name (``bm``, ``stpn``, ...), or a config path or
            packaged name.
        configs: ``{entry key: Config}`` of the campaign's entries.
        options: ``{entry key: {key: value}}`` overrides of the entries
            (:func:`~.campaign.options_per_entry`); those of ``spec``'s entry
            apply to the source.

    Returns:
        SharedPostprocessing

    Raises:
        FileNotFoundError: ``spec`` is neither an entry, a row nor a config.
        ValueError: the source has no ``model.test_cfg``, or its
            post-processing reads an output an entry's model does not produce
            (:func:`~wsal.apis.inference.check_postprocessing_reads`), naming
            each such entry.
    """
    from wsal.apis.config_check import apply_overrides
    from wsal.apis.inference import check_postprocessing_reads

    from .config import load_method_config
    from .published import METHOD_CONFIGS
    from .table1 import ROWS
    spec = str(spec)
    if spec in configs:
        label, cfg = spec, copy.deepcopy(configs[spec])
        apply_overrides(cfg, dict((options or {}).get(spec) or {}))
    else:
        named = {**METHOD_CONFIGS, **{r.key: r.config for r in ROWS}}
        label = spec if spec in named else osp.basename(spec)
        cfg = load_method_config(named.get(spec, spec))
    test_cfg = cfg.model.get('test_cfg')
    if not test_cfg:
        raise ValueError(f'--postprocess-from {spec}: its config has no model.test_cfg')
    unread = []
    for key, entry in configs.items():
        try:
            check_postprocessing_reads(entry, cfg)
        except ValueError as exc:
            unread.append(f'{key}: {exc}')
    if unread:
        raise ValueError(f'--postprocess-from {spec}: its post-processing cannot score every '
                         f'entry; ' + '; '.join(unread))
    plain = json.loads(json.dumps(test_cfg.to_dict() if hasattr(test_cfg, 'to_dict')
                                  else dict(test_cfg), default=str))
    return SharedPostprocessing(label=label, test_cfg=plain, digest=json_digest(plain))


def score_cell(cell: Mapping[str, Any], *, shared: SharedPostprocessing, config: Any,
               result_file: str, name: str = '',
               log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Test a finished cell's final checkpoint with ``shared``'s post-processing.

    The result goes into the cell (key :data:`SHARED_KEY`) and its
    ``result.json`` is rewritten atomically. A stored result for the same
    source and checkpoint is reused.

    Args:
        cell: The cell result (:func:`~.cell.run_cell`).
        shared: What to score with.
        config: The entry's resolved config for this cell
            (:func:`~.config.experiment_config`, its work dir a folder of the
            cell's own); its ``model.test_cfg`` is replaced in a copy.
        result_file: The cell's ``result.json``.
        name: The cell in the progress line (``'r2 seed 0'``).
        log: Progress printer.

    Returns:
        dict: the cell with :data:`SHARED_KEY` set.

    Raises:
        FileNotFoundError: the cell's checkpoint is missing.
    """
    from wsal.apis.runner import run_test
    from wsal.utils import atomic_write_json
    ckpt = cell.get('checkpoint')
    stored = cell.get(SHARED_KEY) or {}
    if (stored.get('from') == shared.label and stored.get('test_cfg_sha256') == shared.digest
            and stored.get('checkpoint') == ckpt and stored.get('detection')):
        return dict(cell)
    if not ckpt or not osp.isfile(ckpt):
        raise FileNotFoundError(f'cannot score {result_file} with the post-processing of '
                                f'{shared.label}: its checkpoint {ckpt!r} is missing')
    cfg = copy.deepcopy(config)
    cfg.model.test_cfg = copy.deepcopy(shared.test_cfg)
    start = time.perf_counter()
    res = run_test(cfg, ckpt)
    if res.detection is None:
        raise ValueError(f'{result_file}: the test split gave no detection result')
    out = dict(cell)
    out[SHARED_KEY] = nonfinite_to_none({
        'from': shared.label, 'test_cfg_sha256': shared.digest, 'checkpoint': ckpt,
        'detection': res.detection.to_dict(), 'test_seconds': time.perf_counter() - start})
    atomic_write_json(result_file, out)
    d = out[SHARED_KEY]['detection']
    log(f'[{name or result_file}] scored with {shared.label}\'s post-processing: mAP@0.5 '
        f'{100 * d["mAP"][4]:.1f}, avg {100 * d["average_mAP"]:.1f} '
        f'(own {100 * cell["detection"]["mAP"][4]:.1f})')
    return out


def shared_summary(cells: Mapping[str, Mapping[int, Mapping[str, Any]]], *, label: str
                   ) -> Optional[Dict[str, Any]]:
    """Mean ± std over seeds of the shared-post-processing results, per entry.

    Args:
        cells: ``{entry key: {seed: cell result}}``; cells without a shared
            result from ``label`` are left out.
        label: The source's label.

    Returns:
        dict | None: ``{'from', 'tiou', 'rows': {key: {'name', 'seeds', 'mAP',
        'average_mAP', 'averages', 'own_mAP'}}, 'paired'}`` (as
        :func:`~.report.summarize`; ``own_mAP`` is the entry's own mAP over
        the same seeds), or None when no cell has one.
    """
    from .report import summarize
    scored = {key: {s: {**c, 'detection': c[SHARED_KEY]['detection']}
                    for s, c in by_seed.items()
                    if (c.get(SHARED_KEY) or {}).get('from') == label}
              for key, by_seed in cells.items()}
    scored = {k: v for k, v in scored.items() if v}
    if not scored:
        return None
    own = summarize({k: {s: cells[k][s] for s in v} for k, v in scored.items()})
    full = summarize(scored)
    rows = {}
    for key, row in full['rows'].items():
        rows[key] = {k: row[k] for k in ('name', 'seeds', 'mAP', 'average_mAP', 'averages')}
        rows[key]['own_mAP'] = own['rows'][key]['mAP']
    return {'from': label, 'tiou': full['tiou'], 'rows': rows, 'paired': full['paired']}


def shared_table(shared: Optional[Mapping[str, Any]], *,
                 labels: Mapping[str, str]) -> List[str]:
    """Markdown lines: each entry's mAP@0.5 with its own and with the shared post-processing.

    Args:
        shared: :func:`shared_summary` output (None: no lines).
        labels: Entry labels.
    """
    from .paired import cell_values, paired_table
    if not shared or not shared.get('rows'):
        return []
    idx = [i for i, t in enumerate(shared['tiou']) if abs(t - 0.5) < 1e-9]
    if not idx:
        return []
    i, src = idx[0], shared['from']

    def pm(stat: Mapping[str, Sequence[float]], n: int) -> str:
        text = f'{100 * stat["mean"][i]:.1f}'
        return text + (f' ± {100 * stat["std"][i]:.1f}' if n > 1 else '')

    lines = ['', f'The same final checkpoints scored with the post-processing of {src} (its '
             '`model.test_cfg`: proposals, scores, NMS) instead of their own, mAP@0.5 in '
             'percent, mean over seeds; the change is what the post-processing, not the '
             'model, accounts for:', '',
             f'| row | own | with {src}\'s | change | avg 0.1-0.7 with {src}\'s |',
             '|---|--:|--:|--:|--:|']
    for key, row in shared['rows'].items():
        n = len(row['seeds'])
        change = 100 * (row['mAP']['mean'][i] - row['own_mAP']['mean'][i])
        avg = row['averages'].get('0.1-0.7') or {}
        avg_text = 'n/a' if avg.get('mean') is None else f'{100 * avg["mean"]:.1f}'
        lines.append(f'| {labels.get(key, key)} | {pm(row["own_mAP"], n)} | {pm(row["mAP"], n)} '
                     f'| {change:+.1f} | {avg_text} |')
    lines += paired_table(cell_values(shared), labels=labels,
                          metric=f'mAP@0.5 with the post-processing of {src}')
    return lines
