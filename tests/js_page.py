"""A blank page in headless Chromium with the page's ES modules (microdnb/page/*.js: engine.js,
pyrandom.js, the trainer's grad.js, train.js, ...) served beside it on 127.0.0.1: the fixture
`page` of the engine.js tests (test_js_engine.py, test_pyrandom_js.py, test_js_train*.py) and
`js`, which runs code against the modules' exports in that page."""
import json
import shutil
from pathlib import Path

import pytest

from browser import launch, require_chromium, serve

ENGINE_JS = Path(__file__).resolve().parents[1] / 'microdnb' / 'page' / 'engine.js'


@pytest.fixture(scope='module')
def page(tmp_path_factory):
    require_chromium()
    from playwright.sync_api import sync_playwright
    site = tmp_path_factory.mktemp('js_engine_site')
    for module in ENGINE_JS.parent.glob('*.js'):   # engine.js and what imports it or it imports
        shutil.copy(module, site / module.name)
    (site / 'index.html').write_text('<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">'
                                    '<title>engine.js</title>\n')
    errors = []
    with serve(site) as origin, sync_playwright() as pw:
        browser = launch(pw)
        pg = browser.new_page()
        # nothing but our server: engine.js must not fetch anything
        pg.route('**/*', lambda r: r.continue_() if r.request.url.startswith(origin)
                 else (errors.append(f'request to {r.request.url}'), r.abort()))
        pg.on('console', lambda m: m.type == 'error' and errors.append(f'console: {m.text}'))
        pg.on('pageerror', lambda e: errors.append(f'uncaught: {e}'))
        pg.goto(f'{origin}/index.html')
        pg.errors = errors
        yield pg
        browser.close()
    assert not errors, errors


def js(page, body, arg=None):
    """Run `body` (an async function body with E = engine.js's and pyrandom.js's exports and `arg`) in the page;
    typed arrays come back as lists, numbers exactly (JSON: shortest round-trip repr)."""
    out = page.evaluate(
        "async (arg) => { const E = {...await import('/engine.js'), ...await import('/pyrandom.js')};"
        f" const result = await (async () => {{ {body} }})();"
        " return JSON.stringify(result, (k, v) => ArrayBuffer.isView(v) ? Array.from(v) : v); }", arg)
    assert not page.errors, page.errors
    return json.loads(out)

