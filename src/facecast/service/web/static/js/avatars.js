// Avatars: the gallery with live preparation status, and new ones from a file, a drop or the camera.
import { $, api, el, poll, setError, thumbnail } from "./core.js";

let avatars = [];
let chosenFile = null;
let cameraStream = null;

export async function loadAvatars() {
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


export function wireAvatars() {
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
}
