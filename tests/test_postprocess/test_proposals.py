"""Multi-threshold proposal generators against the loop reference."""
import pp_reference as ref
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pp_strategies import batches, dyadic

from wsal.postprocess import (AttentionThresholdProposals, FusedRankProposals,
                              TCAMThresholdProposals, attention_proposals, default_thresholds,
                              fused_ranks, select_classes, threshold_runs, weighted_tcam)
from wsal.postprocess.proposals import quantile_per_video
from wsal.registry import build_postprocessor

FAST = settings(max_examples=60, deadline=None)
THRESHOLDS = default_thresholds()


def test_default_thresholds_are_the_papers():
    assert len(THRESHOLDS) == 21 and THRESHOLDS[0] == 0.0 and THRESHOLDS[-1] == 0.5
    assert THRESHOLDS[1] == 0.025


@FAST
@given(st.integers(1, 4), st.integers(1, 16), st.data())
def test_threshold_runs_match_reference(g, t, data):
    regime = data.draw(st.sampled_from(['mixed', 'above', 'below', 'exact']))
    if regime == 'exact':  # values exactly on the thresholds: strict '>' excludes them
        el = st.sampled_from(THRESHOLDS)
    elif regime == 'above':
        el = dyadic(0.75, 1.0, 64)
    elif regime == 'below':
        el = st.just(0.0)
    else:
        el = dyadic(0.0, 1.0, 64)
    values = [[data.draw(el) for _ in range(t)] for _ in range(g)]
    valid = [[data.draw(st.booleans()) for _ in range(t)] for _ in range(g)]
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64]))
    sig = torch.tensor(values, dtype=dtype)
    row, k, s, e = threshold_runs(sig, torch.tensor(valid), THRESHOLDS)
    expected = [(r,) + run for r in range(g)
                for run in ref.runs(sig[r].tolist(), valid[r], THRESHOLDS)]
    assert list(zip(row.tolist(), k.tolist(), s.tolist(), e.tolist())) == expected


def test_all_above_and_all_below_and_single_segment():
    att = torch.tensor([[0.9, 0.9, 0.9], [0.0, 0.0, 0.0]])
    p = attention_proposals(att, thresholds=THRESHOLDS)
    assert p.label is None
    assert p.video.tolist() == [0] * 21
    assert p.start.tolist() == [0] * 21 and p.end.tolist() == [2] * 21
    one = attention_proposals(torch.tensor([[0.3]], dtype=torch.float64), thresholds=(0.0, 0.3))
    assert one.start.tolist() == [0] and one.end.tolist() == [0]
    # float32(0.3) = 0.30000001 is above the float64 threshold 0.3: compared in float64
    one32 = attention_proposals(torch.tensor([[0.3]]), thresholds=(0.0, 0.3))
    assert one32.start.tolist() == [0, 0]


def test_padding_never_joins_a_run():
    att = torch.tensor([[0.9, 0.9, 0.9, 0.9]])
    mask = torch.tensor([[True, True, False, False]])
    p = attention_proposals(att, mask, thresholds=(0.5,))
    assert (p.start.tolist(), p.end.tolist()) == ([0], [1])


def test_threshold_runs_chunking_gives_the_same_runs(monkeypatch):
    import wsal.postprocess.proposals as mod
    g = torch.Generator().manual_seed(0)
    sig = torch.rand(7, 30, generator=g)
    valid = torch.rand(7, 30, generator=g) > 0.1
    whole = threshold_runs(sig, valid, THRESHOLDS)
    monkeypatch.setattr(mod, '_CHUNK_ELEMENTS', 30 * 21 * 2)
    chunked = threshold_runs(sig, valid, THRESHOLDS)
    assert all(torch.equal(a, b) for a, b in zip(whole, chunked))


def _outputs(batch, dtype=torch.float32):
    streams = {name: {'attention': torch.tensor(s['attention'], dtype=dtype),
                      'cas': torch.tensor(s['cas'], dtype=dtype)}
               for name, s in batch['streams'].items()}
    att = (streams['rgb']['attention'] + streams['flow']['attention']) / 2
    return {'streams': streams, 'stream_weights': {'rgb': 0.5, 'flow': 0.5}, 'attention': att,
            'video_scores': torch.tensor(batch['video_scores']),
            'mask': torch.tensor(batch['mask'])}


def test_weighted_tcam_formula():
    g = torch.Generator().manual_seed(0)
    streams = {n: {'attention': torch.rand(2, 5, generator=g), 'cas': torch.randn(2, 5, 4, generator=g)}
               for n in ('rgb', 'flow')}
    out = {'streams': streams, 'stream_weights': {'rgb': 0.3, 'flow': 0.7}}
    psi = weighted_tcam(out)
    expected = sum(w * streams[n]['attention'].double()[..., None]
                   * torch.sigmoid(streams[n]['cas'].double())[..., 1:]
                   for n, w in out['stream_weights'].items())
    assert psi.shape == (2, 5, 3) and torch.allclose(psi, expected)
    soft = weighted_tcam(out, activation='softmax')
    expected = sum(w * streams[n]['attention'].double()[..., None]
                   * torch.softmax(streams[n]['cas'].double(), -1)[..., 1:]
                   for n, w in out['stream_weights'].items())
    assert torch.allclose(soft, expected)


@settings(max_examples=40, deadline=None)
@given(batches())
def test_tcam_proposals_threshold_each_selected_class(batch):
    out = _outputs(batch)
    gen = build_postprocessor(dict(type='TCAMThresholdProposals'))
    assert isinstance(gen, TCAMThresholdProposals)
    class_mask = out['video_scores'] >= 0.1
    p = gen(out, class_mask)
    psi = weighted_tcam(out)
    expected = []
    for b in range(psi.shape[0]):
        for c in range(psi.shape[2]):
            if class_mask[b, c]:
                runs = ref.runs(psi[b, :, c].tolist(), batch['mask'][b], THRESHOLDS)
                expected += [(b, c, s, e) for _, s, e in runs]
    got = list(zip(p.video.tolist(), p.label.tolist(), p.start.tolist(), p.end.tolist()))
    assert got == expected


def test_attention_generator_uses_mean_attention_and_mask():
    gen = build_postprocessor(dict(type='AttentionThresholdProposals', thresholds=[0.5]))
    assert isinstance(gen, AttentionThresholdProposals)
    out = {'attention': torch.tensor([[0.9, 0.2, 0.9, 0.9]]), 'mask': torch.tensor([[1, 1, 1, 0]]).bool()}
    p = gen(out, None)
    assert p.start.tolist() == [0, 2] and p.end.tolist() == [0, 2]
    with pytest.raises(KeyError, match='attention'):
        gen({}, None)
    with pytest.raises(ValueError, match='thresholds'):
        AttentionThresholdProposals(thresholds=[])


