// Facecast studio: plain JavaScript modules over the public HTTP API (the same one scripts use).
// This one signs in and out and shows one view at a time; each view is its own module.
import { $, api, session, setError, stopPolls } from "./core.js";
import { loadAvatars, wireAvatars } from "./avatars.js";
import { loadCreate, wireCreate } from "./create.js";
import { loadHistory, wireHistory } from "./history.js";
import { loadKeys, wireKeys } from "./keys.js";
import { close as closeLive, loadLive, wireLive } from "./live.js";
import { loadVoices, wireVoices } from "./voices.js";

const loaders = {
  create: loadCreate, avatars: loadAvatars, voices: loadVoices, live: loadLive, history: loadHistory, keys: loadKeys,
};
let currentView = null;

function signOut(reason) {
  session.forget();
  $("signin-key").value = "";
  setError("signin-error", reason || "");
  location.hash = "#/signin";
  route();
}

async function signIn(event) {
  event.preventDefault();
  const value = $("signin-key").value.trim();
  setError("signin-error", "");
  if (!value) {
    setError("signin-error", "Enter an API key.");
    $("signin-key").focus();
    return;
  }
  session.try(value);
  try {
    await api("/api/me");
  } catch (err) {
    session.try(null);
    const message = err.status === 401
      ? "This API key was not accepted (" + err.message + "). Check it and try again."
      : err.message;
    setError("signin-error", message);
    $("signin-key").focus();
    return;
  }
  session.keep(value);
  $("signin-key").value = "";
  location.hash = "#/create";
  route();
}

async function showWho() {
  try {
    const me = await api("/api/me");
    $("who-name").textContent = me.account + " · key " + me.keyPrefix + "…";
  } catch (err) {
    $("who-name").textContent = "";
  }
}

function route(fromNavigation) {
  $("loading").hidden = true;
  let name = location.hash.replace(/^#\/?/, "") || "create";
  if (!session.key) name = "signin";
  else if (!(name in loaders)) name = "create";
  const changed = name !== currentView;
  if (changed) stopPolls();
  if (changed && currentView === "live") closeLive(); // leaving the page ends its stream
  currentView = name;
  document.querySelectorAll(".view").forEach((view) => { view.hidden = view.id !== "view-" + name; });
  $("nav").hidden = $("who").hidden = !session.key;
  document.querySelectorAll("#nav a").forEach((link) => {
    if (link.getAttribute("href") === "#/" + name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  });
  const heading = $("view-" + name).querySelector("h1");
  document.title = heading.textContent + " · Facecast studio";
  if (name === "signin") {
    $("signin-key").focus();
    return;
  }
  if (changed) {
    showWho();
    loaders[name]();
    if (fromNavigation) {
      // Keyboard and screen-reader users land on the new view's heading.
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }
}

function wire() {
  session.onUnauthorized = signOut;
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut(""));
  wireCreate();
  wireAvatars();
  wireVoices();
  wireHistory();
  wireKeys();
  wireLive();
  window.addEventListener("hashchange", () => route(true));
  route(false);
}

// Modules run after the document is parsed.
wire();
