"""``wsal ablate``: a tiny end-to-end run (2 rows, 1 seed), resume, and the table logic."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from wsal.cli.main import main
from wsal import experiments as abl
from wsal.experiments import cell as abl_cell
from wsal.experiments import report as abl_report

ROWS = ['r2', 'r8']
ITERS = 6


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp('ablate')
    rc = main(['ablate', '--preset', 'tiny', '--seeds', '3', '--configs', *ROWS,
               '--work-dir', str(work), '--iters', str(ITERS), '--no-figure'])
    assert rc == 0
    return work


def test_outputs_structure(tiny_run):
    summary = json.loads((tiny_run / 'ablation.json').read_text())
    assert summary['tiou'] == pytest.approx([0.1 * i for i in range(1, 10)])
    assert list(summary['rows']) == ROWS
    assert summary['meta']['seeds'] == [3] and summary['meta']['iters'] == ITERS
    assert summary['meta']['complete'] is True
    # loss check marks come from the row configs: r2 = STPN (fg + sparsity), r8 = full model
    # (plus the cross-stream consensus term, which the background-aware rows carry)
    assert summary['rows']['r2']['marks'] == dict(fg=True, bg=False, guide=False, cluster=False,
                                                  sparsity=True, consensus=False)
    assert summary['rows']['r8']['marks'] == dict(fg=True, bg=True, guide=True, cluster=True,
                                                  sparsity=False, consensus=True)
    md = (tiny_run / 'ablation.md').read_text()
    header = next(line for line in md.splitlines() if line.startswith('| row | L_fg'))
    assert header.split(' | ')[1:7] == ['L_fg', 'L_bg', 'L_guide', 'L_cluster', 'L_sparse',
                                        'L_consensus']
    assert [c.strip(' |') for c in header.split(' | ')[7:16]] == [f'{0.1 * i:g}' for i in range(1, 10)]
    r2_line = next(line for line in md.splitlines() if line.startswith('| r2 '))
    assert r2_line.split(' | ')[1:7] == ['✓', '–', '–', '–', '✓', '–']
    assert 'λ in GT' in md and 'Failure flags per cell' in md and 'Highest mean mAP@0.5' in md
    assert 'targets' not in summary and 'Targets' not in md
    assert 'final checkpoint' in md
    # what the seed's video labels teach about where the actions are, read before training
    reading = json.loads((tiny_run / 'seed3' / 'data_reading.json').read_text())
    assert summary['meta']['data_readings'] == {'3': reading}
    assert set(reading['video_label_auc']) == {'all', 'rgb', 'flow'}
    assert f"- seed 3: {reading['video_label_auc']['all']:.2f} / " in md
    assert reading['reading'] in md


def test_numbers_come_from_the_run(tiny_run):
    """The table equals the cell results, and the cell equals a fresh test of its checkpoint."""
    from wsal.apis.runner import run_test
    summary = json.loads((tiny_run / 'ablation.json').read_text())
    md = (tiny_run / 'ablation.md').read_text()
    for key in ROWS:
        cell = json.loads((tiny_run / 'seed3' / key / 'result.json').read_text())
        assert cell['settings']['iters'] == ITERS and cell['settings']['train_seed'] == 3
        assert cell['train_seconds'] > 0 and os.path.isfile(cell['checkpoint'])
        assert np.allclose(summary['rows'][key]['mAP']['mean'], cell['detection']['mAP'])
        line = next(line for line in md.splitlines() if line.startswith(f'| {key} '))
        cells = [c.strip(' |') for c in line.split(' | ')]
        assert cells[7:16] == [f'{100 * m:.1f}' for m in cell['detection']['mAP']]
        assert set(abl_report.HEALTH_KEYS) <= set(cell['health'])
        assert 0.0 <= cell['health']['lambda_min'] <= cell['health']['lambda_max'] <= 1.0
        assert all(0.0 <= cell['health'][k] <= 1.0 for k in ('auc_class_lambda', 'auc_class_map'))
        lines = md.splitlines()   # one seed: the health table shows the cell's values
        start = next(i for i, x in enumerate(lines) if 'AUC per class, λ / class map' in x)
        health_line = next(x for x in lines[start:] if x.startswith(f'| {key} '))
        pair = f"{cell['health']['auc_class_lambda']:.3f} / {cell['health']['auc_class_map']:.3f}"
        assert f' | {pair} | ' in health_line
        assert cell['curves']['train'] and 'loss' in cell['curves']['train'][-1]
        assert cell['checkpoint_selection'] == 'final' and isinstance(cell['flags'], list)
        training = [f for f in cell['flags'] if f == 'not-converged' or f.startswith('idle:')]
        assert cell['flags'] == abl.cell_flags(cell['health'], None) + training
        assert {'rgb', 'flow', 'mean'} <= set(cell['attention'])
        assert cell['attention']['flow']['lambda_in'] == cell['health']['flow/lambda_in']
        row = abl.select_rows([key])[0]
        cfg = abl.experiment_config(row.config, data_root=cell['settings']['data_root'],
                                  work_dir=str(tiny_run / 'retest' / key), seed=3, iters=ITERS,
                                  log_level='WARNING')
        again = run_test(cfg, cell['checkpoint'])
        assert np.allclose(again.detection.mAP, cell['detection']['mAP'], atol=1e-12)
        assert again.metrics['health/lambda_in'] == pytest.approx(cell['health']['lambda_in'])
        diag = cell['detection']['diagnostics']  # recall and missed-instance breakdown
        assert diag['tiou'] == cell['detection']['tiou']
        assert diag['recall'] == again.detection.diagnostics['recall']
        assert again.metrics['detection/recall@0.5'] == pytest.approx(diag['recall'][4])
        line = next(x for x in md.split('Where recall is lost at tIoU 0.5')[1].splitlines()
                    if x.startswith(f'| {key} '))
        assert line.split(' | ')[1] == f"{100 * diag['recall'][4]:.1f}"


def test_retest_replaces_only_the_test_results(tiny_run, capsys):
    path = tiny_run / 'seed3' / 'r8' / 'result.json'
    before = json.loads(path.read_text())
    stale = dict(before, detection=dict(before['detection']))
    del stale['detection']['diagnostics']  # as written before the diagnostics existed
    path.write_text(json.dumps(stale))
    assert main(['ablate', '--preset', 'tiny', '--seeds', '3', '--configs', *ROWS,
                 '--work-dir', str(tiny_run), '--iters', str(ITERS), '--no-figure',
                 '--retest']) == 0
    out = capsys.readouterr().out
    assert '[r8 seed 3] tested again' in out and '] training' not in out
    after = json.loads(path.read_text())
    for key in ('settings', 'curves', 'train_seconds', 'checkpoint', 'flags'):
        assert after[key] == before[key]
    assert after['detection']['mAP'] == before['detection']['mAP']
    assert after['detection']['diagnostics'] == before['detection']['diagnostics']
    json.dump(dict(after, checkpoint=str(tiny_run / 'missing.pth')), path.open('w'))
    with pytest.raises(FileNotFoundError, match='cannot test again'):
        abl.run_ablation(work_dir=tiny_run, preset='tiny', seeds=[3], rows=['r8'], iters=ITERS,
                         figure=False, retest=True, log=print)
    path.write_text(json.dumps(after))


def test_resume_skips_finished_cells(tiny_run, capsys):
    cells = {k: tiny_run / 'seed3' / k / 'result.json' for k in ROWS}
    before = {k: p.stat().st_mtime_ns for k, p in cells.items()}
    cells['r8'].unlink()  # as if the ablation was killed while training r8
    summary = abl.run_ablation(work_dir=tiny_run, preset='tiny', seeds=[3], rows=ROWS,
                               iters=ITERS, figure=False, log=print)
    out = capsys.readouterr().out
    assert '[r2 seed 3] done before' in out and '[r8 seed 3] training' in out
    assert cells['r2'].stat().st_mtime_ns == before['r2']
    assert cells['r8'].is_file()
    assert summary['meta']['complete'] is True
    # other settings for the same cell: run again rather than reuse
    res = abl.run_cell(abl.select_rows(['r2'])[0], seed=3,
                       data_root=summary['meta']['data_roots']['3'],
                       cell_dir=str(tiny_run / 'seed3' / 'r2'), iters=ITERS + 1, preset='tiny',
                       generator_options=abl.PRESET_DEFAULTS['tiny']['generator_options'],
                       log_level='WARNING', log=print)
    assert res['settings']['iters'] == ITERS + 1
    assert 'has other settings' in capsys.readouterr().out


def _cell(key, seed, maps, lam_in=0.6):
    marks = {'r1': dict(fg=True), 'r2': dict(fg=True, sparsity=True),
             'r8': dict(fg=True, bg=True, guide=True, cluster=True)}[key]
    maps = [float(m) for m in maps]
    health = {k: 0.5 for k in abl_report.HEALTH_KEYS}
    health.update(lambda_in=lam_in, collapsed=0.0, saturated=float(seed == 1))
    return {'row': {'key': key, 'name': key, 'config': key}, 'marks': marks,
            'detection': {'tiou': [0.1 * i for i in range(1, 10)], 'mAP': maps,
                          'average_mAP': float(np.mean(maps)),
                          'averages': {'0.1-0.9': float(np.mean(maps)),
                                       '0.1-0.7': float(np.mean(maps[:7]))}},
            'health': health, 'classification_mAP': 0.9, 'train_seconds': 10.0 + seed,
            'seconds_per_iter': 0.01, 'num_test_videos': 4}


def test_summarize_mean_std_and_targets():
    base = np.linspace(0.5, 0.1, 9)
    cells = {'r1': {0: _cell('r1', 0, base * 0.5), 1: _cell('r1', 1, base * 0.7)},
             'r2': {0: _cell('r2', 0, base * 0.6), 1: _cell('r2', 1, base * 0.6)},
             'r8': {0: _cell('r8', 0, base), 1: _cell('r8', 1, base * 0.8, lam_in=0.8)}}
    s = abl.summarize(cells)
    assert list(s['rows']) == ['r1', 'r2', 'r8']
    r8 = s['rows']['r8']
    assert r8['mAP']['mean'][4] == pytest.approx(0.3 * 0.9)
    # sample std of (0.3, 0.24) = |0.3 - 0.24| / sqrt(2)
    assert r8['mAP']['std'][4] == pytest.approx(0.06 / np.sqrt(2))
    assert r8['health']['lambda_in']['mean'] == pytest.approx(0.7)
    assert r8['train_seconds']['mean'] == pytest.approx(10.5)
    assert abl_report.best_row(s) == 'r8'
    cells['r2'] = {0: _cell('r2', 0, base * 0.95), 1: _cell('r2', 1, base * 0.95)}
    assert abl_report.best_row(abl.summarize(cells)) == 'r2'
    s = abl.summarize(cells)
    # paired over seeds: r8 - r2 at tIoU 0.5 is 0.3 - 0.285 and 0.24 - 0.285
    pair = s['paired']['r8']['r2']
    assert pair['cells'] == 2 and pair['at_least'] == 1
    assert pair['mean'] == pytest.approx((0.3 + 0.24) / 2 - 0.285)
    md = abl.format_markdown(s)
    assert '| r8 r8 | ✓ | ✓ | ✓ | ✓ | – | – | 45.0 ± 7.1 |' in md
    assert '| r8 r8 | +9.0 [+3.0] 2/2 | -1.5 [-4.5] 1/2 | – |' in md
    assert '0 / 1 of 2' in md  # one of two seeds saturated


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="unknown ablation row 'r9'"):
        abl.select_rows(['r9'])
    assert [r.key for r in abl.select_rows(['r8_full_i3d_thumos14', 'r1'])] == ['r1', 'r8']
    assert main(['ablate', '--preset', 'tiny', '--seeds', '0', '--work-dir', str(tmp_path),
                 '--data-root', str(tmp_path / 'missing_{seed}')]) == 2
    with pytest.raises(ValueError, match='distinct'):
        abl.run_ablation(work_dir=tmp_path, preset='tiny', seeds=[1, 1])
    with pytest.raises(ValueError, match='generator options apply to generated data'):
        abl.run_ablation(work_dir=tmp_path / 'w', preset='tiny', seeds=[0], data_root=str(tmp_path),
                         generator_options={'context_rgb': 0.5})
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        abl.run_ablation(work_dir=tmp_path / 'w', preset='huge')
    assert not (tmp_path / 'w').exists()


def test_config_digest_follows_the_resolved_model(tmp_path, monkeypatch):
    """A cell is reused only while its row config (with its _base_ chain) is unchanged."""
    root = Path(abl.__file__).resolve().parents[2] / 'configs'
    r3 = abl_cell.config_digest('ablation/r3_fg-guide_i3d_thumos14.py')
    assert r3 == abl_cell.config_digest('ablation/r3_fg-guide_i3d_thumos14.py')
    assert r3 != abl_cell.config_digest('ablation/r5_fg-bg-guide_i3d_thumos14.py')
    edited = tmp_path / 'r3_edited.py'
    edited.write_text(f"_base_ = ['{root / 'ablation' / 'r3_fg-guide_i3d_thumos14.py'}']\n"
                      "model = dict(losses=dict(guide=dict(distance='l1')))\n")
    assert abl_cell.config_digest(str(edited)) != r3


def test_cell_flags():
    healthy = {'lambda_in': 0.6, 'lambda_out': 0.2, 'collapsed': 0.0, 'saturated': 0.0,
               'rgb/lambda_in': 0.7, 'rgb/lambda_out': 0.1, 'rgb/collapsed': 0.0,
               'rgb/saturated': 0.0, 'flow/lambda_in': 0.5, 'flow/lambda_out': 0.3,
               'flow/collapsed': 0.0, 'flow/saturated': 0.0}
    assert abl.cell_flags(healthy, [1.0] * 100) == []
    bad = dict(healthy, **{'flow/lambda_in': 0.17, 'flow/lambda_out': 0.43, 'rgb/saturated': 1.0})
    falling = list(np.linspace(2.0, 1.0, 100))  # last tenth ~9 % below the tenth before it
    assert abl.cell_flags(bad, falling) == ['inverted:flow', 'saturated:rgb', 'not-converged']
    assert abl.cell_flags(dict(healthy, collapsed=1.0)) == ['collapsed:mean']
    assert abl.cell_flags(healthy, [1.0] * 100, ['bg', 'cluster']) == ['idle:bg,cluster']
    assert abl.cell_flags(bad, falling, ['bg']) == ['inverted:flow', 'saturated:rgb',
                                                    'not-converged', 'idle:bg']
    q = ('lambda_p05', 'lambda_p25', 'lambda_p50', 'lambda_p75', 'lambda_p95')
    moving = [{'iter': i, **{f'health/{k}': 0.9 - 0.1 * (i == 16000) for k in q}}
              for i in (4000, 8000, 12000, 16000)]
    settled = [dict(r, **{f'health/{k}': 0.9 for k in q}) for r in moving]
    assert abl.cell_flags(healthy, [1.0] * 100, val_curve=moving) == ['not-converged:attention']
    assert abl.cell_flags(healthy, [1.0] * 100, val_curve=settled) == []
    assert abl.cell_flags(bad, falling, ['bg'], val_curve=moving) == [
        'inverted:flow', 'saturated:rgb', 'not-converged', 'not-converged:attention', 'idle:bg']
    # rgb's λ ranked the actions at 0.82 at 4000 iterations and at 0.66 at the end
    declined = [dict(r, **{'health/auc': a, 'health/rgb/auc': b, 'health/flow/auc': c})
                for r, a, b, c in zip(settled, (0.86, 0.88, 0.85, 0.84), (0.80, 0.82, 0.70, 0.66),
                                      (0.91, 0.94, 0.93, 0.92))]
    assert abl.cell_flags(healthy, [1.0] * 100, ['bg'], val_curve=declined) == [
        'declined:rgb', 'idle:bg']
    assert abl.cell_flags(healthy, [1.0] * 100, val_curve=declined[:2]) == []
    # the validated mAP@0.5 fell from 0.636 to 0.480 (W-TALC, forty-third generator)
    fell = [dict(r, **{'detection/mAP@0.5': m}) for r, m in zip(declined, (0.636, 0.598, 0.535,
                                                                        0.480))]
    assert abl.cell_flags(healthy, [1.0] * 100, val_curve=fell) == ['declined:rgb,mAP']
    held = [dict(r, **{'detection/mAP@0.5': m}) for r, m in zip(settled, (0.644, 0.652, 0.634,
                                                                        0.636))]
    assert abl.cell_flags(healthy, [1.0] * 100, val_curve=held) == []


def test_detection_declined_rule():
    from wsal.evaluation import detection_declined

    def curve(*values, key='detection/mAP@0.5'):
        return [{'iter': 2000 * (i + 1), key: v} for i, v in enumerate(values)]

    # the fall must exceed a tenth of the best earlier value and one point
    assert detection_declined(curve(0.636, 0.598, 0.535, 0.480)) is True     # 15.6 of 63.6
    assert detection_declined(curve(0.570, 0.636, 0.638, 0.598)) is False    # 4.0 of 63.8
    assert detection_declined(curve(0.638, 0.574)) is True                   # 6.4 of 63.8
    assert detection_declined(curve(0.120, 0.087, 0.080, 0.075)) is True     # 4.5 of 12.0
    assert detection_declined(curve(0.129, 0.120, 0.119, 0.118)) is False    # 1.1 of 12.9
    assert detection_declined(curve(0.050, 0.041)) is False                  # 18 %, 0.9 point
    assert detection_declined(curve(0.050, 0.041), absolute=0.005) is True
    assert detection_declined(curve(0.636, 0.598), relative=0.05) is True
    # the last validation by iteration, whatever the rows' order; only rows with the key
    rows = curve(0.636, 0.598, 0.535, 0.480)
    assert detection_declined(list(reversed(rows))) is True
    assert detection_declined(rows + [{'iter': 10000, 'health/auc': 0.9}]) is True
    assert detection_declined(rows + curve(0.7, key='detection/mAP@0.7')) is True
    assert detection_declined(rows, key='detection/mAP@0.7') is False
    assert detection_declined(rows[:1]) is False and detection_declined([]) is False
    assert detection_declined(curve(0.6, float('nan'), 0.3)) is True
    with pytest.raises(ValueError, match='must be >= 0'):
        detection_declined(rows, relative=-0.1)


def test_attention_declined_rule():
    from wsal.evaluation import attention_declined

    def row(it, mean, rgb, flow):
        return {'iter': it, 'health/auc': mean, 'health/rgb/auc': rgb, 'health/flow/auc': flow}

    curve = [row(4000, 0.90, 0.82, 0.94), row(8000, 0.86, 0.68, 0.93), row(12000, 0.85, 0.66, 0.92)]
    assert attention_declined(curve) == ['rgb']                    # 0.82 -> 0.66
    assert attention_declined(curve, tolerance=0.04) == ['mean', 'rgb']
    assert attention_declined(curve, tolerance=0.2) == []
    assert attention_declined(list(reversed(curve))) == ['rgb']    # order does not matter
    # a late peak counts as well as an early one; the last value is never its own reference
    rising = [row(4000, 0.70, 0.60, 0.80), row(8000, 0.75, 0.70, 0.81), row(12000, 0.80, 0.76, 0.82)]
    assert attention_declined(rising) == []
    dip = rising[:2] + [row(12000, 0.80, 0.64, 0.82)]
    assert attention_declined(dip) == ['rgb']                      # 0.70 -> 0.64
    assert attention_declined(curve[:1]) == []
    assert attention_declined([]) == []
    # rows without the key (or with a non-finite value) are skipped, not read as 0
    partial = [{'iter': 4000, 'health/rgb/auc': 0.9}, {'iter': 8000, 'health/rgb/auc': float('nan')},
               {'iter': 12000}]
    assert attention_declined(partial) == []
    with pytest.raises(ValueError, match='tolerance'):
        attention_declined(curve, tolerance=-0.1)


def test_attention_declined_reads_the_ranking_within_videos():
    from wsal.evaluation import attention_declined

    # pooled over videos rgb's AUC fell (λ's level moved between videos); within
    # each video it held, while flow's fell within the videos only
    def row(it, rgb_pooled, rgb_video, flow_pooled, flow_video):
        return {'iter': it, 'health/rgb/auc': rgb_pooled, 'health/rgb/auc_video': rgb_video,
                'health/flow/auc': flow_pooled, 'health/flow/auc_video': flow_video}

    curve = [row(4000, 0.85, 0.80, 0.90, 0.92), row(8000, 0.76, 0.81, 0.90, 0.84)]
    assert attention_declined(curve) == ['flow']
    assert attention_declined(curve, metric='auc') == ['rgb']
    # curves logged with the pooled AUC only are still read
    pooled = [{k: v for k, v in r.items() if not k.endswith('auc_video')} for r in curve]
    assert attention_declined(pooled) == ['rgb']
    with pytest.raises(ValueError, match='metric'):
        attention_declined(curve, metric='map')


def test_attention_still_moving_rule():
    from wsal.evaluation import attention_still_moving
    q = ('lambda_p05', 'lambda_p25', 'lambda_p50', 'lambda_p75', 'lambda_p95')

    def row(it, *values):
        return {'iter': it, **{f'health/{k}': v for k, v in zip(q, values)}}

    end = row(16000, 0.3, 0.5, 0.7, 0.9, 1.0)
    # the reference is the latest validation at or before 12000, not the first one
    curve = [row(4000, 1.0, 1.0, 1.0, 1.0, 1.0), row(12000, 0.32, 0.52, 0.72, 0.92, 1.0), end]
    assert attention_still_moving(curve) is False                  # mean shift 0.016
    assert attention_still_moving(curve, tolerance=0.01) is True
    assert attention_still_moving(curve, window=0.5) is True       # against 4000: 0.38
    assert attention_still_moving(list(reversed(curve))) is False  # order does not matter
    # 0.2 lower on p05..p75 over the last quarter: mean shift 0.16
    moved = [row(12000, 0.5, 0.7, 0.9, 1.0, 1.0), end]
    assert attention_still_moving(moved) is True
    assert attention_still_moving([row(14000, 0.5, 0.7, 0.9, 1.0, 1.0), end]) is None
    assert attention_still_moving([end]) is None
    assert attention_still_moving([]) is None
    # rows without the quantiles (e.g. a validation without health) are skipped
    assert attention_still_moving([{'iter': 12000, 'detection/mAP@0.5': 0.1}, end]) is None
    assert attention_still_moving([row(12000, float('nan'), 0.7, 0.9, 1.0, 1.0), end]) is None
    assert attention_still_moving([{'iter': 12000, **{k: 0.5 for k in q}},
                                   {'iter': 16000, **{k: 0.9 for k in q}}], prefix='') is True
    with pytest.raises(ValueError, match='window'):
        attention_still_moving(curve, window=1.0)
    with pytest.raises(ValueError, match='tolerance'):
        attention_still_moving(curve, tolerance=-0.1)


def test_terms_at_chance_rule():
    from wsal.evaluation import terms_at_chance
    chance = {'bg': ('loss_bg', 0.6), 'cluster': ('loss_cluster', 0.28)}
    # rows every 100 iterations to 2000: the last tenth is iterations 1801..2000
    curve = [{'iter': i, 'loss_bg': 0.1 if i <= 1800 else 0.59, 'loss_cluster': 0.28 - i * 1e-4}
             for i in range(100, 2001, 100)]
    assert terms_at_chance(curve, chance) == ['bg']              # 0.59 >= 0.95 * 0.6
    assert terms_at_chance(curve, chance, tolerance=0.0) == []   # 0.59 < 0.6
    assert terms_at_chance(curve, chance, window=0.5) == []      # mean over 1001..2000 is lower
    learned = [dict(r, loss_bg=0.05) for r in curve]
    assert terms_at_chance(learned, chance) == []
    assert terms_at_chance(curve, {'guide': ('loss_guide', 0.5)}) == []   # not in the curve
    assert terms_at_chance([], chance) == []
    with pytest.raises(ValueError, match='window'):
        terms_at_chance(curve, chance, window=0.0)
    with pytest.raises(ValueError, match='tolerance'):
        terms_at_chance(curve, chance, tolerance=1.0)


def test_sweep_settings_parsing(tmp_path):
    s = abl.parse_setting('flow_cue:actionness_flow=0.8,actionness_rgb=0.2,name_like="x"')
    assert s.name == 'flow_cue'
    assert s.options == {'actionness_flow': 0.8, 'actionness_rgb': 0.2, 'name_like': 'x'}
    assert abl.parse_setting('base').options == {}
    with pytest.raises(ValueError, match="expected key=value"):
        abl.parse_setting('a:b')
    with pytest.raises(ValueError, match='names a folder'):
        abl.parse_setting('../x:a=1')
    f = tmp_path / 'settings.json'
    f.write_text(json.dumps({'a': {'frame_noise': 0.5}, 'b': {}}))
    assert [x.name for x in abl.load_settings(f)] == ['a', 'b']
    py = tmp_path / 'settings.py'
    py.write_text("SETTINGS = {'c': dict(frame_noise=0.1)}\n")
    assert abl.load_settings(py)[0].options == {'frame_noise': 0.1}
    f.write_text('[1, 2]')
    with pytest.raises(ValueError, match='settings.json'):
        abl.load_settings(f)
    # an unknown generator option fails before any training
    assert main(['ablate', '--preset', 'tiny', '--seeds', '0', '--work-dir', str(tmp_path / 'w'),
                 '--settings', 'x:no_such_knob=1']) == 2
    assert not (tmp_path / 'w' / 'x').exists()


def test_sweep_end_to_end(tmp_path):
    """Two settings x one seed x one row: a table per setting and the summary."""
    work = tmp_path / 'sweep'
    rc = main(['ablate', '--preset', 'tiny', '--seeds', '0', '--configs', 'r2', '--iters', '4',
               '--work-dir', str(work), '--settings', 'base', 'noisy:frame_noise=2.0'])
    assert rc == 0
    sweep = json.loads((work / 'sweep.json').read_text())
    assert list(sweep['settings']) == ['base', 'noisy']
    assert sweep['settings']['noisy']['options'] == {'frame_noise': 2.0}
    for name in ('base', 'noisy'):
        cell = json.loads((work / name / 'seed0' / 'r2' / 'result.json').read_text())
        assert cell['settings']['generator_options']['frame_noise' if name == 'noisy' else
                                                     'num_micro_videos'] is not None
        mean = sweep['overview']['r2'][name]['mAP@0.5']
        assert mean == pytest.approx(cell['detection']['mAP'][4])
    md = (work / 'sweep.md').read_text()
    assert '## Sweep over generator settings' in md and 'Setting noisy' in md
    assert '| all cells |' in md
    # one row: no pairs
    assert sweep['paired'] == {}


def test_loss_still_falling_rule():
    from wsal.evaluation import loss_still_falling
    flat = [1.0] * 50
    assert loss_still_falling(flat) is False
    # 100 iterations: mean of 90..99 vs mean of 80..89
    losses = [2.0] * 80 + [1.0] * 10 + [0.94] * 10
    assert loss_still_falling(losses) is True          # 6 % below
    assert loss_still_falling(losses[:90] + [0.96] * 10) is False  # 4 % below
    assert loss_still_falling(losses, tolerance=0.1) is False
    assert loss_still_falling([1.0] * 4) is None        # shorter than one iteration per tenth
    assert loss_still_falling([0.0] * 20) is None       # no positive reference
    with pytest.raises(ValueError, match='window'):
        loss_still_falling(flat, window=0.0)


def test_user_data_root_interface(tiny_run, tmp_path):
    """``--data-root DIR``: cells hold detection.mAP and per-stream health; dims follow the data."""
    from wsal.evaluation import attention_still_moving
    summary = json.loads((tiny_run / 'ablation.json').read_text())
    data = summary['meta']['data_roots']['3']
    work = tmp_path / 'user'
    assert main(['ablate', '--data-root', data, '--seeds', '5', '--configs', 'r2', 'r8',
                 '--iters', '2', '--val-interval', '1', '--work-dir', str(work),
                 '--no-figure']) == 0
    # validation every iteration: a learning curve per row, in the JSON and the tables
    summary = json.loads((work / 'ablation.json').read_text())
    for key in ('r2', 'r8'):
        cell = json.loads((work / 'seed5' / key / 'result.json').read_text())
        curve = summary['rows'][key]['val_curve']
        assert curve['iters'] == [1, 2]
        assert curve['mean'][-1] == pytest.approx(cell['curves']['val'][-1]['detection/mAP@0.5'])
        # validated runs carry the label-free λ convergence rule as well
        moving = attention_still_moving(cell['curves']['val'])
        assert moving is not None
        assert ('not-converged:attention' in cell['flags']) == moving
    assert 'Learning curves: mAP@0.5 on the test split' in (work / 'ablation.md').read_text()
    for key in ('r2', 'r8'):
        cell = json.loads((work / 'seed5' / key / 'result.json').read_text())
        assert cell['detection']['tiou'][4] == pytest.approx(0.5)
        assert 0.0 <= cell['detection']['mAP'][4] <= 1.0
        for stream in ('rgb', 'flow'):
            assert f'{stream}/lambda_in' in cell['health'] and f'{stream}/saturated' in cell['health']
        assert cell['settings']['data_root'] == os.path.abspath(data)
        assert cell['settings']['preset'] is None
        dumped = next((work / 'seed5' / key).glob('*_i3d_thumos14.py')).read_text()
        assert 'rgb=32' in dumped.replace(' ', '')  # the tiny preset's 32-d features


def test_generated_cells_copied_from_another_work_dir_are_reused(tmp_path, capsys):
    """Generated data is named by preset, seed and options, not by the folder it lies in."""
    import shutil
    def args(work, *seeds):
        return ['ablate', '--preset', 'tiny', '--seeds', *map(str, seeds), '--configs', 'r1',
                '--work-dir', str(work), '--iters', '2', '--no-figure', '-q']
    assert main(args(tmp_path / 'a', 4)) == 0
    assert main(args(tmp_path / 'b', 5)) == 0
    shutil.copytree(tmp_path / 'b' / 'seed5', tmp_path / 'a' / 'seed5')
    capsys.readouterr()
    assert main(args(tmp_path / 'a', 4, 5)) == 0
    out = capsys.readouterr().out
    assert out.count('done before') == 2 and '] training' not in out
    # other generator options are other data: that cell runs again
    assert main(args(tmp_path / 'a', 5) + ['--generator-options', 'context_rgb=0.2']) == 0
    assert '] training' in capsys.readouterr().out


def test_cfg_options_per_row(tiny_run, tmp_path, capsys):
    """``--cfg-options [ROW:]KEY=VALUE``: applied to the rows named, recorded, part of the cell."""
    data = json.loads((tiny_run / 'ablation.json').read_text())['meta']['data_roots']['3']
    work = tmp_path / 'opts'

    def args(*extra):
        return ['ablate', '--data-root', data, '--seeds', '3', '--configs', 'r3', 'r8',
                '--iters', '2', '--work-dir', str(work), '--no-figure', *extra]

    assert main(args('--cfg-options', 'r8:model.losses.cluster=None',
                     'model.losses.guide.weight=0.2')) == 0
    r3, r8 = (json.loads((work / 'seed3' / k / 'result.json').read_text()) for k in ('r3', 'r8'))
    assert r8['marks']['cluster'] is False and r8['marks']['bg'] is True
    assert r8['settings']['cfg_options'] == {'model.losses.cluster': None,
                                             'model.losses.guide.weight': 0.2}
    assert r3['settings']['cfg_options'] == {'model.losses.guide.weight': 0.2}
    dumped = next((work / 'seed3' / 'r8').glob('*_i3d_thumos14.py')).read_text()
    assert "cluster=None" in dumped.replace(' ', '')
    summary = json.loads((work / 'ablation.json').read_text())
    assert summary['meta']['cfg_options']['r8']['model.losses.cluster'] is None
    md = (work / 'ablation.md').read_text()
    assert 'Config overrides: r3: `model.losses.guide.weight=0.2`' in md
    line = next(x for x in md.splitlines() if x.startswith('| r8 '))
    assert line.split(' | ')[1:7] == ['✓', '✓', '✓', '–', '–', '✓']  # L_cluster switched off
    capsys.readouterr()
    # the same options: reused; other options: that cell runs again
    assert main(args('--cfg-options', 'r8:model.losses.cluster=None',
                     'model.losses.guide.weight=0.2')) == 0
    assert capsys.readouterr().out.count('done before') == 2
    assert main(args('--cfg-options', 'model.losses.guide.weight=0.2')) == 0
    out = capsys.readouterr().out
    assert '[r3 seed 3] done before' in out and '[r8 seed 3] training' in out
    # a row that is not run: an error before any work
    assert main(args('--cfg-options', 'r5:model.losses.bg.weight=0.2')) == 2
    assert 'rows not run: r5' in capsys.readouterr().err
    with pytest.raises(ValueError, match='rows not run: r5'):
        abl.run_sweep(work_dir=tmp_path / 'sweep', settings=[abl.parse_setting('base')],
                      preset='tiny', seeds=[0], rows=['r2'], iters=2,
                      cfg_options={'r5': {'model.losses.bg.weight': 0.2}})
    assert not (tmp_path / 'sweep').exists()
