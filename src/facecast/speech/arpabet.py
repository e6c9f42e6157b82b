"""Every engine's phone set mapped to the engine's ARPAbet (upper case, no stress digits, "SIL").

Piper and espeak-ng speak IPA (one code point at a time for Piper, whole phonemes for espeak-ng);
festival and flite speak the CMU "radio" phone set. The viseme stage only knows ARPAbet, so both
are mapped here, once, keeping each unit's duration.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

SIL = "SIL"

#: The phones the viseme stage understands: the 39 CMU-dictionary phones plus silence.
ARPABET: frozenset[str] = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
) | {SIL}

# --- festival / flite ("radio" phone set, lower case) -----------------------------------------------
_RADIO: dict[str, str] = {p.lower(): p for p in ARPABET if p != SIL}
_RADIO.update(
    {
        "ax": "AH",
        "axr": "ER",
        "ix": "IH",
        "ux": "UW",
        "dx": "D",  # flap: the tongue-tip shape of t/d
        "nx": "N",
        "el": "L",
        "em": "M",
        "en": "N",
        "hv": "HH",
        "h": "HH",
        "q": SIL,  # glottal stop
        "pau": SIL,
        "h#": SIL,
        "brk": SIL,
        "sil": SIL,
        "ssil": SIL,
        "#": SIL,
    }
)


def radio_to_arpabet(phone: str) -> str:
    """A festival/flite phone ("pau", "ax", "hh", "aa1"...) as ARPAbet ("SIL", "AH", "HH", "AA")."""
    key = phone.strip().lower().rstrip("012")
    return _RADIO.get(key, SIL)


# --- IPA ---------------------------------------------------------------------------------------------
#: IPA sequences (after removing tie bars) to ARPAbet; the longest match wins, so diphthongs and
#: affricates are one phone rather than two.
_IPA: dict[str, tuple[str, ...]] = {
    # diphthongs
    "aɪ": ("AY",),
    "ɑɪ": ("AY",),
    "äɪ": ("AY",),
    "ʌɪ": ("AY",),
    "ai": ("AY",),
    "aɪə": ("AY", "ER"),
    "aʊ": ("AW",),
    "ɑʊ": ("AW",),
    "au": ("AW",),
    "ɐʊ": ("AW",),
    "ɔɪ": ("OY",),
    "ɔy": ("OY",),
    "oɪ": ("OY",),
    "ɔi": ("OY",),
    "œy": ("OY",),
    "eɪ": ("EY",),
    "ei": ("EY",),
    "ɛɪ": ("EY",),
    "əɪ": ("EY",),
    "oʊ": ("OW",),
    "əʊ": ("OW",),
    "ou": ("OW",),
    "ɔʊ": ("OW",),
    "ɪə": ("IH", "AH"),
    "eə": ("EH", "AH"),
    "ʊə": ("UH", "AH"),
    "ɜː": ("ER",),
    "ɜ˞": ("ER",),
    "ə˞": ("ER",),
    # affricates
    "tʃ": ("CH",),
    "ʧ": ("CH",),
    "dʒ": ("JH",),
    "ʤ": ("JH",),
    "ts": ("T", "S"),
    "ʦ": ("T", "S"),
    "dz": ("D", "Z"),
    "ʣ": ("D", "Z"),
    "tɕ": ("CH",),
    "dʑ": ("JH",),
    "ʈʂ": ("CH",),
    "ɖʐ": ("JH",),
    "pf": ("P", "F"),
    # vowels (mapped by mouth shape: openness, rounding, spreading)
    "i": ("IY",),
    "y": ("UW",),
    "ɨ": ("IH",),
    "ʉ": ("UW",),
    "ɯ": ("UW",),
    "u": ("UW",),
    "ɪ": ("IH",),
    "ʏ": ("UH",),
    "ʊ": ("UH",),
    "ᵻ": ("IH",),
    "e": ("EY",),
    "ø": ("UH",),
    "ɘ": ("AH",),
    "ɵ": ("UH",),
    "ɤ": ("AH",),
    "o": ("OW",),
    "ə": ("AH",),
    "ᵊ": ("AH",),
    "ɚ": ("ER",),
    "ɝ": ("ER",),
    "ɛ": ("EH",),
    "ε": ("EH",),
    "œ": ("AO",),
    "ɜ": ("ER",),
    "ɞ": ("AO",),
    "ʌ": ("AH",),
    "ɔ": ("AO",),
    "æ": ("AE",),
    "ɐ": ("AH",),
    "a": ("AA",),
    "ä": ("AA",),
    "ɶ": ("AA",),
    "ɑ": ("AA",),
    "ɒ": ("AA",),
    # consonants
    "p": ("P",),
    "b": ("B",),
    "ɓ": ("B",),
    "t": ("T",),
    "d": ("D",),
    "ɗ": ("D",),
    "ʈ": ("T",),
    "ɖ": ("D",),
    "c": ("K",),
    "ɟ": ("G",),
    "k": ("K",),
    "g": ("G",),
    "ɡ": ("G",),
    "ɠ": ("G",),
    "q": ("K",),
    "ɢ": ("G",),
    "ʛ": ("G",),
    "m": ("M",),
    "ɱ": ("M",),
    "n": ("N",),
    "ɳ": ("N",),
    "ɲ": ("N", "Y"),
    "ŋ": ("NG",),
    "ɴ": ("NG",),
    "ʙ": ("B",),
    "r": ("R",),
    "ʀ": ("R",),
    "ɹ": ("R",),
    "ɻ": ("R",),
    "ɾ": ("D",),
    "ɽ": ("D",),
    "ɺ": ("L",),
    "ⱱ": ("V",),
    "ɸ": ("F",),
    "β": ("V",),
    "f": ("F",),
    "v": ("V",),
    "θ": ("TH",),
    "ð": ("DH",),
    "s": ("S",),
    "z": ("Z",),
    "ʃ": ("SH",),
    "ʒ": ("ZH",),
    "ʂ": ("SH",),
    "ʐ": ("ZH",),
    "ɕ": ("SH",),
    "ʑ": ("ZH",),
    "ɧ": ("SH",),
    "ç": ("HH",),
    "ʝ": ("Y",),
    "x": ("HH",),
    "ɣ": ("G",),
    "χ": ("HH",),
    "ʁ": ("R",),
    "ħ": ("HH",),
    "ʕ": ("HH",),
    "h": ("HH",),
    "ɦ": ("HH",),
    "ʜ": ("HH",),
    "ʢ": ("HH",),
    "ɬ": ("L",),
    "ɮ": ("L",),
    "ʋ": ("V",),
    "j": ("Y",),
    "ɰ": ("W",),
    "w": ("W",),
    "ʍ": ("W",),
    "ɥ": ("W",),
    "l": ("L",),
    "ɫ": ("L",),
    "ɭ": ("L",),
    "ʎ": ("L", "Y"),
    "ʟ": ("L",),
    # glottal stops and clicks: no mouth shape of their own (they fold into their neighbours)
    "ʔ": (),
    "ʡ": (),
    "ʘ": ("P",),
    "ǀ": ("T",),
    "ǃ": ("T",),
    "ǂ": ("T",),
    "ǁ": ("L",),
}
_MAX_KEY = max(len(k) for k in _IPA)

#: Marks that belong to the phone before them (length, secondary articulation, tone, diacritics).
_POSTFIX = set("ːˑ˞ʰʲʷˤˠ̴ⁿˡ˥˦˧˨˩↓↑‿̩̯̪̺̻̝̞̟̠̃̊̈̆̚͜͡0123456789")
#: Marks that belong to the phone after them (stress).
_PREFIX = set("ˈˌ'")
_SPACE = set(" \t\n-")
_PAUSE = set('.,!?;:…—–()"«»“”„¿¡、。，！？；：^$_#')  # ^ $ _: Piper's start, end, pad


def _is_postfix(ch: str) -> bool:
    return (
        ch in _POSTFIX
        or unicodedata.combining(ch) != 0
        or (unicodedata.category(ch) == "Lm" and ch not in _IPA)
    )


def ipa_to_arpabet(units: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """Map IPA units with durations (seconds) to ARPAbet phones with durations.

    A unit is a code point (Piper) or a whole phoneme (espeak-ng's "oʊ", "tʃ"); neighbouring units
    are joined when together they are one ARPAbet phone ("a" + "ɪ" is "AY"). Stress marks give
    their time to the next phone, length marks and diacritics to the previous one, pauses and
    punctuation become "SIL", a word gap ("space") is shared by the phones either side, and
    anything unknown folds into its neighbour. The total duration is preserved.
    """
    # Flatten to code points, each with its share of its unit's duration.
    chars: list[tuple[str, float]] = []
    for unit, dur in units:
        text = unicodedata.normalize("NFD", unit).replace("\u0361", "").replace("\u035c", "")
        if not text:
            chars.append(("", dur))  # an empty unit is a pause (espeak-ng's pause events)
            continue
        share = dur / len(text)
        chars.extend((ch, share) for ch in text)

    out: list[list] = []  # [phone, duration]
    pending_prefix = 0.0  # stress-mark time waiting for the next phone
    pending_space = 0.0  # word-gap time to share between the phones either side
    i = 0
    n = len(chars)
    while i < n:
        ch, dur = chars[i]
        if ch == "" or ch in _PAUSE:
            _flush_space(out, pending_space)
            pending_space = 0.0
            _append(out, SIL, dur + pending_prefix)
            pending_prefix = 0.0
            i += 1
            continue
        if ch in _SPACE:
            pending_space += dur
            i += 1
            continue
        if ch in _PREFIX:
            pending_prefix += dur
            i += 1
            continue
        if _is_postfix(ch) and ch not in _IPA:
            if out:
                out[-1][1] += dur
            else:
                pending_prefix += dur
            i += 1
            continue
        # Longest match over the next code points, skipping marks that belong to them.
        match: tuple[str, ...] | None = None
        consumed = 0
        limit = i
        while limit < n and limit - i < _MAX_KEY and _joinable(chars[limit][0]):
            limit += 1
        for length in range(limit - i, 0, -1):
            key = "".join(c for c, _ in chars[i : i + length])
            if key in _IPA:
                match, consumed = _IPA[key], length
                break
        if match is None:
            match, consumed = _fallback(ch), 1
        total = sum(d for _, d in chars[i : i + consumed]) + pending_prefix
        pending_prefix = 0.0
        i += consumed
        if not match:  # glottal stop or unknown: fold into the previous phone (or the next)
            if out:
                out[-1][1] += total
            else:
                pending_prefix += total
            continue
        head = pending_space / 2 if out and out[-1][0] != SIL else pending_space
        if out and out[-1][0] != SIL:
            out[-1][1] += pending_space - head
        total += head
        pending_space = 0.0
        for phone in match:
            out.append([phone, total / len(match)])
    _flush_space(out, pending_space)
    if pending_prefix:
        _append(out, SIL, pending_prefix)
    return [(p, float(d)) for p, d in out]


def _joinable(ch: str) -> bool:
    return ch != "" and ch not in _PAUSE and ch not in _SPACE and ch not in _PREFIX


def _append(out: list[list], phone: str, dur: float) -> None:
    if out and out[-1][0] == phone == SIL:
        out[-1][1] += dur
    else:
        out.append([phone, dur])


def _flush_space(out: list[list], space: float) -> None:
    if space <= 0:
        return
    if out:
        out[-1][1] += space
    else:
        out.append([SIL, space])


def _fallback(ch: str) -> tuple[str, ...]:
    """An IPA symbol not in the table: its base letter's phone, else nothing."""
    base = unicodedata.normalize("NFD", ch)[0].lower()
    if base in _IPA:
        return _IPA[base]
    return _ASCII.get(base, ())


_ASCII: dict[str, tuple[str, ...]] = {
    "e": ("EH",),
    "o": ("OW",),
    "y": ("IY",),
}


def ipa_string_to_arpabet(ipa: str) -> list[str]:
    """The ARPAbet phones of an IPA string, without times ("həlˈoʊ" -> HH AH L OW)."""
    return [p for p, _ in ipa_to_arpabet([(ipa, 1.0)]) if p != SIL]
