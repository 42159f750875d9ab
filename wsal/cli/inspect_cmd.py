"""``wsal inspect DATA_ROOT``: what the video labels can teach about where the actions are."""
from __future__ import annotations

EPILOG = """\
what it measures (linear probes, no training of a localizer; seconds to a minute):
  video-label classifier  fitted on the training videos' mean features and video labels, scored
                          on every frame of each test video: frame AUC of each present class's
                          score against that class's instances. Near 0.5 the labels' class
                          evidence is as high outside the actions as inside, and methods that
                          localize through class scores have nothing to follow.
  row norm                frame AUC of the feature norm (a class-blind cue).
  supervised frame probe  action vs background, fitted on the training split's segments: what a
                          linear model reaches with full supervision (a reference only).
  action shift rho        per stream, on the training split's annotated frames: the norm of
                          the actions' mean shift from their video's background, over the
                          background's standard deviation along its largest direction of
                          change within a video. Near 1 or below, backgrounds change as much
                          as actions do, and a foreground/background split of each video (the
                          paper's L_bg) can settle on a background change.

examples:
  wsal inspect data/thumos14
  wsal inspect DIR --train-subset train --test-subset val --out report.json
"""


def register(subparsers) -> None:
    import argparse
    p = subparsers.add_parser(
        'inspect', help='what video labels can teach about where the actions are (before training)',
        description='Probe a canonical-layout data root with linear models: how well a '
        'classifier learnt from video labels ranks each test video\'s action frames, per stream '
        'and for both, beside the feature norm and a supervised reference. Every file and field '
        'is checked first, as for training.',
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('data_root', metavar='DATA_ROOT',
                   help='folder with gt.json and features/<stream>/<video_id>.npy')
    p.add_argument('--train-subset', default='validation',
                   help="subset the probes are fitted on (default 'validation', THUMOS14's "
                   'training split)')
    p.add_argument('--test-subset', default='test',
                   help="subset they are scored on; needs annotated segments (default 'test')")
    p.add_argument('--videos', metavar='LIST', default=None,
                   help='score only the test videos in this file (one id per line)')
    p.add_argument('--streams', nargs='+', default=['rgb', 'flow'],
                   help='feature streams (default: rgb flow)')
    p.add_argument('--max-frames', type=int, default=20000,
                   help='training frames drawn for the supervised frame probe (default 20000; '
                   '0 skips it)')
    p.add_argument('--seed', type=int, default=0, help='seed of that draw (default 0)')
    p.add_argument('--out', metavar='report.json', default=None,
                   help='also write the report as JSON')
    p.add_argument('--log-level', default='WARNING', type=str.upper,
                   choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'],
                   help='console log level (default WARNING; INFO also shows the data notes, '
                   'e.g. instances ending after their video)')
    p.add_argument('-q', '--quiet', action='store_true',
                   help='only errors and the report on the console (--log-level ERROR)')
    p.set_defaults(func=run)


def run(args) -> int:
    import os
    import time

    from mmengine.logging import MMLogger

    from wsal.apis.data_report import format_data_report, inspect_data
    from wsal.utils import atomic_write_json, nonfinite_to_none

    if args.max_frames < 0:
        raise ValueError(f'--max-frames must be 0 (no supervised probe) or more, got '
                         f'{args.max_frames}')
    if not os.path.isdir(args.data_root):
        raise FileNotFoundError(f'data root {args.data_root} is not a folder')
    # a logger of its own per call, so that it is the current one and takes this call's level
    # (mmengine keeps the first level of a name and makes the newest logger current)
    MMLogger.get_instance(f'wsal-inspect-{time.time_ns()}',
                          log_level='ERROR' if args.quiet else args.log_level)
    report = inspect_data(args.data_root, train_subset=args.train_subset,
                          test_subset=args.test_subset, streams=args.streams,
                          test_video_list=args.videos, max_frames=args.max_frames, seed=args.seed)
    print(format_data_report(report))
    if args.out:
        atomic_write_json(args.out, nonfinite_to_none(report))
        print(f'report written to {args.out}')
    return 0
