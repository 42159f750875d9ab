"""Scorers with λ rescaled per video and scaled by the video score, against loop references."""
import pp_reference as ref
import pytest
import torch
from hypothesis import given, settings
from pp_strategies import batches

from wsal.postprocess import OuterInnerContrastScorer, Proposals, WeightedLogitScorer
from wsal.postprocess.scoring import (attention_weighted_logits, rescaled_attention,
                                      scale_by_video_score)
from wsal.registry import build_postprocessor

FAST = settings(max_examples=50, deadline=None)


def _outputs(batch):
    streams = {name: {'attention': torch.tensor(s['attention'], dtype=torch.float64),
                      'cas': torch.tensor(s['cas'], dtype=torch.float64)}
               for name, s in batch['streams'].items()}
    return {'streams': streams, 'stream_weights': {'rgb': 0.5, 'flow': 0.5},
            'mask': torch.tensor(batch['mask'])}


def _case(batch):
    """The batch's outputs, every proposal on it, the rows they stand for, the valid lengths."""
    out = _outputs(batch)
    proposals, rows = _all_proposals(batch, out['streams']['rgb']['cas'].shape[-1] - 1)
    return out, proposals, rows, [sum(v) for v in batch['mask']]


def _all_proposals(batch, n_cls):
    """Every (video, class, start, end) on each video's valid segments."""
    rows = []
    for b, valid in enumerate(batch['mask']):
        n = sum(valid)
        rows += [(b, c, s, e) for c in range(n_cls) for s in range(n) for e in range(s, n)]
    v, c, s, e = (torch.tensor(x) for x in zip(*rows))
    return Proposals(v, s, e, c), rows


def test_rescaled_attention_is_per_stream_and_per_video():
    att_rgb = torch.tensor([[0.90, 0.95, 1.00, 0.0], [0.2, 0.2, 0.6, 0.4]])
    att_flow = torch.tensor([[0.5, 0.7, 0.6, 0.0], [0.1, 0.3, 0.2, 0.3]])
    cas = torch.zeros(2, 4, 3)
    out = {'streams': {'rgb': {'attention': att_rgb, 'cas': cas},
                       'flow': {'attention': att_flow, 'cas': cas}},
           'mask': torch.tensor([[True, True, True, False], [True, True, True, True]])}
    new = rescaled_attention(out)
    torch.testing.assert_close(new['streams']['rgb']['attention'],
                               torch.tensor([[0.0, 0.5, 1.0, 0.0], [0.0, 0.0, 1.0, 0.5]]))
    torch.testing.assert_close(new['streams']['flow']['attention'],
                               torch.tensor([[0.0, 1.0, 0.5, 0.0], [0.0, 1.0, 0.5, 1.0]]))
    assert new['streams']['rgb']['cas'] is cas            # the rest is shared, not copied
    assert out['streams']['rgb']['attention'] is att_rgb  # the input is left as it was


@FAST
@given(batches())
def test_minmax_scores_match_loop_reference(batch):
    out, proposals, rows, lengths = _case(batch)
    score_map = ref.weighted_cas(ref.rescaled_streams(batch['streams'], batch['mask']),
                                 {'rgb': 0.5, 'flow': 0.5})
    series = lambda b, c: [score_map[b][t][c] for t in range(lengths[b])]  # noqa: E731
    mean = WeightedLogitScorer(normalize='minmax')(out, proposals).tolist()
    oic = OuterInnerContrastScorer(inflation=0.25, normalize='minmax')(out, proposals).tolist()
    for i, (b, c, s, e) in enumerate(rows):
        assert mean[i] == pytest.approx(ref.interval_mean(series(b, c), s, e), abs=1e-12)
        assert oic[i] == pytest.approx(ref.oic_score(series(b, c), s, e, lengths[b], 0.25),
                                       abs=1e-12)


