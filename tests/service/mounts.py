"""Real faults for the hardening tests: a small tmpfs the test owns (full, or flipped read-only
and back) and a Redis server the test can stop and start. Skipped where mounting is not allowed."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.harness import free_port


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "64m") -> Iterator[Path]:
    """A fresh tmpfs of ``size`` at ``path``, unmounted afterwards (skips if mounting is refused)."""
    path.mkdir(parents=True, exist_ok=True)
    done = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        for _ in range(50):
            set_read_only(path, False, check=False)
            if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        else:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def set_read_only(path: Path, read_only: bool, *, check: bool = True, timeout: float = 20) -> None:
    """Remount ``path`` read-only or read-write. Linux refuses (EBUSY) while a file on it is open
    for writing, so this retries until no write is in flight."""
    deadline = time.monotonic() + timeout
    while True:
        done = _mount("-o", f"remount,{'ro' if read_only else 'rw'}", str(path))
        if done.returncode == 0 or not check:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"could not remount {path}: {done.stderr}")
        time.sleep(0.05)


def fill(path: Path) -> Path:
    """Fill the file system holding ``path`` to the last byte; the filler file's path."""
    filler = path / "filler.bin"
    chunk = b"\xa5" * (1024 * 1024)
    with open(filler, "wb", buffering=0) as out:
        with contextlib.suppress(OSError):
            while True:
                out.write(chunk)
        for size in (65536, 4096, 512, 1):  # the last partial blocks too
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    return filler


class Redis:
    """A Redis server of the test's own, on a free port, that the test can stop and start."""

    def __init__(self, workdir: Path, *, durable: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        #: Keep the queue across a stop (append-only file, synced on every write).
        self.durable = durable

    def start(self) -> Redis:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_connect_timeout=1).ping():
                    return self
            time.sleep(0.1)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
