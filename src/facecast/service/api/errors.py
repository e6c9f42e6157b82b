"""Errors as each dialect shows them, mapped once for the whole app.

Typed ``FacecastError``s get their HTTP status here (their code is ``FacecastError.code``); the body
has the shape of the dialect the path belongs to. Miraflow: ``{"result": "failure", "error": "…"}``,
validation errors 400 naming the field. Mirage: validation errors 422 in FastAPI's shape, as Mirage
publishes them (``{"detail": [{"loc": [...], "msg": "…", "type": "…"}]}``), every other error
``{"detail": "…", "error": {"code", "message"}}``. Storage faults (a full or read-only disk) answer
507 / 503, never a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facecast.errors import (
    Conflict,
    FacecastError,
    InsufficientStorage,
    InvalidInput,
    NotFound,
    NotSupported,
    PayloadTooLarge,
    QueueUnavailable,
    RateLimited,
    ServerBusy,
    StorageUnavailable,
    Unauthorized,
)
from facecast.service.auth import key_from_headers
from facecast.service.faults import storage_fault

log = logging.getLogger(__name__)

#: Prefix of the Mirage dialect's paths; everything else answers in the Miraflow shape.
MIRAGE_PREFIX = "/v1/"

#: HTTP status of each kind of error, most specific first.
_STATUS: Sequence[tuple[type[FacecastError], int]] = (
    (Unauthorized, 401),
    (PayloadTooLarge, 413),
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
    (NotSupported, 501),
    (InsufficientStorage, 507),
    (StorageUnavailable, 503),
    (QueueUnavailable, 503),
    (ServerBusy, 503),
)
_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    416: "range_not_satisfiable",
    415: "unsupported_media_type",
    429: "rate_limit_exceeded",
}
#: Request fields multipart endpoints expect as files.
_FILE_FIELDS = {"image_reference", "audio_reference", "image", "video", "model", "config"}


#: Retry-After of a 503/507 (queue or storage unavailable).
RETRY_STORAGE_SECONDS = 30
#: The status Mirage answers validation errors with (FastAPI's, as its published documents show).
MIRAGE_VALIDATION_STATUS = 422


def is_mirage(path: str) -> bool:
    return path.startswith(MIRAGE_PREFIX)


def error_body(path: str, status: int, message: str, code: str, field: str | None = None) -> dict[str, Any]:
    """An error body in the shape of the dialect ``path`` belongs to (not Mirage's validation shape:
    see ``mirage_validation``)."""
    if is_mirage(path):
        error: dict[str, Any] = {"code": code, "message": message}
        if field:
            error["param"] = field
        return {"detail": message, "error": error}
    return {"result": "failure", "error": message}


def mirage_validation(errors: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """Mirage's 422: FastAPI's validation shape, ``loc``/``msg``/``type`` per error."""
    detail = []
    for error in errors:
        message = str(error.get("msg", "invalid value"))
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        detail.append(
            {"loc": list(error.get("loc", ("body",))), "msg": message, "type": str(error.get("type", ""))}
        )
    return JSONResponse({"detail": detail}, status_code=MIRAGE_VALIDATION_STATUS)


def _location(request: Request, field: str) -> str:
    """Where a request field a domain error names came from, for Mirage's ``loc``."""
    if field in request.path_params:
        return "path"
    if field in request.query_params:
        return "query"
    if field.lower() in ("x-api-key", "authorization", "range"):
        return "header"
    return "body"


def error_response(
    request: Request,
    status: int,
    message: str,
    code: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one way an error is answered; Mirage's validation errors (400s) become its 422 here, so
    every endpoint that answers through these helpers follows the dialect."""
    path = request.url.path
    if status == 400 and is_mirage(path):
        loc = [_location(request, field), field] if field else ["body"]
        return mirage_validation([{"loc": loc, "msg": message, "type": code}])
    return JSONResponse(
        error_body(path, status, message, code, field), status_code=status, headers=dict(headers or {})
    )


def status_of(exc: FacecastError) -> tuple[int, str]:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status, exc.code
    return 500, "internal_error"


def _field_message(exc: FacecastError) -> str:
    message = str(exc)
    field = exc.field
    if field and isinstance(exc, InvalidInput) and field not in message:
        return f"{field}: {message}"
    return message


def validation_message(request: Request, errors: Sequence[Any]) -> tuple[str, str | None]:
    """One sentence naming the first offending field, from FastAPI's validation errors."""
    if not errors:
        return "Invalid request", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ())]
    kind = first.get("type", "")
    where = loc[0] if loc else "body"
    field = ".".join(loc[1:]) if len(loc) > 1 else None
    if kind == "json_invalid":
        return "The request body is not valid JSON", None
    if field is None:
        if where == "body":
            if "json" not in request.headers.get("content-type", "json"):
                return (
                    "The request body must be a JSON object, sent with Content-Type: application/json",
                    None,
                )
            return "The request body must be a JSON object", None
        return f"Invalid {where}: {first.get('msg', 'invalid value')}", None
    if kind == "missing":
        content_type = request.headers.get("content-type", "")
        if field in _FILE_FIELDS and not content_type.startswith("multipart/form-data"):
            return f"Missing required field: {field} (send multipart/form-data with the file)", field
        return f"Missing required field: {field}", field
    message = str(first.get("msg", "invalid value"))
    if kind in ("value_error",) and message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return f"Invalid value for {field}: {message}", field


