"""The package's scalar engine vs the reference script, doing the same work.

    python benchmarks/bench_scalar.py             # --steps 100 --snc-steps 30 for both (~1 min a run)
    python benchmarks/bench_scalar.py --full      # the full 1000 + 300 steps (~10 min a run)

Runs the reference script (../shared/reference/microgpt_dnb.py, edited with
tests/reference_runner.edited_source so that it does the same number of steps) and
`python -m microdnb replicate` with the same settings, as whole processes, taking
turns, best of --repeats runs each; checks that they print the same lines, and prints
the ratio package / reference (target: <= 1.05) and a Markdown table.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'tests'))

from microdnb.data import names_path  # noqa: E402
from reference_runner import edited_source  # noqa: E402


def progress(msg):
    print(f"[bench_scalar] {msg}", flush=True)


def timed(cmd, env, cwd):
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--full', action='store_true', help='the full 1000 + 300 steps instead of 100 + 30')
    ap.add_argument('--repeats', type=int, default=2, help='runs of each, interleaved (default 2)')
    ap.add_argument('--seed', type=int, default=42)
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error('--repeats must be >= 1')
    steps, snc_steps = (1000, 300) if args.full else (100, 30)
    names = str(names_path())
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / 'microgpt_dnb_edited.py'
        script.write_text(edited_source(args.seed, steps, snc_steps))
        runs = {
            'reference script': ([sys.executable, str(script)], dict(os.environ, NAMES_TXT=names), tmp),
            'microdnb replicate (scalar)': (
                [sys.executable, '-m', 'microdnb', 'replicate', '--seed', str(args.seed), '--steps', str(steps),
                 '--snc-steps', str(snc_steps), '--engine', 'scalar'],
                dict(os.environ, MICRODNB_NAMES=names, PYTHONPATH=str(ROOT)), ROOT),
        }
        best = {name: float('inf') for name in runs}
        outputs = {}
        for r in range(args.repeats):
            for name, (cmd, env, cwd) in runs.items():  # taking turns, so load changes hit both
                progress(f"run {r + 1}/{args.repeats}: {name} (--steps {steps} --snc-steps {snc_steps}) ...")
                seconds, outputs[name] = timed(cmd, env, cwd)
                best[name] = min(best[name], seconds)
                progress(f"  {seconds:.1f} s wall")
    ref, pkg = best['reference script'], best['microdnb replicate (scalar)']
    same = outputs['reference script'] == outputs['microdnb replicate (scalar)']
    print()
    print(f"| seed {args.seed}, --steps {steps} --snc-steps {snc_steps}, best of {args.repeats} | s wall |")
    print("|---|---:|")
    print(f"| reference script | {ref:.1f} |")
    print(f"| `python -m microdnb replicate` (scalar engine) | {pkg:.1f} |")
    print(f"| ratio package / reference (target <= 1.05) | {pkg / ref:.3f} |")
    print(f"| same output | {'yes' if same else 'NO'} |")
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
