"""Hypothesis strategies shared by the post-processing tests."""
from __future__ import annotations

from hypothesis import strategies as st

THRESHOLDS = [0.0, 0.25, 1 / 3, 0.5, 0.7, 0.9, 1.0]


@st.composite
def integer_segments(draw, max_n=30, span=30, max_len=12, n_labels=3):
    n = draw(st.integers(0, max_n))
    starts = draw(st.lists(st.integers(0, span), min_size=n, max_size=n))
    lengths = draw(st.lists(st.integers(0, max_len), min_size=n, max_size=n))
    tie_scores = draw(st.booleans())
    score_el = st.sampled_from([0.0, 0.25, 0.5, 1.0]) if tie_scores else st.floats(
        -5, 5, allow_nan=False, width=32)
    scores = draw(st.lists(score_el, min_size=n, max_size=n))
    labels = draw(st.one_of(st.none(), st.lists(st.integers(0, n_labels - 1), min_size=n,
                                                 max_size=n)))
    segs = [(s, s + ln) for s, ln in zip(starts, lengths)]
    return segs, scores, labels


def dyadic(lo, hi, denominator):
    """Values k / denominator in [lo, hi]: sums and means stay exact in float64."""
    return st.integers(int(lo * denominator), int(hi * denominator)).map(lambda k: k / denominator)


@st.composite
def batches(draw, max_b=3, max_t=14, max_c=3):
    """A model-output-like batch with dyadic values and prefix padding masks."""
    b = draw(st.integers(1, max_b))
    t = draw(st.integers(1, max_t))
    c = draw(st.integers(1, max_c))
    lengths = [draw(st.integers(1, t)) for _ in range(b)]
    regime = draw(st.sampled_from(['mixed', 'all_above', 'all_below', 'flat']))
    if regime == 'all_above':
        att_el = dyadic(0.75, 1.0, 64)
    elif regime == 'all_below':
        att_el = st.just(0.0)
    elif regime == 'flat':
        att_el = st.just(draw(dyadic(0.0, 1.0, 64)))
    else:
        att_el = dyadic(0.0, 1.0, 64)
    streams = {}
    for name in ('rgb', 'flow'):
        att = [[draw(att_el) if i < lengths[j] else 0.0 for i in range(t)] for j in range(b)]
        cas = [[[draw(dyadic(-2, 2, 8)) for _ in range(c + 1)] for _ in range(t)] for _ in range(b)]
        streams[name] = {'attention': att, 'cas': cas}
    video_scores = [[draw(st.sampled_from([0.0, 0.05, 0.1, 0.5, 0.9])) for _ in range(c)]
                    for _ in range(b)]
    mask = [[i < lengths[j] for i in range(t)] for j in range(b)]
    sps = [draw(st.sampled_from([0.64, 0.5, 1.0])) for _ in range(b)]
    durations = [lengths[j] * sps[j] - draw(st.sampled_from([0.0, 0.1])) for j in range(b)]
    return dict(streams=streams, video_scores=video_scores, mask=mask, sps=sps,
                durations=durations)
