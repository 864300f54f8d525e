"""The explorer (microdnb.figures.explorer + microdnb/js/explorer*.js) in headless chromium.

Two explorers (a briefly trained reference-size model; a random 2-layer model with its gate
half open) are written into one page, served over http from a temporary directory and also
opened as a file:// URL. Checked:

* window.microdnb.explorers lists both, in page order; each replaced its static fallback,
  whose names (numpy engine) are the ones the page draws;
* checkpoint() is, byte for byte, the file save_checkpoint writes (so every float is
  equal to the last bit, and 1.0 stays 1.0); the repr() formatting it uses matches
  Python's on awkward doubles;
* decode(settings) gives the numpy engine's names for a dozen settings, and
  `python -m microdnb sample --json` on the dumped checkpoint gives them too;
* every control, driven by the keyboard alone, redraws what it should: "no notes" makes
  every distribution the trunk's and the SNC delta 0; the lag changes which notes the
  attention view marks readable exactly as bus.visibility says; cadence moves the posts;
* no console error, no request outside the page's origin, axe-core finds no WCAG 2.1 AA
  violation in the light and the dark theme, nothing animates;
* the Python function refuses bad input with a one-line ValueError naming the problem.

Chromium is /usr/bin/chromium (MICRODNB_CHROMIUM overrides); without it the browser tests
skip, unless CI=true, where they fail.
"""
from __future__ import annotations

import json
import math
import random
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

from browser import launch, require_chromium, serve
from conftest import REPO, subprocess_env
from microdnb import scalar, vector
from microdnb.bus import visibility
from microdnb.checkpoint import save_checkpoint
from microdnb.config import BusConfig, ModelConfig, TrainConfig
from microdnb.data import Tokenizer, names_path, read_docs
from microdnb.figures.explorer import RANGES, explorer, explorer_page
from microdnb.study.measure import forward_passes

AXE = REPO / '_vendor' / 'node_modules' / 'axe-core' / 'axe.min.js'
JL_CSS = REPO / '_vendor' / 'node_modules' / '@jupyterlab' / 'rendermime' / 'style' / 'base.css'
JL_VARS = {'true': 'background: #fff; color: #000; --jp-layout-color0: #fff; --jp-rendermime-table-row-background: #e0e0e0;'
                   ' --jp-rendermime-table-row-hover-background: #cce5ff; --jp-ui-font-color1: #000;',
           'false': 'background: #111; color: #fff; --jp-layout-color0: #111; --jp-rendermime-table-row-background: #333;'
                    ' --jp-rendermime-table-row-hover-background: #345; --jp-ui-font-color1: #fff;'}
LETTERS = 'abcdefghijklmnopqrstuvwxyz'
META = {'note': 'test', 'lr': 1.0, 'steps': 300, 'nested': {'x': [1, 2.5, None]}}


# ------------------------------------------------------------------ models and the page

@pytest.fixture(scope='module')
def models():
    """A reference-size model trained briefly (both phases), and a random 2-layer, 2-head one
    with block_size 10 and its gate logit at 0 (gate 0.5): two different explorers."""
    docs = read_docs(names_path())[:4000]
    random.Random(0).shuffle(docs)
    tok = Tokenizer(LETTERS)
    cfg = ModelConfig(vocab_size=tok.vocab_size)
    params = vector.init_params(cfg, random.Random(42))
    vector.train_phase1(params, cfg, TrainConfig(steps=300), docs, tok, batch_size=8)
    vector.train_phase2(params, cfg, TrainConfig(snc_steps=60, snc_learning_rate=0.02), BusConfig(), docs, tok)
    cfg2 = ModelConfig(vocab_size=tok.vocab_size, n_layer=2, n_embd=8, n_head=2, block_size=10, notes_dim=4,
                       init_std=0.3)
    params2 = vector.init_params(cfg2, random.Random(7))
    params2['snc_gate'][0, 0] = 0.0
    params2['wte'][0, 0] = 1.0      # floats JSON writes awkwardly: integral, tiny, -0.0
    params2['wte'][0, 1] = -0.0
    params2['wte'][0, 2] = 1e-05
    params2['wte'][0, 3] = 1e-320
    one = {'params': params, 'cfg': cfg, 'tok': tok, 'bus': BusConfig(), 'meta': META,
           'title': 'Trained <reference> "size" model'}
    two = {'params': params2, 'cfg': cfg2, 'tok': tok, 'bus': BusConfig(n_streams=3, cadence=2, lag=1), 'meta': None,
           'title': 'Random two-layer model'}
    for m, settings in ((one, None), (two, {'prompts': ['', 'ma'], 'seed': 3})):
        m['explorer'] = explorer(m['params'], m['cfg'], m['tok'], m['bus'], title=m['title'],
                                 settings=settings, meta=m['meta'])
    return [one, two]


