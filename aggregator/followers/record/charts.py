"""The record's charts as plain SVG: horizontal bars, stacked bars and histograms.

Each chart names itself (``<title>``, ``<desc>``) and prints every number beside its bar, so it
reads without colour; the page puts a table of the same numbers beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH = 640
LABEL_W = 150
BAR_H = 22
GAP = 8
TOP = 36
# Dark enough on white for WCAG AA text beside them, distinct without colour: each bar is labelled.
COLOURS = ("#1f5fa8", "#2e7d32", "#b35c00", "#6a3fa0", "#a11d3c", "#4a5560", "#00695c")


def _svg(title: str, desc: str, height: int, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="t d" '
            f'font-family="system-ui, sans-serif" font-size="13">'
            f'<title id="t">{escape(title)}</title><desc id="d">{escape(desc)}</desc>'
            f'<rect width="100%" height="100%" fill="#ffffff"/>'
            f'<text x="0" y="18" font-size="15" font-weight="bold" fill="#111">{escape(title)}'
            f'</text>{"".join(body)}</svg>\n')


def bars(title: str, items: Sequence[tuple[str, int]]) -> str:
    """One horizontal bar per item, its count written after it."""
    top = max([v for _, v in items] or [0]) or 1
    span = WIDTH - LABEL_W - 60
    body = []
    for i, (label, value) in enumerate(items):
        y = TOP + i * (BAR_H + GAP)
        w = round(span * value / top)
        body.append(f'<text x="{LABEL_W - 8}" y="{y + 16}" text-anchor="end" fill="#111">'
                    f'{escape(label)}</text>'
                    f'<rect x="{LABEL_W}" y="{y}" width="{w}" height="{BAR_H}" '
                    f'fill="{COLOURS[0]}"/>'
                    f'<text x="{LABEL_W + w + 6}" y="{y + 16}" fill="#111">{value}</text>')
    desc = "; ".join(f"{label}: {value}" for label, value in items) or "no data"
    return _svg(title, desc, TOP + len(items) * (BAR_H + GAP) + 8, body)


def stacked(title: str, rows: Sequence[tuple[str, dict[str, int]]], series: Sequence[str]) -> str:
    """One bar per row, split by series, with a legend; each part's count is in the legend row
    and the page's table (parts can be too thin to label)."""
    top = max([sum(parts.values()) for _, parts in rows] or [0]) or 1
    span = WIDTH - LABEL_W - 60
    body = []
    for i, (label, parts) in enumerate(rows):
        y = TOP + i * (BAR_H + GAP)
        x = float(LABEL_W)
        body.append(f'<text x="{LABEL_W - 8}" y="{y + 16}" text-anchor="end" fill="#111">'
                    f'{escape(label)}</text>')
        for j, name in enumerate(series):
            w = span * parts.get(name, 0) / top
            if w:
                body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H}" '
                            f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(name)}: '
                            f'{parts.get(name, 0)}</title></rect>')
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 16}" fill="#111">'
                    f'{sum(parts.values())}</text>')
    y = TOP + len(rows) * (BAR_H + GAP) + 4
    x = 0
    for j, name in enumerate(series):
        width = 24 + 8 * len(name)
        if x and x + width > WIDTH:  # the legend wraps to a new row
            x, y = 0, y + 20
        body.append(f'<rect x="{x}" y="{y}" width="12" height="12" '
                    f'fill="{COLOURS[j % len(COLOURS)]}"/>'
                    f'<text x="{x + 16}" y="{y + 11}" fill="#111">{escape(name)}</text>')
        x += width
    desc = "; ".join(f"{label}: " + ", ".join(f"{n} {name}" for name, n in parts.items() if n)
                     for label, parts in rows) or "no data"
    return _svg(title, desc, y + 24, body)


def histogram(title: str, bins: Sequence[tuple[str, int]], axis: str) -> str:
    """Vertical bars for consecutive bins, the first and last bins' labels under the axis."""
    height, bottom = 260, 210
    top = max([v for _, v in bins] or [0]) or 1
    n = max(len(bins), 1)
    step = (WIDTH - 60) / n
    body = [f'<line x1="40" y1="{bottom}" x2="{WIDTH - 10}" y2="{bottom}" stroke="#333"/>',
            f'<text x="36" y="{bottom - 150}" text-anchor="end" fill="#111">{top}</text>',
            f'<text x="36" y="{bottom}" text-anchor="end" fill="#111">0</text>']
    for i, (label, value) in enumerate(bins):
        h = 150 * value / top
        body.append(f'<rect x="{40 + i * step + 1:.1f}" y="{bottom - h:.1f}" '
                    f'width="{max(step - 2, 1):.1f}" height="{h:.1f}" fill="{COLOURS[0]}">'
                    f'<title>{escape(label)}: {value}</title></rect>')
    if bins:
        body.append(f'<text x="40" y="{bottom + 18}" fill="#111">{escape(bins[0][0])}</text>'
                    f'<text x="{WIDTH - 10}" y="{bottom + 18}" text-anchor="end" fill="#111">'
                    f'{escape(bins[-1][0])}</text>')
    body.append(f'<text x="{WIDTH / 2:.0f}" y="{bottom + 40}" text-anchor="middle" '
                f'fill="#111">{escape(axis)}</text>')
    desc = "; ".join(f"{label}: {value}" for label, value in bins if value) or "no data"
    return _svg(title, desc, height, body)
