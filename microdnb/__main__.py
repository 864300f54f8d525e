"""Command line: python -m microdnb {replicate,train,sample,experiment} ... (each has --help).

Every value is checked before any work starts, by the package's one checker of its kind:
numbers against microdnb.config.LIMITS (argparse types), file names by fileio.as_path,
output paths by fileio.check_output_path (an existing file is replaced only with --force),
datasets by data.load_docs, checkpoints by checkpoint.load_checkpoint, prompts and start
letters by sampling.check_prompts / check_starts. A mistake is reported on one line,
`microdnb: error: ...`, with exit status 2 for a bad argument (argparse) and 1 for anything
found later (a bad file, a bad combination of settings, an I/O failure, stdout included);
no traceback (set MICRODNB_TRACEBACK=1 to see one). A signal that would end the process
(fileio.FATAL_SIGNALS) ends it through Python instead, so that temporary files are removed
and worker processes ended, with one line `microdnb: stopped by SIGTERM` (say) and exit
status 128 + its number.
"""
import argparse
import json
import os
import random
import signal
import sys
import time
import warnings

from .config import LIMITS, Range, show
from .fileio import FATAL_SIGNALS, exit_on_signals

# reference.ENGINES' names (a test keeps them equal): importing the engines here would make
# every refusal of a bad argument wait for numpy
ENGINES = ('numpy', 'scalar')

MAX_NUM = 100_000               # sample --num: names (or groups) per call
MAX_JOBS = 256                  # experiment --jobs


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


def _dataset_paths(data):
    """The names files an output must never overwrite: --data, $MICRODNB_NAMES, the shipped copy."""
    from .data import ENV_VAR, shipped_names_path
    paths = [('the shipped names file', shipped_names_path())]
    if os.environ.get(ENV_VAR):
        paths.append((f'the dataset (${ENV_VAR})', os.environ[ENV_VAR]))
    if data is not None:
        paths.append(('the dataset (--data)', data))
    return paths


def _print(*lines):
    """Lines to stdout, at once; an OSError (a full disk: errno 28) names stdout."""
    try:
        print(*lines, sep='\n', flush=True)
    except BrokenPipeError:
        raise
    except OSError as e:
        _quiet_stdout()
        raise OSError(e.errno, f"cannot write to stdout: {e.strerror}") from None


def cmd_replicate(args):
    from .reference import replicate
    replicate(seed=args.seed, steps=args.steps, snc_steps=args.snc_steps, engine=args.engine, out=_print)


def cmd_train(args):
    from .checkpoint import save_checkpoint
    from .config import BusConfig, ModelConfig, TrainConfig
    from .data import load_docs
    from .fileio import as_path, check_output_path, check_space
    out = check_output_path(args.out, args.force, protect=_dataset_paths(args.data), what='--out')
    if args.data is not None:
        as_path(args.data, '--data')
    bcfg = BusConfig(n_streams=args.streams, cadence=args.cadence, lag=args.lag)
    tcfg = TrainConfig(steps=args.steps, snc_steps=args.snc_steps)
    if args.n_embd % args.n_head:  # found before the data is read (ModelConfig says it again)
        ModelConfig(n_embd=args.n_embd, n_head=args.n_head)
    docs = load_docs(args.data)
    from .reference import get_engine, setup  # numpy: after the arguments and the dataset are checked
    docs, tokenizer, cfg, _, rng = setup(args.seed, docs, None, n_layer=args.n_layer, n_embd=args.n_embd,
                                         n_head=args.n_head, block_size=args.block_size)
    check_space(out, 25 * cfg.n_params + 10_000, '--out')  # a weight takes about 22 bytes in the file
    longest = max(len(d) for d in docs) + 1
    if longest > cfg.block_size:
        print(f"note: the longest name needs {longest} positions; block_size {cfg.block_size} "
              f"truncates it", file=sys.stderr)
    eng = get_engine(args.engine)
    params = eng.init_params(cfg, rng)  # the shuffle's generator draws them, as in the reference
    print(f"training {cfg} on {len(docs)} names with the {args.engine} engine", file=sys.stderr)
    eng.train_phase1(params, cfg, tcfg, docs, tokenizer, callback=_progress('phase 1'))
    eng.train_phase2(params, cfg, tcfg, bcfg, docs, tokenizer, callback=_progress('phase 2'))
    path = save_checkpoint(out, params, cfg, tokenizer, bcfg,
                           meta={'seed': args.seed, 'steps': args.steps, 'snc_steps': args.snc_steps,
                                 'engine': args.engine})
    _print(f"saved {path} (final gate {eng.gate_value(params):.4f})")


