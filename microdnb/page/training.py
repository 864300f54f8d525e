"""The page's trainer payload: what `train.js` needs to train the reference model in the
reader's browser, as one JSON-able dict (`train_payload`).

The names travel gzipped and base64-encoded (228 kB of text, ~103 kB packed); the page
unpacks them with DecompressionStream (spec.js `specFrom`) and shuffles them with the run's
seed, as `reference.setup` does. The settings' allowed ranges are config.LIMITS
(`config.limits_json`), which the page checks with engine.js's one checker, so a refusal in
the page reads as Python's.
"""
import base64
import gzip

from ..config import LIMITS, MAX_PARAMS, REFERENCE_BUS, ModelConfig, Range, TrainConfig, limits_json
from ..data import Tokenizer, load_docs
from ..reference import TEMPERATURE
from .inline import json_for_script, module_code

# the ES modules a page with a trainer inlines (inline.module_code), in this order; worker.js
# makes the training worker from all but itself
MODULES = ('pyrandom.js', 'settings.js', 'engine.js', 'grad.js', 'tasks.js', 'spec.js', 'train.js', 'worker.js')

# setting in the page -> its LIMITS entry
SETTINGS = {'seed': 'seed', 'steps': 'steps', 'sncSteps': 'snc_steps', 'learningRate': 'learning_rate',
            'sncLearningRate': 'snc_learning_rate', 'n_layer': 'n_layer', 'n_head': 'n_head', 'n_embd': 'n_embd',
            'block_size': 'block_size', 'cadence': 'cadence', 'lag': 'lag', 'streams': 'n_streams', 'gateInit': 'gate_init',
            'temperature': 'temperature'}
# the decode settings the trained model's explorer checks (engine.js checkSettings)
DECODE = {'gate': 'gate'}
TASKS = ('names', 'independent', 'split', 'copy')   # tasks.js TASKS: 'names' is the reference's phase 2


# the most memory a run's buffers (grad.js Net) may take in the page: the reference's take 0.3 MB
MAX_NET_BYTES = 256 * 2 ** 20


def default_settings():
    """The reference run's settings, as the page names them."""
    m, t, b = ModelConfig(), TrainConfig(), REFERENCE_BUS
    return {'seed': 42, 'steps': t.steps, 'sncSteps': t.snc_steps, 'learningRate': t.learning_rate,
            'sncLearningRate': t.snc_learning_rate, 'n_layer': m.n_layer, 'n_head': m.n_head, 'n_embd': m.n_embd,
            'block_size': m.block_size, 'cadence': b.cadence, 'lag': b.lag, 'streams': b.n_streams,
            'gateInit': m.gate_init, 'task': 'names', 'heldout': 0, 'temperature': TEMPERATURE}


def heldout_range(n_names):
    """`heldout` (the last names of the shuffled list, kept out of training as the study does)
    leaves at least one name to train on."""
    return Range('int', 0, n_names - 1)


def check_settings(settings, n_names=32033):
    """`settings` (a dict of page settings, or None) over the defaults, each checked against
    LIMITS (heldout: against `heldout_range(n_names)`); ValueError naming the setting otherwise."""
    out = default_settings()
    if settings is None:
        return out
    if not isinstance(settings, dict):
        raise ValueError(f"settings must be a dict of {sorted(out)}, got {type(settings).__name__}")
    for key, value in settings.items():
        if key not in out:
            raise ValueError(f"{key!r} is not a setting; the settings are {sorted(out)}")
        if key == 'task':
            if value not in TASKS:
                raise ValueError(f"task must be one of {TASKS}, got {value!r}")
            out[key] = value
        elif key == 'heldout':
            out[key] = heldout_range(n_names).check(value, key)
        else:
            out[key] = LIMITS[SETTINGS[key]].check(value, key)
    if out['n_embd'] % out['n_head']:
        raise ValueError(f"n_head must divide n_embd ({out['n_embd']}), got {out['n_head']}")
    return out


def pack_names(docs):
    """The names, one a line, gzipped (mtime 0: the same bytes every build) and base64-encoded."""
    if not isinstance(docs, (list, tuple)) or not docs or \
            not all(isinstance(d, str) and d and '\n' not in d for d in docs):
        raise ValueError("docs must be a non-empty list of non-empty one-line strings")
    return base64.b64encode(gzip.compress('\n'.join(docs).encode('utf-8'), compresslevel=9, mtime=0)).decode('ascii')


def train_payload(settings=None, docs=None):
    """The JSON-able payload of the page's trainer (spec.js `specFrom` reads it): the model
    config, Adam's constants, the names (default names.txt) packed, the default settings
    (the reference run's, overridden by `settings`) and their limits."""
    docs = list(load_docs() if docs is None else docs)
    names_gz = pack_names(docs)
    defaults = check_settings(settings, len(docs))
    held = heldout_range(len(docs))
    m, t = ModelConfig(), TrainConfig()
    return {
        'cfg': {'block_size': m.block_size, 'notes_dim': m.notes_dim, 'init_std': m.init_std,
                'n_layer': m.n_layer, 'n_embd': m.n_embd, 'n_head': m.n_head, 'gate_init': m.gate_init},
        'tcfg': {'beta1': t.beta1, 'beta2': t.beta2, 'eps_adam': t.eps_adam},
        'uchars': ''.join(Tokenizer.from_docs(docs).uchars),
        'names_gz': names_gz,
        'n_names': len(docs),
        'defaults': defaults,
        'limits': {**limits_json({**SETTINGS, **DECODE}),
                   'heldout': {**held._asdict(), 'text': held.text()}},
        'max_params': MAX_PARAMS,
        'max_net_bytes': MAX_NET_BYTES,
    }


def trainer_page(head='', payload=None):
    """A bare page with the trainer and nothing else (the tests' and the benchmark's): the
    payload (default `train_payload()`) and the inlined MODULES, which set window.M to their
    exports and window.spec to the Promise of specFrom(payload). `head`: more <head> markup,
    e.g. a Content-Security-Policy <meta>."""
    payload = train_payload() if payload is None else payload
    return ('<!doctype html><meta charset="utf-8">' + head + '<link rel="icon" href="data:,"><title>trainer</title>'
            '<script type="application/json" id="payload">' + json_for_script(payload) + '</script>'
            '<script type="module">\n' + module_code(MODULES) +
            '\nwindow.M = {...__mdx_pyrandom, ...__mdx_engine, ...__mdx_grad, ...__mdx_tasks, ...__mdx_spec, ...__mdx_train,'
            ' ...__mdx_worker};'
            '\nwindow.spec = M.specFrom(JSON.parse(document.getElementById("payload").textContent));\n</script>')
