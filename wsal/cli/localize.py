"""``wsal localize``: detections for new videos' features (no ground truth)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Sequence

from wsal.cli._common import add_config_args


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
    p.set_defaults(func=run)


def _stream_of_file(path: Path, streams: Sequence[str]):
    """(video_id, stream) of a feature file, from its folder or name suffix."""
    if path.parent.name in streams:
        return path.stem, path.parent.name
    for s in streams:
        for sep in ('_', '-', '.'):
            if path.stem.endswith(sep + s) and len(path.stem) > len(s) + 1:
                return path.stem[:-len(s) - 1], s
    raise ValueError(f'cannot tell which stream {path} holds: name it <video>_'
                     f'{streams[0]}.npy, put it in a {streams[0]}/ folder, or pass a folder '
                     f'in the canonical layout (streams: {", ".join(streams)})')


def collect_feature_files(paths: Sequence[str], streams: Sequence[str]) -> Dict[str, Dict[str, Path]]:
    """``{video_id: {stream: path}}`` from files and canonical-layout folders.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a video lacks a stream, a stream is given twice, or a
            folder holds no features.
    """
    videos: Dict[str, Dict[str, Path]] = {}

    def add(vid: str, stream: str, f: Path) -> None:
        have = videos.setdefault(vid, {})
        if stream in have and have[stream] != f:
            raise ValueError(f"video '{vid}' has two {stream} feature files: {have[stream]} and {f}")
        have[stream] = f

    for text in paths:
        p = Path(text).expanduser()
        if p.is_dir():
            root = p / 'features' if (p / 'features').is_dir() else p
            dirs = {s: root / s for s in streams if (root / s).is_dir()}
            if not dirs:
                raise ValueError(f'folder {p} has no {"/".join(streams)} feature folders '
                                 f'(expected {p}/features/<stream>/<video>.npy)')
            for s, d in dirs.items():
                for f in sorted(d.glob('*.npy')):
                    add(f.stem, s, f)
        elif p.is_file():
            vid, s = _stream_of_file(p, streams)
            add(vid, s, p)
        else:
            raise FileNotFoundError(f'features not found: {p}')
    if not videos:
        raise ValueError(f'no feature files found in {", ".join(paths)}')
    for vid, have in videos.items():
        missing = [s for s in streams if s not in have]
        if missing:
            raise ValueError(f"video '{vid}' has no {', '.join(missing)} features "
                             f'(the model needs {", ".join(streams)}; got {", ".join(map(str, have.values()))})')
    return videos


def run(args) -> int:
    import torch

    from wsal.apis.inference import _video_items, init_localizer, trace_videos
    from wsal.datasets.collate import wsal_collate
    from wsal.engine.detection_dump import CollectDetections, predictions_to_activitynet
    from wsal.utils import atomic_write_json

    from wsal.apis.validate_inputs import check_localize_inputs, config_stream_dims

    # every input checked before a model is built or a video is localized
    dims = config_stream_dims(args.config, args.cfg_options)
    files = collect_feature_files(args.features, list(dims)) if dims else None
    check_localize_inputs(files, dims, out=args.out, plot=args.plot)
    model = init_localizer(args.config, args.checkpoint, args.device, cfg_options=args.cfg_options)
    streams = list(model.input_streams)
    if files is None:  # the config does not state its stream dims: check against the model's
        files = collect_feature_files(args.features, streams)
        check_localize_inputs(files, dict(model.input_streams))
    items = _video_items(model, {vid: {s: files[vid][s] for s in streams} for vid in files},
                         None, args.seconds_per_segment)
    classes = model.dataset_meta.get('classes') or tuple(
        f'class_{i}' for i in range(model.num_classes))
    traces: List[dict] = []
    with torch.no_grad():
        for item in items:
            traces += trace_videos(model, wsal_collate([item]))
    collector = CollectDetections()
    collector.process(None, traces)
    result = predictions_to_activitynet(collector.results, classes)
    for vid, dets in result['results'].items():
        top = ', '.join(f"{d['label']} {d['segment'][0]:.1f}-{d['segment'][1]:.1f}s ({d['score']:.2f})"
                        for d in dets[:3])
        print(f'{vid}: {len(dets)} detections' + (f'; top: {top}' if top else ''))
    if args.out:
        atomic_write_json(args.out, result)
        print(f'predictions written to {args.out}')
    if args.plot:
        from wsal.visualization import save_localization_figure
        for trace in traces:
            save_localization_figure(os.path.join(args.plot, f"{trace['video_id']}.png"),
                                     [trace], classes=classes)
        print(f'{len(traces)} plot(s) written to {args.plot}')
    return 0
