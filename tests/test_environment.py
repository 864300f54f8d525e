"""The floating-point pins of the Makefile (numpy's SIMD dispatch, OpenBLAS's kernel and
threads) hold wherever a test runs: in this process, whether pytest was started by `make`,
by hand (tests/conftest.py sets them) or as an xdist worker of `make check`/`make test`, and
in what it starts (the CLI in a subprocess, nbval's kernels), so that every stored output
and every equality the tests check is computed by the same code on every x86-64 machine."""
import os
import subprocess
import sys

from conftest import FLOAT_PINS, REPO, subprocess_env


def test_the_makefile_pins_are_read():
    assert set(FLOAT_PINS) == {'NPY_DISABLE_CPU_FEATURES', 'OPENBLAS_CORETYPE', 'OPENBLAS_NUM_THREADS'}
    assert FLOAT_PINS['OPENBLAS_NUM_THREADS'] == '1'


def test_this_test_process_has_them():
    assert {name: os.environ.get(name) for name in FLOAT_PINS} == FLOAT_PINS


def test_a_subprocess_has_them():
    code = f"import os; print({sorted(FLOAT_PINS)!r} and [os.environ.get(n) for n in {sorted(FLOAT_PINS)!r}])"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=subprocess_env(),
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == repr([FLOAT_PINS[n] for n in sorted(FLOAT_PINS)])
