"""Scrubbable figures that work without a kernel.

A slider wired to a Python callback (``interact``, ``interactive_output``) needs a
running kernel: on the static HTML page the slider moves but the figure never
changes. Here every slider position is computed *before* the page is built: one PNG
frame per position, held in ``ipywidgets.Image`` widgets inside an
``ipywidgets.Stack``, and the slider's ``value`` is ``jslink``-ed to the Stack's
``selected_index``. The link lives in the browser, and the widget state (frames
included) is saved with the notebook, so the page works with no kernel at all, and
in a live notebook just the same.

Typical use in a chapter::

    from microdnb.figures.display import png
    from microdnb.figures.widgets import scrubber

    cadences, lags = [1, 2, 3, 4], [0, 1]
    frames = {(c, l): png(plot_bus(cadence=c, lag=l)) for c in cadences for l in lags}
    scrubber(frames, [("cadence", cadences), ("lag", lags)], title="Who sees which note")

The sliders are ``IntSlider``s over positions ``0..n-1`` (an index is what a Stack
understands); the real value of each axis is shown next to its slider by a second,
equally linked Stack of labels.

Accessibility: every frame carries its alternative text, which `display.png` stores in
the PNG's ``Description`` field from the figure's ``microdnb_alt``. A frame is an
``HTML`` widget holding ``<img alt="...">`` (an ``Image`` widget has no alt, and its
``tooltip`` breaks the view in ipywidgets 8.1: jupyter-widgets/ipywidgets#3921), so the
description is the image's alt wherever the widget is drawn. What ipywidgets cannot do,
the book's page script `_theme/microdnb-a11y.js` does: it names each slider handle after
its label, gives it the axis value as ``aria-valuetext``, and announces each new setting
and frame in a polite live region; the DOM classes set here (``microdnb-scrubber*``) are
what it looks for.
"""
from __future__ import annotations

import base64
import html
import struct
from typing import Any, Hashable, Mapping, Sequence

import ipywidgets as W

from .display import png_description

__all__ = ["scrubber"]


def _check_axes(axes) -> list[tuple[str, list]]:
    if not isinstance(axes, (list, tuple)) or not axes:
        raise ValueError("scrubber: axes must be a non-empty list of (label, values) pairs")
    if len(axes) > 2:
        raise ValueError(f"scrubber: at most 2 axes are supported, got {len(axes)}")
    checked = []
    for axis in axes:
        if not (isinstance(axis, (list, tuple)) and len(axis) == 2):
            raise ValueError(f"scrubber: each axis must be a (label, values) pair, got {axis!r}")
        label, values = axis
        values = list(values)
        if not values:
            raise ValueError(f"scrubber: axis {label!r} has no values")
        if len(set(values)) != len(values):
            raise ValueError(f"scrubber: axis {label!r} has repeated values {values!r}")
        checked.append((str(label), values))
    return checked


def _frame(frames: Mapping[Any, bytes], key: Hashable, axes) -> W.HTML:
    if key not in frames:
        where = ", ".join(f"{label}={v!r}" for (label, _), v in
                          zip(axes, key if isinstance(key, tuple) else (key,)))
        raise ValueError(f"scrubber: no frame for {where} (key {key!r})")
    png = frames[key]
    if not isinstance(png, (bytes, bytearray)) or not png:
        raise ValueError(f"scrubber: frame {key!r} must be non-empty PNG bytes (use display.png)")
    alt = png_description(png)
    if not alt:
        raise ValueError(f"scrubber: frame {key!r} has no alternative text: render it with "
                         "microdnb.figures.display.png(fig), from a figure whose drawing "
                         "function sets fig.microdnb_alt (or png(fig, alt='...'))")
    width, height = struct.unpack(">II", bytes(png[16:24]))
    src = "data:image/png;base64," + base64.b64encode(bytes(png)).decode("ascii")
    frame = W.HTML(f'<img src="{src}" alt="{html.escape(alt, quote=True)}" width="{width}" '
                   f'height="{height}" style="display: block; max-width: 100%; height: auto">')
    frame.add_class("microdnb-scrubber-frame")
    return frame


def _slider(label: str, values: list, label_width: str) -> tuple[W.IntSlider, W.Stack, W.HBox]:
    """An index slider plus a readout Stack showing the real value at each index."""
    slider = W.IntSlider(value=0, min=0, max=len(values) - 1, step=1,
                         description=label, readout=False, continuous_update=True,
                         layout=W.Layout(width="360px"),
                         style={"description_width": label_width})
    readout = W.Stack([W.HTML(f"<b>{html.escape(str(v))}</b>") for v in values], selected_index=0)
    W.jslink((slider, "value"), (readout, "selected_index"))
    slider.add_class("microdnb-scrubber-slider")
    readout.add_class("microdnb-scrubber-readout")
    row = W.HBox([slider, readout])
    row.add_class("microdnb-scrubber-row")
    return slider, readout, row


def scrubber(frames: Mapping[Any, bytes], axes: Sequence[tuple[str, Sequence]],
             title: str | None = None) -> W.VBox:
    """A figure with one or two sliders, each position showing a precomputed frame.

    frames: PNG bytes per position, each with its alternative text (from
        ``display.png(fig)``). With one axis, keys are that axis's values;
        with two axes, keys are ``(value1, value2)`` tuples. Every combination
        must be present (a missing one raises ValueError naming it).
    axes: ``[(label, values)]`` or ``[(label1, values1), (label2, values2)]``.
    title: optional heading shown above the sliders.

    Returns a ``VBox``; display it (or leave it as a cell's last expression).
    The sliders are linked in the browser (``jslink``), so the widget keeps
    working on the static HTML page with no kernel.
    """
    axes = _check_axes(axes)
    if not isinstance(frames, Mapping):
        raise ValueError("scrubber: frames must be a mapping from axis values to PNG bytes")
    (label1, values1) = axes[0]
    # one label width for all sliders, so their tracks line up
    label_width = f"{max(len(label) for label, _ in axes) + 2}ch"
    slider1, _, row1 = _slider(label1, values1, label_width)
    rows = [row1]

    def inner(v2=None) -> W.Stack:
        keys = [v1 if v2 is None else (v1, v2) for v1 in values1]
        stack = W.Stack([_frame(frames, k, axes) for k in keys], selected_index=0)
        W.jslink((slider1, "value"), (stack, "selected_index"))
        return stack

    if len(axes) == 1:
        expected = set(values1)
        view = inner()
    else:
        label2, values2 = axes[1]
        slider2, _, row2 = _slider(label2, values2, label_width)
        rows.append(row2)
        expected = {(a, b) for a in values1 for b in values2}
        view = W.Stack([inner(v2) for v2 in values2], selected_index=0)
        W.jslink((slider2, "value"), (view, "selected_index"))
    extra = set(frames) - expected
    if extra:
        raise ValueError(f"scrubber: frames for values not on the axes: {sorted(map(repr, extra))[:5]}")

    view.add_class("microdnb-scrubber-frames")
    parts = rows + [view]
    if title:
        heading = W.HTML(f"<b>{html.escape(title)}</b>")
        heading.add_class("microdnb-scrubber-title")
        parts.insert(0, heading)
    box = W.VBox(parts)
    box.add_class("microdnb-scrubber")
    return box
