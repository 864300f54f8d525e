"""Hostile inputs, tried as a new user would: a few hundred `python -m microdnb` runs with bad
flags, crafted checkpoints and datasets, hostile output paths and prompts. Counts what must
never happen: tracebacks, errors of more than one line, refusals slower than 2 s, temporary
files left behind, hostile inputs accepted, and anything that reaches the terminal raw.

    .venv/bin/python benchmarks/hostile.py [--jobs 2] [--json out.json] [--list]

Every run gets a fresh folder as its working directory and --out folder; after the run the
folder must hold nothing but what the case put there (and, for a run that succeeds, its
--out). Needs a few GB of free space in the temporary folder (the 50 MB files are sparse or
written once and shared).
"""
import argparse
import contextlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from microdnb import vector  # noqa: E402
from microdnb.__main__ import build_parser  # noqa: E402
from microdnb.checkpoint import save_checkpoint  # noqa: E402
from microdnb.config import BusConfig, ModelConfig, TrainConfig  # noqa: E402
from microdnb.data import Tokenizer  # noqa: E402

NAMES = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'abigail']
TINY = ['--steps', '2', '--snc-steps', '1', '--n-embd', '4', '--n-head', '2', '--block-size', '8']


class Case:
    """One run: `args` after `python -m microdnb` ('{out}' is its own folder), extra `env`;
    `refuse`: it must fail (else it must succeed)."""

    def __init__(self, group, name, args, refuse=True, env=None):
        self.group, self.name, self.args, self.refuse, self.env = group, name, args, refuse, env or {}


def good_checkpoint(folder):
    tok = Tokenizer.from_docs(NAMES)
    cfg = ModelConfig(vocab_size=tok.vocab_size, n_embd=8, n_head=2, block_size=8, notes_dim=4)
    params = vector.init_params(cfg, random.Random(1))
    vector.train_phase1(params, cfg, TrainConfig(steps=3), NAMES, tok)
    path = save_checkpoint(folder / 'good.json', params, cfg, tok, BusConfig(), {'seed': 1})
    return path, json.loads(path.read_text())


