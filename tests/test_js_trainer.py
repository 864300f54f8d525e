"""The trainer as a page runs it: the modules inlined into one script beside the payload
(training.trainer_page: inline.module_code of training.MODULES, training.train_payload), in
headless Chromium.

* runTrainer trains in a classic Web Worker made from the inline script, under http and under
  file://: the lines equal replicate's on the main thread, the progress batches put together
  are the log, the names it samples every 50 steps are the main thread's, and the checkpoint
  is a file load_checkpoint reads, holding the weights the main thread's Trainer ends with,
  bit for bit; `python -m microdnb sample --checkpoint` on it prints the name engine.js
  samples from the Trainer's model.
* stop() ends a run mid-way: done rejects with an AbortError and no progress comes after.
* Under a page CSP that refuses blob: workers it falls back to the main thread, with the same
  lines; trainerContract gives window.microdnb.trainers' replicate and train.
* The page's checks: specFrom refuses a broken payload, and bad settings throw at once, one
  line naming the setting and its range (config.LIMITS' words); PyRandom's shuffle, gauss,
  pick and sample are CPython's (the trainer's draws).
"""
import json
import random
import re

import numpy as np
import pytest

from browser import launch, require_chromium, serve
from cli_runner import run as cli_run
from microdnb import reference
from microdnb.checkpoint import load_checkpoint
from microdnb.page.training import trainer_page

pytestmark = pytest.mark.browser

CSP = "<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'unsafe-inline'\">"


@pytest.fixture(scope='module')
def pages(tmp_path_factory):
    """goto(name, via) opens trainer page `name` ('plain' or 'csp') over http or file://."""
    require_chromium()
    from playwright.sync_api import sync_playwright
    site = tmp_path_factory.mktemp('trainer_site')
    (site / 'plain.html').write_text(trainer_page(), encoding='utf-8')
    (site / 'csp.html').write_text(trainer_page(CSP), encoding='utf-8')
    errors = []
    with serve(site) as origin, sync_playwright() as pw:
        browser = launch(pw)
        pg = browser.new_page()
        pg.route('**/*', lambda r: r.continue_() if r.request.url.startswith((origin, 'file:', 'blob:'))
                 else (errors.append(f'request to {r.request.url}'), r.abort()))
        pg.on('pageerror', lambda e: errors.append(f'uncaught: {e}'))

        def goto(name, via='http'):
            pg.goto(f'{origin}/{name}.html' if via == 'http' else (site / f'{name}.html').as_uri())
            pg.wait_for_function('window.spec')
            return pg
        yield goto
        browser.close()
    assert not errors, errors


def run(pg, body, arg=None):
    out = pg.evaluate("async (arg) => { const spec = await window.spec;"
                      f" const result = await (async () => {{ {body} }})(); return JSON.stringify(result); }}", arg)
    return json.loads(out)


IN_WORKER = """
const batches = [], samples = [], mine = [];
const r = M.runTrainer(spec, arg, {onProgress: (records, s) => { batches.push(records); samples.push(...s); }, sampleEvery: 50});
const res = await r.done;
const t = new M.Trainer(spec, arg);
for (let info = t.step(); info; info = t.step()) {
  if ((info.step + 1) % 50 === 0) mine.push({phase: info.phase, step: info.step, texts: t.samples()});
}
const lines = t.lines();
const sampled = M.sampleSingle(t.model(), {seed: 3}).text;  // what `sample --seed 3` should print
return {worker: r.worker, res, batches, lines, theta: Array.from(t.net.theta), shapes: t.net.lay.shapes, sampled, samples, mine};"""


