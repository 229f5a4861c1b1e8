// The chat page: conversations in the sidebar, the open one in the middle, a composer below.

import { api, streamChunks } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { h, icon, iconButton, relativeTime } from "../dom.js";
import { feedbackActions, learnToggle } from "./chat_feedback.js";
import { fillAnswer, renderMessages } from "./chat_messages.js";

const SUGGESTIONS = [
  "Explain how a heat pump works, simply.",
  "Write a short, friendly reminder to drink water.",
  "Give me three ideas for a quiet Sunday.",
];

async function mount(ctx, params) {
  const state = { conversations: [], query: "", current: null, streaming: null, editingIndex: null, correctingId: null, model: null };

  // Sidebar: new chat, search, the list.
  const search = h("input", { type: "search", placeholder: "Search chats", "aria-label": "Search conversations", id: "conversation-search" });
  const list = h("ul", { class: "conv-list", "aria-label": "Conversations" });
  ctx.sidebar.append(
    h("button", { type: "button", class: "new-chat", onclick: () => ctx.navigate("#/chat") }, icon("plus"), h("span", { text: "New chat" })),
    h("div", { class: "search" }, icon("search"), search),
    list,
  );

  // Main: top bar, messages, composer.
  const title = h("h1", { class: "chat-title", id: "chat-title" });
  const renameButton = iconButton("rename", "Rename conversation", () => startRename());
  const deleteButton = iconButton("trash", "Delete conversation", () => deleteCurrent());
  const modelBadge = h("a", { class: "model-badge", href: "#/settings", title: "Change the model in Settings" });
  const topbar = h(
    "header",
    { class: "topbar" },
    iconButton("menu", "Open menu", ctx.openDrawer, { className: "menu-btn" }),
    h("div", { class: "title-wrap" }, title),
    h("div", { class: "topbar-actions" }, renameButton, deleteButton, modelBadge),
  );
  const inner = h("div", { class: "messages-inner" });
  const scroller = h("div", { class: "messages", id: "messages" }, inner);
  const input = h("textarea", { id: "composer-input", rows: 1, placeholder: "Message your hub", "aria-label": "Message", maxlength: 32000 });
  const sendButton = h("button", { type: "submit", class: "send-btn", "aria-label": "Send", title: "Send (Enter)" }, icon("send"));
  const stopButton = h("button", { type: "button", class: "stop-btn", "aria-label": "Stop", title: "Stop", hidden: true, onclick: () => stop() }, icon("stop"));
  const learn = learnToggle();
  const feedback = feedbackActions(state, () => drawMessages(), (selector) => {
    const target = inner.querySelector(selector);
    if (target) target.focus();
  });
  const composer = h(
    "form",
    { class: "composer", onsubmit: (event) => { event.preventDefault(); send(input.value); } },
    h("div", { class: "composer-box" }, input, sendButton, stopButton),
    h("p", { class: "composer-hint", text: "Answers are made on your hub; nothing leaves it." }),
    learn.element,
  );
  ctx.main.append(h("div", { class: "chat" }, topbar, scroller, composer));

  input.addEventListener("input", () => growInput());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  let searchTimer = null;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.query = search.value.trim();
      refreshList();
    }, 200);
  });

  function growInput() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  function scrollToBottom(force = false) {
    if (force || nearBottom()) scroller.scrollTop = scroller.scrollHeight;
  }

  function drawList() {
    const items = state.conversations.map((conversation) =>
      h(
        "li",
        { class: state.current && state.current.id === conversation.id ? "active" : "" },
        h(
          "a",
          { href: `#/chat/${conversation.id}`, "data-id": conversation.id, onclick: ctx.closeDrawer },
          h("span", { class: "conv-title", text: conversation.title }),
          h("span", { class: "conv-time", text: relativeTime(conversation.updated_at) }),
        ),
      ),
    );
    if (items.length === 0) {
      items.push(h("li", { class: "conv-empty", text: state.query ? "No chats match." : "No chats yet." }));
    }
    list.replaceChildren(...items);
  }

  // Searches and refreshes overlap (typing, then deleting): only the newest list is drawn, or a
  // slow earlier answer could bring back a conversation deleted since.
  let listRun = 0;
  async function refreshList() {
    const run = ++listRun;
    const query = state.query ? `?q=${encodeURIComponent(state.query)}` : "";
    let conversations;
    try {
      conversations = (await api("GET", `/v1/conversations${query}`)).data;
    } catch {
      conversations = [];
    }
    if (run !== listRun) return;
    state.conversations = conversations;
    drawList();
  }

  function drawHeader() {
    const open = Boolean(state.current);
    title.textContent = open ? state.current.title : "New chat";
    renameButton.hidden = !open;
    deleteButton.hidden = !open;
    modelBadge.textContent = state.model || "";
    modelBadge.hidden = !state.model;
    learn.show(state.current);
  }

  function emptyState() {
    return h(
      "div",
      { class: "empty" },
      h("img", { src: "/static/icon.svg", alt: "", class: "empty-mark" }),
      h("h2", { text: "How can I help?" }),
      h("p", { class: "muted", text: "Your own assistant, running on this hub." }),
      h(
        "div",
        { class: "suggestions" },
        SUGGESTIONS.map((text) => h("button", { type: "button", class: "chip", text, onclick: () => send(text) })),
      ),
    );
  }

  function drawMessages() {
    const messages = state.current ? state.current.messages : [];
    if (messages.length === 0) {
      inner.replaceChildren(emptyState());
      return;
    }
    inner.replaceChildren(
      ...renderMessages(messages, {
        busy: Boolean(state.streaming),
        editingIndex: state.editingIndex,
        feedback,
        onRegenerate: () => regenerate(),
        onStartEdit: () => startEdit(),
        onEdit: (text) => editAndResend(text),
        onCancelEdit: () => {
          state.editingIndex = null;
          drawMessages();
        },
      }),
    );
  }

  function setBusy(busy) {
    sendButton.hidden = busy;
    stopButton.hidden = !busy;
  }

  async function open(id) {
    if (state.streaming) stop();
    state.editingIndex = null;
    state.correctingId = null;
    if (!id) {
      state.current = null;
    } else {
      try {
        state.current = await api("GET", `/v1/conversations/${encodeURIComponent(id)}`);
      } catch (error) {
        state.current = null;
        drawHeader();
        inner.replaceChildren(h("p", { class: "msg-error", role: "alert", text: error.message }));
        drawList();
        return;
      }
    }
    drawHeader();
    drawMessages();
    drawList();
    scrollToBottom(true);
    if (window.matchMedia("(min-width: 800px)").matches) input.focus();
  }

  let frame = null;
  function scheduleAnswerUpdate(answer) {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = null;
      const stick = nearBottom();
      const node = inner.querySelector(".msg-assistant.streaming .md");
      if (node) fillAnswer(node, answer);
      if (stick) scrollToBottom(true);
    });
  }

  async function runTurn(method, path, body, user) {
    const conversation = state.current;
    const answer = { id: null, role: "assistant", content: "", streaming: true, model: state.model, citations: [] };
    conversation.messages.push(answer);
    const controller = new AbortController();
    state.streaming = { controller, answer };
    setBusy(true);
    drawMessages();
    scrollToBottom(true);
    try {
      await streamChunks(method, path, body, {
        signal: controller.signal,
        onChunk(chunk) {
          if (chunk.user_message && user) Object.assign(user, chunk.user_message);
          if (chunk.model) answer.model = chunk.model;
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) {
            answer.content += delta.content;
            scheduleAnswerUpdate(answer);
          }
          if ("message_id" in chunk) {
            answer.id = chunk.message_id;
            answer.stopped = Boolean(chunk.stopped);
            answer.tokens_per_second = chunk.timings ? chunk.timings.decode_tokens_per_second : null;
            answer.citations = Array.isArray(chunk.citations) ? chunk.citations : [];
            if (chunk.conversation) {
              conversation.title = chunk.conversation.title;
              conversation.updated_at = chunk.conversation.updated_at;
            }
          }
        },
      });
    } catch (error) {
      if (error.name === "AbortError") answer.stopped = true;
      else answer.error = `The hub could not answer: ${error.message}`;
    } finally {
      if (frame) cancelAnimationFrame(frame);
      frame = null;
      answer.streaming = false;
      state.streaming = null;
      setBusy(false);
      if (state.current === conversation) {
        drawHeader();
        drawMessages();
        scrollToBottom();
      }
      refreshList();
    }
  }

  async function send(text) {
    if (!text.trim() || state.streaming) return;
    if (!state.current) {
      try {
        const created = await api("POST", "/v1/conversations", {});
        state.current = { ...created, messages: [] };
      } catch (error) {
        inner.replaceChildren(h("p", { class: "msg-error", role: "alert", text: error.message }));
        return;
      }
      window.history.replaceState(null, "", `#/chat/${state.current.id}`);
      drawHeader();
    }
    input.value = "";
    growInput();
    const user = { id: null, role: "user", content: text, created_at: Date.now() / 1000 };
    state.current.messages.push(user);
    await runTurn("POST", `/v1/conversations/${state.current.id}/messages`, { content: text }, user);
  }

  function stop() {
    if (state.streaming) state.streaming.controller.abort();
  }

  async function regenerate() {
    if (state.streaming || !state.current) return;
    const messages = state.current.messages;
    if (messages.length && messages[messages.length - 1].role === "assistant") messages.pop();
    await runTurn("POST", `/v1/conversations/${state.current.id}/regenerate`, undefined, null);
  }

  function startEdit() {
    state.editingIndex = state.current.messages.findLastIndex((m) => m.role === "user");
    drawMessages();
  }

  async function editAndResend(text) {
    const conversation = state.current;
    const index = state.editingIndex;
    state.editingIndex = null;
    let user = conversation.messages[index];
    if (!user.id) {
      // Sent moments ago and stopped before the hub named it: ask the hub for the ids.
      Object.assign(conversation, await api("GET", `/v1/conversations/${conversation.id}`));
      user = conversation.messages.findLast((m) => m.role === "user");
    }
    const position = conversation.messages.indexOf(user);
    user.content = text;
    conversation.messages.splice(position + 1);
    await runTurn("PUT", `/v1/conversations/${conversation.id}/messages/${user.id}`, { content: text }, user);
  }

  function startRename() {
    const conversation = state.current;
    const field = h("input", { class: "rename-input", "aria-label": "Conversation title", maxlength: 200 });
    field.value = conversation.title;
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const wanted = field.value.trim();
      if (save && wanted && wanted !== conversation.title) {
        try {
          const renamed = await api("PATCH", `/v1/conversations/${conversation.id}`, { title: wanted });
          conversation.title = renamed.title;
        } catch (error) {
          window.alert(error.message);
        }
      }
      field.replaceWith(title);
      drawHeader();
      refreshList();
    };
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter") finish(true);
      if (event.key === "Escape") finish(false);
    });
    field.addEventListener("blur", () => finish(true));
    title.replaceWith(field);
    field.focus();
    field.select();
  }

  async function deleteCurrent() {
    const conversation = state.current;
    if (!(await confirmDialog(`Delete “${conversation.title}”? This cannot be undone.`, "Delete"))) return;
    if (state.streaming) stop();
    try {
      await api("DELETE", `/v1/conversations/${conversation.id}`);
    } catch (error) {
      window.alert(error.message);
      return;
    }
    ctx.navigate("#/chat");
    refreshList();
  }

  api("GET", "/v1/models/active")
    .then((active) => {
      state.model = active.model;
      drawHeader();
    })
    .catch(() => {});
  refreshList();
  await open(params[0]);

  return {
    update: (next) => open(next[0]),
    unmount: () => stop(),
  };
}

export const chatPage = { id: "chat", label: "Chat", icon: "chat", mount };
