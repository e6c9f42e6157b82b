"""The OpenAPI document says what each dialect really answers, error shapes included.

FastAPI gives every operation with inputs a 422 ``HTTPValidationError``. That is right for Mirage
(its published documents answer 422 in that shape) and wrong for Miraflow (400 with
``{"result": "failure", "error": ...}``). The document is rewritten once, by path prefix, so new
endpoints of either dialect are described the same way without their own declarations.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from facecast.service.api.errors import MIRAGE_PREFIX

MIRAFLOW_PREFIX = "/api/"

_SCHEMAS: dict[str, dict[str, Any]] = {
    "MiraflowError": {
        "title": "MiraflowError",
        "type": "object",
        "required": ["result", "error"],
        "properties": {
            "result": {"type": "string", "enum": ["failure"]},
            "error": {
                "type": "string",
                "description": "What went wrong, naming the field when one is at fault",
            },
        },
    },
    "MirageError": {
        "title": "MirageError",
        "type": "object",
        "required": ["detail", "error"],
        "properties": {
            "detail": {"type": "string"},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "param": {"type": "string"},
                },
            },
        },
    },
}

#: Status -> description of the errors any authenticated operation can answer.
_COMMON = {
    "401": "Missing or invalid API key (or two different keys sent)",
    "429": "Rate limit exceeded (see Retry-After)",
}
_WITH_ID = {"404": "Not found (or not this account's)"}
_WRITES = {
    "409": "Not in a state that allows this",
    "413": "Request body over the limit",
    "503": "The job queue or the storage is unavailable (see Retry-After)",
    "507": "The server's disk is full",
}


def _ref(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _describe(operation: dict[str, Any], method: str, path: str, mirage: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    error = "MirageError" if mirage else "MiraflowError"
    has_inputs = bool(operation.get("parameters") or operation.get("requestBody"))
    if mirage:
        if has_inputs:
            responses.setdefault(
                "422",
                {"description": "Validation Error", **_ref("HTTPValidationError")},
            )
    else:
        responses.pop("422", None)
        if has_inputs:
            responses["400"] = {"description": "Invalid request (the field is named)", **_ref(error)}
    wanted = dict(_COMMON) if operation.get("security") else {}
    if "{" in path:
        wanted.update(_WITH_ID)
    if method in ("post", "delete") or path.endswith(("/content", "/download")):
        wanted.update(_WRITES)
    for status, description in wanted.items():
        responses.setdefault(status, {"description": description, **_ref(error)})


def install_dialect_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe each dialect's own error answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(_SCHEMAS)
        for path, operations in schema.get("paths", {}).items():
            mirage, miraflow = path.startswith(MIRAGE_PREFIX), path.startswith(MIRAFLOW_PREFIX)
            if not (mirage or miraflow):
                continue
            for method, operation in operations.items():
                if isinstance(operation, dict) and "responses" in operation:
                    _describe(operation, method, path, mirage)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
