"""The explorer's page in headless Chromium (two explorers, tests/explorer_pages.py): it
registers and replaces its fallback, works over file:// and without JavaScript (the
fallback), checkpoint() is the saved checkpoint number for number (load_checkpoint reads it),
decode(settings) gives the numpy engine's names and `python -m microdnb sample --json`'s,
the timeline counts the passes one after another as the book does; axe-core finds no WCAG
2.1 AA violation in the light and the dark theme, nor inside JupyterLab's output styles,
which do not leak in; nothing animates; an explorer built with `show=BUS_PARTS` (chapter
6's) has no gate control and no SNC attention, distribution or delta view, refuses a gate
in x.set, and still decodes and draws its timeline, the end of a name written '.'."""
from __future__ import annotations

import json
import random
import struct
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, subprocess_env
from browser import serve
from explorer_pages import (AXE, JL_CSS, axe_violations, browser, models, numpy_texts, open_page, page,  # noqa: F401 (fixtures)
                            saved_text, sequential_passes, settle, shown, site)
from microdnb.checkpoint import load_checkpoint
from microdnb.page.explorer import BUS_PARTS, PARTS, RANGES, explorer, explorer_page

pytestmark = pytest.mark.browser


def test_explorers_register_in_page_order_and_replace_the_fallback(page, models):
    got = page.evaluate("""() => window.microdnb.explorers.map(x => ({title: x.title, texts: x.shown.texts,
        ready: x.root.hasAttribute('data-microdnb-ready'), fallback: !!x.root.querySelector('.mdx-fallback'),
        first: x.root.querySelector('input, select, button').getAttribute('data-k'),
        ids: [...x.root.querySelectorAll('[id]')].map(e => e.id)}))""")
    assert [g['title'] for g in got] == [m['title'] for m in models]
    for g, m in zip(got, models):
        assert g['ready'] and not g['fallback'] and g['first'] == 'gate'
        assert g['texts'] == m['explorer'].names          # the fallback's names (numpy) are the page's
    ids = got[0]['ids'] + got[1]['ids']
    assert len(ids) == len(set(ids)) > 20                 # two explorers, no id shared


def test_static_fallback_without_javascript(browser, models, site):
    ctx = browser.new_context(java_script_enabled=False)
    try:
        pg = ctx.new_page()
        pg.goto((site / 'index.html').as_uri())
        texts = pg.locator('.mdx-fallback').all_inner_texts()
    finally:
        ctx.close()
    assert len(texts) == 2
    for text, m in zip(texts, models):
        assert 'needs JavaScript' in text and all(n in text for n in m['explorer'].names)


def test_file_url_works_the_same(browser, models, site):
    pg = open_page(browser, (site / 'index.html').as_uri())
    try:
        got = pg.evaluate("() => window.microdnb.explorers.map(x => [x.title, x.shown.texts,"
                          " x.decode({streams: 3, seed: 5, cadence: 2, lag: 1}).texts])")
        assert [g[0] for g in got] == [m['title'] for m in models]
        for (_, texts, other), m in zip(got, models):
            assert texts == m['explorer'].names
            assert other == numpy_texts(m, {'streams': 3, 'seed': 5, 'cadence': 2, 'lag': 1})
        assert not pg.errors, pg.errors
    finally:
        pg.close()


@pytest.mark.parametrize('i', [0, 1])
def test_checkpoint_is_the_saved_file_number_for_number(page, models, tmp_path, i):
    text = page.evaluate('(i) => window.microdnb.explorers[i].checkpoint()', i)
    got, ref = json.loads(text), json.loads(saved_text(models[i], tmp_path))
    assert got == ref and list(got) == list(ref) and list(got['params']) == list(ref['params'])
    for name, rows in ref['params'].items():  # every weight to the last bit, -0.0 too
        for r, g in zip(rows, got['params'][name]):
            assert struct.pack(f'<{len(r)}d', *r) == struct.pack(f'<{len(g)}d', *g), name
    path = tmp_path / 'from_page.json'
    path.write_text(text, encoding='utf-8')
    loaded = load_checkpoint(path)
    assert loaded['cfg'] == models[i]['cfg'] and loaded['bus_cfg'] == models[i]['bus']
    for name, rows in loaded['params'].items():
        assert np.array(rows).tobytes() == np.asarray(models[i]['params'][name], dtype=np.float64).tobytes(), name


