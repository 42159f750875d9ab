"""Method heads (W-TALC, BaS-Net, UM, CoLA) and the temporal operations they share."""
import math

import pytest
import torch

from wsal.models import BaSNetHead, CoLAHead, UMHead, WTALCHead
from wsal.models.localizers import mine_snippets
from wsal.models.temporal_ops import (binary_dilation, binary_erosion, classwise_topk_mean,
                                      k_from_ratio, minmax_normalize, rank_select)
from wsal.registry import build_model

C, D = 3, 6
SMALL = dict(embedding=dict(type='ConvEmbedding', out_channels=8, kernel_size=3))


def _b(bits):
    return torch.tensor([[c == '1' for c in bits]])


def test_k_and_classwise_topk_mean_by_hand():
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    assert k_from_ratio(mask, 2).tolist() == [3, 2]                      # ceil(5/2), ceil(3/2)
    assert k_from_ratio(mask, 2, rounding='floor').tolist() == [2, 1]    # floor, at least 1
    cas = torch.tensor([[[1.0], [5.0], [3.0], [2.0], [4.0]],
                        [[1.0], [2.0], [0.0], [9.0], [9.0]]])           # 9s are padding
    out = classwise_topk_mean(cas, mask, torch.tensor([3, 2]))
    assert out[:, 0].tolist() == pytest.approx([(5 + 4 + 3) / 3, (2 + 1) / 2])


def test_rank_select_and_minmax():
    scores = torch.tensor([[0.3, 0.9, 0.1, 0.9, 0.5]])
    mask = torch.tensor([[True, True, True, False, True]])
    top = rank_select(scores, mask, torch.tensor([2]))
    bottom = rank_select(scores, mask, torch.tensor([2]), largest=False)
    assert top.tolist() == [[False, True, False, False, True]]          # padding never chosen
    assert bottom.tolist() == [[True, False, True, False, False]]
    norm = minmax_normalize(scores, mask)
    assert norm.tolist()[0] == pytest.approx([0.25, 1.0, 0.0, 0.0, 0.5])


def test_binary_morphology_by_hand():
    mask = torch.ones(1, 10, dtype=torch.bool)
    b = _b('0011111000')
    assert binary_erosion(b, 3, mask).tolist() == _b('0001110000').tolist()
    assert binary_dilation(b, 3, mask).tolist() == _b('0111111100').tolist()
    # even sizes: dilation window t-2..t+1, erosion the mirrored t-1..t+2
    assert binary_dilation(b, 4, mask).tolist() == _b('0111111110').tolist()
    assert binary_erosion(b, 4, mask).tolist() == _b('0001100000').tolist()
    # the video ends at the mask: past it counts as 0 for erosion
    short = torch.tensor([[True] * 7 + [False] * 3])
    assert binary_erosion(_b('0000111000'), 3, short).tolist() == _b('0000010000').tolist()


def test_mine_snippets_rings():
    # actionness: a bump on 6..17, half of a 24-snippet video, so that the
    # above-median binarisation is exactly the bump
    a = torch.zeros(1, 24)
    a[0, 6:18] = torch.tensor([1.0, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1])
    a = a + torch.linspace(0, 0.01, 24)  # break ties
    mask = torch.ones(1, 24, dtype=torch.bool)
    s = mine_snippets(a, mask, ratio_easy=6, ratio_hard=12, m=1, M=3)
    # k_easy = 4, k_hard = 2
    assert torch.nonzero(s['EA'][0]).flatten().tolist() == [10, 11, 12, 13]
    assert torch.nonzero(s['EB'][0]).flatten().tolist() == [0, 1, 2, 3]
    # inner ring: bump minus its erosion by 3 (7..16) = 6, 17;
    # outer ring: dilation by 3 (5..18) minus the bump = 5, 18
    assert torch.nonzero(s['HA'][0]).flatten().tolist() == [6, 17]
    assert torch.nonzero(s['HB'][0]).flatten().tolist() == [5, 18]


def test_wtalc_video_logits_are_topk_means_of_the_cas():
    head = WTALCHead(in_channels=D, num_classes=C, topk_ratio=2, **SMALL).eval()
    x = torch.randn(2, 5, D)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    out = head(x, mask)
    cas = out['cas_fg']
    assert torch.equal(out['cas'][..., 1:], cas) and (out['cas'][..., 0] == 0).all()
    top = cas[0].sort(0, descending=True).values[:3].mean(0)            # k = ceil(5/2)
    assert torch.allclose(out['video_logits'][0], top)
    assert torch.allclose(out['video_scores'], torch.softmax(out['video_logits'], -1))


