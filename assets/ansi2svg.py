#!/usr/bin/env python3
"""Turn a coloured terminal capture (`tmux capture-pane -e -p`) into an SVG picture.

Standard library only. Usage:

    python3 ansi2svg.py capture.ans session.svg [--cols 100] [--rows 28] [--cursor X,Y]
    python3 ansi2svg.py - out.svg < capture.ans

What it understands: SGR colours (the 16 basic ones, 256-colour `38;5;N`/`48;5;N`, truecolor
`38;2;R;G;B`, colon forms too), bold, dim, italic, underline, reverse, and their resets. Every
other escape sequence (cursor movement, OSC titles, charset switches) is skipped.

How it draws: a monospace grid on a dark background. Every cell has a fixed width; wide
characters (East Asian Wide/Fullwidth, and emoji from U+1F300 up) take two cells, as they do in
the terminal. Each run of same-styled text is one <text xml:space="preserve"> whose characters
are each placed at their own column (x = col * cell_width), so nothing drifts whatever font the
viewer has. Non-default backgrounds are <rect>s. Box-drawing lines (─│┌┐└┘├┤┬┴┼, heavy, double
and rounded forms) and full/half blocks are drawn as shapes rather than glyphs, so borders
join exactly, with no gaps between rows.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass, replace
from xml.sax.saxutils import escape

# ---------------------------------------------------------------------------------------------
# Look

CELL_W = 8.4  # px per column (0.6em at 14px, the usual monospace advance)
CELL_H = 18.0  # px per row
FONT_SIZE = 14.0
BASELINE = 13.5  # px from the top of a row to the text baseline
PAD = 14.0  # px around the grid
FONT_FAMILY = (
    "ui-monospace, 'SFMono-Regular', 'Cascadia Mono', Menlo, Consolas, 'DejaVu Sans Mono', "
    "'Liberation Mono', 'Noto Sans Mono', 'Noto Sans Mono CJK SC', monospace"
)

DEFAULT_FG = "#d4d7dd"
DEFAULT_BG = "#1c1f26"

# The 16 basic colours: a calm dark theme where "dark grey" (8) stays readable.
PALETTE16 = [
    "#1c1f26",  # 0 black
    "#e06c75",  # 1 red
    "#98c379",  # 2 green
    "#e5c07b",  # 3 yellow
    "#61afef",  # 4 blue
    "#c678dd",  # 5 magenta
    "#56b6c2",  # 6 cyan
    "#d4d7dd",  # 7 white
    "#7f848e",  # 8 bright black / dark grey
    "#ff7b86",  # 9 bright red
    "#b5e890",  # 10 bright green
    "#ffd68a",  # 11 bright yellow
    "#82c4ff",  # 12 bright blue
    "#dc9cf0",  # 13 bright magenta
    "#7fd6e0",  # 14 bright cyan
    "#ffffff",  # 15 bright white
]


def color256(n: int) -> str:
    if n < 16:
        return PALETTE16[n]
    if n < 232:
        n -= 16
        levels = (0, 95, 135, 175, 215, 255)
        r, g, b = levels[n // 36], levels[(n // 6) % 6], levels[n % 6]
        return f"#{r:02x}{g:02x}{b:02x}"
    v = 8 + 10 * (n - 232)
    return f"#{v:02x}{v:02x}{v:02x}"


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class Style:
    fg: str | None = None  # None: the default colour
    bg: str | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    reverse: bool = False

    def colours(self) -> tuple[str, str | None]:
        """(foreground, background or None for the default background), reverse applied."""
        fg, bg = self.fg, self.bg
        if self.reverse:
            return (bg or DEFAULT_BG), (fg or DEFAULT_FG)
        return (fg or DEFAULT_FG), bg


@dataclass
class Cell:
    text: str  # one character, plus any zero-width marks that follow it
    width: int  # 1 or 2
    style: Style


def char_width(c: str) -> int:
    """Columns a character takes: 0 (combining/format), 1, or 2 (wide)."""
    o = ord(c)
    if o == 0x200D or 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF:
        return 0  # zero-width joiner, variation selectors
    if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
        return 0
    if unicodedata.east_asian_width(c) in ("W", "F"):
        return 2
    if 0x1F300 <= o <= 0x1FAFF:
        return 2  # emoji
    return 1


# CSI ... final byte, OSC ... BEL/ST, other two-byte escapes (charset designations take three).
ESCAPE = re.compile(
    r"\x1b\[([0-?]*)([ -/]*)([@-~])"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[()*+][0-~]"
    r"|\x1b[ -~]?"
)


def apply_sgr(style: Style, params: str) -> Style:
    if params == "":
        return Style()
    # Colon sub-parameters (38:5:N, 38:2::R:G:B) become a group; semicolons separate groups.
    groups = [g.split(":") for g in params.split(";")]
    i = 0

    def num(s: str) -> int:
        return int(s) if s.isdigit() else 0

    while i < len(groups):
        g = groups[i]
        p = num(g[0])
        if p in (38, 48, 58):
            colour = None
            if len(g) > 1:  # colon form
                sub = [num(x) for x in g[1:]]
                if sub and sub[0] == 5 and len(sub) >= 2:
                    colour = color256(sub[1] % 256)
                elif sub and sub[0] == 2:
                    rgb = sub[-3:] if len(sub) >= 4 else (sub[1:] + [0, 0, 0])[:3]
                    colour = "#{:02x}{:02x}{:02x}".format(*(min(v, 255) for v in rgb))
            else:  # semicolon form
                kind = num(groups[i + 1][0]) if i + 1 < len(groups) else -1
                if kind == 5 and i + 2 < len(groups):
                    colour = color256(num(groups[i + 2][0]) % 256)
                    i += 2
                elif kind == 2 and i + 4 < len(groups):
                    rgb = [min(num(groups[i + k][0]), 255) for k in (2, 3, 4)]
                    colour = "#{:02x}{:02x}{:02x}".format(*rgb)
                    i += 4
                else:
                    i += 1
            if p == 38:
                style = replace(style, fg=colour)
            elif p == 48:
                style = replace(style, bg=colour)
            # 58: underline colour, ignored
        elif p == 0:
            style = Style()
        elif p == 1:
            style = replace(style, bold=True)
        elif p == 2:
            style = replace(style, dim=True)
        elif p == 3:
            style = replace(style, italic=True)
        elif p == 4:
            style = replace(style, underline=not (len(g) > 1 and num(g[1]) == 0))
        elif p == 7:
            style = replace(style, reverse=True)
        elif p == 21:
            style = replace(style, underline=True)  # double underline, drawn single
        elif p == 22:
            style = replace(style, bold=False, dim=False)
        elif p == 23:
            style = replace(style, italic=False)
        elif p == 24:
            style = replace(style, underline=False)
        elif p == 27:
            style = replace(style, reverse=False)
        elif 30 <= p <= 37:
            style = replace(style, fg=PALETTE16[p - 30])
        elif p == 39:
            style = replace(style, fg=None)
        elif 40 <= p <= 47:
            style = replace(style, bg=PALETTE16[p - 40])
        elif p == 49:
            style = replace(style, bg=None)
        elif 90 <= p <= 97:
            style = replace(style, fg=PALETTE16[p - 90 + 8])
        elif 100 <= p <= 107:
            style = replace(style, bg=PALETTE16[p - 100 + 8])
        i += 1
    return style


def parse(text: str) -> list[list[Cell]]:
    """Rows of cells. The style carries across lines, as it does in tmux's output."""
    rows: list[list[Cell]] = []
    style = Style()
    for line in text.split("\n"):
        line = line.rstrip("\r")
        row: list[Cell] = []
        pos = 0
        for m in ESCAPE.finditer(line + "\x1b[9999x"):  # sentinel flushes the tail
            for c in line[pos : m.start()]:
                if c == "\t":
                    for _ in range(8 - len(row) % 8):
                        row.append(Cell(" ", 1, style))
                    continue
                if ord(c) < 0x20 or ord(c) == 0x7F:
                    continue
                w = char_width(c)
                if w == 0:
                    if row:
                        row[-1].text += c
                    continue
                row.append(Cell(c, w, style))
            pos = m.end()
            if m.group(3) == "m" and not m.group(2):
                style = apply_sgr(style, m.group(1))
        rows.append(row)
    if rows and not rows[-1]:
        rows.pop()  # the newline that ends the last line
    return rows


