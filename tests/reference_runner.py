"""Run the reference script (../shared/reference/microgpt_dnb.py) with the edits that
`replicate --seed/--steps/--snc-steps` stand for, and return its stdout.

The edits are textual and checked: each target line must occur exactly once, so a
changed reference fails loudly instead of running unedited.
"""
import os
import subprocess
import sys
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parents[2] / 'shared' / 'reference'
REFERENCE = REFERENCE_DIR / 'microgpt_dnb.py'
SEED_OUTPUT = REFERENCE_DIR / 'seed_output.txt'


def edited_source(seed=42, steps=1000, snc_steps=300):
    src = REFERENCE.read_text()
    for old, new in [('random.seed(42)', f'random.seed({seed})'),
                     ('num_steps = 1000\n', f'num_steps = {steps}\n'),
                     ('num_steps_p2 = 300\n', f'num_steps_p2 = {snc_steps}\n')]:
        if src.count(old) != 1:
            raise RuntimeError(f"reference edit target {old!r} occurs {src.count(old)} times, expected once")
        src = src.replace(old, new)
    return src


def run_reference(tmp_path, names_path, seed=42, steps=1000, snc_steps=300):
    script = Path(tmp_path) / 'microgpt_dnb_edited.py'
    script.write_text(edited_source(seed, steps, snc_steps))
    env = dict(os.environ, NAMES_TXT=str(names_path))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout
