"""Drawing primitives shared by the diagrams: the light card, boxes, arrows, residual
additions (a chapter shows a diagram with its alt text through `display.show`, like any figure).

Every diagram sits on its own light card (rounded, bordered, transparent outside it),
with dark text inside pale tints of the Okabe-Ito colours. Why a card and not a
transparent drawing: pydata-sphinx-theme already puts every output image on a light
panel in dark mode (`div.cell_output img {background-color: var(--pst-color-text-base)}`),
so a transparent drawing would never be seen on the dark page in the book, while a
JupyterLab dark theme adds no panel at all. With the card a diagram reads the same in
both, and matches the book's other figures, which are opaque and white.

Each part carries a gid ('box:<name>', 'arrow:<from>-><to>', 'add:<name>') so a test
can count what a diagram draws (`gids`).
"""
from typing import NamedTuple

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgb
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from .style import BLUE, GREEN, GREY, ORANGE, PURPLE, VERMILLION, WIDTH

INK, MUTED = '#1a1d21', '#46505a'           # text; secondary text and the residual line
CARD, CARD_EDGE = '#fcfcfd', '#8d98a5'      # the light card every diagram sits on
TRUNK, NORM, SNC, BUS, PLAN, GATE = BLUE, GREY, VERMILLION, GREEN, PURPLE, ORANGE
FONT, SMALL, TITLE = 10, 9, 11.5            # points; nothing smaller than 9


class Box(NamedTuple):
    x: float  # centre
    y: float
    w: float
    h: float

    @property
    def top(self): return (self.x, self.y + self.h / 2)
    @property
    def bottom(self): return (self.x, self.y - self.h / 2)
    @property
    def left(self): return (self.x - self.w / 2, self.y)
    @property
    def right(self): return (self.x + self.w / 2, self.y)


def tint(color, amount=0.25):
    """`color` mixed with white: a pale fill on which dark text stays readable."""
    return tuple(1 - amount + amount * c for c in to_rgb(color))


def canvas(height, width=WIDTH):
    """A figure whose single axes span it in inch coordinates, with the light card drawn."""
    fig = plt.figure(figsize=(width, height))
    fig.patch.set_alpha(0.0)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis('off')
    ax.add_patch(FancyBboxPatch((0.04, 0.04), width - 0.08, height - 0.08, gid='card',
                                boxstyle='round,pad=0,rounding_size=0.15', fc=CARD, ec=CARD_EDGE, lw=1, zorder=0))
    return fig, ax


def box(ax, name, x, y, w, h, text, color, fontsize=FONT, dashed=False, fill=0.25):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle='round,pad=0,rounding_size=0.06',
                                fc=tint(color, fill), ec=color, lw=1.3, ls='--' if dashed else '-',
                                zorder=2, gid=f'box:{name}'))
    if text:
        ax.text(x, y, text, ha='center', va='center', fontsize=fontsize, color=INK, zorder=3, linespacing=1.2)
    return Box(x, y, w, h)


def arrow(ax, name, start, end, color=INK, lw=1.3, ls='-', rad=0.0, head=True):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle='-|>' if head else '-', mutation_scale=11, color=color,
                                 lw=lw, ls=ls, shrinkA=0, shrinkB=0, zorder=1.5, gid=f'arrow:{name}',
                                 connectionstyle=f'arc3,rad={rad}'))


def line(ax, points, color=MUTED, lw=1.3, ls='-'):
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=color, lw=lw, ls=ls, zorder=1.4, solid_capstyle='butt')


def plus(ax, name, x, y, r=0.13):
    """A residual addition: the circle that adds a branch's output back onto x."""
    ax.add_patch(Circle((x, y), r, fc=CARD, ec=INK, lw=1.3, zorder=2, gid=f'add:{name}'))
    ax.text(x, y, '+', ha='center', va='center', fontsize=12, color=INK, zorder=3)
    return Box(x, y, 2 * r, 2 * r)


def label(ax, x, y, text, fontsize=SMALL, color=MUTED, **kw):
    ax.text(x, y, text, fontsize=fontsize, color=color, zorder=3, **kw)


def gids(fig, prefix):
    """The gids of every drawn part starting with `prefix` ('box:', 'arrow:', 'add:')."""
    return [p.get_gid() for ax in fig.axes for p in ax.patches if (p.get_gid() or '').startswith(prefix)]
