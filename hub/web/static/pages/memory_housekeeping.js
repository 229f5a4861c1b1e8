// The Memory page's "Storage and housekeeping" panel: sizes per kind, how search by meaning is
// served (exact, the saved index, or rebuilding it with its progress), the policy per kind for old
// transcripts and text the glasses read (keep, summarize or delete after N days), the grace
// period, what the last run did, Run now and Undo. Polls while a run or a rebuild is going.

import { api } from "../api.js";
import { h } from "../dom.js";
import { kindLabel } from "./memory_card.js";

const POLL_MS = 1000;
const ACTIONS = [
  ["keep", "Keep everything"],
  ["summarize", "Summarize days older than"],
  ["delete", "Delete days older than"],
];

function bytes(count) {
  const units = ["B", "KB", "MB", "GB"];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function indexText(index) {
  if (index.mode === "building") return `Rebuilding the search index: ${index.built.toLocaleString()} of ${index.total.toLocaleString()} vectors. Search finds by words meanwhile.`;
  if (index.mode === "ann") return `Search by meaning uses the saved index (ANN): ${index.searchable.toLocaleString()} vectors.`;
  return `Search by meaning scans every vector exactly: ${index.searchable.toLocaleString()} vectors.`;
}

function runText(run) {
  if (!run.finished_at) return "Housekeeping is running…";
  const when = new Date(run.started_at).toLocaleString();
  if (run.error) return `The last run (${when}) stopped: ${run.error}`;
  if (!run.days && !run.purged) return `The last run (${when}) found nothing to do.`;
  const parts = [];
  if (run.days) parts.push(`compacted ${run.days} ${run.days === 1 ? "day" : "days"} (${run.items} items, ${run.summaries} ${run.summaries === 1 ? "summary" : "summaries"})`);
  if (run.purged) parts.push(`deleted ${run.purged} items whose grace period ended`);
  return `The last run (${when}) ${parts.join(" and ")}.`;
}

function policyRow(policy) {
  const action = h(
    "select",
    { class: "hk-action", "data-kind": policy.kind, "aria-label": `What to do with old ${kindLabel(policy.kind).toLowerCase()} memories` },
    ACTIONS.map(([value, label]) => h("option", { value, text: label, selected: value === policy.action })),
  );
  const days = h("input", { type: "number", class: "hk-days", min: 1, max: 3650, step: 1, value: policy.after_days, "data-kind": policy.kind, "aria-label": `Days before ${kindLabel(policy.kind).toLowerCase()} memories are compacted` });
  const unit = h("span", { class: "hint", text: "days" });
  const sync = () => {
    days.hidden = unit.hidden = action.value === "keep";
  };
  action.addEventListener("change", sync);
  sync();
  return h("div", { class: "hk-policy" }, h("span", { class: "tag", text: kindLabel(policy.kind) }), action, days, unit);
}

export function housekeepingPanel() {
  const state = { timer: null, closed: false, busy: false };
  const summary = h("summary", { text: "Storage and housekeeping" });
  const index = h("p", { class: "hk-index", id: "hk-index" });
  const sizes = h("table", { class: "hk-sizes", id: "hk-sizes" });
  const policies = h("div", { class: "hk-policies" });
  const grace = h("input", { type: "number", id: "hk-grace", min: 0, max: 3650, step: 1, "aria-label": "Grace period in days" });
  const message = h("p", { class: "form-error", role: "alert" });
  const saved = h("p", { class: "hint", role: "status" });
  const last = h("p", { class: "hk-last", id: "hk-last", role: "status" });
  const runButton = h("button", { type: "button", class: "ghost", id: "hk-run", text: "Run now" });
  const undoButton = h("button", { type: "button", class: "ghost", id: "hk-undo", text: "Undo", hidden: true });
  const form = h(
    "form",
    { class: "hk-form", "aria-label": "Housekeeping policy" },
    h("p", { class: "hint", text: "Old transcripts and text the glasses read can be summarized one summary a day, or deleted. The raw items leave search but stay recoverable for the grace period; Undo brings them back." }),
    policies,
    h("label", { class: "hk-policy" }, h("span", { class: "tag", text: "Grace period" }), grace, h("span", { class: "hint", text: "days" })),
    message,
    h("div", { class: "edit-buttons" }, saved, h("button", { type: "submit", class: "primary", text: "Save" })),
  );
  const panel = h(
    "details",
    { class: "card housekeeping", id: "memory-housekeeping" },
    summary,
    index,
    sizes,
    form,
    h("div", { class: "hk-run" }, last, runButton, undoButton),
  );

  function drawSizes(list) {
    sizes.replaceChildren(
      h("thead", {}, h("tr", {}, ["Kind", "Items", "Size", "Held for undo"].map((text) => h("th", { text })))),
      h(
        "tbody",
        {},
        list.length
          ? list.map((size) =>
              h(
                "tr",
                { "data-kind": size.kind },
                h("td", { text: kindLabel(size.kind) }),
                h("td", { text: size.items.toLocaleString() }),
                h("td", { text: bytes(size.bytes) }),
                h("td", { text: size.held_items ? `${size.held_items.toLocaleString()} (${bytes(size.held_bytes)})` : "–" }),
              ),
            )
          : [h("tr", {}, h("td", { colspan: 4, text: "Nothing stored yet." }))],
      ),
    );
  }

  let current = null;
  // Draws the panel; true while something is going that the panel should follow.
  function draw(status, memoryStatus) {
    current = status;
    const total = status.sizes.reduce((sum, size) => sum + size.bytes + size.held_bytes, 0);
    summary.textContent = `Storage and housekeeping · ${bytes(total)}`;
    index.textContent = indexText(memoryStatus.index);
    drawSizes(status.sizes);
    if (!form.contains(document.activeElement)) {
      policies.replaceChildren(...status.policies.map(policyRow));
      grace.value = status.grace_days;
    }
    const run = status.runs[0];
    last.textContent = status.running && (!run || run.finished_at) ? "Housekeeping is running…" : run ? runText(run) : "No housekeeping run yet.";
    runButton.disabled = Boolean(status.running);
    undoButton.hidden = !(run && run.finished_at && run.undoable_days);
    undoButton.textContent = run && run.undoable_days ? `Undo (${run.undoable_days} ${run.undoable_days === 1 ? "day" : "days"})` : "Undo";
    return Boolean(status.running) || memoryStatus.index.mode === "building";
  }

  async function refresh() {
    clearTimeout(state.timer);
    if (!panel.open) return; // a closed panel asks nothing; opening it asks again
    try {
      const [status, memoryStatus] = await Promise.all([api("GET", "/v1/memory/housekeeping"), api("GET", "/v1/memory/status")]);
      if (state.closed) return;
      message.textContent = "";
      const busy = draw(status, memoryStatus);
      // A run that just finished changed the memories the page lists.
      if (state.busy && !status.running) panel.dispatchEvent(new CustomEvent("housekeeping-changed", { bubbles: true }));
      state.busy = busy;
      if (busy) state.timer = setTimeout(refresh, POLL_MS);
    } catch (failure) {
      message.textContent = failure.message;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    saved.textContent = "";
    message.textContent = "";
    const body = {
      policies: [...policies.querySelectorAll(".hk-action")].map((select) => {
        const days = policies.querySelector(`.hk-days[data-kind="${select.dataset.kind}"]`);
        const policy = { kind: select.dataset.kind, action: select.value };
        // Keep needs no age; a number field left empty reads as 0, which the hub refuses.
        if (select.value !== "keep") policy.after_days = Number(days.value);
        return policy;
      }),
      grace_days: Number(grace.value),
    };
    try {
      await api("PUT", "/v1/memory/housekeeping", body);
      document.activeElement?.blur();
      await refresh();
      saved.textContent = "Saved.";
    } catch (failure) {
      message.textContent = failure.message;
    }
  });
  runButton.addEventListener("click", async () => {
    message.textContent = "";
    try {
      runButton.disabled = true;
      await api("POST", "/v1/memory/housekeeping/runs");
      state.busy = true;
    } catch (failure) {
      message.textContent = failure.message;
    }
    await refresh();
  });
  undoButton.addEventListener("click", async () => {
    const run = current && current.runs[0];
    if (!run) return;
    message.textContent = "";
    try {
      await api("POST", `/v1/memory/housekeeping/runs/${encodeURIComponent(run.id)}/undo`);
    } catch (failure) {
      message.textContent = failure.message;
    }
    await refresh();
    panel.dispatchEvent(new CustomEvent("housekeeping-changed", { bubbles: true }));
  });
  panel.addEventListener("toggle", () => {
    if (panel.open) refresh();
  });
  return {
    panel,
    refresh,
    stop: () => {
      state.closed = true;
      clearTimeout(state.timer);
    },
  };
}
