// Devices › Import a file: an export from Apple Health, Dexcom Clarity, LibreView, Gadgetbridge,
// Garmin or Health Auto Export is uploaded to the hub, which reads it in the background; the
// card shows the upload's and then the reading's progress, and what the file came to.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";

const POLL_MS = 500;

/** POST the file as the request body; `onProgress(sent, total)` follows the upload. */
function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("X-Hub-Client", "web");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.withCredentials = true;
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded, event.total || file.size));
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: the status line says enough
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body?.error?.message || `${xhr.status} ${xhr.statusText}`, body?.error?.code || null));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "the upload was cut off; try again")));
    xhr.send(file);
  });
}

function localZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

function when(seconds) {
  return new Date(seconds * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** What a finished import came to: per sensor kind, the readings and their span. */
function outcome(job, label) {
  const kinds = Object.keys(job.by_kind).sort();
  const verdict = job.dry_run
    ? `Dry run: ${(job.readings - job.stored).toLocaleString()} of ${job.readings.toLocaleString()} readings would be added.`
    : `Stored ${job.stored.toLocaleString()} new readings of ${job.readings.toLocaleString()}.`;
  const skipped = Object.entries(job.skipped).map(([reason, count]) => h("li", { class: "muted", text: `Left out: ${count.toLocaleString()} (${reason})` }));
  return h(
    "div",
    { class: "import-outcome", role: "status" },
    h("p", { class: "import-verdict", text: `${label}: ${verdict}` }),
    kinds.length
      ? h(
          "ul",
          { class: "import-kinds" },
          kinds.map((kind) => h("li", { text: `${kind}: ${job.by_kind[kind].toLocaleString()} readings, ${when(job.spans[kind][0])} to ${when(job.spans[kind][1])}` })),
        )
      : h("p", { class: "muted", text: "No readings the hub keeps were found in this file." }),
    skipped.length ? h("ul", { class: "import-skipped" }, skipped) : null,
  );
}

/** The "Import a file" card; `allKinds` is GET /v1/bridges/kinds's list, `onImported` re-polls. */
export function importForm(allKinds, onImported) {
  const formats = allKinds.filter((entry) => entry.arrives === "import" || entry.name === "health-auto-export");
  const kind = h(
    "select",
    { id: "import-kind", name: "kind" },
    formats.map((entry) => h("option", { value: entry.name, text: entry.name === "health-auto-export" ? "Health Auto Export JSON file" : entry.label })),
  );
  const file = h("input", { id: "import-file", name: "file", type: "file", required: true });
  const zone = h("input", { id: "import-tz", name: "tz", value: localZone(), maxlength: 64, autocomplete: "off", placeholder: "Europe/Lisbon" });
  const dryRun = h("input", { id: "import-dry-run", name: "dry_run", type: "checkbox" });
  const start = h("button", { type: "submit", class: "primary", text: "Import" });
  const bar = h("progress", { class: "import-progress", max: 1, value: 0, hidden: true, "aria-label": "Import progress" });
  const stage = h("p", { class: "muted import-stage", "aria-live": "polite" });
  const error = h("p", { class: "form-error", role: "alert" });
  const result = h("div");
  const form = h(
    "form",
    { class: "import-form", "aria-label": "Import a file" },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Exported from" }), kind),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "File" }), file),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Time zone of local times" }), zone),
    h("label", { class: "field check" }, dryRun, h("span", { text: "Dry run (store nothing)" })),
    h("div", { class: "form-row" }, start),
    error,
  );
  const el = h(
    "section",
    { class: "card bridge-card import-card", "aria-labelledby": "import-title" },
    h("h2", { id: "import-title", text: "Import a file" }),
    h("p", { class: "muted device-note", text: "Readings already on the hub are not added again, so a newer export that overlaps an older one adds only what is new. The time zone matters only for files with local times (Dexcom Clarity, LibreView)." }),
    form,
    bar,
    stage,
    result,
  );

  async function follow(job, label) {
    while (job.state !== "done" && job.state !== "failed") {
      bar.max = job.total_bytes || 1;
      bar.value = job.bytes_read;
      stage.textContent = job.state === "queued" ? "Waiting for another import to end…" : `Reading: ${job.readings.toLocaleString()} readings so far`;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await api("GET", `/v1/bridges/imports/${job.id}`);
    }
    bar.value = bar.max;
    if (job.state === "failed") throw new ApiError(422, job.error);
    stage.textContent = "";
    result.replaceChildren(outcome(job, label));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    start.disabled = true;
    error.textContent = "";
    result.replaceChildren();
    bar.hidden = false;
    bar.value = 0;
    stage.textContent = "Sending the file to the hub…";
    const label = kind.selectedOptions[0]?.textContent || kind.value;
    const params = new URLSearchParams({ kind: kind.value, file_name: chosen.name, dry_run: String(dryRun.checked) });
    if (zone.value.trim()) params.set("tz", zone.value.trim());
    try {
      const job = await upload(`/v1/bridges/imports?${params}`, chosen, (sent, total) => {
        bar.max = total || 1;
        bar.value = sent;
      });
      await follow(job, label);
      await onImported();
    } catch (failure) {
      stage.textContent = "";
      bar.hidden = true;
      error.textContent = failure.message;
    } finally {
      start.disabled = false;
    }
  });
  return { el };
}
