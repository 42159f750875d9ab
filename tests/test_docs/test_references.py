"""Cross-references between README.md and docs/*.md resolve.

The docs point at each other by quoting a heading or a bold paragraph lead:
``(docs/ablation.md, "A fifth independent generator")``,
``("Model settings" above)``. A renamed section leaves such a quote
dangling; this test names every one that no longer resolves.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ['README.md'] + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / 'docs').glob('*.md'))

# A quote that names where it points: a document before it, or "below" /
# "above" after it.
_REF = re.compile(r'(?:(docs/\w+\.md|README(?:\.md)?),?\s*)?'
                  r'"([^"]{8,200})"(\s*(?:below|above)\b)?')
_BOLD_LEAD = re.compile(r'\*\*(.+?)\*\*')


def _titles(path):
    """Headings and bold paragraph leads of a Markdown file, without code."""
    titles, fenced = set(), False
    for line in (ROOT / path).read_text(encoding='utf-8').splitlines():
        if line.startswith('```'):
            fenced = not fenced
            continue
        if fenced:
            continue
        if line.startswith('#'):
            titles.add(line.lstrip('#').strip().replace('`', ''))
        for lead in _BOLD_LEAD.findall(line):
            titles.add(lead.strip().rstrip('.').replace('`', ''))
    return titles


def _references(path):
    """(target document, quoted title) pairs of one file, outside code."""
    text = (ROOT / path).read_text(encoding='utf-8')
    text = re.sub(r'```.*?```', ' ', text, flags=re.S)
    text = re.sub(r'\s*\n\s*', ' ', text)
    for doc, quote, where in _REF.findall(text):
        if not (doc or where):
            continue
        if doc.startswith('README'):
            doc = 'README.md'
        yield doc or path, quote.replace('`', '')


@pytest.mark.parametrize('path', DOCS)
def test_quoted_sections_exist(path):
    titles = {doc: _titles(doc) for doc in DOCS}
    dangling = [
        f'{path}: "{quote}" (in {doc})'
        for doc, quote in _references(path)
        if doc in titles and not any(
            t == quote or t.startswith(quote) for t in titles[doc])
    ]
    assert not dangling, 'quoted sections that do not exist:\n' + '\n'.join(
        dangling)


def test_reference_pattern_catches_a_renamed_section():
    # The pattern reads the forms the docs use, across a line break.
    text = 'as measured (docs/ablation.md,\n"No such section here") and ("Nor this one" above).'
    refs = [(doc, q) for doc, q, _ in _REF.findall(re.sub(r'\s*\n\s*', ' ', text))]
    assert refs == [('docs/ablation.md', 'No such section here'), ('', 'Nor this one')]
