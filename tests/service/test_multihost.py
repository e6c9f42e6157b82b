"""Facecast on several "hosts": Linux network namespaces made by the test, joined by a bridge on
addresses of its own. PostgreSQL and Redis run in a database namespace, the S3 server (moto) listens
on the test's own bridge address, a web-only node runs in one namespace and two workers in two
more, each with its own empty data folder. Twenty jobs in both dialects complete; one worker host
is killed (SIGKILL) mid-render and every job still completes exactly once, its video in the store
and nothing left on any local disk.

Needs root (``ip netns``), PostgreSQL's server binaries and redis-server; skipped otherwise."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.harness import ROOT, facecast_env, speech_wav, wait_for
from tests.service.s3 import S3Server

pytestmark = pytest.mark.slow

#: The test's own network (a /24 nobody else here uses) and the hosts on it.
NET = "10.231.77"
HOSTS = {"db": 2, "web": 3, "w1": 4, "w2": 5}
HUB = 1  # the test process's own address on the bridge (the S3 server listens there)


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


class Network:
    """A bridge in the root namespace and one namespace per host, each with a veth into it."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.bridge = f"fcbr{tag}"
        self.namespaces: dict[str, str] = {}

    def up(self) -> Network:
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{NET}.{HUB}/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        for host, number in HOSTS.items():
            ns = f"fc{self.tag}{host}"
            outside, inside = f"fc{self.tag}{host}o", f"fc{self.tag}{host}i"
            _run("ip", "netns", "add", ns)
            self.namespaces[host] = ns
            _run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            _run("ip", "link", "set", inside, "netns", ns)
            _run("ip", "link", "set", outside, "master", self.bridge)
            _run("ip", "link", "set", outside, "up")
            _run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{NET}.{number}/24", "dev", inside)
            _run("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up")
            _run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        return self

    def down(self) -> None:
        for ns in self.namespaces.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)

    def spawn(
        self, host: str, args: list[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        out = open(log, "ab")  # noqa: SIM115 - handed to the child
        try:
            return subprocess.Popen(
                ["ip", "netns", "exec", self.namespaces[host], *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        finally:
            out.close()


def _wait_port(net: Network, host: str, port: int, timeout: float = 60) -> None:
    address = f"{NET}.{HOSTS[host]}"
    probe = f"import socket; socket.create_connection(('{address}', {port}), 2)"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0:
            return
        time.sleep(0.3)
    raise TimeoutError(f"{address}:{port} did not answer")


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[dict[str, object]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    pg = _pg_bin()
    redis = shutil.which("redis-server")
    if pg is None or redis is None:
        pytest.skip("PostgreSQL's server binaries and redis-server are needed")
    net = Network(str(os.getpid() % 10000)).up()
    procs: list[subprocess.Popen[bytes]] = []
    s3 = S3Server()
    pgroot: Path | None = None
    try:
        # PostgreSQL and Redis on the database host only
        # (outside pytest's folders, which only root may enter: the server runs as postgres)
        pgroot = Path(tempfile.mkdtemp(prefix="facecast-multihost-pg-"))
        pgroot.chmod(0o755)
        pgdata = pgroot / "data"
        pgdata.mkdir()
        shutil.chown(pgdata, "postgres", "postgres")
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(pg / "initdb"),
                "-D",
                str(pgdata),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
            check=True,
            capture_output=True,
        )
        with open(pgdata / "pg_hba.conf", "a") as hba:  # the test's network may connect
            hba.write(f"host all all {NET}.0/24 trust\n")
        db = f"{NET}.{HOSTS['db']}"
        procs.append(
            net.spawn(
                "db",
                [
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    str(pg / "postgres"),
                    "-D",
                    str(pgdata),
                    "-h",
                    db,
                    "-k",
                    str(pgdata),
                    "-c",
                    "max_connections=200",
                ],
                tmp_path / "postgres.log",
            )
        )
        procs.append(
            net.spawn(
                "db",
                [
                    redis,
                    "--bind",
                    db,
                    "--port",
                    "6379",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "no",
                ],
                tmp_path / "redis.log",
            )
        )
        _wait_port(net, "db", 5432)
        _wait_port(net, "db", 6379)
        # the object store on the test's own bridge address
        s3.endpoint = f"http://{NET}.{HUB}:{s3.port}"
        from moto.server import ThreadedMotoServer

        s3._server = ThreadedMotoServer(ip_address=f"{NET}.{HUB}", port=s3.port, verbose=False)
        s3._server.start()
        time.sleep(0.5)
        bucket = s3.new_bucket()
        shared = {
            **s3.env(bucket),
            "FACECAST_DATABASE_URL": f"postgresql://postgres@{db}:5432/postgres",
            "FACECAST_QUEUE_BACKEND": "redis",
            "FACECAST_QUEUE_URL": f"redis://{db}:6379/0",
            "FACECAST_SECRET_KEY": "multihost-test-secret",
            "FACECAST_CAPTION_PREVIEWS": "false",
            "FACECAST_HEARTBEAT_INTERVAL": "0.5",
            "FACECAST_HEARTBEAT_TIMEOUT": "6",
            "FACECAST_REAPER_INTERVAL": "0.5",
            "FACECAST_MAX_ATTEMPTS": "3",
            "FACECAST_MAX_PENDING_JOBS": "100",
        }
        web_dir = tmp_path / "web"
        web_addr = f"{NET}.{HOSTS['web']}"
        web = net.spawn(
            "web",
            [
                sys.executable,
                "-m",
                "facecast",
                "serve",
                "--workers",
                "0",
                "--host",
                web_addr,
                "--port",
                "8000",
            ],
            tmp_path / "web.log",
            facecast_env(web_dir, **shared),
        )
        procs.append(web)
        deadline = time.monotonic() + 180
        while "listening on" not in (tmp_path / "web.log").read_text(errors="replace"):
            assert web.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()[
                -3000:
            ]
            time.sleep(0.3)
        key = (tmp_path / "web.log").read_text().split("(shown only now):\n", 1)[1].split()[0]
        workers = {}
        for host in ("w1", "w2"):
            data = tmp_path / host
            data.mkdir()
            workers[host] = net.spawn(
                host,
                [sys.executable, "-m", "facecast", "worker"],
                tmp_path / f"{host}.log",
                facecast_env(data, **shared),
            )
            procs.append(workers[host])
        yield {
            "url": f"http://{web_addr}:8000",
            "key": key,
            "workers": workers,
            "s3": s3,
            "bucket": bucket,
            "dirs": [web_dir, tmp_path / "w1", tmp_path / "w2"],
            "db": db,
        }
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        s3.stop()
        net.down()
        if pgroot is not None:
            shutil.rmtree(pgroot, ignore_errors=True)


def test_twenty_jobs_across_hosts_survive_a_killed_worker(cluster: dict[str, object], png: bytes) -> None:
    import httpx
    import psycopg

    http = httpx.Client(base_url=str(cluster["url"]), headers={"x-api-key": str(cluster["key"])}, timeout=60)
    jobs, videos = [], []
    for n in range(10):
        made = http.post(
            "/api/video/create", json={"avatarId": "astronaut", "text": f"Host test number {n}."}
        )
        assert made.status_code == 200, made.text
        jobs.append(made.json()["jobId"])
        files = {"image_reference": ("p.png", png), "audio_reference": ("a.wav", speech_wav(1.5, seed=n))}
        made = http.post("/v1/videos", files=files)
        assert made.status_code == 200, made.text
        videos.append(made.json()["id"])

    dsn = f"postgresql://postgres@{cluster['db']}:5432/postgres"
    victim = cluster["workers"]["w1"]  # type: ignore[index]

    def w1_rendering() -> bool:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "select count(*) from jobs where status = 'running' and worker like %s", (f"%:{victim.pid}",)
            ).fetchone()
        return bool(row and row[0])

    wait_for(w1_rendering, timeout=180, what="worker host 1 rendering")
    victim.send_signal(signal.SIGKILL)  # the host dies mid-render

    for job in jobs:
        assert wait_for(
            lambda job=job: (
                http.get(f"/api/video/{job}/status").json()["status"] != "inference_started"
                and http.get(f"/api/video/{job}/status").json()["status"] != "inference_working"
            ),
            timeout=600,
            what=f"job {job}",
        )
        assert http.get(f"/api/video/{job}/status").json()["status"] == "inference_complete"
    for video in videos:
        wait_for(
            lambda video=video: http.get(f"/v1/videos/{video}").json()["status"] != "PROCESSING", timeout=600
        )
        assert http.get(f"/v1/videos/{video}").json()["status"] == "COMPLETE"

    with psycopg.connect(dsn) as conn:
        rows = conn.execute("select video_id, status, attempts from jobs").fetchall()
    assert len(rows) == 20 and all(status == "complete" for _, status, _ in rows)
    assert any(attempts == 2 for _, _, attempts in rows)  # the killed host's job ran again, once more
    s3: S3Server = cluster["s3"]  # type: ignore[assignment]
    stored = s3.keys(str(cluster["bucket"]), "media/videos/")
    assert sorted(f"media/videos/{video_id}.mp4" for video_id, _, _ in rows) == [
        k for k in stored if k.endswith(".mp4")
    ]
    for folder in cluster["dirs"]:  # type: ignore[attr-defined]
        left = [
            p
            for sub in ("uploads", "videos")
            for p in (Path(folder) / "media" / sub).rglob("*")
            if p.is_file()
        ]
        assert left == [], left