@pytest.fixture(scope='module')
def site(models, tmp_path_factory):
    root = tmp_path_factory.mktemp('explorer_site')
    (root / 'index.html').write_text(explorer_page([m['explorer'] for m in models], 'two explorers'), encoding='utf-8')
    shutil.copytree(REPO / 'microdnb' / 'js', root / 'js')   # the modules as files, for pyFloat
    # the same explorers as JupyterLab shows an output: inside .jp-RenderedHTMLCommon, under its
    # table styles (loaded last, the worst case for equal specificity), light and dark
    if JL_CSS.is_file():
        shutil.copy(JL_CSS, root / 'jl.css')
        html = (root / 'index.html').read_text(encoding='utf-8')
        head, rest = html.split('<body><main>\n', 1)
        body, tail = rest.rsplit('\n</main>', 1)
        for name, light in (('jl_light.html', 'true'), ('jl_dark.html', 'false')):
            (root / name).write_text(
                f'{head}<body data-jp-theme-light="{light}" style="{JL_VARS[light]}"><main>\n'
                f'<div class="jp-OutputArea-output jp-RenderedHTMLCommon jp-RenderedHTML" data-mime-type="text/html">'
                f'{body}</div>\n<link rel="stylesheet" href="jl.css">\n</main>{tail}', encoding='utf-8')
    return root


@pytest.fixture(scope='module')
def browser(site):
    require_chromium()
    from playwright.sync_api import sync_playwright
    with serve(site) as origin, sync_playwright() as pw:
        b = launch(pw)
        b.origin = origin
        yield b
        b.close()


def open_page(browser, url, **media):
    """A tab on `url` with only its own origin reachable; page.errors collects console errors,
    uncaught exceptions and requests elsewhere."""
    page = browser.new_page(viewport={'width': 1000, 'height': 900})
    errors = []
    allowed = url.rsplit('/', 1)[0] + '/'
    page.route('**/*', lambda r: r.continue_() if r.request.url.startswith(allowed)
               else (errors.append(f'request to {r.request.url}'), r.abort()))
    page.on('console', lambda m: m.type == 'error' and errors.append(f'console: {m.text}'))
    page.on('pageerror', lambda e: errors.append(f'uncaught: {e}'))
    if media:
        page.emulate_media(**media)
    page.goto(url)
    page.wait_for_function('() => window.microdnb && window.microdnb.explorers.length === 2'
                           ' && window.microdnb.explorers.every(x => x.renders > 0)')
    page.errors = errors
    return page


@pytest.fixture(scope='module')
def page(browser):
    pg = open_page(browser, f'{browser.origin}/index.html')
    yield pg
    assert not pg.errors, pg.errors
    pg.close()


def settle(page, i=0):
    """Wait until explorer i has drawn what its controls now say (the redraw is coalesced
    into the next animation frame)."""
    page.evaluate('(i) => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))', i)


