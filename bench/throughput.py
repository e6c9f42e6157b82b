"""Throughput: videos rendered per minute by 1 and by 2 workers, each worker pinned to its own core.

Run with `.venv/bin/python bench/throughput.py [--jobs 8]`. A web-only node
(`facecast serve --workers 0`) takes the jobs; `facecast worker` processes (one render thread each,
pinned with `taskset`) share its database, queue and media folder. The same Miraflow job (the stock
photo avatar speaking one text, so the speech is made once) is queued `--jobs` times after one
warm-up job; the figure is jobs divided by the time from the first create to the last completion.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TEXT = (
    "Good morning everyone. Today I want to talk about our garden, where apples, pears and plums "
    "grow all summer long. Water them early, and pick them when they are soft."
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACECAST_")}
    env.update(FACECAST_DATA_DIR=str(data), FACECAST_CAPTION_PREVIEWS="false", FACECAST_WORKERS="1")
    return env


def _wait(api: httpx.Client, job_ids: list[str], timeout: float = 900) -> None:
    waiting = set(job_ids)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for job_id in list(waiting):
            status = api.get(f"/api/video/{job_id}/status").json()["status"]
            if status == "inference_complete":
                waiting.discard(job_id)
            elif status in ("inference_failed", "inference_error"):
                raise SystemExit(f"job {job_id} failed: {status}")
        time.sleep(0.2)
    if waiting:
        raise SystemExit(f"{len(waiting)} jobs did not finish")


def run(workers: int, jobs: int) -> float:
    """Jobs per minute with ``workers`` pinned worker processes."""
    data = Path(tempfile.mkdtemp(prefix="facecast-throughput-"))
    port = _free_port()
    env = _env(data)
    log = open(data / "serve.log", "wb")  # noqa: SIM115 - handed to the child
    web = subprocess.Popen(
        [sys.executable, "-m", "facecast", "serve", "--workers", "0", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        key = None
        deadline = time.monotonic() + 180
        while key is None and time.monotonic() < deadline:
            text = (data / "serve.log").read_text(errors="replace")
            if "listening on" in text:
                key = text.split("(shown only now):\n", 1)[1].split()[0]
            time.sleep(0.2)
        if key is None:
            raise SystemExit("the server did not start")
        cores = os.sched_getaffinity(0)
        for number in range(workers):
            core = sorted(cores)[number % len(cores)]
            procs.append(
                subprocess.Popen(
                    [
                        "taskset",
                        "-c",
                        str(core),
                        sys.executable,
                        "-m",
                        "facecast",
                        "worker",
                        "--threads",
                        "1",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=ROOT,
                )
            )
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"x-api-key": key}, timeout=60) as api:
            body = {"avatarId": "astronaut", "text": TEXT}
            _wait(api, [api.post("/api/video/create", json=body).json()["jobId"]])  # warm-up
            started = time.monotonic()
            ids = [api.post("/api/video/create", json=body).json()["jobId"] for _ in range(jobs)]
            _wait(api, ids)
            elapsed = time.monotonic() - started
        return jobs / elapsed * 60
    finally:
        for proc in [*procs, web]:
            proc.send_signal(signal.SIGTERM)
        for proc in [*procs, web]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8, help="jobs per measurement (default 8)")
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        raise SystemExit("taskset (util-linux) is needed to pin the workers")
    one = run(1, args.jobs)
    two = run(2, args.jobs)
    print("| workers | jobs/min |")
    print("|---|---|")
    print(f"| 1 | {one:.1f} |")
    print(f"| 2 | {two:.1f} |")
    print(f"ratio 2/1: {two / one:.2f}x on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
