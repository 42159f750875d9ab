"""A straightforward loop implementation of the detection mAP definition.

Written from the definition (issue 5), independent of the vectorized code:
per class and threshold, visit predictions in descending score order (ties:
input order), take the unmatched ground truth of the same video and class
with the highest tIoU (ties: first listed) if tIoU >= threshold. AP is the
VOC-2011 all-point interpolated area. Plain Python floats throughout.
Also used by ``benchmarks/bench_evaluation.py`` as the reference.
"""
from __future__ import annotations


def tiou(a, b):
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def voc_ap(tp_flags, npos):
    tp = fp = 0
    prec, rec = [], []
    for f in tp_flags:
        tp += f
        fp += 1 - f
        prec.append(tp / (tp + fp))
        rec.append(tp / npos)
    mprec = [0.0] + prec + [0.0]
    mrec = [0.0] + rec + [1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec))
               if mrec[i] != mrec[i - 1])


def loop_detection_ap(database, results, thresholds, *, subset=None, videos=None,
                      outside='ignore'):
    """Return (classes sorted by name, ap as list [T][C])."""
    evaluated = [v for v, e in database.items()
                 if (subset is None or e.get('subset') == subset)
                 and (videos is None or v in set(videos))]
    ev = set(evaluated)
    gt = {}  # (video, label) -> list of segments in listing order
    for v in evaluated:
        for a in database[v]['annotations']:
            gt.setdefault((v, a['label']), []).append(tuple(float(x) for x in a['segment']))
    classes = sorted({lab for (_, lab) in gt})
    npos = {c: sum(len(s) for (v, lab), s in gt.items() if lab == c) for c in classes}
    preds = {c: [] for c in classes}
    for v, entries in results.items():
        if v not in ev and outside == 'ignore':
            continue
        for e in entries:
            if e['label'] in preds:
                preds[e['label']].append((v, tuple(float(x) for x in e['segment']),
                                          float(e['score'])))
    ap = [[0.0] * len(classes) for _ in thresholds]
    for ci, c in enumerate(classes):
        plist = sorted(preds[c], key=lambda p: -p[2])  # Python's sort is stable
        for ti, thr in enumerate(thresholds):
            matched = set()
            flags = []
            for v, seg, _ in plist:
                best, best_iou = None, -1.0
                for j, g in enumerate(gt.get((v, c), [])):
                    if (v, j) in matched:
                        continue
                    o = tiou(seg, g)
                    if o >= thr and o > best_iou:
                        best, best_iou = j, o
                if best is None:
                    flags.append(0)
                else:
                    matched.add((v, best))
                    flags.append(1)
            ap[ti][ci] = voc_ap(flags, npos[c])
    return classes, ap


def generate_predictions(database, n, *, seed=0, subset='test', distinct=True,
                         outside_frac=0.0):
    """Synthetic ActivityNet results around the real ground truth.

    A mix of jittered copies of ground-truth instances (various overlaps),
    exact duplicates, wrong-class copies, random segments and (optionally)
    predictions for videos outside ``subset``.
    """
    import numpy as np
    rng = np.random.default_rng(seed)
    vids = [v for v, e in database.items() if e.get('subset') == subset]
    others = [v for v, e in database.items() if e.get('subset') != subset]
    labels = sorted({a['label'] for e in database.values() for a in e['annotations']})
    inst = [(v, a) for v in vids for a in database[v]['annotations']]
    scores = rng.permutation(n).astype(np.float64) / n + rng.uniform(0, 0.5 / n, n) \
        if distinct else rng.integers(0, 20, n) / 20.0
    kind = rng.uniform(size=n)
    results = {}
    for i in range(n):
        k = kind[i]
        if k < 0.55:
            v, a = inst[rng.integers(len(inst))]
            s, e = a['segment']
            length = max(e - s, 0.1)
            s = s + rng.normal(0, 0.3) * length
            e = e + rng.normal(0, 0.3) * length
            s, e = min(s, e), max(s, e)
            lab = a['label'] if k < 0.5 else labels[rng.integers(len(labels))]
        elif k < 0.6 and results:
            v = list(results)[rng.integers(len(results))]
            d = results[v][rng.integers(len(results[v]))]
            s, e = d['segment']
            lab = d['label']
        else:
            pool = others if (outside_frac and rng.uniform() < outside_frac) else vids
            v = pool[rng.integers(len(pool))]
            dur = float(database[v].get('duration', 200.0))
            s = rng.uniform(0, dur)
            e = s + rng.exponential(5.0)
            lab = labels[rng.integers(len(labels))]
        results.setdefault(v, []).append({'label': lab, 'score': float(scores[i]),
                                          'segment': [float(s), float(e)]})
    return {'version': 'test', 'results': results, 'external_data': {}}
