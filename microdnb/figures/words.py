"""How a figure says what it shows: the small wording helpers of alt text.

Every figure function sets `fig.microdnb_alt`, a sentence or two computed from the data it
drew (shown as the image's alt text by `display.show` and `display.png`).
"""


def quote_token(label):
    """A token as the alt text names it: 'a', or BOS / end written out."""
    return f"'{label}'" if len(label) == 1 else label


def join_and(items):
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ', '.join(items[:-1]) + ' and ' + items[-1]


def positions_text(ps):
    return join_and([str(p) for p in ps]) if ps else ''


def prob_text(p):
    """A probability to two decimals, and "below 0.01" rather than a misleading 0.00."""
    return f"{p:.2f}" if p >= 0.005 else "below 0.01"


def lead(title):
    """A figure's title as the first sentence of its alt text."""
    return f"{title.rstrip('.')}. " if title else ''
