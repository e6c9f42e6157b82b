// Voices: the catalog with filters and samples, and uploading a Piper voice.
import { $, api, blobUrl, el, setError } from "./core.js";

let voices = [];

export async function loadVoices() {
  setError("voices-error", "");
  try {
    voices = (await api("/api/voices")).voices;
  } catch (err) {
    setError("voices-error", err);
    return;
  }
  const select = $("voice-language");
  const chosen = select.value;
  const languages = [...new Set(voices.map((v) => v.language).filter(Boolean))].sort();
  select.replaceChildren(el("option", { value: "", text: "All languages" }),
    ...languages.map((l) => el("option", { value: l, text: l })));
  select.value = chosen;
  renderVoices();
}

function renderVoices() {
  const language = $("voice-language").value;
  const gender = $("voice-gender").value;
  const shown = voices.filter((v) => (!language || v.language === language) &&
    (!gender || v.gender === gender || (gender === "neutral" && !["female", "male"].includes(v.gender))));
  $("voices-count").textContent = shown.length + " of " + voices.length + " voices";
  $("voice-list").replaceChildren(...shown.map((v) => {
    const rowError = el("p", { class: "error", role: "alert" });
    const listen = el("button", {
      type: "button", class: "secondary", text: "Listen", "aria-label": "Listen to " + v.name,
      onclick: async () => {
        rowError.textContent = "";
        listen.disabled = true;
        listen.textContent = "Loading…";
        try {
          const audio = $("voice-audio");
          audio.src = await blobUrl("/api/voice/" + encodeURIComponent(v.id) + "/sample");
          await audio.play();
        } catch (err) {
          rowError.textContent = err.message;
        } finally {
          listen.disabled = false;
          listen.textContent = "Listen";
        }
      },
    });
    return el("li", { "data-voice-id": v.id },
      el("span", { class: "grow" }, el("strong", { text: v.name }), " ",
        el("span", { class: "muted", text: [v.language, v.gender].filter(Boolean).join(" · ") })),
      listen, rowError);
  }));
}

async function addVoice(event) {
  event.preventDefault();
  setError("voice-form-error", "");
  const model = $("voice-model").files[0];
  const config = $("voice-config").files[0];
  if (!model || !config) {
    setError("voice-form-error", "Choose both the .onnx model and its .onnx.json config.");
    return;
  }
  const form = new FormData();
  form.append("model", model);
  form.append("config", config);
  if ($("voice-name").value.trim()) form.append("name", $("voice-name").value.trim());
  try {
    await api("/api/voice/create", { method: "POST", form });
  } catch (err) {
    setError("voice-form-error", err);
    return;
  }
  event.target.reset();
  loadVoices();
}


export function wireVoices() {
  $("voice-language").addEventListener("change", renderVoices);
  $("voice-gender").addEventListener("change", renderVoices);
  $("voice-form").addEventListener("submit", addVoice);
}
