"""A 1-wide ``ConvEmbedding``: matrix products in the ``[B, T, D]`` layout vs ``conv1d``.

The same module and weights, forward and backward (the weights' gradient, as
in training), on I3D-sized streams: ``D = 1024`` to 256 channels (the
magnitude actionness) and to 2048 (W-TALC's embedding), for one video of
T = 200 / 750 / 2,600 segments (a short clip, the sampled length, the
longest THUMOS14 test video) and a padded batch of 4 videos of 200. The
reference, ``conv1d``, is the module's general path (``_convolve``: a
convolution over time after transposing to ``[B, D, T]`` and masking the
input), which 1-wide layers took before. Every benchmark asserts equal embeddings and weight gradients
(``rtol 1e-4``).

Run: ``python -m pytest benchmarks/bench_embedding.py -p no:cacheprovider
--benchmark-columns=median,iqr,rounds``.
"""
from __future__ import annotations

import pytest
import torch

from wsal.models.embedding import ConvEmbedding

pytestmark = pytest.mark.usefixtures('torch_threads')

SHAPES = {                       # name: (batch, T, D, out_channels, valid lengths)
    'T200-256': (1, 200, 1024, 256, None),
    'T750-256': (1, 750, 1024, 256, None),
    'T2600-256': (1, 2600, 1024, 256, None),
    'batch4x200-2048': (4, 200, 1024, 2048, (200, 160, 120, 90)),
}


def _step(fn, emb, x, mask):
    emb.zero_grad(set_to_none=True)
    out = fn(x, mask)
    out.sum().backward()
    return out.detach(), emb.convs[0].weight.grad.detach().clone()


@pytest.mark.parametrize('shape', list(SHAPES))
@pytest.mark.parametrize('impl', ['pointwise', 'conv1d'])
def bench_embedding_1wide(benchmark, device, shape, impl):
    b, t, d, e, lengths = SHAPES[shape]
    benchmark.group = f'embedding-1wide-{shape}-{device.type}'
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    emb = ConvEmbedding(in_channels=d, out_channels=e, kernel_size=1).to(device)
    x = torch.rand(b, t, d, generator=g).to(device)
    mask = torch.ones(b, t, dtype=torch.bool)
    for i, n in enumerate(lengths or ()):
        mask[i, n:] = False
        x[i, n:] = 0
    mask = mask.to(device)
    fn = emb if impl == 'pointwise' else emb._convolve

    def call():
        out = _step(fn, emb, x, mask)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        return out

    out, grad = benchmark(call)
    ref_out, ref_grad = _step(emb._convolve, emb, x, mask)
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-3)
