"""Script text to what an engine can say: validation, sentence chunks, and words with spoken forms.

Every word keeps its written form (for captions) next to the form sent to the engine, where
emoji and letters of scripts the voice does not read are gone, English abbreviations are spelled
out, and (for the ASCII-only engines) accents are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from facecast.errors import InvalidText
from facecast.limits import DEFAULT_LIMITS

DEFAULT_MAX_CHARS = DEFAULT_LIMITS.max_text_chars

#: Scripts (first word of a character's Unicode name) each language reads besides Latin.
_SCRIPTS: dict[str, frozenset[str]] = {
    **{
        lang: frozenset({"CYRILLIC"})
        for lang in ("ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "tt", "ba", "cv", "nog", "mn")
    },
    "el": frozenset({"GREEK"}),
    "grc": frozenset({"GREEK"}),
    **{lang: frozenset({"ARABIC"}) for lang in ("ar", "fa", "ur", "sd", "ug", "ps")},
    "he": frozenset({"HEBREW"}),
    **{lang: frozenset({"DEVANAGARI"}) for lang in ("hi", "mr", "ne", "kok", "sa")},
    **{lang: frozenset({"BENGALI"}) for lang in ("bn", "as", "bpy")},
    "pa": frozenset({"GURMUKHI"}),
    "gu": frozenset({"GUJARATI"}),
    "or": frozenset({"ORIYA"}),
    "ta": frozenset({"TAMIL"}),
    "te": frozenset({"TELUGU"}),
    "kn": frozenset({"KANNADA"}),
    "ml": frozenset({"MALAYALAM"}),
    "si": frozenset({"SINHALA"}),
    "th": frozenset({"THAI"}),
    "my": frozenset({"MYANMAR"}),
    "shn": frozenset({"MYANMAR"}),
    "ka": frozenset({"GEORGIAN"}),
    "hy": frozenset({"ARMENIAN"}),
    "hyw": frozenset({"ARMENIAN"}),
    "am": frozenset({"ETHIOPIC"}),
    "chr": frozenset({"CHEROKEE"}),
    **{lang: frozenset({"CJK"}) for lang in ("zh", "cmn", "yue", "hak")},
    "ja": frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    "ko": frozenset({"HANGUL"}),
}

_QUOTES = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‹": "'",
        "›": "'",
        "—": " - ",
        "–": " - ",
        "…": "...",
        "\u00a0": " ",
    }
)
_ASCII_EXTRA = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "œ": "oe",
        "Œ": "OE",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "€": " euros ",
        "£": " pounds ",
        "¥": " yen ",
        "°": " degrees ",
    }
)
_SENTENCE_END = re.compile(r"[.!?…。！？]+$")
_CLOSERS = "\"')]}»”’"
_OPENERS = "\"'([{«“‘"
_CJK_STOPS = re.compile(r"([。！？])(?=\S)")

#: English abbreviations: written form -> spoken form (a few only when a name follows).
_EN_ABBREVIATIONS: dict[str, str] = {
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Prof.": "Professor",
    "Jr.": "Junior",
    "Sr.": "Senior",
    "Mt.": "Mount",
    "vs.": "versus",
    "vs": "versus",
    "etc.": "et cetera",
    "e.g.": "for example",
    "i.e.": "that is",
    "approx.": "approximately",
    "Inc.": "Incorporated",
    "Ltd.": "Limited",
    "Dept.": "Department",
    "Gov.": "Governor",
    "Sen.": "Senator",
    "Rep.": "Representative",
    "Gen.": "General",
    "Capt.": "Captain",
    "Sgt.": "Sergeant",
    "Lt.": "Lieutenant",
    "Col.": "Colonel",
    "&": "and",
    "a.m.": "A M",
    "p.m.": "P M",
}
_EN_BEFORE_NAME = {"Dr.": ("Doctor", "Drive"), "St.": ("Saint", "Street")}
_EN_BEFORE_NUMBER = {"No.": "Number", "no.": "number", "Nos.": "Numbers"}
#: Words after which a full stop does not end a sentence.
_NON_FINAL = {k for k in _EN_ABBREVIATIONS if k.endswith(".") and k not in ("etc.", "a.m.", "p.m.")} | {
    "Dr.",
    "St.",
    "No.",
    "Nos.",
    "cf.",
    "Fig.",
    "fig.",
    "Mme.",
    "Mlle.",
    "Hr.",
    "Fr.",
    "Sra.",
    "Sr.",
    "Dra.",
    "Nr.",
    "bzw.",
    "z.B.",
    "ca.",
}
_MAX_CHUNK_WORDS = 40


@dataclass(frozen=True)
class Word:
    """One written word and what the engine is asked to say for it (never empty, no spaces inside
    unless an abbreviation was spelled out)."""

    written: str
    spoken: str


@dataclass(frozen=True)
class Chunk:
    """A sentence (or a piece of a long one): synthesised in one go."""

    words: tuple[Word, ...]

    @property
    def spoken(self) -> str:
        return " ".join(w.spoken for w in self.words)


def check_text(text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The text, stripped, or ``InvalidText`` when it is empty or longer than ``max_chars``."""
    if not isinstance(text, str):
        raise InvalidText("The text must be a string.")
    stripped = text.strip()
    if not stripped:
        raise InvalidText("The text is empty: give the words the voice should say.")
    if len(stripped) > max_chars:
        raise InvalidText(
            f"The text is {len(stripped):,} characters long; the limit is {max_chars:,} characters."
        )
    return stripped


