"""Dependencies shared by the dialects: the process's ``Service`` and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from facecast.service.auth import Caller, key_from_headers
from facecast.service.domain import Service, Upload

api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="Your Facecast API key")
bearer = HTTPBearer(auto_error=False, description="The API key as a Bearer token")


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def get_caller(
    request: Request,
    api_key: Annotated[str | None, Depends(api_key_header)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The caller named by ``x-api-key`` or ``Authorization: Bearer``; counts against its rate limit."""
    service = get_service(request)
    # The security schemes are declared (for the OpenAPI document); the headers themselves are
    # read by the one function that also refuses two different keys.
    key = key_from_headers(api_key, request.headers.get("authorization"))
    caller = service.authenticate(key)
    service.check_rate(caller, creation=request.method == "POST" and not request.url.path.endswith("/cancel"))
    request.state.caller = caller
    return caller


ServiceDep = Annotated[Service, Depends(get_service)]
CallerDep = Annotated[Caller, Depends(get_caller)]


def as_upload(file: object, field: str) -> Upload:
    """A FastAPI ``UploadFile`` as the domain's ``Upload``."""
    return Upload(
        file=getattr(file, "file"),  # noqa: B009
        filename=str(getattr(file, "filename", "") or ""),
        content_type=str(getattr(file, "content_type", "") or ""),
        field=field,
    )