def shown(page, i=0):
    """What explorer i shows: settings, names, the selected step's views in data form."""
    return page.evaluate("""(i) => {
      const x = window.microdnb.explorers[i], r = x.root, q = s => [...r.querySelectorAll(s)];
      const step = r.querySelector('.mdx-tl td[aria-current]');
      return {settings: x.settings(), texts: x.shown.texts,
              names: q('.mdx-name').map(e => e.textContent),
              read: [...new Set(q('.mdx-attn td.mdx-read').map(e => e.dataset.note))],
              wait: [...new Set(q('.mdx-attn td.mdx-wait').map(e => e.dataset.note))],
              posts: q('.mdx-tl td.mdx-note[data-s]').map(e => [+e.dataset.s, +e.dataset.p]),
              rows: q('.mdx-tl tbody tr').length,
              step: step ? [+step.dataset.s, +step.dataset.p] : null,
              dist: q('.mdx-dist tbody tr').map(tr => [...tr.querySelectorAll('.mdx-num')].map(e => e.textContent)),
              delta: q('.mdx-delta tbody tr').map(tr => tr.children[1].textContent),
              live: r.querySelector('[role=status]').textContent};
    }""", i)


def numpy_texts(m, s):
    """The numpy engine's names for explorer settings s (a given first letter in front, as
    study.tasks.written_texts puts the copy task's leader's letter back)."""
    S = s.get('streams', m['bus'].n_streams)
    prompts = s.get('prompts')
    starts = [c or '' for c in (s.get('starts') or [])] + [''] * (S - len(s.get('starts') or []))
    texts = vector.sample_parallel(
        m['params'], m['cfg'], BusConfig(n_streams=S, cadence=s.get('cadence', m['bus'].cadence),
                                         lag=s.get('lag', m['bus'].lag)),
        m['tok'], random.Random(int(s.get('seed', 42))), s.get('temperature', 0.5), gate=s.get('gate'),
        prompts=None if prompts is None else [p or None for p in prompts] + [None] * (S - len(prompts)),
        first_tokens=[m['tok'].uchars.index(c) if c else m['tok'].BOS for c in starts])['texts']
    return [c + t for c, t in zip(starts, texts)]


def sequential_passes(m, s, texts):
    """The book's count of passes one after another (study.measure.forward_passes) for a
    decode that wrote `texts`: each stream ran one step per letter it wrote and one more
    for the end, at most block_size."""
    S = s.get('streams', m['bus'].n_streams)
    starts = [c or '' for c in (s.get('starts') or [])] + [''] * S
    lengths = [min(len(t) - len(starts[i]) + 1, m['cfg'].block_size) for i, t in enumerate(texts)]
    return forward_passes(lengths, s.get('cadence', m['bus'].cadence), s.get('lag', m['bus'].lag))


def saved_text(m, tmp_path):
    path = tmp_path / 'saved.json'
    save_checkpoint(path, m['params'], m['cfg'], m['tok'], m['bus'], m['meta'])
    return path.read_text(encoding='utf-8')


# ------------------------------------------------------------------ the page and the entry point

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
def test_checkpoint_is_the_saved_file_byte_for_byte(page, models, tmp_path, i):
    text = page.evaluate('(i) => window.microdnb.explorers[i].checkpoint()', i)
    want = saved_text(models[i], tmp_path)
    assert text == want
    got, ref = json.loads(text), json.loads(want)
    assert got == ref
    for name, rows in ref['params'].items():  # bit for bit, and floats stay floats
        for r, g in zip(rows, got['params'][name]):
            assert all(type(a) is float for a in g)
            assert struct.pack(f'<{len(r)}d', *r) == struct.pack(f'<{len(g)}d', *g), name


def test_pyfloat_is_python_repr(page):
    gen = random.Random(1)
    xs = [0.0, -0.0, 1.0, -2.0, 0.1, 1e-4, 1e-5, 9.999e-5, 0.00012, 1e15, 1e16, 1e17, 1.5e16, 123456789012345678.0,
          9007199254740993.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e21, 1e22, 0.5, 100.0]
    xs += [struct.unpack('<d', struct.pack('<Q', gen.getrandbits(64)))[0] for _ in range(3000)]
    xs += [gen.uniform(-1, 1) * 10.0 ** gen.randint(-30, 30) for _ in range(3000)]
    xs = [x for x in xs if math.isfinite(x)]
    got = page.evaluate("async (xs) => { const m = await import('/js/explorer.js');"
                        " return xs.map(h => m.pyFloat(h)); }", xs)
    assert got == [repr(x) for x in xs]


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


