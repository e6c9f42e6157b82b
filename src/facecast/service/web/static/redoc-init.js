// Starts ReDoc on /redoc from this server's own files (no inline script, no CDN, no web fonts).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  Redoc.init("/openapi.json", { hideDownloadButton: false }, document.getElementById("redoc"));
});