def cmd_sample(args):
    from .checkpoint import load_checkpoint
    from .fileio import as_path
    from .sampling import check_prompts, check_starts
    if args.json and args.num not in (None, 1):
        raise ValueError("--json prints one group of streams: leave out --num (or give --num 1)")
    if args.streams == 1:
        given = [flag for flag, v in (('--cadence', args.cadence), ('--lag', args.lag), ('--gate', args.gate))
                 if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} act(s) on the Notes Bus, which one stream does not use: "
                             f"add --streams 2 (or more)")
        if args.start:
            raise ValueError("--start gives a stream of a parallel group its start letter (the trunk alone "
                             "always starts from the start token): add --streams 2 (or more), or use --prompt")
    num = 1 if args.json else (args.num or 10)
    ck = load_checkpoint(as_path(args.checkpoint, '--checkpoint'))
    cfg, tokenizer = ck['cfg'], ck['tokenizer']
    check_prompts(args.prompt, args.streams, tokenizer, cfg, '--prompt')
    check_starts(args.start, args.streams, tokenizer, '--start')
    prompts, starts = ((given or []) + [''] * (args.streams - len(given or [])) for given in (args.prompt, args.start))
    from .reference import get_engine  # numpy, after every check: a refusal does not wait for it
    eng = get_engine(args.engine)
    params = eng.params_from(ck['params'])
    rng = random.Random(args.seed)
    groups = []
    with warnings.catch_warnings():  # numpy's overflow warnings: the draw refuses what they lead to
        warnings.simplefilter('ignore', RuntimeWarning)
        try:
            _decode(args, eng, params, cfg, tokenizer, rng, ck['bus_cfg'], num, prompts, starts, groups)
        except (ValueError, ArithmeticError) as e:  # every setting was checked: the weights are to blame
            raise ValueError(f"checkpoint {args.checkpoint}: cannot sample from it: {e}") from None
    if args.json:
        _print(json.dumps({'texts': groups[0]}))
    else:
        _print(*(' | '.join(t or '(empty)' for t in texts) for texts in groups))


def _decode(args, eng, params, cfg, tokenizer, rng, saved, num, prompts, starts, groups):
    """`sample`'s decodes: `num` groups of `args.streams` texts appended to `groups`."""
    from .config import BusConfig
    if args.streams == 1:
        kwargs = {'prompt': prompts[0]} if args.prompt else {}
        for _ in range(num):
            groups.append([eng.sample_single(params, cfg, tokenizer, rng, args.temperature, **kwargs)['text']])
    else:
        saved = saved or BusConfig()
        bcfg = BusConfig(n_streams=args.streams,
                         cadence=args.cadence if args.cadence is not None else saved.cadence,
                         lag=args.lag if args.lag is not None else saved.lag)
        kwargs = {}
        if args.gate is not None:
            kwargs['gate'] = args.gate
        if args.prompt:
            kwargs['prompts'] = prompts
        if args.start:
            kwargs['starts'] = starts
        for _ in range(num):
            groups.append(eng.sample_parallel(params, cfg, bcfg, tokenizer, rng, args.temperature, **kwargs)['texts'])


def cmd_experiment(args):
    from dataclasses import replace

    from .fileio import check_output_path
    out = check_output_path(args.out, args.force, protect=_dataset_paths(None), what='--out')  # before the runs
    from .figures.experiments import controls_table
    from .figures.tables import format_table
    from .study.results import save_results
    from .study.runs import run
    from .study.spec import QUICK, Settings
    settings = QUICK if args.quick else Settings()
    if args.seeds is not None:
        settings = replace(settings, seeds=tuple(args.seeds))
    results = run(settings, jobs=args.jobs, argv=sys.argv[1:])
    path = save_results(results, out)
    _print(format_table(controls_table(results)),
           f"wrote {path} ({os.path.getsize(path) / 1024:.0f} kB, {results['provenance']['wall_seconds']:.0f} s)")


# ---- argument types: named for argparse's messages, ranges from config.LIMITS ------------

def _typed(kind, low=None, high=None, name=None):
    """An argparse type for numbers in a range; its error says the range and what it got."""
    return _ranged(Range(kind, low, high), name)


