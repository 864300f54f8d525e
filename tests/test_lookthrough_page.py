"""The look-through in headless Chromium (microdnb/page/lookthrough.py and lookthrough.js): two
look-throughs in one page, the briefly trained reference-size model (conftest.trained_model)
and a random 2-layer, 2-head one with block_size 10, served over http.

* trace(name), engine.js's forward with its trace hook, equals the numpy engine
  (lookthrough.trace, vector.gpt_trace) on several names: the same tokens, and attention,
  residual sizes, logits and probabilities to 1e-12 relative (per vector), all in one evaluate;
* the view by mouse, keyboard and screen reader: the numbers it writes are the trace's, the
  position slider takes the arrow keys, Home and End, a click on a letter selects it, a typed
  name is read at once and a bad one is refused with a message naming the allowed letters,
  the live region says what the selected position shows, a focused control is ringed;
* axe-core finds no WCAG 2.1 AA violation in the light or the dark theme; without JavaScript
  the fallback (the numpy engine's guesses) stays.
Chromium is /usr/bin/chromium (MICRODNB_CHROMIUM overrides); without it these tests skip,
unless CI=true, where they fail.
"""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from browser import launch, require_chromium, serve
from explorer_pages import axe_violations
from microdnb import vector
from microdnb.config import ModelConfig
from microdnb.page.lookthrough import lookthrough, trace

pytestmark = pytest.mark.browser

TOL = 1e-12
NAMES = [['', 'a', 'isabella', 'emma', 'zzyzx', 'abcdefghijklmno', 'qqq'], ['', 'b', 'ava', 'xyzzyab', 'abcdefghi']]


@pytest.fixture(scope='module')
def models(trained_model):
    cfg2 = ModelConfig(vocab_size=27, n_layer=2, n_embd=8, n_head=2, block_size=10, notes_dim=4, init_std=0.4)
    return [(trained_model['params'], trained_model['cfg'], trained_model['tok']),
            (vector.init_params(cfg2, random.Random(5)), cfg2, trained_model['tok'])]


@pytest.fixture(scope='module')
def browser(models, tmp_path_factory):
    require_chromium()
    from playwright.sync_api import sync_playwright
    site = tmp_path_factory.mktemp('lookthrough_site')
    views = [lookthrough(*models[0], 'isabella', pos=3, title='Trained model'),
             lookthrough(*models[1], 'ava', title='Two layers')]
    (site / 'index.html').write_text(page_of(views), encoding='utf-8')
    with serve(site) as origin, sync_playwright() as pw:
        b = launch(pw)
        b.origin, b.site = origin, site
        yield b
        b.close()


def page_of(views):
    body = '\n'.join(v.html for v in views)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f'<title>look-throughs</title></head>\n<body><main>\n{body}\n</main></body></html>\n')


def open_page(browser, **media):
    pg = browser.new_page(viewport={'width': 1000, 'height': 900})
    pg.errors = []
    pg.route('**/*', lambda r: r.continue_() if r.request.url.startswith(browser.origin)
             else (pg.errors.append(f'request to {r.request.url}'), r.abort()))
    pg.on('console', lambda m: m.type == 'error' and pg.errors.append(f'console: {m.text}'))
    pg.on('pageerror', lambda e: pg.errors.append(f'uncaught: {e}'))
    if media:
        pg.emulate_media(**media)
    pg.goto(f'{browser.origin}/index.html')
    pg.wait_for_function('() => window.microdnb && window.microdnb.lookthroughs.length === 2')
    return pg


@pytest.fixture(scope='module')
def page(browser):
    pg = open_page(browser)
    yield pg
    assert not pg.errors, pg.errors
    pg.close()


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / max(1e-300, float(np.max(np.abs(b)))))


def test_trace_is_the_numpy_engines_to_1e12(page, models):
    got = page.evaluate('(names) => window.microdnb.lookthroughs.map((v, i) => names[i].map(n => v.trace(n)))', NAMES)
    worst, cases = {}, 0
    for i, (params, cfg, tok) in enumerate(models):
        for name, js in zip(NAMES[i], got[i]):
            want = trace(params, cfg, tok, name)
            assert js['name'] == name and js['tokens'] == want['tokens']
            assert len(js['positions']) == len(want['positions']) == len(name) + 1
            for g, w in zip(js['positions'], want['positions']):
                assert (g['pos'], g['token'], g['next']) == (w['pos'], w['token'], w['next'])
                assert [r[:2] for r in g['resid']] == [r[:2] for r in w['resid']]
                for what, a, b in [('logits', g['logits'], w['logits']), ('probs', g['probs'], w['probs']),
                                   ('resid', [r[2] for r in g['resid']], [r[2] for r in w['resid']])] + \
                        [('attn', g['attn'][li][h], w['attn'][li][h]) for li in range(cfg.n_layer) for h in range(cfg.n_head)]:
                    err = rel(a, b)
                    worst[what] = max(worst.get(what, 0.0), err)
                    assert err <= TOL, (i, name, g['pos'], what, err)
                cases += 1
    assert cases == sum(len(n) + 1 for names in NAMES for n in names) and set(worst) == {'logits', 'probs', 'resid', 'attn'}
    print('look-through vs numpy, max relative error:', {k: f'{v:.1e}' for k, v in worst.items()})


