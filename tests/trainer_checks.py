"""The trainer checks of a visit to a chapter with a trainer (chapters 4, 9 and 13:
microdnb.page.trainer), run by test_site_pages.py during its one light-theme visit of the
page, before its axe and keyboard checks (which then see the trained state too).

`check_trainer(page, page_name, tmp_path)`: Train (the button) draws the curve and announces
progress in the live region, Stop ends the run mid-way; a whole run in the worker computes, step for
step, the losses (and gate) of the run the chapter computed with the numpy engine, which the
page carries (to the 6 significant digits it carries them with); the samples follow the run
(chapter 4: the model's names every 100 steps, worker.js sampleEvery); the checkpoint the
Download button saves is read by `python -m microdnb sample --checkpoint`, whose names are
the page's. Chapter 4 also replicates the reference run: its lines are
`reference.replicate(engine='numpy')`'s. Chapter 9 hands the model it trained to the
explorer above it, whose decode is then the numpy engine's on the downloaded checkpoint.
Chapter 13 trains from the open gate start and its gate stays open.

`long_tasks_while_training(page, page_name)`: the main-thread tasks over 50 ms
(PerformanceObserver 'longtask') during a whole run with the chapter's settings, for
test_trainer_alone.py, which runs it with the machine to itself (a task's duration is wall
time: on two cores shared with another test worker, a 20 ms task can last 90 ms).
"""
from __future__ import annotations

import json
import random
import subprocess
import sys

from conftest import REPO, subprocess_env
from microdnb import vector
from microdnb.checkpoint import load_checkpoint
from microdnb.config import BusConfig
from microdnb.reference import replicate

TRAINER_PAGES = {'book/04_training': 'phase1', 'book/09_phase2': 'phase2', 'book/13_gate': 'copy'}
SETTINGS = {'copy': {'gateInit': -5}}   # the run each chapter's trainer is checked with (else its defaults)
RTOL = 5e-6   # the chapter's runs travel with 6 significant digits (trainer.DIGITS); test_js_train.py checks 1e-9

# Long main-thread tasks from now on: the observer buffers what came before, so the check
# reads only the entries from the run's start on
LONGTASKS_JS = """() => { window.__longtasks = [];
  new PerformanceObserver(l => window.__longtasks.push(...l.getEntries().map(e => [e.startTime, e.duration])))
    .observe({type: 'longtask', buffered: true}); return performance.now(); }"""


def near(a, b, rtol=RTOL):
    return len(a) == len(b) and all(abs(x - y) <= rtol * max(1.0, abs(y)) for x, y in zip(a, b))


def check_trainer(page, page_name, tmp_path):
    kind = TRAINER_PAGES[page_name]
    page.wait_for_function('() => window.microdnb && (window.microdnb.trainers || []).length === 1')
    check_train_button_draws_announces_and_stop_ends_it(page)
    check_a_whole_run_matches_the_chapter(page, page_name, SETTINGS.get(kind, {}))
    path = download(page, tmp_path)
    check_the_cli_reads_the_download(page, path, kind)
    if kind == 'phase1':
        check_replicate_is_the_numpy_engines(page)
    if kind == 'phase2':
        check_the_explorer_gets_the_model_trained(page, path)
    if kind == 'copy':
        check_the_gate_stays_open_from_the_open_start(page)