# ------------------------------------------------------------------ decode(settings) against the package

def _settings_grid(m, n, seed):
    gen = random.Random(seed)
    out = [{}]
    for _ in range(n - 1):
        S = gen.randint(*RANGES['streams'])
        s = {'gate': gen.choice([None, 0.0, 1.0, round(gen.random(), 3)]), 'cadence': gen.randint(*RANGES['cadence']),
             'lag': gen.randint(*RANGES['lag']), 'streams': S, 'temperature': gen.choice([0.5, 1.0, round(gen.uniform(0.2, 1.6), 2)]),
             'seed': gen.randrange(2 ** 32)}
        if gen.random() < 0.4:
            s['prompts'] = [gen.choice([None, '', 'ma', 'k', 'zo']) for _ in range(S)]
        if gen.random() < 0.4:
            s['starts'] = [gen.choice([None, '', 'm', 'k', 'e']) for _ in range(gen.randint(1, S))]
        out.append(s)
    return out


@pytest.mark.parametrize('i', [0, 1])
def test_decode_gives_the_numpy_engines_names(page, models, i):
    m = models[i]
    grid = _settings_grid(m, 12, seed=10 + i)
    got = page.evaluate('([i, grid]) => grid.map(s => window.microdnb.explorers[i].decode(s).texts)', [i, grid])
    want = [numpy_texts(m, s) for s in grid]
    assert got == want
    assert len({tuple(t) for t in got}) >= 8   # the settings matter
    assert any(s.get('starts') and any(s['starts']) for s in grid)


@pytest.mark.parametrize('i', [0, 1])
def test_the_timeline_counts_the_passes_one_after_another(page, models, i):
    """The timeline's count of passes one after another is the book's (measure.forward_passes
    on the names' lengths): views.sequentialPasses on the decode, and the number the page writes."""
    m = models[i]
    grid = _settings_grid(m, 16, seed=30 + i) + [{'lag': 0, 'cadence': 1, 'streams': 4, 'seed': 5},
                                                 {'lag': 1, 'cadence': 1, 'streams': 4, 'seed': 5}]
    got = page.evaluate("""([i, grid]) => grid.map(s => { const x = window.microdnb.explorers[i], r = x.decode(s);
        return [r.texts, r.rounds, x.views.sequentialPasses(r, {cadence: s.cadence ?? x.model.bus.cadence,
                                                                 lag: s.lag ?? x.model.bus.lag})]; })""", [i, grid])
    for s, (texts, rounds, passes) in zip(grid, got):
        assert passes == sequential_passes(m, s, texts), s
    assert any(passes > rounds for _, rounds, passes in got)                        # lag 0 waits
    assert all(passes == rounds for s, (_, rounds, passes) in zip(grid, got) if s.get('lag', m['bus'].lag) > 0)
    settings = {'lag': 0, 'cadence': 1, 'streams': 4, 'seed': 5, 'gate': None}
    before = page.evaluate('(i) => window.microdnb.explorers[i].settings()', i)
    page.evaluate('([i, s]) => window.microdnb.explorers[i].set(s)', [i, settings])
    settle(page, i)
    note = page.evaluate("(i) => window.microdnb.explorers[i].root.querySelector('.mdx-v-timeline').textContent", i)
    texts = page.evaluate('(i) => window.microdnb.explorers[i].shown.texts', i)
    assert f"{sequential_passes(m, settings, texts)} decoding passes one after another" in note
    page.evaluate('([i, s]) => window.microdnb.explorers[i].set(s)', [i, before])   # as the other tests expect
    settle(page, i)
    assert shown(page, i)['settings'] == before


