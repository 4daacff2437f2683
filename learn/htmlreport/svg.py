"""Hand-written SVG charts: bars, a heat map and step curves, inline in the page.

Small and deterministic on purpose (same model, same bytes); every mark carries a <title>,
so a hover says the exact number without JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

FONT = 12
CHAR = 7.5  # px per character of the 12px monospace labels, for sizing label columns
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#7f7f7f")


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    return (
        f'<svg role="img" aria-label="{escape(label)}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'font-family="monospace" font-size="{FONT}">' + "".join(body) + "</svg>"
    )


def bars(label: str, rows: Sequence[tuple[str, int, str]], width: int = 640) -> str:
    """Horizontal bars, one per (label, value, colour), on a log scale (counts span decades)."""
    if not rows:
        return ""
    left = min(40, max(len(name) for name, _, _ in rows)) * CHAR + 8
    right = 70
    top = max(math.log10(value + 1) for _, value, _ in rows) or 1.0
    step = 16
    body = []
    for i, (name, value, colour) in enumerate(rows):
        y = i * step
        w = (width - left - right) * math.log10(value + 1) / top
        body.append(
            f"<g><title>{escape(name)}: {value}</title>"
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{escape(name[:40])}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{max(w, 1):.1f}" height="{step - 4}" fill="{colour}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 12}">{value}</text></g>'
        )
    return _svg(width, len(rows) * step + 4, label, body)


def heatmap(label: str, rows: Sequence[str], columns: Sequence[str], cells: dict[tuple[str, str], int]) -> str:
    """rows x columns, each cell shaded by log(count); empty cells stay blank."""
    if not rows or not columns:
        return ""
    cell = 14
    left = min(48, max(len(r) for r in rows)) * CHAR + 8
    top = round(min(24, max(len(c) for c in columns)) * CHAR * 0.75 + 10)
    peak = math.log10(max(cells.values(), default=1) + 1) or 1.0
    body = []
    for j, column in enumerate(columns):
        x = left + j * cell + cell / 2
        body.append(f'<text transform="translate({x + 4:.1f},{top - 4:.1f}) rotate(-50)">{escape(column[:24])}</text>')
    for i, row in enumerate(rows):
        y = top + i * cell
        shown = row if len(row) <= 48 else "…" + row[-47:]
        body.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end"><title>{escape(row)}</title>'
                    f'{escape(shown)}</text>')  # fmt: skip
        body.append('<g fill="#b2182b">')  # one fill per row: a big map is thousands of cells
        for j, column in enumerate(columns):
            n = cells.get((row, column))
            if not n:
                continue
            shade = 0.15 + 0.85 * math.log10(n + 1) / peak
            body.append(
                f'<rect x="{left + j * cell:.0f}" y="{y:.0f}" width="{cell - 1}" height="{cell - 1}" '
                f'fill-opacity="{shade:.2f}"><title>{escape(row)} {escape(column)}: {n}</title></rect>'
            )
        body.append("</g>")
    return _svg(left + len(columns) * cell + 40, top + len(rows) * cell + 4, label, body)


def curves(label: str, series: Sequence[tuple[str, Sequence[tuple[int, int]], int]], width: int = 640) -> str:
    """Step curves of distinct syscalls (y) against the share of each run's records (x): (name, points,
    records) per run. Shares, not record numbers, so a short run's tail shows as plainly as a long one's."""
    if not series:
        return ""
    left, bottom, pad = 48, 36, 12
    height = 240 + 14 * len(series)  # the legend goes under the plot, where no curve runs
    max_y = max((y for _, pts, _ in series for _, y in pts), default=1) or 1
    plot_w, plot_h = width - left - pad, 220 - bottom - pad

    def sx(x: float, last: int) -> float:
        return left + plot_w * x / max(last, 1)

    def sy(y: float) -> float:
        return pad + plot_h * (1 - y / max_y)

    body = [
        f'<line x1="{left}" y1="{sy(0):.1f}" x2="{width - pad}" y2="{sy(0):.1f}" stroke="#333"/>',
        f'<line x1="{left}" y1="{pad}" x2="{left}" y2="{sy(0):.1f}" stroke="#333"/>',
        f'<text x="{left - 4}" y="{pad + 4}" text-anchor="end">{max_y}</text>',
        f'<text x="{left - 4}" y="{sy(0):.1f}" text-anchor="end">0</text>',
        f'<text x="{width - pad}" y="{sy(0) + 16:.1f}" text-anchor="end">100%</text>',
        f'<text x="{left}" y="{sy(0) + 16:.1f}">0</text>',
        f'<text x="{left + plot_w / 2:.0f}" y="{sy(0) + 30:.1f}" text-anchor="middle">share of the run\'s records, '
        "in order</text>",
    ]
    for k, (name, points, last) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        path, y = [], 0
        for x, distinct in points:
            at = sx(x - 1, last)  # record 1 starts the run: 0%
            path.append(f"{at:.1f},{sy(y):.1f} {at:.1f},{sy(distinct):.1f}")
            y = distinct
        path.append(f"{sx(last, last):.1f},{sy(y):.1f}")
        body.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(path)}">'
            f"<title>{escape(name)}: {y} distinct syscalls in {last} records</title></polyline>"
        )
        body.append(f'<text x="{left}" y="{240 + 14 * k}" fill="{colour}">&#9644; {escape(name[-80:])}</text>')
    return _svg(width, height, label, body)
