"""``wsal compare``: two methods end to end on tiny data, resume, re-runs, and the parsing."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from wsal.cli.main import main
from wsal.engine.config_paths import packaged_config_dir
from wsal.experiments import compare as cmp
from wsal.experiments.published import PUBLISHED, PUBLISHED_LABEL, published_for

ITERS = 4
#: W-TALC on tiny data: a narrow embedding keeps the run short; its batches
#: (class pairs, snippet crops) still come from its config.
WTALC_OPTS = ['wtalc:model.head.embedding.out_channels=64', 'wtalc:train_dataloader.batch_size=4']


def _user_config(folder: Path, weight: float) -> Path:
    """A user's method config inheriting the packaged STPN config by absolute path."""
    base = packaged_config_dir() / 'stpn' / 'stpn_i3d_thumos14.py'
    path = folder / 'my_stpn.py'
    path.write_text(f'_base_ = [{str(base)!r}]\n'
                    f'model = dict(losses=dict(sparsity=dict(weight={weight})))\n')
    return path


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp('compare')
    user = _user_config(work, 1e-4)
    rc = main(['compare', str(user), 'wtalc', '--preset', 'tiny', '--seeds', '5',
               '--iters', str(ITERS), '--cfg-options', *WTALC_OPTS, '--val-interval', '2',
               '--work-dir', str(work / 'run'), '--no-figure'])
    assert rc == 0
    return work


def test_outputs(tiny_run):
    run = tiny_run / 'run'
    summary = json.loads((run / 'compare.json').read_text())
    assert summary['tiou'] == pytest.approx([0.1 * i for i in range(1, 10)])
    assert list(summary['rows']) == ['my_stpn', 'wtalc']
    meta = summary['meta']
    assert meta['seeds'] == [5] and meta['iters'] == {'my_stpn': ITERS, 'wtalc': ITERS}
    assert meta['complete'] is True and meta['published'] == PUBLISHED_LABEL
    assert meta['cfg_options']['wtalc'] == {'model.head.embedding.out_channels': 64,
                                            'train_dataloader.batch_size': 4}
    # the user's config has no published number; W-TALC has the paper's
    assert summary['published'] == {'my_stpn': None, 'wtalc': PUBLISHED['wtalc'].to_dict()}
    for key in ('my_stpn', 'wtalc'):
        row = summary['rows'][key]
        cell = json.loads((run / 'seed5' / key / 'result.json').read_text())
        assert np.allclose(row['mAP']['mean'], cell['detection']['mAP'])
        assert set(row['averages']) >= {'0.1-0.7', '0.1-0.9'}
        assert isinstance(row['flags']['5'], list)
        assert cell['settings']['kind'] == 'compare' and cell['settings']['iters'] == ITERS
        assert os.path.isfile(cell['checkpoint'])
        # --val-interval 2: a learning-curve point at iterations 2 and 4
        assert row['val_curve']['iters'] == [2, 4]
        assert row['val_curve']['mean'][-1] == pytest.approx(
            cell['curves']['val'][-1]['detection/mAP@0.5'])
    md = (run / 'compare.md').read_text()
    assert 'Learning curves: mAP@0.5 on the test split' in md
    reading = summary['meta']['data_readings']['5']
    assert reading == json.loads((run / 'seed5' / 'data_reading.json').read_text())
    assert f"- seed 5: {reading['video_label_auc']['all']:.2f} / " in md
    lines = md.splitlines()
    header = next(line for line in lines if line.startswith('| method | 0.1'))
    assert [c.strip(' |') for c in header.split(' | ')[1:]] == \
        [f'{0.1 * i:g}' for i in range(1, 10)] + ['avg 0.1-0.7', 'avg 0.1-0.9']
    i = next(i for i, line in enumerate(lines) if line.startswith('| W-TALC (`wtalc`)'))
    published = lines[i + 1]
    assert published.startswith(f'| ↳ {PUBLISHED_LABEL} | 55.2 | 49.6 | 40.1 | 31.1 | 22.8 | – ')
    measured = [c.strip(' |') for c in lines[i].split(' | ')[1:10]]
    assert measured == [f'{100 * v:.1f}' for v in summary['rows']['wtalc']['mAP']['mean']]
    assert 'Failure flags per cell' in md and 'frame AUC' in md
    assert 'Where recall is lost at tIoU 0.5' in md
    assert '`wtalc`: `model.head.embedding.out_channels=64`' in md


def test_resume_reuses_cells_and_a_changed_config_reruns_its_cell(tiny_run, capsys):
    run = tiny_run / 'run'
    files = {k: run / 'seed5' / k / 'result.json' for k in ('my_stpn', 'wtalc')}
    before = {k: f.stat().st_mtime_ns for k, f in files.items()}
    user = tiny_run / 'my_stpn.py'
    args = ['compare', str(user), 'wtalc', '--preset', 'tiny', '--seeds', '5', '--iters',
            str(ITERS), '--cfg-options', *WTALC_OPTS, '--work-dir', str(run), '--no-figure']
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count('done before') == 2
    assert {k: f.stat().st_mtime_ns for k, f in files.items()} == before
    # editing the user's config re-runs its cell only
    _user_config(tiny_run, 0.5)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert '[my_stpn seed 5] ' in out and 'has other settings; running again' in out
    assert '[wtalc seed 5] done before' in out
    assert files['my_stpn'].stat().st_mtime_ns != before['my_stpn']
    assert files['wtalc'].stat().st_mtime_ns == before['wtalc']
    # so does a changed override of one method
    args[args.index('wtalc:train_dataloader.batch_size=4')] = 'wtalc:train_dataloader.batch_size=2'
    assert main(args) == 0
    out = capsys.readouterr().out
    assert '[my_stpn seed 5] done before' in out
    assert '[wtalc seed 5]' in out and out.count('running again') == 1
    cell = json.loads(files['wtalc'].read_text())
    assert cell['settings']['cfg_options']['train_dataloader.batch_size'] == 2


def test_cells_run_in_another_folder_are_reused(tmp_path, capsys):
    """Seeds run as separate processes (other work dirs) merge into one comparison."""
    import shutil
    data = tmp_path / 'data'
    for seed in (7, 8):
        assert main(['make-synthetic', str(data / f'seed{seed}'), '--preset', 'tiny',
                     '--seed', str(seed)]) == 0

    def args(work, *seeds):
        return ['compare', 'stpn', '--data-root', str(data / 'seed{seed}'), '--seeds',
                *map(str, seeds), '--iters', '3', '--work-dir', str(work), '--no-figure', '-q']
    assert main(args(tmp_path / 'a', 7)) == 0
    assert main(args(tmp_path / 'b', 8)) == 0
    shutil.copytree(tmp_path / 'b' / 'seed8', tmp_path / 'a' / 'seed8')
    capsys.readouterr()
    assert main(args(tmp_path / 'a', 7, 8)) == 0
    out = capsys.readouterr().out
    assert out.count('done before') == 2 and '] training' not in out
    summary = json.loads((tmp_path / 'a' / 'compare.json').read_text())
    assert summary['rows']['stpn']['seeds'] == [7, 8] and summary['meta']['complete']


def test_methods_keep_their_batches(tmp_path):
    """The experiment config keeps each method's batch size, sampler and collate."""
    from wsal.datasets.synthetic import make_synthetic
    from wsal.experiments.config import experiment_config
    data = make_synthetic(tmp_path / 'tiny', 'tiny', seed=0)
    cfg = experiment_config('wtalc/wtalc_i3d_thumos14.py', data_root=str(data),
                            work_dir=str(tmp_path / 'w'), seed=0, iters=3)
    loader = cfg.train_dataloader
    assert loader.batch_size == 10 and loader.sampler.type == 'ClassPairSampler'
    assert loader.collate_fn.num_segments == 750 and loader.collate_fn.mode == 'crop'
    assert loader.num_workers == 0                       # the rest from the synthetic base
    assert cfg.model.streams == {'rgb': 32, 'flow': 32}  # dims follow the data
    stpn = experiment_config('stpn/stpn_i3d_thumos14.py', data_root=str(data),
                             work_dir=str(tmp_path / 's'), seed=0, iters=3)
    assert stpn.train_dataloader.batch_size == 1
    assert stpn.train_dataloader.sampler.type == 'InfiniteSampler'