def check_train_button_draws_announces_and_stop_ends_it(page):
    """A reader's run: Train (the button) starts it, the live region says so and the curve
    draws as steps arrive; Stop (the button), pressed at the first frame that drew a step of
    the curve's phase, ends it there and says where; no step arrives after it."""
    page.locator('div.microdnb-trainer').scroll_into_view_if_needed()
    got = page.evaluate("""() => new Promise(resolve => {
        const t = window.microdnb.trainers[0], q = s => t.root.querySelector(s), frames = t.frames;
        q('button[data-k=train]').click();
        const look = () => {   // a frame has drawn steps of the curve's phase (the numbers show them)
          const shown = /([0-9]+) of/.exec(q('.mdx-numbers dd').textContent), drawn = shown ? Number(shown[1]) : 0;
          if (!(t.frames > frames && drawn > 0)) return requestAnimationFrame(look);
          const said = q('[role=status]').textContent;
          q('button[data-k=stop]').click();
          resolve({said, drawn, running: t.running, n: t.curve.loss.raw.length, of: t.curve.numSteps, model: t.model,
                   after: q('[role=status]').textContent, stop: q('button[data-k=stop]').disabled,
                   train: q('button[data-k=train]').disabled, label: q('canvas').getAttribute('aria-label'),
                   numbers: q('.mdx-numbers').textContent});
        };
        requestAnimationFrame(look);
      })""")
    assert got['said'].startswith(f"Training started: {got['of']} steps"), got
    assert not got['running'] and got['stop'] and not got['train'] and got['model'] is None, got
    assert 0 < got['n'] < got['of'] and got['after'] == f"Stopped at step {got['n']} of {got['of']}.", got
    assert 'loss per step' in got['label'] and 'Your run (solid) is at step' in got['label'], got
    assert f"{got['n']} of {got['of']}" in got['numbers'] and 0 < got['drawn'] <= got['n'], got
    later = page.evaluate('() => new Promise(r => setTimeout(() => r(window.microdnb.trainers[0].curve.loss.raw.length), 300))')
    assert later == got['n'], 'steps still arrive after Stop'


def long_tasks_while_training(page, page_name):
    """[duration ms] of each main-thread task over 50 ms while t.train runs the chapter's settings."""
    page.wait_for_function('() => window.microdnb && (window.microdnb.trainers || []).length === 1')
    page.locator('div.microdnb-trainer').scroll_into_view_if_needed()
    page.evaluate(LONGTASKS_JS)
    got = page.evaluate("""async (s) => { const t = window.microdnb.trainers[0], t0 = performance.now();
        await t.train(s);
        await new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)));
        return {t0, long: window.__longtasks}; }""", SETTINGS.get(TRAINER_PAGES[page_name], {}))
    return [round(d) for start, d in got['long'] if start >= got['t0']]


def check_a_whole_run_matches_the_chapter(page, page_name, settings):
    """t.train(settings) with the chapter's settings: its losses (and gate) are the chapter's
    Python run's, step for step; the samples follow the run."""
    got = page.evaluate("""async (s) => { const t = window.microdnb.trainers[0], t0 = performance.now(), seen = [];
        new MutationObserver(() => { const said = t.root.querySelector('.mdx-samples .mdx-hint').textContent;
            if (seen.at(-1) !== said) seen.push(said); })
          .observe(t.root.querySelector('[data-k=samples]'), {childList: true, subtree: true, characterData: true});
        const out = await t.train(s);
        const phase = t.curve.hasGate ? 2 : 1, steps = out.log.filter(r => r.phase === phase);
        const ref = t.curve.refLoss.raw, refGate = t.curve.refGate.raw;
        await new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)));
        return {ms: performance.now() - t0, t0, loss: steps.map(r => r.loss), gate: steps.map(r => r.gate), ref, refGate,
                hasGate: t.curve.hasGate, frames: t.frames, seen, ck: out.checkpoint.length,
                download: t.root.querySelector('button[data-k=download]').disabled,
                said: t.root.querySelector('[role=status]').textContent}; }""", settings)
    assert near(got['loss'], got['ref']), f"{page_name}: the page's losses are not the chapter's"
    if got['hasGate']:
        assert near(got['gate'], got['refGate']), f"{page_name}: the page's gate is not the chapter's"
    assert got['ck'] > 1000 and not got['download'] and got['said'].startswith('Training done'), got['said']
    # samples as it goes (chapter 4): the names of the model every 100 steps, then the trained model's
    # (a progress batch carries the samples of the steps it holds; the page shows its last)
    as_it_goes = [int(t.split('after step ')[1].split()[0]) for t in got['seen'] if 'after step' in t]
    assert as_it_goes == sorted(set(as_it_goes)) and set(as_it_goes) <= set(range(100, len(got['ref']) + 1, 100))
    assert len(as_it_goes) >= (3 if not got['hasGate'] else 0) and (not got['hasGate'] or not as_it_goes), got['seen']
    assert got['seen'][-1].endswith('of the model you trained'), got['seen']


