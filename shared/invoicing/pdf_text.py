"""Text for the concept PDF: only glyphs the fonts have, wrapped to a column's width, within budgets.

fpdf2's own `multi_cell` wraps too, but costs about 10 ms per 1,000 characters, and its `table`
measures every row and refuses a row taller than a page (issue 16). Here a column's text is
cleaned and wrapped once, in time linear in its length, with widths read from the font's table;
`pdf_table.py` then places the lines itself, splitting a tall row over pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fpdf import FPDF
from fpdf.fonts import TTFFont

REPLACEMENT: Final = "\ufffd"
"""Stands for a character the fonts cannot show (DejaVu has no CJK, emoji, or lone surrogates)."""
CELL_CHARS: Final = 2_000
"""A text longer than this is cut before it is wrapped (notes' texts are at most 1,000 characters;
this bounds the work for anything stored before that rule)."""
CELL_LINES: Final = 80
"""A column's text in one row takes at most this many printed lines (a 60-line hint fits); the rest
is replaced by a marker saying how many characters it left out."""


def cut_marker(left_out: int) -> str:
    return f"[… {left_out:,} more characters]"


class _Cleaner(dict[int, str]):
    """A `str.translate` table built as characters come: each code point is looked up once."""

    def __init__(self, shown: frozenset[int]) -> None:
        super().__init__({ord("\n"): "\n", ord("\t"): " "})
        self._shown = shown

    def __missing__(self, code: int) -> str:
        value = chr(code) if code >= 32 and code in self._shown else REPLACEMENT
        self[code] = value
        return value


@dataclass
class Metrics:
    """What the document's fonts can show, and how wide it is."""

    shown: frozenset[int]
    widths: dict[int, float]
    """Advance widths of the regular font, in thousandths of the font size."""
    points_per_mm: float
    cut: int = 0
    """How many texts `fit` has cut so far."""

    @classmethod
    def of(cls, pdf: FPDF, family: str, styles: tuple[str, ...]) -> Metrics:
        fonts = []
        for style in styles:
            pdf.set_font(family, style)
            font = pdf.current_font
            if not isinstance(font, TTFFont):
                raise TypeError(f"{family} {style!r} must be a TrueType font")
            fonts.append(font)
        shown = frozenset.intersection(*(frozenset(f.cmap) for f in fonts))
        return cls(shown, dict(fonts[0].cw), pdf.k)

    def __post_init__(self) -> None:
        self._cleaner = _Cleaner(self.shown)
        self._fallback = self.widths.get(ord(REPLACEMENT), 1000.0)

    def clean(self, text: str) -> str:
        """`text` with line ends as "\\n", tabs as spaces and every character the fonts lack as U+FFFD."""
        return text.replace("\r\n", "\n").replace("\r", "\n").translate(self._cleaner)

    def clip(self, text: str, limit: int = CELL_CHARS) -> str:
        """One line of `text`, cleaned, at most `limit` characters (ending in "…" when cut)."""
        flat = " ".join(self.clean(text[: limit + 1]).split("\n"))
        return flat if len(flat) <= limit else flat[: limit - 1] + "…"

    def width(self, text: str, size: float) -> float:
        """Width of clean `text` in mm at `size` points (regular style)."""
        widths, fallback = self.widths, self._fallback
        return sum(widths.get(ord(c), fallback) for c in text) * size / 1000 / self.points_per_mm

    def fit(self, text: str, width: float, size: float, lines: int = CELL_LINES) -> list[str]:
        """`text` cleaned and wrapped to `width` mm at `size` points in at most `lines` lines; when it
        does not fit, the last lines are a marker saying how many characters were left out."""
        clean = self.clean(text[:CELL_CHARS])
        beyond = max(0, len(text) - CELL_CHARS)
        starts, wrapped = self._wrap(clean, width, size, lines + 1)
        if len(wrapped) <= lines and not beyond:
            return wrapped
        self.cut += 1
        marker: list[str] = []
        keep = lines
        while keep > 0:
            left_out = (len(clean) - starts[keep] if keep < len(starts) else 0) + beyond
            marker = self._wrap(cut_marker(left_out), width, size, lines)[1]
            if keep + len(marker) <= lines:
                break
            keep -= 1
        return wrapped[:keep] + marker[: lines - keep]

    def _wrap(self, text: str, width: float, size: float, limit: int) -> tuple[list[int], list[str]]:
        """Lines of `text` no wider than `width` (a word wider than the column is broken anywhere) and
        where each starts in `text`; stops after `limit` lines. Each character is measured at most
        twice, so this is linear in the text."""
        scale = size / 1000 / self.points_per_mm
        room = width / scale  # in font units: no multiplication per character
        widths, fallback = self.widths, self._fallback
        starts: list[int] = []
        lines: list[str] = []
        start, space, used, i, end = 0, -1, 0.0, 0, len(text)
        while i < end and len(lines) < limit:
            c = text[i]
            if c == "\n":
                starts.append(start)
                lines.append(text[start:i])
                start, space, used, i = i + 1, -1, 0.0, i + 1
                continue
            advance = widths.get(ord(c), fallback)
            if used + advance <= room or i == start:
                if c == " ":
                    space = i
                used += advance
                i += 1
                continue
            starts.append(start)
            if c == " ":  # the line ends just before this space, which is dropped
                lines.append(text[start:i])
                start, i, used = i + 1, i + 1, 0.0
            elif space > start:  # break at the last space; the rest of the word begins the next line
                lines.append(text[start:space])
                start = space + 1
                used = sum(widths.get(ord(ch), fallback) for ch in text[start:i])
            else:  # one word wider than the column: break it here
                lines.append(text[start:i])
                start, used = i, 0.0
            space = -1
        if len(lines) < limit and (start < end or not lines or text.endswith("\n")):
            starts.append(start)
            lines.append(text[start:])
        return starts, lines
