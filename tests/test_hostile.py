"""Issue 20's eight cases that got through, each refused cleanly: one line naming the file
(or flag) and the field, before any work, nothing lost.

1 quadratic stall  2 any character in a checkpoint's vocabulary  3 duplicate keys, missing
fields  4 absurd weights  5 memory  6 late failures (another user's file in a sticky
folder, a full disk)  7 signals  8 library edges. Cases 1-5 are here, 6-8 in
test_hostile_late.py, what both share in hostile_cases.py.

Some need root (a file of another user, a tmpfs to fill, running as uid 65534): they skip
without it, saying why; the logic they exercise is also tested in-process.
"""
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import subprocess_env
from microdnb import sampling
from microdnb.checkpoint import MAX_WEIGHT, load_checkpoint
from microdnb.data import Tokenizer, load_docs

from hostile_cases import ck, cli, crafted, one_line_error, refused  # noqa: F401 (ck: a fixture)


# ---- 1 quadratic stall --------------------------------------------------------------------------

@pytest.mark.parametrize('n, words', [(40_000, ['not valid JSON', 'Unterminated string']),       # 80 kB: 18-20 s before
                                      (500_000, ['more than 400,000 quote characters']),         # 1 MB: minutes before
                                      (4_000_000, ['more than 400,000 quote characters'])])
def test_1_an_unclosed_string_of_escaped_quotes_is_refused_at_once(tmp_path, n, words):
    path = crafted(tmp_path, '{"format": "' + '\\"' * n)
    refused(lambda: load_checkpoint(path), f'checkpoint {path}', *words, seconds=1.0)


def test_1_the_scan_is_linear_where_the_caps_allow_it(tmp_path):
    """What the caps let through (400,000 quotes, escaped, in 50 MB) is scanned in one pass."""
    path = crafted(tmp_path, '{"format": "' + '\\"' * 200_000 + 'x' * 45_000_000)
    refused(lambda: load_checkpoint(path), 'holds a string of 45,400,000 bytes', seconds=2.0)
    path = crafted(tmp_path, '["' + '", "'.join(['\\"'] * 100_000) + '"]')   # 100,000 strings, 200,000 quotes
    refused(lambda: load_checkpoint(path), 'not a microdnb-checkpoint-v1 file', seconds=2.0)


# ---- 2 any character in a checkpoint's vocabulary ----------------------------------------------

@pytest.mark.parametrize('ch, shown', [('\x1b', 'U+001B'), ('\n', 'U+000A'), ('\0', 'U+0000'),
                                       ('\ud800', 'U+D800'), ('\u202e', 'U+202E RIGHT-TO-LEFT OVERRIDE'),
                                       ('\u2066', 'U+2066 LEFT-TO-RIGHT ISOLATE'), ('\u00a0', 'U+00A0 NO-BREAK SPACE'),
                                       ('\ue000', 'U+E000')])
def test_2_a_vocabulary_character_that_is_not_printable_is_refused(tmp_path, ck, ch, shown):
    doc = json.loads(json.dumps(ck[1]))
    doc['uchars'] = doc['uchars'][:-1] + ch  # same size: only the rule can refuse it
    path = crafted(tmp_path, doc)
    refused(lambda: load_checkpoint(path), f"checkpoint {path}: field 'uchars'", shown, 'not printable')
    if ch == '\x1b':  # the reproduction: --prompt $'\x1bc' resets the terminal
        proc = cli('sample', '--checkpoint', path, '--prompt', '\x1bc')
        one_line_error(proc, str(path), 'U+001B')
        assert proc.stdout == '' and '\x1b' not in proc.stderr


def test_2_datasets_and_checkpoints_follow_the_same_rule(tmp_path):
    data = tmp_path / 'names.txt'
    data.write_text('emma\nav\u202ea\n')
    refused(lambda: load_docs(data), 'line 2', 'U+202E', 'not printable')
    with pytest.raises(ValueError, match=r'U\+202E'):
        Tokenizer('ab\u202e')


# ---- 3 duplicate keys, missing fields ----------------------------------------------------------

@pytest.mark.parametrize('edit, words', [
    (lambda t: t.replace('"uchars": ', '"uchars": "zyx", "uchars": ', 1), ['uchars is a key given more than once']),
    (lambda t: t.replace('"n_embd": 8', '"n_embd": 8, "n_embd": 8', 1), ['model.n_embd is a key given more than once']),
    (lambda t: t.replace('"notes_dim": 4, ', '', 1), ["model has no field 'notes_dim'"]),
    (lambda t: t.replace('"lag": 0', '"lag": 0, "cadence": 3', 1), ['bus.cadence is a key given more than once']),
])
def test_3_duplicate_keys_and_missing_fields_are_refused(tmp_path, ck, edit, words):
    text = ck[0].read_text()
    path = crafted(tmp_path, edit(text))
    assert path.read_text() != text
    refused(lambda: load_checkpoint(path), f'checkpoint {path}', *words)


# ---- 4 absurd weights --------------------------------------------------------------------------

