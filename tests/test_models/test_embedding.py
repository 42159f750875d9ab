"""ConvEmbedding: the 1-wide fast path computes what the convolution does."""
import pytest
import torch

from wsal.models.embedding import ConvEmbedding


@pytest.mark.parametrize('num_layers,slope', [(1, 0.0), (2, 0.01)])
def test_pointwise_path_equals_the_convolution(num_layers, slope):
    torch.manual_seed(0)
    emb = ConvEmbedding(in_channels=12, out_channels=5, kernel_size=1, num_layers=num_layers,
                        negative_slope=slope)
    x = torch.randn(3, 9, 12, requires_grad=True)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[1, 6:] = False
    mask[2, 2:] = False
    out = emb(x, mask)
    ref = emb._convolve(x, mask)                 # the layers as convolutions over time
    assert out.shape == (3, 9, 5)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    assert (out[1, 6:] == 0).all() and (out[2, 2:] == 0).all()
    g, = torch.autograd.grad(out.sum(), emb.convs[0].weight)
    g_ref, = torch.autograd.grad(ref.sum(), emb.convs[0].weight)
    torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-5)


def test_state_dict_is_the_convolution_layout():
    emb = ConvEmbedding(in_channels=4, out_channels=3, kernel_size=1)
    assert emb.state_dict()['convs.0.weight'].shape == (3, 4, 1)
