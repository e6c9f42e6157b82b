"""Avatar packs: reading pictures, refusing bad ones, framing, and saving/loading packs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from facecast.engine import face, pack
from facecast.engine.pack import AvatarPack, check_portrait, prepare_avatar, read_image
from facecast.errors import ImageTooLarge, ImageTooSmall, InvalidInput, NoFaceFound, UnreadableImage


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def cropped(astronaut: np.ndarray) -> AvatarPack:
    return prepare_avatar(astronaut)


# --- reading --------------------------------------------------------------------------------------
def test_text_file_named_jpg_is_unreadable(tmp_path: Path) -> None:
    bogus = tmp_path / "portrait.jpg"
    bogus.write_text("this is not a picture\n")
    with pytest.raises(UnreadableImage, match="portrait.jpg"):
        prepare_avatar(bogus)
    with pytest.raises(UnreadableImage, match="missing.png"):
        prepare_avatar(tmp_path / "missing.png")


def test_truncated_jpeg_is_unreadable(tmp_path: Path, astronaut: np.ndarray) -> None:
    path = tmp_path / "cut.jpg"
    Image.fromarray(astronaut).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(UnreadableImage, match="cut.jpg"):
        read_image(path)


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("size", [(10_000, 6_000), (100_000, 100_000)])
def test_huge_declared_size_is_refused_before_decoding(tmp_path: Path, size: tuple[int, int]) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(*size))
    with pytest.raises(ImageTooLarge, match="50 megapixels"):
        prepare_avatar(path)


def test_pixel_limit_is_read_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astronaut: np.ndarray
) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    monkeypatch.setattr(pack, "MAX_SOURCE_PIXELS", 100_000)
    with pytest.raises(ImageTooLarge, match="limit"):
        prepare_avatar(path)


def test_too_small_pictures_say_the_minimum(astronaut: np.ndarray) -> None:
    with pytest.raises(ImageTooSmall, match="64"):
        prepare_avatar(np.full((50, 80, 3), 128, np.uint8))
    tiny_face = cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA)
    with pytest.raises(ImageTooSmall, match=str(pack.MIN_EYE_DISTANCE_PX)):
        prepare_avatar(tiny_face)


def test_no_face() -> None:
    with pytest.raises(NoFaceFound):
        prepare_avatar(np.full((300, 300, 3), 60, np.uint8))


def test_bad_size_option(astronaut: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match="even"):
        prepare_avatar(astronaut, size=511)


def test_modes_and_orientation_become_upright_rgb(tmp_path: Path, astronaut: np.ndarray) -> None:
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:40, :40, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    got = read_image(tmp_path / "rgba.png")
    assert got.shape == (512, 512, 3) and got.dtype == np.uint8
    assert (got[:40, :40] == 255).all()  # transparent over white

    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    got16 = read_image(tmp_path / "grey16.png")
    assert got16.shape == (512, 512, 3) and np.abs(got16[:, :, 0].astype(int) - grey).max() <= 1

    Image.fromarray(astronaut).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    Image.fromarray(astronaut).convert("P").save(tmp_path / "palette.png")
    Image.fromarray(grey).convert("LA").save(tmp_path / "la.png")
    for name in ("cmyk.jpg", "palette.png", "la.png"):
        img = read_image(tmp_path / name)
        assert img.shape == (512, 512, 3) and img.dtype == np.uint8
        assert np.abs(img.astype(int).mean() - astronaut.mean()) < 20

    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; display rotated 90 degrees clockwise
    wide = np.ascontiguousarray(astronaut[:, :400])
    Image.fromarray(np.rot90(wide, 1)).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    upright = read_image(tmp_path / "turned.jpg")
    assert upright.shape == wide.shape
    assert np.abs(upright.astype(int) - wide).mean() < 6


def test_array_inputs(astronaut: np.ndarray) -> None:
    floats = np.dstack([astronaut / 255.0, np.ones(astronaut.shape[:2])])
    assert prepare_avatar(floats).size == (512, 512)


# --- framing --------------------------------------------------------------------------------------
def test_face_cropped_framing(cropped: AvatarPack, astronaut: np.ndarray) -> None:
    p = cropped
    assert p.size == (512, 512) and p.image.dtype == np.uint8 and p.image.shape == (512, 512, 3)
    assert p.landmarks.shape == (478, 3) and p.landmarks.dtype == np.float32
    assert p.person_mask.shape == (512, 512) and p.person_mask.dtype == np.float32
    oval = p.landmarks[list(face.FACE_OVAL), :2]
    width = oval[:, 0].max() - oval[:, 0].min()
    assert 0.38 < width / 512 < 0.47
    assert 0.45 < (oval[:, 0].max() + oval[:, 0].min()) / 2 / 512 < 0.55
    eyes_y = np.mean(face.eye_centers(p.landmarks), axis=0)[1]
    assert 0.36 < eyes_y / 512 < 0.44
    x0, y0, x1, y1 = p.crop_box
    assert x1 - x0 == y1 - y0 and p.source_size == (512, 512) and not p.full_background
    assert not any("enlarged" in w for w in p.warnings)  # 43 px between the eyes, enlarged 2.3x: fine
    small = prepare_avatar(cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA))
    assert any("enlarged" in w for w in small.warnings)  # 25 px between the eyes, enlarged ~3.9x: soft
    nose = p.landmarks[1, :2].round().astype(int)
    assert p.person_mask[nose[1], nose[0]] > 0.9


def test_face_near_the_edge_is_framed_inside_the_picture(astronaut: np.ndarray) -> None:
    # Issue 8: no padding frame ("picture in a picture") when a framing inside the picture exists.
    corner = np.ascontiguousarray(astronaut[70:400, 160:450])
    p = prepare_avatar(corner, size=256)
    x0, y0, x1, y1 = p.crop_box
    assert x0 >= 0 and y0 >= 0 and x1 <= corner.shape[1] and y1 <= corner.shape[0]
    assert p.size == (256, 256)
    assert not any("edge" in w for w in p.warnings)
    oval = p.landmarks[list(face.FACE_OVAL), :2]
    assert oval.min() > 0 and oval.max() < 256  # the whole face is in the frame


def test_a_face_filling_the_picture_is_framed_tighter_not_padded(astronaut: np.ndarray) -> None:
    # The face fills the picture: the usual head-and-shoulders square would reach past its edges;
    # a tighter square inside the picture is used instead of a padded (mirrored or smeared) border.
    tight = np.ascontiguousarray(astronaut[40:330, 172:282])
    p = prepare_avatar(tight, size=256)
    x0, y0, x1, y1 = p.crop_box
    assert x0 >= 0 and y0 >= 0 and x1 <= tight.shape[1] and y1 <= tight.shape[0]
    assert x1 - x0 == tight.shape[1]
    assert p.size == (256, 256)
    assert not any("edge" in w for w in p.warnings)


def test_full_background_keeps_the_picture(astronaut: np.ndarray) -> None:
    p = prepare_avatar(astronaut, full_background=True)
    assert p.full_background and p.size == (512, 512) and p.crop_box == (0, 0, 512, 512)
    assert np.array_equal(p.image, astronaut)
    odd = prepare_avatar(np.ascontiguousarray(astronaut[:383, :511]), full_background=True)
    assert odd.size == (510, 382)


def test_full_background_caps_the_long_side(astronaut: np.ndarray) -> None:
    big = np.full((1441, 2561, 3), 80, np.uint8)
    big[400:1424, 1200:2224] = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    p = prepare_avatar(big, full_background=True)
    assert p.size == (1920, 1080)
    assert p.crop_box == (0, 0, 2561, 1441) and p.source_size == (2561, 1441)
    scale = 1920 / 2561
    assert face.eye_distance(p.landmarks) == pytest.approx(2 * 43.2 * scale, rel=0.08)
    assert p.person_mask.shape == (1080, 1920)
    assert p.person_mask[:100, :100].max() < 0.1


def test_several_faces_warn(astronaut: np.ndarray) -> None:
    two = np.full((512, 1024, 3), 128, np.uint8)
    two[:, :512] = astronaut
    two[64:448, 600:984] = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    p = prepare_avatar(two)
    assert any("2 faces" in w for w in p.warnings)
    assert p.crop_box[0] < 300  # framed on the larger face, on the left


# --- checking without preparing -----------------------------------------------------------------------
def test_check_portrait_boxes_the_face_prepare_would_use(astronaut: np.ndarray, tmp_path: Path) -> None:
    two = np.full((512, 1024, 3), 128, np.uint8)
    two[:, 512:] = astronaut
    two[64:448, 40:424] = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    path = tmp_path / "two.png"
    Image.fromarray(two).save(path)
    found = check_portrait(path)
    assert (found.width, found.height) == (1024, 512)
    x0, y0, x1, y1 = found.face_box
    # The larger face (right half; the astronaut's face is at about x 180-270, y 70-180).
    assert 512 + 160 < x0 < (x0 + x1) / 2 < x1 < 512 + 290 and 40 < y0 < y1 < 200
    assert 38 < found.eye_distance < 50  # the full-size face, not the 0.75x one (about 32)
    assert any("2 faces" in w for w in found.warnings)


def test_check_portrait_refuses_as_prepare_does(astronaut: np.ndarray) -> None:
    with pytest.raises(NoFaceFound):
        check_portrait(np.full((300, 300, 3), 60, np.uint8))
    with pytest.raises(ImageTooSmall, match=str(pack.MIN_EYE_DISTANCE_PX)):
        check_portrait(cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA))
    with pytest.raises(ImageTooSmall, match="64"):
        check_portrait(np.full((50, 80, 3), 128, np.uint8))


# --- saving ---------------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path: Path, cropped: AvatarPack) -> None:
    path = tmp_path / "packs" / "astronaut.npz"
    cropped.save(path)
    assert [f.name for f in path.parent.iterdir()] == ["astronaut.npz"]  # no temp file left
    back = AvatarPack.load(path)
    for name in ("image", "landmarks", "person_mask"):
        a, b = getattr(cropped, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert back.crop_box == cropped.crop_box and back.source_size == cropped.source_size
    assert back.full_background == cropped.full_background and back.warnings == cropped.warnings
    cropped.save(path)  # overwriting works too
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError):
        AvatarPack.load(tmp_path / "junk.npz")