# ------------------------------------------------------------------ the controls, by keyboard

def focus(page, i, sel):
    page.locator('div.microdnb-explorer').nth(i).locator(sel).focus()


def press(page, i, sel, *keys):
    focus(page, i, sel)
    for k in keys:
        page.keyboard.press(k)
    settle(page, i)
    return shown(page, i)


def test_gate_controls(page, models):
    m = models[0]
    before = press(page, 0, 'button[data-k=trained]', 'Enter')
    assert before['settings']['gate'] is None
    assert page.evaluate("() => window.microdnb.explorers[0].root.querySelector('[data-k=trained]')"
                         ".getAttribute('aria-pressed')") == 'true'
    opened = press(page, 0, 'input[data-k=gate]', 'End')
    assert opened['settings']['gate'] == 1.0 and opened['names'] == numpy_texts(m, {'gate': 1.0})
    down = press(page, 0, 'input[data-k=gate]', 'ArrowLeft', 'ArrowLeft')
    assert down['settings']['gate'] == 0.98 and down['texts'] == numpy_texts(m, {'gate': 0.98})
    shut = press(page, 0, 'button[data-k=nonotes]', 'Space')
    assert shut['settings']['gate'] == 0 and shut['names'] == numpy_texts(m, {'gate': 0.0})
    # no notes: every distribution is the trunk's, exactly, and SNC adds nothing
    assert page.evaluate("""() => { const r = window.microdnb.explorers[0].shown;
        return r.gate === 0 && r.events.every(e => e.probs.every((p, i) => p === e.probsTrunk[i])
               && e.deltaNorm.every(d => d === 0)) && r.events.some(e => e.notes.length > 0); }""")
    assert all(a == b for a, b in shut['dist']) and set(shut['delta']) == {'0'}
    assert not all(a == b for a, b in opened['dist']) or set(opened['delta']) != {'0'}
    back = press(page, 0, 'button[data-k=trained]', 'Enter')
    assert back['names'] == before['names'] and back['settings']['gate'] is None


def _expected_reads(texts_events, S, cadence, lag, stream, pos):
    """(readable, posted but not readable) note labels for `stream` at `pos`, from bus.visibility."""
    lengths = [sum(e['stream'] == s for e in texts_events['events']) for s in range(S)]
    ended = [s for s in range(S) if [e for e in texts_events['events'] if e['stream'] == s][-1]['token'] == 26]
    posts, reads = visibility(lengths, cadence, lag, ended)
    label = lambda s, r: f'plan s{s}' if r is None else f's{s}@p{r}'
    readable = {label(s, r) for s, r in reads[(stream, pos)]}
    existing = {label(s, None) for s in range(S) if s != stream} | {
        label(s, r) for s in range(S) if s != stream for r in posts[s] if r < pos or (r == pos and s < stream)}
    return readable, existing - readable


def test_lag_changes_what_the_attention_view_can_read(page):
    press(page, 0, 'select[data-k=streams]', 'End')          # 4 streams
    press(page, 0, 'input[data-k=cadence]', 'Home')          # a note after every position
    seen = []
    for lag_key in ('Home', 'ArrowRight', 'ArrowRight'):
        press(page, 0, 'input[data-k=lag]', lag_key)
        for stream_keys, pos_keys in ((['End'], ['Home', 'ArrowRight', 'ArrowRight', 'ArrowRight']),
                                      (['Home', 'ArrowDown'], ['End']), (['Home'], ['Home', 'ArrowRight', 'ArrowRight'])):
            press(page, 0, 'select[data-k=stream]', *stream_keys)
            got = press(page, 0, 'input[data-k=pos]', *pos_keys)
            s = got['settings']
            stream, pos = got['step']
            res = page.evaluate("() => { const r = window.microdnb.explorers[0].shown;"
                                " return {events: r.events.map(e => ({stream: e.stream, token: e.token}))}; }")
            readable, waiting = _expected_reads(res, s['streams'], s['cadence'], s['lag'], stream, pos)
            assert set(got['read']) == readable, (s['lag'], stream, pos)
            assert set(got['wait']) == waiting, (s['lag'], stream, pos)
            seen.append((s['lag'], len(readable), len(waiting)))
    assert {lag for lag, _, _ in seen} == {0, 1, 2}
    assert all(w == 0 for lag, _, w in seen if lag == 0) and any(w > 0 for lag, _, w in seen if lag > 0)