def crafted_checkpoints(folder, good_path, good):
    """name -> path of a crafted checkpoint."""
    text = good_path.read_text()
    out = {}

    def put(name, content):
        path = folder / f'ck_{len(out):03d}.json'
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content), encoding='utf-8',
                            errors='surrogatepass')
        out[name] = path

    def doc(**changes):
        d = json.loads(text)
        for k, v in changes.items():
            d[k] = v
        return d

    def edited(fn):
        d = json.loads(text)
        fn(d)
        return d
    # 1 the parser: quadratic stall, caps, nesting, not JSON
    for n in (40_000, 400_000, 2_000_000):
        put(f'unclosed string of {n:,} escaped quotes', '{"format": "' + '\\"' * n)
    put('1 MB of quotes', '"' * 1_000_000)
    put('100,000 empty strings', '[' + '"",' * 99_999 + '""]')
    put('deep arrays (200,000)', '[' * 200_000 + ']' * 200_000)
    put('deep meta (11)', text.replace('"meta": {"seed": 1}', '"meta": ' + '[' * 11 + ']' * 11))
    put('16M empty objects in meta (48 MB)', text.replace('"meta": {"seed": 1}', '"meta": [' + '{},' * 16_000_000 + '{}]'))
    put('24M zeros in meta', text.replace('"meta": {"seed": 1}', '"meta": [' + '0,' * 24_000_000 + '0]'))
    put('a 40 MB string in meta', text.replace('"meta": {"seed": 1}', '"meta": {"s": "' + 'x' * 40_000_000 + '"}'))
    put('meta of 200 kB', doc(meta={'losses': [0.123456] * 20_000}))
    put('empty file', b'')
    put('truncated', text[:len(text) // 2])
    put('trailing garbage', text + ' x')
    put('UTF-16', text.encode('utf-16'))
    put('BOM', b'\xef\xbb\xbf' + text.encode())
    put('binary', bytes(range(256)) * 100)
    gate = f'"snc_gate": [[{good["params"]["snc_gate"][0][0]!r}]]'
    for token in ('NaN', 'Infinity', '-Infinity', '1e400', '-1e999', '9' * 101):
        put(f'{token[:12]} as a weight', text.replace(gate, f'"snc_gate": [[{token}]]'))
    put('weight 1e308', edited(lambda d: d['params']['lm_head'][2].__setitem__(5, 1e308)))
    put('weight -1e10', edited(lambda d: d['params']['wpe'][0].__setitem__(0, -1e10)))
    put('integer of 5,000 digits', text.replace('"n_embd": 8', '"n_embd": ' + '9' * 5000, 1))
    put('true as a weight', edited(lambda d: d['params']['wte'][0].__setitem__(0, True)))
    put('string as a weight', edited(lambda d: d['params']['wte'][0].__setitem__(0, '0.5')))
    put('null as a weight', edited(lambda d: d['params']['wte'][0].__setitem__(0, None)))
    # 2 the vocabulary
    for ch, label in (('\x1b', 'ESC'), ('\n', 'newline'), ('\0', 'NUL'), ('\ud800', 'lone surrogate'),
                      ('\u202e', 'RLO'), ('\u2066', 'LRI'), ('\u200d', 'ZWJ'), ('\ufeff', 'BOM'), ('\u00a0', 'NBSP'),
                      ('\ue000', 'private use'), ('\u0378', 'unassigned'), ('\u2028', 'line separator'), ('\t', 'tab')):
        put(f'{label} in uchars', doc(uchars=good['uchars'][:-1] + ch))
    put('uchars a character short', doc(uchars=good['uchars'][:-1]))
    put('uchars a character twice', doc(uchars=good['uchars'][:-1] + good['uchars'][0]))
    put('uchars empty', doc(uchars=''))
    put('uchars a list', doc(uchars=list(good['uchars'])))
    # 3 duplicates, missing and unknown fields, wrong types
    put('duplicate uchars', text.replace('"uchars": ', '"uchars": "zyx", "uchars": ', 1))
    put('duplicate n_embd', text.replace('"n_embd": 8', '"n_embd": 8, "n_embd": 8', 1))
    put('duplicate params key', text.replace('"wte": ', '"wte": [[0.0]], "wte": ', 1))
    for key in good:
        put(f'no {key}', {k: v for k, v in good.items() if k != key})
    for key in good['model']:
        put(f'no model.{key}', edited(lambda d, key=key: d['model'].pop(key)))
        put(f'model.{key} a string', edited(lambda d, key=key: d['model'].__setitem__(key, '8')))
        put(f'model.{key} true', edited(lambda d, key=key: d['model'].__setitem__(key, True)))
    for key in good['bus']:
        put(f'no bus.{key}', edited(lambda d, key=key: d['bus'].pop(key)))
    put('unknown top-level field', doc(extra=1))
    put('unknown model field', edited(lambda d: d['model'].__setitem__('colour', 'red')))
    put('format v0', doc(format='microdnb-checkpoint-v0'))
    put('not an object', '[1, 2, 3]')
    put('null', 'null')
    put('bus a number', doc(bus=3))
    put('bus null', doc(bus=None))   # allowed: a trunk alone
    put('meta a list', doc(meta=[1]))
    # 4 configs out of range, shapes
    for key, value in (('n_embd', 4096), ('n_embd', 0), ('n_head', 3), ('vocab_size', 1), ('block_size', 5000),
                       ('n_layer', 17), ('notes_dim', 0), ('init_std', 0.0), ('gate_init', 1e9)):
        put(f'model.{key} = {value}', edited(lambda d, key=key, value=value: d['model'].__setitem__(key, value)))
    put('bus.n_streams = 0', edited(lambda d: d['bus'].__setitem__('n_streams', 0)))
    put('bus.lag = -1', edited(lambda d: d['bus'].__setitem__('lag', -1)))
    put('a row missing', edited(lambda d: d['params']['wte'].pop()))
    put('a column too many', edited(lambda d: d['params']['snc_wq'][0].append(0.5)))
    put('a matrix missing', edited(lambda d: d['params'].pop('snc_gate')))
    put('a matrix too many', edited(lambda d: d['params'].__setitem__('layer7.attn_wq', [[0.0]])))
    put('a matrix misnamed', edited(lambda d: d['params'].__setitem__('evil', [[0.0]])))
    put('a ragged matrix', edited(lambda d: d['params']['wte'].__setitem__(1, [0.0])))
    put('over 50 MB (sparse)', b'')
    with open(out['over 50 MB (sparse)'], 'wb') as f:
        f.truncate(50_000_001)
    return out


def crafted_datasets(folder):
    out = {}

    def put(name, content):
        path = folder / f'data_{len(out):03d}.txt'
        path.write_bytes(content if isinstance(content, bytes) else content.encode('utf-8', 'surrogatepass'))
        out[name] = path
    put('empty', b'')
    put('blank lines', '\n  \n\t\n')
    put('binary', bytes(range(256)) * 4)
    put('latin-1', 'emma\nzoé\n'.encode('latin-1'))
    put('UTF-16', 'emma\nava\n'.encode('utf-16'))
    for ch, label in (('\x1b[31m', 'ESC'), ('\0', 'NUL'), ('\u202e', 'RLO'), ('\u2066', 'LRI'), ('\ufeff', 'BOM'),
                      ('\ud800', 'lone surrogate'), ('\u00a0', 'NBSP'), ('\t', 'tab'), ('\u2028', 'line separator')):
        put(f'{label} in a name', f'emma\nav{ch}a\n')
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 5000)]
    put('5,000 distinct characters', '\n'.join(''.join(chars[i:i + 10]) for i in range(0, 5000, 10)))
    put('over 10 MB', b'a\n' * 5_000_001)
    return out


