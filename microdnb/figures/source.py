"""The package's own source, shown in a chapter: the book displays code, it never copies it.

`show_source` takes functions, classes or modules; `lines=` keeps only the lines that
matter (a long function shown to point at a few lines shows those lines).
"""
import html
import inspect

from IPython.display import HTML, Code


def show_source(*objs, lines=None):
    """The package's own source of functions/classes/modules, syntax-highlighted, for a notebook.

    Chapters show code this way, never as a copy, so the book cannot drift from the package.
    lines=(first, last) keeps only those lines (1-based, inclusive, counted from the `def`
    or `class` line) of a single object, with an elided marker where lines were left out.
    """
    if not objs:
        raise ValueError("show_source needs at least one function, class or module")
    try:
        sources = [inspect.getsource(o).rstrip('\n') for o in objs]
    except TypeError:
        raise ValueError("show_source takes functions, classes, methods or modules "
                         f"(got {', '.join(type(o).__name__ for o in objs)})") from None
    if lines is not None:
        sources = [_excerpt(sources, lines)]
    return Code('\n\n'.join(sources), language='python')


def _excerpt(sources, lines):
    if len(sources) != 1:
        raise ValueError(f"lines= excerpts one object, got {len(sources)}")
    text = sources[0].split('\n')
    if (not isinstance(lines, tuple) or len(lines) != 2
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in lines)
            or not 1 <= lines[0] <= lines[1] <= len(text)):
        raise ValueError(f"lines must be a pair (first, last) with 1 <= first <= last <= {len(text)}, "
                         f"got {lines!r}")
    first, last = lines
    kept = text[first - 1:last]
    indent = min((len(t) - len(t.lstrip()) for t in kept if t.strip()), default=0)
    # the def line stays as the reader's anchor; a comment marks what was left out
    head = [text[0], ' ' * indent + '# ...'] if first > 2 else text[:first - 1]
    tail = [' ' * indent + '# ...'] if last < len(text) else []
    return '\n'.join(head + kept + tail)


def show_side_by_side(left, right, titles=None):
    """Two pieces of the package's source next to each other (e.g. scalar vs numpy), for a notebook.

    left, right: a function/class or a tuple of them. titles: two column headings.
    """
    if titles is not None and len(titles) != 2:
        raise ValueError(f"titles must be two strings, got {titles!r}")
    cols = []
    for i, objs in enumerate((left, right)):
        objs = objs if isinstance(objs, tuple) else (objs,)
        heading = f"<div><b>{html.escape(titles[i])}</b></div>" if titles else ''
        body = show_source(*objs)._repr_html_()
        cols.append(f'<div style="flex: 1 1 0; min-width: 0; overflow-x: auto; font-size: 0.8em">'
                    f'{heading}{body}</div>')
    return HTML('<div style="display: flex; gap: 1em; align-items: flex-start">' + ''.join(cols) + '</div>')