def test_cadence_streams_temperature_seed_and_prompts(page, models):
    m = models[0]
    got = press(page, 0, 'input[data-k=cadence]', 'Home', 'ArrowRight', 'ArrowRight')   # cadence 3
    assert got['settings']['cadence'] == 3
    assert all((p + 1) % 3 == 0 for _, p in got['posts']) and got['posts']
    got = press(page, 0, 'input[data-k=cadence]', 'ArrowRight')
    assert got['settings']['cadence'] == 4 and all((p + 1) % 4 == 0 for _, p in got['posts'])
    got = press(page, 0, 'select[data-k=streams]', 'Home')
    assert got['settings']['streams'] == 2 and got['rows'] == 2 and len(got['names']) == 2
    got = press(page, 0, 'select[data-k=streams]', 'ArrowDown')
    assert got['settings']['streams'] == 3 and got['rows'] == 3 and len(got['names']) == 3
    t0 = got['settings']['temperature']
    got = press(page, 0, 'input[data-k=temperature]', 'ArrowRight', 'ArrowRight')
    assert got['settings']['temperature'] == pytest.approx(t0 + 0.1)
    got = press(page, 0, 'input[data-k=seed]', 'Control+a', *'7')
    s = got['settings']
    assert s['seed'] == '7'
    want = numpy_texts(m, {k: s[k] for k in ('gate', 'cadence', 'lag', 'streams', 'temperature', 'seed')})
    assert got['texts'] == want
    got = press(page, 0, 'input[data-k=seed]', 'ArrowUp')
    assert got['settings']['seed'] == '8'
    # a prompt: typed letters start the name; a character outside the vocabulary is flagged and left out
    got = press(page, 0, 'input[data-k=prompt][data-s="1"]', *'ma')
    assert got['texts'][1].startswith('ma') and got['settings']['prompts'][1] == 'ma'
    got = press(page, 0, 'input[data-k=prompt][data-s="1"]', 'Z')
    invalid = page.evaluate("() => { const el = window.microdnb.explorers[0].root.querySelector("
                            "'input[data-k=prompt][data-s=\"1\"]'); return [el.getAttribute('aria-invalid'),"
                            " document.getElementById(el.getAttribute('aria-describedby')).textContent]; }")
    assert invalid[0] == 'true' and '"Z" is not in the vocabulary' in invalid[1]
    s = got['settings']
    assert got['texts'] == numpy_texts(m, {k: s[k] for k in ('gate', 'cadence', 'lag', 'streams', 'temperature', 'seed')})
    press(page, 0, 'input[data-k=prompt][data-s="1"]', 'Control+a', 'Backspace')


def test_a_stream_given_its_first_letter(page, models):
    """The first-input select: by keyboard, stream 0 starts from a letter (its input at
    position 0 and its plan seed's, as the copy task's leader): the names are the numpy
    engine's with first_tokens, the letter underlined in front and shown on the plan seed."""
    m = models[0]
    press(page, 0, 'select[data-k=streams]', 'Home')
    got = press(page, 0, 'select[data-k=start][data-s="0"]', 'Home', *['ArrowDown'] * 13)   # '' a b ... m
    s = got['settings']
    assert s['starts'] == ['m', '']
    assert got['texts'] == numpy_texts(m, {k: s[k] for k in ('gate', 'cadence', 'lag', 'streams', 'temperature',
                                                               'seed', 'starts')})
    assert got['texts'][0].startswith('m') and got['names'] == got['texts']
    marks = page.evaluate("""() => { const r = window.microdnb.explorers[0].root;
        return [r.querySelector('.mdx-name u').textContent,
                [...r.querySelectorAll('.mdx-tl .mdx-given')].map(e => e.textContent)]; }""")
    assert marks == ['m', ['m']]
    press(page, 0, 'select[data-k=stream]', 'Home')
    first = press(page, 0, 'input[data-k=pos]', 'Home')
    val = page.evaluate("() => window.microdnb.explorers[0].root.querySelector('input[data-k=pos]')"
                        ".getAttribute('aria-valuetext')")
    assert val.startswith('0 (0 to ') and 'after m,' in val and first['step'] == [0, 0]
    back = press(page, 0, 'select[data-k=start][data-s="0"]', 'Home')
    assert back['settings']['starts'] == ['', ''] and not page.evaluate(
        "() => window.microdnb.explorers[0].root.querySelector('.mdx-tl .mdx-given')")