def test_minmax_score_map_equals_map_of_rescaled_outputs():
    g = torch.Generator().manual_seed(0)
    out = {'streams': {s: {'attention': torch.rand(3, 9, generator=g) * 0.1 + 0.9,
                           'cas': torch.randn(3, 9, 4, generator=g)} for s in ('rgb', 'flow')},
           'stream_weights': {'rgb': 0.3, 'flow': 0.7},
           'mask': torch.arange(9)[None] < torch.tensor([[9], [5], [1]])}
    expected = attention_weighted_logits(rescaled_attention(out))
    torch.testing.assert_close(attention_weighted_logits(out, normalize='minmax'), expected)
    torch.testing.assert_close(WeightedLogitScorer(normalize='minmax').score_map(out), expected)
    torch.testing.assert_close(OuterInnerContrastScorer(normalize='minmax').score_map(out),
                               expected)


def test_minmax_lets_a_saturated_attention_rank_the_proposals():
    # λ near 1 everywhere ranks the action (segments 4-6) above the rest; the class
    # logit is higher on a stretch of class-like background (segments 0-2).
    att = torch.tensor([[0.94, 0.94, 0.94, 0.95, 0.99, 0.99, 0.99, 0.95, 0.94, 0.94]])
    logit = torch.tensor([[3.0, 3.0, 3.0, 1.0, 2.5, 2.5, 2.5, 1.0, 1.0, 1.0]])
    cas = torch.stack([torch.zeros_like(logit), logit], dim=-1)   # background column first
    out = {'streams': {'rgb': {'attention': att, 'cas': cas}}, 'stream_weights': {'rgb': 1.0},
           'mask': torch.ones(1, 10, dtype=torch.bool)}
    background, action = (0, 2), (4, 6)
    p = Proposals(torch.tensor([0, 0]), torch.tensor([background[0], action[0]]),
                  torch.tensor([background[1], action[1]]), torch.tensor([0, 0]))
    for kind in ('WeightedLogitScorer', 'OuterInnerContrastScorer'):
        plain = build_postprocessor(dict(type=kind))(out, p)
        rescaled = build_postprocessor(dict(type=kind, normalize='minmax'))(out, p)
        assert plain[0] > plain[1], kind       # λ·logit ≈ logit: the background wins
        assert rescaled[1] > rescaled[0], kind  # λ̃·logit: the action wins


@pytest.mark.parametrize('kind', ['WeightedLogitScorer', 'OuterInnerContrastScorer'])
def test_unknown_attention_form_is_refused_with_the_scorer_named(kind):
    with pytest.raises(ValueError, match=f"{kind}: normalize must be one of.*'rank'"):
        build_postprocessor(dict(type=kind, normalize='rank'))
    with pytest.raises(ValueError, match='attention_weighted_logits: normalize'):
        attention_weighted_logits({'streams': {}}, normalize='zscore')


def test_normalize_is_shown_in_the_repr():
    assert "normalize='minmax'" in repr(OuterInnerContrastScorer(normalize='minmax'))
    assert 'normalize=None' in repr(WeightedLogitScorer())


def _with_video_scores(out, n_cls, seed=0):
    g = torch.Generator().manual_seed(seed)
    n_videos = out['mask'].shape[0]
    out['video_scores'] = torch.rand(n_videos, n_cls, generator=g, dtype=torch.float64) * 0.9 + 0.05
    return out


@FAST
@given(batches())
def test_video_scaled_scores_match_loop_reference(batch):
    out = _outputs(batch)
    n_cls = out['streams']['rgb']['cas'].shape[-1] - 1
    _with_video_scores(out, n_cls)
    proposals, rows = _all_proposals(batch, n_cls)
    for kind in ('WeightedLogitScorer', 'OuterInnerContrastScorer'):
        for form in (None, 'minmax'):
            plain = build_postprocessor(dict(type=kind, normalize=form))(out, proposals).tolist()
            scaled = build_postprocessor(dict(type=kind, normalize=form, video_score='scale'))(
                out, proposals).tolist()
            for i, (b, c, _, _) in enumerate(rows):
                p = float(out['video_scores'][b, c])
                expected = plain[i] * p if plain[i] >= 0 else plain[i] / p
                assert scaled[i] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_video_scaling_rises_with_the_probability_whatever_the_sign():
    scores = torch.tensor([2.0, 2.0, -1.0, -1.0, 0.0], dtype=torch.float64)
    p = Proposals(torch.arange(5), torch.zeros(5, dtype=torch.long),
                  torch.zeros(5, dtype=torch.long), torch.zeros(5, dtype=torch.long))
    out = {'video_scores': torch.tensor([[0.2], [0.8], [0.2], [0.8], [0.5]])}
    scaled = scale_by_video_score(scores, out, p)
    torch.testing.assert_close(scaled, torch.tensor([0.4, 1.6, -5.0, -1.25, 0.0],
                                                    dtype=torch.float64))
    assert scaled[1] > scaled[0] and scaled[3] > scaled[2]   # a plain product: -0.2 > -0.8
    with pytest.raises(KeyError, match="lack 'video_scores'"):
        scale_by_video_score(scores, {}, p)


