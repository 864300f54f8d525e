"""The explorer's controls, driven by the keyboard alone in headless Chromium (two
explorers, tests/explorer_pages.py): each redraws what it should ("no notes" makes every
distribution the trunk's and the SNC delta 0; the lag changes which notes the attention
view marks readable exactly as bus.visibility says; cadence moves the posts; a start
letter, prompts, seed, temperature, streams), x.set refuses what the controls cannot hold,
every control is labelled and reachable, and two explorers do not interfere."""
from __future__ import annotations

import pytest

from explorer_pages import browser, models, numpy_texts, page, press, settle, shown, site  # noqa: F401 (fixtures)
from microdnb.bus import visibility

pytestmark = pytest.mark.browser


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
    assert invalid[0] == 'true' and "the prompt has the character 'Z', which is not in the vocabulary" in invalid[1]
    s = got['settings']
    assert got['texts'] == numpy_texts(m, {k: s[k] for k in ('gate', 'cadence', 'lag', 'streams', 'temperature', 'seed')})
    press(page, 0, 'input[data-k=prompt][data-s="1"]', 'Control+a', 'Backspace')


def test_a_stream_given_its_first_letter(page, models):
    """The start-letter select: by keyboard, stream 0 starts from a letter (its input at
    position 0 and its plan seed's, as the copy task's leader): the names are the numpy
    engine's with starts, the letter underlined in front and shown on the plan seed."""
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
                       ({'streams': 2.5}, 'streams'), ({'seed': -1}, 'seed must be an integer in [0, 4294967295], got -1'),
                       ({'prompts': 'ma'}, 'prompts must be null or a list'), ({'speed': 1}, 'unknown setting speed')):
        err = page.evaluate("(s) => { try { window.microdnb.explorers[0].set(s); return null; } "
                            "catch (e) { return String(e.message); } }", bad)
        assert err and words in err, (bad, err)
    settle(page)
    assert page.evaluate('() => window.microdnb.explorers[0].settings()') == before
    # x.decode takes what config.LIMITS allows (the payload's limits), beyond the controls' extent
    got = page.evaluate("() => { const x = window.microdnb.explorers[0], out = [x.decode({cadence: 20}).texts.length];"
                        " try { x.decode({cadence: 2000}); } catch (e) { out.push(e.message); } return out; }")
    assert got == [before['streams'], 'cadence must be an integer in [1, 1024], got 2000']
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
