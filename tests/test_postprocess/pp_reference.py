"""Plain loop implementations of every post-processing step, written from the definitions.

Slow and obviously correct: Python numbers, one element at a time. The tests
(and the benchmarks) compare the vectorized code in ``wsal.postprocess``
against these.
"""
from __future__ import annotations

import math
from fractions import Fraction

# ---------------------------------------------------------------- IoU


def threshold_fraction(threshold):
    frac = Fraction(float(threshold)).limit_denominator(10 ** 6)
    return frac.numerator, frac.denominator


def inter_union(a, b):
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter, union


def iou_exceeds(a, b, threshold):
    """IoU(a, b) > threshold, as inter * den > num * union (ints exact, floats IEEE double)."""
    num, den = threshold_fraction(threshold)
    inter, union = inter_union(a, b)
    return inter * den > num * union


def iou(a, b):
    inter, union = inter_union(a, b)
    return inter / union if union > 0 else 0.0


# ---------------------------------------------------------------- NMS


def greedy_nms(segments, scores, threshold, labels=None):
    """Visit by decreasing score (ties: lower index), keep unless a kept box overlaps."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # sorted() is stable
    kept = []
    for i in order:
        suppressed = False
        for k in kept:
            same = labels is None or labels[k] == labels[i]
            if same and iou_exceeds(segments[k], segments[i], threshold):
                suppressed = True
                break
        if not suppressed:
            kept.append(i)
    return kept


def soft_nms(segments, scores, method='gaussian', sigma=0.5, threshold=0.5,
             score_threshold=None, labels=None):
    """Per label: pick the best remaining box, decay the rest by its overlap."""
    n = len(scores)
    labels = [0] * n if labels is None else list(labels)
    picked = []  # (index, score)
    for lab in sorted(set(labels)):
        remaining = [i for i in range(n) if labels[i] == lab]
        cur = {i: float(scores[i]) for i in remaining}
        while remaining:
            best = remaining[0]
            for i in remaining:
                if cur[i] > cur[best]:
                    best = i
            picked.append((best, cur[best]))
            remaining.remove(best)
            survivors = []
            for j in remaining:
                o = iou(segments[best], segments[j])
                if method == 'gaussian':
                    w = math.exp(-(o * o) / sigma)
                else:
                    w = 1.0 - o if iou_exceeds(segments[best], segments[j], threshold) else 1.0
                cur[j] = cur[j] * w if cur[j] >= 0 else cur[j] * (2.0 - w)
                if score_threshold is None or not cur[j] < score_threshold:
                    survivors.append(j)
            remaining = survivors
    picked.sort(key=lambda p: p[0])
    picked.sort(key=lambda p: -p[1])
    return [p[0] for p in picked], [p[1] for p in picked]


# ---------------------------------------------------------------- proposals


def runs(values, valid, thresholds):
    """(threshold index, start, end inclusive) of every maximal run of value > thr."""
    out = []
    for k, thr in enumerate(thresholds):
        t = 0
        while t < len(values):
            if valid[t] and float(values[t]) > thr:
                s = t
                while t + 1 < len(values) and valid[t + 1] and float(values[t + 1]) > thr:
                    t += 1
                out.append((k, s, t))
            t += 1
    return out


def minmax(row, valid):
    """One video's row rescaled over its valid entries (0 on padding; a flat row is 0)."""
    vals = [a for a, v in zip(row, valid) if v]
    lo, hi = min(vals), max(vals)
    return [((a - lo) / (hi - lo) if hi > lo else 0.0) if v else 0.0
            for a, v in zip(row, valid)]


def rescaled_streams(streams, mask):
    """``{name: {'attention', 'cas'}}`` with each video's λ rescaled to its range (minmax)."""
    return {name: {'attention': [minmax(row, mask[b]) for b, row in enumerate(s['attention'])],
                   'cas': s['cas']}
            for name, s in streams.items()}


def counts_below(row, valid):
    """For each valid entry, how many valid entries are strictly lower (0 on padding)."""
    vals = [a for a, v in zip(row, valid) if v]
    return [sum(1 for b in vals if b < a) if v else 0 for a, v in zip(row, valid)]


def quantiles(row, valid):
    n = max(1, sum(1 for v in valid if v))
    return [c / n if v else 0.0 for c, v in zip(counts_below(row, valid), valid)]


