"""The KPI report's MRR movements chart, drawn as a PNG with Pillow (xhtml2pdf shows
images, it does not draw charts). Pure: values in, PNG bytes out.

One bar per month: new, expansion and reactivation stacked above the axis, contraction
and churn below it, on the movements' scale (left axis); MRR at each month's end is a
line on its own scale (right axis, from 0), since a month's movements are usually a
small fraction of MRR and would be flattened on one scale. The only words are the
axis figures and month numbers, which the caller formats; the legend is the report's
HTML, in its language.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from domain.analytics.mrr import Kind, Point
from domain.invoicing.pdf import FONTS

UP = (Kind.NEW, Kind.EXPANSION, Kind.REACTIVATION)  # stacked from the axis up
DOWN = (Kind.CONTRACTION, Kind.CHURN)  # from the axis down
COLORS: dict[str, tuple[int, int, int]] = {
    Kind.NEW: (46, 125, 50),
    Kind.EXPANSION: (129, 199, 132),
    Kind.REACTIVATION: (25, 118, 210),
    Kind.CONTRACTION: (255, 167, 38),
    Kind.CHURN: (211, 47, 47),
    "mrr": (33, 33, 33),
}
BACKGROUND = (255, 255, 255)
GRID = (224, 224, 224)
AXIS = (117, 117, 117)
TEXT = (66, 66, 66)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # under the bar ("11/26")
    up: tuple[int, ...]  # minor units >= 0, in UP's order
    down: tuple[int, ...]  # minor units >= 0, in DOWN's order (drawn below the axis)
    mrr: int  # at the month's end


def bars_of(points: Sequence[Point]) -> list[Bar]:
    """One bar per point of a monthly series."""
    return [
        Bar(
            f"{p.start:%m/%y}",
            tuple(p.of(k) for k in UP),
            tuple(p.of(k) for k in DOWN),
            p.mrr_end,
        )
        for p in points
    ]


def nice_step(span: int, ticks: int = 4) -> int:
    """A round tick step (1, 2 or 5 x 10^k minor units) giving about `ticks` ticks."""
    if span <= 0:
        return 1
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return max(int(factor * power), 1)
    return max(int(10 * power), 1)  # pragma: no cover (10 always fits)


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), size)


def mrr_chart(
    bars: Sequence[Bar],
    *,
    width: int = 1200,
    height: int = 520,
    figure: Callable[[int], str] = str,
) -> bytes:
    """The chart as PNG bytes. `figure` writes an axis value (minor units)."""
    if not bars:
        raise ValueError("a chart needs at least one month")
    font = _font(max(height // 30, 10))
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 110, width - 110, 20, height - 46
    plot_h = bottom - top
    high = max(sum(b.up) for b in bars)
    low = max(sum(b.down) for b in bars)
    step = nice_step(high + low)
    high, low = _round_up(high, step), _round_up(low, step)
    span = high + low or 1
    zero = top + plot_h * high / span if high + low else top + plot_h / 2

    def y(value: int) -> float:  # a movement, negative below the axis
        return zero - value * plot_h / span

    for tick in range(-low, high + 1, step):
        at = y(tick)
        draw.line((left, at, right, at), fill=GRID if tick else AXIS, width=1 if tick else 2)
        _text(draw, (left - 8, at), figure(tick), font, anchor="rm")

    top_mrr = _round_up(max(b.mrr for b in bars), nice_step(max(b.mrr for b in bars)))
    mrr_step = nice_step(top_mrr)

    def y_mrr(value: int) -> float:
        return bottom - value * plot_h / (top_mrr or 1)

    for tick in range(0, top_mrr + 1, mrr_step):
        _text(draw, (right + 8, y_mrr(tick)), figure(tick), font, anchor="lm")

    slot = (right - left) / len(bars)
    half = max(slot * 0.3, 1)
    line: list[tuple[float, float]] = []
    for i, bar in enumerate(bars):
        middle = left + slot * (i + 0.5)
        base = 0
        for kind, amount in zip(UP, bar.up, strict=True):
            if amount > 0:
                draw.rectangle(
                    (middle - half, y(base + amount), middle + half, y(base)), fill=COLORS[kind]
                )
            base += amount
        base = 0
        for kind, amount in zip(DOWN, bar.down, strict=True):
            if amount > 0:
                draw.rectangle(
                    (middle - half, y(-base), middle + half, y(-base - amount)), fill=COLORS[kind]
                )
            base += amount
        _text(draw, (middle, bottom + 10), bar.label, font, anchor="mt")
        line.append((middle, y_mrr(bar.mrr)))
    if len(line) > 1:
        draw.line(line, fill=COLORS["mrr"], width=4, joint="curve")
    for x, at in line:
        draw.ellipse((x - 6, at - 6, x + 6, at + 6), fill=COLORS["mrr"])
    draw.line((left, top, left, bottom), fill=AXIS, width=2)
    draw.line((right, top, right, bottom), fill=AXIS, width=2)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def _text(
    draw: ImageDraw.ImageDraw,
    at: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont,
    *,
    anchor: str,
) -> None:
    draw.text(at, text, fill=TEXT, font=font, anchor=anchor)
