"""How a figure and a table reach the page (figures.display, figures.tables): `show` puts the
figure's description on the <img> as its alt and refuses a figure without one; `png` is
deterministic and carries the description inside the PNG (where the scrubber reads it);
tables have header scopes and a caption."""
import base64
import html
import io
import re

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from microdnb.figures import display, transformer  # noqa: E402


# ---------------------------------------------------------------- display

def test_show_puts_the_alt_text_on_the_img(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    fig = transformer.prob_bars([0.5, 0.5], ['a', 'b'], highlight=1)
    alt = fig.microdnb_alt
    display.show(fig)
    assert not plt.fignum_exists(fig.number)          # closed
    bundle = shown[0]._repr_mimebundle_()
    assert bundle['text/plain'] == alt
    img = bundle['text/html']
    assert f'alt="{html.escape(alt, quote=True)}"' in img
    data = base64.b64decode(re.search(r'base64,([^"]+)"', img).group(1))
    assert data.startswith(b'\x89PNG')
    assert re.search(r'width="\d+" height="\d+"', img)


def test_show_refuses_a_figure_without_alt_text():
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match='alternative text'):
        display.show(fig)
    with pytest.raises(ValueError, match='alternative text'):
        display.png(fig)
    plt.close(fig)


def test_png_is_deterministic_and_carries_its_description():
    def draw():
        fig = transformer.prob_bars([0.2, 0.8], ['a', 'é→'], highlight=1)   # non-Latin-1 text too
        return fig, fig.microdnb_alt
    (f1, alt), (f2, _) = draw(), draw()
    a, b = display.png(f1), display.png(f2)
    assert a == b and a.startswith(b'\x89PNG')
    assert display.png_description(a) == alt and '→' in alt
    assert b'Software' not in a
    assert display.png_description(b'not a png') is None
    fig, _ = plt.subplots()
    plain = io.BytesIO()
    fig.savefig(plain, format='png')
    plt.close(fig)
    assert display.png_description(plain.getvalue()) is None


# ---------------------------------------------------------------- tables

def test_tables_have_header_scopes_and_a_caption():
    from microdnb.figures.tables import Table
    rows = [['condition', 'loss'], ['trunk', '2.1'], ['full', '2.0']]
    plain = Table(rows)._repr_html_()
    assert plain.count('<th scope="col"') == 2 and '<caption' not in plain and 'scope="row"' not in plain
    t = Table(rows, caption='Held-out loss <by condition>', row_headers=True)
    out = t._repr_html_()
    assert '<caption style="caption-side: top; text-align: left">Held-out loss &lt;by condition&gt;</caption>' in out
    assert out.index('<caption') < out.index('<thead>')
    assert out.count('<th scope="row"') == 2 and out.count('<td') == 2
    assert t.text().splitlines()[0] == 'Held-out loss <by condition>'


def test_a_palette_png_is_smaller_looks_the_same_and_keeps_its_description():
    from PIL import Image
    import numpy as np
    fig = transformer.prob_bars([0.2, 0.8], ['a', 'é→'], highlight=1)
    alt = fig.microdnb_alt
    full = display.png(fig)
    fig = transformer.prob_bars([0.2, 0.8], ['a', 'é→'], highlight=1)
    small = display.png(fig, colors=64)
    assert len(small) < len(full) / 2 and display.png_description(small) == alt
    a, b = Image.open(io.BytesIO(full)), Image.open(io.BytesIO(small))
    assert b.mode == 'P' and a.size == b.size
    diff = np.abs(np.asarray(a.convert('RGBA'), float) - np.asarray(b.convert('RGBA'), float))
    assert diff.mean() < 2 and np.mean(diff.max(-1) > 48) < 0.01     # the same picture, to a few levels
    for bad in (1, 257, 2.5, True, '64'):
        with pytest.raises(ValueError, match=r'colors must be None or a whole number of palette colours in \[2, 256\]'):
            display.png(transformer.prob_bars([0.2, 0.8], ['a', 'b']), colors=bad)
    plt.close('all')