def fused_quantiles(attention, class_map, valid):
    """The quantile of each frame's two ranks' sum (attention's and the class map's)."""
    total = [a + b for a, b in zip(counts_below(attention, valid), counts_below(class_map, valid))]
    return quantiles(total, valid)


def select_classes(video_scores, threshold):
    chosen = [c for c, p in enumerate(video_scores) if p >= threshold]
    if not chosen and video_scores:
        best = 0
        for c, p in enumerate(video_scores):
            if p > video_scores[best]:
                best = c
        chosen = [best]
    return chosen


# ---------------------------------------------------------------- scoring


def weighted_cas(streams, weights):
    """m[b][t][c] = sum_s theta_s * lambda_t^s * cas_t^{s, c+1} (python floats)."""
    names = list(weights)
    att0 = streams[names[0]]['attention']
    out = []
    for b in range(len(att0)):
        rows = []
        for t in range(len(att0[b])):
            row = []
            n_cls = len(streams[names[0]]['cas'][b][t]) - 1
            for c in range(n_cls):
                total = None
                for name in names:
                    term = (weights[name] * float(streams[name]['attention'][b][t])) * float(
                        streams[name]['cas'][b][t][c + 1])
                    total = term if total is None else total + term
                row.append(total)
            rows.append(row)
        out.append(rows)
    return out


def interval_mean(series, s, e):
    total = 0.0
    for t in range(s, e + 1):
        total += series[t]
    return total / (e - s + 1)


def oic_score(series, s, e, length, inflation):
    inner = interval_mean(series, s, e)
    m = math.ceil((e - s + 1) * inflation)
    outer = [t for t in range(s - m, s) if t >= 0] + [t for t in range(e + 1, e + 1 + m) if t < length]
    if not outer:
        return inner
    return inner - sum(series[t] for t in outer) / len(outer)


# ---------------------------------------------------------------- whole procedure


def detect(*, attention, score_map, video_scores, mask, thresholds, class_threshold=0.1,
           iou_threshold=0.5, sps=None, durations=None, nms='greedy', soft_kwargs=None,
           scorer='mean', inflation=0.25, class_signal=None, max_per_video=None, unique=False):
    """Per video: select classes, cut proposals, score per class, NMS per class, seconds.

    ``class_signal[b][t][c]`` switches to per-class proposals (STPN); otherwise
    proposals come from ``attention`` and are shared by the selected classes.
    ``unique`` keeps the first of proposals with the same frames.
    Returns per video a list of ``(start_s, end_s, score, label)``.
    """
    results = []
    for b in range(len(video_scores)):
        valid = mask[b]
        length = sum(1 for v in valid if v)
        classes = select_classes(video_scores[b], class_threshold)
        shared = runs(attention[b], valid, thresholds) if class_signal is None else None
        dets = []
        for c in classes:
            if class_signal is None:
                props = shared
            else:
                props = runs([class_signal[b][t][c] for t in range(len(valid))], valid, thresholds)
            if unique:
                seen = set()
                props = [p for p in props
                         if (p[1], p[2]) not in seen and not seen.add((p[1], p[2]))]
            series = [score_map[b][t][c] for t in range(len(valid))]
            segs = [(s, e + 1) for _, s, e in props]
            if scorer == 'mean':
                scores = [interval_mean(series, s, e) for _, s, e in props]
            else:
                scores = [oic_score(series, s, e, length, inflation) for _, s, e in props]
            if nms == 'greedy':
                kept = [(i, scores[i]) for i in greedy_nms(segs, scores, iou_threshold)]
            else:
                idx, sc = soft_nms(segs, scores, **(soft_kwargs or {}))
                kept = list(zip(idx, sc))
            dets += [(segs[i], score, c) for i, score in kept]
        dets.sort(key=lambda d: -d[1])
        if max_per_video is not None:
            dets = dets[:max_per_video]
        out = []
        for (s, e), score, c in dets:
            lo, hi = float(s), float(e)
            if sps is not None:
                lo, hi = s * sps[b], e * sps[b]
            if durations is not None:
                lo, hi = min(lo, durations[b]), min(hi, durations[b])
            out.append((lo, hi, score, c))
        results.append(out)
    return results