# ---------------------------------------------------------------------------------------------
# Box drawing as shapes: arms (up, right, down, left), each 0 none, 1 light, 2 heavy, 3 double.

BOX: dict[str, tuple[int, int, int, int]] = {}


def _box(chars: str, arms: list[tuple[int, int, int, int]]) -> None:
    for c, a in zip(chars, arms):
        BOX[c] = a


#            up right down left
_box("─│┌┐└┘├┤┬┴┼", [(0, 1, 0, 1), (1, 0, 1, 0), (0, 1, 1, 0), (0, 0, 1, 1), (1, 1, 0, 0),
                     (1, 0, 0, 1), (1, 1, 1, 0), (1, 0, 1, 1), (0, 1, 1, 1), (1, 1, 0, 1),
                     (1, 1, 1, 1)])
_box("━┃┏┓┗┛┣┫┳┻╋", [(0, 2, 0, 2), (2, 0, 2, 0), (0, 2, 2, 0), (0, 0, 2, 2), (2, 2, 0, 0),
                     (2, 0, 0, 2), (2, 2, 2, 0), (2, 0, 2, 2), (0, 2, 2, 2), (2, 2, 0, 2),
                     (2, 2, 2, 2)])
_box("═║╔╗╚╝╠╣╦╩╬", [(0, 3, 0, 3), (3, 0, 3, 0), (0, 3, 3, 0), (0, 0, 3, 3), (3, 3, 0, 0),
                     (3, 0, 0, 3), (3, 3, 3, 0), (3, 0, 3, 3), (0, 3, 3, 3), (3, 3, 0, 3),
                     (3, 3, 3, 3)])
