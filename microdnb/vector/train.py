"""Training with the numpy engine: Adam and the two phases, with the scalar `train`'s
arguments, schedule and arithmetic (the parameters agree to ~1e-8 after training)."""
import numpy as np

from ..data import phase2_docs
from ..params import SNC_KEYS, base_keys
from .loss import docs_loss_and_grads, streams_loss_and_grads
from .params import check_params, gate_value


class Adam:
    """Adam with bias correction (the scalar `train.Adam`'s arithmetic and contract).

    Adam(params, beta1=0.85, beta2=0.99, eps=1e-8): `params` is a list of the engine's
    parameters, here float64 arrays (e.g. [params[k] for k in keys]), updated in place.
    step(step, lr_t, grads): `step` counts from 0; `grads` is a list of arrays, one per
    parameter and of its shape. Arrays carry no gradient of their own, so grads is
    required here (the scalar Adam's grads=None reads each Value's .grad).

    The moments live in one flat vector; each step gathers parameters and gradients
    into flat vectors, updates them elementwise with the scalar formulas and writes
    them back. (np.sqrt is correctly rounded, Python's v ** 0.5 is libm's pow, which
    is 1 ulp off in ~0.1 % of cases: the only difference from the scalar Adam.)
    """

    def __init__(self, params, beta1=0.85, beta2=0.99, eps=1e-8):
        if not isinstance(params, (list, tuple)) or \
                not all(type(p) is np.ndarray and p.dtype == np.float64 for p in params):
            raise ValueError("params must be a list of float64 arrays, e.g. [params[k] for k in keys]")
        self.params = list(params)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        n = sum(p.size for p in self.params)
        self.m = np.zeros(n)
        self.v = np.zeros(n)

    def step(self, step, lr_t, grads=None):
        """Update every parameter from its gradient in `grads`. `step` counts from 0."""
        if not isinstance(grads, (list, tuple)) or len(grads) != len(self.params) or \
                any(np.shape(g) != p.shape for g, p in zip(grads, self.params)):
            raise ValueError(f"grads must be a list of {len(self.params)} arrays, one per parameter and of "
                             f"its shape (numpy arrays carry no .grad), got {type(grads).__name__}")
        beta1, beta2 = self.beta1, self.beta2
        g = np.concatenate([np.ravel(g) for g in grads])
        p = np.concatenate([p.ravel() for p in self.params])
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * (g * g)
        m_hat = self.m / (1 - beta1 ** (step + 1))
        v_hat = self.v / (1 - beta2 ** (step + 1))
        p -= lr_t * m_hat / (np.sqrt(v_hat) + self.eps)
        start = 0
        for arr in self.params:
            arr[...] = p[start:start + arr.size].reshape(arr.shape)
            start += arr.size


def _check_train(params, cfg, tcfg, docs, need_docs=True):
    check_params(params, cfg)
    if need_docs and not docs:
        raise ValueError("docs is empty: training needs at least one document")


def train_phase1(params, cfg, tcfg, docs, tokenizer, callback=None, batch_size=1):
    """Train the trunk, in place, on `batch_size` documents per step. Returns the Adam state.

    Step s uses docs[(s * batch_size + i) % len(docs)] for i < batch_size and their
    mean loss; batch_size=1 (the reference) is one document per step, docs[s % len(docs)].
    """
    _check_train(params, cfg, tcfg, docs)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    keys = base_keys(cfg)
    adam = Adam([params[k] for k in keys], tcfg.beta1, tcfg.beta2, tcfg.eps_adam)
    num_steps = tcfg.steps
    for step in range(num_steps):
        batch = [tokenizer.encode(docs[(step * batch_size + i) % len(docs)]) for i in range(batch_size)]
        loss, grads = docs_loss_and_grads(params, cfg, batch, keys)
        lr_t = tcfg.learning_rate * (1 - step / num_steps)
        adam.step(step, lr_t, [grads[k] for k in keys])
        if callback is not None:
            callback({'phase': 1, 'step': step, 'num_steps': num_steps, 'loss': loss, 'lr': lr_t})
    return adam


def train_phase2(params, cfg, tcfg, bcfg, docs, tokenizer, callback=None, groups_fn=None,
                 notes_hook=None):
    """Train only SNC + planner (trunk frozen), in place, on groups of streams. Returns Adam.

    Each step decodes `bcfg.n_streams` consecutive names (data.phase2_docs), or the
    token lists `groups_fn(step)` returns (for other tasks); `notes_hook` as in
    `streams_loss_and_grads`.
    """
    _check_train(params, cfg, tcfg, docs, need_docs=groups_fn is None)
    adam = Adam([params[k] for k in SNC_KEYS], tcfg.beta1, tcfg.beta2, tcfg.eps_adam)
    num_steps = tcfg.snc_steps
    for step in range(num_steps):
        if groups_fn is None:
            streams = [tokenizer.encode(d) for d in phase2_docs(docs, step, bcfg.n_streams)]
        else:
            streams = groups_fn(step)
        loss, grads, _ = streams_loss_and_grads(params, cfg, bcfg, streams, SNC_KEYS, notes_hook)
        lr_t = tcfg.snc_learning_rate * (1 - step / num_steps)
        adam.step(step, lr_t, [grads[k] for k in SNC_KEYS])
        if callback is not None:
            callback({'phase': 2, 'step': step, 'num_steps': num_steps, 'loss': loss,
                      'lr': lr_t, 'gate': gate_value(params)})
    return adam