def _ranged(rng, name=None):
    """An argparse type for the numbers of a config.Range. It is named (argparse shows a type's
    __name__), and it raises ArgumentTypeError saying the range, so a message never shows a
    function's name."""
    def parse(text):
        shown = text if len(text) <= 40 else text[:37] + '...'
        try:
            value = int(text) if rng.kind == 'int' else float(text)
        except ValueError:
            hint = ''
            if rng.kind == 'int':
                try:
                    f = float(text)
                    if f.is_integer() and abs(f) < 1e18:
                        hint = f" (write {int(f)})"
                except ValueError:
                    pass
            raise argparse.ArgumentTypeError(f"must be {rng.text()}, got {shown!r}{hint}") from None
        try:
            return rng.check(value, 'value')
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rng.text()}, got {show(value)}") from None
    parse.__name__ = name or ('integer' if rng.kind == 'int' else 'number')
    return parse


def _limit(field):
    return _ranged(LIMITS[field], f"{field} value")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default (or says it is required)."""

    def _get_help_string(self, action):
        text = action.help or ''
        if not action.option_strings or action.default is argparse.SUPPRESS or '%(default)' in text:
            return text
        if action.required:
            return text + ' (required)'
        if action.default is None:
            return text if 'default' in text else text + ' (default: none)'
        if action.default is False:
            return text + ' (default: off)'
        return text + ' (default: %(default)s)'


class _Parser(argparse.ArgumentParser):
    """argparse, with its error line in the package's form: `microdnb: error: ...`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"microdnb: error: {message}\n")


