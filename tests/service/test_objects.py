"""The object store (service/objects.py) and the media store over it, against a real S3-protocol
server (moto's server mode on 127.0.0.1): atomic multipart uploads, ranges, prefixes, and a store
that is down."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from facecast.errors import StorageUnavailable
from facecast.service.api.stored import parse_range
from facecast.service.objects import S3Objects, parse_s3_url
from facecast.service.storage import MediaStore
from tests.service.s3 import CREDENTIALS, S3Server

MB = 1024 * 1024


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def objects(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> tuple[S3Objects, str]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = s3.new_bucket()
    return S3Objects(f"s3://{bucket}/pre/fix", endpoint_url=s3.endpoint, multipart_bytes=5 * MB), bucket


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b/")
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    with pytest.raises(Exception, match="s3://BUCKET"):
        parse_s3_url("http://bucket/x")


def test_put_get_range_and_delete(objects: tuple[S3Objects, str], s3: S3Server, tmp_path: Path) -> None:
    store, bucket = objects
    source = tmp_path / "a.bin"
    source.write_bytes(bytes(range(256)) * 40)
    store.put_file("avatars/x/pack.npz", source)
    store.put_file("avatars/x/source.png", source)
    store.put_file("avatars/xy/other", source)
    assert s3.keys(bucket) == [
        "pre/fix/avatars/x/pack.npz",
        "pre/fix/avatars/x/source.png",
        "pre/fix/avatars/xy/other",
    ]
    assert store.info("avatars/x/pack.npz").size == 10240  # type: ignore[union-attr]
    assert store.info("avatars/nothing") is None
    assert b"".join(store.read_range("avatars/x/pack.npz", 256, 511)) == bytes(range(256))
    copy = tmp_path / "copy" / "a.bin"
    assert store.get_file("avatars/x/pack.npz", copy) and copy.read_bytes() == source.read_bytes()
    assert not store.get_file("avatars/missing", tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
    # a folder's prefix, not its name's neighbours
    assert sorted(store.keys("avatars/x/")) == ["avatars/x/pack.npz", "avatars/x/source.png"]
    assert store.delete_prefix("avatars/x") == 3
    assert s3.keys(bucket) == ["pre/fix/avatars/xy/other"]


def test_large_file_goes_up_in_parts(objects: tuple[S3Objects, str], s3: S3Server, tmp_path: Path) -> None:
    store, bucket = objects
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(12 * MB + 123))
    store.put_file("videos/big.mp4", big)
    head = s3.client().head_object(Bucket=bucket, Key="pre/fix/videos/big.mp4")
    assert head["ContentLength"] == 12 * MB + 123
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of three 5 MB parts
    back = tmp_path / "back.mp4"
    assert store.get_file("videos/big.mp4", back)
    assert back.read_bytes() == big.read_bytes()


def test_media_store_publishes_fetches_and_deletes(
    objects: tuple[S3Objects, str], s3: S3Server, tmp_path: Path
) -> None:
    store, bucket = objects
    web = MediaStore(tmp_path / "web", store)
    worker = MediaStore(tmp_path / "worker", store)
    web.write_bytes("uploads/j1/audio.wav", b"RIFF....")
    folder = web.path("avatars/a1")
    folder.mkdir(parents=True)
    (folder / "pack.npz").write_bytes(b"pack")
    (folder / ".pack.npz.abc.part").write_bytes(b"half")  # another writer's unfinished file
    web.publish("avatars/a1")
    assert s3.keys(bucket, "pre/fix/avatars") == ["pre/fix/avatars/a1/pack.npz"]
    # another machine with an empty folder gets what it needs from the store
    assert worker.fetch("uploads/j1/audio.wav").read_bytes() == b"RIFF...."
    assert (worker.fetch_dir("avatars/a1") / "pack.npz").read_bytes() == b"pack"
    assert worker.exists("uploads/j1/audio.wav") and not worker.exists("uploads/j1/none")
    worker.evict("uploads/j1")
    assert not worker.path("uploads/j1").exists() and web.exists("uploads/j1/audio.wav")
    web.delete("avatars/a1")
    assert s3.keys(bucket, "pre/fix/avatars") == [] and not folder.exists()


def test_a_store_that_is_down_is_a_storage_fault(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    down = S3Server()  # a port nothing listens on
    store = S3Objects(f"s3://{bucket}", endpoint_url=down.endpoint)
    file = tmp_path / "f"
    file.write_bytes(b"x")
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match="object store cannot be reached"):
        store.put_file("videos/v.mp4", file)
    with pytest.raises(StorageUnavailable):
        store.check()
    assert time.monotonic() - started < 60
    media = MediaStore(tmp_path / "m", store)
    with pytest.raises(StorageUnavailable):
        media.write_bytes("videos/t.json", b"{}")
    media.delete("videos/t.json")  # best effort: logged, never raised


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=1000-", False),
        ("bytes=-0", False),
        ("bytes=50-10", None),
        ("bytes=abc", None),
        ("items=0-5", None),
        ("bytes=0-1,5-6", None),
    ],
)
def test_parse_range(header: str | None, expected: object) -> None:
    assert parse_range(header, 1000) == expected
