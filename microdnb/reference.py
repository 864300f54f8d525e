"""The reference script's run, written once: its set-up, its training, and `replicate`.

`replicate` prints exactly what the reference script (microgpt_dnb.py) prints. `seed`,
`steps` and `snc_steps` change what editing `random.seed(42)`, `num_steps` and
`num_steps_p2` in the reference would change (its section headers keep saying "1000
steps" and "300 steps": they are literal strings there too).
"""
import random

from . import scalar, vector
from .config import REFERENCE_BUS, BusConfig, ModelConfig, TrainConfig
from .data import Tokenizer, load_docs
from .params import SNC_KEYS, base_keys, param_shapes

# The engine registry: two modules with the same engine functions.
ENGINES = {'scalar': scalar, 'numpy': vector}

TEMPERATURE = 0.5      # the reference's sampling temperature
N_SAMPLES = 10         # single-stream samples it prints
N_STREAMS_INFER = 3    # streams per parallel batch at inference (training uses REFERENCE_BUS's 2)
N_BATCHES = 5          # parallel batches it prints


def get_engine(engine):
    """The engine module named `engine` ('scalar' or 'numpy')."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {sorted(ENGINES)}, got {engine!r}")
    return ENGINES[engine]


def setup(seed=42, docs=None, engine='numpy', **model):
    """The reference's first lines: shuffle the names with random.Random(seed), build the
    tokenizer and the default ModelConfig (or one with the sizes `model` gives, e.g.
    n_embd=32), then draw the parameters from the same generator.

    Returns (docs, tokenizer, cfg, params, rng); with engine=None, no parameters are drawn
    (params is None) and rng is where the draws would start.
    """
    eng = None if engine is None else get_engine(engine)
    docs = list(load_docs() if docs is None else docs)
    if not docs:
        raise ValueError("docs is empty: pass a list of names, or None to load names.txt")
    rng = random.Random(seed)
    rng.shuffle(docs)  # the same generator then draws the parameters, as in the reference
    tokenizer = Tokenizer.from_docs(docs)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, **model)
    params = None if eng is None else eng.init_params(cfg, rng)
    return docs, tokenizer, cfg, params, rng


def reference_run(seed=42, steps=1000, snc_steps=300, engine='numpy', docs=None):
    """Train as `replicate` does (same seed, same draws, same parameters), recording the
    curves it only prints every 50 or 100 steps.

    Returns a dict: params (numpy arrays, or Values with engine='scalar'), cfg, tokenizer,
    docs (shuffled, as trained on), rng (the random.Random, where the reference's sampling
    starts), phase1 {'loss', 'lr'} and phase2 {'loss', 'lr', 'gate'} per step.
    """
    eng = get_engine(engine)
    tcfg = TrainConfig(steps=steps, snc_steps=snc_steps)
    docs, tokenizer, cfg, params, rng = setup(seed, docs, engine)
    phase1 = {'loss': [], 'lr': []}
    phase2 = {'loss': [], 'lr': [], 'gate': []}

    def record(curves):
        def callback(info):
            for key in curves:
                curves[key].append(info[key])
        return callback
    eng.train_phase1(params, cfg, tcfg, docs, tokenizer, callback=record(phase1))
    eng.train_phase2(params, cfg, tcfg, REFERENCE_BUS, docs, tokenizer, callback=record(phase2))
    return {'params': params, 'cfg': cfg, 'tokenizer': tokenizer, 'docs': docs, 'rng': rng,
            'phase1': phase1, 'phase2': phase2}


def replicate(seed=42, steps=1000, snc_steps=300, engine='scalar', out=print, docs=None):
    """Run the reference's program with these settings, calling out(line) for each printed line."""
    eng = get_engine(engine)
    tcfg = TrainConfig(steps=steps, snc_steps=snc_steps)  # validates steps >= 0
    docs, tokenizer, cfg, params, rng = setup(seed, docs, engine)
    out(f"num docs: {len(docs)}")
    out(f"vocab size: {tokenizer.vocab_size}")
    shapes = param_shapes(cfg)
    n_base = sum(rows * cols for key, (rows, cols) in shapes.items() if key in base_keys(cfg))
    n_snc = sum(rows * cols for key, (rows, cols) in shapes.items() if key in SNC_KEYS)
    out(f"num params: {n_base + n_snc} (base: {n_base}, snc: {n_snc})")

    out("\n=== Phase 1: Training base GPT (1000 steps) ===")

    def log1(info):
        step = info['step']
        if (step + 1) % 100 == 0 or step == 0:
            out(f" step {step+1:4d} / {info['num_steps']:4d} | loss {info['loss']:.4f}")
    eng.train_phase1(params, cfg, tcfg, docs, tokenizer, callback=log1)

    out("\n=== Phase 2: Training SNC / Dynamic Notes Bus (300 steps) ===")

    def log2(info):
        step = info['step']
        if (step + 1) % 50 == 0 or step == 0:
            out(f" step {step+1:3d} / {info['num_steps']:3d} | loss {info['loss']:.4f} | gate {info['gate']:.4f}")
    eng.train_phase2(params, cfg, tcfg, REFERENCE_BUS, docs, tokenizer, callback=log2)

    out("\n--- single-stream inference (baseline) ---")
    for sample_idx in range(N_SAMPLES):
        trace = eng.sample_single(params, cfg, tokenizer, rng, TEMPERATURE)
        out(f" sample {sample_idx+1:2d}: {trace['text']}")

    out(f"\n--- parallel inference ({N_STREAMS_INFER} streams, DNB) ---")
    bcfg = BusConfig(n_streams=N_STREAMS_INFER, cadence=REFERENCE_BUS.cadence, lag=REFERENCE_BUS.lag)
    for batch in range(N_BATCHES):
        trace = eng.sample_parallel(params, cfg, bcfg, tokenizer, rng, TEMPERATURE)
        names = ' | '.join(t if t else '(empty)' for t in trace['texts'])
        out(f" batch {batch+1}: {names}")
    out(f"\nfinal gate value: {eng.gate_value(params):.4f}")
    return params