def build_parser():
    p = _Parser(prog='python -m microdnb', description=__doc__.split('\n\n')[0] + ' A mistake is reported on one '
                'line, `microdnb: error: ...`: exit status 2 for a bad argument, 1 for what is found later.')
    sub = p.add_subparsers(dest='command', required=True, metavar='command',
                           help='replicate, train, sample or experiment (each has --help)')
    seed = _limit('seed')
    seed_help = 'seed of random.Random: the shuffle, the initialisation and the draws'

    r = sub.add_parser('replicate', help="print exactly what the reference script prints",
                       description="Re-run ../shared/reference/microgpt_dnb.py's program and print its output. "
                                   "--seed/--steps/--snc-steps act like editing random.seed(42), num_steps and "
                                   "num_steps_p2 in the reference.")
    r.add_argument('--seed', type=seed, default=42, help=seed_help)
    r.add_argument('--steps', type=_limit('steps'), default=1000, help='phase-1 steps')
    r.add_argument('--snc-steps', type=_limit('snc_steps'), default=300, help='phase-2 steps')
    r.add_argument('--engine', choices=sorted(ENGINES), default='scalar', help='engine that computes')
    r.set_defaults(func=cmd_replicate)

    t = sub.add_parser('train', help='train phase 1 and phase 2 and save a checkpoint',
                       description='Train the trunk (phase 1), then SNC + planner with the trunk frozen '
                                   '(phase 2), printing progress, and save a JSON checkpoint.')
    t.add_argument('--n-embd', type=_limit('n_embd'), default=16, help='model width')
    t.add_argument('--n-head', type=_limit('n_head'), default=4, help='attention heads (must divide --n-embd)')
    t.add_argument('--n-layer', type=_limit('n_layer'), default=1, help='transformer layers')
    t.add_argument('--block-size', type=_limit('block_size'), default=16, help='positions per name')
    t.add_argument('--cadence', type=_limit('cadence'), default=3,
                   help='phase 2: a stream posts a note after every this many positions')
    t.add_argument('--lag', type=_limit('lag'), default=0,
                   help='phase 2: rounds before a note is readable (0 = the reference round-robin)')
    t.add_argument('--streams', type=_limit('n_streams'), default=2, help='phase 2: streams on the bus')
    t.add_argument('--steps', type=_limit('steps'), default=1000, help='phase-1 steps')
    t.add_argument('--snc-steps', type=_limit('snc_steps'), default=300, help='phase-2 steps')
    t.add_argument('--seed', type=seed, default=42, help=seed_help)
    t.add_argument('--engine', choices=sorted(ENGINES), default='scalar', help='engine that trains')
    t.add_argument('--data', default=None,
                   help='a names file, one name per line (default: the pinned makemore names.txt, '
                        'or $MICRODNB_NAMES)')
    t.add_argument('--out', required=True, help='checkpoint file to write (JSON); its folder must exist')
    t.add_argument('--force', action='store_true', help='replace --out if it exists')
    t.set_defaults(func=cmd_train)

    s = sub.add_parser('sample', help='sample names from a checkpoint',
                       description='Sample names from a checkpoint: one stream, or several through the Notes Bus. '
                                   'Prints one line per name (or group of streams, joined by " | "; '
                                   '"(empty)" for an empty name); with --json, one line {"texts": [...]} '
                                   'for one group, drawn with random.Random(--seed) as the first line '
                                   'without --json is.')
    s.add_argument('--checkpoint', required=True, help='checkpoint file written by `train`')
    s.add_argument('--num', type=_typed('int', 1, MAX_NUM), default=None,
                   help='names (or groups of streams) to sample (default: 10; with --json: 1, the only value allowed)')
    s.add_argument('--streams', type=_limit('n_streams'), default=1,
                   help='1 = a single stream (the trunk); more = parallel through the Notes Bus')
    s.add_argument('--cadence', type=_limit('cadence'), default=None,
                   help="post a note after every this many positions (default: the checkpoint's)")
    s.add_argument('--lag', type=_limit('lag'), default=None,
                   help="rounds before a note is readable (default: the checkpoint's)")
    s.add_argument('--gate', type=_limit('gate'), default=None,
                   help="the SNC gate value to sample with, in [0, 1] (default: as trained)")
    s.add_argument('--temperature', type=_limit('temperature'), default=0.5,
                   help=f"divides the logits; {LIMITS['temperature'].text()}")
    s.add_argument('--seed', type=seed, default=42, help='seed of the random.Random that draws the letters')
    s.add_argument('--prompt', action='append', default=None, metavar='LETTERS',
                   help="the first letters of a stream's name; repeat once per stream, in stream order "
                        "(default: none; streams without one start empty)")
    s.add_argument('--start', action='append', default=None, metavar='LETTER',
                   help="a stream's start letter, which it starts from instead of the start token (its input at "
                        "position 0 and its plan seed's, as the copy task's leader); repeat once per stream, in stream "
                        "order, '' for the start token (default: none); the printed name begins with it")
    s.add_argument('--engine', choices=sorted(ENGINES), default='scalar', help='engine that samples')
    s.add_argument('--json', action='store_true', help='print one line {"texts": [...]} for one group')
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser('experiment', help='run the coordination experiments and write a results file',
                       description='Train a trunk per seed, then SNC on tasks where the streams have something '
                                   'to share (see microdnb.study.tasks), with controls, gate trajectories and '
                                   'sweeps of cadence, lag and streams; write everything to a JSON results file. '
                                   'Progress goes to stderr, a summary table to stdout.')
    e.add_argument('--quick', action='store_true', help='one seed, short schedule, small sweeps (under a minute)')
    e.add_argument('--seeds', type=seed, nargs='+', default=None, help='seeds to run (default: 0 1 2; quick: 0)')
    e.add_argument('--jobs', type=_typed('int', 1, MAX_JOBS), default=1,
                   help='share the runs among this many processes (the results do not change)')
    e.add_argument('--out', default='book/data/experiments.json',
                   help='results file to write (JSON); its folder must exist')
    e.add_argument('--force', action='store_true', help='replace --out if it exists')
    e.set_defaults(func=cmd_experiment)
    return p


def _one_line(e):
    """An error as one line of printable text: a file name holding a newline or an escape
    sequence can neither break the line nor reach the terminal."""
    text = str(e).strip() or type(e).__name__
    return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _quiet_stdout():
    """Point stdout at /dev/null: what is still buffered for a reader who left (or a full
    disk) then goes nowhere at exit, instead of making a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        with exit_on_signals():
            args.func(args)
    except BrokenPipeError:  # `... | head`: the reader left; say nothing
        _quiet_stdout()
        return 1
    except (ValueError, TypeError, OSError) as e:  # bad input or an I/O failure: one line, no traceback
        if os.environ.get('MICRODNB_TRACEBACK'):
            raise
        print(f"microdnb: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("microdnb: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # from exit_on_signals: 128 + the signal's number
        if isinstance(e.code, int) and e.code - 128 in FATAL_SIGNALS:
            try:
                name = signal.Signals(e.code - 128).name
            except ValueError:  # a real-time signal
                name = f"signal {e.code - 128}"
            print(f"microdnb: stopped by {name}", file=sys.stderr)
        raise
    return 0


if __name__ == '__main__':
    sys.exit(main())
