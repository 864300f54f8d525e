"""What the experiments measure on a trained model: held-out loss under a condition, the
size of SNC's output, sampled groups and the task metric on them, and one stream writing
the whole name. Numpy engine throughout; deterministic in the given rngs."""
import random

import numpy as np

from .. import vector
from . import controls, tasks


def evaluate(params, cfg, bcfg, token_groups, condition, names=None, repaired_groups=None):
    """Held-out loss of `token_groups` under `condition` (see controls.DESCRIPTIONS).

    names: one string per group, what the group writes ('shuffled' takes notes from a
    group that writes something else). repaired_groups: for 'repaired', the re-paired
    token groups (same streams, other partners).
    Returns {'loss' (mean per token), 'by_stream' (mean per token of each stream),
    'nats_per_group', 'n_tokens'}, and for 'shuffled' 'fallbacks' and 'dropped_notes'.
    """
    losses, report = controls.losses_under(params, cfg, bcfg, token_groups, condition, names, repaired_groups)
    k = len(token_groups[0])
    sums, counts = np.zeros(k), np.zeros(k)
    for streams in losses:
        for s, nll in enumerate(streams):
            sums[s] += nll.sum()
            counts[s] += len(nll)
    return {'loss': float(sums.sum() / counts.sum()), 'by_stream': (sums / counts).tolist(),
            'nats_per_group': float(sums.sum() / len(losses)), 'n_tokens': int(counts.sum()), **report}


def snc_delta_norm(task, params, cfg, bcfg, tokenizer, groups, rng, temperature):
    """Mean length |SNC delta| of what SNC adds to the residual stream, over every decoding
    step that read at least one note, when the groups are sampled (with their start letters).

    The gate is only one factor of SNC's output; this measures the output itself, so that
    a gate that barely moves can be told apart from an SNC that does nothing.
    """
    norms = []
    for g in groups:
        trace = vector.sample_parallel(params, cfg, bcfg, tokenizer, rng, temperature, record=True,
                                       starts=tasks.starts(task, g))
        for event in trace['events']:
            if event['notes']:
                norms.extend(float(np.linalg.norm(d)) for d in event['snc_delta'])
    return float(np.mean(norms)) if norms else 0.0


def sample_groups(task, params, cfg, bcfg, tokenizer, groups, rng, temperature, hook=None, gate=None):
    """Sample one parallel decode per group (with the start letters the task gives), drawing
    from `rng` (a random.Random); gate: None (as trained) or the gate value in [0, 1] to
    sample with. Returns the texts each stream wrote (its start letter included), the rounds
    and the token steps of each decode."""
    if not isinstance(rng, random.Random):
        raise ValueError(f"rng must be a random.Random, got {type(rng).__name__}")
    out = []
    for g in groups:
        trace = vector.sample_parallel(params, cfg, bcfg, tokenizer, rng, temperature,
                                       starts=tasks.starts(task, g), notes_hook=hook, gate=gate)
        out.append({'texts': trace['texts'],
                    'rounds': trace['rounds'], 'steps': trace['steps']})
    return out


def task_metric(task, samples, known_names):
    """What the task asks for, measured on sampled groups:

    copied      followers that wrote exactly the leader's name (copy)
    first       followers whose first letter is the leader's (copy)
    same_chars  characters equal to the leader's at the same place, over the longer name (copy)
    real        groups whose joined text is a name of the dataset (split), or names
                that are (independent)
    duplicates  groups in which two streams wrote the same text (independent)
    """
    known = set(known_names)
    if task == 'copy':
        pairs = [(s['texts'][0], t) for s in samples for t in s['texts'][1:]]
        return {'copied': float(np.mean([a == b for a, b in pairs])),
                'first': float(np.mean([a[:1] == b[:1] for a, b in pairs])),
                'same_chars': float(np.mean([sum(x == y for x, y in zip(a, b)) / max(len(a), len(b), 1)
                                             for a, b in pairs]))}
    if task == 'split':
        return {'real': float(np.mean([''.join(s['texts']) in known for s in samples]))}
    return {'real': float(np.mean([t in known for s in samples for t in s['texts']])),
            'duplicates': float(np.mean([len(set(s['texts'])) < len(s['texts']) for s in samples]))}


def sequential_nats(params, cfg, tokenizer, name):
    """Summed next-token loss (nats) of one stream writing `name` alone, token after token."""
    tokens = tokenizer.encode(name)
    logits, _ = vector.gpt_sequence(params, cfg, tokens[:-1])
    return float(controls.next_token_losses(tokens, vector.log_softmax(logits)).sum())
