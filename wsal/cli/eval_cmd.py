"""``wsal eval``: detection mAP of an ActivityNet-format prediction file."""
from __future__ import annotations

EPILOG = """\
semantics: ActivityNet detection evaluator (greedy matching in descending score order,
VOC-2011 interpolated AP, mAP over classes with ground truth); equal scores keep input order.
The table is in percent; --out writes fractions plus a "protocol" block.

examples:
  wsal eval wsal/data/thumos14_gt.json pred.json --subset test \\
      --videos wsal/data/thumos14_split_test.txt --out metrics.json
  wsal eval anet_gt.json pred.json --subset validation --preset activitynet
  wsal eval gt.json pred.json --subset test --tiou 0.3:0.1:0.7 --average-range 0.3-0.7
  wsal eval gt.json pred.json --subset test --diagnose   # where recall is lost
"""


def register(subparsers) -> None:
    import argparse
    p = subparsers.add_parser(
        'eval', help='detection mAP of ActivityNet-format predictions',
        description='Detection mAP (ActivityNet semantics) of PRED.json against GT.json.',
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ground_truth', metavar='GT.json',
                   help='ground truth: {"database": {video: {"subset", "annotations"}}}')
    p.add_argument('predictions', metavar='PRED.json',
                   help='predictions: {"results": {video: [{"label", "score", "segment"}]}}')
    p.add_argument('--subset', default=None,
                   help='ground-truth subset to evaluate (required when GT.json has several)')
    p.add_argument('--videos', metavar='LIST', default=None,
                   help='evaluate only the videos in this file (one id per line)')
    p.add_argument('--preset', default='thumos14', choices=['thumos14', 'activitynet'],
                   help='tIoU thresholds and averaging ranges (default: thumos14 = 0.1:0.1:0.9, '
                   'averages 0.1-0.7 and 0.1-0.9; activitynet = 0.5:0.05:0.95)')
    p.add_argument('--tiou', nargs='+', default=None, metavar='T',
                   help='tIoU thresholds: numbers and/or start:step:stop ranges '
                   '(overrides --preset)')
    p.add_argument('--average-range', nargs='+', default=None, metavar='LO-HI',
                   help='extra averaging ranges, e.g. 0.1-0.5 (the range of all thresholds '
                   'is always reported)')
    p.add_argument('--outside-videos', default='false_positive',
                   choices=['false_positive', 'ignore', 'error'],
                   help='predictions for videos outside the evaluated set: count as false '
                   'positives (default; what the official ActivityNet evaluator does), ignore '
                   '(counted in the protocol), or refuse')
    p.add_argument('--ignore-unknown-labels', action='store_true',
                   help='drop predictions whose label is not in the ground truth (counted) '
                   'instead of failing')
    p.add_argument('--per-class', action='store_true', help='also print AP per class')
    p.add_argument('--diagnose', action='store_true',
                   help='also print, per tIoU, the recall of the detection list whatever the '
                   'scores and where the missed instances went: class not predicted, no '
                   'overlap, merged with a neighbouring instance, too long, too short, shifted; and what '
                   'the top of each class\'s ranked list is made of: true positives, double '
                   'detections, wrong labels, localization errors, confusions, background, '
                   'with the mAP gained by deleting each kind of false positive')
    p.add_argument('--out', metavar='metrics.json', default=None,
                   help='write {"tiou", "mAP", "average_mAP", "averages", "per_class_AP", '
                   '"protocol"} (fractions; with --diagnose also "diagnostics")')
    p.set_defaults(func=run)


def run(args) -> int:
    import gc
    gc.disable()  # a short process building ~1e6 objects: cyclic collection only costs time
    from wsal.evaluation import evaluate_detection, format_map_table, parse_tiou
    from wsal.evaluation.protocols import as_pairs
    from wsal.utils import atomic_write_json

    tiou = parse_tiou(args.tiou) if args.tiou else None
    ranges = as_pairs(args.average_range) if args.average_range else None
    res = evaluate_detection(
        args.ground_truth, args.predictions, tiou_thresholds=tiou, average_ranges=ranges,
        preset=args.preset, subset=args.subset, video_list=args.videos,
        ignore_unknown_labels=args.ignore_unknown_labels, outside_videos=args.outside_videos,
        diagnose=args.diagnose)
    res.protocol['preset'] = args.preset if tiou is None else None
    print(format_map_table(res, per_class=args.per_class))
    if res.diagnostics is not None:
        from wsal.evaluation.diagnostics import format_error_table
        from wsal.evaluation.false_positives import format_false_positive_table
        print(format_error_table(res.diagnostics))
        print(format_false_positive_table(res.diagnostics['false_positives']))
    if args.out:
        atomic_write_json(args.out, res.to_dict())
        print(f'wrote {args.out} (fractions, with protocol)')
    return 0
