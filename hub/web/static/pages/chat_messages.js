// Draw chat messages: the person's as plain text, the assistant's as safe Markdown, with actions.

import { copyText, h, icon, iconButton, relativeTime } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { correctedAnswer, correctionEditor, feedbackButtons } from "./chat_feedback.js";

function flash(button) {
  const original = button.querySelector(".icon");
  button.replaceChildren(icon("check"));
  button.classList.add("done");
  setTimeout(() => {
    button.replaceChildren(original);
    button.classList.remove("done");
  }, 1400);
}

function copyButton(message) {
  const button = iconButton("copy", "Copy", async () => {
    try {
      await copyText(message.edited_content || message.content);
      flash(button);
    } catch {
      button.title = "Copy failed: select the text instead";
    }
  });
  return button;
}

function citationList(citations) {
  if (!citations || citations.length === 0) return null;
  return h(
    "div",
    { class: "sources" },
    h("p", { class: "sources-title", text: citations.length === 1 ? "1 source" : `${citations.length} sources` }),
    h(
      "ol",
      {},
      citations.map((citation, index) => {
        const when = citation.happened_at ? new Date(citation.happened_at) : null;
        const whenText = when && !Number.isNaN(when.getTime()) ? when.toLocaleString() : citation.happened_at;
        return h(
          "li",
          { class: "source", "data-id": citation.id },
          h("span", { class: "source-index", text: String(index + 1) }),
          h(
            "div",
            { class: "source-body" },
            h("p", { class: "source-meta" }, citation.kind ? h("span", { class: "tag", text: String(citation.kind) }) : null, whenText ? h("span", { text: String(whenText) }) : null),
            citation.id
              ? h("a", { class: "source-snippet", href: `#/memory/${encodeURIComponent(citation.id)}`, title: "Open in Memory", text: String(citation.snippet ?? "") })
              : h("p", { class: "source-snippet", text: String(citation.snippet ?? "") }),
          ),
        );
      }),
    ),
  );
}

function metaLine(message) {
  const parts = [];
  if (message.model) parts.push(h("span", { class: "meta-model", text: message.model }));
  if (typeof message.tokens_per_second === "number") {
    parts.push(h("span", { class: "meta-speed", text: `${Math.round(message.tokens_per_second)} tok/s` }));
  }
  if (message.stopped) parts.push(h("span", { class: "meta-stopped", text: "Stopped" }));
  return h("span", { class: "meta" }, parts);
}

/** Fill an assistant message's text node: safe Markdown, or a typing indicator while empty. */
export function fillAnswer(container, message) {
  if (message.streaming && !message.content) {
    container.replaceChildren(h("span", { class: "typing", "aria-label": "Thinking" }, h("i"), h("i"), h("i")));
    return;
  }
  container.replaceChildren(renderMarkdown(message.content));
  if (!message.content && message.stopped) container.append(h("p", { class: "muted", text: "Stopped before any text." }));
}

function answerBody(message, feedback) {
  if (feedback && message.id && feedback.correctingId() === message.id) {
    return correctionEditor(message, { onSave: feedback.onSaveCorrection, onCancel: () => feedback.onCancelCorrect(message) });
  }
  if (message.edited_content && !message.streaming) return correctedAnswer(message);
  const body = h("div", { class: "md" });
  fillAnswer(body, message);
  return body;
}

function assistantMessage(message, { isLast, busy, onRegenerate, feedback }) {
  const body = answerBody(message, feedback);
  const actions = message.streaming
    ? null
    : h(
        "div",
        { class: "msg-actions" },
        message.content ? copyButton(message) : null,
        feedback ? feedbackButtons(message, feedback) : null,
        isLast && !busy ? iconButton("regenerate", "Regenerate", onRegenerate) : null,
      );
  return h(
    "article",
    {
      class: `msg msg-assistant${message.streaming ? " streaming" : ""}`,
      "data-role": "assistant",
      "data-id": message.id ?? "",
      "aria-busy": message.streaming ? "true" : "false",
    },
    h("div", { class: "avatar", "aria-hidden": "true" }, h("img", { src: "/static/icon.svg", alt: "" })),
    h(
      "div",
      { class: "msg-body" },
      body,
      message.error ? h("p", { class: "msg-error", role: "alert", text: message.error }) : null,
      message.feedbackError ? h("p", { class: "msg-error feedback-error", role: "alert", text: message.feedbackError }) : null,
      citationList(message.citations),
      message.streaming ? null : h("div", { class: "msg-foot" }, metaLine(message), actions),
    ),
  );
}

function userEditor(message, { onEdit, onCancel }) {
  const area = h("textarea", { class: "edit-area", rows: 3, "aria-label": "Edit your message" });
  area.value = message.content;
  const form = h(
    "form",
    {
      class: "edit-form",
      onsubmit: (event) => {
        event.preventDefault();
        if (area.value.trim()) onEdit(area.value);
      },
    },
    area,
    h(
      "div",
      { class: "edit-buttons" },
      h("button", { type: "button", class: "ghost", text: "Cancel", onclick: onCancel }),
      h("button", { type: "submit", class: "primary", text: "Send" }),
    ),
  );
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") onCancel();
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  setTimeout(() => {
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  });
  return form;
}

function userMessage(message, { isLast, busy, editing, onStartEdit, onEdit, onCancelEdit }) {
  if (editing) {
    return h("article", { class: "msg msg-user editing", "data-role": "user" }, userEditor(message, { onEdit, onCancel: onCancelEdit }));
  }
  return h(
    "article",
    { class: "msg msg-user", "data-role": "user", "data-id": message.id ?? "" },
    h("div", { class: "bubble", text: message.content }),
    h(
      "div",
      { class: "msg-actions" },
      message.created_at ? h("span", { class: "meta", text: relativeTime(message.created_at) }) : null,
      copyButton(message),
      isLast && !busy ? iconButton("edit", "Edit", onStartEdit) : null,
    ),
  );
}

/** The whole message list for a conversation state. */
export function renderMessages(messages, options) {
  const lastUser = messages.findLastIndex((m) => m.role === "user");
  const lastIndex = messages.length - 1;
  return messages.map((message, index) =>
    message.role === "user"
      ? userMessage(message, { ...options, isLast: index === lastUser, editing: options.editingIndex === index })
      : assistantMessage(message, { ...options, isLast: index === lastIndex }),
  );
}