def test_video_scaling_ranks_a_confident_class_above_a_louder_unlikely_one():
    # Video 0 holds the class (p 0.9); video 1 only passed the class threshold (p 0.12)
    # but its logits are on a larger scale (a brighter, busier video), so its contrast
    # is higher. Average precision ranks the two proposals against each other.
    logit = torch.tensor([[0.0, 0.0, 2.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 3.0, 0.0, 0.0]])
    cas = torch.stack([torch.zeros_like(logit), logit], dim=-1)
    out = {'streams': {'rgb': {'attention': torch.ones(2, 6), 'cas': cas}},
           'stream_weights': {'rgb': 1.0}, 'mask': torch.ones(2, 6, dtype=torch.bool),
           'video_scores': torch.tensor([[0.9], [0.12]])}
    p = Proposals(torch.tensor([0, 1]), torch.tensor([2, 2]), torch.tensor([3, 3]),
                  torch.tensor([0, 0]))
    plain = OuterInnerContrastScorer()(out, p)
    scaled = OuterInnerContrastScorer(video_score='scale')(out, p)
    assert plain[1] > plain[0]
    assert scaled[0] > scaled[1]


@pytest.mark.parametrize('kind', ['WeightedLogitScorer', 'OuterInnerContrastScorer'])
def test_unknown_video_score_form_is_refused_with_the_scorer_named(kind):
    with pytest.raises(ValueError, match=f"{kind}: video_score must be one of.*'add'"):
        build_postprocessor(dict(type=kind, video_score='add'))
    assert "video_score='scale'" in repr(build_postprocessor(dict(type=kind,
                                                                  video_score='scale')))


def _softmax_streams(streams):
    """Each frame's logits replaced by its softmax over the C + 1 columns (loop reference)."""
    import math

    def softmax(row):
        top = max(row)
        ex = [math.exp(z - top) for z in row]
        return [x / sum(ex) for x in ex]
    return {name: {'attention': s['attention'],
                   'cas': [[softmax(frame) for frame in video] for video in s['cas']]}
            for name, s in streams.items()}


@FAST
@given(batches())
def test_softmax_contrast_matches_loop_reference(batch):
    out, proposals, rows, lengths = _case(batch)
    rescaled = ref.rescaled_streams(batch['streams'], batch['mask'])
    for form, streams in ((None, batch['streams']), ('minmax', rescaled)):
        score_map = ref.weighted_cas(_softmax_streams(streams), {'rgb': 0.5, 'flow': 0.5})
        got = OuterInnerContrastScorer(normalize=form, activation='softmax')(
            out, proposals).tolist()
        for i, (b, c, s, e) in enumerate(rows):
            series = [score_map[b][t][c] for t in range(lengths[b])]
            assert got[i] == pytest.approx(ref.oic_score(series, s, e, lengths[b], 0.25),
                                           abs=1e-12)


