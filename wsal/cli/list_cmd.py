"""``wsal list``: what is registered, per registry, with the providing package."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser('list', help='list registered components per registry',
                              description='List what is registered in each wsal registry, '
                              'with the package that provides it (plugins included).')
    p.add_argument('registry', nargs='?', default=None,
                   help='only this registry (MODELS, LOSSES, POSTPROCESSORS, METRICS, '
                   'DATASETS, HOOKS, FUNCTIONS)')
    p.set_defaults(func=run)


def run(args) -> int:
    from wsal.registry import plugin_report, registered
    table = registered(args.registry)
    for rname, entries in table.items():
        print(f'{rname} ({len(entries)})')
        width = max((len(k) for k in entries), default=0)
        for name, pkg in entries.items():
            print(f'  {name:<{width}}  {pkg}')
    failed = [r for r in plugin_report() if r.error]
    for r in failed:
        print(f"plugin '{r.name}' from '{r.distribution}' failed to load: {r.error}")
    return 0
