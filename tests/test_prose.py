"""No hand-typed measurement in the book's prose: every measured number is glued.

A number that a computation produces (a loss, a ratio, a percentage, a time, a gate
value, a count of a run) goes into the text with myst-nb's glue role, e.g.
{glue:text}`final_loss:.4f`, so a changed result can never leave a stale sentence.

The rule, applied to every markdown cell and page outside glue roles, code spans,
URLs and link targets:
  * a decimal with three or more digits after the point   (2.3363, 0.0087)
  * a percentage                                          (21%, 6.7 %)
  * a speed-up or size ratio written with x or ×          (620x, 4.3×)
  * a number followed by ± or after ±                     (0.0010 ± 0.0004)
Constants of the method, typed on purpose, are allowed in ALLOWED below, each with
the reason it is a constant and not a measurement.
"""
import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / 'book'

# text -> why it is a constant, not a measurement
ALLOWED = {
    '0.0067': 'sigmoid(-5), the gate at initialisation: fixed by ModelConfig.gate_init = -5',
    '100%': 'a definition ("100% of the weight"), not a result',
    '50%': 'a definition (a coin flip), not a result',
}

STRIP = [
    re.compile(r'\{glue(?::\w+)?\}`[^`]*`'),     # glue roles
    re.compile(r'\{[\w:-]+\}`[^`]*`'),            # other roles ({doc}, {ref}, {term}, ...)
    re.compile(r'```.*?```', re.S),               # fenced code and directives' bodies
    re.compile(r'`[^`\n]*`'),                     # code spans
    re.compile(r'\]\([^)]*\)'),                   # link targets
    re.compile(r'https?://\S+'),                  # bare URLs
    re.compile(r'arXiv[:\s]*\d{4}\.\d{4,5}', re.I),  # arXiv identifiers are names, not measurements
    re.compile(r'<[^>]+>'),                       # HTML tags and their attributes
]
PATTERNS = [
    ('decimal with 3+ digits after the point', re.compile(r'(?<![\w.])\d*\.\d{3,}(?![\w.])')),
    ('percentage', re.compile(r'(?<![\w.])\d+(?:[.,]\d+)?\s?%')),
    ('ratio', re.compile(r'(?<![\w.])\d+(?:[.,]\d+)?\s?[x×](?![\w-])')),
    ('number with a spread', re.compile(r'\d\s?±|±\s?\d')),
]


def prose_blocks():
    """(where, text) for every markdown cell of every chapter and every markdown page."""
    for path in sorted(BOOK.glob('*.ipynb')):
        cells = json.loads(path.read_text())['cells']
        for i, cell in enumerate(cells):
            if cell['cell_type'] == 'markdown':
                yield f"{path.name} cell {i}", ''.join(cell['source'])
    for path in sorted(BOOK.glob('*.md')):
        yield path.name, path.read_text()


def hand_typed(text):
    for pattern in STRIP:
        text = pattern.sub(' ', text)
    found = []
    for what, pattern in PATTERNS:
        for m in pattern.finditer(text):
            snippet = m.group(0).strip()
            if snippet.replace(' ', '') in ALLOWED or snippet in ALLOWED:
                continue
            context = text[max(0, m.start() - 30):m.end() + 30].replace('\n', ' ')
            found.append(f"{what}: {snippet!r} in '...{context}...'")
    return found


BLOCKS = list(prose_blocks())


def test_the_book_has_prose_to_check():
    assert len(BLOCKS) > 100


@pytest.mark.parametrize('where,text', BLOCKS, ids=[w for w, _ in BLOCKS])
def test_no_hand_typed_measurement(where, text):
    found = hand_typed(text)
    assert not found, f"{where}: glue these numbers from the computation:\n  " + '\n  '.join(found)


@pytest.mark.parametrize('text', ['the loss fell to 2.3363', 'about 21% of names', 'a 620x speed-up',
                                  'gains 4.3× here', 'a difference of 0.0010 ± 0.0004', '6.7 % of the norm'])
def test_the_rule_catches_measurements(text):
    assert hand_typed(text)


@pytest.mark.parametrize('text', ['{glue:text}`loss:.4f`', 'beta1 = 0.85', '`2.3363` in code', 'the gate is 0.0067',
                                  'n_embd = 16 and 1000 steps', '[paper](https://arxiv.org/abs/2512.10054)',
                                  'an 8x8 matrix', 'arXiv:2512.10054'])
def test_the_rule_lets_constants_and_glue_through(text):
    assert not hand_typed(text)


# ---------------------------------------------------------------- glue roles name glued keys

ROLE = re.compile(r'\{glue(?::(\w+))?\}`([^`]*)`')


def glued_keys(path):
    """The names a notebook glues (its stored outputs' scrapbook entries)."""
    keys = set()
    for cell in json.loads(path.read_text())['cells']:
        for out in cell.get('outputs', []):
            sb = out.get('metadata', {}).get('scrapbook')
            if sb:
                keys.add(sb['name'])
    return keys


def role_key(kind, text):
    """(document or None, key) of a glue role as myst-nb reads it: {glue:text} splits its
    format off at the last colon, so `doc.ipynb::key` with no format reads as the key 'doc.ipynb:'."""
    if kind == 'text' and ':' in text:
        text = text.rsplit(':', 1)[0]
    doc, sep, key = text.rpartition('::')
    return (doc if sep else None), key


def test_every_glue_role_names_a_key_its_document_glues():
    """The build says so too, but only after executing or rendering every chapter; this
    reads the stored outputs: a role naming no glued key (a typo, or another document's
    key with no format, which myst-nb misreads) fails here in the fast tier."""
    glued = {p.name: glued_keys(p) for p in sorted(BOOK.glob('*.ipynb'))}
    missing = []
    for where, text in BLOCKS:
        here = where.split(' cell ')[0]
        for m in ROLE.finditer(text):
            doc, key = role_key(m.group(1), m.group(2))
            if key not in glued.get(doc or here, set()):
                missing.append(f"{where}: {m.group(0)} (no key {key!r} glued in {doc or here})")
    assert not missing, '\n'.join(missing)


def test_role_key_reads_roles_as_myst_nb_does():
    assert role_key('text', 'loss:.4f') == (None, 'loss')
    assert role_key('text', '06_bus.ipynb::n:d') == ('06_bus.ipynb', 'n')
    assert role_key('text', '06_bus.ipynb::n') == (None, '06_bus.ipynb:')     # no format: misread
    assert role_key(None, 'fig') == (None, 'fig')
