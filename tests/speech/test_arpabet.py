"""IPA and festival/flite phones to the engine's ARPAbet."""

from __future__ import annotations

import pytest

from facecast.speech.arpabet import ARPABET, ipa_string_to_arpabet, ipa_to_arpabet, radio_to_arpabet


@pytest.mark.parametrize(
    ("ipa", "expected"),
    [
        ("həlˈoʊ", ["HH", "AH", "L", "OW"]),
        ("mˈɑːm", ["M", "AA", "M"]),
        ("tʃˈaɪld", ["CH", "AY", "L", "D"]),
        ("t͡ʃaɪ̯", ["CH", "AY"]),  # tie bar and non-syllabic mark
        ("dʒˈʌmp", ["JH", "AH", "M", "P"]),
        ("bˈɔɪ", ["B", "OY"]),
        ("nˈaʊ", ["N", "AW"]),
        ("ðə θˈɪŋ", ["DH", "AH", "TH", "IH", "NG"]),
        ("bˈɜːd", ["B", "ER", "D"]),
        ("wˈɔːɾɚ", ["W", "AO", "D", "ER"]),
        ("ʃtʁaːsə", ["SH", "T", "R", "AA", "S", "AH"]),
        ("bõʒuʁ", ["B", "OW", "ZH", "UW", "R"]),
        ("ʔaʊ̯x", ["AW", "HH"]),  # glottal stop has no mouth shape of its own
    ],
)
def test_ipa_strings(ipa: str, expected: list[str]) -> None:
    assert ipa_string_to_arpabet(ipa) == expected


def test_durations_are_kept_and_marks_fold_into_neighbours() -> None:
    units = [
        ("^", 0.05),
        ("m", 0.03),
        ("ˈ", 0.04),
        ("ɑ", 0.09),
        ("ː", 0.03),
        ("m", 0.05),
        (",", 0.05),
        (" ", 0.1),
        ("$", 0.05),
    ]
    phones = ipa_to_arpabet(units)
    assert [p for p, _ in phones] == ["SIL", "M", "AA", "M", "SIL"]
    assert sum(d for _, d in phones) == pytest.approx(sum(d for _, d in units))
    durations = dict(zip(["SIL0", "M", "AA", "M2", "SIL"], [d for _, d in phones], strict=True))
    assert durations["AA"] == pytest.approx(0.04 + 0.09 + 0.03)  # stress before, length after


def test_word_gap_is_shared_between_neighbours() -> None:
    phones = ipa_to_arpabet([("s", 0.1), (" ", 0.04), ("m", 0.1)])
    assert phones == [("S", pytest.approx(0.12)), ("M", pytest.approx(0.12))]


def test_espeak_pause_units_become_silence() -> None:
    assert ipa_to_arpabet([("m", 0.1), ("", 0.2), ("k", 0.1)]) == [("M", 0.1), ("SIL", 0.2), ("K", 0.1)]


def test_every_symbol_maps_into_the_set() -> None:
    weird = "ɓɗʄɠʛʘǀǃǂǁɬɮʎʟɰʍɥʜʢʡɧɕʑʂʐɳɲɴɱⱱɸβçʝχʁħʕɦɺɾɽɻʀʋœɶøɵɘɞɤɯʏɪʊᵻ"
    assert set(ipa_string_to_arpabet(weird)) <= ARPABET


@pytest.mark.parametrize(
    ("radio", "expected"),
    [
        ("pau", "SIL"),
        ("h#", "SIL"),
        ("ax", "AH"),
        ("axr", "ER"),
        ("dx", "D"),
        ("hh", "HH"),
        ("aa1", "AA"),
        ("zh", "ZH"),
    ],
)
def test_radio_phones(radio: str, expected: str) -> None:
    assert radio_to_arpabet(radio) == expected
