"""A claim of the prose (`figures.claims.claim`) glues its numbers when it holds and stops
the book build when it does not."""
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from microdnb.figures import claims
from microdnb.figures.claims import ClaimError, claim


@pytest.fixture
def glued(monkeypatch):
    import myst_nb
    out = {}
    monkeypatch.setattr(myst_nb, 'glue', lambda name, value, display=True: out.__setitem__(name, value))
    return out


def test_a_true_claim_glues_each_quoted_number_under_its_name(glued):
    claim('ch0_most', np.int64(3) > 4 / 2, 'most heads', n=np.int64(3), of=4, share=np.float64(0.75))
    assert glued == {'ch0_most_n': 3, 'ch0_most_of': 4, 'ch0_most_share': 0.75}
    assert all(type(v) in (int, float) for v in glued.values())   # numpy scalars as Python numbers


def test_a_false_claim_raises_naming_the_claim_its_sentence_and_its_numbers(glued):
    with pytest.raises(ClaimError, match=r"claim 'ch0_most' is false: 'most heads' does not hold \(n=2, of=4\)"):
        claim('ch0_most', 2 > 4 / 2, 'most heads', n=2, of=4)
    assert glued == {}   # nothing glued: the prose cannot quote a failed claim


@pytest.mark.parametrize('args, message', [
    (('ch 0', True, 'x'), 'identifier'),
    (('ch0', 1, 'x'), 'must be a bool'),
    (('ch0', None, 'x'), 'must be a bool'),
    (('ch0', True, ''), 'says must be'),
    (('ch0', True, 'x', {'n': [1]}), 'quoted n= must be a number'),
    (('ch0', True, 'x', {'n': True}), 'quoted n= must be a number'),
])
def test_bad_arguments_are_refused_in_one_line(args, message, glued):
    kwargs = args[3] if len(args) > 3 else {}
    with pytest.raises(ValueError, match=message):
        claim(*args[:3], **kwargs)


@pytest.mark.slow
def test_a_claim_made_false_fails_the_book_build(tmp_path):
    # A one-page book in the project's way (-W -n, every notebook executed): the build
    # succeeds with a true claim and fails, naming the claim, once the claim is false.
    import nbformat
    (tmp_path / '_config.yml').write_text('title: t\nexecute:\n  execute_notebooks: force\n')
    (tmp_path / '_toc.yml').write_text('format: jb-book\nroot: page\n')
    for holds, ok in (('3 > 2', True), ('1 > 2', False)):
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell(textwrap.dedent(f"""
                from microdnb.figures.claims import claim
                claim('t_most', {holds}, 'most heads', n={holds[0]}, of=4)""")),
            nbformat.v4.new_markdown_cell("# Page\n\n{glue:text}`t_most_n` of {glue:text}`t_most_of` heads."),
        ], metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}})
        nbformat.write(nb, tmp_path / 'page.ipynb')
        run = subprocess.run([str(Path(sys.executable).parent / 'jupyter-book'), 'build', str(tmp_path),
                              '-W', '-n', '--keep-going'], capture_output=True, text=True, cwd=REPO, timeout=300)
        log = run.stdout + run.stderr
        assert (run.returncode == 0) == ok, log[-3000:]
        if not ok:   # jupyter-book names the failing page and keeps its traceback in a report
            assert 'page.ipynb' in log and 'Executing notebook failed' in log, log[-3000:]
            report = (tmp_path / '_build' / 'html' / 'reports' / 'page.err.log').read_text()
            assert "claim 't_most' is false: 'most heads' does not hold (n=1, of=4)" in report, report
        shutil.rmtree(tmp_path / '_build', ignore_errors=True)
