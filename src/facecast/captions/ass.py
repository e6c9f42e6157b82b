"""A layout as an ASS subtitle script for libass: one style from the template, explicit line breaks
(libass's wrapping off), and per-word events for highlights and pop-ins, so the current word
changes exactly at its start time (ASS times are centiseconds, well inside one video frame).
"""

from __future__ import annotations

from facecast.captions.layout import Layout, Page
from facecast.captions.templates import CaptionTemplate
from facecast.captions.transcript import join_words

#: ASS alignment (numpad layout) and vertical margin, per template position.
_ALIGNMENT = {"bottom": 2, "center": 5, "top": 8, "lower-third": 2}
#: The lower third sits this fraction of the frame height above the bottom margin.
LOWER_THIRD_LIFT = 0.12
#: Pop-in: a word grows from this scale (percent) to full size in this many milliseconds.
POP_FROM, POP_MS = 55, 110
FADE_MS = 120


def ass_colour(hex_rgb: str, opacity: float = 1.0) -> str:
    """ "#RRGGBB" as ASS's ``&HAABBGGRR`` (alpha 00 is opaque)."""
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    alpha = int(round((1.0 - max(0.0, min(1.0, opacity))) * 255))
    return f"&H{alpha:02X}{b}{g}{r}".upper()


def _inline_colour(hex_rgb: str) -> str:
    return f"&H{hex_rgb[5:7]}{hex_rgb[3:5]}{hex_rgb[1:3]}&".upper()


def _time(seconds: float) -> str:
    cs = max(0, int(round(seconds * 100)))
    h, rest = divmod(cs, 360000)
    m, rest = divmod(rest, 6000)
    s, cs = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def escape(text: str) -> str:
    """Text as ASS shows it literally: override braces and backslashes cannot start a tag."""
    return text.replace("\\", "\u29f5").replace("{", "(").replace("}", ")").replace("\n", " ")


def _style(t: CaptionTemplate, lay: Layout) -> str:
    px = lay.font_px
    karaoke = t.highlight == "karaoke"
    primary = ass_colour(t.highlight_color if karaoke else t.color)
    secondary = ass_colour(t.color if karaoke else t.highlight_color)
    if t.box:
        border_style, outline_colour = 3, ass_colour(t.box_color, t.box_opacity)
        outline = max(1.0, 0.25 * px)  # the box's padding around the text
    else:
        border_style, outline_colour, outline = 1, ass_colour(t.outline_color), t.outline * px
    back = ass_colour(t.outline_color, 0.5)
    alignment = _ALIGNMENT[t.position]
    if t.align == "left" and alignment in (2, 5, 8):
        alignment -= 1
    margin_v = lay.margin_y
    if t.position == "lower-third":
        margin_v += int(round(LOWER_THIRD_LIFT * lay.height))
    if t.box:
        margin_v += int(round(outline))
    margin_x = lay.margin_x + (int(round(outline)) if t.box else 0)
    return (
        f"Style: Caption,{lay.face.family},{px},{primary},{secondary},{outline_colour},{back},"
        f"{-1 if t.bold else 0},0,0,0,100,100,0,0,{border_style},{outline:.1f},{t.shadow * px:.1f},"
        f"{alignment},{margin_x},{margin_x},{margin_v},1"
    )


def _page_text(lay: Layout, page: Page, t: CaptionTemplate, current: int | None) -> str:
    """The page's lines, the word ``current`` highlighted; with a pop-in, words after it hidden."""
    lines = []
    for line in page.lines:
        parts = []
        for i in line:
            word = escape(lay.words[i])
            if current is not None and t.animation == "pop" and i > current:
                word = "{\\alpha&HFF&}" + word + "{\\alpha&H00&}"
            elif i == current:
                word = _highlighted(word, t, lay)
            parts.append(word)
        lines.append(join_words(parts))
    return "\\N".join(lines)


def _highlighted(word: str, t: CaptionTemplate, lay: Layout) -> str:
    tags = ""
    if t.highlight == "color":
        tags += f"\\c{_inline_colour(t.highlight_color)}"
    elif t.highlight == "box":  # a thick border in the highlight colour reads as a pill behind the word
        tags += f"\\3c{_inline_colour(t.highlight_color)}\\bord{0.22 * lay.font_px:.1f}\\shad0"
    if t.animation == "pop":
        tags += f"\\fscx{POP_FROM}\\fscy{POP_FROM}\\t(0,{POP_MS},\\fscx100\\fscy100)"
    if not tags:
        return word
    reset = f"\\c{_inline_colour(t.color)}\\3c{_inline_colour(t.outline_color)}"
    reset += f"\\bord{t.outline * lay.font_px:.1f}\\shad{t.shadow * lay.font_px:.1f}\\fscx100\\fscy100"
    return "{" + tags + "}" + word + "{" + reset + "}"


def _karaoke_text(lay: Layout, page: Page, words_times: list[tuple[float, float]]) -> str:
    lines = []
    cursor = page.start
    for line in page.lines:
        parts = []
        for i in line:
            start, end = words_times[i]
            lead = max(0, int(round((start - cursor) * 100)))
            fill = max(1, int(round((end - start) * 100)))
            lead_tag = f"{{\\k{lead}}}" if lead else ""
            parts.append(f"{lead_tag}{{\\kf{fill}}}" + escape(lay.words[i]))
            cursor += (lead + fill) / 100
        lines.append(join_words(parts))
    return "\\N".join(lines)


def events(
    lay: Layout, t: CaptionTemplate, times: list[tuple[float, float]]
) -> list[tuple[float, float, str]]:
    """(start, end, text) dialogue events for every page."""
    out: list[tuple[float, float, str]] = []
    per_word = t.highlight in ("color", "box") or t.animation == "pop"
    for page in lay.pages:
        if t.highlight == "karaoke":
            out.append((page.start, page.end, _karaoke_text(lay, page, times)))
        elif per_word:
            indices = page.indices
            for n, i in enumerate(indices):
                start = page.start if n == 0 else times[i][0]
                end = times[indices[n + 1]][0] if n + 1 < len(indices) else page.end
                if end > start:
                    out.append((start, end, _page_text(lay, page, t, i)))
        else:
            fade = f"{{\\fad({FADE_MS},{FADE_MS})}}" if t.animation == "fade" else ""
            out.append((page.start, page.end, fade + _page_text(lay, page, t, None)))
    return out


def ass_script(lay: Layout, t: CaptionTemplate, times: list[tuple[float, float]]) -> str:
    """The whole .ass file. ``times`` are the words' (start, end), aligned with ``lay.words``."""
    header = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {lay.width}",
        f"PlayResY: {lay.height}",
        "WrapStyle: 2",  # no automatic wrapping: the layout placed every line break
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
        "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        _style(t, lay),
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    lines = [
        f"Dialogue: 0,{_time(start)},{_time(end)},Caption,,0,0,0,,{text}"
        for start, end, text in events(lay, t, times)
    ]
    return "\n".join(header + lines) + "\n"
