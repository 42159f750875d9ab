"""``--postprocess-from``: every cell also scored with one config's post-processing."""
import json

import numpy as np
import pytest

from wsal.cli.main import main
from wsal import experiments as abl
from wsal.experiments.config import load_method_config
from wsal.experiments.shared_postprocessing import SHARED_KEY, resolve_shared_postprocessing

ROWS = ['r2', 'r8']
ITERS = 6
SEED = 4


def _ablate(work, *extra):
    return main(['ablate', '--preset', 'tiny', '--seeds', str(SEED), '--configs', *ROWS,
                 '--work-dir', str(work), '--iters', str(ITERS), '--no-figure', *extra])


@pytest.fixture(scope='module')
def shared_run(tmp_path_factory):
    work = tmp_path_factory.mktemp('shared_pp')
    assert _ablate(work, '--postprocess-from', 'r8') == 0
    return work


def test_every_cell_scored_with_the_source(shared_run):
    """STPN's checkpoint scored with r8's test_cfg equals a fresh test of it that way; r8's own
    post-processing is the source, so its two numbers are equal."""
    from wsal.apis.inference import with_test_cfg_of
    from wsal.apis.runner import run_test
    summary = json.loads((shared_run / 'ablation.json').read_text())
    shared = summary['shared_postprocessing']
    assert shared['from'] == 'r8' and list(shared['rows']) == ROWS
    assert summary['meta']['shared_postprocessing']['from'] == 'r8'
    r8 = json.loads((shared_run / f'seed{SEED}' / 'r8' / 'result.json').read_text())
    assert r8[SHARED_KEY]['detection']['mAP'] == r8['detection']['mAP']
    r2 = json.loads((shared_run / f'seed{SEED}' / 'r2' / 'result.json').read_text())
    assert r2[SHARED_KEY]['checkpoint'] == r2['checkpoint']
    cfg = with_test_cfg_of(abl.select_rows(['r2'])[0].config, abl.select_rows(['r8'])[0].config)
    cfg = abl.experiment_config(cfg, data_root=r2['settings']['data_root'],
                                work_dir=str(shared_run / 'again'), seed=SEED, iters=ITERS,
                                log_level='WARNING')
    again = run_test(cfg, r2['checkpoint'])
    assert np.allclose(again.detection.mAP, r2[SHARED_KEY]['detection']['mAP'], atol=1e-12)
    own = run_test(abl.experiment_config(
        abl.select_rows(['r2'])[0].config, data_root=r2['settings']['data_root'],
        work_dir=str(shared_run / 'own'), seed=SEED, iters=ITERS, log_level='WARNING'),
        r2['checkpoint'])
    assert np.allclose(own.detection.mAP, r2['detection']['mAP'], atol=1e-12)  # left as it was
    assert shared['rows']['r2']['mAP']['mean'] == pytest.approx(
        r2[SHARED_KEY]['detection']['mAP'])
    assert shared['rows']['r2']['own_mAP']['mean'] == pytest.approx(r2['detection']['mAP'])
    md = (shared_run / 'ablation.md').read_text()
    part = md.split('scored with the post-processing of r8')[1]
    line = next(x for x in part.splitlines() if x.startswith('| r2 '))
    cells = [c.strip(' |') for c in line.split(' | ')]
    own05, with05 = 100 * r2['detection']['mAP'][4], 100 * r2[SHARED_KEY]['detection']['mAP'][4]
    assert cells[1:4] == [f'{own05:.1f}', f'{with05:.1f}', f'{with05 - own05:+.1f}']


def test_stored_results_are_reused_until_the_source_changes(shared_run, capsys):
    path = shared_run / f'seed{SEED}' / 'r2' / 'result.json'
    assert _ablate(shared_run, '--postprocess-from', 'r8') == 0
    out = capsys.readouterr().out
    assert "scored with r8's" not in out and '] training' not in out
    # another source test_cfg (an override of r8's): scored again, not retrained
    assert _ablate(shared_run, '--postprocess-from', 'r8', '--cfg-options',
                   'r8:model.test_cfg.nms.iou_threshold=0.4') == 0
    out = capsys.readouterr().out
    assert '[r2 seed 4] done before' in out
    # r2 scored again; r8 trained again (its overrides changed) and scored
    assert "[r2 seed 4] scored with r8's" in out and "[r8 seed 4] scored with r8's" in out
    cell = json.loads(path.read_text())
    source = resolve_shared_postprocessing(
        'r8', configs={k: load_method_config(r.config)
                       for k, r in zip(ROWS, abl.select_rows(ROWS))},
        options={'r8': {'model.test_cfg.nms.iou_threshold': 0.4}})
    assert cell[SHARED_KEY]['test_cfg_sha256'] == source.digest
    assert source.test_cfg['nms']['iou_threshold'] == 0.4
    # without the flag the table is the same as before, and the stored result stays
    assert _ablate(shared_run) == 0
    assert 'scored with the post-processing' not in (shared_run / 'ablation.md').read_text()
    assert SHARED_KEY in json.loads(path.read_text())


