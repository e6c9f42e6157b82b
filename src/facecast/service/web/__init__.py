"""The browser side of the server: the studio at ``/`` and the API reference at ``/docs`` and ``/redoc``.

Everything a page loads is served from here: the studio's own static files, and Swagger UI's and
ReDoc's files from the ``fastapi-offline`` package, so the pages work on a machine with no network.
Pages carry a content-security-policy without inline script; the studio speaks only the public API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
STUDIO_URL = "/static/studio"
DOCS_ASSETS_URL = "/static/docs"

#: The studio: scripts and styles only from this server; pictures, video and audio also from
#: ``blob:`` URLs (thumbnails fetched with the key, the camera snapshot, local previews).
STUDIO_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI and ReDoc set inline styles (and ReDoc runs a blob: worker); their scripts are
#: still only this server's files.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}

_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{studio}/icon.svg" type="image/svg+xml">
{head}
</head>
<body>
<div id="{root}"></div>
{scripts}
</body>
</html>
"""


def _docs_assets() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def _page(title: str, root: str, head: str, scripts: list[str]) -> HTMLResponse:
    html = _DOCS_PAGE.format(
        title=title,
        studio=STUDIO_URL,
        head=head,
        root=root,
        scripts="\n".join(f'<script src="{src}"></script>' for src in scripts),
    )
    return HTMLResponse(html, headers={**_COMMON, "Content-Security-Policy": DOCS_CSP})


def install(app: FastAPI) -> None:
    """Add the studio, the offline API reference and their static files to ``app`` (which must be
    made with ``docs_url=None, redoc_url=None``: FastAPI's own pages load their files from a CDN)."""
    app.mount(STUDIO_URL, StaticFiles(directory=STATIC), name="studio-static")
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=_docs_assets()), name="docs-static")
    title = app.title

    @app.get("/", include_in_schema=False)
    def studio() -> FileResponse:
        return FileResponse(
            STATIC / "studio.html",
            media_type="text/html",
            headers={**_COMMON, "Content-Security-Policy": STUDIO_CSP, "Cache-Control": "no-cache"},
        )

    @app.get("/studio", include_in_schema=False)
    def studio_alias() -> RedirectResponse:
        return RedirectResponse("/")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return _page(
            f"{title} API - Swagger UI",
            "swagger-ui",
            f'<link rel="stylesheet" href="{DOCS_ASSETS_URL}/swagger-ui.css">',
            [f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js", f"{STUDIO_URL}/docs-init.js"],
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _page(
            f"{title} API - ReDoc",
            "redoc",
            "",
            [f"{DOCS_ASSETS_URL}/redoc.standalone.js", f"{STUDIO_URL}/redoc-init.js"],
        )
