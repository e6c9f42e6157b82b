"""Fixtures: one real server (``facecast serve`` + its worker) shared by the fast tests, its keys, and
the test media."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from facecast.service.auth import Caller, authenticate, create_key
from facecast.service.domain import Service
from facecast.service.queue import JobQueue
from facecast.service.settings import Settings
from tests.service.harness import PG_BASE, Server, portrait_jpeg, portrait_png, speech_wav

#: The session server's limits, small enough for the tests to reach.
LIMITS = {
    "FACECAST_MAX_TEXT_CHARS": "300",
    "FACECAST_MAX_UPLOAD_BYTES": str(6 * 1024 * 1024),
    "FACECAST_MAX_CLIP_SECONDS": "8",
    "FACECAST_MAX_CLIP_SIDE": "640",
}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server") / "data", **LIMITS).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def key(server: Server) -> str:
    """The default account's key, printed by the server at its first start."""
    assert server.default_key, server.log()[-2000:]
    return server.default_key


@pytest.fixture(scope="session")
def other_key(server: Server) -> str:
    """A second account, made with ``facecast keys create`` against the same data folder."""
    return server.key("other")


@pytest.fixture()
def api(server: Server, key: str) -> Iterator[httpx.Client]:
    with server.client(key) as client:
        yield client


@pytest.fixture(scope="session")
def png() -> bytes:
    return portrait_png()


@pytest.fixture(scope="session")
def jpeg() -> bytes:
    return portrait_jpeg()


@pytest.fixture(scope="session")
def wav() -> bytes:
    return speech_wav(1.5)


@pytest.fixture(scope="session")
def long_wav() -> bytes:
    """Long enough that a render is still running a few seconds after it starts."""
    return speech_wav(90.0, seed=1)


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture()
def service(tmp_path: Path) -> Service:
    """The domain layer in-process on a fresh SQLite database (short heartbeats, two attempts)."""
    settings = Settings(data_dir=tmp_path, heartbeat_timeout=5, max_attempts=2)
    svc = Service(settings, queue=JobQueue(settings))
    svc.db.migrate()
    return svc


@pytest.fixture()
def caller(service: Service) -> Caller:
    with service.db.transaction() as session:
        key, _ = create_key(session, "alice")
        return authenticate(session, key)


@pytest.fixture()
def pg_schema() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_BASE, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_BASE}: {exc}")
    schema = f"facecast_test_{secrets.token_hex(4)}"
    conn.execute(f'create schema "{schema}"')
    try:
        yield schema
    finally:
        conn.execute(f'drop schema "{schema}" cascade')
        conn.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """On a failure, show the end of the shared server's log (the worker's too)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "server" in getattr(item, "fixturenames", ()):
        srv = item.funcargs.get("server")  # type: ignore[attr-defined]
        if isinstance(srv, Server):
            lines = [line for line in srv.log().splitlines() if not line.startswith(("W0000", "I0000"))]
            report.sections.append(("facecast server log (tail)", "\n".join(lines[-60:])))