def test_missing_checkpoint_names_the_cell(shared_run):
    path = shared_run / f'seed{SEED}' / 'r2' / 'result.json'
    before = path.read_text()
    cell = json.loads(before)
    cell.pop(SHARED_KEY)
    cell['checkpoint'] = str(shared_run / 'gone.pth')
    path.write_text(json.dumps(cell))
    try:
        with pytest.raises(FileNotFoundError, match=r'r2.result\.json.*checkpoint'):
            abl.run_ablation(work_dir=shared_run, preset='tiny', seeds=[SEED], rows=ROWS,
                             iters=ITERS, figure=False, postprocess_from='r8', log=print)
    finally:
        path.write_text(before)


def test_bad_sources_fail_before_any_work(tmp_path):
    with pytest.raises(FileNotFoundError):
        abl.run_ablation(work_dir=tmp_path / 'a', preset='tiny', seeds=[0], rows=ROWS, iters=2,
                         figure=False, postprocess_from='no/such_config.py', log=print)
    assert not (tmp_path / 'a').exists()
    # W-TALC's class-score post-processing reads class_scores, which STPN does not produce
    with pytest.raises(ValueError, match=r'stpn: .*wtalc_i3d_thumos14.py.*class_scores'):
        abl.run_compare(['stpn', 'wtalc'], work_dir=tmp_path / 'b', preset='tiny', seeds=[0],
                        iters=2, figure=False, postprocess_from='wtalc', log=print)
    assert not (tmp_path / 'b').exists()
    from mmengine.config import Config
    r2 = {'r2': load_method_config(abl.select_rows(['r2'])[0].config)}
    bm = resolve_shared_postprocessing('bm', configs=r2)   # a method's short name
    assert bm.label == 'bm' and bm.test_cfg == json.loads(json.dumps(
        load_method_config('bm/bm_i3d_thumos14.py').model.test_cfg.to_dict()))
    configs = {'x': Config(dict(model=dict(type='WeaklySupervisedLocalizer')))}
    with pytest.raises(ValueError, match='no model.test_cfg'):
        resolve_shared_postprocessing('x', configs=configs)


def test_sweep_reports_the_shared_post_processing_over_every_cell(tmp_path):
    work = tmp_path / 'sweep'
    assert main(['ablate', '--preset', 'tiny', '--seeds', '0', '--configs', 'r2', 'r8',
                 '--iters', '4', '--work-dir', str(work), '--postprocess-from', 'r8',
                 '--settings', 'base', 'noisy:frame_noise=2.0']) == 0
    sweep = json.loads((work / 'sweep.json').read_text())
    assert sweep['shared_postprocessing']['from'] == 'r8'
    cells = {(n, k): json.loads((work / n / 'seed0' / k / 'result.json').read_text())
             for n in ('base', 'noisy') for k in ('r2', 'r8')}
    diffs = [cells[(n, 'r8')][SHARED_KEY]['detection']['mAP'][4]
             - cells[(n, 'r2')][SHARED_KEY]['detection']['mAP'][4] for n in ('base', 'noisy')]
    pair = sweep['shared_postprocessing']['paired']['r8']['r2']
    assert pair['cells'] == 2 and pair['mean'] == pytest.approx(sum(diffs) / 2)
    md = (work / 'sweep.md').read_text()
    head = md.split('## Sweep over generator settings')[1].split('Settings:')[0]
    assert 'scored with the post-processing of r8' in head
    assert 'Paired differences of mAP@0.5 with the post-processing of r8' in head
    line = next(x for x in head.split('scored with the post-processing of r8')[1].splitlines()
                if x.startswith('| r2 '))
    shared = [100 * cells[(n, 'r2')][SHARED_KEY]['detection']['mAP'][4] for n in ('base', 'noisy')]
    assert [c.strip(' |') for c in line.split(' | ')][1:3] == [f'{v:.1f}' for v in shared]


def test_compare_reports_the_shared_post_processing(tmp_path):
    work = tmp_path / 'compare'
    assert main(['compare', 'stpn', 'bm', '--preset', 'tiny', '--seeds', '0', '--iters', '4',
                 '--work-dir', str(work), '--no-figure', '--postprocess-from', 'bm']) == 0
    summary = json.loads((work / 'compare.json').read_text())
    assert summary['shared_postprocessing']['from'] == 'bm'
    stpn = json.loads((work / 'seed0' / 'stpn' / 'result.json').read_text())
    bm = json.loads((work / 'seed0' / 'bm' / 'result.json').read_text())
    assert bm[SHARED_KEY]['detection']['mAP'] == bm['detection']['mAP']
    assert summary['shared_postprocessing']['rows']['stpn']['mAP']['mean'] == pytest.approx(
        stpn[SHARED_KEY]['detection']['mAP'])
    md = (work / 'compare.md').read_text()
    part = md.split("scored with the post-processing of bm")[1]
    name = summary['rows']['stpn']['name']
    assert any(line.startswith(f'| {name} | ') for line in part.splitlines())
