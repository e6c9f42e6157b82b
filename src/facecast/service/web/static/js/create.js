// Create a video: avatar, voice and script (or a recording), framing; then follow it live.
import { $, api, blobUrl, el, fieldOf, poll, seconds, setError } from "./core.js";

const WORDS_PER_SECOND = 2.5; // about 150 words a minute, an unhurried speaking pace
let avatars = [];
let voices = [];
let jobPoller = null;

export async function loadCreate() {
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


export function wireCreate() {
  $("create-form").addEventListener("submit", createVideo);
  $("create-avatar").addEventListener("change", onAvatarChange);
  $("create-text").addEventListener("input", updateCount);
  document.querySelectorAll('input[name="speech"]').forEach((radio) => radio.addEventListener("change", () => {
    $("speech-text").hidden = speechMode() !== "text";
    $("speech-audio").hidden = speechMode() !== "audio";
  }));
  $("job-cancel").addEventListener("click", cancelJob);
  $("job-share").addEventListener("click", copyShareLink);
  updateCount();
}
