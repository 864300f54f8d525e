"""The in-page engine (microdnb/page/engine.js) against the numpy engine, in headless chromium.

engine.js and a blank page are served from a temporary directory on 127.0.0.1 (js_page.py);
each test imports the module in the page (dynamic import) and runs many cases in one
evaluate call. (PyRandom, CPython's random.Random in the page: test_pyrandom_js.py.)

* Over >= 120 random models and bus settings, every decoding step of engine.js's decode()
  matches the numpy sample_parallel(record=True): the same tokens, notes read and posts, and
  logits, probabilities, attention and SNC weights, SNC deltas and snapshots to 1e-12
  relative (per vector: max|js - numpy| / max|numpy|; for SNC's delta, an update that can
  nearly cancel, / max(max|numpy|, |residual|)); the trunk-only probabilities match
  gpt_sequence on the same prefix.
* On a briefly trained reference-size model, the names are those of sample_parallel and
  sample_single for the same seed and settings.

The gate override (settings.gate) and forced prompts (settings.prompts) are sample_parallel's
`gate` and `prompts`.

Chromium is /usr/bin/chromium (MICRODNB_CHROMIUM overrides); without it these tests skip,
unless CI=true, where they fail.
"""
from __future__ import annotations

import contextlib
import json
import math
import random
import sys

import numpy as np
import pytest

from js_page import js, page  # noqa: F401 (page: the fixture)
from microdnb import vector
from microdnb.checkpoint import save_checkpoint
from microdnb.config import BusConfig, ModelConfig, limits_json
from microdnb.data import Tokenizer
from microdnb.sampling import DECODE_LIMITS

ENGINE_MODULE = sys.modules[vector.sample_parallel.__module__]  # where sample_parallel looks names up

pytestmark = pytest.mark.browser

LETTERS = 'abcdefghijklmnopqrstuvwxyz'
TOL = 1e-12       # relative, per vector


# ------------------------------------------------------------------ the Python side

@pytest.fixture(scope='module')
def worst(request):
    """The largest relative error of each compared quantity, shown at the end of the run."""
    data = {}
    yield data
    if not data:
        return
    line = 'engine.js vs numpy, max relative error: ' + ', '.join(f'{k} {v:.1e}' if isinstance(v, float) else f'{k} {v}'
                                                               for k, v in sorted(data.items()))
    reporter = request.config.pluginmanager.get_plugin('terminalreporter')
    capman = request.config.pluginmanager.get_plugin('capturemanager')
    with capman.global_and_fixture_disabled():
        if reporter is not None:
            reporter.write_line('')
            reporter.write_line(line)
        else:
            print(line)


def rel(a, b, scale=0.0):
    """max|a - b| / max(max|b|, scale) over one vector (0 for two zero vectors)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-300, float(np.max(np.abs(b))), scale))


def check(worst, what, a, b, where, scale=0.0):
    err = rel(a, b, scale)
    worst[what] = max(worst.get(what, 0.0), err)
    assert err <= TOL, f'{where}: {what} differs by {err:.3e} relative'


def checkpoint_doc(tmp_path, params, cfg, tok, bcfg=None):
    """The JSON text save_checkpoint writes: what a page would load."""
    path = tmp_path / 'model.json'
    save_checkpoint(path, params, cfg, tok, bcfg, meta={'test': True})
    return path.read_text()


@contextlib.contextmanager
def patched(module, name, value):
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def run_numpy(case):
    """sample_parallel(record=True) for one case, plus the softmax inputs (logits / T) it drew from
    and the trunk-only probabilities of every step's prefix (gpt_sequence)."""
    params, cfg, tok, bcfg = case['params'], case['cfg'], case['tok'], case['bcfg']
    scaled = []
    softmax = ENGINE_MODULE.softmax  # the samplers' only use of it: softmax(logits * inv_t)

    def spy(x):
        scaled.extend(np.array(x).reshape(-1, x.shape[-1]))
        return softmax(x)
    kwargs = {'starts': starts_of(case), 'gate': case['gate']}
    if case.get('prompts') is not None:
        kwargs['prompts'] = case['prompts']
    with patched(ENGINE_MODULE, 'softmax', spy):
        trace = vector.sample_parallel(params, cfg, bcfg, tok, random.Random(case['seed']),
                                          case['temperature'], record=True, **kwargs)
    assert len(scaled) == len(trace['events'])
    inv_t = case['temperature'] ** -1
    trunk = {}
    for s in range(bcfg.n_streams):
        n = sum(ev['stream'] == s for ev in trace['events'])
        inputs = ([case['first'][s]] + trace['tokens'][s])[:n]
        logits, _ = vector.gpt_sequence(params, cfg, inputs)
        trunk[s] = iter(softmax(logits * inv_t))
    trace['scaled'] = scaled
    trace['trunk'] = [next(trunk[ev['stream']]) for ev in trace['events']]
    return trace


