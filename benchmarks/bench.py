"""Scalar engine vs numpy engine, side by side, on this machine.

    python benchmarks/bench.py            # the whole replicate run at full length (~10 min: the scalar one)
    python benchmarks/bench.py --quick    # replicate with --steps 100 --snc-steps 30 for both engines

Prints progress lines, then a Markdown table:
  1. seconds per training step (phase 1 and phase 2), scalar vs numpy, and the ratio;
  2. the whole `python -m microdnb replicate` process, scalar vs numpy (wall time, and
     whether both printed the same lines);
  3. decoding throughput (tokens per second) for 1, 2, 4, 8, 16 streams: round-robin
     (one stream at a time) vs batched (every live stream of a round in one block), both
     with read lag 1 so that they compute the same tokens, and the ratio
     (`study.measure.decoding_speed`, the measurement chapter 9 makes).
Wall-clock times; on a shared machine run it when it is quiet (timings are best of a few).
"""
import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from microdnb import vector  # noqa: E402
from microdnb.scalar import train  # noqa: E402
from microdnb.config import BusConfig, ModelConfig, TrainConfig  # noqa: E402
from microdnb.data import Tokenizer, load_docs, names_path  # noqa: E402
from microdnb.scalar.model import init_params  # noqa: E402
from microdnb.reference import replicate  # noqa: E402
from microdnb.study import measure  # noqa: E402


def progress(msg):
    print(f"[bench] {msg}", flush=True)


def setup():
    docs = load_docs()
    rng = random.Random(42)
    rng.shuffle(docs)
    tokenizer = Tokenizer.from_docs(docs)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size)
    return docs, tokenizer, cfg, init_params(cfg, rng)


def per_step(run, steps):
    t = time.perf_counter()
    run(steps)
    return (time.perf_counter() - t) / steps


def training_rows(quick):
    docs, tokenizer, cfg, state_dict = setup()
    bcfg = BusConfig()  # the reference's phase 2: 2 streams, cadence 3, lag 0
    scalar_steps = (10, 3) if quick else (40, 10)
    rows = []
    for phase, (s_steps, n_steps) in ((1, (scalar_steps[0], 1000)), (2, (scalar_steps[1], 300))):
        progress(f"phase {phase}: {s_steps} scalar steps ...")
        if phase == 1:
            scalar = per_step(lambda n: train.train_phase1(state_dict, cfg, TrainConfig(steps=n), docs,
                                                           tokenizer), s_steps)
        else:
            scalar = per_step(lambda n: train.train_phase2(state_dict, cfg, TrainConfig(snc_steps=n),
                                                           bcfg, docs, tokenizer), s_steps)
        progress(f"phase {phase}: {n_steps} numpy steps ...")
        best = float('inf')
        for _ in range(3):
            params = vector.params_from(state_dict)
            if phase == 1:
                run = lambda n: vector.train_phase1(params, cfg, TrainConfig(steps=n), docs, tokenizer)  # noqa: E731
            else:
                run = lambda n: vector.train_phase2(params, cfg, TrainConfig(snc_steps=n), bcfg, docs,  # noqa: E731
                                                    tokenizer)
            best = min(best, per_step(run, n_steps))
        progress(f"phase {phase}: scalar {scalar * 1e3:.1f} ms/step, numpy {best * 1e3:.3f} ms/step")
        rows.append((f"phase {phase}, ms per step (scalar: {s_steps} steps, numpy: best of 3 x {n_steps})",
                     f"{scalar * 1e3:.1f}", f"{best * 1e3:.3f}", f"{scalar / best:.0f}x"))
    return rows


def replicate_rows(quick):
    args = ['--steps', '100', '--snc-steps', '30'] if quick else []
    env = dict(os.environ, MICRODNB_NAMES=str(names_path()), PYTHONPATH=str(ROOT))
    times, outputs = {}, {}
    for eng in ('numpy', 'scalar'):
        best = float('inf')
        for _ in range(3 if eng == 'numpy' else 1):
            progress(f"replicate {' '.join(args) or '(full)'} --engine {eng} ...")
            t = time.perf_counter()
            out = subprocess.run([sys.executable, '-m', 'microdnb', 'replicate', *args, '--engine', eng],
                                 env=env, cwd=ROOT, capture_output=True, text=True, check=True)
            best = min(best, time.perf_counter() - t)
            outputs[eng] = out.stdout
        times[eng] = best
        progress(f"replicate --engine {eng}: {best:.2f} s wall")
    same = 'same output' if outputs['numpy'] == outputs['scalar'] else 'OUTPUTS DIFFER'
    label = 'whole `replicate` process, s wall ' + ('(--quick: --steps 100 --snc-steps 30)' if quick
                                                    else '(full: 1000 + 300 steps)')
    return [(f"{label}; {same}", f"{times['scalar']:.1f}", f"{times['numpy']:.2f}",
             f"{times['scalar'] / times['numpy']:.0f}x")]


def decoding_rows(quick):
    progress("training a model to decode with (numpy replicate, 1000 + 300 steps) ...")
    lines = []
    params = replicate(engine='numpy', out=lines.append)
    docs, tokenizer, cfg, _ = setup()
    rows = []
    # the measurement chapter 9 makes (study.measure.decoding_speed): the same decodes both
    # ways, taking turns; here the best tokens/s of its repeats
    speed = measure.decoding_speed(params, cfg, tokenizer, n_streams=(1, 2, 4, 8, 16), groups=40, repeats=3)
    for n_streams, m in speed.items():
        rr, bt = m['steps'] / m['one_at_a_time'].min(), m['steps'] / m['batched'].min()
        progress(f"{n_streams:2d} streams: round-robin {rr:,.0f} tok/s, batched {bt:,.0f} tok/s")
        rows.append((f"decoding {n_streams} streams, tokens/s (lag 1)", f"{rr:,.0f}", f"{bt:,.0f}",
                     f"{bt / rr:.1f}x"))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true',
                    help='replicate with --steps 100 --snc-steps 30 (instead of the full ~10 min scalar run), '
                         'fewer scalar training steps')
    ap.add_argument('--skip-replicate', action='store_true', help='leave out the whole-run comparison')
    args = ap.parse_args()
    rows = training_rows(args.quick)
    if not args.skip_replicate:
        rows += replicate_rows(args.quick)
    decoding = decoding_rows(args.quick)
    print()
    print("| measurement | scalar | numpy | ratio |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print("| measurement | round-robin | batched | ratio |")
    print("|---|---:|---:|---:|")
    for row in decoding:
        print("| " + " | ".join(row) + " |")


if __name__ == '__main__':
    main()
