"""Each W-TALC / BaS-Net / UM / CoLA config trains a few iterations and tests end to end."""
import json
from pathlib import Path

import pytest

from wsal.cli.main import main
from wsal.datasets.synthetic import make_synthetic

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
METHODS = ['wtalc', 'basnet', 'um', 'cola']
DIM = 32  # the tiny preset's feature dimension


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp('methods') / 'tiny', 'tiny', seed=0)


def _options(iters):
    opts = [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'model.streams.rgb={DIM}', f'model.streams.flow={DIM}',
            'model.head.embedding.out_channels=32', 'train_dataloader.batch_size=4',
            'train_dataloader.collate_fn.num_segments=24',
            'default_hooks.logger.interval=1']
    for loader in ('train', 'val', 'test'):
        opts += [f'{loader}_dataloader.dataset.feature_dims.rgb={DIM}',
                 f'{loader}_dataloader.dataset.feature_dims.flow={DIM}',
                 f'{loader}_dataloader.num_workers=0',
                 f'{loader}_dataloader.persistent_workers=False']
    return opts


@pytest.mark.slow
@pytest.mark.parametrize('method', METHODS)
def test_method_config_trains_and_tests(method, tiny, tmp_path):
    cfg = CONFIGS / method / f'{method}_i3d_thumos14.py'
    work = tmp_path / 'work'
    opts = _options(3)
    assert main(['train', str(cfg), '--data-root', str(tiny), '--work-dir', str(work),
                 '--seed', '0', '--cfg-options', *opts]) == 0
    ckpt = work / 'iter_3.pth'
    assert ckpt.is_file()
    log = next(work.rglob('*.log')).read_text()
    terms = {'wtalc': ('loss_mil', 'loss_casl'),
             'basnet': ('loss_base', 'loss_supp', 'loss_sparsity'),
             'um': ('loss_cls', 'loss_um', 'loss_be'),
             'cola': ('loss_cls', 'loss_snico')}[method]
    for term in terms:
        assert f'{term}: ' in log, term
    assert 'loss: nan' not in log
    pred = tmp_path / 'pred.json'
    assert main(['test', str(cfg), str(ckpt), '--data-root', str(tiny), '--out', str(pred),
                 '--cfg-options', *opts]) == 0
    results = json.loads(pred.read_text())['results']
    gt = json.loads((tiny / 'gt.json').read_text())
    assert set(results) == {v for v, info in gt['database'].items() if info['subset'] == 'test'}