@pytest.mark.parametrize('via', ['http', 'file'])
def test_worker_equals_main_thread(pages, via, tmp_path):
    settings = {'seed': 42, 'steps': 1000, 'sncSteps': 300} if via == 'http' else {'seed': 5, 'steps': 150, 'sncSteps': 40}
    got = run(pages('plain', via), IN_WORKER, settings)
    res = got['res']
    assert got['worker'] is True
    assert res['lines'] == got['lines']
    if via == 'http':
        assert len(res['lines']) == 41 and res['lines'][-1] == '\nfinal gate value: 0.0087'
    assert [r for b in got['batches'] for r in b] == res['log']
    # names sampled as it trains, every 50 steps of each phase: those of the main thread's Trainer
    assert got['samples'] == got['mine'] and [(s['phase'], s['step']) for s in got['samples']][:2] == [(1, 49), (1, 99)]
    assert all(len(s['texts']) == 3 for s in got['samples'])
    assert len(got['batches']) >= 2 and len(res['log']) == settings['steps'] + settings['sncSteps']
    assert [r['phase'] for r in res['log'][settings['steps'] - 1:settings['steps'] + 1]] == [1, 2]
    assert set(res['log'][-1]) == {'phase', 'step', 'num_steps', 'loss', 'lr', 'gate'}
    path = tmp_path / 'page.json'
    path.write_text(res['checkpoint'], encoding='utf-8')
    ck = load_checkpoint(path)
    flat = np.concatenate([np.array(ck['params'][name]).ravel() for name in got['shapes']])
    assert flat.tolist() == got['theta']
    assert (ck['bus_cfg'].n_streams, ck['bus_cfg'].cadence, ck['bus_cfg'].lag) == (2, 3, 0)
    if via == 'file':   # the command line reads it as a reader's download
        proc = cli_run('sample', '--checkpoint', path, '--seed', 3, '--json')
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == {'texts': [got['sampled']]}


def test_stop_mid_run(pages):
    got = run(pages('plain'), """
      let n = 0, after = 0, stopped = false;
      const r = M.runTrainer(spec, {steps: 1000000}, {onProgress: rs => { n += rs.length; if (stopped) after++; }});
      while (n < 50) await new Promise(ok => setTimeout(ok, 5));
      r.stop(); stopped = true;
      let err = null;
      try { await r.done; } catch (e) { err = [e.name, e.message]; }
      await new Promise(ok => setTimeout(ok, 100));
      r.stop();  // a second stop does nothing
      return {err, after, n};""")
    assert got['err'][0] == 'AbortError' and got['err'][1].startswith('training stopped at step ')
    assert got['after'] == 0 and 50 <= got['n'] < 1000000


def test_fallback_under_csp_and_the_contract(pages):
    got = run(pages('csp'), """
      const r = M.runTrainer(spec, {seed: 9, steps: 40, sncSteps: 10});
      const res = await r.done;
      const c = M.trainerContract(spec);
      const rep = await c.replicate({seed: 9, steps: 40, sncSteps: 10});
      const tr = await c.train({seed: 9, steps: 5, sncSteps: 0, task: 'copy'});
      return {worker: r.worker, lines: res.lines, rep, keys: Object.keys(tr).sort(), n: tr.log.length};""")
    want = []
    reference.replicate(9, 40, 10, engine='numpy', out=want.append)
    assert got['worker'] is False and got['lines'] == want and got['rep'] == {'lines': want}
    assert got['keys'] == ['checkpoint', 'log'] and got['n'] == 5


BAD = [({'steps': -1}, 'steps must be an integer in [0, 10000000], got -1'),
       ({'seed': 2 ** 64}, 'seed must be an integer in [0, 18446744073709551615], got 18446744073709551616'),
       ({'learningRate': 0}, 'learningRate must be a number in (0, 10], got 0'),
       ({'cadence': 1.5}, 'cadence must be an integer in [1, 1024], got 1.5'),
       ({'lag': '1'}, 'lag must be an integer in [0, 1024], got "1"'),
       ({'gateInit': 51}, 'gateInit must be a number in [-50, 50], got 51'),
       ({'n_head': 3}, 'n_head must divide n_embd (16), got 3'),
       ({'n_embd': 1024, 'n_layer': 16}, 'over the limit of 2000000'),
       ({'streams': 64, 'cadence': 1, 'n_layer': 4}, ' MB of buffers, over the page\'s 256 MB'),
       ({'task': 'dance'}, 'task must be one of names, independent, split, copy, got "dance"'),
       ({'heldout': 32033}, 'heldout must be an integer in [0, 32032], got 32033'),
       ({'block_size': 0}, 'block_size must be an integer in [1, 1024], got 0'),
       ({'stpes': 3}, 'stpes is not a setting; the settings are seed, steps'),
       ({'toString': 3}, 'toString is not a setting')]