def js_settings(case):
    return {'gate': case['gate'], 'cadence': case['bcfg'].cadence, 'lag': case['bcfg'].lag,
            'streams': case['bcfg'].n_streams, 'temperature': case['temperature'],
            'seed': str(case['seed']), 'prompts': case.get('prompts'), 'starts': starts_of(case)}


def starts_of(case):
    """The start letters of case['first'] (token ids): None for BOS."""
    tok = case['tok']
    return [None if t == tok.BOS else tok.uchars[t] for t in case['first']]


# a checkpoint's text as the page loads it: with the limits its decode checks settings against,
# config.LIMITS as the explorer's payload carries them
LOAD = f"const load = d => E.loadCheckpoint(JSON.parse(d), null, {json.dumps(limits_json(DECODE_LIMITS))});"
DECODE_ALL = LOAD + """
  return arg.map(({doc, settings}) => E.decode(load(doc), settings));
"""


def compare_decode(worst, case, ref, got, where):
    assert got['texts'] == ref['texts'], f"{where}: names differ"
    assert got['tokens'] == ref['tokens'], where
    assert (got['rounds'], got['steps']) == (ref['rounds'], ref['steps']), where
    inv_t = case['temperature'] ** -1
    assert len(got['events']) == len(ref['events']), where
    for i, (g, r, scaled, trunk) in enumerate(zip(got['events'], ref['events'], ref['scaled'], ref['trunk'])):
        at = f"{where} step {i} (stream {r['stream']}, pos {r['pos']})"
        assert (g['stream'], g['pos'], g['token']) == (r['stream'], r['pos'], r['token']), at
        assert g['forced'] == r.get('forced', False), at
        assert [tuple(n) for n in g['notes']] == [tuple(n) for n in r['notes']], at
        check(worst, 'logits', np.array(g['logits']) * inv_t, scaled, at)
        check(worst, 'probs', g['probs'], r['probs'], at)
        check(worst, 'probs trunk-only', g['probsTrunk'], trunk, at)
        for li in range(case['cfg'].n_layer):
            assert len(g['snc'][li]) == len(r['snc'][li]), at
            for h, (gw, rw) in enumerate(zip(g['snc'][li], r['snc'][li])):
                check(worst, 'snc weights', gw, rw, f'{at} layer {li} head {h}')
            for h, (gw, rw) in enumerate(zip(g['attn'][li], r['attn'][li])):
                check(worst, 'attention weights', gw, rw, f'{at} layer {li} head {h}')
            # SNC's delta is an update to the residual; when the notes' values cancel it can be tiny
            # (-3e-8 seen with n_embd 1), with an error set by the residual's size: measure it there
            check(worst, 'snc delta (vs residual)', g['sncDelta'][li], r['snc_delta'][li], f'{at} layer {li}',
                  scale=g['residNorm'][li])
            # (JSON writes integral doubles below 1e21 as integers: read everything as float64)
            norm = float(np.linalg.norm(np.asarray(g['sncDelta'][li], dtype=np.float64)))
            assert math.isclose(g['deltaNorm'][li], norm, rel_tol=1e-12), at
    assert [(p['stream'], p['round']) for p in got['posts']] == [(s, r) for s, r, _ in ref['posts']], where
    for p, (_, _, snap) in zip(got['posts'], ref['posts']):
        check(worst, 'snapshots', p['snapshot'], snap, where)