def test_sample_json_on_the_dumped_checkpoint_gives_the_same_names(page, models, tmp_path):
    m = models[0]
    path = tmp_path / 'from_page.json'
    path.write_text(page.evaluate('() => window.microdnb.explorers[0].checkpoint()'), encoding='utf-8')
    cases = [({'streams': 2, 'seed': 42}, 'scalar'),
             ({'streams': 3, 'cadence': 2, 'lag': 1, 'gate': 0.734, 'temperature': 0.8, 'seed': 9}, 'numpy'),
             ({'streams': 4, 'cadence': 1, 'lag': 2, 'gate': 1.0, 'temperature': 1.3, 'seed': 123456789,
               'prompts': [None, 'ma', '', 'zo']}, 'numpy'),
             ({'streams': 2, 'cadence': 5, 'lag': 0, 'gate': 0.0, 'temperature': 0.3, 'seed': 1}, 'numpy'),
             ({'streams': 3, 'cadence': 1, 'lag': 0, 'gate': 0.9, 'temperature': 0.5, 'seed': 5,
               'starts': ['m', None, 'k'], 'prompts': [None, 'a']}, 'scalar')]
    for s, engine in cases:
        args = ['--checkpoint', path, '--json', '--engine', engine, '--streams', s['streams'], '--seed', s['seed']]
        for k in ('cadence', 'lag', 'temperature'):
            if k in s:
                args += [f'--{k}', s[k]]
        if s.get('gate') is not None:
            args += ['--gate', repr(s['gate'])]
        for p in s.get('prompts') or []:
            args += ['--prompt', p or '']
        for c in s.get('starts') or []:
            args += ['--start', c or '']
        run = subprocess.run([sys.executable, '-m', 'microdnb', 'sample', *map(str, args)], cwd=REPO,
                             env=subprocess_env(), capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        texts = json.loads(run.stdout)['texts']
        assert texts == page.evaluate('(s) => window.microdnb.explorers[0].decode(s).texts', s) == numpy_texts(m, s)


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_axe_finds_no_wcag_violation(browser, scheme):
    pg = open_page(browser, f'{browser.origin}/index.html', color_scheme=scheme)
    try:
        violations = axe_violations(pg)
        dark = pg.evaluate("() => getComputedStyle(document.querySelector('.microdnb-explorer')).backgroundColor")
    finally:
        pg.close()
    assert not violations, violations
    assert (dark == 'rgb(22, 24, 28)') == (scheme == 'dark')


@pytest.mark.parametrize('theme', ['light', 'dark'])
def test_jupyterlab_output_styles_do_not_leak_in(browser, site, theme):
    if not (site / f'jl_{theme}.html').is_file() or not AXE.is_file():
        pytest.fail(f'{JL_CSS} or {AXE} missing: `make vendor` installs them', pytrace=False)
    pg = open_page(browser, f'{browser.origin}/jl_{theme}.html')
    try:
        got = pg.evaluate("""() => { const r = document.querySelector('.microdnb-explorer'), cs = el => getComputedStyle(el);
          const tr = r.querySelector('.mdx-dist tbody tr'), th = r.querySelector('.mdx-dist tbody th'),
                td = r.querySelector('.mdx-tl td[data-s]'), table = r.querySelector('.mdx-tl');
          return {row: cs(tr).backgroundColor, th: cs(th).textAlign, td: cs(td).textAlign, margin: cs(table).marginLeft,
                  color: cs(table).color === cs(r).color, root: cs(r).backgroundColor}; }""")
        pg.add_script_tag(path=str(AXE))
        violations = pg.evaluate("async () => (await axe.run('.microdnb-explorer', {runOnly: {type: 'tag', values: "
                                 "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations.map(v => v.id)")
        assert not violations, violations
        assert not pg.errors, pg.errors
    finally:
        pg.close()
    assert got == {'row': 'rgba(0, 0, 0, 0)', 'th': 'left', 'td': 'center', 'margin': '0px', 'color': True,
                   'root': 'rgb(22, 24, 28)' if theme == 'dark' else 'rgb(255, 255, 255)'}


def test_nothing_animates(browser):
    pg = open_page(browser, f'{browser.origin}/index.html', reduced_motion='reduce')
    try:
        moving = pg.evaluate("""() => [...document.querySelectorAll('.microdnb-explorer, .microdnb-explorer *')]
          .filter(el => { const cs = getComputedStyle(el);
            return parseFloat(cs.transitionDuration) > 0 || cs.animationName !== 'none'; }).length""")
    finally:
        pg.close()
    assert moving == 0


def test_an_explorer_shows_only_the_parts_its_chapter_has_taught(browser, models, tmp_path_factory):
    """Chapter 6's explorer (show=BUS_PARTS) has no gate control and no SNC view; the same
    model with every part (chapters 7 on) has them. Both decode the same names."""
    m = models[0]
    root = tmp_path_factory.mktemp('explorer_parts')
    bus_only = explorer(m['params'], m['cfg'], m['tok'], m['bus'], title='the bus only', show=BUS_PARTS)
    every = explorer(m['params'], m['cfg'], m['tok'], m['bus'], title='every part')
    assert bus_only.show == BUS_PARTS and every.show == PARTS and bus_only.names == every.names
    assert 'gate' not in repr(bus_only) and 'gate as trained' in repr(every)
    (root / 'index.html').write_text(explorer_page([bus_only, every], 'parts'), encoding='utf-8')
    with serve(root) as origin:
        pg = open_page(browser, f'{origin}/index.html')
        try:
            got = pg.evaluate("""() => window.microdnb.explorers.map(x => {
              const r = x.root, has = s => r.querySelector(s) !== null;
              let refused = null;
              try { x.set({gate: 0.5}); } catch (e) { refused = e.message; }
              x.set({cadence: 1, lag: 1});
              return {show: x.show, gate: has('input[data-k=gate]'), trained: has('button[data-k=trained]'),
                      nonotes: has('button[data-k=nonotes]'), attn: has('.mdx-v-attn'), dist: has('.mdx-v-dist'),
                      delta: has('.mdx-v-delta'), timeline: has('.mdx-v-timeline .mdx-tl'), names: has('.mdx-name'),
                      cadence: has('input[data-k=cadence]'), lag: has('input[data-k=lag]'), refused,
                      texts: x.shown.texts, settings: x.settings(),
                      ends: [...r.querySelectorAll('.mdx-tl td.mdx-end')].map(td => td.firstChild.textContent),
                      live: r.querySelector('[role=status]').textContent};
            })""")
            settle(pg, 0)
            settle(pg, 1)
            errors = pg.errors
        finally:
            pg.close()
    assert not errors, errors
    six, seven = got
    assert six['show'] == list(BUS_PARTS) and seven['show'] == list(PARTS)
    for k in ('gate', 'trained', 'nonotes', 'attn', 'dist', 'delta'):
        assert not six[k] and seven[k], k
    for k in ('timeline', 'names', 'cadence', 'lag'):
        assert six[k] and seven[k], k
    assert six['refused'] == 'gate: this explorer shows no gate control' and seven['refused'] is None
    assert six['settings']['gate'] is None and seven['settings']['gate'] == 0.5
    assert six['texts'] == numpy_texts(m, {'cadence': 1, 'lag': 1})
    assert six['ends'] and set(six['ends']) == {m['tok'].labels[m['tok'].BOS]} == {'.'}


def test_set_model_explores_another_model_and_refuses_a_misfit(page, models):
    """x.setModel(model) (what a trainer's "Explore what you trained" calls): the explorer then
    decodes and saves that model, as the numpy engine decodes it; a model of another
    block_size is refused, and nothing changes. The first explorer gets its own model back."""
    got = page.evaluate("""async () => { const [a, b] = window.microdnb.explorers, original = a.model, before = a.shown.texts;
      const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));   // a redraw is coalesced
      let refused = '';
      try { a.setModel(b.model); } catch (e) { refused = e.message; }
      const kept = a.model === original && JSON.stringify(a.shown.texts) === JSON.stringify(before);
      const other = a.engine.loadCheckpoint(JSON.parse(a.checkpoint()), null, original.limits);
      other.params.snc_gate.data[0] = 5;   // the gate wide open: another model of the same shape
      a.setModel(other);
      await frame();
      const out = {refused, kept, texts: a.decode({seed: 3, streams: 3}).texts, shown: a.shown.texts,
                   gate: JSON.parse(a.checkpoint()).params.snc_gate[0][0], labels: a.model.labels === original.labels};
      a.setModel(original);
      await frame();
      out.back = JSON.stringify(a.shown.texts) === JSON.stringify(before);
      return out; }""")
    m = models[0]
    opened = {**m, 'params': {**m['params'], 'snc_gate': np.array([[5.0]])}}
    assert 'vocabulary and block_size' in got['refused'] and got['kept'], got
    assert got['gate'] == 5 and got['labels'] and got['back'], got
    assert got['texts'] == numpy_texts(opened, {'seed': 3, 'streams': 3})
    assert got['shown'] == numpy_texts(opened, {})