def test_set_refuses_what_the_controls_cannot_hold(page):
    """x.set checks every value first: a bad one throws naming the setting, and nothing changes."""
    before = page.evaluate('() => window.microdnb.explorers[0].settings()')
    for bad, words in (({'starts': ['mm']}, 'starts'), ({'starts': ['M']}, 'one character of the vocabulary'),
                       ({'gate': 0.5, 'cadence': 9}, 'cadence must be an integer in [1, 8]'),
                       ({'streams': 2.5}, 'streams'), ({'seed': -1}, 'seed must be a whole number'),
                       ({'prompts': 'ma'}, 'prompts must be null or a list'), ({'speed': 1}, 'unknown setting speed')):
        err = page.evaluate("(s) => { try { window.microdnb.explorers[0].set(s); return null; } "
                            "catch (e) { return String(e.message); } }", bad)
        assert err and words in err, (bad, err)
    settle(page)
    assert page.evaluate('() => window.microdnb.explorers[0].settings()') == before
    page.evaluate("() => window.microdnb.explorers[0].set({starts: ['k'], prompts: null})")
    settle(page)
    got = shown(page)
    assert got['settings']['starts'][0] == 'k' and got['texts'][0].startswith('k')
    page.evaluate("() => window.microdnb.explorers[0].set({starts: null})")
    settle(page)
    assert shown(page)['settings']['starts'] == [''] * before['streams']


def test_selection_by_keyboard_and_click_and_the_live_region(page):
    press(page, 0, 'select[data-k=streams]', 'Home')
    a = press(page, 0, 'select[data-k=stream]', 'Home')
    b = press(page, 0, 'select[data-k=stream]', 'ArrowDown')
    assert (a['step'][0], b['step'][0]) == (0, 1)
    c = press(page, 0, 'input[data-k=pos]', 'Home')
    d = press(page, 0, 'input[data-k=pos]', 'ArrowRight')
    assert c['step'] == [1, 0] and d['step'] == [1, 1] and c['dist'] != d['dist']
    page.locator('div.microdnb-explorer').nth(0).locator('.mdx-tl td[data-s="0"][data-p="2"]').click()
    settle(page)
    e = shown(page)
    assert e['step'] == [0, 2] and e['settings']['stream'] == 0
    page.wait_for_function("() => window.microdnb.explorers[0].root.querySelector('[role=status]')"
                           ".textContent.includes('Stream 0 at position 2')")
    live = shown(page)['live']
    assert all(n in live for n in e['texts']) and 'trunk alone' in live, (live, e['texts'])


def test_every_control_is_labelled_and_keyboard_reachable(page):
    got = page.evaluate("""() => window.microdnb.explorers.map(x => [...x.root.querySelectorAll('input, select, button')]
        .filter(el => !el.closest('[hidden]')).map(el => ({k: el.dataset.k, tab: el.tabIndex,
          name: el.labels && el.labels.length ? el.labels[0].textContent : el.textContent})))""")
    for controls in got:
        assert {c['k'] for c in controls} >= {'gate', 'trained', 'nonotes', 'cadence', 'lag', 'streams', 'temperature',
                                               'seed', 'start', 'prompt', 'stream', 'pos'}
        assert all(c['name'].strip() and c['tab'] == 0 for c in controls), controls


