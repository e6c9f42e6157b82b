"""A real S3-protocol server for the tests: moto's server mode on a free 127.0.0.1 port, in this
process (its buckets live in this process, so stopping and restarting it on the same port keeps
them: a store that goes down and comes back)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx

from tests.service.harness import free_port

#: Credentials moto accepts (any); the region boto3 needs.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "facecast-test",
    "AWS_SECRET_ACCESS_KEY": "facecast-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class S3Server:
    """moto's S3 server; ``stop()`` makes the store unreachable, ``start()`` brings it back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def start(self) -> S3Server:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.endpoint, timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise TimeoutError("moto's S3 server did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = f"facecast-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        found: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(found)

    def env(self, bucket: str, prefix: str = "media") -> dict[str, str]:
        """The settings that point Facecast at this store."""
        return {
            **CREDENTIALS,
            "FACECAST_STORAGE_URL": f"s3://{bucket}/{prefix}",
            "FACECAST_S3_ENDPOINT_URL": self.endpoint,
        }