def cases(work):
    good_path, good = good_checkpoint(work)
    cks = crafted_checkpoints(work, good_path, good)
    datas = crafted_datasets(work)
    fifo = work / 'fifo'
    os.mkfifo(fifo)
    loop = work / 'loop.json'
    loop.symlink_to(loop)
    dangling = work / 'dangling.json'
    dangling.symlink_to(work / 'gone.json')
    shared = work / 'sticky'
    shared.mkdir()
    shared.chmod(0o1777)
    out = []
    # bad numbers for every numeric flag, after settings that make a run short (the flag given
    # last wins); a value the parser takes (a seed of 99999999999) must then succeed
    small = work / 'small_names.txt'
    small.write_text('\n'.join(NAMES) + '\n')
    bases = {'replicate': ['replicate', '--steps', '1', '--snc-steps', '1', '--engine', 'numpy'],
             'train': ['train', *TINY, '--engine', 'numpy', '--data', str(small), '--out', '{out}/ck.json'],
             'sample': ['sample', '--checkpoint', str(good_path)],
             'experiment': ['experiment', '--quick', '--out', '{out}/results.json']}
    flags = {'replicate': ['--seed', '--steps', '--snc-steps'],
             'train': ['--n-embd', '--n-head', '--n-layer', '--block-size', '--cadence', '--lag', '--streams',
                       '--steps', '--snc-steps', '--seed'],
             'sample': ['--num', '--streams', '--cadence', '--lag', '--gate', '--temperature', '--seed'],
             'experiment': ['--jobs', '--seeds']}
    values = ['', '-1', 'nan', 'inf', '-inf', '1e999', '9' * 5000, '1.5', 'abc', '0x10', '1e3', '99999999999',
              '\x1bc']
    parser = build_parser()
    for command, names in flags.items():
        for flag in names:
            for value in values:
                args = [*bases[command], flag, value]
                try:
                    with contextlib.redirect_stderr(io.StringIO()):
                        parser.parse_args([a.replace('{out}', str(work)) for a in args])
                    valid = True
                except SystemExit:
                    valid = False
                out.append(Case('bad numbers', f'{command} {flag} {value[:12]!r}', args, refuse=not valid))
    out.append(Case('bad numbers', 'no command', []))
    out.append(Case('bad numbers', 'unknown command', ['fly']))
    out.append(Case('bad numbers', 'unknown flag', ['sample', '--checkpoint', str(good_path), '--speed', '3']))
    out.append(Case('bad numbers', 'train --n-embd 10 --n-head 4', ['train', '--n-embd', '10', '--n-head', '4',
                                                                  '--out', '{out}/ck.json']))
    out.append(Case('bad numbers', 'train over 2M parameters', ['train', '--n-embd', '1024', '--out', '{out}/ck.json']))
    # crafted checkpoints
    for name, path in cks.items():
        out.append(Case('checkpoints', name, ['sample', '--checkpoint', str(path), '--streams', '2'],
                        refuse=name != 'bus null'))
    for name, path in (('missing', work / 'none.json'), ('a directory', work), ('a FIFO', fifo),
                       ('/dev/zero', '/dev/zero'), ('a link loop', loop), ('a dangling link', dangling),
                       ('empty name', ''), ('ESC in the name', work / 'ck\x1bc.json'),
                       ('newline in the name', work / 'ck\n.json')):
        out.append(Case('checkpoint paths', name, ['sample', '--checkpoint', str(path)]))
    # crafted datasets
    for name, path in datas.items():
        out.append(Case('datasets', name, ['train', *TINY, '--data', str(path), '--out', '{out}/ck.json']))
    for name, path in (('missing', work / 'none.txt'), ('a directory', work), ('a FIFO', fifo), ('empty name', '')):
        out.append(Case('datasets', f'--data {name}', ['train', *TINY, '--data', str(path), '--out', '{out}/ck.json']))
    out.append(Case('datasets', 'MICRODNB_NAMES a binary file', ['train', *TINY, '--out', '{out}/ck.json'],
                    env={'MICRODNB_NAMES': str(datas['binary'])}))
    # output paths
    data = datas['5,000 distinct characters'].parent / 'ok_names.txt'
    data.write_text('\n'.join(NAMES) + '\n')
    for name, target in (('empty', ''), ('a folder', '{out}'), ('ending in /', '{out}/'), ('.', '.'), ('..', '..'),
                         ('a missing folder', '{out}/no/ck.json'), ('under a file', f'{data}/ck.json'),
                         ('/dev/null', '/dev/null'), ('a FIFO', str(fifo)), ('the dataset', str(data)),
                         ('the shipped names', str(REPO / 'microdnb' / 'assets' / 'names.txt')),
                         ('a link loop', str(loop)), ('a dangling link', str(dangling)),
                         ('a name of 300 bytes', '{out}/' + 'x' * 300), ('/proc/self/root + dataset',
                                                                         f'/proc/self/root{data}'),
                         ('.. to the dataset', f'{data.parent}/../{data.parent.name}/{data.name}')):
        out.append(Case('output paths', f'train --out {name}',
                        ['train', *TINY, '--data', str(data), '--out', target, '--force']))
    out.append(Case('output paths', 'an existing file without --force',
                    ['train', *TINY, '--data', str(data), '--out', str(good_path)]))
    out.append(Case('output paths', 'experiment --out a folder', ['experiment', '--quick', '--out', '{out}']))
    # decode settings against the good checkpoint
    for name, extra in (('prompt not in the vocabulary', ['--prompt', 'E1']), ('prompt ESC c', ['--prompt', '\x1bc']),
                        ('prompt too long', ['--prompt', 'e' * 8]), ('three prompts for two streams',
                                                                     ['--streams', '2'] + ['--prompt', 'a'] * 3),
                        ('start of two letters', ['--streams', '2', '--start', 'em']),
                        ('start not in the vocabulary', ['--streams', '2', '--start', 'Z']),
                        ('start with one stream', ['--start', 'e']), ('--json --num 3', ['--json', '--num', '3']),
                        ('cadence with one stream', ['--cadence', '2']), ('gate with one stream', ['--gate', '0.5']),
                        ('prompt with a newline', ['--prompt', 'e\nm']), ('prompt RLO', ['--prompt', '\u202eem'])):
        out.append(Case('decode settings', name, ['sample', '--checkpoint', str(good_path), *extra]))
    # accepted: the same tool, used well (these must succeed)
    out.append(Case('accepted', 'sample', ['sample', '--checkpoint', str(good_path), '--num', '3'], refuse=False))
    out.append(Case('accepted', 'sample three streams, prompt, start, gate',
                    ['sample', '--checkpoint', str(good_path), '--streams', '3', '--prompt', 'e', '--start', '',
                     '--start', 'a', '--gate', '1', '--json'], refuse=False))
    out.append(Case('accepted', 'train', ['train', *TINY, '--data', str(data), '--out', '{out}/ck.json'], refuse=False))
    out.append(Case('accepted', 'train into a sticky folder', ['train', *TINY, '--data', str(data), '--out',
                                                               f'{shared}/mine.json', '--force'], refuse=False))
    return out


