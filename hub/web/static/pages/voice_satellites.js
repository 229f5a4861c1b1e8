// The Voice page's satellites: Home Assistant (Wyoming) satellites found on the network or added
// by address, their connection state, approve and revoke (after asking), and the add form.

import { api } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { h, icon, relativeTime } from "../dom.js";

const HOST_PATTERN = /^[A-Za-z0-9.:\-[\]]+$/;
const DEFAULT_PORT = 10700;

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function satelliteBadge(row) {
  if (row.status === "discovered") return ["Waiting for approval", "waiting"];
  if (row.status === "revoked") return ["Revoked", "revoked"];
  if (row.connected) return ["Connected", "online"];
  return row.last_error ? ["Not connected", "offline"] : ["Connecting…", "offline"];
}

function factsOf(row) {
  const parts = [`${row.host}:${row.port}`, row.source === "mdns" ? "found on the network" : "added by address"];
  if (row.last_seen) parts.push(`last seen ${relativeTime(row.last_seen)}`);
  if (row.status === "approved") parts.push(plural(row.requests || 0, "request"));
  return parts.join(" · ");
}

function noteOf(row) {
  if (row.status === "discovered") {
    return "The hub does not listen to it until you approve it. Wyoming has no passwords: approve only a satellite you know.";
  }
  if (row.status === "revoked") return "The hub does not listen to it. Approve it again to let it talk to the hub.";
  if (row.last_error && !row.connected) return `Last error: ${row.last_error}. The hub keeps trying.`;
  if (row.last_request) return `Last asked: “${row.last_request}”`;
  return "";
}

/** One satellite's card; `refresh(row)` updates it in place so focus stays where it was. */
function satelliteCard(first, onChanged) {
  const title = h("h3", { class: "device-name" });
  const facts = h("p", { class: "device-meta" });
  const badge = h("span", { class: "badge" });
  const note = h("p", { class: "muted satellite-note" });
  const error = h("p", { class: "form-error", role: "alert" });
  const approve = h("button", { type: "button", class: "primary satellite-btn", text: "Approve" });
  const revoke = h("button", { type: "button", class: "ghost revoke-btn", text: "Revoke" });
  const el = h(
    "article",
    { class: "card satellite-card", "data-id": first.id },
    h("div", { class: "device-head" }, h("span", { class: "device-kind" }, icon("voice")), h("div", { class: "device-title" }, title, facts), badge),
    note,
    h("div", { class: "device-actions" }, error, approve, revoke),
  );
  let row = first;

  async function act(button, verb) {
    button.disabled = true;
    error.textContent = "";
    try {
      await api("POST", `/v1/voice/satellites/${encodeURIComponent(row.id)}/${verb}`);
      await onChanged();
      // The pressed button is hidden now: keep keyboard focus on the card's other one.
      const other = button === approve ? revoke : approve;
      if (button.hidden && !other.hidden) other.focus();
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      button.disabled = false;
    }
  }
  approve.addEventListener("click", () => act(approve, "approve"));
  revoke.addEventListener("click", async () => {
    const sure = await confirmDialog(`Revoke ${row.name}? The hub hangs up at once and stops listening to it until you approve it again.`, "Revoke");
    if (sure) await act(revoke, "revoke");
  });

  function refresh(next) {
    row = next;
    title.textContent = row.name;
    facts.textContent = factsOf(row);
    const [label, tone] = satelliteBadge(row);
    badge.textContent = label;
    badge.className = `badge badge-${tone}`;
    note.textContent = noteOf(row);
    approve.hidden = row.status === "approved";
    approve.setAttribute("aria-label", `Approve ${row.name}`);
    revoke.hidden = row.status !== "approved";
    revoke.setAttribute("aria-label", `Revoke ${row.name}`);
  }
  refresh(first);
  return { el, refresh };
}

