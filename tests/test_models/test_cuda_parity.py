"""Every packaged localizer config computes the same outputs, loss terms and
gradients on a CUDA device as on the CPU (float32 tolerances).

The models run in eval mode, so dropout and the random segment drops of
training are off and both devices see the same computation.
"""
import copy

import pytest
import torch

from wsal import build_model

DEVICES = ['cuda'] if torch.cuda.is_available() else []
pytestmark = pytest.mark.skipif(not DEVICES, reason='needs a CUDA device')

CONFIGS = ['stpn/stpn_i3d_thumos14.py', 'bm/bm_i3d_thumos14.py',
           'bm/bm_i3d_early_fusion_thumos14.py', 'bm/bm_magnitude-actionness_i3d_thumos14.py',
           'bm/bm_paper-loss_i3d_thumos14.py', 'ablation/r5_fg-bg-guide_i3d_thumos14.py',
           'wtalc/wtalc_i3d_thumos14.py', 'basnet/basnet_i3d_thumos14.py',
           'um/um_i3d_thumos14.py', 'cola/cola_i3d_thumos14.py']


def _batch(model, device):
    """Three videos of 150, 97 and 40 segments (padded), 1 to 2 labels each."""
    g = torch.Generator().manual_seed(0)
    lengths = [150, 97, 40]
    t = max(lengths)
    inputs = {name: torch.randn(len(lengths), t, dim, generator=g) * 0.5
              for name, dim in model.input_streams.items()}
    inputs['mask'] = torch.arange(t)[None] < torch.tensor(lengths)[:, None]
    labels = torch.zeros(len(lengths), model.num_classes)
    labels[0, 3] = labels[1, 7] = labels[1, 11] = labels[2, 0] = 1.0
    samples = [{'video_id': f'v{i}', 'label': labels[i]} for i in range(len(lengths))]
    return {k: v.to(device) for k, v in inputs.items()}, samples


def _run(model, device):
    inputs, samples = _batch(model, device)
    model.zero_grad(set_to_none=True)
    losses = model.loss(inputs, samples)
    sum(losses.values()).backward()
    with torch.no_grad():
        outputs = model.extract(inputs)
    grads = {n: p.grad.detach().cpu() for n, p in model.named_parameters() if p.grad is not None}
    return ({k: v.detach().cpu() for k, v in losses.items()},
            {k: outputs[k].detach().cpu() for k in ('attention', 'video_scores')}, grads)


@pytest.fixture
def full_float32_convolutions():
    """cuDNN runs float32 convolutions in TF32 by default (10-bit mantissa, about 1e-3
    relative error on 1024-d inputs): the convolutional heads are compared in full float32."""
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = before


@pytest.mark.usefixtures('full_float32_convolutions')
@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('config', CONFIGS)
def test_losses_outputs_and_gradients_match_the_cpu(config, device):
    torch.manual_seed(0)
    model = build_model(config).eval()
    other = copy.deepcopy(model).to(device)
    losses, outputs, grads = _run(model, 'cpu')
    losses_d, outputs_d, grads_d = _run(other, device)
    assert set(losses) == set(losses_d) and losses
    for key in losses:
        torch.testing.assert_close(losses_d[key], losses[key], rtol=1e-4, atol=1e-5, msg=key)
    for key in outputs:
        torch.testing.assert_close(outputs_d[key], outputs[key], rtol=1e-4, atol=1e-5, msg=key)
    assert set(grads) == set(grads_d) and grads
    for name in grads:
        scale = grads[name].abs().max().item()
        torch.testing.assert_close(grads_d[name], grads[name], rtol=1e-3,
                                   atol=1e-4 * max(scale, 1e-3), msg=name)
