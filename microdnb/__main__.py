"""Command line: python -m microdnb {replicate,train,sample,experiment} ... (each has --help)."""
import argparse
import os
import random
import sys
import time


def _progress(label, every_seconds=2.0, stream=sys.stderr):
    """A training callback that prints a line every few seconds (and at the last step)."""
    start = last = time.perf_counter()

    def callback(info):
        nonlocal last
        now = time.perf_counter()
        step, total = info['step'] + 1, info['num_steps']
        if now - last >= every_seconds or step == total or step == 1:
            last = now
            eta = (now - start) / step * (total - step)
            extra = f" | gate {info['gate']:.4f}" if 'gate' in info else ''
            print(f"[{label}] step {step:5d}/{total} | loss {info['loss']:.4f}{extra} | "
                  f"{now - start:6.1f}s elapsed, ~{eta:.0f}s left", file=stream, flush=True)
    return callback


def cmd_replicate(args):
    from .replicate import replicate
    replicate(seed=args.seed, steps=args.steps, snc_steps=args.snc_steps, engine=args.engine,
              out=lambda line: print(line, flush=True))


def cmd_train(args):
    from .checkpoint import save_checkpoint
    from .config import BusConfig, ModelConfig, TrainConfig
    from .data import Tokenizer, load_docs
    from .model import init_params
    from .replicate import BACKENDS
    if os.path.isdir(args.out):  # found now, not after the whole training run
        raise ValueError(f"--out {args.out} is a directory; give a file name such as {os.path.join(args.out, 'ck.json')}")
    docs = load_docs(args.data)
    rng = random.Random(args.seed)
    rng.shuffle(docs)
    tokenizer = Tokenizer.from_docs(docs)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, n_layer=args.n_layer, n_embd=args.n_embd,
                      n_head=args.n_head, block_size=args.block_size)
    longest = max(len(d) for d in docs) + 1
    if longest > cfg.block_size:
        print(f"note: the longest name needs {longest} positions; block_size {cfg.block_size} "
              f"truncates it", file=sys.stderr)
    bcfg = BusConfig(n_streams=args.streams, cadence=args.cadence, lag=args.lag)
    tcfg = TrainConfig(steps=args.steps, snc_steps=args.snc_steps)
    be = BACKENDS[args.engine]()
    state_dict = init_params(cfg, rng)
    params = be['convert'](state_dict, cfg)
    print(f"training {cfg} on {len(docs)} names with the {args.engine} engine", file=sys.stderr)
    be['train_phase1'](params, cfg, tcfg, docs, tokenizer, callback=_progress('phase 1'))
    be['train_phase2'](params, cfg, tcfg, bcfg, docs, tokenizer, callback=_progress('phase 2'))
    path = save_checkpoint(args.out, params, cfg, tokenizer, bcfg,
                           meta={'seed': args.seed, 'steps': args.steps, 'snc_steps': args.snc_steps,
                                 'engine': args.engine})
    print(f"saved {path} (final gate {be['gate'](params):.4f})")


def cmd_sample(args):
    from .checkpoint import load_checkpoint
    from .config import BusConfig, check_temperature
    from .replicate import BACKENDS
    check_temperature(args.temperature)
    ck = load_checkpoint(args.checkpoint)
    cfg, tokenizer = ck['cfg'], ck['tokenizer']
    be = BACKENDS[args.engine]()
    params = be['convert'](ck['state_dict'], cfg)
    rng = random.Random(args.seed)
    if args.streams == 1:
        for i in range(args.num):
            print(be['sample_single'](params, cfg, tokenizer, rng, args.temperature)['text'] or '(empty)')
        return
    saved = ck['bus_cfg'] or BusConfig()
    bcfg = BusConfig(n_streams=args.streams,
                     cadence=args.cadence if args.cadence is not None else saved.cadence,
                     lag=args.lag if args.lag is not None else saved.lag)
    for i in range(args.num):
        trace = be['sample_parallel'](params, cfg, bcfg, tokenizer, rng, args.temperature)
        print(' | '.join(t or '(empty)' for t in trace['texts']))


