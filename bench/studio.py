"""The web studio's figures: page weight, and the latency of the endpoints it calls while a person waits.

Starts a real ``facecast serve`` with a fresh data folder, then prints a table (medians of 5 warm
calls; the first, cold call separately). Run: ``.venv/bin/python bench/studio.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service.harness import Server, portrait_jpeg  # noqa: E402

STATIC = ROOT / "src" / "facecast" / "service" / "web" / "static"
RUNS = 5


def timed(call: object) -> float:
    start = time.perf_counter()
    response = call()  # type: ignore[operator]
    assert response.status_code == 200, response.text
    return (time.perf_counter() - start) * 1000


def main() -> None:
    files = [STATIC / "studio.html", STATIC / "studio.css", STATIC / "icon.svg", *(STATIC / "js").glob("*.js")]
    own = sum(path.stat().st_size for path in files)
    print(f"studio page weight (html + js + css + icon, uncompressed): {own / 1024:.1f} KiB")
    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder) / "data").start()
        try:
            api = server.client(server.default_key)
            portrait = portrait_jpeg()
            calls = {
                "GET / (the studio page)": lambda: api.get("/"),
                "POST /api/avatar/preview (512x512 JPEG)": lambda: api.post(
                    "/api/avatar/preview", files={"image": ("p.jpg", portrait, "image/jpeg")}
                ),
                "GET /api/avatar/astronaut/thumbnail": lambda: api.get("/api/avatar/astronaut/thumbnail"),
                "GET /api/voice/flite-slt/sample": lambda: api.get("/api/voice/flite-slt/sample"),
                "GET /api/voice/piper-en_US-joe-medium/sample": lambda: api.get(
                    "/api/voice/piper-en_US-joe-medium/sample"
                ),
                "GET /api/jobs": lambda: api.get("/api/jobs"),
            }
            print("| call | first ms | warm median ms |")
            print("|---|---:|---:|")
            for name, call in calls.items():
                first = timed(call)
                warm = statistics.median(timed(call) for _ in range(RUNS))
                print(f"| {name} | {first:.0f} | {warm:.0f} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