def test_parsing_and_errors(tmp_path):
    assert cmp.parse_iters([]) is None
    assert cmp.parse_iters(['300']) == 300
    assert cmp.parse_iters(['300', 'stpn=1500']) == {'*': 300, 'stpn': 1500}
    with pytest.raises(ValueError, match='METHOD=N'):
        cmp.parse_iters(['many'])
    with pytest.raises(ValueError, match='>= 1'):
        cmp.parse_iters(['stpn=0'])
    assert cmp.parse_cfg_options(['a.b=4', 'um:c.d=[1,2]', 'um:e=None']) == \
        {'*': {'a.b': 4}, 'um': {'c.d': [1, 2], 'e': None}}
    with pytest.raises(ValueError, match='KEY=VALUE'):
        cmp.parse_cfg_options(['um:a.b'])
    um = str(Path(__file__).resolve().parents[2] / 'configs' / 'um' / 'um_i3d_thumos14.py')
    methods = cmp.resolve_methods(['stpn', 'basnet/basnet_i3d_thumos14.py', um])
    assert [(m.key, m.name) for m in methods] == [('stpn', 'STPN'), ('basnet', 'BaS-Net'),
                                                  ('um', 'UM')]
    with pytest.raises(ValueError, match="unknown method or config 'nosuch'.*stpn, bm, wtalc"):
        cmp.resolve_methods(['nosuch'])
    with pytest.raises(ValueError, match='given twice'):
        cmp.resolve_methods(['stpn', 'stpn/stpn_i3d_thumos14.py'])
    with pytest.raises(ValueError, match='not compared: cola'):
        cmp.run_compare(['stpn'], work_dir=tmp_path, preset='tiny', iters={'cola': 3})
    with pytest.raises(ValueError, match='not compared: um'):
        cmp.run_compare(['stpn'], work_dir=tmp_path, preset='tiny',
                        cfg_options={'um': {'a': 1}})
    with pytest.raises(FileNotFoundError, match='nowhere'):
        cmp.run_compare(['stpn'], work_dir=tmp_path, data_root=str(tmp_path / 'nowhere'))
    assert not any(tmp_path.iterdir())                 # nothing written before the checks
    # the CLI prints the error as one line
    assert main(['compare', 'nosuch', '--work-dir', str(tmp_path / 'w')]) == 2


def test_published_numbers():
    for key in ('stpn', 'bm', 'wtalc', 'basnet', 'um', 'cola'):
        pub = published_for(key)
        assert pub is PUBLISHED[key] and pub.at(0.5) is not None
        assert published_for(cmp.METHOD_CONFIGS[key]) is pub
    assert PUBLISHED['stpn'].at(0.5) == 16.9 and PUBLISHED['bm'].at(0.5) == 26.8
    assert PUBLISHED['wtalc'].at(0.6) is None


def test_published_number_from_config_metadata(tmp_path):
    path = tmp_path / 'mine.py'
    path.write_text("paper_result = dict(method='Mine', source='Me, 2030', "
                    "ap={0.5: 40.0, 0.7: 20.0})\n")
    pub = published_for(str(path))
    assert pub.method == 'Mine' and pub.at(0.5) == 40.0 and pub.at(0.1) is None
    path.write_text("paper_result = dict(source='Me, 2030')\n")
    with pytest.raises(ValueError, match='paper_result must be'):
        published_for(str(path))


def test_progress_per_cell_and_overall_and_quiet(tmp_path, capsys):
    args = ['compare', 'stpn', '--preset', 'tiny', '--seeds', '0', '--iters', '2',
            '--work-dir', str(tmp_path), '--no-figure']
    assert main(args) == 0
    err = capsys.readouterr().err
    assert '[stpn seed 0] train 2/2' in err and '| compare 2/2' in err
    assert main(args + ['-q']) == 0  # quiet is no setting of a cell: it is reused
    out, err = capsys.readouterr()
    assert '[stpn seed 0] done before' in out and err == ''
    assert main(args + ['-q', '--force', '--log-level', 'error']) == 0
    out, err = capsys.readouterr()
    assert '[stpn seed 0] training' in out and err == ''


def test_configs_are_read_at_launch(tmp_path):
    """A config edited while cells wait does not change them: each run trains what was launched."""
    user = _user_config(tmp_path, 1e-4)
    edited = []

    def log(line: str) -> None:
        if 'mAP@0.5' in line and not edited:   # the first cell has finished: edit the config
            _user_config(tmp_path, 0.5)
            edited.append(line)

    cmp.run_compare([str(user)], work_dir=tmp_path / 'run', preset='tiny', seeds=[3, 4],
                    iters=2, figure=False, quiet=True, log=log)
    assert edited and 'weight=0.5' in user.read_text()
    cells = [json.loads((tmp_path / 'run' / f'seed{s}' / 'my_stpn' / 'result.json').read_text())
             for s in (3, 4)]
    assert cells[0]['settings']['config_sha256'] == cells[1]['settings']['config_sha256']
    dumped = (tmp_path / 'run' / 'seed4' / 'my_stpn' / 'my_stpn.py').read_text()
    dumped = dumped.replace(' ', '')
    assert 'weight=0.0001' in dumped and 'weight=0.5' not in dumped
    # a new launch reads the edited config and runs both cells again
    lines = []
    cmp.run_compare([str(user)], work_dir=tmp_path / 'run', preset='tiny', seeds=[3, 4],
                    iters=2, figure=False, quiet=True, log=lines.append)
    assert sum('has other settings; running again' in line for line in lines) == 2