# ------------------------------------------------------------------ (a) the gate (CPython's random: test_pyrandom_js.py)

def test_gate_value_close_to_python(page, worst):
    logits = np.random.default_rng(3).normal(0, 8, 2000).tolist() + [-800.0, -701.0, -5.0, 0.0, 40.0]
    got = js(page, "return arg.map(g => E.gateValue({params: {snc_gate: {data: [g]}}}));", logits)
    want = [vector.gate_value({'snc_gate': np.array([[g]])}) for g in logits]
    errs = [0.0 if a == b else abs(a - b) / b for a, b in zip(got, want)]
    worst['gate (learned)'] = max(errs)
    worst[f'gate (learned): last-bit differences in {len(errs)}'] = sum(e > 0 for e in errs)
    assert max(errs) <= 2.3e-16  # a last-bit difference at most (libm exp vs V8 Math.exp)


# ------------------------------------------------------------------ (b) random models and settings

def random_case(i, lag, tmp_path):
    r = random.Random(10_000 * lag + i)
    if i % 10 == 0:  # the reference model
        cfg = ModelConfig(vocab_size=27)
    else:
        n_head = r.randint(1, 4)
        cfg = ModelConfig(vocab_size=r.randint(2, 12), n_layer=r.randint(1, 3), n_embd=n_head * r.randint(1, 4),
                          block_size=r.randint(1, 12), n_head=n_head, notes_dim=r.randint(1, 8),
                          init_std=r.uniform(0.05, 0.25))
    tok = Tokenizer(LETTERS[:cfg.vocab_size - 1])
    params = vector.init_params(cfg, random.Random(r.getrandbits(32)))
    noise = np.random.default_rng(r.getrandbits(32))
    # Weights of the size of real models' (init_std 0.08). Much larger ones make decoding chaotic:
    # with std ~0.3, 3 layers, gate 1 and cadence 1, SNC deltas as large as the residual feed
    # each stream's rounding into the others' notes, and any two float64 engines drift apart
    # ~2x per round (1e-10 by round 10, numpy vs the scalar engine just as JS vs numpy).
    scale = r.uniform(0.0, 0.1)
    for name in params:
        params[name] = params[name] + noise.normal(0.0, scale, params[name].shape)
    params['snc_gate'][0, 0] = r.uniform(-6.0, 6.0)  # a random gate, not the nearly closed init
    bcfg = BusConfig(n_streams=r.randint(1, 4), cadence=r.randint(1, 8), lag=lag)
    first = [r.choice([tok.BOS] * 3 + list(range(cfg.vocab_size))) for _ in range(bcfg.n_streams)]
    prompts = [r.choice([None, None, ''.join(r.choice(tok.uchars) for _ in range(r.randrange(cfg.block_size)))])
               for _ in range(bcfg.n_streams)]
    case = {'cfg': cfg, 'tok': tok, 'params': params, 'bcfg': bcfg, 'first': first,
            'prompts': prompts if r.random() < 0.3 else None,
            'temperature': r.choice([0.5, 1.0, r.uniform(0.2, 2.0)]),
            'seed': r.getrandbits(r.choice([8, 32, 64])),   # config.LIMITS (PyRandom's other seeds: test_pyrandom_js)
            'gate': r.choice([None, None, None, 0.0, 1.0, r.random()])}
    case['doc'] = checkpoint_doc(tmp_path, params, cfg, tok, bcfg)
    return case


@pytest.mark.parametrize('lag', [0, 1, 2])
def test_decode_matches_numpy_on_random_models(page, worst, tmp_path, lag):
    cases = [random_case(i, lag, tmp_path) for i in range(40)]
    got = js(page, DECODE_ALL, [{'doc': c['doc'], 'settings': js_settings(c)} for c in cases])
    covered = set()
    for i, (case, out) in enumerate(zip(cases, got)):
        ref = run_numpy(case)
        compare_decode(worst, case, ref, out, f'lag {lag} case {i}')
        covered.add(('read notes', any(ev['notes'] for ev in ref['events'])))
        covered.add(('posted', bool(ref['posts'])))
        covered.add(('layers', case['cfg'].n_layer))
        covered.add(('forced', any(ev.get('forced') for ev in ref['events'])))
    # the cases exercise SNC and the bus, on every depth, and prompts
    assert {('read notes', True), ('posted', True), ('layers', 1), ('layers', 2), ('layers', 3),
            ('forced', True)} <= covered