@pytest.mark.parametrize('value', [1e308, -1e10, MAX_WEIGHT * (1 + 1e-15)])
def test_4_a_weight_beyond_the_bound_is_refused_naming_file_and_parameter(tmp_path, ck, value):
    doc = json.loads(json.dumps(ck[1]))
    doc['params']['lm_head'][2][5] = value
    path = crafted(tmp_path, doc)
    refused(lambda: load_checkpoint(path), f'checkpoint {path}: params.lm_head[2][5]', 'no trained model')
    if value == 1e308:
        one_line_error(cli('sample', '--checkpoint', path, '--streams', 2), str(path), 'params.lm_head[2][5]')


def test_4_within_the_bound_the_trunk_stays_finite_and_an_overflow_is_one_line(tmp_path, ck):
    """Every weight at +-MAX_WEIGHT: the trunk alone samples (finite, as the bound promises);
    whatever SNC's notes compound to, the command line says so in one line naming the file."""
    doc = json.loads(json.dumps(ck[1]))
    gen = random.Random(0)
    doc['params'] = {k: [[gen.choice((-MAX_WEIGHT, MAX_WEIGHT)) for _ in row] for row in m]
                     for k, m in doc['params'].items()}
    path = crafted(tmp_path, doc)
    loaded = load_checkpoint(path)
    for engine in ('scalar', 'numpy'):
        proc = cli('sample', '--checkpoint', path, '--num', 3, '--engine', engine)
        assert proc.returncode == 0 and proc.stderr == '', proc.stderr
        proc = cli('sample', '--checkpoint', path, '--streams', 3, '--gate', 1, '--num', 3, '--engine', engine)
        assert proc.returncode in (0, 1) and 'Traceback' not in proc.stderr and 'Warning' not in proc.stderr
        if proc.returncode:
            one_line_error(proc, f'checkpoint {path}: cannot sample from it')
    assert loaded['cfg'].vocab_size == len(loaded['tokenizer'].uchars) + 1


def test_4_draw_refuses_weights_that_are_not_a_distribution():
    rng = random.Random(0)
    for weights in ([-1.0, 2.0], [float('nan'), 1.0], [1.0, float('nan')], [0.0, 0.0], [float('inf'), 1.0]):
        state = rng.getstate()
        with pytest.raises(ValueError, match='not a distribution'):
            sampling.draw(weights, rng)
        assert rng.getstate() == state or weights[0] >= 0  # refused before drawing, where it can tell
    assert sampling.draw([0.0, 1.0], rng) == 1


# ---- 5 memory ------------------------------------------------------------------------------------

PEAK = textwrap.dedent('''
    import re, sys, time
    from pathlib import Path
    def hwm():  # this process's peak memory (ru_maxrss would count the parent's, kept across exec)
        return int(re.search(r'VmHWM:\\s+(\\d+) kB', Path('/proc/self/status').read_text()).group(1)) * 1024
    from microdnb.checkpoint import load_checkpoint
    base, start = hwm(), time.perf_counter()
    try:
        load_checkpoint(sys.argv[1])
        print('loaded')
    except ValueError as e:
        print(e)
    print(time.perf_counter() - start, hwm() - base)
''')


def _peak(path):
    """Seconds and peak memory (bytes, beyond the interpreter and microdnb's imports) of
    loading `path` in a fresh process, and what it said."""
    if not Path('/proc/self/status').exists():
        pytest.skip('needs /proc/self/status')
    proc = subprocess.run([sys.executable, '-c', PEAK, str(path)], env=subprocess_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    said, numbers = proc.stdout.splitlines()
    seconds, peak = numbers.split()
    return float(seconds), int(peak), said


@pytest.mark.parametrize('meta, words', [
    ('[' + '{},' * 16_000_000 + '{}]', ['more than 100,000 arrays and objects']),   # 48 MB: 1.46 GB before
    ('[' + '0,' * 24_000_000 + '0]', ['more than 2,200,000 values']),
    ('{"s": "' + 'x' * 40_000_000 + '"}', ['holds a string of 40,000,000 bytes, over the 100,000-byte limit']),
], ids=['16M empty objects', '24M zeros', 'a 40 MB string'])
def test_5_memory_stays_a_small_multiple_of_the_file(tmp_path, ck, meta, words):
    text = ck[0].read_text().replace('"meta": {"seed": 1}', '"meta": ' + meta)
    path = crafted(tmp_path, text)
    size = path.stat().st_size
    seconds, peak, said = _peak(path)
    for w in words:
        assert w in said, said
    assert seconds < 2.0 and peak < 2.5 * size, (seconds, peak, size)


def test_5_meta_is_bounded_in_depth_and_size(tmp_path, ck):
    doc = json.loads(json.dumps(ck[1]))
    doc['meta'] = {'a': [[[[[[[[[1]]]]]]]]]}
    refused(lambda: load_checkpoint(crafted(tmp_path, doc)), 'nests arrays/objects more than 10 levels deep')
    doc['meta'] = {'losses': [0.5] * 20_000}
    refused(lambda: load_checkpoint(crafted(tmp_path, doc)), 'meta is', 'over the 100,000-byte limit')