def download(page, tmp_path):
    """The Download checkpoint button's file."""
    with page.expect_download() as dl:
        page.locator('div.microdnb-trainer button[data-k=download]').click()
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert path.name.startswith('microdnb-') and path.suffix == '.json'
    return path


def cli_sample(path, *args):
    out = subprocess.run([sys.executable, '-m', 'microdnb', 'sample', '--checkpoint', str(path), '--json', *args],
                         capture_output=True, text=True, cwd=REPO, env=subprocess_env(), timeout=120, check=True)
    return json.loads(out.stdout)['texts']


def check_the_cli_reads_the_download(page, path, kind):
    """The samples under the curve are the CLI's from the downloaded file: single names, seed i
    for the i-th (phase 1), or groups through the bus."""
    shown = page.evaluate("() => [...window.microdnb.trainers[0].root.querySelectorAll('.mdx-samples .mdx-name')]"
                          ".map(e => e.textContent)")
    assert len(shown) >= 5, shown
    for i in range(3):
        if kind == 'phase1':
            texts = cli_sample(path, '--seed', str(i))
            assert (texts[0] or '(empty)') == shown[i], (i, texts, shown)
        else:
            streams = 3 if kind == 'phase2' else 2
            texts = cli_sample(path, '--seed', str(i), '--streams', str(streams))
            assert ' | '.join(t or '(empty)' for t in texts) == shown[i], (i, texts, shown)


def check_replicate_is_the_numpy_engines(page):
    """The default reference run, in full, in the page: `python -m microdnb replicate --engine numpy`'s lines."""
    lines = []
    replicate(engine='numpy', out=lines.append)
    got = page.evaluate('async () => (await window.microdnb.trainers[0].replicate({seed: 42, steps: 1000, sncSteps: 300})).lines')
    assert '\n'.join(got).splitlines() == '\n'.join(lines).splitlines()


def check_the_explorer_gets_the_model_trained(page, path):
    """Explore what you trained: the explorer's decode is then the numpy engine's on the download."""
    page.locator('div.microdnb-trainer button[data-k=explore]').click()
    page.wait_for_timeout(100)
    got = page.evaluate("""() => { const x = window.microdnb.explorers.at(-1), t = window.microdnb.trainers[0];
        return {same: x.model.params === t.model.params, texts: x.decode({streams: 3, seed: 5}).texts,
                shown: x.shown.texts}; }""")
    ck = load_checkpoint(path)
    params, cfg, tok, bus = vector.params_from(ck['params']), ck['cfg'], ck['tokenizer'], ck['bus_cfg']
    numpy = vector.sample_parallel(params, cfg, BusConfig(n_streams=3, cadence=bus.cadence, lag=bus.lag), tok,
                                   random.Random(5), 0.5)['texts']
    assert got['same'] and got['texts'] == numpy, (got, numpy)
    assert got['shown'] == vector.sample_parallel(params, cfg, BusConfig(n_streams=3, cadence=bus.cadence, lag=bus.lag),
                                                  tok, random.Random(42), 0.5)['texts']


def check_the_gate_stays_open_from_the_open_start(page):
    """Chapter 13's table: from the open start (gate 0.5) the gate stays open."""
    got = page.evaluate("""async () => { const t = window.microdnb.trainers[0];
        const out = await t.train({gateInit: 0, sncSteps: 200});
        return {gate: out.log.filter(r => r.phase === 2).map(r => r.gate), ref: t.curve.refGate.raw[0],
                shown: t.root.querySelector('select[data-k=gateInit]').value}; }""")
    assert len(got['gate']) == 200 and min(got['gate']) > 0.45 and abs(got['ref'] - 0.5) < 0.01, got['gate'][-5:]
    assert float(got['shown']) == 0