def test_softmax_contrast_discounts_evidence_every_class_shares():
    # Two related classes share a venue: around the action (segments 2-3) both logits
    # are raised by the venue, and only class 0 is raised further on the action itself.
    # On the logits the venue-wide class 1 stretch (0-5) out-contrasts class 0's action
    # against its surroundings; the probabilities see that only class 0 stands out.
    venue = torch.tensor([0.0, 4.0, 4.0, 4.0, 4.0, 0.0])
    action = torch.tensor([0.0, 0.0, 1.5, 1.5, 0.0, 0.0])
    cas = torch.stack([torch.zeros(6), venue + action, venue + 0.5], dim=-1)[None]
    out = {'streams': {'rgb': {'attention': torch.ones(1, 6), 'cas': cas}},
           'stream_weights': {'rgb': 1.0}, 'mask': torch.ones(1, 6, dtype=torch.bool)}
    p = Proposals(torch.tensor([0, 0]), torch.tensor([2, 1]), torch.tensor([3, 4]),
                  torch.tensor([0, 1]))
    logits = OuterInnerContrastScorer()(out, p)
    probs = OuterInnerContrastScorer(activation='softmax')(out, p)
    assert logits[1] > logits[0]          # class 1's venue stretch outranks the action
    assert probs[0] > probs[1]            # not once what both classes share is removed


def test_unknown_activation_is_refused_and_shown_in_the_repr():
    with pytest.raises(ValueError, match="OuterInnerContrastScorer: activation must be one "
                                         "of.*'sigmoid'"):
        OuterInnerContrastScorer(activation='sigmoid')
    assert "activation='softmax'" in repr(OuterInnerContrastScorer(activation='softmax'))


def test_scorers_equal_their_padded_maps_and_refuse_a_mask_with_holes():
    """The packed computations give the padded score map's contrasts and means; padding must come last."""
    from wsal.postprocess.scoring import interval_sums, prefix_sums
    g = torch.Generator().manual_seed(0)
    lengths = [9, 4, 7]
    t = max(lengths)
    mask = torch.arange(t)[None] < torch.tensor(lengths)[:, None]
    streams = {name: {'attention': torch.rand(3, t, generator=g) * mask,
                      'cas': torch.randn(3, t, 4, generator=g)} for name in ('rgb', 'flow')}
    out = {'streams': streams, 'stream_weights': {'rgb': 0.5, 'flow': 0.5}, 'mask': mask,
           'video_scores': torch.rand(3, 3, generator=g)}
    v, s, e, c = [], [], [], []
    for b, n in enumerate(lengths):
        for lo in range(n):
            for hi in range(lo, n):
                for k in range(3):
                    v.append(b), s.append(lo), e.append(hi), c.append(k)
    props = Proposals(*(torch.tensor(x) for x in (v, s, e, c)))
    for normalize in (None, 'minmax'):
        scorer = OuterInnerContrastScorer(inflation=0.25, normalize=normalize)
        prefix = prefix_sums(scorer.score_map(out))
        vt, st, et, ct = props
        inner = interval_sums(prefix, vt, ct, st, et + 1) / (et - st + 1).double()
        m = torch.ceil((et - st + 1).double() * 0.25).long()
        lo = (st - m).clamp(min=0)
        hi = torch.minimum(et + 1 + m, torch.tensor(lengths)[vt])
        n_out = (st - lo) + (hi - et - 1)
        outer = (interval_sums(prefix, vt, ct, lo, st) + interval_sums(prefix, vt, ct, et + 1, hi))
        outer = torch.where(n_out > 0, outer / n_out.clamp(min=1).double(), torch.zeros_like(outer))
        torch.testing.assert_close(scorer(out, props), inner - outer, rtol=1e-12, atol=1e-12)
        weighted = WeightedLogitScorer(normalize=normalize)
        means = interval_sums(prefix_sums(weighted.score_map(out)), vt, ct, st, et + 1)
        torch.testing.assert_close(weighted(out, props), means / (et - st + 1).double(),
                                   rtol=1e-12, atol=1e-12)
    holes = dict(out, mask=mask.clone())
    holes['mask'][0, 2] = False
    for scorer in (OuterInnerContrastScorer(), WeightedLogitScorer()):
        with pytest.raises(ValueError, match=f'{type(scorer).__name__}: each video.s valid '
                                             'segments must come first'):
            scorer(holes, props)