def scripts_for(language: str) -> frozenset[str]:
    """The scripts a voice of this BCP-47 language reads: Latin plus its own."""
    primary = language.replace("_", "-").split("-")[0].lower()
    return frozenset({"LATIN"}) | _SCRIPTS.get(primary, frozenset())


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else ""


def clean(text: str, *, language: str, ascii_only: bool = False) -> str:
    """Text with what no engine should see removed: control characters, emoji and other symbols,
    letters of scripts the language does not read; curly quotes and dashes made plain; for
    ASCII-only engines, accents dropped (``café`` -> ``cafe``) and anything else non-ASCII removed."""
    scripts = scripts_for(language)
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    out: list[str] = []
    dropped = False  # the last letter was dropped: drop its combining marks too
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] == "L" or cat == "Nd" or cat[0] == "N":
            script = _script(ch)
            if cat[0] == "N" and not ch.isascii():
                digit = unicodedata.digit(ch, None)
                if digit is not None:
                    out.append(str(digit))
                    dropped = False
                    continue
            if cat[0] == "L" and script not in scripts and script not in ("", "MODIFIER"):
                # A letter of a script this voice does not read (e.g. Chinese for an English voice).
                if script == "CJK" or script in ("HIRAGANA", "KATAKANA", "HANGUL", "THAI"):
                    out.append(" ")
                dropped = True
                continue
            out.append(ch)
            dropped = False
        elif cat[0] == "M":
            if not dropped and not (0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF):
                out.append(ch)
        elif cat[0] == "Z" or ch in "\t\n\r":
            out.append(" ")
            dropped = False
        elif cat in ("So", "Sk", "Cs", "Co", "Cn", "Cc", "Cf"):
            # Emoji, pictographs, private use, controls, joiners: unspeakable.
            out.append(" " if cat in ("So", "Cc") else "")
        else:  # punctuation, currency, maths
            out.append(ch)
            dropped = False
    result = "".join(out)
    if ascii_only:
        result = unicodedata.normalize("NFKD", result.translate(_ASCII_EXTRA))
        result = "".join(ch for ch in result if ch.isascii() and (ch.isprintable() or ch == " "))
    return re.sub(r"\s+", " ", result).strip()


def _has_speakable(s: str) -> bool:
    return any(ch.isalnum() for ch in s)


def _core(token: str) -> str:
    return token.strip(_OPENERS + _CLOSERS)


