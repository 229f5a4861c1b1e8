// One memory as a card: its text (always as text, never HTML), kind, source and time, and the
// pin, edit and forget actions, each of which asks the hub first and redraws from its answer.

import { api } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { h, icon, iconButton, relativeTime } from "../dom.js";

const KIND_LABELS = {
  note: "Note",
  fact: "Fact",
  message: "Message",
  transcript: "Transcript",
  sensor_summary: "Sensor summary",
  image_text: "Image text",
  document: "Document",
};

/** The kinds a memory can have, in the hub's order. */
export const KINDS = Object.keys(KIND_LABELS);

/** A person-friendly name for a memory kind. */
export function kindLabel(kind) {
  return KIND_LABELS[kind] || String(kind);
}

function whenElement(iso) {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return h("span", { text: String(iso) });
  const then = new Date(time);
  const now = new Date();
  let text = relativeTime(time / 1000);
  if (then.getFullYear() !== now.getFullYear()) {
    text = then.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
  } else if (then.toDateString() === now.toDateString() && /\d:\d/.test(text)) {
    text = `Today, ${text}`;
  }
  return h("time", { datetime: iso, title: `Happened ${then.toLocaleString()}`, text });
}

function matchBadge(hit) {
  const label = hit.similarity === null || hit.similarity === undefined
    ? `score ${Number(hit.score).toFixed(3)}`
    : `${Math.round(Math.max(0, hit.similarity) * 100)}% match`;
  const why = [`fused score ${hit.score}`];
  if (hit.vector_rank !== null && hit.vector_rank !== undefined) why.push(`meaning rank ${hit.vector_rank}`);
  if (hit.text_rank !== null && hit.text_rank !== undefined) why.push(`word rank ${hit.text_rank}`);
  return h("span", { class: "match", title: why.join(" · "), text: label });
}

/**
 * A card for `item` (a memory as the API returns it). `hit` holds the search fields (score,
 * snippet) when the card is a search result. `onForgotten(item)` runs after the hub forgot it.
 */
export function memoryCard(item, { hit = null, focused = false, onForgotten = () => {} } = {}) {
  const card = h("article", { class: "card memory-card", "data-id": item.id, tabindex: "-1" });
  let current = item;
  let snippet = hit && hit.snippet && hit.snippet !== item.text ? hit.snippet : null;
  let expanded = false;
  const error = h("p", { class: "form-error", role: "alert" });

  async function change(patch, button) {
    if (button) button.disabled = true;
    error.textContent = "";
    try {
      current = await api("PATCH", `/v1/memory/${encodeURIComponent(current.id)}`, patch);
      if ("text" in patch) snippet = null;
      draw();
      return true;
    } catch (failure) {
      error.textContent = failure.message;
      if (button) button.disabled = false;
      return false;
    }
  }

  async function forget() {
    const ok = await confirmDialog("Forget this memory? It is removed from the hub for good, with any facts derived from it.", "Forget");
    if (!ok) return;
    try {
      await api("DELETE", `/v1/memory/${encodeURIComponent(current.id)}`);
    } catch (failure) {
      error.textContent = failure.message;
      return;
    }
    card.remove();
    onForgotten(current);
  }

  function textBlock() {
    const shown = snippet && !expanded ? snippet : current.text;
    const text = h("p", { class: "memory-text", text: shown });
    if (snippet) {
      const more = h("button", {
        type: "button",
        class: "link-btn",
        text: expanded ? "Show the matching part" : "Show all",
        onclick: () => {
          expanded = !expanded;
          draw();
        },
      });
      return [text, more];
    }
    return [text];
  }

  function meta() {
    return h(
      "p",
      { class: "memory-meta" },
      h("span", { class: "tag", text: kindLabel(current.kind) }),
      current.pinned ? h("span", { class: "pin-badge" }, icon("pin"), h("span", { text: "Pinned" })) : null,
      whenElement(current.happened_at),
      h("span", { class: "memory-source", text: `from ${current.source}` }),
      hit ? matchBadge(hit) : null,
    );
  }

  function draw() {
    card.classList.toggle("pinned", Boolean(current.pinned));
    const pin = iconButton("pin", current.pinned ? "Unpin" : "Pin", () => change({ pinned: !current.pinned }, pin), { showLabel: true });
    pin.setAttribute("aria-pressed", current.pinned ? "true" : "false");
    const actions = h(
      "div",
      { class: "memory-actions" },
      pin,
      iconButton("edit", "Edit", () => edit(), { showLabel: true }),
      iconButton("trash", "Forget", () => forget(), { showLabel: true, className: "forget-btn" }),
    );
    card.replaceChildren(h("div", { class: "memory-head" }, meta(), actions), ...textBlock(), error);
  }

  function edit() {
    const area = h("textarea", { class: "edit-area", rows: 4, "aria-label": "Memory text", maxlength: 100000 });
    area.value = current.text;
    const save = h("button", { type: "submit", class: "primary", text: "Save" });
    const form = h(
      "form",
      {
        class: "edit-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const text = area.value.trim();
          if (!text) {
            error.textContent = "A memory needs some text; use Forget to remove it.";
            return;
          }
          if (text === current.text) {
            draw();
            return;
          }
          save.textContent = "Saving…";
          if (!(await change({ text }, save))) save.textContent = "Save";
        },
      },
      area,
      h("p", { class: "hint edit-hint", text: "The hub re-reads the new text, so searches find it by its new meaning." }),
      error,
      h(
        "div",
        { class: "edit-buttons" },
        h("button", { type: "button", class: "ghost", text: "Cancel", onclick: () => { error.textContent = ""; draw(); } }),
        save,
      ),
    );
    area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") draw();
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
    });
    card.replaceChildren(h("div", { class: "memory-head" }, meta()), form);
    area.focus();
  }

  if (focused) card.classList.add("focused");
  draw();
  return card;
}
