"""Turning a figure's inputs into arrays: one-line errors for bad input, and small transforms.

Inputs may be plain floats, numpy arrays or `Value`s (their `.data` is used).
"""
import matplotlib.pyplot as plt
import numpy as np

from ..scalar import Value


def as_float(x):
    """A float from a number or a `Value` (its .data)."""
    return float(x.data) if isinstance(x, Value) else float(x)


def floats(xs, name):
    """A 1-D float array from floats / Values; a clear error otherwise."""
    try:
        arr = np.array([as_float(x) for x in xs], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers (or Values)") from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty: nothing to plot")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def matrix(rows, name):
    """A 2-D float array from a list of rows of floats / Values."""
    try:
        arr = np.array([[as_float(x) for x in row] for row in rows], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of equal-length rows of numbers") from None
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D table of numbers, got shape {arr.shape}")
    return arr


def new_axes(figsize, ax=None):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def check_docs(docs):
    if isinstance(docs, str) or not docs or not all(isinstance(d, str) for d in docs):
        raise ValueError("docs must be a non-empty list of strings (e.g. from data.load_docs())")


def smooth(values, window):
    """Trailing moving average over `window` steps (shorter at the start, so no step is lost)."""
    x = floats(values, 'values')
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)
