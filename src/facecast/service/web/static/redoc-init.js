// Starts ReDoc on /redoc from this server's own files (no inline script, no CDN, no web fonts).
"use strict";

// ReDoc's sidebar always shows its vendor's logo from a CDN. This page asks no other host
// (it is meant to work offline): pictures from other origins are left out instead.
(function () {
  const foreign = (value) => {
    const url = new URL(String(value), location.href);
    return url.origin !== location.origin && url.protocol !== "data:";
  };
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && name.toLowerCase() === "src" && foreign(value)) {
      return setAttribute.call(this, "hidden", "");
    }
    return setAttribute.call(this, name, value);
  };
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set(value) {
      if (foreign(value)) this.hidden = true;
      else src.set.call(this, value);
    },
  });
})();

window.addEventListener("DOMContentLoaded", function () {
  Redoc.init("/openapi.json", {}, document.getElementById("redoc"));
});
