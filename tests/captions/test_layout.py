"""Layout: the face chosen for each script has the glyphs, and pages respect the template's limits."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from facecast.captions import builtin_template
from facecast.captions.fonts import face_file, face_for_text
from facecast.captions.layout import layout, text_measure
from facecast.speech.models import TimedWord

SAMPLES = {
    "latin": "Grüße, señor — ça va?",
    "cyrillic": "Привет, как дела",
    "greek": "Καλημέρα κόσμε",
    "cjk": "你好世界 こんにちは 안녕하세요",
    "arabic": "مرحبا بالعالم",
    "hebrew": "שלום עולם",
}


@pytest.mark.parametrize("script", sorted(SAMPLES))
def test_the_face_for_each_script_has_its_glyphs(script: str) -> None:
    text = SAMPLES[script]
    face = face_for_text(text, "DejaVu Sans")
    path = face_file(face, True)
    assert path is not None, f"{face.family} is not installed ({face.package})"
    font = ImageFont.truetype(str(path), 48, index=face.index if path.suffix == ".ttc" else 0)
    missing = _drawn(font, "\ue000")  # a private-use code point: the font's "no glyph" box
    for char in text:
        if char.isalpha():
            assert _drawn(font, char) != missing, f"{char!r} has no glyph in {face.family}"


def _drawn(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    image = Image.new("L", (96, 96))
    ImageDraw.Draw(image).text((10, 10), char, font=font, fill=255)
    return image.tobytes()


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1080, 1920), (400, 400)])
def test_pages_respect_words_per_line_lines_and_width(width: int, height: int) -> None:
    words = [TimedWord(w, i * 0.3, i * 0.3 + 0.25) for i, w in enumerate(("supercalifragilistic wording " * 12).split())]
    for slug in ("clean-subtitle", "bold-highlight", "vertical-social", "lower-third"):
        template = builtin_template(slug)
        lay = layout(words, template, width, height)
        measure = text_measure(lay.face, template.bold, lay.font_px)
        assert sorted(i for p in lay.pages for i in p.indices) == list(range(len(words)))
        for page in lay.pages:
            assert 1 <= len(page.lines) <= template.max_lines
            assert page.end > page.start
            for line in page.lines:
                assert 1 <= len(line) <= template.words_per_line
                assert measure(" ".join(lay.words[i] for i in line)) <= width - 2 * lay.margin_x
        starts = [p.start for p in lay.pages]
        assert starts == sorted(starts)
        assert all(a.end <= b.start + 1e-9 for a, b in zip(lay.pages, lay.pages[1:], strict=False))
