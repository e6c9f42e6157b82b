"""``/metrics`` (Prometheus text format, parsed with prometheus-client's own parser) and the JSON
log lines that carry the job id."""

from __future__ import annotations

import io
import json
import logging

import httpx
from prometheus_client.parser import text_string_to_metric_families

from facecast.logs import JsonFormatter, about
from tests.service.harness import wait_miraflow


def _samples(api: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = api.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_jobs_by_state_and_dialect(api: httpx.Client) -> None:
    complete = ("facecast_jobs", (("api", "miraflow"), ("status", "complete")))
    before = _samples(api)
    assert ("facecast_queue_depth", ()) in before
    assert ("facecast_webhook_deliveries", (("status", "failed"),)) in before
    assert ("facecast_jobs", (("api", "mirage"), ("status", "running"))) in before
    frames_before = before[("facecast_rendered_frames_total", ())]

    job = api.post("/api/video/create", json={"avatarId": "astronaut", "text": "Count me."}).json()["jobId"]
    done = wait_miraflow(api, job)
    assert done["status"] == "inference_complete"
    after = _samples(api)
    assert after[complete] == before[complete] + 1
    assert after[("facecast_rendered_frames_total", ())] > frames_before
    assert after[("facecast_render_seconds_total", ())] > 0
    assert after[("facecast_render_frames_per_second", ())] > 0


def test_json_log_lines_carry_the_job_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("facecast.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with about("job", "cabc123"):
            logger.info("encoding %d frames", 250)
        logger.warning("job %s: failed: %s", "cxyz789", "no face")
        logger.info("server ready")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("job_id") for line in lines] == ["cabc123", "cxyz789", None]
    assert lines[0]["message"] == "encoding 250 frames" and lines[1]["level"] == "warning"
