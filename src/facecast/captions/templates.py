"""Caption templates as data: how captions look (font, size, colours, box, position), how words
are grouped (words per line, lines), and how the current word is shown (highlight, animation).

A template is validated once (``CaptionTemplate.from_dict``) with errors that name the field, so
the same rules hold for the built-in templates, an account's own (stored by the service) and the
command line. Sizes are fractions of the frame so a template looks the same at any resolution.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, get_args

from facecast.captions.fonts import FAMILIES
from facecast.errors import InvalidInput, NotFound

Position = Literal["bottom", "center", "top", "lower-third"]
Highlight = Literal["none", "color", "karaoke", "box"]
Casing = Literal["none", "upper", "lower"]
Animation = Literal["none", "pop", "fade"]
Align = Literal["center", "left"]

_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TEMPLATE_ID_PREFIX = "ctpl_"
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class UnknownTemplate(NotFound):
    field = "caption_template_id"


class InvalidTemplate(InvalidInput):
    field = "template"


@dataclass(frozen=True)
class CaptionTemplate:
    """One caption style. Every size is relative (to the frame height, or to the font size)."""

    #: "ctpl_" + 16 characters; built-in ids are derived from the slug so they never change.
    id: str
    #: Short name used on the command line ("bold-highlight").
    slug: str
    name: str
    font: str = "DejaVu Sans"
    bold: bool = True
    #: Font size as a fraction of the frame height.
    size: float = 0.05
    color: str = "#FFFFFF"
    #: Colour of the current word ("color", "box" highlights) or of the spoken part ("karaoke").
    highlight_color: str = "#FFD400"
    outline_color: str = "#000000"
    #: Outline width as a fraction of the font size.
    outline: float = 0.08
    #: Drop-shadow offset as a fraction of the font size.
    shadow: float = 0.0
    #: A filled box behind the text (a lower third); ``box_opacity`` 0..1.
    box: bool = False
    box_color: str = "#000000"
    box_opacity: float = 0.6
    position: Position = "bottom"
    align: Align = "center"
    #: Safe margin on every side, as a fraction of the frame's shorter side.
    margin: float = 0.06
    words_per_line: int = 7
    max_lines: int = 2
    highlight: Highlight = "none"
    casing: Casing = "none"
    animation: Animation = "none"
    #: The aspect ratio it was designed for ("any", "9:16", "16:9"): a hint for pickers.
    aspect: str = "any"

    # --- (de)serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, template_id: str | None = None) -> CaptionTemplate:
        """A validated template from JSON-like data; unknown keys and bad values are refused with
        ``InvalidTemplate`` naming the field (``template.<field>``)."""
        if not isinstance(data, dict):
            raise InvalidTemplate("a template must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidTemplate(f"unknown template field: {unknown[0]}", field=unknown[0])
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.isprintable():
            raise InvalidTemplate("name must be a non-empty line of at most 100 characters", field="name")
        slug = data.get("slug") or slugify(name)
        values = {k: v for k, v in data.items() if k not in ("id", "slug", "name")}
        template = cls(
            id=template_id or data.get("id") or template_id_for(slug), slug=slug, name=name.strip()
        )
        defaults = template.to_dict()
        for key, value in values.items():
            _check_type(key, value, type(defaults[key]))
        return validate(replace(template, **values))

    def public(self) -> dict[str, Any]:
        """The fields an API shows (everything but the id fields, which the views place)."""
        data = self.to_dict()
        for key in ("id", "slug", "name"):
            data.pop(key)
        return data


def _check_type(key: str, value: Any, expected: type) -> None:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if type(value) is not expected:
        kind = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}[expected]
        raise InvalidTemplate(f"{key} must be {kind}", field=key)


def _within(key: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise InvalidTemplate(f"{key} must be between {low:g} and {high:g} (got {value:g})", field=key)


def validate(t: CaptionTemplate) -> CaptionTemplate:
    if not _SLUG.match(t.slug):
        raise InvalidTemplate("slug must be lower-case letters, digits and dashes", field="slug")
    if t.font not in FAMILIES:
        raise InvalidTemplate(f"font must be one of: {', '.join(sorted(FAMILIES))}", field="font")
    for key in ("color", "highlight_color", "outline_color", "box_color"):
        if not _COLOUR.match(getattr(t, key)):
            raise InvalidTemplate(f"{key} must be a colour like #FFD400", field=key)
    _within("size", t.size, 0.015, 0.2)
    _within("outline", t.outline, 0.0, 0.3)
    _within("shadow", t.shadow, 0.0, 0.3)
    _within("box_opacity", t.box_opacity, 0.0, 1.0)
    _within("margin", t.margin, 0.02, 0.25)
    _within("words_per_line", t.words_per_line, 1, 20)
    _within("max_lines", t.max_lines, 1, 4)
    for key, kind in (
        ("position", Position),
        ("highlight", Highlight),
        ("casing", Casing),
        ("animation", Animation),
        ("align", Align),
    ):
        allowed = get_args(kind)
        if getattr(t, key) not in allowed:
            raise InvalidTemplate(f"{key} must be one of: {', '.join(allowed)}", field=key)
    if t.aspect not in ("any", "9:16", "16:9", "1:1", "4:5"):
        raise InvalidTemplate("aspect must be one of: any, 9:16, 16:9, 1:1, 4:5", field="aspect")
    return t


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]
    return slug or "template"


def template_id_for(seed: str) -> str:
    """A stable ``ctpl_`` id (16 lower-case letters and digits) from a seed string."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:12], "big")
    chars = []
    for _ in range(16):
        digest, rem = divmod(digest, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[rem])
    return TEMPLATE_ID_PREFIX + "".join(chars)