class UploadLimit:
    """Guard request bodies before anything reads them.

    A request that sends a body to the API (``/api/``, ``/v1/``) must carry a valid key: without one
    it is answered 401 at once, so nobody unauthenticated makes the server read, spool or parse an
    upload, and a missing key is a 401 whatever the body. Bodies over the limit are refused with a
    413 in the dialect's shape: ``limit`` bytes for multipart uploads, ``json_limit`` for any other
    body (JSON requests are small); at once when Content-Length says so, else as soon as the
    streamed body passes the limit."""

    def __init__(self, app: ASGIApp, limit: int, json_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        self.json_limit = min(limit, json_limit) if json_limit else limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        if scope["method"] in ("POST", "PUT", "PATCH") and path.startswith(("/api/", MIRAGE_PREFIX)):
            refusal = await _authenticate(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        multipart = headers.get("content-type", "").lower().startswith("multipart/")
        limit = self.limit if multipart else self.json_limit
        message = f"The request body is larger than the upload limit of {limit} bytes"
        if limit < self.limit:
            message = f"The request body is larger than the limit of {limit} bytes for a request that is not an upload"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            body = error_body(path, 413, message, "payload_too_large")
            await JSONResponse(body, status_code=413, headers={"Connection": "close"})(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message_ = await receive()
            if message_["type"] == "http.request":
                received += len(message_.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(message)
            return message_

        await self.app(scope, counting_receive, send)


async def _authenticate(scope: Scope, headers: Headers) -> JSONResponse | None:
    """A 401 response in the dialect's shape when the request's key is missing or invalid."""
    app = scope.get("app")
    service = getattr(getattr(app, "state", None), "service", None)
    if service is None:  # not started (yet): the route's own dependency decides
        return None
    try:
        key = key_from_headers(headers.get("x-api-key"), headers.get("authorization"))
        await run_in_threadpool(service.authenticate, key)
    except Unauthorized as exc:
        body = error_body(scope["path"], 401, str(exc), "unauthorized")
        return JSONResponse(
            body, status_code=401, headers={"WWW-Authenticate": "Bearer", "Connection": "close"}
        )
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FacecastError)
    async def _facecast_error(request: Request, exc: FacecastError) -> JSONResponse:
        status, code = status_of(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif status in (503, 507):
            headers = {"Retry-After": str(RETRY_STORAGE_SECONDS)}
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(request, status, _field_message(exc), code, exc.field, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        if is_mirage(request.url.path):
            return mirage_validation(exc.errors())
        message, field = validation_message(request, exc.errors())
        return error_response(request, 400, message, "invalid_request", field)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        message = str(exc.detail) if exc.detail else "Error"
        if status == 404 and message == "Not Found":
            message = f"No such endpoint: {request.method} {request.url.path}"
        elif status == 413:
            message = "The request body is larger than the upload limit"
        elif status == 400 and isinstance(exc.__cause__, FacecastError):
            return await _facecast_error(request, exc.__cause__)
        return error_response(request, status, message, _HTTP_CODES.get(status, "error"), None, exc.headers)

    async def _machine_fault(request: Request, exc: Exception) -> JSONResponse:
        """OS and database errors, handled inside the app (the catch-all below answers from the
        outermost middleware, which then drops the connection): storage faults get their 507/503."""
        return await _unexpected(request, exc)

    # Registered by class so they are answered like typed errors (the connection stays usable).
    app.add_exception_handler(OSError, _machine_fault)
    app.add_exception_handler(SQLAlchemyError, _machine_fault)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        fault = storage_fault(exc)
        if fault is not None:  # a full or read-only disk: say so (507/503), not a bare 500
            log.error("%s %s: %s (%s)", request.method, request.url.path, fault, exc)
            return await _facecast_error(request, fault)
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(request, 500, "Internal server error", "internal_error")
