"""``wsal convert``: convert a community feature layout to wsal's canonical one."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        'convert', help='convert STPN/W-TALC features to the canonical layout',
        description='Convert the STPN / W-TALC layout (<Name>-I3D-JOINTFeatures.npy + '
        '<Name>-Annotations/) into OUT/gt.json and OUT/features/{rgb,flow}/<video_id>.npy. '
        'The input files are pickled numpy arrays: convert only files you trust.')
    p.add_argument('src', help='folder with the *-JOINTFeatures.npy file and *-Annotations/')
    p.add_argument('out', help='output folder (must not exist or be empty, unless --overwrite)')
    p.add_argument('--format', default='stpn', choices=['stpn'], help='input layout (default stpn)')
    p.add_argument('--feature-file', default=None, help='feature file (default: the one match)')
    p.add_argument('--annotation-dir', default=None, help='annotation folder (default: the one match)')
    p.add_argument('--fps', type=float, default=10.0,
                   help='extraction fps when the annotations have no extracted_fps.npy (default 10, '
                   'as the public THUMOS14 features)')
    p.add_argument('--force-fps', type=float, default=None, metavar='FPS',
                   help='extraction fps of every video, overriding extracted_fps.npy (the W-TALC '
                   'I3D release records 10 there but its features are 16-frame snippets at 25 '
                   'fps: use --force-fps 25)')
    p.add_argument('--split-dim', type=int, default=1024,
                   help='channels of the RGB block in the joint features (default 1024)')
    p.add_argument('--overwrite', action='store_true', help='replace an existing OUT')
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from wsal.datasets.stpn import convert_stpn
    out = convert_stpn(args.src, args.out, feature_file=args.feature_file,
                       annotation_dir=args.annotation_dir, default_fps=args.fps,
                       fps=args.force_fps,
                       split_dim=args.split_dim, overwrite=args.overwrite)
    gt = json.loads((out / 'gt.json').read_text(encoding='utf-8'))
    print(f"wrote {out}: {len(gt['database'])} videos, {len(gt['classes'])} classes "
          f'(use data_root={out}, stride 16; per-video fps is in gt.json)')
    return 0
