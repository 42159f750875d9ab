"""The README's first code block runs as printed, and says what it returns."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_short_tour_runs_and_lists_the_loss_terms(monkeypatch):
    text = (ROOT / 'README.md').read_text()
    tour = text[text.index('## A short tour'):]
    code = re.search(r'```python\n(.*?)```', tour, re.S).group(1)
    monkeypatch.chdir(ROOT)
    scope = {}
    exec(compile(code, 'README.md (A short tour)', 'exec'), scope)
    printed = re.search(r"sorted\(losses\)\s+#\s*(\[.*?\])", code).group(1)
    assert sorted(scope['losses']) == ast.literal_eval(printed)
    assert tuple(scope['out']['streams']['rgb']['attention'].shape) == (1, 300)
