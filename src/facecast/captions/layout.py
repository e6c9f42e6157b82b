"""Words into caption pages: which words show together, how they wrap into lines, and how big the
text is so every line stays inside the frame's safe area at any resolution and aspect ratio.

Widths are measured with the real font files (Pillow's FreeType binding) at the size libass will
use, so the line breaks placed here are the ones on screen; libass's own wrapping is switched off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from facecast.captions.fonts import FontFace, face_file, face_for_text, is_cjk_word
from facecast.captions.templates import CaptionTemplate
from facecast.captions.transcript import join_words
from facecast.speech.models import TimedWord

#: A pause longer than this starts a new page.
PAGE_GAP = 0.9
#: A page stays on screen this long after its last word (unless the next page starts sooner).
HOLD = 0.6
#: Smallest font size (px) text is shrunk to before a too-long word is allowed to wrap inside.
MIN_FONT_PX = 10
#: Font size follows the frame height up to this many times the frame width.
PORTRAIT_CAP = 1.25
_SENTENCE_END = (".", "!", "?", "。", "！", "？", "؟")

Measure = Callable[[str], float]


@dataclass(frozen=True)
class Page:
    """Words shown together: ``lines`` are lists of indices into the transcript's words."""

    lines: list[list[int]]
    start: float
    end: float

    @property
    def indices(self) -> list[int]:
        return [i for line in self.lines for i in line]


@dataclass(frozen=True)
class Layout:
    pages: list[Page]
    #: The words as shown (casing applied).
    words: list[str]
    font_px: int
    #: Safe margins in px: left/right and top/bottom.
    margin_x: int
    margin_y: int
    face: FontFace
    width: int
    height: int


def display_word(word: str, template: CaptionTemplate) -> str:
    if template.casing == "upper":
        return word.upper()
    if template.casing == "lower":
        return word.lower()
    return word


@lru_cache(maxsize=32)
def _pil_font(path: str, size: int, index: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    return ImageFont.truetype(path, size=size, index=index)


def text_measure(face: FontFace, bold: bool, font_px: int) -> Measure:
    """Width in px of a text at ``font_px`` in ``face`` (falls back to 0.62 em per character)."""
    path = face_file(face, bold)
    if path is None:
        return lambda text: 0.62 * font_px * len(text)
    font = _pil_font(str(path), font_px, face.index if path.suffix == ".ttc" else 0)
    return lambda text: float(font.getlength(text))


def group_pages(
    words: Sequence[TimedWord],
    shown: Sequence[str],
    *,
    words_per_line: int,
    max_lines: int,
    fits: Callable[[list[str]], bool],
) -> list[Page]:
    """Greedy paging: a line takes words while it has fewer than ``words_per_line`` and ``fits``;
    a page takes lines up to ``max_lines``; a long pause or a sentence end closes the page."""
    pages: list[list[list[int]]] = []
    lines: list[list[int]] = [[]]
    for i, word in enumerate(words):
        line = lines[-1]
        gap = word.start - words[i - 1].end if i else 0.0
        if line and (gap > PAGE_GAP or shown[i - 1].endswith(_SENTENCE_END)):
            pages.append(lines)
            lines = [[i]]
            continue
        if not line or (len(line) < words_per_line and fits([shown[j] for j in line] + [shown[i]])):
            line.append(i)
        elif len(lines) < max_lines:
            lines.append([i])
        else:
            pages.append(lines)
            lines = [[i]]
    if lines[0]:
        pages.append(lines)
    out = []
    for n, page in enumerate(pages):
        first, last = page[0][0], page[-1][-1]
        end = words[last].end + HOLD
        if n + 1 < len(pages):
            end = min(end, words[pages[n + 1][0][0]].start)
        out.append(Page(page, words[first].start, max(end, words[last].end)))
    return out


def layout(words: Sequence[TimedWord], template: CaptionTemplate, width: int, height: int) -> Layout:
    """Pages, font size and margins for ``words`` on a ``width`` x ``height`` frame."""
    shown = [display_word(w.word, template) for w in words]
    face = face_for_text("".join(shown), template.font)
    margin = template.margin * min(width, height)
    margin_x, margin_y = int(round(margin)), int(round(margin))
    # Relative to the height, but no larger than a landscape frame of the same width would give,
    # so a 9:16 frame does not get text sized for its height on a third of the width.
    font_px = max(MIN_FONT_PX, int(round(template.size * min(height, PORTRAIT_CAP * width))))

    # Outline, shadow and a highlight box or lower-third box eat into the line's room.
    def available(px: int) -> float:
        decoration = 2 * px * (template.outline + template.shadow) + (0.5 * px if template.box else 0)
        if template.highlight == "box":
            decoration += 0.5 * px
        return width - 2 * margin_x - decoration

    # The longest single word must fit on a line: shrink the font until it does.
    longest = max(shown, key=len) if shown else ""
    while font_px > MIN_FONT_PX and text_measure(face, template.bold, font_px)(longest) > available(font_px):
        font_px = max(MIN_FONT_PX, int(font_px * 0.92))
    measure = text_measure(face, template.bold, font_px)
    room = available(font_px)
    pages = group_pages(
        words,
        shown,
        words_per_line=template.words_per_line,
        max_lines=template.max_lines,
        fits=lambda line: measure(join_words(line)) <= room,
    )
    return Layout(pages, shown, font_px, margin_x, margin_y, face, width, height)


def subtitle_pages(words: Sequence[TimedWord], *, max_chars: int = 42, max_lines: int = 2) -> list[Page]:
    """Pages for SRT/VTT: at most ``max_chars`` characters per line (the broadcast convention)."""
    shown = [w.word for w in words]
    return group_pages(
        words,
        shown,
        words_per_line=max_chars,
        max_lines=max_lines,
        fits=lambda line: len(join_words(line)) <= max_chars or (len(line) == 1),
    )


__all__ = ["Layout", "Page", "display_word", "group_pages", "is_cjk_word", "layout", "subtitle_pages"]
