"""How much of the package checks its inputs: the measure issue 20 reports before and after.

    .venv/bin/python benchmarks/checking_lines.py [--per-file]

For every module of microdnb/ (Python; the JavaScript apart: its `throw` statements and
lines), from its syntax tree:
  raise      `raise X` statements (a bare `raise`, which re-raises, is not counted)
  checking   source lines that check inputs: the union of every `raise X` statement,
             every `if` whose body is only `raise X` (a guard clause: test and raise), and
             every function whose name starts with `check`/`_check` (body included)
  isinstance `isinstance(..., <Name>Config)` calls
  lines      physical lines (wc -l)
and the same numbers for the edge modules (fileio, data, checkpoint, config, __main__,
sampling, params) and the engines (scalar/, vector/) apart. Comments and docstrings inside
a counted statement or function count as its lines; blank lines do not.
"""
import ast
import re
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / 'microdnb'
EDGE = {'fileio', 'data', 'checkpoint', 'config', '__main__', 'sampling', 'params'}


def measure(path):
    src = path.read_text(encoding='utf-8')
    lines = src.splitlines()
    tree = ast.parse(src)
    checking, raises, isinst = set(), 0, 0

    def span(node):
        return {n for n in range(node.lineno, node.end_lineno + 1) if lines[n - 1].strip()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raises += 1
            checking |= span(node)
        elif isinstance(node, ast.If) and all(isinstance(b, ast.Raise) and b.exc is not None for b in node.body):
            checking |= {n for n in range(node.lineno, node.body[-1].end_lineno + 1) if lines[n - 1].strip()}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.lstrip('_').startswith('check'):
            checking |= span(node)
        elif isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'isinstance' and len(node.args) == 2:
            kinds = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            isinst += any(getattr(k, 'id', '').endswith('Config') for k in kinds)
    return {'raise': raises, 'checking': len(checking), 'isinstance': isinst, 'lines': len(lines)}


def group(path):
    rel = path.relative_to(PKG)
    if rel.parts[0] in ('scalar', 'vector'):
        return 'engines'
    return 'edge' if rel.with_suffix('').as_posix() in EDGE else 'other'


def main(argv):
    totals = {}
    rows = []
    for path in sorted(PKG.rglob('*.py')):
        m = measure(path)
        rows.append((path.relative_to(PKG).as_posix(), m))
        for g in (group(path), 'all'):
            t = totals.setdefault(g, dict.fromkeys(m, 0))
            for k, v in m.items():
                t[k] += v
    if '--per-file' in argv:
        for name, m in rows:
            print(f"{name:32} " + '  '.join(f"{k} {v:5}" for k, v in m.items()))
    for g in ('edge', 'engines', 'other', 'all'):
        print(f"{g:8} " + '  '.join(f"{k} {v:5}" for k, v in totals[g].items()))
    js = [p.read_text(encoding='utf-8').splitlines() for p in sorted(PKG.rglob('*.js'))]
    throws = sum(1 for lines in js for line in lines if re.search(r'\bthrow\b', line.split('//')[0]))
    print(f"js       throw {throws:5}  lines {sum(map(len, js)):5}")


if __name__ == '__main__':
    main(sys.argv[1:])