# ------------------------------------------------------------------ (c), (d) a trained model

@pytest.fixture(scope='module')
def trained(trained_model, tmp_path_factory):
    """The briefly trained reference-size model the tests share (conftest.trained_model), and
    the checkpoint a page would load."""
    m = trained_model
    doc = checkpoint_doc(tmp_path_factory.mktemp('trained'), m['params'], m['cfg'], m['tok'], m['bus'])
    return {'cfg': m['cfg'], 'tok': m['tok'], 'params': m['params'], 'doc': doc}


def test_checkpoint_loads_exactly(page, trained):
    got = js(page, "const m = E.loadCheckpoint(JSON.parse(arg));"
                   " return {cfg: m.cfg, bus: m.bus, uchars: m.uchars.join(''), BOS: m.BOS,"
                   " params: Object.fromEntries(Object.entries(m.params).map(([k, v]) => [k, v.data]))};",
             trained['doc'])
    assert got['uchars'] == LETTERS and got['BOS'] == 26 and got['bus'] == {'n_streams': 2, 'cadence': 3, 'lag': 0}
    assert set(got['params']) == set(trained['params'])
    for name, arr in trained['params'].items():
        assert got['params'][name] == arr.ravel().tolist(), name  # bit for bit


def test_names_match_sample_parallel(page, worst, trained):
    gen = random.Random(2024)
    cases = [dict(trained, bcfg=BusConfig(), first=[26, 26], temperature=0.5, seed=42, gate=None)]
    for i in range(29):
        streams = gen.randint(1, 4)
        firsts = [gen.choice([None, None, gen.choice(LETTERS)]) for _ in range(streams)]
        prompts = [gen.choice([None, '', gen.choice(LETTERS), 'ma', 'zoe']) for _ in range(streams)]
        cases.append(dict(trained, bcfg=BusConfig(n_streams=streams, cadence=gen.randint(1, 8), lag=i % 3),
                          prompts=prompts if i % 3 == 1 else None,
                          first=[26 if f is None else LETTERS.index(f) for f in firsts],
                          temperature=gen.choice([0.1, 0.5, 1.0, gen.uniform(0.2, 1.5)]),
                          seed=gen.getrandbits(32), gate=gen.choice([None, None, 0.0, 0.3, 1.0])))
    got = js(page, DECODE_ALL, [{'doc': trained['doc'], 'settings': js_settings(c)} for c in cases])
    for i, (case, out) in enumerate(zip(cases, got)):
        ref = run_numpy(case)
        compare_decode(worst, case, ref, out, f'setting {i}')
    assert len({tuple(out['texts']) for out in got}) > 20  # the settings do change the names


def test_names_match_sample_single(page, worst, trained, tmp_path):
    # the trained model and a random reference-size one
    other = vector.init_params(trained['cfg'], random.Random(5))
    models = [trained['doc'], checkpoint_doc(tmp_path, other, trained['cfg'], trained['tok'])]
    cases = [{'model': m, 'seed': s, 'temperature': t, 'prompt': 'ma' if s % 3 == 2 else None}
             for m in (0, 1) for s in range(12) for t in ([0.5, 1.0] if s % 2 else [0.3])]
    got = js(page, LOAD + "const models = arg.models.map(load);"
                   " return arg.cases.map(c => E.sampleSingle(models[c.model], c));",
             {'models': models, 'cases': cases})
    for case, out in zip(cases, got):
        params = trained['params'] if case['model'] == 0 else other
        kwargs = {'prompt': case['prompt']} if case['prompt'] else {}
        ref = vector.sample_single(params, trained['cfg'], trained['tok'], random.Random(case['seed']),
                                      case['temperature'], record=True, **kwargs)
        assert (out['text'], out['tokens']) == (ref['text'], ref['tokens']), case
        for g, r in zip(out['probs'], ref['probs']):
            check(worst, 'probs (single)', g, r, case)
        for g, r in zip(out['attn'], ref['attn']):
            for gh, rh in zip(g, r):
                for a, b in zip(gh, rh):
                    check(worst, 'attention weights (single)', a, b, case)