ROUNDED = {"╭": (0, 1, 1, 0), "╮": (0, 0, 1, 1), "╯": (1, 0, 0, 1), "╰": (1, 1, 0, 0)}
# Blocks: (x0, y0, x1, y1) as fractions of the cell.
BLOCKS = {"█": (0, 0, 1, 1), "▀": (0, 0, 1, 0.5), "▄": (0, 0.5, 1, 1), "▌": (0, 0, 0.5, 1),
          "▐": (0.5, 0, 1, 1)}


def f(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


LIGHT, HEAVY, DOUBLE_GAP = 1.2, 2.2, 1.6  # stroke widths and the gap of double lines, px


def block_shape(c: str, x: float, y: float, colour: str) -> str | None:
    """SVG for a block element or a rounded corner in the cell at (x, y), or None."""
    cx, cy = x + CELL_W / 2, y + CELL_H / 2
    if c in BLOCKS:
        x0, y0, x1, y1 = BLOCKS[c]
        return (f'<rect x="{f(x + x0 * CELL_W)}" y="{f(y + y0 * CELL_H)}" '
                f'width="{f((x1 - x0) * CELL_W)}" height="{f((y1 - y0) * CELL_H)}" '
                f'fill="{colour}"/>')
    if c in ROUNDED:
        up, right, down, left = ROUNDED[c]
        ex = x + CELL_W if right else x
        ey = y + CELL_H if down else y
        # From the horizontal edge to the vertical edge, curving through the centre.
        return (f'<path d="M{f(ex)} {f(cy)}Q{f(cx)} {f(cy)} {f(cx)} {f(ey)}" fill="none" '
                f'stroke="{colour}" stroke-width="{f(LIGHT)}"/>')
    return None


# A straight stroke: (x1, y1, x2, y2, stroke width), with x1 <= x2 and y1 <= y2.
Segment = tuple[float, float, float, float, float]


def box_segments(c: str, x: float, y: float) -> list[Segment] | None:
    """The strokes of a box-drawing character in the cell at (x, y), or None if it is not one.
    Each arm runs from the cell's centre to the middle of one edge."""
    arms = BOX.get(c)
    if arms is None:
        return None
    cx, cy = x + CELL_W / 2, y + CELL_H / 2
    up, right, down, left = arms
    if arms.count(3) == 2 and arms.count(0) == 2 and (up or down) and (left or right):
        # A double corner (╔╗╚╝): two nested corners, the outer one away from the arms.
        h = 1 if right else -1
        v = 1 if down else -1
        edge_x = x + CELL_W if right else x
        edge_y = y + CELL_H if down else y
        corner: list[Segment] = []
        for side in (-1, 1):  # outer, inner
            px, py = cx + side * h * DOUBLE_GAP, cy + side * v * DOUBLE_GAP
            x1, x2 = sorted((px, edge_x))
            y1, y2 = sorted((py, edge_y))
            corner.append((x1, py, x2, py, LIGHT))
            corner.append((px, y1, px, y2, LIGHT))
        return corner
    ends = ((cx, y), (x + CELL_W, cy), (cx, y + CELL_H), (x, cy))  # up, right, down, left
    segments: list[Segment] = []
    for (ex, ey), weight in zip(ends, arms):
        if not weight:
            continue
        x1, x2 = sorted((cx, ex))
        y1, y2 = sorted((cy, ey))
        if weight == 3:  # double: two thin strokes either side of the arm's centre line
            vertical = x1 == x2
            for side in (-DOUBLE_GAP, DOUBLE_GAP):
                dx, dy = (side, 0.0) if vertical else (0.0, side)
                segments.append((x1 + dx, y1 + dy, x2 + dx, y2 + dy, LIGHT))
        else:
            segments.append((x1, y1, x2, y2, HEAVY if weight == 2 else LIGHT))
    return segments


def merge_segments(segments: list[tuple[str, Segment]]) -> list[str]:
    """Joins touching collinear strokes of one colour into long lines, so a border is one
    stroke instead of many short ones that anti-aliasing would show as seams, and returns one
    <path> per colour and width."""
    lines: dict[tuple, list[tuple[float, float]]] = {}
    for colour, (x1, y1, x2, y2, width) in segments:
        if y1 == y2:
            lines.setdefault((colour, width, "h", round(y1, 3)), []).append((x1, x2))
        else:
            lines.setdefault((colour, width, "v", round(x1, 3)), []).append((y1, y2))
    paths: dict[tuple[str, float], list[str]] = {}
    for (colour, width, axis, at), spans in lines.items():
        spans.sort()
        merged = [list(spans[0])]
        for a, b in spans[1:]:
            if a <= merged[-1][1] + 1e-6:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        d = paths.setdefault((colour, width), [])
        for a, b in merged:
            if axis == "h":
                d.append(f"M{f(a)} {f(at)}H{f(b)}")
            else:
                d.append(f"M{f(at)} {f(a)}V{f(b)}")
    return [f'<path d="{"".join(d)}" fill="none" stroke="{colour}" stroke-width="{f(width)}" '
            f'stroke-linecap="square"/>' for (colour, width), d in paths.items()]


# ---------------------------------------------------------------------------------------------
# Rendering


def text_attrs(style: Style, fg: str) -> str:
    attrs = [f'fill="{fg}"']
    if style.bold:
        attrs.append('font-weight="bold"')
    if style.italic:
        attrs.append('font-style="italic"')
    if style.underline:
        attrs.append('text-decoration="underline"')
    if style.dim:
        attrs.append('opacity="0.6"')
    return " ".join(attrs)


def render(rows: list[list[Cell]], cols: int, nrows: int, cursor: tuple[int, int] | None,
           title: str | None) -> str:
    width = PAD * 2 + cols * CELL_W
    height = PAD * 2 + nrows * CELL_H
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{f(width)}" height="{f(height)}" '
        f'viewBox="0 0 {f(width)} {f(height)}" font-family="{escape(FONT_FAMILY, {chr(34): "&quot;"})}" '
        f'font-size="{f(FONT_SIZE)}">',
    ]
    if title:
        out.append(f"<title>{escape(title)}</title>")
    out.append(f'<rect width="100%" height="100%" rx="8" ry="8" fill="{DEFAULT_BG}"/>')
    out.append(f'<g transform="translate({f(PAD)},{f(PAD)})">')
    backgrounds: list[str] = []
    shapes: list[str] = []
    segments: list[tuple[str, Segment]] = []
    texts: list[str] = []
    for r, row in enumerate(rows[:nrows]):
        y = r * CELL_H
        col = 0
        run: list[tuple[int, Cell]] = []  # (column, cell) of the current text run
        bg_start, bg_colour = 0, None

        def flush_run() -> None:
            if not run:
                return
            style = run[0][1].style
            fg, _ = style.colours()
            if not style.underline:  # trailing blanks draw nothing (backgrounds are rects)
                while run and run[-1][1].text == " ":
                    run.pop()
            if not run:
                return
            # One x per character, so every character sits on its own column. A cell carrying
            # zero-width marks gets x values for them too (same column), keeping the list aligned.
            xs: list[str] = []
            chars: list[str] = []
            for c, cell in run:
                for ch in cell.text:
                    xs.append(f(c * CELL_W))
                    chars.append(ch)
            text = escape("".join(chars))
            texts.append(f'<text xml:space="preserve" x="{" ".join(xs)}" y="{f(y + BASELINE)}" '
                         f'{text_attrs(style, fg)}>{text}</text>')
            run.clear()

        def flush_bg(end: int) -> None:
            if bg_colour is not None and end > bg_start:
                backgrounds.append(f'<rect x="{f(bg_start * CELL_W)}" y="{f(y)}" '
                                   f'width="{f((end - bg_start) * CELL_W)}" '
                                   f'height="{f(CELL_H)}" fill="{bg_colour}"/>')

        for cell in row:
            if col >= cols:
                break
            fg, bg = cell.style.colours()
            if bg != bg_colour:
                flush_bg(col)
                bg_start, bg_colour = col, bg
            single = len(cell.text) == 1
            strokes = box_segments(cell.text, col * CELL_W, y) if single else None
            shape = block_shape(cell.text, col * CELL_W, y, fg) if single else None
            if strokes is not None:
                flush_run()
                segments.extend((fg, s) for s in strokes)
            elif shape is not None:
                flush_run()
                shapes.append(shape)
            else:
                if run and run[0][1].style != cell.style:
                    flush_run()
                run.append((col, cell))
            col += cell.width
        flush_run()
        flush_bg(min(col, cols))
    out.extend(backgrounds)
    if cursor is not None:
        cx, cy = cursor
        out.append(f'<rect x="{f(cx * CELL_W)}" y="{f(cy * CELL_H + 1)}" width="{f(CELL_W)}" '
                   f'height="{f(CELL_H - 2)}" fill="{DEFAULT_FG}" opacity="0.75"/>')
    out.extend(shapes)
    out.extend(merge_segments(segments))
    out.extend(texts)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input", help="ANSI text file, or - for stdin")
    ap.add_argument("output", help="SVG file to write, or - for stdout")
    ap.add_argument("--cols", type=int, help="grid width (default: widest line)")
    ap.add_argument("--rows", type=int, help="grid height (default: number of lines)")
    ap.add_argument("--cursor", help="draw a block cursor at X,Y (0-based cells)")
    ap.add_argument("--title", help="an accessible <title> for the picture")
    args = ap.parse_args()

    if args.input == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(args.input, "rb") as fh:
            data = fh.read()
    rows = parse(data.decode("utf-8", errors="replace"))
    cols = args.cols or max((sum(c.width for c in row) for row in rows), default=1)
    nrows = args.rows or max(len(rows), 1)
    cursor = None
    if args.cursor:
        x, y = args.cursor.split(",")
        cursor = (int(x), int(y))
    svg = render(rows, cols, nrows, cursor, args.title)
    if args.output == "-":
        sys.stdout.write(svg)
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