VIEW_JS = """(i) => { const v = window.microdnb.lookthroughs[i], r = v.root, q = s => [...r.querySelectorAll(s)];
  return {state: v.state(), live: r.querySelector('[role=status]').textContent,
          heads: q('.mlt-attn').map(t => [...t.querySelectorAll('tbody tr')].map(tr =>
                   [...tr.querySelectorAll('td')].map(td => td.textContent))),
          resid: q('.mlt-resid tbody .mdx-num').map(e => e.textContent),
          next: q('.mdx-dist tbody tr').map(tr => [tr.querySelector('th').textContent, tr.querySelector('.mdx-num').textContent]),
          pressed: q('.mlt-strip button[aria-pressed=true]').map(b => b.dataset.p),
          invalid: r.querySelector('input[data-k=name]').getAttribute('aria-invalid'),
          msg: r.querySelector('[id$=-name-msg]').textContent, focus: document.activeElement.dataset.k || null,
          ring: getComputedStyle(document.activeElement).outlineStyle}; }"""


def precision3(x):
    """JavaScript's x.toPrecision(3), for 1e-3 <= x < 1e4 (the view's fmt)"""
    return f'{x:.{max(0, 2 - math.floor(math.log10(x)))}f}'


def pct0(x):
    return '0' if x == 0 else '<1' if x < 0.005 else f'{100 * x:.0f}'


def test_the_view_by_mouse_keyboard_and_screen_reader(page, models):
    v = page.evaluate(VIEW_JS, 0)
    want = trace(*models[0], 'isabella')['positions'][3]
    assert v['state'] == {'name': 'isabella', 'pos': 3} and v['pressed'] == ['3']
    # the numbers written are the trace's: per head, its weights over positions 0..3
    assert v['heads'] == [[[pct0(x) for x in w] for w in layer] for layer in want['attn']]
    assert v['resid'] == [precision3(r[2]) for r in want['resid']] and len(v['resid']) == 4
    assert v['next'][0][1] == f"{100 * max(want['probs']):.1f}" and 'true next' in ''.join(row[0] for row in v['next'])
    assert v['live'].startswith('Position 3 reads a.') and 'Next letter:' in v['live']
    # keyboard: the position slider (arrow keys, Home, End), each stop ringed
    loc = page.locator('div.microdnb-lookthrough').nth(0)
    loc.locator('input[data-k=pos]').focus()
    seen = []
    for key in ('Home', 'ArrowRight', 'ArrowRight', 'End', 'ArrowLeft'):
        page.keyboard.press(key)
        seen.append(page.evaluate(VIEW_JS, 0))
    assert [s['state']['pos'] for s in seen] == [0, 1, 2, 8, 7]
    assert all(s['focus'] == 'pos' and s['ring'] == 'solid' for s in seen)
    assert seen[0]['live'].startswith('Position 0 reads .') and seen[0]['heads'] == [[['100']] * 4]
    # mouse: a click on a letter selects its position
    loc.locator('.mlt-strip button[data-p="5"]').click()
    assert page.evaluate(VIEW_JS, 0)['state'] == {'name': 'isabella', 'pos': 5}
    # typing a name reads it at once, at its last position; a bad one is refused, nothing changes
    name = loc.locator('input[data-k=name]')
    name.fill('ava')
    v = page.evaluate(VIEW_JS, 0)
    assert v['state'] == {'name': 'ava', 'pos': 3} and v['invalid'] is None and len(v['heads'][0][0]) == 4
    name.fill('Ava1')
    v = page.evaluate(VIEW_JS, 0)
    assert v['state'] == {'name': 'ava', 'pos': 3} and v['invalid'] == 'true'
    assert "'A'" in v['msg'] and 'abcdefghijklmnopqrstuvwxyz' in v['msg']
    # the API refuses what does not fit, naming it, and changes nothing
    errors = page.evaluate("""() => { const v = window.microdnb.lookthroughs[1], out = [];
      for (const s of [{pos: 4}, {pos: -1}, {pos: 1.5}, {name: 'abcdefghij'}, {name: 7}, {name: 'ab', pos: 3}])
        try { v.set(s); out.push(null); } catch (e) { out.push(e.message); }
      return [out, v.state()]; }""")
    assert errors[1] == {'name': 'ava', 'pos': 3} and all(errors[0]), errors
    assert errors[0][0].startswith('pos must be an integer in [0, 3]') and 'at most 9' in errors[0][3]
    assert "letters 'abcdefghijklmnopqrstuvwxyz'" in errors[0][4]
    # the 2-layer model: one table per layer, a row per head
    v = page.evaluate(VIEW_JS, 1)
    assert len(v['heads']) == 2 and all(len(t) == 2 for t in v['heads']) and 'layer 1 head 1' in v['live']
    assert not page.errors, page.errors


def test_axe_in_both_themes_and_the_fallback_without_javascript(browser, models):
    for scheme in ('light', 'dark'):
        pg = open_page(browser, color_scheme=scheme)
        try:
            violations = axe_violations(pg)
            bg = pg.evaluate("() => getComputedStyle(document.querySelector('.microdnb-lookthrough')).backgroundColor")
            assert not violations, (scheme, violations)
            assert (bg == 'rgb(22, 24, 28)') == (scheme == 'dark'), bg
            assert not pg.errors, pg.errors
        finally:
            pg.close()
    ctx = browser.new_context(java_script_enabled=False)
    try:
        pg = ctx.new_page()
        pg.goto((browser.site / 'index.html').as_uri())
        texts = pg.locator('.mdx-fallback').all_inner_texts()
    finally:
        ctx.close()
    want = trace(*models[0], 'isabella')
    top = [models[0][2].labels[int(np.argmax(p['probs']))] for p in want['positions']]
    assert len(texts) == 2 and 'needs JavaScript' in texts[0]
    assert [line.split('top guess ')[1][0] for line in texts[0].splitlines() if 'top guess' in line] == top
