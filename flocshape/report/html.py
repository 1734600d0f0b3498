"""Small HTML helpers: escaping, number formatting, tables. The report has no external CSS, JS or fonts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; font-size: 15px;
       color: #1d1d1f; margin: 24px auto; max-width: 1180px; padding: 0 16px; line-height: 1.45; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; border-bottom: 2px solid #ddd;
     padding-bottom: 4px; margin-top: 36px; } h3 { font-size: 16px; margin-top: 22px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 13.5px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f2f2f4; } td.l, th.l { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: 6px 0 14px; }
.note { color: #6b4b00; background: #fff6dc; border-left: 4px solid #e0b000; padding: 4px 10px; margin: 6px 0; }
.verdict { font-weight: 600; } .muted { color: #666; font-size: 13px; }
pre { white-space: pre-wrap; word-break: break-all; font-size: 12.5px; background: #f7f7f9; padding: 6px; }
.frames { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 4px 16px; }
.scroll { overflow-x: auto; }
code { background: #f2f2f4; padding: 0 3px; }
"""


def fmt(value: float | int | None, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, no exponent; ``–`` for None/NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int | np.integer):
        return f"{int(value):d}"
    return np.format_float_positional(
        float(value), precision=digits, unique=False, fractional=False, trim="-"
    )


def fmt_p(value: float) -> str:
    """A p-value: 2 significant digits, scientific below 0.001; ``–`` for NaN."""
    if not math.isfinite(value):
        return "–"
    return f"{value:.2g}" if value >= 1e-3 else f"{value:.1e}"


def num_cell(value: float | int | None, stat: str, p_value: bool = False, **attrs: str) -> str:
    """A ``<td>`` with the formatted value and the exact value in ``data-value`` (for tests and tools)."""
    shown = fmt_p(float(value)) if p_value and value is not None else fmt(value)
    extra = "".join(f' data-{k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    exact = "nan" if value is None else repr(float(value))
    return f'<td data-stat="{escape(stat)}" data-value="{exact}"{extra}>{shown}</td>'


def ci_cell(value: float, low: float, high: float, stat: str, **attrs: str) -> str:
    """A ``<td>`` showing ``value [low, high]`` with the three exact numbers as data attributes."""
    extra = "".join(f' data-{k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return (
        f'<td data-stat="{escape(stat)}" data-value="{float(value)!r}" data-low="{float(low)!r}" '
        f'data-high="{float(high)!r}"{extra}>{fmt(value)}<br><span class="muted">[{fmt(low)}, {fmt(high)}]</span></td>'
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """An HTML table; ``header`` cells are escaped, row cells are inserted as given (already HTML)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return (
        f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        "</table></div>"
    )


def text_cell(text: str) -> str:
    """A left-aligned, escaped text ``<td>``."""
    return f'<td class="l">{escape(text)}</td>'


def image(uri: str, alt: str) -> str:
    """An ``<img>`` with an embedded data URI."""
    return f'<img src="{uri}" alt="{escape(alt)}">'


def note(text: str) -> str:
    """A highlighted remark for the reader (missing data, exclusions)."""
    return f'<p class="note">{escape(text)}</p>'


def page(title: str, body: str) -> str:
    """The full self-contained HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
