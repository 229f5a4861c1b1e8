// The memory page: browse what the hub remembers newest first, filter by kind, search by meaning
// and words, add a note, and edit, pin or forget one memory. "#/memory/<id>" shows one memory
// (a chat answer's source links here).

import { api } from "../api.js";
import { h, icon, iconButton } from "../dom.js";
import { KINDS, kindLabel, memoryCard } from "./memory_card.js";
import { housekeepingPanel } from "./memory_housekeeping.js";

const PAGE_SIZE = 30;
const SEARCH_RESULTS = 20;
const SEARCH_DELAY_MS = 300;

function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

function addForm(onAdded) {
  const area = h("textarea", { id: "memory-new-text", class: "edit-area", rows: 3, maxlength: 100000, placeholder: "For example: The spare key is under the blue flower pot." });
  const error = h("p", { class: "form-error", role: "alert" });
  const save = h("button", { type: "submit", class: "primary", text: "Save" });
  const form = h(
    "form",
    { class: "card memory-add", hidden: true, "aria-label": "Add a memory" },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Remember this" }), area),
    h("p", { class: "hint", text: "Saved as a note. Chat answers can draw on it, and search finds it by meaning, whatever the words." }),
    error,
    h("div", { class: "edit-buttons" }, h("button", { type: "button", class: "ghost", text: "Cancel", onclick: () => close() }), save),
  );
  function close() {
    form.hidden = true;
    area.value = "";
    error.textContent = "";
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = area.value.trim();
    if (!text) {
      error.textContent = "Write what the hub should remember first.";
      return;
    }
    save.disabled = true;
    error.textContent = "";
    try {
      const item = await api("POST", "/v1/memory", { text, kind: "note" });
      close();
      await onAdded(item);
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      save.disabled = false;
    }
  });
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  return {
    form,
    open: () => {
      form.hidden = false;
      area.focus();
    },
  };
}