def test_minmax_per_video_rescales_valid_entries_only():
    from wsal.postprocess.proposals import minmax_per_video
    att = torch.tensor([[0.90, 0.95, 1.00, 7.0], [0.3, 0.3, 0.3, 0.3]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    out = minmax_per_video(att, mask)
    assert torch.allclose(out[0], torch.tensor([0.0, 0.5, 1.0, 0.0]))
    assert torch.equal(out[1], torch.zeros(4))  # constant row: no proposal above 0


def test_attention_proposals_minmax_are_level_free():
    from wsal.postprocess import AttentionThresholdProposals
    base = torch.tensor([[0.1, 0.2, 0.9, 0.8, 0.1, 0.6, 0.2]], dtype=torch.float64)
    gen = AttentionThresholdProposals(thresholds=[0.25, 0.5], normalize='minmax')
    outs = []
    for lam in (base, 0.9 + 0.1 * base, 0.05 * base):  # same ranking, other levels
        p = gen({'attention': lam}, None)
        outs.append((p.start.tolist(), p.end.tolist()))
    assert outs[0] == outs[1] == outs[2] == ([2, 5, 2, 5], [3, 5, 3, 5])
    # the printed rule (normalize=None) depends on the level
    plain = AttentionThresholdProposals(thresholds=[0.25, 0.5])
    assert plain({'attention': 0.05 * base}, None).start.numel() == 0
    with pytest.raises(ValueError, match='normalize'):
        AttentionThresholdProposals(normalize='zscore')


@FAST
@given(st.integers(1, 3), st.integers(1, 12), st.data())
def test_quantile_per_video_matches_loop_reference(g, t, data):
    from wsal.postprocess.proposals import quantile_per_video
    values = [[data.draw(dyadic(0.0, 1.0, 8)) for _ in range(t)] for _ in range(g)]  # many ties
    valid = [[data.draw(st.booleans()) for _ in range(t)] for _ in range(g)]
    sig = torch.tensor(values, dtype=data.draw(st.sampled_from([torch.float32, torch.float64])))
    out = quantile_per_video(sig, torch.tensor(valid))
    assert out.dtype == torch.float64
    for r in range(g):
        assert out[r].tolist() == ref.quantiles(values[r], valid[r])


def test_quantile_per_video_ends_and_monotone_invariance():
    from wsal.postprocess.proposals import quantile_per_video
    logits = torch.tensor([[-2.0, 5.0, 8.0, 8.0, 1.0, 3.0]], dtype=torch.float64)
    mask = torch.ones(1, 6, dtype=torch.bool)
    q = quantile_per_video(logits, mask)
    assert q.tolist() == [[0.0, 3 / 6, 4 / 6, 4 / 6, 1 / 6, 2 / 6]]  # ties share; min -> 0
    for transformed in (torch.sigmoid(logits), 0.9 + 0.1 * torch.sigmoid(logits), logits ** 3):
        assert torch.equal(quantile_per_video(transformed, mask), q)
    assert torch.equal(quantile_per_video(torch.full((1, 4), 0.7), torch.ones(1, 4, dtype=torch.bool)),
                       torch.zeros(1, 4, dtype=torch.float64))  # constant video: nothing above 0


def test_quantile_proposals_split_neighbours_a_saturated_attention_joins():
    # two instances with a short gap between them; λ = sigmoid of the attention's
    # logit, saturated over the instances and the gap alike (0.9997 vs 0.993)
    logit = torch.full((40,), -2.0, dtype=torch.float64)
    logit[10:16] = 8.0
    logit[16:18] = 5.0
    logit[18:24] = 8.0
    lam = torch.sigmoid(logit)[None]
    thresholds = [round(0.05 * i, 3) for i in range(20)]

    def runs(normalize):
        p = AttentionThresholdProposals(thresholds=thresholds, normalize=normalize)(
            {'attention': lam}, None)
        return set(zip(p.start.tolist(), p.end.tolist()))

    assert (10, 15) not in runs('minmax') and (10, 23) in runs('minmax')
    assert {(10, 15), (18, 23), (10, 23)} <= runs('quantile')
    assert "normalize='quantile'" in repr(AttentionThresholdProposals(normalize='quantile'))
    with pytest.raises(ValueError, match="AttentionThresholdProposals: normalize must be one of"):
        AttentionThresholdProposals(normalize='rank')


def _fused_reference(batch, out, class_mask, thresholds):
    """(video, class, start, end) of the fused-rank proposals, one (video, class) at a time."""
    class_map = ref.weighted_cas(ref.rescaled_streams(batch['streams'], batch['mask']),
                                 out['stream_weights'])
    lam = out['attention'].tolist()
    expected = []
    for b, valid in enumerate(batch['mask']):
        for c in range(class_mask.shape[1]):
            if class_mask[b, c]:
                column = [class_map[b][t][c] for t in range(len(valid))]
                signal = ref.fused_quantiles(lam[b], column, valid)
                expected += [(b, c, s, e) for _, s, e in ref.runs(signal, valid, thresholds)]
    return expected


@settings(max_examples=40, deadline=None)
@given(batches(), st.sampled_from([THRESHOLDS, tuple(0.05 * i for i in range(20))]))
def test_fused_rank_proposals_match_reference(batch, thresholds):
    # float64: the class map's λ is rescaled in the input's dtype, and float32 rounding can
    # break a tie that the reference's float64 keeps (or the reverse)
    out = _outputs(batch, torch.float64)
    gen = build_postprocessor(dict(type='FusedRankProposals', thresholds=thresholds))
    assert isinstance(gen, FusedRankProposals)
    class_mask = select_classes(out['video_scores'], 0.1)
    p = gen(out, class_mask)
    got = list(zip(p.video.tolist(), p.label.tolist(), p.start.tolist(), p.end.tolist()))
    assert got == _fused_reference(batch, out, class_mask, thresholds)


def test_fused_ranks_follow_the_orderings_only():
    g = torch.Generator().manual_seed(3)
    lam = torch.rand(4, 30, generator=g, dtype=torch.float64)
    cmap = torch.randn(4, 30, generator=g, dtype=torch.float64)
    mask = torch.arange(30)[None] < torch.tensor([[30], [12], [1], [25]])
    base = fused_ranks(lam, cmap, mask)
    # any increasing transform of either signal leaves the fused quantiles as they are
    assert torch.equal(fused_ranks(torch.sigmoid(8 * lam), 3 * cmap - 7, mask), base)
    # two signals that order the frames alike give that order's own quantiles
    assert torch.equal(fused_ranks(lam, lam ** 3, mask), quantile_per_video(lam, mask))
    assert torch.equal(base[~mask], torch.zeros(int((~mask).sum()), dtype=torch.float64))


def test_fused_ranks_tie_where_the_rank_sums_tie():
    # ranks (0, 1, 2) and (2, 1, 0): every frame sums to 2, so all tie at the bottom and no
    # threshold keeps a frame; with fractions 1/3 + 2/3 need not equal 0 + 1 in floating point
    lam = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)
    cmap = torch.tensor([[5.0, 4.0, 3.0]], dtype=torch.float64)
    mask = torch.ones(1, 3, dtype=torch.bool)
    assert fused_ranks(lam, cmap, mask).tolist() == [[0.0, 0.0, 0.0]]
    # one frame both rank first stands out; the other two tie below it
    assert fused_ranks(lam, torch.tensor([[1.0, 0.0, 9.0]]), mask).tolist() == [[0.0, 0.0,
                                                                                 2 / 3]]


def test_fused_rank_proposals_by_hand_and_errors():
    # λ ranks frames 1-2 highest, the class map frames 2-3; the class map with λ itself
    # (normalize=None; rescaled, the flat stream λ would zero it)
    att = torch.tensor([[0.1, 0.9, 0.8, 0.2, 0.0]], dtype=torch.float64)
    cas = torch.tensor([[0.0, 0.0, 1.0, 2.0, -1.0]], dtype=torch.float64)
    out = {'streams': {'rgb': {'attention': torch.ones(1, 5, dtype=torch.float64),
                               'cas': torch.stack([torch.zeros_like(cas), cas], dim=-1)}},
           'stream_weights': {'rgb': 1.0}, 'attention': att}
    gen = FusedRankProposals(thresholds=[0.3, 0.5], normalize=None)
    p = gen(out, torch.tensor([[True]]))
    # rank sums (1+1, 4+1, 3+3, 2+4, 0+0) -> quantiles (0.2, 0.4, 0.6, 0.6, 0.0)
    assert list(zip(p.start.tolist(), p.end.tolist(), p.label.tolist())) == [(1, 3, 0),
                                                                             (2, 3, 0)]
    # rescaled per video, a flat stream λ leaves no class map: λ's ranks alone
    p = FusedRankProposals(thresholds=[0.5])(out, torch.tensor([[True]]))
    assert (p.start.tolist(), p.end.tolist()) == ([1], [2])
    assert gen(out, torch.tensor([[False]])).start.numel() == 0
    with pytest.raises(KeyError, match='attention'):
        gen({'streams': out['streams']}, torch.tensor([[True]]))
    with pytest.raises(ValueError, match='thresholds'):
        FusedRankProposals(thresholds=[1.5])
    with pytest.raises(ValueError, match='normalize'):
        FusedRankProposals(normalize='quantile')
    with pytest.raises(ValueError, match='one shape'):
        fused_ranks(att, cas[:, :4], torch.ones(1, 5, dtype=torch.bool))
