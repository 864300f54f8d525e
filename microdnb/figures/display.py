"""Showing a figure with its alternative text: on the book's pages, in JupyterLab, in a widget frame.

Every figure function of the package describes what it drew in a sentence or two
computed from its inputs and stores it as ``fig.microdnb_alt`` (for example "Histogram
of 32,033 name lengths: ..."). This module carries that text to the reader:

- ``show(fig)`` displays the figure as an ``<img>`` whose ``alt`` is that text (an HTML
  output: myst-nb copies it into the built page as is, and JupyterLab shows it the
  same way), with the text itself as the ``text/plain`` alternative; then closes it.
- ``png(fig)`` renders PNG bytes for a widget frame with the text stored in the PNG's
  standard ``Description`` field, where ``widgets.scrubber`` reads it back: the
  description travels inside the image, so it cannot be separated from its frame.

Typical use in a chapter::

    from microdnb.figures.display import png, show

    show(dataset.name_lengths(docs, block_size=16))
    frames = {T: png(decoding.temperature_frame(probs, labels, names, T)) for T in temps}

The PNG bytes are deterministic for a given figure (no "Software" stamp, no time), so
re-running a chapter reproduces its stored outputs exactly.
"""
from __future__ import annotations

import base64
import html
import io
import struct
import zlib

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["ALT_ATTR", "alt_text", "contrast", "png", "png_description", "show", "text_color"]

ALT_ATTR = "microdnb_alt"   # the attribute every figure function sets
DPI = 100                   # 8 in at 100 dpi = 800 px: about the book column at 1x


def alt_text(fig: Figure, alt: str | None = None) -> str:
    """The alternative text of `fig`: `alt` if given, else what its drawing function set."""
    text = alt if alt is not None else getattr(fig, ALT_ATTR, None)
    text = " ".join(str(text).split()) if text is not None else ""
    if not text:
        raise ValueError(
            "this figure has no alternative text: its drawing function must set "
            f"fig.{ALT_ATTR} (say what the reader should see, computed from the data), "
            "or pass one explicitly, show(fig, alt='...')")
    return text


def _luminance(color) -> float:
    from matplotlib.colors import to_rgb

    def channel(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in to_rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg, bg="white") -> float:
    """The WCAG 2.1 contrast ratio of two colours (1 to 21)."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def text_color(color, on="white", ratio=4.5):
    """`color` darkened towards black, same hue, until text in it has `ratio`:1 contrast
    on `on` (WCAG AA for normal text): stream-coloured labels stay readable."""
    from matplotlib.colors import to_hex, to_rgb
    rgb = to_rgb(color)
    for k in range(101):
        shade = tuple(c * (1 - k / 100) for c in rgb)
        if contrast(shade, on) >= ratio:
            return to_hex(shade)
    return "#000000"


def _check_figure(fig) -> None:
    if not isinstance(fig, Figure):
        raise ValueError(f"expected a matplotlib Figure, got {type(fig).__name__}")


def _check_colors(colors) -> None:
    if colors is not None and (isinstance(colors, bool) or not isinstance(colors, int) or not 2 <= colors <= 256):
        raise ValueError(f"colors must be None or a whole number of palette colours in [2, 256], got {colors!r:.40}")


def _palette(data: bytes, colors: int, description: str | None) -> bytes:
    """The PNG `data` with at most `colors` colours (a palette, alpha kept, no dithering):
    a figure's flat fills and anti-aliased lines need few, and the file shrinks about 2.5
    times (chapter 4's figures and frames, which keep its page under 700 kB beside the trainer)."""
    from PIL import Image, PngImagePlugin
    image = Image.open(io.BytesIO(data))
    info = PngImagePlugin.PngInfo()
    if description is not None:
        info.add_itxt("Description", description)
    out = io.BytesIO()
    image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        out, format="PNG", optimize=True, pnginfo=info, dpi=image.info.get("dpi", (DPI, DPI)))
    return out.getvalue()


def _render(fig: Figure, dpi: int, description: str | None, tight: bool, colors: int | None = None) -> bytes:
    buf = io.BytesIO()
    metadata = {"Software": None}
    if description is not None:
        metadata["Description"] = description
    try:
        fig.savefig(buf, format="png", dpi=dpi, metadata=metadata,
                    **({"bbox_inches": "tight", "pad_inches": 0.05} if tight else {}))
    finally:
        plt.close(fig)
    return buf.getvalue() if colors is None else _palette(buf.getvalue(), colors, description)


def png(fig: Figure, dpi: int = DPI, alt: str | None = None, colors: int | None = None) -> bytes:
    """PNG bytes of `fig` (closed afterwards) with its alternative text as the PNG
    ``Description``: what a widget frame needs (see `widgets.scrubber`). colors: at most
    this many palette colours (2-256; None: full colour), for a lighter page."""
    _check_figure(fig)
    _check_colors(colors)
    return _render(fig, dpi, alt_text(fig, alt), tight=False, colors=colors)


def png_description(data: bytes) -> str | None:
    """The ``Description`` text stored in PNG bytes (tEXt, zTXt or iTXt chunk), or None."""
    data = bytes(data)
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            break
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        key, _, rest = body.partition(b"\0")
        if key != b"Description":
            continue
        try:
            if kind == b"tEXt":
                return rest.decode("latin-1")
            if kind == b"zTXt":
                return zlib.decompress(rest[1:]).decode("latin-1")
            compressed, rest = rest[0], rest[2:]          # flag, method, then
            _lang, _, rest = rest.partition(b"\0")        # language tag,
            _tkey, _, text = rest.partition(b"\0")        # translated keyword, text
            return (zlib.decompress(text) if compressed else text).decode("utf-8")
        except (zlib.error, UnicodeDecodeError, IndexError):
            return None
    return None


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


class _FigureOutput:
    """What `show` displays: an <img> with alt text for HTML front ends, the text otherwise."""

    def __init__(self, data: bytes, alt: str, dpi: int = DPI):
        self.data, self.alt, self.dpi = data, alt, dpi

    def _repr_mimebundle_(self, include=None, exclude=None):
        # shown at 100 px per inch whatever the rendering dpi: a 150-dpi image is sharper,
        # not bigger
        width, height = (round(n * DPI / self.dpi) for n in _png_size(self.data))
        src = "data:image/png;base64," + base64.b64encode(self.data).decode("ascii")
        img = (f'<img class="microdnb-figure" src="{src}" alt="{html.escape(self.alt, quote=True)}" '
               f'width="{width}" height="{height}" style="max-width: 100%; height: auto">')
        return {"text/html": img, "text/plain": self.alt}

    def __repr__(self):
        return self.alt


def show(fig: Figure, alt: str | None = None, dpi: int = DPI, colors: int | None = None) -> None:
    """Display `fig` once, as an image with its alternative text, then close it.

    alt: overrides the text set by the figure's drawing function (``fig.microdnb_alt``);
    one of the two is required. colors: as for `png`.
    """
    _check_figure(fig)
    _check_colors(colors)
    text = alt_text(fig, alt)
    from IPython.display import display
    display(_FigureOutput(_render(fig, dpi, None, tight=True, colors=colors), text, dpi))
