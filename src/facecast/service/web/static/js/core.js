// The studio's plumbing: the API call with the key, errors, DOM building, blob URLs, polling.
// Everything shown goes in with textContent (never as markup), so names can never become HTML.

const KEY_STORE = "facecast.key";
const POLL_FIRST_MS = 400;
const POLL_MAX_MS = 2000;

export const $ = (id) => document.getElementById(id);
const blobUrls = new Map();
const timers = {};
let apiKey = sessionStorage.getItem(KEY_STORE);
let onUnauthorized = () => {};

// The API key lives in this tab's sessionStorage and travels only in the x-api-key header.
export const session = {
  get key() { return apiKey; },
  keep(key) { apiKey = key; if (key) sessionStorage.setItem(KEY_STORE, key); },
  try(key) { apiKey = key; },
  forget() {
    apiKey = null;
    sessionStorage.removeItem(KEY_STORE);
    stopPolls();
    for (const url of blobUrls.values()) URL.revokeObjectURL(url);
    blobUrls.clear();
  },
  // What to do when the server stops accepting the key (the page signs out).
  set onUnauthorized(handler) { onUnauthorized = handler; },
  signOut(reason) { onUnauthorized(reason); },
};

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

export function setError(id, error) {
  const target = $(id);
  if (target) target.textContent = error ? (error.message || String(error)) : "";
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? iso : date.toLocaleString();
}

export function seconds(value) {
  if (value === undefined || value === null) return "";
  return value < 60 ? value.toFixed(1) + " s" : Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
}

export async function api(path, options) {
  const { method = "GET", json, form, raw } = options || {};
  const headers = { "x-api-key": apiKey || "" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
  } catch (err) {
    throw new ApiError("The server cannot be reached; check that Facecast is running.", 0);
  }
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try {
      const data = await response.json();
      const found = (data.error && (data.error.message || data.error)) || data.detail;
      if (typeof found === "string") message = found;
    } catch (err) {
      /* not JSON: keep the status line */
    }
    if (response.status === 429 && response.headers.get("Retry-After")) {
      message += " (try again in " + response.headers.get("Retry-After") + " s)";
    }
    if (response.status === 401 && path !== "/api/me") {
      onUnauthorized("Your API key is no longer accepted (" + message + "). Sign in again.");
    }
    throw new ApiError(message, response.status);
  }
  return raw ? response : response.json();
}

// Pictures and sounds behind the key: fetched with the header, shown from blob: URLs.
export async function blobUrl(path) {
  if (blobUrls.has(path)) return blobUrls.get(path);
  const response = await api(path, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  blobUrls.set(path, url);
  return url;
}

export function thumbnail(path, alt, className) {
  const img = el("img", { class: className || "thumb", alt: alt, loading: "lazy", width: 160, height: 160 });
  blobUrl(path).then((url) => { img.src = url; }, () => { img.alt = alt + " (no picture)"; });
  return img;
}

export function poll(name, fn, first) {
  clearTimeout(timers[name]);
  let delay = first || POLL_FIRST_MS;
  const step = async () => {
    let again = false;
    try {
      again = await fn();
    } catch (err) {
      again = !(err instanceof ApiError && err.status >= 400 && err.status < 500);
    }
    if (again && apiKey) {
      delay = Math.min(delay * 1.5, POLL_MAX_MS);
      timers[name] = setTimeout(step, delay);
    }
  };
  timers[name] = setTimeout(step, 0);
}

export function stopPolls() {
  for (const name of Object.keys(timers)) clearTimeout(timers[name]);
}

// Which form field an API message is about: dialect messages name the field ("text: ...").
export function fieldOf(message, fields) {
  const lower = (message || "").toLowerCase();
  for (const [field, target] of Object.entries(fields)) {
    if (lower.startsWith(field.toLowerCase()) || lower.includes(" " + field.toLowerCase() + " ")) return target;
  }
  return null;
}

