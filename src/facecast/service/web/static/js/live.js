// Live: a photo avatar speaking what you type, streamed over WebRTC (/v1/streams). The browser
// answers the server's offer; text goes to /speak and plays as soon as its first sentence is spoken.
import { $, api, el, setError } from "./core.js";

let stream = null; // { id, pc }
let statePoll = null;

export async function loadLive() {
  setError("live-error", "");
  let avatars, voices;
  try {
    [avatars, voices] = await Promise.all([
      api("/api/avatars").then((d) => d.avatars),
      api("/api/voices").then((d) => d.voices),
    ]);
  } catch (err) {
    setError("live-error", err);
    return;
  }
  const avatarSelect = $("live-avatar");
  const chosen = avatarSelect.value;
  avatarSelect.replaceChildren(...avatars.filter((a) => a.status === "ready" && a.isPhoto).map((a) =>
    el("option", { value: a.id, text: a.name })));
  if (chosen) avatarSelect.value = chosen;
  const voiceSelect = $("live-voice");
  const voice = voiceSelect.value;
  voiceSelect.replaceChildren(el("option", { value: "", text: "The avatar's own voice" }),
    ...voices.map((v) => el("option", { value: v.id, text: v.name + (v.language ? " — " + v.language : "") })));
  voiceSelect.value = voice || "";
  showState(stream ? "connecting" : "not connected");
}

function showState(text) {
  $("live-state").textContent = text;
  const open = !!stream;
  $("live-connect").hidden = open;
  $("live-close").hidden = !open;
  $("live-speak").disabled = !open;
  $("live-interrupt").disabled = !open;
}

// ICE gathering done (or 3 s, whichever first): the answer then carries the candidates.
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);
  });
}

async function connect() {
  setError("live-error", "");
  $("live-connect").disabled = true;
  try {
    const body = { avatar_id: $("live-avatar").value };
    if ($("live-voice").value) body.voice_id = $("live-voice").value;
    const created = await api("/v1/streams", { method: "POST", json: body });
    const pc = new RTCPeerConnection({ iceServers: created.ice_servers || [] });
    stream = { id: created.id, pc };
    showState("connecting");
    pc.addEventListener("track", (event) => {
      const video = $("live-video");
      if (!video.srcObject) video.srcObject = new MediaStream();
      video.srcObject.addTrack(event.track);
      video.play().catch(() => { /* autoplay with sound needs the click that started this */ });
    });
    await pc.setRemoteDescription(created.offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    await api("/v1/streams/" + created.id + "/answer", { method: "POST", json: { type: "answer", sdp: pc.localDescription.sdp } });
    statePoll = setInterval(refresh, 700);
  } catch (err) {
    setError("live-error", err);
    await close();
  } finally {
    $("live-connect").disabled = false;
  }
}

async function refresh() {
  if (!stream) return;
  try {
    const info = await api("/v1/streams/" + stream.id);
    const waiting = info.queue.filter((u) => u.state === "queued").length;
    showState(info.state + (waiting ? " · " + waiting + " waiting" : ""));
    if (info.state === "closed") {
      setError("live-error", "The stream closed: " + (info.close_reason || "closed"));
      await close();
    }
  } catch (err) {
    setError("live-error", err);
  }
}

async function speak(event) {
  event.preventDefault();
  setError("live-error", "");
  const text = $("live-text").value.trim();
  if (!stream || !text) return;
  try {
    await api("/v1/streams/" + stream.id + "/speak", { method: "POST", json: { text } });
    $("live-text").value = "";
  } catch (err) {
    setError("live-error", err);
  }
}

async function interrupt() {
  if (!stream) return;
  try {
    await api("/v1/streams/" + stream.id + "/interrupt", { method: "POST" });
  } catch (err) {
    setError("live-error", err);
  }
}

export async function close() {
  clearInterval(statePoll);
  const current = stream;
  stream = null;
  if (current) {
    current.pc.close();
    try { await api("/v1/streams/" + current.id, { method: "DELETE" }); } catch (err) { /* already closed */ }
  }
  const video = $("live-video");
  video.srcObject = null;
  showState("not connected");
}

export function wireLive() {
  $("live-connect").addEventListener("click", connect);
  $("live-close").addEventListener("click", close);
  $("live-form").addEventListener("submit", speak);
  $("live-interrupt").addEventListener("click", interrupt);
  window.addEventListener("pagehide", close);
}