def _builtin(slug: str, name: str, **style: Any) -> CaptionTemplate:
    return validate(CaptionTemplate(id=template_id_for(f"builtin:{slug}"), slug=slug, name=name, **style))


#: The built-in templates, in the order they are listed.
BUILTIN_TEMPLATES: tuple[CaptionTemplate, ...] = (
    _builtin(
        "clean-subtitle",
        "Clean Subtitle",
        bold=False,
        size=0.045,
        outline=0.07,
        shadow=0.04,
        position="bottom",
        words_per_line=8,
        max_lines=2,
    ),
    _builtin(
        "bold-highlight",
        "Bold Highlight",
        size=0.075,
        outline=0.11,
        shadow=0.05,
        position="center",
        words_per_line=3,
        max_lines=2,
        highlight="color",
        highlight_color="#FFD400",
        casing="upper",
    ),
    _builtin(
        "karaoke",
        "Karaoke Fill",
        size=0.055,
        color="#A0A0A0",
        highlight_color="#FFFFFF",
        outline=0.09,
        position="bottom",
        words_per_line=6,
        max_lines=2,
        highlight="karaoke",
    ),
    _builtin(
        "lower-third",
        "Boxed Lower Third",
        font="Noto Sans",
        bold=False,
        size=0.042,
        outline=0.0,
        box=True,
        box_color="#101820",
        box_opacity=0.75,
        position="lower-third",
        align="left",
        margin=0.07,
        words_per_line=8,
        max_lines=2,
    ),
    _builtin(
        "vertical-social",
        "Vertical Social",
        font="DejaVu Sans Condensed",
        size=0.07,
        outline=0.12,
        shadow=0.06,
        position="center",
        words_per_line=3,
        max_lines=2,
        highlight="box",
        highlight_color="#14C45A",
        casing="upper",
        aspect="9:16",
    ),
    _builtin(
        "pop-in",
        "Word Pop-in",
        size=0.065,
        outline=0.1,
        shadow=0.05,
        position="bottom",
        words_per_line=4,
        max_lines=1,
        highlight="color",
        highlight_color="#4FD1FF",
        animation="pop",
    ),
)
DEFAULT_TEMPLATE = "clean-subtitle"


def builtin_template(key: str) -> CaptionTemplate:
    """A built-in template by slug or id."""
    for template in BUILTIN_TEMPLATES:
        if key in (template.slug, template.id):
            return template
    names = ", ".join(t.slug for t in BUILTIN_TEMPLATES)
    raise UnknownTemplate(f"Unknown caption template {key!r}; the templates are: {names}")