def test_two_explorers_do_not_interfere(page, models):
    before = shown(page, 1)
    press(page, 0, 'input[data-k=gate]', 'Home')
    after = shown(page, 1)
    assert before == after
    assert after['texts'] == numpy_texts(models[1], {'prompts': ['', 'ma'], 'seed': 3})


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_axe_finds_no_wcag_violation(browser, scheme):
    if not AXE.is_file():
        pytest.skip(f'{AXE} missing: `make vendor` installs axe-core')
    pg = open_page(browser, f'{browser.origin}/index.html', color_scheme=scheme)
    try:
        pg.add_script_tag(path=str(AXE))
        violations = pg.evaluate("async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
                                 "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations"
                                 ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))")
        dark = pg.evaluate("() => getComputedStyle(document.querySelector('.microdnb-explorer')).backgroundColor")
    finally:
        pg.close()
    assert not violations, violations
    assert (dark == 'rgb(22, 24, 28)') == (scheme == 'dark')


@pytest.mark.parametrize('theme', ['light', 'dark'])
def test_jupyterlab_output_styles_do_not_leak_in(browser, site, theme):
    if not (site / f'jl_{theme}.html').is_file():
        pytest.skip(f'{JL_CSS} missing: `make vendor` installs @jupyterlab/rendermime')
    pg = open_page(browser, f'{browser.origin}/jl_{theme}.html')
    try:
        got = pg.evaluate("""() => { const r = document.querySelector('.microdnb-explorer'), cs = el => getComputedStyle(el);
          const tr = r.querySelector('.mdx-dist tbody tr'), th = r.querySelector('.mdx-dist tbody th'),
                td = r.querySelector('.mdx-tl td[data-s]'), table = r.querySelector('.mdx-tl');
          return {row: cs(tr).backgroundColor, th: cs(th).textAlign, td: cs(td).textAlign, margin: cs(table).marginLeft,
                  color: cs(table).color === cs(r).color, root: cs(r).backgroundColor}; }""")
        if AXE.is_file():
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


# ------------------------------------------------------------------ the Python function

def test_output_is_deterministic_and_small(models):
    m = models[0]
    again = explorer(m['params'], m['cfg'], m['tok'], m['bus'], title=m['title'], meta=m['meta'])
    assert again.html == m['explorer'].html
    assert len(m['explorer'].html.encode()) < 120_000
    bundle = m['explorer']._repr_mimebundle_()
    assert set(bundle) == {'text/html', 'text/plain'} and m['explorer'].names[0] in bundle['text/plain']
    assert '</script' not in m['explorer'].html.split('<script type="module">')[1][:-len('</script>\n')]


def test_any_engines_params_give_the_same_explorer(models):
    m = models[1]
    rows = {k: [[float(x) for x in row] for row in v] for k, v in m['params'].items()}
    for params in (rows, scalar.params_from(m['params'])):   # lists of floats; the scalar engine's Values
        assert explorer(params, m['cfg'], m['tok'], m['bus'], title=m['title'],
                        settings={'prompts': ['', 'ma'], 'seed': 3}).html == m['explorer'].html


def _bad(m, **change):
    args = {'params': m['params'], 'cfg': m['cfg'], 'tokenizer': m['tok'], 'bus_cfg': m['bus'], 'settings': None}
    args.update(change)
    return args


