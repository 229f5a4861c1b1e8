// What the nightly personalization may learn from a chat: "good" / "bad" on an answer, the answer
// it should have been, and "don't learn from this conversation", saved through the API.

import { api } from "../api.js";
import { h, icon } from "../dom.js";
import { renderMarkdown } from "../markdown.js";

const RATINGS = {
  good: { icon: "good", label: "Good answer", on: "Marked good; press again to clear" },
  bad: { icon: "bad", label: "Bad answer", on: "Marked bad; press again to clear" },
};

// A 404 here means the thing was deleted elsewhere (another tab, the API): say that plainly.
function reason(error, gone) {
  return error.status === 404 ? gone : error.message;
}

function ratingButton(message, rating, onRate) {
  const pressed = message.rating === rating;
  const { label, on } = RATINGS[rating];
  return h(
    "button",
    {
      type: "button",
      class: `icon-btn feedback-btn feedback-${rating}${pressed ? " pressed" : ""}`,
      "aria-label": label,
      "aria-pressed": pressed ? "true" : "false",
      title: pressed ? on : `Mark as a ${rating} answer`,
      disabled: Boolean(message.savingFeedback),
      onclick: () => onRate(message, rating),
    },
    icon(RATINGS[rating].icon),
  );
}

/** The feedback buttons under a stored answer: good, bad (toggles) and "Correct…". */
export function feedbackButtons(message, { onRate, onStartCorrect }) {
  if (!message.id || message.streaming) return [];
  return [
    ratingButton(message, "good", onRate),
    ratingButton(message, "bad", onRate),
    h(
      "button",
      {
        type: "button",
        class: "icon-btn feedback-correct",
        "aria-label": "Correct this answer",
        title: "Correct… (write the answer it should have been)",
        disabled: Boolean(message.savingFeedback),
        onclick: () => onStartCorrect(message),
      },
      icon("edit"),
      h("span", { class: "feedback-correct-label", text: "Correct…" }),
    ),
  ];
}

/** An answer the person corrected: their version, marked, with the original one click away. */
export function correctedAnswer(message) {
  return h(
    "div",
    { class: "corrected" },
    h("p", { class: "corrected-tag" }, icon("check"), h("span", { text: "Corrected by you" })),
    h("div", { class: "md" }, renderMarkdown(message.edited_content)),
    h(
      "details",
      { class: "original-answer" },
      h("summary", { text: "Original answer" }),
      h("div", { class: "md" }, renderMarkdown(message.content)),
    ),
  );
}

/** The inline editor for the answer it should have been (Ctrl+Enter saves, Escape cancels). */
export function correctionEditor(message, { onSave, onCancel }) {
  const fieldId = `correction-${message.id}`;
  const area = h("textarea", { id: fieldId, class: "edit-area correction-area", rows: 5, maxlength: 20000 });
  // The draft lives on the message so a redraw (another answer finishing) does not lose it.
  area.value = message.correctionDraft ?? (message.edited_content || message.content);
  area.addEventListener("input", () => {
    message.correctionDraft = area.value;
  });
  const form = h(
    "form",
    {
      class: "edit-form correction-form",
      "aria-label": "Correct this answer",
      onsubmit: (event) => {
        event.preventDefault();
        onSave(message, area.value.trim() ? area.value : null);
      },
    },
    h("label", { for: fieldId, class: "correction-label", text: "The answer it should have been" }),
    area,
    h(
      "div",
      { class: "edit-buttons" },
      message.edited_content
        ? h("button", { type: "button", class: "ghost", text: "Remove correction", onclick: () => onSave(message, null) })
        : null,
      h("button", { type: "button", class: "ghost", text: "Cancel", onclick: onCancel }),
      h("button", { type: "submit", class: "primary", text: "Save correction" }),
    ),
  );
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") onCancel();
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  // Focus it when it opens, not on every redraw (that would pull focus from other answers).
  if (message.focusEditor) {
    delete message.focusEditor;
    setTimeout(() => {
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    });
  }
  return form;
}

/**
 * The answer-feedback actions for the chat page. `state.correctingId` is the answer being
 * corrected; `redraw` draws the messages again; `focus(selector)` puts focus back after it.
 */
export function feedbackActions(state, redraw, focus) {
  async function save(message, change, focusAfter) {
    // PUT replaces both fields: send what is stored now, with the one change.
    const body = { rating: message.rating ?? null, edited_content: message.edited_content ?? null, ...change };
    message.feedbackError = null;
    message.savingFeedback = true;
    redraw();
    let saved = false;
    try {
      const stored = await api("PUT", `/v1/personalization/messages/${encodeURIComponent(message.id)}`, body);
      message.rating = stored.rating;
      message.edited_content = stored.edited_content;
      saved = true;
    } catch (error) {
      const gone = "this answer is no longer on the hub (its conversation was deleted, or it was regenerated)";
      message.feedbackError = `Your feedback was not saved: ${reason(error, gone)}.`;
    } finally {
      message.savingFeedback = false;
    }
    if (saved && "edited_content" in change) {
      state.correctingId = null;
      delete message.correctionDraft;
    }
    redraw();
    const correcting = "edited_content" in change && !saved;
    focus(`[data-id="${message.id}"] ${correcting ? ".correction-area" : focusAfter}`);
    return saved;
  }

  return {
    correctingId: () => state.correctingId,
    onRate: (message, rating) => save(message, { rating: message.rating === rating ? null : rating }, `.feedback-${rating}`),
    onStartCorrect(message) {
      state.correctingId = message.id;
      message.feedbackError = null;
      message.focusEditor = true;
      redraw();
    },
    onSaveCorrection: (message, text) => save(message, { edited_content: text }, ".feedback-correct"),
    onCancelCorrect(message) {
      state.correctingId = null;
      delete message.correctionDraft;
      redraw();
      focus(`[data-id="${message.id}"] .feedback-correct`);
    },
  };
}

/** The "Don't learn from this conversation" switch; `show(conversation)` reflects its state. */
export function learnToggle() {
  let conversation = null;
  const box = h("input", { type: "checkbox", id: "dont-learn", class: "learn-box" });
  const problem = h("span", { class: "learn-error", role: "alert" });
  const element = h(
    "div",
    { class: "learn-toggle", hidden: true },
    h(
      "label",
      { for: "dont-learn", title: "The nightly personalization leaves this conversation out" },
      box,
      h("span", { text: "Don't learn from this conversation" }),
    ),
    problem,
  );
  box.addEventListener("change", async () => {
    const target = conversation;
    if (!target) return;
    const learn = !box.checked;
    problem.textContent = "";
    box.disabled = true;
    try {
      const stored = await api("PUT", `/v1/personalization/conversations/${encodeURIComponent(target.id)}`, { learn });
      target.learn = stored.learn;
    } catch (error) {
      problem.textContent = `Not changed: ${reason(error, "this conversation is no longer on the hub")}.`;
    } finally {
      box.disabled = false;
      if (conversation === target) box.checked = target.learn === false;
    }
  });
  return {
    element,
    show(next) {
      const same = next === conversation;
      conversation = next;
      element.hidden = !next;
      // The chat redraws the same conversation often (an answer finishing): that keeps a failed
      // save's reason on screen and leaves a save in flight alone; another conversation starts clean.
      if (same && box.disabled) return;
      if (!same) problem.textContent = "";
      box.checked = Boolean(next) && next.learn === false;
    },
  };
}
