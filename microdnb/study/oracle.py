"""A counting oracle for the split task: how much could stream 1 gain from what the notes
hold, if it could use them perfectly? No network: probabilities are counts."""
import math
from collections import Counter, defaultdict

from . import tasks

VISIBLE = ('none', 'bus', 'all')


def split_counting_loss(train_names, eval_names, visible='bus', prior=5.0):
    """How well a counting model (no network) predicts stream 1 of the 2-stream split task.

    Stream 1 writes the second half of a name. Its token j+1 is predicted from its own
    tokens 1..j and from what it can know of the first half:
      visible='none'  nothing (SNC reads no note: the condition 'trunk')
      visible='bus'   the first half's first j characters: what stream 0's notes hold in
                      round j with cadence 1 and lag 0 (a note holds the tokens up to its round)
      visible='all'   the whole first half (as if stream 0 had finished first)
    Probabilities are counts of (context, next token) in `train_names`, interpolated with
    the 'none' model (and that one with character frequencies) with weight `prior`.
    Returns the mean loss per token (nats) over `eval_names`.
    """
    if visible not in VISIBLE:
        raise ValueError(f"visible must be one of {VISIBLE}, got {visible!r}")
    if not train_names or not eval_names:
        raise ValueError("split_counting_loss needs training names and names to evaluate on")

    def events(names, what):
        for name in names:
            if len(name) < 2:
                continue
            first, second = tasks.split_name(name, 2)
            target = second + '.'  # '.' stands for the closing BOS
            for j, ch in enumerate(target):
                seen = {'none': '', 'bus': first[:j], 'all': first}[what]
                yield (seen, second[:j]), ch

    freq = Counter(ch for n in train_names for ch in n + '.')
    total = sum(freq.values())
    alphabet = len(freq) + 1

    def p_char(ch):
        return (freq[ch] + 1) / (total + alphabet)

    def fit(what):
        table = defaultdict(Counter)
        for ctx, ch in events(train_names, what):
            table[ctx][ch] += 1
        return table

    own = fit('none')

    def p_own(ctx, ch):
        c = own.get(('', ctx[1]), Counter())
        return (c[ch] + prior * p_char(ch)) / (sum(c.values()) + prior)

    table = own if visible == 'none' else fit(visible)
    nll, n = 0.0, 0
    for ctx, ch in events(eval_names, visible):
        c = table.get(ctx, Counter())
        back = p_char(ch) if visible == 'none' else p_own(ctx, ch)
        nll -= math.log((c[ch] + prior * back) / (sum(c.values()) + prior))
        n += 1
    return nll / n