@pytest.mark.parametrize('change, match', [
    (lambda m: {'params': {**m['params'], 'wte': np.zeros((26, 16))}}, r"params\['wte'\] is 26x16, but the config needs 27x16"),
    (lambda m: {'params': {k: v for k, v in m['params'].items() if k != 'snc_gate'}}, r"missing 'snc_gate'"),
    (lambda m: {'cfg': ModelConfig(vocab_size=27, n_layer=2)}, r"params do not match the config .*missing 'layer1"),
    (lambda m: {'cfg': ModelConfig(vocab_size=27, n_embd=8, n_head=2)}, r"params\['wte'\] is 27x16, but the config needs 27x8"),
    (lambda m: {'params': {**m['params'], 'extra': np.zeros((1, 1))}}, r"not in it 'extra'"),
    (lambda m: {'params': {**m['params'], 'lm_head': np.full((27, 16), np.nan)}}, r"params\['lm_head'\] has a non-finite"),
    (lambda m: {'params': {**m['params'], 'wpe': [[1.0, 2.0], [3.0]]}}, r"params\['wpe'\] is not a 16x16 matrix"),
    (lambda m: {'params': [1, 2]}, r"params must be a dict"),
    (lambda m: {'tokenizer': Tokenizer('abc')}, r"tokenizer has 4 tokens but cfg.vocab_size is 27"),
    (lambda m: {'bus_cfg': BusConfig(cadence=12)}, r"settings cadence \(from bus_cfg.*\[1, 8\], got 12"),
    (lambda m: {'settings': {'prompts': ['Ma']}}, r"prompts 'Ma' \(stream 0\) has the character 'M', which is not in the vocabulary"),
    (lambda m: {'settings': {'prompts': ['a' * 16]}}, r"prompts 'a+' \(stream 0\) has 16 characters"),
    (lambda m: {'settings': {'prompts': ['a', 'b', 'c']}}, r"prompts has 3 entries for 2 stream\(s\)"),
    (lambda m: {'settings': {'prompts': [3]}}, r"prompts 3 \(stream 0\) must be a string"),
    (lambda m: {'settings': {'starts': ['ma']}}, r"starts 'ma' \(stream 0\) must be one character of the vocabulary .*or '' for the start token"),
    (lambda m: {'settings': {'starts': [None, 'M']}}, r"starts 'M' \(stream 1\) must be one character of the vocabulary"),
    (lambda m: {'settings': {'starts': ['a', 'b', 'c']}}, r"starts has 3 entries for 2 stream\(s\)"),
    (lambda m: {'settings': {'starts': [1]}}, r"starts 1 \(stream 0\) must be one character"),
    (lambda m: {'settings': {'cadence': 9}}, r"cadence must be an integer in \[1, 8\], got 9"),
    (lambda m: {'settings': {'lag': 3}}, r"lag must be an integer in \[0, 2\], got 3"),
    (lambda m: {'settings': {'streams': 1}}, r"streams must be an integer in \[2, 4\], got 1"),
    (lambda m: {'settings': {'streams': 5}}, r"streams must be an integer in \[2, 4\], got 5"),
    (lambda m: {'settings': {'temperature': 3.0}}, r"temperature must be a number in \[0.1, 2\], got 3.0"),
    (lambda m: {'settings': {'gate': 1.5}}, r"gate must be a number in \[0, 1\], got 1.5"),
    (lambda m: {'settings': {'seed': -1}}, r"seed must be an integer in \[0, 4294967295\], got -1"),
    (lambda m: {'settings': {'stream': 2}}, r"stream must be an integer in \[0, 1\], got 2"),
    (lambda m: {'settings': {'pos': 16}}, r"pos must be an integer in \[0, 15\], got 16"),
    (lambda m: {'settings': {'speed': 1}}, r"unknown setting\(s\) 'speed'"),
    (lambda m: {'settings': [('gate', 1)]}, r"settings must be a dict"),
])
def test_bad_input_is_a_one_line_value_error(models, change, match):
    m = models[0]
    args = _bad(m, **change(m))
    with pytest.raises(ValueError, match=match) as e:
        explorer(args.pop('params'), args.pop('cfg'), args.pop('tokenizer'), args.pop('bus_cfg'), **args)
    assert '\n' not in str(e.value) and str(e.value).startswith('explorer')


def test_the_files_it_inlines_are_package_data():
    """`pip install .` installs what explorer() reads (pyproject's package-data globs)."""
    import fnmatch
    tomllib = pytest.importorskip('tomllib')   # Python 3.11+
    from microdnb.figures.explorer import JS_DIR, MODULES
    globs = tomllib.loads((REPO / 'pyproject.toml').read_text())['tool']['setuptools']['package-data']['microdnb']
    for name in (*MODULES, 'explorer.css'):
        rel = (JS_DIR / name).relative_to(REPO / 'microdnb').as_posix()
        assert (JS_DIR / name).is_file() and any(fnmatch.fnmatch(rel, g) for g in globs), rel
