"""No module of wsal imports from a higher floor (imports inside functions included)."""
import ast
from pathlib import Path

import wsal

PACKAGE = Path(wsal.__file__).resolve().parent
#: floor of each top-level part of the package (higher may import lower or equal)
FLOORS = {'registry': 1, 'utils': 1, 'models': 2, 'losses': 2, 'postprocess': 2,
          'evaluation': 2, 'datasets': 2, 'visualization': 2, 'engine': 3, 'apis': 4,
          'experiments': 5, 'cli': 6, 'version': 1}


def _part(module: str):
    parts = module.split('.')
    if parts[0] != 'wsal' or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path, module: str):
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split('.')
                base = base[:len(base) - node.level] if path.name != '__init__.py' else \
                    base[:len(base) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            yield node.lineno, target
            for alias in node.names:  # `from wsal import apis`
                yield node.lineno, f'{target}.{alias.name}'


def upward_imports(package: Path = PACKAGE):
    found = []
    for path in sorted(package.rglob('*.py')):
        rel = path.relative_to(package.parent).with_suffix('')
        module = '.'.join(rel.parts[:-1] if rel.name == '__init__' else rel.parts)
        own = _part(module)
        if own not in FLOORS:
            continue
        for line, target in _imports(path, module):
            other = _part(target)
            if other in FLOORS and FLOORS[other] > FLOORS[own]:
                found.append(f'{path.relative_to(package.parent)}:{line} imports {target} '
                             f'(floor {FLOORS[other]} > {FLOORS[own]})')
    return found


def test_every_part_has_a_floor():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == '.py' and p.stem != '__init__' and p.stem != '__main__')
             or (p.is_dir() and (p / '__init__.py').is_file())}
    assert parts <= set(FLOORS), sorted(parts - set(FLOORS))


def test_no_upward_import():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path):
    pkg = tmp_path / 'wsal'
    (pkg / 'engine').mkdir(parents=True)
    (pkg / 'engine' / 'hook.py').write_text(
        'def f():\n    from wsal.apis import run_test\n    return run_test\n')
    (pkg / 'engine' / 'ok.py').write_text('from ..registry import HOOKS\nfrom . import hook\n')
    (pkg / 'datasets').mkdir()
    (pkg / 'datasets' / 'base.py').write_text('from ..engine import compat\n')
    found = upward_imports(pkg)
    assert len({f.split(' imports ')[0] for f in found}) == 2, found
    assert any('engine/hook.py:2 imports wsal.apis' in f for f in found)
    assert any('datasets/base.py:1 imports wsal.engine' in f for f in found)
