"""microdnb.widgets: structure, browser-side links and input validation."""
import ipywidgets as W
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from microdnb.widgets import fig_to_png, scrubber  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(tag):
    return PNG_MAGIC + str(tag).encode()  # the widget only stores bytes; no decoding needed


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


def test_fig_to_png_is_deterministic_and_closes():
    def fig():
        f, ax = plt.subplots(figsize=(2, 1))
        ax.plot([0, 1, 2], [1, 0, 1])
        return f
    a, b = fig_to_png(fig()), fig_to_png(fig())
    assert a.startswith(PNG_MAGIC) and a == b
    assert plt.get_fignums() == []


def test_one_axis():
    values = [1, 2, 4, 8]
    box = scrubber({v: _png(v) for v in values}, [("cadence", values)], title="t")
    (slider,), stack = _parts(box)
    assert isinstance(box.children[0], W.HTML)
    assert (slider.min, slider.max, slider.value) == (0, 3, 0)
    assert isinstance(stack, W.Stack) and len(stack.children) == 4
    assert [img.value for img in stack.children] == [_png(v) for v in values]
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
        assert [img.value for img in inner.children] == [_png((a, l[j])) for a in c]


def test_live_kernel_behaviour_python_side():
    # jslink is a browser-side link; in Python the structure is what we can check:
    # index i of the stack is the frame of values[i].
    values = ["a", "b"]
    box = scrubber({v: _png(v) for v in values}, [("x", values)])
    (slider,), stack = _parts(box)
    slider.value = 1
    assert stack.children[1].value == _png("b")


@pytest.mark.parametrize("frames, axes, match", [
    ({}, [], "non-empty"),
    ({}, [("x", [])], "no values"),
    ({1: _png(1)}, [("x", [1, 2])], r"no frame for x=2"),
    ({(1, 0): _png(1)}, [("x", [1]), ("y", [0, 1])], r"no frame for x=1, y=1"),
    ({1: b""}, [("x", [1])], "non-empty PNG"),
    ({1: _png(1), 5: _png(5)}, [("x", [1])], "not on the axes"),
    ({1: _png(1)}, [("x", [1, 1])], "repeated"),
    ({1: _png(1)}, [("x", [1]), ("y", [1]), ("z", [1])], "at most 2"),
    ({1: _png(1)}, ["x"], r"\(label, values\)"),
])
def test_validation(frames, axes, match):
    with pytest.raises(ValueError, match=match):
        scrubber(frames, axes)
