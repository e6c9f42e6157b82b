// History: past videos by status, live while any renders; play, cancel, delete.
import { $, api, el, poll, seconds, setError, thumbnail, when } from "./core.js";

export function loadHistory() {
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


export function wireHistory() {
  $("history-status").addEventListener("change", loadHistory);
}
