"""The package's layers import downward only (the rule in the README's architecture notes).

foundations  config, data, bus, params, sampling, checkpoint, fileio
engines      scalar/ (no numpy), vector/ : neither imports the other
reference    the reference set-up and `replicate`, over both engines
study        tasks, controls, measurements, experiments
figures      how a figure is shown, and what is drawn, one concept per module
page         the model in the reader's browser: the explorer and its JavaScript
cli          __main__
"""
import ast
import subprocess
import sys

import pytest

from conftest import REPO, subprocess_env

PKG = REPO / 'microdnb'
FOUNDATIONS = {'config', 'data', 'bus', 'params', 'sampling', 'checkpoint', 'fileio'}
RANK = {'foundations': 0, 'scalar': 1, 'vector': 1, 'reference': 2, 'study': 3, 'figures': 4, 'page': 4, 'cli': 5}


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


def imports_of(name, path):
    """Every microdnb module `path` imports (top-level or inside functions), resolved."""
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
            out.add(mod)
            for a in node.names:  # `from . import vector` imports a module
                if (PKG.parent / (mod + '.' + a.name).replace('.', '/')).with_suffix('.py').exists() or \
                        (PKG.parent / (mod + '.' + a.name).replace('.', '/')).is_dir():
                    out.add(mod + '.' + a.name)
    return out


EDGES = [(name, imported) for name, path in modules() for imported in imports_of(name, path)]


def test_the_rule_sees_every_layer():
    layers = {layer_of(name) for name, _ in modules()}
    assert {'foundations', 'scalar', 'vector', 'reference', 'study', 'figures', 'page', 'cli'} <= layers
    assert len(EDGES) > 40  # the parser found the package's imports


@pytest.mark.parametrize('name,imported', EDGES, ids=[f'{a}->{b}' for a, b in EDGES])
def test_imports_go_downward(name, imported):
    src, dst = layer_of(name), layer_of(imported)
    if 'package' in (src, dst):  # microdnb/__init__ holds only the version
        return
    assert RANK[dst] <= RANK[src], f"{name} ({src}) imports {imported} ({dst}): upward"
    if src in ('scalar', 'vector') and dst in ('scalar', 'vector'):
        assert src == dst, f"the engines are independent: {name} imports {imported}"


def test_an_upward_import_would_be_caught():
    assert layer_of('microdnb.study.measure') == 'study'
    with pytest.raises(AssertionError):
        test_imports_go_downward('microdnb.scalar.model', 'microdnb.figures.dataset')
    with pytest.raises(AssertionError):
        test_imports_go_downward('microdnb.vector.engine', 'microdnb.scalar.autograd')


@pytest.mark.parametrize('module', ['microdnb.scalar', 'microdnb.reference'])
def test_the_scalar_engine_imports_no_numpy(module):
    """Importing the scalar engine (and all it imports) loads no numpy."""
    code = ("import sys; import microdnb.scalar; "
            "print(sorted(m for m in sys.modules if m == 'numpy' or m.startswith('numpy.')))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=subprocess_env(),
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'
    if module == 'microdnb.reference':  # the check itself can fail: reference does load numpy
        code = code.replace('import microdnb.scalar', 'import microdnb.reference')
        out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                             env=subprocess_env(), cwd=REPO, timeout=60)
        assert "'numpy'" in out.stdout


JS_MODULES = sorted((REPO / 'microdnb' / 'page').glob('*.js'))


@pytest.mark.parametrize('name,path', list(modules()) + [(p.name, p) for p in JS_MODULES],
                         ids=[n for n, _ in modules()] + [p.name for p in JS_MODULES])
def test_no_module_is_past_400_lines(name, path):
    n = len(path.read_text().splitlines())
    assert n <= 400, f"{path.relative_to(REPO)} has {n} lines: split it by concern"


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
