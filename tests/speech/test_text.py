"""Script text: validation, sentence chunks, spoken forms."""

from __future__ import annotations

import pytest

from facecast.errors import InvalidText
from facecast.speech.text import check_text, clean, split_chunks


def test_empty_and_whitespace_are_refused() -> None:
    for text in ("", "   ", "\n\t"):
        with pytest.raises(InvalidText, match="empty"):
            check_text(text)


def test_over_the_limit_names_the_limit() -> None:
    with pytest.raises(InvalidText, match="5,000"):
        check_text("a" * 5001)
    with pytest.raises(InvalidText, match="limit is 10 characters"):
        check_text("eleven chars", max_chars=10)
    assert check_text("  ok  ") == "ok"


def test_sentences_are_split_but_not_after_abbreviations_or_initials() -> None:
    chunks = split_chunks(
        "Dr. Smith met J. R. R. Tolkien. It was 3.5 p.m. in the U.S. Army! Really? Yes.", language="en-US"
    )
    assert [c.words[0].written for c in chunks] == ["Dr.", "It", "Really?", "Yes."]


def test_english_abbreviations_are_spelled_out_but_written_form_kept() -> None:
    (chunk,) = split_chunks("Dr. Smith vs. Mr. Jones, e.g. today", language="en-US")
    spoken = [w.spoken for w in chunk.words]
    assert spoken[:5] == ["Doctor", "Smith", "versus", "Mister", "Jones,"]
    assert "for example" in spoken
    assert chunk.words[0].written == "Dr."


def test_emoji_and_foreign_scripts_are_removed() -> None:
    (chunk,) = split_chunks("Hello 😀👍🏽 中文 world مرحبا", language="en-US")
    assert [w.spoken for w in chunk.words] == ["Hello", "world"]
    assert split_chunks("中文 😀", language="en-US") == []
    (zh,) = split_chunks("你好世界", language="cmn")
    assert zh.words[0].spoken == "你好世界"


def test_ascii_only_engines_get_plain_letters() -> None:
    assert (
        clean("Café “naïve” Straße — ok…", language="en-US", ascii_only=True)
        == 'Cafe "naive" Strasse - ok...'
    )


def test_punctuation_only_words_leave_a_pause() -> None:
    (chunk,) = split_chunks("wait — what", language="en-US")
    assert [w.spoken for w in chunk.words] == ["wait,", "what"]


def test_long_sentences_are_cut() -> None:
    text = ", ".join(f"word{i} and more" for i in range(40)) + "."
    chunks = split_chunks(text, language="en-US")
    assert len(chunks) > 1
    assert sum(len(c.words) for c in chunks) == 120
