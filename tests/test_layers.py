"""The package's layers import downward only (the rule in the README's architecture notes).

foundations  config, data, bus, params, sampling, checkpoint, fileio
engines      scalar/ (no numpy), vector/ : neither imports the other
reference    the reference set-up and `replicate`, over both engines
study        tasks, controls, measurements, experiments
figures      how a figure is shown, and what is drawn, one concept per module
page         the model in the reader's browser: the explorer and its JavaScript
cli          __main__

Each rule is one test over the whole import graph (every import, top-level or inside a
function, read with `ast`), naming every offender at once; each checker is also shown
to catch a made-up offence, so that none of them passes by seeing nothing.
"""
import ast
import os
import subprocess
import sys

import pytest

from conftest import REPO, subprocess_env

PKG = REPO / 'microdnb'
FOUNDATIONS = {'config', 'data', 'bus', 'params', 'sampling', 'checkpoint', 'fileio'}
RANK = {'foundations': 0, 'scalar': 1, 'vector': 1, 'reference': 2, 'study': 3, 'figures': 4, 'page': 4, 'cli': 5}
ENGINES = ('scalar', 'vector')
# "About 400 lines" for a module (Python or JavaScript) and for a test file: at most 420,
# the margin for a docstring or a table row, not for another concern.
MAX_LINES = 420


def layer_of(module):
    """'microdnb.scalar.model' -> 'scalar'; 'microdnb.config' -> 'foundations'."""
    parts = module.split('.')
    assert parts[0] == 'microdnb', module
    if len(parts) == 1:
        return 'package'
    top = parts[1]
    if top in FOUNDATIONS:
        return 'foundations'
    if top == '__main__':
        return 'cli'
    return top


def modules():
    for path in sorted(PKG.rglob('*.py')):
        rel = path.relative_to(REPO).with_suffix('')
        name = '.'.join(rel.parts)
        yield (name[:-len('.__init__')] if name.endswith('.__init__') else name), path


def _is_module(dotted):
    path = PKG.parent / dotted.replace('.', '/')
    return path.with_suffix('.py').exists() or path.is_dir()


def imports_of(name, path):
    """Every microdnb module `path` imports (top-level or inside functions), resolved. For
    `from package import submodule` that is the submodule, not the package."""
    is_pkg = path.name == '__init__.py'
    package = name if is_pkg else name.rsplit('.', 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split('.')[0] == 'microdnb'}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - (node.level - 1)]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ''
            if mod.split('.')[0] != 'microdnb':
                continue
            submodules = {mod + '.' + a.name for a in node.names if _is_module(mod + '.' + a.name)}
            out |= submodules or {mod}
            if len(submodules) < len(node.names):   # names defined in `mod` itself
                out.add(mod)
    out.discard(name)
    return out


GRAPH = {name: imports_of(name, path) for name, path in modules()}
EDGES = sorted((a, b) for a, targets in GRAPH.items() for b in targets)


def upward_imports(edges):
    """Every import of a layer below the importer's, and every import between the engines."""
    bad = []
    for name, imported in edges:
        src, dst = layer_of(name), layer_of(imported)
        if 'package' in (src, dst):  # microdnb/__init__ holds only the version
            continue
        if RANK[dst] > RANK[src]:
            bad.append(f"{name} ({src}) imports {imported} ({dst}): upward")
        elif src in ENGINES and dst in ENGINES and src != dst:
            bad.append(f"the engines are independent: {name} imports {imported}")
    return bad


def cycles(graph):
    """The import cycles of `graph` (module -> modules it imports): each strongly connected
    component with more than one module, as a sorted list (Tarjan's algorithm)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def too_long(paths):
    out = []
    for path in paths:
        n = len(path.read_text().splitlines())
        if n > MAX_LINES:
            out.append(f"{os.path.relpath(path, REPO)} has {n} lines (at most {MAX_LINES}): split it by concern")
    return out


def test_the_rule_sees_every_layer():
    layers = {layer_of(name) for name in GRAPH}
    assert {'foundations', 'scalar', 'vector', 'reference', 'study', 'figures', 'page', 'cli'} <= layers
    assert len(EDGES) > 40  # the parser found the package's imports


def test_every_import_goes_downward_and_the_engines_never_import_each_other():
    bad = upward_imports(EDGES)
    assert not bad, f"{len(bad)} import(s) against the layers:\n" + "\n".join(bad)


def test_an_upward_or_cross_engine_import_would_be_caught():
    assert layer_of('microdnb.study.measure') == 'study'
    assert len(upward_imports([('microdnb.scalar.model', 'microdnb.figures.dataset'),
                               ('microdnb.vector.model', 'microdnb.scalar.autograd'),
                               ('microdnb.study.measure', 'microdnb.config')])) == 2


def test_the_import_graph_has_no_cycle():
    found = cycles(GRAPH)
    assert not found, "import cycles (each a set of modules that import each other):\n" + \
        "\n".join(" <-> ".join(c) for c in found)


def test_a_cycle_would_be_caught_and_named():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a', 'd'}, 'd': set(), 'e': {'e2'}, 'e2': {'e'}, 'f': {'a'}}
    assert cycles(graph) == [['a', 'b', 'c'], ['e', 'e2']]
    assert cycles({'a': {'b'}, 'b': set()}) == []


def test_the_scalar_engine_imports_no_numpy():
    """Importing the scalar engine (and all it imports) loads no numpy; the same check on
    `microdnb.reference`, which does load numpy, sees it (so the check can fail)."""
    def numpy_modules(module):
        code = (f"import sys; import {module}; "
                "print(sorted(m for m in sys.modules if m == 'numpy' or m.startswith('numpy.')))")
        out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                             env=subprocess_env(), cwd=REPO, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()
    assert numpy_modules('microdnb.scalar') == '[]'
    assert "'numpy'" in numpy_modules('microdnb.reference')


JS_MODULES = sorted((PKG / 'page').glob('*.js'))
TEST_FILES = sorted((REPO / 'tests').glob('*.py'))


def test_no_module_is_past_about_400_lines():
    paths = [path for _, path in modules()] + JS_MODULES
    assert len(paths) > 40 and JS_MODULES
    bad = too_long(paths)
    assert not bad, "\n".join(bad)


def test_no_test_file_is_past_about_400_lines():
    assert len(TEST_FILES) > 20
    bad = too_long(TEST_FILES)
    assert not bad, "\n".join(bad)


def test_a_long_file_would_be_caught(tmp_path):
    (tmp_path / 'long.py').write_text('x = 1\n' * (MAX_LINES + 1))
    (tmp_path / 'short.py').write_text('x = 1\n' * MAX_LINES)
    assert len(too_long([tmp_path / 'long.py', tmp_path / 'short.py'])) == 1


def test_the_package_docstring_names_every_module():
    """Each module's role, one line, in microdnb/__init__.py (and so in the README)."""
    import microdnb
    doc = microdnb.__doc__
    for name, path in modules():
        if path.name == '__init__.py' and name != 'microdnb':
            short = name.split('.', 1)[1] + '/'
        elif name == 'microdnb':
            continue
        else:
            short = name.split('.', 1)[1].replace('.', '/')
            if '/' in short:  # modules inside a subpackage are described by the subpackage's line
                continue
        assert short in doc, f"microdnb/__init__.py does not describe {short}"
