"""The fonts captions are drawn with: families Facecast knows, the files that hold them, and which
family a line of text needs for its script (Latin/Cyrillic/Greek, CJK, Arabic, Hebrew).

Fonts come from Debian packages the setup installs (fonts-dejavu-core, fonts-noto-core,
fonts-noto-cjk). The burner hands libass a folder of links to exactly the files a video uses, so
rendering never depends on what fontconfig happens to find.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: Where Debian puts font files; FACECAST_FONT_DIRS (":"-separated) adds more in front.
SYSTEM_FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype", "/usr/local/share/fonts")


@dataclass(frozen=True)
class FontFace:
    """One family: its regular and bold files (a .ttc collection takes ``index``)."""

    family: str
    regular: str
    bold: str
    index: int = 0
    #: The Debian package that installs it, for the error that says what is missing.
    package: str = "fonts-dejavu-core"


#: Families a template may name. Each covers Latin, Cyrillic and Greek; the script families below
#: take over for text those cannot show.
FAMILIES: dict[str, FontFace] = {
    f.family: f
    for f in (
        FontFace("DejaVu Sans", "dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"),
        FontFace("DejaVu Serif", "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSerif-Bold.ttf"),
        FontFace(
            "DejaVu Sans Condensed", "dejavu/DejaVuSansCondensed.ttf", "dejavu/DejaVuSansCondensed-Bold.ttf"
        ),
        FontFace(
            "Noto Sans", "noto/NotoSans-Regular.ttf", "noto/NotoSans-Bold.ttf", package="fonts-noto-core"
        ),
        FontFace(
            "Noto Serif", "noto/NotoSerif-Regular.ttf", "noto/NotoSerif-Bold.ttf", package="fonts-noto-core"
        ),
    )
}
#: Families for scripts the template families lack. Index 2 of the Noto CJK collection is "SC"
#: (simplified Chinese forms; its Japanese kana and Korean hangul are complete too).
SCRIPT_FAMILIES: dict[str, FontFace] = {
    "cjk": FontFace(
        "Noto Sans CJK SC",
        "noto/NotoSansCJK-Regular.ttc",
        "noto/NotoSansCJK-Bold.ttc",
        index=2,
        package="fonts-noto-cjk",
    ),
    "arabic": FontFace(
        "Noto Sans Arabic",
        "noto/NotoSansArabic-Regular.ttf",
        "noto/NotoSansArabic-Bold.ttf",
        package="fonts-noto-core",
    ),
    "hebrew": FontFace(
        "Noto Sans Hebrew",
        "noto/NotoSansHebrew-Regular.ttf",
        "noto/NotoSansHebrew-Bold.ttf",
        package="fonts-noto-core",
    ),
}
DEFAULT_FAMILY = "DejaVu Sans"


def font_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("FACECAST_FONT_DIRS", "").split(":") if p]
    return [*extra, *(Path(p) for p in SYSTEM_FONT_DIRS)]


@lru_cache(maxsize=64)
def font_file(relative: str) -> Path | None:
    """The installed file for ``relative`` (e.g. ``dejavu/DejaVuSans.ttf``), or None."""
    for root in font_dirs():
        candidate = root / relative
        if candidate.is_file():
            return candidate
    return None


def face_file(face: FontFace, bold: bool) -> Path | None:
    return font_file(face.bold if bold else face.regular)


def is_installed(face: FontFace) -> bool:
    return face_file(face, False) is not None and face_file(face, True) is not None


def script_of(char: str) -> str:
    """The script family a character needs: "cjk", "arabic", "hebrew" or "latin" (everything the
    template families cover: Latin, Cyrillic, Greek, digits, punctuation)."""
    code = ord(char)
    if (
        0x2E80 <= code <= 0x9FFF  # CJK radicals, kana, ideographs, bopomofo, hangul compatibility
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x20000 <= code <= 0x2FFFF
    ):
        return "cjk"
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
        return "arabic"
    if 0x0590 <= code <= 0x05FF:
        return "hebrew"
    return "latin"


def face_for_text(text: str, family: str) -> FontFace:
    """The face that shows ``text``: the template's family unless a letter needs a script family
    (the first such script found wins: a caption line is one language in practice)."""
    for char in text:
        if unicodedata.category(char).startswith("L"):
            script = script_of(char)
            if script != "latin":
                face = SCRIPT_FAMILIES[script]
                if is_installed(face):
                    return face
    return FAMILIES.get(family) or FAMILIES[DEFAULT_FAMILY]


def is_cjk_word(word: str) -> bool:
    """Whether a word is written without spaces around it (CJK): lines join such words directly."""
    return any(script_of(c) == "cjk" for c in word)
