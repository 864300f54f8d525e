"""What the explorer's tests share (test_explorer_page.py, test_explorer_controls.py,
test_explorer_python.py): two explorers (microdnb.page.explorer) written into one page,
served over http from a temporary directory, and the package's own answers to compare with.

The two: the briefly trained reference-size model the tests share (conftest.trained_model),
and a random 2-layer, 2-head model with block_size 10 and its gate half open. Chromium is
/usr/bin/chromium (MICRODNB_CHROMIUM overrides); without it the browser tests skip, unless
CI=true, where they fail.
"""
from __future__ import annotations

import random
import shutil

import pytest

from browser import launch, require_chromium, serve
from conftest import REPO
from microdnb import vector
from microdnb.checkpoint import save_checkpoint
from microdnb.config import BusConfig, ModelConfig
from microdnb.page.explorer import explorer, explorer_page
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
def models(trained_model):
    """The shared briefly trained reference-size model, and a random 2-layer, 2-head one
    with block_size 10 and its gate logit at 0 (gate 0.5): two different explorers."""
    params, cfg, tok = trained_model['params'], trained_model['cfg'], trained_model['tok']
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


def axe_violations(page):
    """axe-core's WCAG 2.1 A/AA violations on `page`, one line each (rule: first targets). A
    check that cannot run must not pass as skipped: without axe-core it fails."""
    if not AXE.is_file():
        pytest.fail(f'{AXE} missing: `make vendor` installs axe-core', pytrace=False)
    page.add_script_tag(path=str(AXE))
    return page.evaluate("async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
                         "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations"
                         ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))")


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
    """The numpy engine's names for explorer settings s (each beginning with its start letter)."""
    S = s.get('streams', m['bus'].n_streams)
    prompts = s.get('prompts')
    starts = [c or '' for c in (s.get('starts') or [])] + [''] * (S - len(s.get('starts') or []))
    return vector.sample_parallel(
        m['params'], m['cfg'], BusConfig(n_streams=S, cadence=s.get('cadence', m['bus'].cadence),
                                         lag=s.get('lag', m['bus'].lag)),
        m['tok'], random.Random(int(s.get('seed', 42))), s.get('temperature', 0.5), gate=s.get('gate'),
        prompts=None if prompts is None else [p or None for p in prompts] + [None] * (S - len(prompts)),
        starts=starts)['texts']


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


# ------------------------------------------------------------------ the controls, by keyboard

def focus(page, i, sel):
    page.locator('div.microdnb-explorer').nth(i).locator(sel).focus()


def press(page, i, sel, *keys):
    focus(page, i, sel)
    for k in keys:
        page.keyboard.press(k)
    settle(page, i)
    return shown(page, i)
