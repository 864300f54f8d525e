"""microdnb.figures.widgets: structure, browser-side links, accessibility hooks and input validation."""
import base64
import html
import re
import struct
import zlib

import ipywidgets as W
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from microdnb.figures import display  # noqa: E402
from microdnb.figures.widgets import scrubber  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(tag, alt=True):
    """Stand-in PNG bytes (the widget only stores them) with a Description, as display.png writes."""
    text = b"" if not alt else _chunk(b"tEXt", b"Description\0frame " + str(tag).encode())
    return PNG_MAGIC + text + _chunk(b"IEND", b"") + str(tag).encode()


def _frame_png(frame):
    """The PNG bytes and the alt text of a frame (an HTML widget holding one <img>)."""
    m = re.fullmatch(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)" width="\d+" height="\d+" '
                     r'style="display: block; max-width: 100%; height: auto">', frame.value)
    assert m, frame.value[:200]
    return base64.b64decode(m.group(1)), html.unescape(m.group(2))


def _links():
    # every live widget (jslink's Link objects included) is in ipywidgets' registry
    from ipywidgets.widgets.widget import _instances
    from ipywidgets.widgets.widget_link import Link
    return [w for w in list(_instances.values()) if isinstance(w, Link)]


def _linked(source, target):
    return any(l.source == (source, "value") and l.target == (target, "selected_index")
               for l in _links())


def _parts(box):
    sliders = [w for row in box.children if isinstance(row, W.HBox)
               for w in row.children if isinstance(w, W.IntSlider)]
    return sliders, box.children[-1]


def test_png_is_deterministic_and_closes():
    def fig():
        f, ax = plt.subplots(figsize=(2, 1))
        ax.plot([0, 1, 2], [1, 0, 1])
        return f
    a, b = display.png(fig(), alt='a line'), display.png(fig(), alt='a line')
    assert a.startswith(PNG_MAGIC) and a == b
    assert plt.get_fignums() == []


def test_one_axis():
    values = [1, 2, 4, 8]
    box = scrubber({v: _png(v) for v in values}, [("cadence", values)], title="t")
    (slider,), stack = _parts(box)
    assert isinstance(box.children[0], W.HTML)
    assert (slider.min, slider.max, slider.value) == (0, 3, 0)
    assert isinstance(stack, W.Stack) and len(stack.children) == 4
    assert [_frame_png(f)[0] for f in stack.children] == [_png(v) for v in values]
    assert _linked(slider, stack)
    # the readout shows the real values, linked to the same slider
    readout = box.children[1].children[1]
    assert [h.value for h in readout.children] == [f"<b>{v}</b>" for v in values]
    assert _linked(slider, readout)


def test_two_axes_nested_and_linked():
    c, l = [1, 2, 3], [0, 1]
    box = scrubber({(a, b): _png((a, b)) for a in c for b in l}, [("cadence", c), ("lag", l)])
    (s1, s2), outer = _parts(box)
    assert (s1.max, s2.max) == (2, 1)
    assert len(outer.children) == len(l) and _linked(s2, outer)
    for j, inner in enumerate(outer.children):
        assert _linked(s1, inner)
        assert [_frame_png(f)[0] for f in inner.children] == [_png((a, l[j])) for a in c]


def test_frames_carry_their_alt_text_and_the_a11y_classes():
    values = [1, 2]
    box = scrubber({v: _png(v) for v in values}, [("cadence", values)], title="t")
    (slider,), stack = _parts(box)
    # each frame's description (from its PNG) is its <img>'s alt
    assert [_frame_png(f)[1] for f in stack.children] == ["frame 1", "frame 2"]
    assert all(isinstance(f, W.HTML) and "microdnb-scrubber-frame" in f._dom_classes for f in stack.children)
    assert "microdnb-scrubber" in box._dom_classes
    assert "microdnb-scrubber-frames" in stack._dom_classes
    assert "microdnb-scrubber-title" in box.children[0]._dom_classes
    row = box.children[1]
    assert "microdnb-scrubber-row" in row._dom_classes
    assert "microdnb-scrubber-readout" in row.children[1]._dom_classes
    # the slider is named by its visible label (what it sets)
    assert slider.description == "cadence" and "microdnb-scrubber-slider" in slider._dom_classes


def test_a_frame_without_alt_text_is_refused():
    with pytest.raises(ValueError, match=r"frame 2 has no alternative text.*display\.png"):
        scrubber({1: _png(1), 2: _png(2, alt=False)}, [("x", [1, 2])])


def test_real_frames_from_display_png():
    def fig(v):
        f, ax = plt.subplots(figsize=(2, 1))
        ax.plot([0, 1], [0, v])
        f.microdnb_alt = f"A line rising to {v}."
        return f
    box = scrubber({v: display.png(fig(v)) for v in (1, 2)}, [("height", [1, 2])])
    _, stack = _parts(box)
    assert [_frame_png(f)[1] for f in stack.children] == ["A line rising to 1.", "A line rising to 2."]
    # quotes and markup in a description are escaped, not injected
    box = scrubber({1: display.png(fig(1), alt='a "quoted" <b>word</b> & more')}, [("h", [1])])
    assert _frame_png(_parts(box)[1].children[0])[1] == 'a "quoted" <b>word</b> & more'
    assert '<b>' not in _parts(box)[1].children[0].value
    assert plt.get_fignums() == []


def test_live_kernel_behaviour_python_side():
    # jslink is a browser-side link; in Python the structure is what we can check:
    # index i of the stack is the frame of values[i].
    values = ["a", "b"]
    box = scrubber({v: _png(v) for v in values}, [("x", values)])
    (slider,), stack = _parts(box)
    slider.value = 1
    assert _frame_png(stack.children[1])[0] == _png("b")


@pytest.mark.parametrize("frames, axes, match", [
    ({}, [], "non-empty"),
    ({}, [("x", [])], "no values"),
    ({1: _png(1)}, [("x", [1, 2])], r"no frame for x=2"),
    ({(1, 0): _png(1)}, [("x", [1]), ("y", [0, 1])], r"no frame for x=1, y=1"),
    ({1: b""}, [("x", [1])], "non-empty PNG"),
    ({1: _png(1, alt=False)}, [("x", [1])], "no alternative text"),
    ({1: _png(1), 5: _png(5)}, [("x", [1])], "not on the axes"),
    ({1: _png(1)}, [("x", [1, 1])], "repeated"),
    ({1: _png(1)}, [("x", [1]), ("y", [1]), ("z", [1])], "at most 2"),
    ({1: _png(1)}, ["x"], r"\(label, values\)"),
])
def test_validation(frames, axes, match):
    with pytest.raises(ValueError, match=match):
        scrubber(frames, axes)
