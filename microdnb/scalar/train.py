"""Training: Adam, phase 1 (the trunk) and phase 2 (SNC + planner, trunk frozen).

Both phases follow the reference script operation for operation, so the same seed
gives the same numbers to the last bit. `callback(info)` is called after every step
with a dict (step, num_steps, loss, lr and, in phase 2, gate), e.g. to record curves.
"""
from .autograd import Value
from ..bus import NotesBus, emits
from ..data import phase2_docs
from .layers import linear, softmax
from ..params import SNC_KEYS, base_keys
from .model import gpt, param_list
from .planner import plan_seed
from .snc import gate_value


class Adam:
    """Adam with bias correction, on a fixed list of `Value` parameters.

    The same contract in both engines: Adam(params, beta1, beta2, eps) over a list of the
    engine's parameters, then step(step, lr_t, grads=None) with `step` counting from 0.
    Here grads=None (the reference's way) reads each Value's .grad; a list of floats, one
    per parameter, is used instead if given. (The numpy Adam takes arrays and needs grads.)
    """

    def __init__(self, params, beta1=0.85, beta2=0.99, eps=1e-8):
        if not isinstance(params, list) or not all(isinstance(p, Value) for p in params):
            raise ValueError("params must be a list of Values, e.g. param_list(state_dict, keys)")
        self.params = params
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = [0.0] * len(params)
        self.v = [0.0] * len(params)

    def step(self, step, lr_t, grads=None):
        """Update every parameter from its gradient, then zero the grads. `step` counts from 0."""
        if grads is not None:
            if len(grads) != len(self.params):
                raise ValueError(f"grads must have one float per parameter ({len(self.params)}), got {len(grads)}")
            for p, g in zip(self.params, grads):
                p.grad = g
        beta1, beta2 = self.beta1, self.beta2
        m, v = self.m, self.v
        for i, p in enumerate(self.params):
            m[i] = beta1 * m[i] + (1 - beta1) * p.grad
            v[i] = beta2 * v[i] + (1 - beta2) * p.grad ** 2
            m_hat = m[i] / (1 - beta1 ** (step + 1))
            v_hat = v[i] / (1 - beta2 ** (step + 1))
            p.data -= lr_t * m_hat / (v_hat ** 0.5 + self.eps)
            p.grad = 0


def zero_grad(params):
    for p in params:
        p.grad = 0


def _check(docs):
    if not docs:
        raise ValueError("docs is empty: training needs at least one document")


def doc_loss(state_dict, cfg, tokens):
    """Mean next-token loss of one document through the trunk (no notes)."""
    if len(tokens) < 2:
        raise ValueError(f"a document needs at least 2 tokens (BOS, ..., BOS), got {tokens!r}; "
                         f"use tokenizer.encode(doc)")
    n = min(cfg.block_size, len(tokens) - 1)
    keys, values = [[] for _ in range(cfg.n_layer)], [[] for _ in range(cfg.n_layer)]
    losses = []
    for pos_id in range(n):
        token_id, target_id = tokens[pos_id], tokens[pos_id + 1]
        logits, _ = gpt(state_dict, cfg, token_id, pos_id, keys, values)
        probs = softmax(logits)
        loss_t = -probs[target_id].log()
        losses.append(loss_t)
    return (1 / n) * sum(losses)


def train_phase1(state_dict, cfg, tcfg, docs, tokenizer, callback=None):
    """Train the trunk on one document per step (docs[step % len(docs)]). Returns the Adam state."""
    _check(docs)
    base_params = param_list(state_dict, base_keys(cfg))
    snc_params = param_list(state_dict, SNC_KEYS)
    adam = Adam(base_params, tcfg.beta1, tcfg.beta2, tcfg.eps_adam)
    num_steps = tcfg.steps
    for step in range(num_steps):
        doc = docs[step % len(docs)]
        loss = doc_loss(state_dict, cfg, tokenizer.encode(doc))
        loss.backward()
        lr_t = tcfg.learning_rate * (1 - step / num_steps)
        adam.step(step, lr_t)
        zero_grad(snc_params)  # SNC is not in phase 1's graph; kept for parity with the reference
        if callback is not None:
            callback({'phase': 1, 'step': step, 'num_steps': num_steps, 'loss': loss.data, 'lr': lr_t})
    return adam


def streams_loss(state_dict, cfg, bcfg, streams, record=None):
    """Mean next-token loss of several token sequences decoded together through the bus.

    Every stream's bus starts with the plan seed of its first token; streams advance
    round-robin, read the others' snapshots (per `bcfg.lag`) through SNC, and post a
    snapshot at the cadence. Returns (loss Value, n_tokens).
    """
    if not streams:
        raise ValueError("streams_loss needs at least one stream")
    if any(len(s) < 2 for s in streams):
        raise ValueError(f"every stream needs at least 2 tokens (BOS, ..., BOS), got lengths "
                         f"{[len(s) for s in streams]}; use tokenizer.encode(doc)")
    n_streams = len(streams)
    max_len = max(min(cfg.block_size, len(s) - 1) for s in streams)
    stream_keys = [[[] for _ in range(cfg.n_layer)] for _ in range(n_streams)]
    stream_values = [[[] for _ in range(cfg.n_layer)] for _ in range(n_streams)]
    bus = NotesBus(n_streams, bcfg.lag)
    for si in range(n_streams):
        bus.seed(si, plan_seed(state_dict, cfg, streams[si][0]))
    total_loss = Value(0.0)
    n_tokens = 0
    for pos_id in range(max_len):
        for si in range(n_streams):
            if pos_id >= min(cfg.block_size, len(streams[si]) - 1):
                continue
            token_id = streams[si][pos_id]
            target_id = streams[si][pos_id + 1]
            other_notes = bus.read(si, pos_id)
            logits, hidden = gpt(state_dict, cfg, token_id, pos_id, stream_keys[si],
                                 stream_values[si], notes=other_notes)
            probs = softmax(logits)
            total_loss = total_loss + (-probs[target_id].log())
            n_tokens += 1
            if emits(pos_id, bcfg.cadence):
                bus.post(si, pos_id, linear(hidden, state_dict['notes_proj']))
    return total_loss / n_tokens, n_tokens


def train_phase2(state_dict, cfg, tcfg, bcfg, docs, tokenizer, callback=None):
    """Train only SNC + planner parameters (trunk frozen) on `bcfg.n_streams` parallel names."""
    _check(docs)
    base_params = param_list(state_dict, base_keys(cfg))
    snc_params = param_list(state_dict, SNC_KEYS)
    adam = Adam(snc_params, tcfg.beta1, tcfg.beta2, tcfg.eps_adam)
    num_steps = tcfg.snc_steps
    for step in range(num_steps):
        streams = [tokenizer.encode(d) for d in phase2_docs(docs, step, bcfg.n_streams)]
        loss, _ = streams_loss(state_dict, cfg, bcfg, streams)
        loss.backward()
        lr_t = tcfg.snc_learning_rate * (1 - step / num_steps)
        adam.step(step, lr_t)
        zero_grad(base_params)  # the trunk is frozen: its gradients are computed and dropped
        if callback is not None:
            callback({'phase': 2, 'step': step, 'num_steps': num_steps, 'loss': loss.data,
                      'lr': lr_t, 'gate': gate_value(state_dict)})
    return adam
