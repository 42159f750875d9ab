"""wsal.apis: init_localizer / localize agree with the Runner's test predictions."""
import numpy as np
import pytest
import torch

from wsal.apis import init_localizer, localize, prepare_config, run_test, run_train
from wsal.apis.inference import check_state_dict
from wsal_e2e_support import write_config


@pytest.fixture(scope='module')
def trained(tmp_path_factory, tiny_root):
    import sys
    tmp = tmp_path_factory.mktemp('api')
    cfg = write_config(tmp / 'cfg', tiny_root, max_iters=2, val_interval=2, num_videos=0)
    sys.path.insert(0, str(cfg.parent))
    run_train(prepare_config(str(cfg), work_dir=tmp / 'w'))
    yield cfg, tmp / 'w' / 'iter_2.pth'
    sys.path.remove(str(cfg.parent))


def test_localize_matches_runner_test(trained, tiny_root):
    cfg, ckpt = trained
    result = run_test(prepare_config(str(cfg), work_dir=ckpt.parent), ckpt)
    # the device the runner tested on (mmengine picks CUDA where present)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = init_localizer(str(cfg), ckpt, device)
    assert not model.training
    assert model.dataset_meta['classes'] == result.classes
    assert model.dataset_meta['seconds_per_segment'] == pytest.approx(16 / 25)
    vids = sorted(result.predictions['results'])
    feats = {v: {s: np.load(tiny_root / 'features' / s / f'{v}.npy') for s in ('rgb', 'flow')}
             for v in vids}
    preds = localize(model, feats)
    assert [p['video_id'] for p in preds] == vids
    for p in preds:
        ref = result.predictions['results'][p['video_id']]
        det = p['detections']
        assert len(ref) == len(det['scores'])
        order = torch.argsort(det['scores'], descending=True, stable=True)
        assert [result.classes[i] for i in det['labels'][order].tolist()] == [d['label'] for d in ref]
        assert det['scores'][order].tolist() == pytest.approx([d['score'] for d in ref], abs=1e-6)
    one = localize(model, feats[vids[0]])  # a single video gives a single dict
    assert one['video_id'] == 'video_0'
    assert torch.equal(one['detections']['scores'], preds[0]['detections']['scores'])


