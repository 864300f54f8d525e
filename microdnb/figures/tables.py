"""Tables of results: one `Table` for a notebook (compact HTML) and for plain text."""
import html


class Table:
    """Rows of cells (the first row is the header) shown as a compact HTML table in a
    notebook or on the book's pages, and as aligned plain text everywhere else.

    Wide results tables fit the book column this way: header cells wrap, numbers do not.

    caption: what the table shows, as its <caption> (read first by a screen reader, and
        printed above the plain text). row_headers: the first cell of each row names the
        row (a condition, a setting), so it is a <th scope="row">. Header cells are
        <th scope="col">: a screen reader reads each number with its column and row.
    """

    def __init__(self, rows, caption=None, row_headers=False):
        rows = [list(r) for r in rows]
        if not rows or not rows[0] or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError("Table needs a header row and rows of the same length")
        self.rows = [[str(c) for c in r] for r in rows]
        self.caption = None if caption is None else str(caption)
        self.row_headers = bool(row_headers)

    def text(self):
        widths = [max(len(r[i]) for r in self.rows) for i in range(len(self.rows[0]))]
        lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in self.rows]
        lines.insert(1, '  '.join('-' * w for w in widths))
        if self.caption:
            lines.insert(0, self.caption)
        return '\n'.join(lines)

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        # a column of numbers (or '-') is right-aligned, the rest left-aligned
        right = [i > 0 and all(_numeric(r[i]) or r[i].strip() in ('', '-') for r in self.rows[1:])
                 for i in range(len(self.rows[0]))]

        def body_text(c):
            # numbers never break; "mean±std" may break before the "±" when the column is tight
            parts = [html.escape(p) for p in c.split('±')]
            parts = parts[:1] + ['±' + p for p in parts[1:]]
            return '<wbr>'.join(f'<span style="white-space: nowrap">{p}</span>' for p in parts)

        def cell(tag, c, i, scope=None):
            align = 'right' if right[i] else 'left'
            text = html.escape(c) if tag == 'th' else body_text(c)
            scope = f' scope="{scope}"' if scope else ''
            return f'<{tag}{scope} style="text-align: {align}; padding: 0.15em 0.45em">{text}</{tag}>'

        def body_cell(c, i):
            return cell('th', c, i, 'row') if i == 0 and self.row_headers else cell('td', c, i)
        head = ''.join(cell('th', c, i, 'col') for i, c in enumerate(self.rows[0]))
        body = ''.join('<tr>' + ''.join(body_cell(c, i) for i, c in enumerate(r)) + '</tr>'
                       for r in self.rows[1:])
        caption = (f'<caption style="caption-side: top; text-align: left">{html.escape(self.caption)}</caption>'
                   if self.caption else '')
        return ('<div style="overflow-x: auto"><table class="microdnb-table" '
                'style="font-size: 0.85em; border-collapse: collapse; font-variant-numeric: tabular-nums">'
                f'{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')


def _numeric(c):
    c = c.strip().lstrip('+-')
    return bool(c) and (c[0].isdigit() or c[0] == '.')


def format_table(rows):
    """Rows of cells as an aligned plain-text table (the first row is the header)."""
    return Table(rows).text()
