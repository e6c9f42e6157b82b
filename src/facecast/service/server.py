"""``facecast serve``: the web server (uvicorn) plus a supervised worker process.

The worker is a child process (a Huey consumer installs signal handlers, which only work in a main
thread): started with the server, restarted if it dies, stopped with SIGTERM when the server stops
(it hands unfinished renders back to the queue). On the first start a default account and its API
key are created and printed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from facecast.service.app import create_app
from facecast.service.auth import create_key
from facecast.service.db import Database
from facecast.service.models import Account
from facecast.service.settings import Settings

log = logging.getLogger(__name__)


def ensure_default_account(settings: Settings) -> str | None:
    """Create the default account and a key when there are no accounts yet; returns that key."""
    from sqlalchemy import func, select

    db = Database(settings)
    try:
        db.migrate()
        with db.transaction() as session:
            if session.scalar(select(func.count()).select_from(Account)):
                return None
            key, _ = create_key(session, settings.default_account, name="created at first start")
            return key
    finally:
        db.dispose()


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment for a worker: the parent's, with the resolved locations spelled out."""
    env = dict(os.environ)
    env.update(
        FACECAST_DATA_DIR=str(settings.data_dir),
        FACECAST_DATABASE_URL=settings.database_url,
        FACECAST_MEDIA_DIR=str(settings.media_root),
        FACECAST_QUEUE_BACKEND=settings.queue_backend,
        FACECAST_QUEUE_URL=settings.queue_url,
        FACECAST_QUEUE_NAME=settings.queue_name,
        FACECAST_PARENT_PID=str(os.getpid()),
    )
    if settings.secret_key:
        env["FACECAST_SECRET_KEY"] = settings.secret_key
    return env


class WorkerSupervisor:
    """Keeps one worker process running beside the server (the ``number``-th of ``--workers N``)."""

    def __init__(self, settings: Settings, number: int = 1) -> None:
        self.settings = settings
        self.pid_file = settings.data_dir / ("worker.pid" if number == 1 else f"worker-{number}.pid")
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _spawn(self) -> None:
        cmd = [sys.executable, "-m", "facecast"]
        if log.isEnabledFor(logging.INFO):
            cmd.append("--verbose")
        cmd.append("worker")
        # Its own session: a Ctrl-C in the terminal reaches the server, which stops the worker itself.
        self._proc = subprocess.Popen(cmd, env=worker_env(self.settings), start_new_session=True)
        _write_atomic(self.pid_file, f"{self._proc.pid}\n")
        log.info("worker started (pid %d)", self._proc.pid)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _watch(self) -> None:
        backoff = 1.0
        started = time.monotonic()
        while not self._stop.wait(0.5):
            proc = self._proc
            if proc is None or proc.poll() is None:
                continue
            if self._stop.is_set():
                return
            log.warning(
                "worker (pid %d) exited with %s; restarting in %.0f s", proc.pid, proc.returncode, backoff
            )
            if self._stop.wait(backoff):
                return
            backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 30.0)
            started = time.monotonic()
            self._spawn()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("worker did not stop in %.0f s; killing it", timeout)
                proc.kill()
                proc.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.pid_file.unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


class _Server(uvicorn.Server):
    """uvicorn, announcing the address once it really listens."""

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        host, port = self.config.host, self.config.port
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                port = sock.getsockname()[1]
                break
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        print(f"Facecast is listening on http://{shown}:{port}", flush=True)


def serve(
    settings: Settings, *, host: str | None = None, port: int | None = None, workers: int | None = None
) -> int:
    """Run the web server with ``workers`` worker processes beside it (default 1; 0: a web-only
    node, its jobs rendered by ``facecast worker`` elsewhere)."""
    settings.ensure_dirs()
    key = ensure_default_account(settings)
    if key:
        print(f"Created the account {settings.default_account!r}. Its API key (shown only now):", flush=True)
        print(key, flush=True)
    count = (1 if settings.start_worker else 0) if workers is None else workers
    supervisors = [WorkerSupervisor(settings, number) for number in range(1, count + 1)]
    for supervisor in supervisors:
        supervisor.start()
    config = uvicorn.Config(
        create_app(settings),
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_level="info" if log.isEnabledFor(logging.INFO) else "warning",
        timeout_graceful_shutdown=10,
        # JSON logs: uvicorn's own loggers go through the root logger's JSON handler too.
        log_config=None
        if os.environ.get("FACECAST_LOG_FORMAT", "").strip().lower() == "json"
        else LOGGING_CONFIG,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default handlers
    # that would end the process before the worker is stopped. Note it instead, and stop cleanly.
    received: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: received.append(signum)) for sig in _STOP_SIGNALS
    }
    try:
        server = _Server(config)
        server.run()
        return 0 if server.started else 1
    finally:
        for supervisor in supervisors:
            supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