/** What is wrong with the typed address, in words, or "" when it can be sent. */
function addressProblem(host, port) {
  if (!host) return "Type the satellite's address, such as 192.168.1.20 or kitchen.local.";
  if (!HOST_PATTERN.test(host) || host.length > 253) {
    return "The address may hold only letters, digits, dots, dashes, colons and brackets (no http://, no spaces).";
  }
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) return "The port is a number from 1 to 65535 (satellites usually use 10700).";
  return "";
}

function addForm(onAdded) {
  const host = h("input", { name: "host", autocomplete: "off", spellcheck: "false", placeholder: "192.168.1.20", "aria-describedby": "satellite-add-error" });
  const port = h("input", { name: "port", inputmode: "numeric", value: String(DEFAULT_PORT), "aria-describedby": "satellite-add-error" });
  const name = h("input", { name: "name", maxlength: 100, autocomplete: "off", placeholder: "Kitchen (optional)" });
  const error = h("p", { class: "form-error", id: "satellite-add-error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary", text: "Add" });
  const field = (label, input, extra = "") => h("label", { class: `field ${extra}`.trim() }, h("span", { class: "field-label", text: label }), input);
  const form = h(
    "form",
    { class: "card satellite-add", "aria-label": "Add a satellite by address", novalidate: true },
    h("h3", { class: "satellite-add-title", text: "Add by address" }),
    h("p", { class: "muted satellite-note", text: "For a satellite mDNS does not reach. It is approved at once, since you typed it." }),
    h("div", { class: "satellite-add-row" }, field("Address", host, "field-host"), field("Port", port, "field-port"), field("Name", name, "field-name"), button),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const typed = { host: host.value.trim(), port: port.value.trim(), name: name.value.trim() };
    const problem = addressProblem(typed.host, typed.port);
    error.textContent = problem;
    host.setAttribute("aria-invalid", String(Boolean(problem) && !problem.startsWith("The port")));
    port.setAttribute("aria-invalid", String(problem.startsWith("The port")));
    if (problem) {
      (problem.startsWith("The port") ? port : host).focus();
      return;
    }
    button.disabled = true;
    try {
      await api("POST", "/v1/voice/satellites", { host: typed.host, port: Number(typed.port), name: typed.name || null });
      host.value = "";
      name.value = "";
      port.value = String(DEFAULT_PORT);
      await onAdded();
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** The satellites section: `el` to place, `show(rows)` after every poll, `disable(message)`. */
export function satellitesSection(onChanged) {
  const cards = new Map();
  const list = h("div", { class: "device-list" });
  const empty = h("p", {
    class: "muted satellite-empty",
    text: "No satellites yet. Home Assistant voice satellites on this network show up here to approve; or add one by address below.",
  });
  const off = h("p", { class: "notice", hidden: true });
  const form = addForm(onChanged);
  const el = h(
    "section",
    { class: "voice-section", "aria-labelledby": "voice-satellites-title" },
    h("h2", { id: "voice-satellites-title", text: "Satellites" }),
    off,
    list,
    empty,
    form,
  );

  function show(rows) {
    off.hidden = true;
    form.hidden = false;
    const seen = new Set(rows.map((row) => row.id));
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.el.remove();
        cards.delete(id);
      }
    }
    // Waiting first (they need the person), then approved, then revoked; by id within each.
    const order = { discovered: 0, approved: 1, revoked: 2 };
    const sorted = [...rows].sort((a, b) => (order[a.status] ?? 3) - (order[b.status] ?? 3));
    let previous = null;
    for (const row of sorted) {
      let card = cards.get(row.id);
      if (!card) {
        card = satelliteCard(row, onChanged);
        cards.set(row.id, card);
      }
      card.refresh(row);
      // Move a card only when it is out of place: moving it takes the focus off its buttons.
      const next = previous ? previous.el.nextElementSibling : list.firstElementChild;
      if (next !== card.el) list.insertBefore(card.el, next);
      previous = card;
    }
    empty.hidden = rows.length > 0;
  }

  function disable(message) {
    off.textContent = message;
    off.hidden = false;
    empty.hidden = true;
    form.hidden = true;
    for (const card of cards.values()) card.el.remove();
    cards.clear();
  }

  return { el, show, disable };
}