def cmd_experiment(args):
    from dataclasses import replace

    from .experiments import QUICK, Settings, controls_table, format_table, run, save_results
    settings = QUICK if args.quick else Settings()
    if args.seeds is not None:
        settings = replace(settings, seeds=tuple(args.seeds))
    if os.path.isdir(args.out):  # found now, not after the whole run
        raise ValueError(f"--out {args.out} is a directory; give a file name such as "
                         f"{os.path.join(args.out, 'experiments.json')}")
    results = run(settings, jobs=args.jobs, argv=sys.argv[1:])
    path = save_results(results, args.out)
    print(format_table(controls_table(results)))
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} kB, {results['provenance']['wall_seconds']:.0f} s)")


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _nonneg(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser():
    p = argparse.ArgumentParser(prog='python -m microdnb', description=__doc__)
    sub = p.add_subparsers(dest='command', required=True)
    engines = ['scalar', 'numpy']

    r = sub.add_parser('replicate', help="print exactly what the reference script prints",
                       description="Re-run ../shared/reference/microgpt_dnb.py's program and print its output. "
                                   "--seed/--steps/--snc-steps act like editing random.seed(42), num_steps and "
                                   "num_steps_p2 in the reference.")
    r.add_argument('--seed', type=int, default=42)
    r.add_argument('--steps', type=_nonneg, default=1000, help='phase-1 steps (default 1000)')
    r.add_argument('--snc-steps', type=_nonneg, default=300, help='phase-2 steps (default 300)')
    r.add_argument('--engine', choices=engines, default='scalar')
    r.set_defaults(func=cmd_replicate)

    t = sub.add_parser('train', help='train phase 1 and phase 2 and save a checkpoint',
                       description='Train the trunk (phase 1), then SNC + planner with the trunk frozen '
                                   '(phase 2), printing progress, and save a JSON checkpoint.')
    t.add_argument('--n-embd', type=_positive, default=16)
    t.add_argument('--n-head', type=_positive, default=4)
    t.add_argument('--n-layer', type=_positive, default=1)
    t.add_argument('--block-size', type=_positive, default=16)
    t.add_argument('--cadence', type=_positive, default=3)
    t.add_argument('--lag', type=_nonneg, default=0)
    t.add_argument('--streams', type=_positive, default=2)
    t.add_argument('--steps', type=_nonneg, default=1000)
    t.add_argument('--snc-steps', type=_nonneg, default=300)
    t.add_argument('--seed', type=int, default=42)
    t.add_argument('--engine', choices=engines, default='scalar')
    t.add_argument('--data', default=None, help='a names file (default: the pinned makemore names.txt)')
    t.add_argument('--out', required=True, help='checkpoint path to write (JSON)')
    t.set_defaults(func=cmd_train)

    s = sub.add_parser('sample', help='sample names from a checkpoint',
                       description='Sample names from a checkpoint: one stream, or several through the Notes Bus.')
    s.add_argument('--checkpoint', required=True)
    s.add_argument('--num', type=_positive, default=10, help='names (or groups of streams) to sample')
    s.add_argument('--streams', type=_positive, default=1, help='1 = single stream; more = parallel with the bus')
    s.add_argument('--cadence', type=_positive, default=None, help="default: the checkpoint's")
    s.add_argument('--lag', type=_nonneg, default=None, help="default: the checkpoint's")
    s.add_argument('--temperature', type=float, default=0.5)
    s.add_argument('--seed', type=int, default=42)
    s.add_argument('--engine', choices=engines, default='scalar')
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser('experiment', help='run the coordination experiments and write a results file',
                       description='Train a trunk per seed, then SNC on tasks where the streams have something '
                                   'to share (see microdnb.tasks), with controls, gate trajectories and sweeps '
                                   'of cadence, lag and streams; write everything to a JSON results file. '
                                   'Progress goes to stderr, a summary table to stdout.')
    e.add_argument('--quick', action='store_true', help='one seed, short schedule, small sweeps (under a minute)')
    e.add_argument('--seeds', type=int, nargs='+', default=None, help='seeds to run (default 0 1 2; quick: 0)')
    e.add_argument('--jobs', type=_positive, default=1,
                   help='share the runs among this many processes (default 1; the results do not change)')
    e.add_argument('--out', default='book/data/experiments.json',
                   help='results file to write (JSON; default book/data/experiments.json)')
    e.set_defaults(func=cmd_experiment)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, OSError) as e:  # bad input or an I/O failure: one line, no traceback
        print(f"microdnb {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