def test_basnet_suppression_branch_runs_on_filtered_features():
    head = BaSNetHead(in_channels=D, num_classes=C, **SMALL).eval()
    x = torch.randn(1, 16, D)
    out = head(x)
    a = out['attention']
    assert torch.allclose(out['base_cas'], head.classifier(head.embedding(x)))
    assert torch.allclose(out['cas'], head.classifier(head.embedding(x * a.unsqueeze(-1))))
    k = 16 // 8
    base = torch.softmax(out['base_cas'][0].sort(0, descending=True).values[:k].mean(0), -1)
    assert torch.allclose(out['base_video_probs'][0], base)
    assert torch.allclose(out['video_scores'], out['supp_video_probs'][:, 1:])


def test_um_selects_by_magnitude():
    head = UMHead(in_channels=D, num_classes=C, ratio_act=4, ratio_bg=4, drop=0.0,
                  **SMALL).eval()
    x = torch.randn(1, 8, D)
    out = head(x)
    mag = out['embedding'].norm(dim=-1)[0]
    order = mag.argsort(descending=True)
    assert torch.allclose(out['act_feature'][0], out['embedding'][0, order[:2]].mean(0))
    assert torch.allclose(out['bg_feature'][0], out['embedding'][0, order[-2:]].mean(0))
    assert torch.allclose(out['attention'][0], (mag - mag.min()) / (mag.max() - mag.min()))


@pytest.mark.parametrize('head', ['WTALCHead', 'BaSNetHead', 'UMHead', 'CoLAHead'])
def test_padded_batch_equals_videos_one_by_one(head):
    """In eval mode the heads see only each video's own snippets."""
    cfg = dict(type=head, in_channels=D, num_classes=C,
               embedding=dict(type='ConvEmbedding', out_channels=8,
                              kernel_size=1 if head == 'WTALCHead' else 3))
    torch.manual_seed(0)
    module = build_model(cfg).double().eval()
    g = torch.Generator().manual_seed(1)
    long, short = torch.randn(1, 12, D, generator=g).double(), torch.randn(1, 9, D, generator=g).double()
    batch = torch.zeros(2, 12, D, dtype=torch.double)
    batch[0], batch[1, :9] = long[0], short[0]
    batch[1, 9:] = 50.0  # padding content must not matter
    mask = torch.tensor([[True] * 12, [True] * 9 + [False] * 3])
    together = module(batch, mask)
    alone = module(short)
    for key in ('attention', 'cas', 'class_scores'):
        assert torch.allclose(together[key][1, :9], alone[key][0]), key
    assert torch.allclose(together['video_scores'][1], alone['video_scores'][0])


def test_head_localizer_checks_the_head_contract():
    class Bad(torch.nn.Module):
        in_channels = D

        def forward(self, x, mask):
            return {'attention': x[..., 0]}

    model = build_model(dict(type='HeadLocalizer', num_classes=C, streams=dict(rgb=D),
                             head=Bad(), losses=dict(cls=dict(type='VideoBCELoss'))))
    with pytest.raises(KeyError, match="returned no 'cas'"):
        model.extract({'rgb': torch.randn(1, 4, D)})
    with pytest.raises(ValueError, match='need 1 <= m < M'):
        CoLAHead(in_channels=D, num_classes=C, m=3, M=3)
    assert math.isfinite(UMHead(in_channels=D, num_classes=C, **SMALL).ratio_act)


def test_head_localizer_late_fusion_has_a_head_per_stream():
    torch.manual_seed(0)
    model = build_model(dict(type='HeadLocalizer', num_classes=C, streams=dict(rgb=D, flow=4),
                             fusion='late', stream_weights=dict(rgb=3.0, flow=1.0),
                             head=dict(type='UMHead', **SMALL),
                             losses=dict(cls=dict(type='VideoBCELoss'),
                                         um=dict(type='FeatureMagnitudeLoss', margin=5.0)))).eval()
    assert list(model.head) == ['rgb', 'flow'] and model.head['flow'].in_channels == 4
    inputs = {'rgb': torch.randn(2, 9, D), 'flow': torch.randn(2, 9, 4)}
    out = model.extract(inputs)
    rgb, flow = out['streams']['rgb'], out['streams']['flow']
    assert torch.allclose(out['video_scores'], 0.75 * rgb['video_scores'] + 0.25 * flow['video_scores'])
    assert torch.allclose(out['attention'], (rgb['attention'] + flow['attention']) / 2)
    labels = [{'label': torch.tensor([1.0, 0, 0])}, {'label': torch.tensor([0, 1.0, 1.0])}]
    losses = model.loss(inputs, labels)
    assert set(losses) == {'loss_cls', 'loss_um'}
    # each term is summed over the two streams
    one = model.losses['um'](rgb, torch.zeros(2, C), torch.ones(2, 9, dtype=torch.bool))
    two = model.losses['um'](flow, torch.zeros(2, C), torch.ones(2, 9, dtype=torch.bool))
    assert losses['loss_um'].item() == pytest.approx((one['loss_um'] + two['loss_um']).item())
