"""Caption templates as data: the built-ins, ids, and validation that names the field."""

from __future__ import annotations

import re

import pytest

from facecast.captions import (
    BUILTIN_TEMPLATES,
    CaptionTemplate,
    InvalidTemplate,
    UnknownTemplate,
    builtin_template,
)


def test_six_distinct_builtins_with_stable_ids() -> None:
    assert len(BUILTIN_TEMPLATES) >= 6
    slugs = {t.slug for t in BUILTIN_TEMPLATES}
    assert {
        "clean-subtitle",
        "bold-highlight",
        "karaoke",
        "lower-third",
        "vertical-social",
        "pop-in",
    } <= slugs
    styles = {tuple(sorted(t.public().items())) for t in BUILTIN_TEMPLATES}
    assert len(styles) == len(BUILTIN_TEMPLATES)
    for t in BUILTIN_TEMPLATES:
        assert re.fullmatch(r"ctpl_[0-9a-z]{16}", t.id)
        assert builtin_template(t.id) is t and builtin_template(t.slug) is t
    assert {t.highlight for t in BUILTIN_TEMPLATES} >= {"none", "color", "karaoke", "box"}
    assert any(t.box for t in BUILTIN_TEMPLATES) and any(t.animation == "pop" for t in BUILTIN_TEMPLATES)


def test_unknown_template_lists_the_known_ones() -> None:
    with pytest.raises(UnknownTemplate, match="bold-highlight"):
        builtin_template("comic-sans")


def test_round_trip_and_defaults() -> None:
    t = CaptionTemplate.from_dict({"name": "My Style", "size": 0.06, "highlight": "color"})
    assert t.slug == "my-style" and t.size == 0.06 and t.highlight == "color"
    again = CaptionTemplate.from_dict(t.to_dict())
    assert again == t


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"size": 0.05}, "name"),
        ({"name": "x", "size": 5}, "size"),
        ({"name": "x", "color": "red"}, "color"),
        ({"name": "x", "font": "Comic Sans"}, "font"),
        ({"name": "x", "position": "middle"}, "position"),
        ({"name": "x", "words_per_line": 0}, "words_per_line"),
        ({"name": "x", "words_per_line": 2.5}, "words_per_line"),
        ({"name": "x", "bold": "yes"}, "bold"),
        ({"name": "x", "sparkles": True}, "sparkles"),
    ],
)
def test_invalid_templates_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        CaptionTemplate.from_dict(data)
    assert caught.value.field == field
    assert field in str(caught.value)
