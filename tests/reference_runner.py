"""Run the reference script (../shared/reference/microgpt_dnb.py, beside the clone, or
$MICRODNB_REFERENCE_DIR) with the edits that `replicate --seed/--steps/--snc-steps`
stand for, and return its stdout.

The edits are textual and checked: each target line must occur exactly once, so a
changed reference fails loudly instead of running unedited.

The script is not part of the repository. Tests that run it call `reference_dir()`:
where it is absent they skip, saying so, except under CI=true, where they fail (a CI
run must test everything), unless MICRODNB_REFERENCE_OPTIONAL=1 says this CI has no
copy of it (the GitHub workflow). Its recorded output is part of the repository, as the
fixture EXPECTED_OUTPUT, so the default run is checked in every clone.
"""
import contextlib
import io
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REFERENCE_DIR = Path(os.environ.get('MICRODNB_REFERENCE_DIR') or TESTS.parents[1] / 'shared' / 'reference')
REFERENCE = REFERENCE_DIR / 'microgpt_dnb.py'
# What the reference prints for its default run (seed 42, 1000 + 300 steps): a
# byte-identical copy of ../shared/reference/seed_output.txt.
EXPECTED_OUTPUT = TESTS / 'fixtures' / 'reference_output.txt'
EXPECTED_OUTPUT_SHA256 = '467f18ce66220f515a29aa4f63be2819ded8f16b59407bc5e9a58eaa642c2ef2'


def reference_dir():
    """REFERENCE_DIR if it holds the reference script; else skip the test, or fail it
    under CI=true (unless MICRODNB_REFERENCE_OPTIONAL=1)."""
    if REFERENCE.is_file():
        return REFERENCE_DIR
    reason = (f"the reference script {REFERENCE.name} is absent from {REFERENCE_DIR} (set "
              f"MICRODNB_REFERENCE_DIR to a copy): running it cannot be compared here; the "
              f"recorded output, {EXPECTED_OUTPUT.relative_to(TESTS.parent)}, is checked regardless")
    if os.environ.get('CI') == 'true' and os.environ.get('MICRODNB_REFERENCE_OPTIONAL') != '1':
        pytest.fail(f"{reason}. CI=true: every test must run (MICRODNB_REFERENCE_OPTIONAL=1 "
                    f"allows the skip)", pytrace=False)
    pytest.skip(reason)


def edited_source(seed=42, steps=1000, snc_steps=300):
    src = REFERENCE.read_text()
    for old, new in [('random.seed(42)', f'random.seed({seed})'),
                     ('num_steps = 1000\n', f'num_steps = {steps}\n'),
                     ('num_steps_p2 = 300\n', f'num_steps_p2 = {snc_steps}\n')]:
        if src.count(old) != 1:
            raise RuntimeError(f"reference edit target {old!r} occurs {src.count(old)} times, expected once")
        src = src.replace(old, new)
    return src


def start_reference(tmp_path, names_path, seed=42, steps=1000, snc_steps=300):
    """Start the edited reference in the background (it takes seconds): returns the Popen.
    Collect its output with finish(); meanwhile the caller can run microdnb on the other core."""
    script = Path(tmp_path) / f'microgpt_dnb_seed{seed}_steps{steps}_{snc_steps}.py'
    script.write_text(edited_source(seed, steps, snc_steps))
    env = dict(os.environ, NAMES_TXT=str(names_path))
    return subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=900):
    """The stdout of a process from start_reference; RuntimeError with its stderr if it failed."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"the reference script exited with {proc.returncode}:\n{err}")
    return out


def run_reference(tmp_path, names_path, seed=42, steps=1000, snc_steps=300):
    return finish(start_reference(tmp_path, names_path, seed, steps, snc_steps))


def reference_training(names_path, seed=42, steps=1000, snc_steps=300):
    """Execute the edited reference in this process up to (not including) its inference
    section, and return its module namespace: `state_dict` holds the trained parameters,
    `loss` the last phase-2 loss at full precision. Its prints are swallowed; the global
    `random` state it reseeds is restored afterwards."""
    src = edited_source(seed, steps, snc_steps)
    cut = 'temperature = 0.5\n'
    if src.count(cut) != 1:
        raise RuntimeError(f"reference cut point {cut!r} occurs {src.count(cut)} times, expected once")
    src = src[:src.index(cut)]
    namespace = {'__name__': 'microgpt_dnb_reference'}
    saved_env, saved_random = os.environ.get('NAMES_TXT'), random.getstate()
    os.environ['NAMES_TXT'] = str(names_path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(src, str(REFERENCE), 'exec'), namespace)
    finally:
        random.setstate(saved_random)
        if saved_env is None:
            del os.environ['NAMES_TXT']
        else:
            os.environ['NAMES_TXT'] = saved_env
    return namespace
