"""``wsal make-synthetic OUT``: write synthetic THUMOS14-structured features."""
from __future__ import annotations

import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        'make-synthetic', help='generate synthetic THUMOS14-structured two-stream features',
        description='Write synthetic two-stream features with the real durations, instances and '
        'labels of THUMOS14 in the canonical layout (OUT/gt.json, OUT/features/{rgb,flow}/*.npy, '
        'OUT/micro_videos.json). Same seed and options give identical files.')
    p.add_argument('out', help='output folder (must not exist or be empty, unless --overwrite)')
    p.add_argument('--preset', default='small', choices=['tiny', 'small', 'full'],
                   help='tiny: unit tests; small: the demo (40 + 20 videos); full: 412 videos '
                   '(default: small)')
    p.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    p.add_argument('--set', dest='options', metavar='KEY=VALUE', action='append', default=[],
                   help='override a generator knob (SyntheticConfig field), value as JSON, e.g. '
                   '--set rgb_dim=512 --set "num_videos={\\"validation\\": 20, \\"test\\": 10}"')
    p.add_argument('--overwrite', action='store_true', help='replace an existing OUT')
    p.set_defaults(func=run)


def parse_options(items) -> dict:
    out = {}
    for item in items:
        if '=' not in item:
            raise ValueError(f"--set expects KEY=VALUE, got '{item}'")
        key, value = item.split('=', 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def run(args) -> int:
    import time

    from wsal.datasets.synthetic import make_synthetic
    start = time.time()
    out = make_synthetic(args.out, preset=args.preset, seed=args.seed, overwrite=args.overwrite,
                         **parse_options(args.options))
    gt = json.loads((out / 'gt.json').read_text(encoding='utf-8'))
    subsets = {}
    for v in gt['database'].values():
        subsets[v['subset']] = subsets.get(v['subset'], 0) + 1
    micro = out / 'micro_videos.json'
    n_micro = len(json.loads(micro.read_text(encoding='utf-8'))['database']) if micro.exists() else 0
    print(f'wrote {out} in {time.time() - start:.1f}s: '
          + ', '.join(f'{n} {s}' for s, n in sorted(subsets.items()))
          + f' videos, {n_micro} micro-videos, {len(gt["classes"])} classes')
    return 0