def test_bad_settings_and_payloads(pages):
    got = run(pages('plain'), """
      const out = [];
      for (const s of arg) { try { M.runTrainer(spec, s); out.push(null); } catch (e) { out.push(e.message); } }
      for (const p of [null, {cfg: 1}]) { try { await M.specFrom(p); out.push(null); } catch (e) { out.push(e.message); } }
      const net = new M.Net({vocab_size: 5, n_layer: 1, n_embd: 4, block_size: 4, n_head: 2, notes_dim: 2}, 2, 4);
      for (const f of [() => new M.Net({...net.cfg, n_head: 3}, 2, 4), () => M.docsLoss(net, [[0, 1], [1, 2], [2, 3]]),
                       () => M.docsLoss(net, [[0, 5]]), () => M.streamsLoss(net, [[0, 1]], 0, 0, false),
                       () => M.tokenizer([]), () => M.makeGroups('copy', ['ab'], 2, -1, new M.PyRandom(1))]) {
        try { f(); out.push(null); } catch (e) { out.push(e.message); }
      }
      return out;""", [{k: (str(v) if k == 'seed' else v) for k, v in s.items()} for s, _ in BAD])
    for (settings, want), msg in zip(BAD, got):
        assert msg is not None and want in msg and '\n' not in msg, (settings, msg)
        if 'MB' in want:  # SNC's attention weights alone: 64 x 16 x 2 rows x 4 layers x 4 heads x 64 x 17 notes
            assert int(re.search(r'need (\d+) MB', msg).group(1)) >= 2048 * 4 * 4 * 64 * 17 * 8 / 2 ** 20
    assert 'payload must be an object' in got[len(BAD)] and 'has no tcfg' in got[len(BAD) + 1]
    assert got[len(BAD) + 2:] == [
        'cfg.n_head must divide cfg.n_embd (4), got 3',
        "docs must be a non-empty list of at most 2 token lists (the net's rows)",
        'docs[0] must be a list of at least 2 token ids in 0..4',
        'cadence must be an integer >= 1, got 0',
        'docs must be a non-empty list of non-empty strings',
        'k must be an integer >= 1 and n >= 0, got 2, -1']


def test_pyrandom_draws_match_cpython(pages):
    names = [f'n{i}' for i in range(3000)]
    got = run(pages('plain'), """
      return arg.seeds.map(seed => { const r = new M.PyRandom(seed);
        return {shuffle: r.shuffle([...arg.names]), gauss: Array.from({length: 2001}, () => r.gauss(0, 0.08)),
                pick: Array.from({length: 50}, () => r.pick(arg.names)), small: r.sample(arg.names.slice(0, 9), 6),
                big: [1, 2, 7, 30].map(k => r.sample(arg.names, k)), bits: [1, 5, 32].map(k => r.getrandbits(k))}; });""",
              {'seeds': [0, 42, 7777], 'names': names})
    gauss_ulps = 0
    for seed, g in zip([0, 42, 7777], got):
        r = random.Random(seed)
        x = list(names)
        r.shuffle(x)
        assert g['shuffle'] == x
        want = [r.gauss(0, 0.08) for _ in range(2001)]
        assert np.allclose(g['gauss'], want, rtol=1e-15, atol=0)   # libm cos/sin/log vs V8's: an ulp at most
        gauss_ulps += sum(a != b for a, b in zip(g['gauss'], want))
        assert g['pick'] == [r.choice(names) for _ in range(50)]
        assert g['small'] == r.sample(names[:9], 6)
        assert g['big'] == [r.sample(names, k) for k in (1, 2, 7, 30)]
        assert g['bits'] == [r.getrandbits(k) for k in (1, 5, 32)]
    print(f"gauss draws differing from CPython's in the last bit: {gauss_ulps} of {3 * 2001}")


def test_fmt_is_pythons(pages):
    """train.js fmt(x, d) prints as f'{x:.{d}f}', exact ties (2.03125) rounding half to even."""
    rng = random.Random(4)
    cases = [(x, d) for x in (2.03125, 0.03125, -2.03125, 2.5, 3.5, -0.5, 0.125, 0.375, 1e-5, 0.0, 12.345, 2.0645, 2.675)
             for d in (0, 2, 4)] + [(rng.uniform(0, 4), 4) for _ in range(500)] + \
        [(rng.randrange(1, 10 ** 6) / 2 ** rng.randrange(1, 8), 4) for _ in range(500)]   # many exact ties
    got = run(pages('plain'), "return arg.map(([x, d]) => M.fmt(x, d));", cases)
    assert got == [f'{x:.{d}f}' for x, d in cases]
