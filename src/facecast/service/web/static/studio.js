// Facecast studio: plain JavaScript over the public HTTP API (the same one scripts use).
// The API key lives in this tab's sessionStorage and travels only in the x-api-key header.
// Everything shown is put in the page with textContent (never innerHTML), so names are never markup.
"use strict";

(function () {
  const KEY_STORE = "facecast.key";
  const VIEWS = ["create", "avatars", "voices", "history", "keys"];
  const WORDS_PER_SECOND = 2.5; // about 150 words a minute, an unhurried speaking pace
  const POLL_FIRST_MS = 400;
  const POLL_MAX_MS = 2000;

  const $ = (id) => document.getElementById(id);
  let apiKey = sessionStorage.getItem(KEY_STORE);
  let avatars = [];
  let voices = [];
  let currentView = null;
  const blobUrls = new Map();
  let jobPoller = null;
  const timers = {};

  // --- helpers ------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  function el(tag, props, ...children) {
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

  function setError(id, error) {
    const target = $(id);
    if (target) target.textContent = error ? (error.message || String(error)) : "";
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return isNaN(date) ? iso : date.toLocaleString();
  }

  function seconds(value) {
    if (value === undefined || value === null) return "";
    return value < 60 ? value.toFixed(1) + " s" : Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }

  async function api(path, options) {
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
        signOut("Your API key is no longer accepted (" + message + "). Sign in again.");
      }
      throw new ApiError(message, response.status);
    }
    return raw ? response : response.json();
  }

  // Pictures and sounds behind the key: fetched with the header, shown from blob: URLs.
  async function blobUrl(path) {
    if (blobUrls.has(path)) return blobUrls.get(path);
    const response = await api(path, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    blobUrls.set(path, url);
    return url;
  }

  function thumbnail(path, alt, className) {
    const img = el("img", { class: className || "thumb", alt: alt, loading: "lazy", width: 160, height: 160 });
    blobUrl(path).then((url) => { img.src = url; }, () => { img.alt = alt + " (no picture)"; });
    return img;
  }

  function poll(name, fn, first) {
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

  function stopPolls() {
    for (const name of Object.keys(timers)) clearTimeout(timers[name]);
  }

  // Which form field an API message is about: dialect messages name the field ("text: ...").
  function fieldOf(message, fields) {
    const lower = (message || "").toLowerCase();
    for (const [field, target] of Object.entries(fields)) {
      if (lower.startsWith(field.toLowerCase()) || lower.includes(" " + field.toLowerCase() + " ")) return target;
    }
    return null;
  }

  // --- signing in and out, and the views ---------------------------------------------------------
  function signOut(reason) {
    apiKey = null;
    sessionStorage.removeItem(KEY_STORE);
    stopPolls();
    for (const url of blobUrls.values()) URL.revokeObjectURL(url);
    blobUrls.clear();
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
    apiKey = value;
    try {
      await api("/api/me");
    } catch (err) {
      apiKey = null;
      const message = err.status === 401
        ? "This API key was not accepted (" + err.message + "). Check it and try again."
        : err.message;
      setError("signin-error", message);
      $("signin-key").focus();
      return;
    }
    sessionStorage.setItem(KEY_STORE, value);
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

  const loaders = { create: loadCreate, avatars: loadAvatars, voices: loadVoices, history: loadHistory, keys: loadKeys };

  function route(fromNavigation) {
    $("loading").hidden = true;
    let name = location.hash.replace(/^#\/?/, "") || "create";
    if (!apiKey) name = "signin";
    else if (!VIEWS.includes(name)) name = "create";
    const changed = name !== currentView;
    if (changed) stopPolls();
    currentView = name;
    document.querySelectorAll(".view").forEach((view) => { view.hidden = view.id !== "view-" + name; });
    $("nav").hidden = $("who").hidden = !apiKey;
    document.querySelectorAll("#nav a").forEach((link) => {
      if (link.getAttribute("href") === "#/" + name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
    document.title = (name === "signin" ? "Sign in" : $("view-" + name).querySelector("h1").textContent) + " · Facecast studio";
    if (name === "signin") {
      $("signin-key").focus();
      return;
    }
    if (changed) {
      showWho();
      loaders[name]();
      if (fromNavigation) $("view-" + name).querySelector("h1").setAttribute("tabindex", "-1");
      if (fromNavigation) $("view-" + name).querySelector("h1").focus();
    }
  }

  // --- create a video -------------------------------------------------------------------------------
  async function loadCreate() {
    setError("create-error", "");
    try {
      [avatars, voices] = await Promise.all([
        api("/api/avatars").then((d) => d.avatars),
        api("/api/voices").then((d) => d.voices),
      ]);
    } catch (err) {
      setError("create-error", err);
      return;
    }
    const avatarSelect = $("create-avatar");
    const chosen = avatarSelect.value;
    avatarSelect.replaceChildren(...avatars.filter((a) => a.status === "ready").map((a) =>
      el("option", { value: a.id, text: a.name + (a.isPhoto ? " (photo)" : " (video)") })));
    if (chosen) avatarSelect.value = chosen;
    const voiceSelect = $("create-voice");
    const voice = voiceSelect.value;
    voiceSelect.replaceChildren(...voices.map((v) =>
      el("option", { value: v.id, text: v.name + (v.language ? " — " + v.language : "") })));
    if (voice) voiceSelect.value = voice;
    else onAvatarChange();
    updateAvatarThumb();
    loadCaptionTemplates();
  }

  function onAvatarChange() {
    const avatar = avatars.find((a) => a.id === $("create-avatar").value);
    if (avatar && avatar.voiceId) $("create-voice").value = avatar.voiceId;
    updateAvatarThumb();
  }

  function updateAvatarThumb() {
    const id = $("create-avatar").value;
    const img = $("create-avatar-thumb");
    img.hidden = !id;
    if (id) blobUrl("/api/avatar/" + encodeURIComponent(id) + "/thumbnail").then((url) => { img.src = url; }, () => { img.hidden = true; });
  }

  // CAPTIONS: the picker shows only when the server offers caption templates.
  async function loadCaptionTemplates() {
    let data;
    try {
      data = await api("/v1/videos/captions/templates");
    } catch (err) {
      $("captions-field").hidden = true;
      return;
    }
    const list = Array.isArray(data) ? data : data.data || data.templates || [];
    const select = $("create-caption");
    select.replaceChildren(el("option", { value: "", text: "No captions" }),
      ...list.map((t) => el("option", { value: t.id, text: t.name || t.id })));
    $("captions-field").hidden = list.length === 0;
  }

  function updateCount() {
    const text = $("create-text").value;
    const words = (text.match(/\S+/g) || []).length;
    const secs = Math.round(words / WORDS_PER_SECOND);
    $("create-count").textContent = text.length + " characters · about " + seconds(secs).replace(".0 s", " s") + " of speech";
  }

  function speechMode() {
    return document.querySelector('input[name="speech"]:checked').value;
  }

  async function createVideo(event) {
    event.preventDefault();
    ["create-error", "create-avatar-error", "create-voice-error", "create-text-error", "create-audio-error"].forEach((id) => setError(id, ""));
    const avatarId = $("create-avatar").value;
    if (!avatarId) {
      setError("create-avatar-error", "Choose an avatar (make one under Avatars).");
      return;
    }
    const full = document.querySelector('input[name="framing"]:checked').value === "full";
    const name = $("create-name").value.trim() || undefined;
    const button = $("create-submit");
    button.disabled = true;
    let created;
    try {
      if (speechMode() === "text") {
        const text = $("create-text").value;
        if (!text.trim()) {
          setError("create-text-error", "Type the script the avatar should speak.");
          $("create-text").focus();
          return;
        }
        const body = { avatarId, voiceId: $("create-voice").value || undefined, text, name, im2vid_full: full };
        // CAPTIONS: the chosen template travels with the request once the API takes one.
        if ($("create-caption").value) body.captionTemplateId = $("create-caption").value;
        created = await api("/api/video/create", { method: "POST", json: body });
      } else {
        const file = $("create-audio").files[0];
        if (!file) {
          setError("create-audio-error", "Choose a recording to upload.");
          return;
        }
        const form = new FormData();
        form.append("avatarId", avatarId);
        form.append("audio", file);
        if (name) form.append("name", name);
        form.append("im2vid_full", full ? "true" : "false");
        created = await api("/api/video/create-from-audio", { method: "POST", form });
      }
    } catch (err) {
      const target = fieldOf(err.message, {
        text: "create-text-error", voiceid: "create-voice-error", voice: "create-voice-error",
        avatarid: "create-avatar-error", avatar: "create-avatar-error", audio: "create-audio-error",
      }) || "create-error";
      setError(target, err);
      return;
    } finally {
      button.disabled = false;
    }
    followJob(created.jobId);
  }

  function followJob(jobId) {
    $("job").hidden = false;
    $("job-empty").hidden = true;
    $("job-result").hidden = true;
    $("job-cancel").hidden = false;
    $("job-cancel").dataset.jobId = jobId;
    setError("job-error", "");
    $("job-progress").value = 0;
    $("job-status").textContent = "Queued";
    $("job-share-note").textContent = "";
    const video = $("job-video");
    video.removeAttribute("src");
    video.load();
    jobPoller = async () => {
      const job = await api("/api/job/" + encodeURIComponent(jobId));
      $("job-title").textContent = job.name;
      $("job-progress").value = job.progress;
      const words = { queued: "Queued", running: "Rendering " + job.progress + "%", complete: "Done",
        failed: "Failed", cancelled: "Cancelled" };
      $("job-status").textContent = words[job.status];
      if (job.status === "queued" || job.status === "running") return true;
      $("job-cancel").hidden = true;
      if (job.status === "complete") await showVideo(job.videoId);
      else setError("job-error", job.error || "The video could not be made.");
      return false;
    };
    poll("job", jobPoller);
  }

  async function showVideo(videoId) {
    const meta = await api("/api/video/" + encodeURIComponent(videoId));
    $("job-result").hidden = false;
    $("job-video").src = meta.downloadUrl;
    $("job-download").href = meta.downloadUrl;
    $("job-download").setAttribute("download", (meta.name || videoId) + ".mp4");
    $("job-link").value = meta.downloadUrl;
  }

  async function cancelJob() {
    const jobId = $("job-cancel").dataset.jobId;
    try {
      await api("/api/video/" + encodeURIComponent(jobId) + "/cancel", { method: "POST" });
      $("job-status").textContent = "Cancelling…";
      if (jobPoller) poll("job", jobPoller); // follow the cancellation closely again
    } catch (err) {
      setError("job-error", err);
    }
  }

  async function copyShareLink() {
    const link = $("job-link");
    try {
      await navigator.clipboard.writeText(link.value);
      $("job-share-note").textContent = "Link copied.";
    } catch (err) {
      link.focus();
      link.select();
      $("job-share-note").textContent = "Press Ctrl+C (or ⌘C) to copy the selected link.";
    }
  }

  // --- avatars ------------------------------------------------------------------------------------
  let chosenFile = null;
  let cameraStream = null;

  async function loadAvatars() {
    setError("avatars-error", "");
    poll("avatars", async () => {
      const data = await api("/api/avatars/gallery");
      avatars = data.avatars;
      renderGallery();
      return avatars.some((a) => a.status === "queued" || a.status === "preparing");
    }, 1000);
  }

  function renderGallery() {
    $("avatar-list").replaceChildren(...avatars.map((a) => {
      const status = el("span", { class: "badge " + a.status, text: a.status === "ready" ? "Ready" : a.status });
      const item = el("li", { "data-avatar-id": a.id },
        thumbnail("/api/avatar/" + encodeURIComponent(a.id) + "/thumbnail", a.name),
        el("span", { class: "name", text: a.name }),
        el("span", {}, el("span", { class: "badge", text: a.isPhoto ? "Photo" : "Video" }), " ",
          a.stock ? el("span", { class: "badge", text: "Stock" }) : null, " ", status));
      if (a.error) item.append(el("p", { class: "error", text: a.error }));
      const rowError = el("p", { class: "error", role: "alert" });
      if (!a.stock) {
        item.append(el("button", {
          type: "button", class: "danger", text: "Delete", "aria-label": "Delete avatar " + a.name,
          onclick: async () => {
            if (!confirm("Delete the avatar “" + a.name + "”?")) return;
            try {
              await api("/api/avatar/" + encodeURIComponent(a.id), { method: "DELETE" });
              loadAvatars();
            } catch (err) {
              rowError.textContent = err.message;
            }
          },
        }), rowError);
      }
      return item;
    }));
  }

  function resetAvatarForm() {
    chosenFile = null;
    $("avatar-file").value = "";
    $("avatar-preview").hidden = true;
    $("face-box").hidden = true;
    $("preview-note").textContent = "";
    $("avatar-create").disabled = true;
    setError("avatar-error", "");
  }

  async function chooseFile(file) {
    resetAvatarForm();
    if (!file) return;
    chosenFile = file;
    const isVideo = (file.type || "").startsWith("video/") || /\.(mp4|mov|webm)$/i.test(file.name);
    const img = $("preview-img");
    const video = $("preview-video");
    img.hidden = isVideo;
    video.hidden = !isVideo;
    const url = URL.createObjectURL(file);
    if (isVideo) video.src = url;
    else img.src = url;
    $("avatar-preview").hidden = false;
    if (!$("avatar-name").value) $("avatar-name").value = (file.name || "").replace(/\.[^.]+$/, "").slice(0, 200);
    if (isVideo) {
      $("preview-note").textContent = "A clip: it is checked when you create the avatar, then prepared (you can follow it in the gallery).";
      $("avatar-create").disabled = false;
      return;
    }
    $("preview-note").textContent = "Looking for the face…";
    const form = new FormData();
    form.append("image", file, file.name || "portrait.jpg");
    try {
      const found = await api("/api/avatar/preview", { method: "POST", form });
      if (chosenFile !== file) return;
      const box = $("face-box");
      box.style.left = (100 * found.face.x / found.width) + "%";
      box.style.top = (100 * found.face.y / found.height) + "%";
      box.style.width = (100 * found.face.width / found.width) + "%";
      box.style.height = (100 * found.face.height / found.height) + "%";
      box.hidden = false;
      $("preview-note").textContent = "Face found (eyes " + Math.round(found.eyeDistance) + " px apart). " + found.warnings.join(" ");
      $("avatar-create").disabled = false;
    } catch (err) {
      if (chosenFile !== file) return;
      $("preview-note").textContent = "";
      setError("avatar-error", err);
    }
  }

  async function createAvatar(event) {
    event.preventDefault();
    if (!chosenFile) return;
    const isVideo = !$("preview-video").hidden;
    const form = new FormData();
    form.append(isVideo ? "video" : "image", chosenFile, chosenFile.name || (isVideo ? "clip.mp4" : "portrait.jpg"));
    if ($("avatar-name").value.trim()) form.append("name", $("avatar-name").value.trim());
    $("avatar-create").disabled = true;
    $("preview-note").textContent = isVideo ? "Uploading and checking the clip…" : "Preparing the avatar…";
    try {
      await api("/api/avatar/create", { method: "POST", form });
    } catch (err) {
      $("preview-note").textContent = "";
      setError("avatar-error", err);
      $("avatar-create").disabled = false;
      return;
    }
    resetAvatarForm();
    $("avatar-name").value = "";
    loadAvatars();
  }

  async function openCamera() {
    setError("avatar-error", "");
    try {
      cameraStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
    } catch (err) {
      setError("avatar-error", "The camera is not available: " + (err.message || err.name));
      return;
    }
    $("camera-video").srcObject = cameraStream;
    $("camera").hidden = false;
    $("camera-shoot").focus();
  }

  function closeCamera() {
    if (cameraStream) cameraStream.getTracks().forEach((t) => t.stop());
    cameraStream = null;
    $("camera").hidden = true;
  }

  function shoot() {
    const video = $("camera-video");
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      closeCamera();
      if (blob) chooseFile(new File([blob], "camera.jpg", { type: "image/jpeg" }));
    }, "image/jpeg", 0.92);
  }

  // --- voices -------------------------------------------------------------------------------------------
  async function loadVoices() {
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

  // --- history ------------------------------------------------------------------------------------------
  function loadHistory() {
    setError("history-error", "");
    poll("history", async () => {
      const status = $("history-status").value;
      let jobs;
      try {
        jobs = (await api("/api/jobs?limit=100" + (status ? "&status=" + status : ""))).jobs;
      } catch (err) {
        setError("history-error", err);
        throw err;
      }
      renderHistory(jobs);
      return jobs.some((j) => j.status === "queued" || j.status === "running");
    }, 1000);
  }

  function renderHistory(jobs) {
    $("history-empty").hidden = jobs.length > 0;
    $("history-list").replaceChildren(...jobs.map((j) => {
      const rowError = el("p", { class: "error", role: "alert" });
      const player = el("div", { class: "player", hidden: true });
      const labels = { queued: "Queued", running: "Rendering " + j.progress + "%", complete: "Complete",
        failed: "Failed", cancelled: "Cancelled" };
      const picture = j.status === "complete"
        ? thumbnail("/api/video/" + encodeURIComponent(j.videoId) + "/thumbnail", "First frame of " + j.name)
        : el("span", { class: "thumb", "aria-hidden": "true" });
      const actions = el("span", { class: "actions" });
      if (j.status === "complete") {
        actions.append(el("button", {
          type: "button", class: "secondary", text: "Play", "aria-label": "Play " + j.name,
          onclick: async () => {
            try {
              const meta = await api("/api/video/" + encodeURIComponent(j.videoId));
              player.replaceChildren(el("video", { src: meta.downloadUrl, controls: true, playsinline: true, "aria-label": j.name }),
                el("a", { href: meta.downloadUrl, download: j.videoId + ".mp4", text: "Download" }));
              player.hidden = false;
            } catch (err) {
              rowError.textContent = err.message;
            }
          },
        }));
      }
      if (j.status === "queued" || j.status === "running") {
        actions.append(el("button", {
          type: "button", class: "secondary", text: "Cancel", "aria-label": "Cancel " + j.name,
          onclick: () => api("/api/video/" + encodeURIComponent(j.jobId) + "/cancel", { method: "POST" })
            .then(loadHistory, (err) => { rowError.textContent = err.message; }),
        }));
      }
      actions.append(el("button", {
        type: "button", class: "danger", text: "Delete", "aria-label": "Delete " + j.name,
        onclick: async () => {
          if (!confirm("Delete the video “" + j.name + "”?")) return;
          try {
            await api("/api/video/" + encodeURIComponent(j.jobId), { method: "DELETE" });
            loadHistory();
          } catch (err) {
            rowError.textContent = err.message;
          }
        },
      }));
      return el("li", { "data-job-id": j.jobId },
        picture,
        el("span", { class: "grow" },
          el("strong", { text: j.name }), " ",
          el("span", { class: "badge " + j.status, text: labels[j.status] }), el("br"),
          el("span", { class: "muted", text: [when(j.createdAt), seconds(j.duration)].filter(Boolean).join(" · ") }),
          j.error ? el("span", { class: "error", text: " " + j.error }) : null),
        actions, player, rowError);
    }));
  }

  // --- keys -------------------------------------------------------------------------------------------------
  async function loadKeys() {
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
            if (k.current) signOut("You revoked the key you were signed in with.");
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

  // --- wiring -------------------------------------------------------------------------------------------------
  function wire() {
    $("signin-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut(""));
    $("create-form").addEventListener("submit", createVideo);
    $("create-avatar").addEventListener("change", onAvatarChange);
    $("create-text").addEventListener("input", updateCount);
    document.querySelectorAll('input[name="speech"]').forEach((radio) => radio.addEventListener("change", () => {
      $("speech-text").hidden = speechMode() !== "text";
      $("speech-audio").hidden = speechMode() !== "audio";
    }));
    $("job-cancel").addEventListener("click", cancelJob);
    $("job-share").addEventListener("click", copyShareLink);
    $("avatar-form").addEventListener("submit", createAvatar);
    $("avatar-file").addEventListener("change", (e) => chooseFile(e.target.files[0]));
    const drop = $("drop");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      chooseFile(e.dataTransfer.files[0]);
    });
    if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) $("camera-open").hidden = false;
    $("camera-open").addEventListener("click", openCamera);
    $("camera-close").addEventListener("click", closeCamera);
    $("camera-shoot").addEventListener("click", shoot);
    $("voice-language").addEventListener("change", renderVoices);
    $("voice-gender").addEventListener("change", renderVoices);
    $("voice-form").addEventListener("submit", addVoice);
    $("history-status").addEventListener("change", loadHistory);
    $("key-form").addEventListener("submit", createKey);
    window.addEventListener("hashchange", () => route(true));
    updateCount();
    route(false);
  }

  document.addEventListener("DOMContentLoaded", wire);
})();
