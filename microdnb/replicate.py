"""Re-run the reference script (microgpt_dnb.py) and print exactly what it prints.

`seed`, `steps` and `snc_steps` change what editing `random.seed(42)`, `num_steps`
and `num_steps_p2` in the reference would change (its section headers keep saying
"1000 steps" and "300 steps": they are literal strings there too).
"""
import random

from .config import BusConfig, ModelConfig, TrainConfig
from .data import Tokenizer, load_docs
from .model import SNC_KEYS, base_keys, init_params, param_list

TEMPERATURE = 0.5
N_SAMPLES = 10
N_STREAMS_INFER = 3
N_BATCHES = 5


def scalar_backend():
    from . import sample, snc, train
    return {'convert': lambda sd, cfg: sd, 'train_phase1': train.train_phase1,
            'train_phase2': train.train_phase2, 'sample_single': sample.sample_single,
            'sample_parallel': sample.sample_parallel,
            'gate': lambda params: snc.gate_value(params).data}


def numpy_backend():
    from . import engine
    return engine.backend()


BACKENDS = {'scalar': scalar_backend, 'numpy': numpy_backend}


def replicate(seed=42, steps=1000, snc_steps=300, engine='scalar', out=print, docs=None):
    """Run the reference's program with these settings, calling out(line) for each printed line."""
    if engine not in BACKENDS:
        raise ValueError(f"engine must be one of {sorted(BACKENDS)}, got {engine!r}")
    tcfg = TrainConfig(steps=steps, snc_steps=snc_steps)  # validates steps >= 0
    be = BACKENDS[engine]()
    rng = random.Random(seed)
    docs = list(load_docs() if docs is None else docs)
    rng.shuffle(docs)
    out(f"num docs: {len(docs)}")
    tokenizer = Tokenizer.from_docs(docs)
    out(f"vocab size: {tokenizer.vocab_size}")
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size)
    state_dict = init_params(cfg, rng)
    n_base = len(param_list(state_dict, base_keys(cfg)))
    n_snc = len(param_list(state_dict, SNC_KEYS))
    out(f"num params: {n_base + n_snc} (base: {n_base}, snc: {n_snc})")
    params = be['convert'](state_dict, cfg)

    out("\n=== Phase 1: Training base GPT (1000 steps) ===")

    def log1(info):
        step = info['step']
        if (step + 1) % 100 == 0 or step == 0:
            out(f" step {step+1:4d} / {info['num_steps']:4d} | loss {info['loss']:.4f}")
    be['train_phase1'](params, cfg, tcfg, docs, tokenizer, callback=log1)

    out("\n=== Phase 2: Training SNC / Dynamic Notes Bus (300 steps) ===")

    def log2(info):
        step = info['step']
        if (step + 1) % 50 == 0 or step == 0:
            out(f" step {step+1:3d} / {info['num_steps']:3d} | loss {info['loss']:.4f} | gate {info['gate']:.4f}")
    be['train_phase2'](params, cfg, tcfg, BusConfig(n_streams=2, cadence=3, lag=0), docs, tokenizer,
                       callback=log2)

    out("\n--- single-stream inference (baseline) ---")
    for sample_idx in range(N_SAMPLES):
        trace = be['sample_single'](params, cfg, tokenizer, rng, TEMPERATURE)
        out(f" sample {sample_idx+1:2d}: {trace['text']}")

    out(f"\n--- parallel inference ({N_STREAMS_INFER} streams, DNB) ---")
    bcfg = BusConfig(n_streams=N_STREAMS_INFER, cadence=3, lag=0)
    for batch in range(N_BATCHES):
        trace = be['sample_parallel'](params, cfg, bcfg, tokenizer, rng, TEMPERATURE)
        names = ' | '.join(t if t else '(empty)' for t in trace['texts'])
        out(f" batch {batch+1}: {names}")
    out(f"\nfinal gate value: {be['gate'](params):.4f}")
    return params