def run_case(case, work, index):
    folder = work / 'runs' / f'{index:04d}'
    folder.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND='Agg', **case.env)
    args = [a.replace('{out}', str(folder)) for a in case.args]
    before = set(os.listdir(folder))
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, '-m', 'microdnb', *args], cwd=folder, env=env, capture_output=True,
                              timeout=600, errors='backslashreplace', text=True)
        code, err, outp = proc.returncode, proc.stderr, proc.stdout
    except subprocess.TimeoutExpired:
        code, err, outp = 'timeout', '', ''
    seconds = time.perf_counter() - start
    left = sorted(set(os.listdir(folder)) - before)
    temp = [n for n in left if n.endswith('.tmp')] + [n for n in os.listdir(work) if n.endswith('.tmp')]
    errors = [line for line in err.splitlines() if 'error' in line.lower()]
    return {
        'group': case.group, 'case': case.name, 'code': code, 'seconds': round(seconds, 2),
        'traceback': 'Traceback' in err or 'Exception ignored' in err,
        'multiline': bool(code not in (0, 'timeout') and (len(errors) != 1 or (code == 1 and err.count('\n') != 1))),
        'slow': code != 0 and seconds > 2.0,
        'temp_left': temp,
        'accepted_hostile': case.refuse and code == 0,
        'refused_good': not case.refuse and code != 0,
        'raw_control': any(not (c.isprintable() or c in '\n') for c in err + outp),
        'said': errors[-1][:300] if errors else err[-300:],
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--jobs', type=int, default=2)
    p.add_argument('--json', default=None, help='write every run to this file')
    p.add_argument('--list', action='store_true', help='print every run, not only the bad ones')
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix='microdnb-hostile-'))
    try:
        all_cases = cases(work)
        print(f"{len(all_cases)} command-line runs in {work} ({args.jobs} at a time)...", file=sys.stderr)
        start = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda ic: run_case(ic[1], work, ic[0]), enumerate(all_cases)))
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    keys = ('traceback', 'multiline', 'slow', 'temp_left', 'accepted_hostile', 'refused_good', 'raw_control')
    groups = sorted({r['group'] for r in results}, key=[r['group'] for r in results].index)
    print(f"{'group':18} {'runs':>5} " + ' '.join(f"{k:>16}" for k in keys) + f" {'max s':>6}")
    for g in groups + ['all']:
        rs = [r for r in results if g in ('all', r['group'])]
        print(f"{g:18} {len(rs):5d} " + ' '.join(f"{sum(bool(r[k]) for r in rs):16d}" for k in keys)
              + f" {max(r['seconds'] for r in rs):6.2f}")
    print(f"wall {wall:.0f} s; median run {sorted(r['seconds'] for r in results)[len(results) // 2]:.2f} s")
    for r in results:
        if args.list or any(r[k] for k in keys):
            flags = ','.join(k for k in keys if r[k])
            print(f"  [{r['group']}] {r['case'][:60]!r}: exit {r['code']}, {r['seconds']} s {flags}: {r['said'][:200]!r}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if any(r[k] for r in results for k in keys) else 0


if __name__ == '__main__':
    sys.exit(main())