# ------------------------------------------------------------------ engine.js on its own

def test_gate_zero_is_the_trunk_and_one_stream_is_single(page, trained):
    got = js(page, LOAD + """
      const m = load(arg);
      const shut = E.decode(m, {gate: 0, streams: 3, cadence: 1, seed: 7});
      const one = E.decode(m, {streams: 1, seed: 9, temperature: 0.8});
      const single = E.sampleSingle(m, {seed: 9, temperature: 0.8});
      const prompted = E.decode(m, {streams: 3, prompts: ['ma', null, 'zoe'], seed: 3});
      return {same: shut.events.every(e => e.probs.every((p, i) => p === e.probsTrunk[i])),
              read: shut.events.some(e => e.notes.length > 0),
              one: one.texts[0], single: single.text,
              probs: one.events.every((e, t) => e.probs.every((p, i) => p === single.probs[t][i])),
              prompted: prompted.texts, forced: prompted.events.filter(e => e.forced).length};""",
             trained['doc'])
    assert got.pop('one') == got.pop('single')
    prompted = got.pop('prompted')
    assert prompted[0].startswith('ma') and prompted[2].startswith('zoe') and got.pop('forced') == 5
    assert got == {'same': True, 'read': True, 'probs': True}


def test_bad_settings_are_refused(page, trained):
    got = js(page, LOAD + """
      const m = load(arg);
      const bad = [{gate: 1.5}, {gate: -0.1}, {cadence: 0}, {lag: -1}, {lag: 0.5}, {streams: 0},
                   {temperature: 0}, {temperature: Infinity}, {temperature: 1000}, {streams: 65},
                   {streams: 2, prompts: ['a', 'b', 'c']}, {streams: 1, prompts: ['A']}, {streams: 1, prompts: [7]},
                   {streams: 1, prompts: ['abcdefghijklmnop']}, {streams: 2, starts: ['a', 'b', 'c']},
                   {streams: 1, starts: ['A']}, {streams: 1, starts: [0]}, {streams: 1, starts: ['ab']},
                   {seed: -1}, {seed: '18446744073709551616'}, {seed: 1.5}];
      const refused = bad.map(s => { try { E.decode(m, s); return null; } catch (e) { return e.message; } });
      const fewer = E.decode(m, {streams: 3, prompts: ['ma'], starts: [null, 'z'], seed: 4}).texts;
      const padded = E.decode(m, {streams: 3, prompts: ['ma', null, null], starts: [null, 'z', null], seed: 4}).texts;
      let format = null, unlimited = null;
      try { E.loadCheckpoint({format: 'other'}); } catch (e) { format = e.message; }
      try { E.decode(E.loadCheckpoint(JSON.parse(arg)), {}); } catch (e) { unlimited = e.message; }
      return {refused, format, unlimited, same: JSON.stringify(fewer) === JSON.stringify(padded)};""", trained['doc'])
    assert all(got['refused']), got
    # worded as Python words them, with the ranges of config.LIMITS from the payload
    assert got['refused'][2] == 'cadence must be an integer in [1, 1024], got 0'
    assert got['refused'][9] == 'streams must be an integer in [1, 64], got 65'
    assert got['refused'][10] == 'prompts has 3 entries for 2 stream(s): at most one per stream'
    assert got['refused'][11].startswith('prompts "A" (stream 0) has the character \'A\', which is not in the vocabulary')
    assert got['refused'][15].startswith('starts "A" (stream 0) must be one character of the vocabulary')
    assert got['refused'][19] == 'seed must be an integer in [0, 18446744073709551615], got 18446744073709551616'
    assert got['same'], 'prompts and starts: at most one per stream, the rest none (as in Python)'
    assert 'microdnb-checkpoint-v1' in got['format'] and 'no limits' in got['unlimited']
