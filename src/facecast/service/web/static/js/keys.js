// API keys: the account's keys by prefix; create (shown once) and revoke.
import { $, api, el, session, setError, when } from "./core.js";

export async function loadKeys() {
  setError("key-error", "");
  let data;
  try {
    data = await api("/api/keys");
  } catch (err) {
    setError("key-error", err);
    return;
  }
  $("key-list").replaceChildren(...data.keys.map((k) => {
    const state = k.revokedAt ? "revoked " + when(k.revokedAt) : k.current ? "this key (signed in)" : "active";
    const rowError = el("p", { class: "error", role: "alert" });
    const item = el("li", { "data-key-id": k.id },
      el("span", { class: "grow" }, el("code", { text: k.prefix + "…" }), " ",
        el("strong", { text: k.name || "unnamed" }), el("br"),
        el("span", { class: "muted", text: "made " + when(k.createdAt) +
          (k.lastUsedAt ? " · last used " + when(k.lastUsedAt) : "") + " · " + state })));
    if (!k.revokedAt) {
      item.append(el("button", {
        type: "button", class: "danger", text: "Revoke", "aria-label": "Revoke key " + k.prefix,
        onclick: async () => {
          const warning = k.current ? " You are signed in with it: you will be signed out." : "";
          if (!confirm("Revoke the key " + k.prefix + "…?" + warning)) return;
          try {
            await api("/api/keys/" + encodeURIComponent(k.id), { method: "DELETE" });
          } catch (err) {
            rowError.textContent = err.message;
            return;
          }
          if (k.current) session.signOut("You revoked the key you were signed in with.");
          else loadKeys();
        },
      }));
    }
    item.append(rowError);
    return item;
  }));
}

async function createKey(event) {
  event.preventDefault();
  setError("key-error", "");
  try {
    const made = await api("/api/keys", { method: "POST", json: { name: $("key-name").value.trim() } });
    $("key-new").hidden = false;
    $("key-new-value").value = made.key;
    $("key-new-value").focus();
    $("key-new-value").select();
    $("key-name").value = "";
  } catch (err) {
    setError("key-error", err);
    return;
  }
  loadKeys();
}


export function wireKeys() {
  $("key-form").addEventListener("submit", createKey);
}