def _expand_english(word: str, following: str | None) -> str:
    """An English abbreviation spelled out ("Dr." -> "Doctor" before a name), else the word."""
    lead = word[: len(word) - len(word.lstrip(_OPENERS))]
    body = word[len(lead) :]
    trail = body[len(body.rstrip(_CLOSERS + ",;:")) :]
    core = body[: len(body) - len(trail)]
    nxt = _core(following or "")
    spoken: str | None = None
    if core in _EN_ABBREVIATIONS:
        spoken = _EN_ABBREVIATIONS[core]
        if following is None and core.endswith("."):
            spoken += "."
    elif core in _EN_BEFORE_NAME:
        if nxt[:1].isupper():
            spoken = _EN_BEFORE_NAME[core][0]
        elif following is None or not nxt[:1].isalpha():
            spoken = _EN_BEFORE_NAME[core][1] + "."
    elif core in _EN_BEFORE_NUMBER and nxt[:1].isdigit():
        spoken = _EN_BEFORE_NUMBER[core]
    if spoken is None:
        return word
    return lead + spoken + trail


def _ends_sentence(token: str, following: str | None) -> bool:
    core = token.rstrip(_CLOSERS)
    if not _SENTENCE_END.search(core):
        return False
    if following is None:
        return True
    nxt = following.lstrip(_OPENERS)
    if core.endswith(("!", "?", "…", "。", "！", "？")):
        return True
    bare = core.lstrip(_OPENERS)
    if bare in _NON_FINAL:
        return False
    # Initials and dotted abbreviations ("J.", "U.S.") before a capitalised word: a name, not an end.
    if re.fullmatch(r"(?:[A-Za-z]{1,2}\.)+", bare) and nxt[:1].isupper():
        return False
    return not nxt[:1].islower()


def split_chunks(text: str, *, language: str, ascii_only: bool = False) -> list[Chunk]:
    """The text as speakable chunks (one per sentence; long sentences cut at a comma or after
    40 words). Words with nothing speakable left are dropped; a word that is only
    punctuation is attached to the word before it so the engine still pauses there."""
    text = _CJK_STOPS.sub(r"\1 ", text)
    raw = text.split()
    english = language.lower().startswith("en")
    sentences: list[list[str]] = [[]]
    for i, token in enumerate(raw):
        following = raw[i + 1] if i + 1 < len(raw) else None
        sentences[-1].append(token)
        if _ends_sentence(token, following):
            sentences.append([])
    chunks: list[Chunk] = []
    for sentence in sentences:
        words: list[Word] = []
        for i, token in enumerate(sentence):
            following = sentence[i + 1] if i + 1 < len(sentence) else None
            spoken = _expand_english(token, following) if english else token
            spoken = clean(spoken, language=language, ascii_only=ascii_only)
            if not spoken:
                continue
            if not _has_speakable(spoken):
                pause = _pause_for(spoken)
                if words and pause and not words[-1].spoken.endswith(pause):
                    last = words[-1]
                    words[-1] = Word(last.written, last.spoken + pause)
                continue
            words.append(Word(token, spoken))
        for piece in _cut_long(words):
            chunks.append(Chunk(tuple(piece)))
    return chunks


def _pause_for(punctuation: str) -> str:
    """The punctuation a word-less token leaves behind for the engine: its stop, or a comma."""
    for mark in "?!.":
        if mark in punctuation:
            return mark
    return "," if any(ch in punctuation for ch in "-,;:/") else ""


def _cut_long(words: list[Word]) -> list[list[Word]]:
    if not words:
        return []
    if len(words) <= _MAX_CHUNK_WORDS:
        return [words]
    # Cut at the clause break nearest the middle of the first window, else at the window's end.
    window = words[:_MAX_CHUNK_WORDS]
    breaks = [i for i, w in enumerate(window[:-1]) if w.spoken.endswith((",", ";", ":", "-"))]
    cut = min(breaks, key=lambda i: abs(i - _MAX_CHUNK_WORDS // 2)) + 1 if breaks else _MAX_CHUNK_WORDS
    return [words[:cut], *_cut_long(words[cut:])]