def test_bad_features_and_mismatched_weights(trained):
    cfg, ckpt = trained
    model = init_localizer(str(cfg), ckpt)
    with pytest.raises(ValueError, match="missing stream"):
        localize(model, {'rgb': np.zeros((5, 32), np.float32)})
    with pytest.raises(ValueError, match=r'\[T, D\]'):
        localize(model, {'rgb': np.zeros(5), 'flow': np.zeros(5)})
    with pytest.raises(ValueError, match='NaN'):
        localize(model, {'rgb': np.full((4, 32), np.nan), 'flow': np.zeros((4, 32))})
    state = dict(model.state_dict())
    state.pop(next(iter(state)))
    state['extra.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match='missing keys: .*unexpected keys: extra.weight'):
        check_state_dict(model, state, checkpoint='c.pth', config='x.py')



def test_a_checkpoint_without_an_optional_part_names_the_switch():
    """A checkpoint trained before the configs put an embedding before the classifier: the
    error names the part and the override that builds the model as it was trained."""
    from wsal.registry import build_model
    small = dict(type='WeaklySupervisedLocalizer', num_classes=3, streams=dict(rgb=6, flow=4))
    old = build_model(small)
    new = build_model(dict(small, embedding=dict(type='ConvEmbedding', out_channels=8)))
    with pytest.raises(ValueError, match=r'the checkpoint has no embedding \(trained without it: '
                       r'--cfg-options model.embedding=None builds the model as it was\)'):
        check_state_dict(new, old.state_dict(), checkpoint='c.pth', config='x.py')
    # the base class's own optional part, for every localizer built on it
    normed = build_model(dict(small, input_norm=dict(type='FeatureStandardizer')))
    with pytest.raises(ValueError, match=r'the checkpoint has no input_norm \(trained without it: '
                       r'--cfg-options model.input_norm=None'):
        check_state_dict(normed, old.state_dict(), checkpoint='c.pth', config='x.py')
    state = dict(new.state_dict())
    for key in [k for k in state if k.startswith('attention.')]:
        state.pop(key)  # a required part: no switch to name
    with pytest.raises(ValueError, match='missing keys: attention') as info:
        check_state_dict(new, state, checkpoint='c.pth', config='x.py')
    assert 'has no' not in str(info.value)


def test_run_test_leaves_the_config_and_labels_the_checkpoint(trained, tmp_path):
    import shutil
    cfg_path, ckpt = trained
    cfg = prepare_config(str(cfg_path), work_dir=ckpt.parent)
    before = cfg.pretty_text
    final = run_test(cfg, ckpt)
    assert cfg.pretty_text == before  # tested on a copy: the same config can be reused
    assert final.selection == 'final' and 'experiment_name' not in cfg
    best = tmp_path / 'best_detection_mAP@0.5_iter_2.pth'
    shutil.copy(ckpt, best)
    selected = run_test(cfg, best)
    assert selected.selection == 'test-selected'
    assert np.allclose(selected.detection.mAP, final.detection.mAP)


def test_default_keeps_no_test_selected_checkpoint():
    from wsal.apis.runner import SELECT_ON_TEST_METRIC
    cfg = prepare_config('configs/bm/bm_i3d_thumos14.py', work_dir='unused')
    assert cfg.default_hooks.checkpoint.save_best is None
    cfg = prepare_config('configs/bm/bm_i3d_thumos14.py', work_dir='unused', select_on_test=True)
    assert cfg.default_hooks.checkpoint.save_best == SELECT_ON_TEST_METRIC


def test_localize_builds_the_dataset_item(trained, tiny_root):
    """New videos go through the same item path as the test split."""
    from wsal.apis import video_items
    from wsal.registry import build_dataset
    cfg, ckpt = trained
    model = init_localizer(str(cfg), ckpt)
    dataset = build_dataset(model.cfg.test_dataloader.dataset)
    ref = dataset[0]
    vid = ref['data_sample']['video_id']
    feats = {s: np.load(tiny_root / 'features' / s / f'{vid}.npy') for s in ('rgb', 'flow')}
    item = video_items(model, {vid: feats})[0]
    for s in ('rgb', 'flow'):
        assert torch.equal(item['inputs'][s], ref['inputs'][s])
    for key in ('video_id', 'num_segments', 'seconds_per_segment'):
        assert item['data_sample'][key] == ref['data_sample'][key]


def test_early_fusion_checkpoint_tests_alike_with_the_work_dir_config_copy(tmp_path, tiny_root):
    """mmengine writes the config copy with sorted keys (flow before rgb); the
    checkpoint's recorded stream order keeps the concatenation the trained one."""
    import sys
    cfg = write_config(tmp_path / 'cfg', tiny_root, max_iters=2, val_interval=2, num_videos=0,
                       extra="model = dict(fusion='early', stream_weights=None)\n")
    sys.path.insert(0, str(cfg.parent))
    try:
        work = tmp_path / 'w'
        run_train(prepare_config(str(cfg), work_dir=work))
        copy = work / cfg.name
        assert copy.read_text().index('flow=32') < copy.read_text().index('rgb=32')
        ckpt = work / 'iter_2.pth'
        ref = run_test(prepare_config(str(cfg), work_dir=tmp_path / 't1'), ckpt)
        again = run_test(prepare_config(str(copy), work_dir=tmp_path / 't2'), ckpt)
    finally:
        sys.path.remove(str(cfg.parent))
    assert ref.predictions['results'] == again.predictions['results']
    assert any(ref.predictions['results'].values())
    model = init_localizer(str(copy), ckpt, 'cpu')
    assert list(model.input_streams) == ['rgb', 'flow']


@pytest.mark.parametrize('method', ['stpn', 'wtalc', 'basnet', 'um', 'cola'])
def test_background_aware_postprocessing_reads_every_method(method):
    """BM's post-processing reads what every method's model reports; the class-score
    post-processors read ``class_scores``, which only the HeadLocalizer methods report."""
    from wsal.apis import check_postprocessing_reads, load_config
    from wsal.experiments.published import METHOD_CONFIGS
    bm, other = load_config(METHOD_CONFIGS['bm']), load_config(METHOD_CONFIGS[method])
    check_postprocessing_reads(other, bm)
    check_postprocessing_reads(other, other)
    if method != 'stpn':
        with pytest.raises(ValueError, match=r'class_scores') as err:
            check_postprocessing_reads(bm, other)
        assert METHOD_CONFIGS[method].split('/')[-1] in str(err.value)
        assert 'bm_i3d_thumos14.py' in str(err.value)
