// Settings › Model › Pull: fetch a GGUF model from a Hugging Face repository through the hub,
// with its progress; when it is verified and added, the model list shows it.

import { api } from "../api.js";
import { h } from "../dom.js";

const POLL_MS = 500;
const STAGES = { resolving: "Asking the model hub", downloading: "Downloading", verifying: "Checking", adding: "Adding", done: "Done" };

function sizeText(bytes) {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

export function drawPull(section, onAdded) {
  const source = h("input", { id: "pull-source", type: "text", required: true, maxlength: 300, placeholder: "OWNER/NAME-GGUF:Q4_K_M", autocomplete: "off", spellcheck: "false" });
  const bar = h("progress", { class: "pull-progress", max: 1, value: 0, hidden: true, "aria-label": "Pull progress" });
  const status = h("p", { class: "status pull-status", role: "status" });
  const button = h("button", { type: "submit", class: "primary", text: "Pull" });
  const form = h(
    "form",
    { class: "settings-form pull-form" },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Pull a model (GGUF, from a Hugging Face repository)" }), source),
    h("p", { class: "hint", text: "Add :FILE.gguf or a quantization such as :Q4_K_M. Checked against the repository's checksum before it is added." }),
    h("div", { class: "form-row" }, button, bar),
    status,
  );

  async function follow(id) {
    const job = await api("GET", `/v1/models/pulls/${id}`);
    if (job.total_bytes) {
      bar.hidden = false;
      bar.value = job.done_bytes / job.total_bytes;
    }
    if (job.state === "running") {
      const amount = job.total_bytes ? ` ${sizeText(job.done_bytes)} of ${sizeText(job.total_bytes)}` : "";
      status.textContent = `${STAGES[job.stage] || job.stage} ${job.file}${amount}…`;
      setTimeout(() => follow(id).catch(failed), POLL_MS);
      return;
    }
    button.disabled = false;
    bar.hidden = job.state !== "done";
    status.textContent = job.state === "done" ? `Added ${job.model}. Choose it above to make it answer.` : job.error;
    if (job.state === "done") onAdded();
  }

  function failed(error) {
    button.disabled = false;
    status.textContent = error.message;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    bar.hidden = true;
    status.textContent = "Starting…";
    try {
      const job = await api("POST", "/v1/models/pulls", { source: source.value.trim() });
      await follow(job.id);
    } catch (error) {
      failed(error);
    }
  });
  section.append(form);
}
