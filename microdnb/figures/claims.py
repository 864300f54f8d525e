"""Claims the prose makes, checked where they are computed.

A chapter states a measured number by gluing it. It states a *claim* (most, all, none,
few, stays shut, opens, faster, "the plan seed's work") with `claim`: the condition behind
the sentence, the sentence itself, and the numbers the sentence quotes. `claim` glues the
numbers and raises `ClaimError` when the condition is false, so a claim that stops being
true stops the book build (jupyter-book -W) and nbval, naming the claim and its numbers.

Typical use in a chapter (a collapsed cell, next to the computation)::

    from microdnb.figures.claims import claim
    claim('ch7_heads_on_notes', n_on_notes > n_head / 2,
          'most heads put their largest weight on the notes', n=n_on_notes, of=n_head)

and in the markdown: ``{glue:text}`ch7_heads_on_notes_n` of the
{glue:text}`ch7_heads_on_notes_of` heads ...``. Summaries restate claims checked this way;
they make no new ones.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ['ClaimError', 'claim']


class ClaimError(AssertionError):
    """A claim of the prose that the computation does not support."""


def claim(name: str, holds, says: str, **quoted) -> None:
    """Check that `holds` (the claim's condition, a bool) is true; glue each number of
    `quoted` as ``f'{name}_{key}'``; raise ClaimError naming the claim and its numbers if not."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"claim name must be an identifier such as 'ch7_heads_on_notes', got {name!r}")
    if not isinstance(holds, (bool, np.bool_)):
        raise ValueError(f"claim {name!r}: its condition must be a bool (e.g. a comparison), "
                         f"got {type(holds).__name__}")
    if not isinstance(says, str) or not says.strip():
        raise ValueError(f"claim {name!r}: says must be the sentence the prose makes, got {says!r}")
    for key, value in quoted.items():
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
            raise ValueError(f"claim {name!r}: quoted {key}= must be a number or a string, "
                             f"got {type(value).__name__}")
    if not holds:
        numbers_text = ', '.join(f'{k}={v!r}' for k, v in quoted.items()) or 'no numbers quoted'
        raise ClaimError(f"claim {name!r} is false: {says!r} does not hold ({numbers_text})")
    from myst_nb import glue   # the book's glue; imported here so the package does not need it
    for key, value in quoted.items():
        # a numpy scalar as the Python number, whose text ({glue:text}`x:.3f`) formats
        glue(f'{name}_{key}', value.item() if hasattr(value, 'item') else value, display=False)
