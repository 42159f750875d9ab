"""``wsal localize``: detections for new videos' features (no ground truth)."""
from __future__ import annotations

import os

from wsal.cli._common import add_config_args, add_log_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        'localize', help='detect actions in new videos from their feature files',
        description='Run a trained localizer on feature files of new videos (no ground truth). '
        'FEATURES are .npy files named <video>_<stream>.npy (or <stream>/<video>.npy), or '
        'folders in the canonical layout (features/<stream>/<video>.npy or <stream>/<video>.npy).')
    p.add_argument('config', help='config the checkpoint was trained with')
    p.add_argument('checkpoint', help='checkpoint (.pth) written by wsal train')
    p.add_argument('features', nargs='+', metavar='FEATURES',
                   help='feature files (every stream of each video) or folders')
    p.add_argument('--out', metavar='PRED.json', default=None,
                   help='write detections in ActivityNet result format (seconds)')
    p.add_argument('--plot', metavar='DIR', default=None,
                   help='write a Figure-4-style PNG per video (attention, T-CAM, detections)')
    p.add_argument('--seconds-per-segment', type=float, default=None,
                   help="time per feature segment (default: the config's stride / fps)")
    p.add_argument('--device', default='cpu', help='torch device (default cpu)')
    add_config_args(p, data_root=False)
    add_log_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from wsal.apis.inference import init_localizer, trace_features
    from wsal.datasets.feature_files import collect_feature_files
    from wsal.evaluation.detection_records import detection_records, predictions_to_activitynet
    from wsal.utils import atomic_write_json

    from wsal.apis.inference import load_config
    from wsal.apis.validate_inputs import check_localize_inputs, majority_dims

    cfg = load_config(args.config, args.cfg_options)
    files = collect_feature_files(args.features, list(cfg.model.get('streams') or ('rgb', 'flow')))
    # the model's input dims follow the features given (the dimension most files have); every
    # input is checked before a model is built or a video is localized
    dims = majority_dims(files)
    check_localize_inputs(files, dims, out=args.out, plot=args.plot)
    model = init_localizer(cfg, args.checkpoint, args.device, feature_dims=dims)
    streams = list(model.input_streams)
    if args.log_level in ('DEBUG', 'INFO'):
        first = files[next(iter(files))]
        print(f'{len(files)} video(s); feature dims (from {", ".join(map(str, first.values()))}): '
              + ', '.join(f'{s}={d}' for s, d in dims.items()) + f'; checkpoint {args.checkpoint}')
    traces = trace_features(model, {vid: {s: files[vid][s] for s in streams} for vid in files},
                            seconds_per_segment=args.seconds_per_segment)
    classes = model.dataset_meta.get('classes') or tuple(
        f'class_{i}' for i in range(model.num_classes))
    result = predictions_to_activitynet(detection_records(traces), classes)
    # one line per video, unless -q / --log-level ERROR
    per_video = not args.quiet and args.log_level != 'ERROR'
    for vid, dets in (result['results'].items() if per_video else []):
        top = ', '.join(f"{d['label']} {d['segment'][0]:.1f}-{d['segment'][1]:.1f}s "
                        f"({d['score']:.2f})" for d in dets[:3])
        print(f'{vid}: {len(dets)} detections' + (f'; top: {top}' if top else ''))
    if args.out:
        atomic_write_json(args.out, result)
        print(f'predictions written to {args.out}')
    if args.plot:
        from wsal.visualization import save_localization_figure
        for trace in traces:
            save_localization_figure(
                os.path.join(args.plot, f"{trace['video_id']}.png"), [trace], classes=classes,
                model_names=[os.path.splitext(os.path.basename(args.config))[0]],
                reason='shown: a video given to wsal localize; class: its highest video score')
        print(f'{len(traces)} plot(s) written to {args.plot}')
    return 0
