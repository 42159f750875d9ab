"""Class-score proposals and the outer-inner contrast scorer of the top-k MIL methods."""
import pytest
import torch

from wsal.postprocess import (ClassScoreContrastScorer, ClassScoreThresholdProposals,
                              DetectionPipeline, Proposals, class_score_map)


def _outputs(scores, mask=None, video_scores=None, weights=None):
    """``scores``: {stream: [B, T, C]}."""
    first = next(iter(scores.values()))
    B, T, C = first.shape
    streams = {n: {'attention': torch.zeros(B, T), 'cas': torch.zeros(B, T, C + 1),
                   'class_scores': s} for n, s in scores.items()}
    return {'streams': streams, 'stream_weights': weights,
            'attention': torch.zeros(B, T),
            'video_scores': video_scores if video_scores is not None else torch.ones(B, C),
            'mask': mask if mask is not None else torch.ones(B, T, dtype=torch.bool)}


def test_score_map_is_theta_weighted():
    a, b = torch.rand(1, 4, 2), torch.rand(1, 4, 2)
    out = _outputs({'rgb': a, 'flow': b}, weights={'rgb': 0.75, 'flow': 0.25})
    assert torch.allclose(class_score_map(out), (0.75 * a + 0.25 * b).double())
    with pytest.raises(KeyError, match="lack 'class_scores'"):
        class_score_map({'streams': {'x': {'cas': a}}})


def test_threshold_proposals_absolute_and_relative():
    s = torch.tensor([[[0.1, 0.0], [0.6, 0.0], [0.7, 0.2], [0.2, 0.0], [0.9, 0.0]]])
    out = _outputs({'fused': s}, mask=torch.tensor([[True, True, True, True, False]]))
    class_mask = torch.tensor([[True, False]])
    props = ClassScoreThresholdProposals(thresholds=[0.5])(out, class_mask)
    # class 0 above 0.5 on 1..2 (the 0.9 is padding)
    assert list(zip(props.start.tolist(), props.end.tolist(), props.label.tolist())) == [(1, 2, 0)]
    # relative 0.5: min 0.1, max 0.7 over the valid snippets -> threshold 0.4, same run
    props = ClassScoreThresholdProposals(thresholds=[0.5], relative=True)(out, class_mask)
    assert list(zip(props.start.tolist(), props.end.tolist())) == [(1, 2)]
    props = ClassScoreThresholdProposals(thresholds=[0.1], relative=True)(out, class_mask)
    assert list(zip(props.start.tolist(), props.end.tolist())) == [(1, 3)]  # > 0.16


def test_contrast_scorer_by_hand():
    s = torch.tensor([[[0.0], [0.2], [0.8], [0.6], [0.1], [0.3]]])
    vs = torch.tensor([[0.5]])
    out = _outputs({'fused': s}, video_scores=vs)
    props = Proposals(torch.tensor([0, 0]), torch.tensor([2, 0]), torch.tensor([3, 1]),
                      torch.tensor([0, 0]))
    scorer = ClassScoreContrastScorer(inflation=0.5, video_score_weight=0.2)
    got = scorer(out, props).tolist()
    # [2, 3]: inner 0.7, margin ceil(0.5 * 2) = 1 -> outer {1, 4} = 0.15
    # [0, 1]: inner 0.1, outer {2} (left side clipped) = 0.8
    assert got == pytest.approx([0.7 - 0.15 + 0.2 * 0.5, 0.1 - 0.8 + 0.2 * 0.5])
    plain = ClassScoreContrastScorer(inflation=0.0)(out, props).tolist()
    assert plain == pytest.approx([0.7, 0.1])


def test_pipeline_with_class_score_parts():
    s = torch.zeros(1, 10, 2)
    s[0, 3:6, 1] = 1.0
    out = _outputs({'fused': s}, video_scores=torch.tensor([[0.05, 0.9]]))
    pipe = DetectionPipeline(proposal=dict(type='ClassScoreThresholdProposals', thresholds=[0.5]),
                             scorer=dict(type='ClassScoreContrastScorer'),
                             nms=dict(type='TemporalNMS'), class_threshold=0.1)
    det = pipe(out, [{'seconds_per_segment': 1.0}])[0]
    assert det['labels'].tolist() == [1]
    assert det['segments'].tolist() == [[3.0, 6.0]]
    assert det['scores'].item() == pytest.approx(1.0)

