"""The vectorised engine: the scalar engine's math on float64 numpy arrays, with a hand-written
backward; proven equal to `scalar` to rounding error, and tens to hundreds of times faster
(chapter 5 measures it).

Same engine functions, arguments and contracts as `scalar` (`init_params`, `params_from`,
`gate_value`, `Adam`, `train_phase1`, `train_phase2`, `sample_single`, `sample_parallel`),
on a dict name -> 2-D array, so the two swap freely; plus what only a
fast engine makes practical: batched losses and gradients, log-probabilities under a notes
hook, and a record of SNC's input and output.

  params   the parameters: conversions, checks, the gate, their arrangement for a forward
  layers   rmsnorm, softmax, attention, ... each a forward with its backward
  model    a block of streams x positions through the GPT, forward and backward
  bus      the notes bus as arrays, what a block reads, which streams run together
  loss     teacher-forced losses and gradients; per-token log-probs; SNC traces
  train    Adam and the two training phases
  sample   decoding: one stream, or several through the bus

This file's exports are the engine's API: they check the values they are given (token
ids, decode settings, parameters' shapes) and trust their types (a ModelConfig is one);
the modules' other names are its internals, called with checked arguments. `softmax`,
`log_softmax` and `round_passes` (the forward passes a decode's rounds take) are exported
for the study and the figures, which use no internal module; `gpt_trace` (the attention
weights and residual sizes of a forward pass) for the page's look-through view.
"""
from .bus import round_passes
from .layers import log_softmax, softmax
from .loss import doc_loss_and_grads, docs_loss_and_grads, snc_trace, streams_log_probs, streams_loss_and_grads
from .model import gpt_sequence, gpt_trace
from .params import check_params, gate_value, init_params, params_from
from .sample import sample_parallel, sample_single
from .train import Adam, train_phase1, train_phase2

__all__ = ['Adam', 'check_params', 'doc_loss_and_grads', 'docs_loss_and_grads', 'gate_value', 'gpt_sequence', 'gpt_trace',
           'init_params', 'log_softmax', 'params_from', 'round_passes', 'sample_parallel', 'sample_single',
           'snc_trace', 'softmax', 'streams_log_probs', 'streams_loss_and_grads', 'train_phase1', 'train_phase2']