async function mount(ctx, params) {
  const state = { kind: "", query: "", focusId: params[0] || null, items: [], total: 0, lastTime: null, run: 0 };

  const search = h("input", { type: "search", id: "memory-search", placeholder: "Search memories", "aria-label": "Search memories", enterkeyhint: "search" });
  const kind = h(
    "select",
    { id: "memory-kind", class: "kind-select", "aria-label": "Kind" },
    h("option", { value: "", text: "All kinds" }),
    KINDS.map((value) => h("option", { value, text: kindLabel(value) })),
  );
  const adder = addForm(async (item) => {
    search.value = "";
    state.query = "";
    leaveFocus();
    await refresh();
    list.querySelector(`[data-id="${CSS.escape(item.id)}"]`)?.classList.add("focused");
  });
  const status = h("p", { class: "memory-status", role: "status" });
  const focusBar = h("div", { class: "focus-bar", hidden: true });
  const list = h("div", { class: "memory-list", id: "memory-list", "aria-label": "Memories" });
  const more = h("button", { type: "button", class: "ghost load-more", text: "Load more", hidden: true, onclick: () => loadMore() });
  const addButton = h("button", { type: "button", class: "primary topbar-primary", onclick: () => adder.open() }, icon("plus"), h("span", { text: "Add memory" }));
  const housekeeping = housekeepingPanel();
  // A housekeeping run or its undo changed which memories there are.
  housekeeping.panel.addEventListener("housekeeping-changed", () => refresh());

  ctx.main.append(
    h(
      "div",
      { class: "page-scroll memory-page" },
      h(
        "header",
        { class: "topbar" },
        iconButton("menu", "Open menu", ctx.openDrawer, { className: "menu-btn" }),
        h("div", { class: "title-wrap" }, h("h1", { class: "chat-title", text: "Memory" })),
        h("div", { class: "topbar-actions" }, addButton),
      ),
      h(
        "div",
        { class: "memory" },
        h(
          "form",
          { class: "memory-toolbar", role: "search", onsubmit: (event) => { event.preventDefault(); startSearch(0); } },
          h("div", { class: "search" }, icon("search"), search),
          kind,
        ),
        adder.form,
        housekeeping.panel,
        focusBar,
        status,
        list,
        more,
      ),
    ),
  );

  let searchTimer = null;
  function startSearch(delay) {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.query = search.value.trim();
      leaveFocus();
      refresh();
    }, delay);
  }
  search.addEventListener("input", () => startSearch(SEARCH_DELAY_MS));
  kind.addEventListener("change", () => {
    clearTimeout(searchTimer);
    state.kind = kind.value;
    state.query = search.value.trim();
    leaveFocus();
    refresh();
  });

  function leaveFocus() {
    if (!state.focusId) return;
    state.focusId = null;
    // Quietly, so the router does not redraw the page.
    window.history.replaceState(null, "", "#/memory");
  }

  function forgotten(item) {
    state.items = state.items.filter((other) => other.id !== item.id);
    state.total = Math.max(0, state.total - 1);
    if (state.focusId) {
      status.textContent = "Forgotten.";
    } else {
      drawStatus(state.lastTime);
    }
    if (!list.querySelector(".memory-card")) list.replaceChildren(emptyState());
  }

  function card(item, hit = null) {
    return memoryCard(item, { hit, focused: item.id === state.focusId, onForgotten: forgotten });
  }

  function emptyState() {
    let text;
    if (state.focusId) text = "This memory is no longer on the hub.";
    else if (state.query) text = `No memories match “${state.query}”.`;
    else if (state.kind) text = `No memories of kind ${kindLabel(state.kind)} yet.`;
    else text = "Nothing remembered yet. Add a memory here, or say “Remember that …” in a chat.";
    return h("div", { class: "memory-empty" }, icon("memory"), h("p", { text }));
  }

  function drawStatus(time) {
    state.lastTime = time;
    if (state.query) {
      const found = `${plural(state.items.length, "result", "results")} for “${state.query}”`;
      status.textContent = time && time.phrase ? `${found}, limited to ${time.phrase}` : found;
    } else {
      const what = state.kind ? `${kindLabel(state.kind).toLowerCase()} memories` : "memories";
      status.textContent = state.total === 1 ? `1 ${what.replace(/ies$/, "y")}` : `${state.total} ${what}`;
    }
    more.hidden = Boolean(state.query) || state.items.length >= state.total;
  }

  async function guarded(run, work) {
    try {
      await work();
    } catch (failure) {
      if (run !== state.run) return;
      status.textContent = "";
      more.hidden = true;
      list.replaceChildren(h("p", { class: "msg-error", role: "alert", text: failure.message }));
    }
  }

  async function refresh() {
    const run = ++state.run;
    list.setAttribute("aria-busy", "true");
    focusBar.hidden = !state.focusId;
    await guarded(run, async () => {
      if (state.focusId) await showOne(run);
      else if (state.query) await showSearch(run);
      else await showPage(run);
    });
    if (run === state.run) list.setAttribute("aria-busy", "false");
  }

  async function showOne(run) {
    const id = state.focusId;
    focusBar.replaceChildren(
      h("span", { text: "Showing one memory" }),
      h("button", { type: "button", class: "link-btn", text: "Show all memories", onclick: () => ctx.navigate("#/memory") }),
    );
    more.hidden = true;
    status.textContent = "";
    let item;
    try {
      item = await api("GET", `/v1/memory/${encodeURIComponent(id)}`);
    } catch (failure) {
      if (failure.status !== 404) throw failure;
      item = null;
    }
    if (run !== state.run) return;
    state.items = item ? [item] : [];
    list.replaceChildren(item ? card(item) : emptyState());
    list.querySelector(".memory-card")?.focus();
  }

  async function showSearch(run) {
    const body = { query: state.query, k: SEARCH_RESULTS };
    if (state.kind) body.kinds = [state.kind];
    const answer = await api("POST", "/v1/memory/search", body);
    if (run !== state.run) return;
    state.items = answer.results;
    list.replaceChildren(...(answer.results.length ? answer.results.map((hit) => card(hit, hit)) : [emptyState()]));
    drawStatus(answer.time);
  }

  function pagePath(offset) {
    const kindParam = state.kind ? `&kind=${encodeURIComponent(state.kind)}` : "";
    return `/v1/memory?limit=${PAGE_SIZE}&offset=${offset}${kindParam}`;
  }

  async function showPage(run) {
    const page = await api("GET", pagePath(0));
    if (run !== state.run) return;
    state.items = page.data;
    state.total = page.total;
    list.replaceChildren(...(page.data.length ? page.data.map((item) => card(item)) : [emptyState()]));
    drawStatus(null);
  }

  async function loadMore() {
    const run = state.run;
    more.disabled = true;
    await guarded(run, async () => {
      const page = await api("GET", pagePath(state.items.length));
      if (run !== state.run) return;
      // Memories forgotten or added meanwhile shift the pages: skip any already shown.
      const shown = new Set(state.items.map((item) => item.id));
      const fresh = page.data.filter((item) => !shown.has(item.id));
      state.items.push(...fresh);
      state.total = page.total;
      list.append(...fresh.map((item) => card(item)));
      drawStatus(null);
    });
    more.disabled = false;
  }

  await refresh();
  return {
    update: (next) => {
      state.focusId = next[0] || null;
      return refresh();
    },
    unmount: () => {
      clearTimeout(searchTimer);
      housekeeping.stop();
    },
  };
}

export const memoryPage = { id: "memory", label: "Memory", icon: "memory", mount };
