// The devices page: wearables waiting to pair (approve one with the code it shows), paired
// devices with status, last seen, battery and stream rates (revoke after asking), and live charts
// of the sensor kinds the hub charts (heart rate, glucose). Labels, units, chart floors and bands
// come from the hub's kind table (GET /v1/devices/kinds), read once when the page opens. Everything
// else is polled every few seconds while the page is open. Bridges (apps that cannot pair, such
// as xDrip+ uploading glucose) are added here too (devices_bridges.js) and listed as devices.

import { api } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { h, iconButton, relativeTime } from "../dom.js";
import { livePoll } from "../live_poll.js";
import { RANGES, labelInText, liveChart } from "./device_chart.js";
import { bridgeFacts, bridgeForm } from "./devices_bridges.js";
import { importForm } from "./devices_imports.js";

const DEFAULT_RANGE = "1h";
const KIND_PATHS = {
  watch: "M8 3h8l.8 3.5H7.2zM8 21h8l.8-3.5H7.2zM6 6.5h12v11H6zM12 9.5V12l1.8 1.2",
  cgm: "M12 4a8 8 0 1 0 0 16a8 8 0 1 0 0-16zM12 9a3 3 0 1 0 0 6a3 3 0 1 0 0-6z",
  glasses: "M2.5 13a3.5 3.5 0 1 0 7 0a3.5 3.5 0 1 0-7 0M14.5 13a3.5 3.5 0 1 0 7 0a3.5 3.5 0 1 0-7 0M9.5 13h5M2.5 13l1-5M21.5 13l-1-5",
  earbuds: "M9 4H8a3 3 0 0 0-3 3v2a3 3 0 0 0 3 3h1zM9 12v8M15 4h1a3 3 0 0 1 3 3v2a3 3 0 0 1-3 3h-1zM15 12v8",
  phone: "M7 2.5h10v19H7zM11 18.5h2",
};
const KIND_NAMES = { watch: "Watch", cgm: "Glucose monitor", glasses: "Glasses", earbuds: "Earbuds", phone: "Phone" };

function kindIcon(kind) {
  const ns = "http://www.w3.org/2000/svg";
  const el = document.createElementNS(ns, "svg");
  el.setAttribute("viewBox", "0 0 24 24");
  el.setAttribute("aria-hidden", "true");
  el.setAttribute("class", "icon device-icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", KIND_PATHS[kind] || KIND_PATHS.phone);
  el.append(path);
  return el;
}

function rateText(rates, sensorKinds) {
  if (!rates || typeof rates !== "object") return "";
  const parts = [];
  for (const [kind, perSecond] of Object.entries(rates.samples_per_s || {})) {
    const spec = sensorKinds.get(kind);
    parts.push(`${spec ? labelInText(spec.label) : kind.replace(/_/g, " ")} ${perSecond}/s`);
  }
  for (const [kind, perSecond] of Object.entries(rates.frames_per_s || {})) {
    if (kind === "sensor_batch" || kind === "status") continue;
    parts.push(`${kind} ${perSecond} frames/s`);
  }
  return parts.join(" · ");
}

function batteryText(device) {
  if (device.battery === null || device.battery === undefined) return "";
  return `Battery ${device.battery}%${device.charging ? ", charging" : ""}`;
}

function statusBadge(device) {
  if (device.status === "revoked") return ["Revoked", "revoked"];
  if (device.status === "paired") return device.connected ? ["Connected", "online"] : ["Offline", "offline"];
  if (device.status === "waiting_to_pair") return ["Waiting to pair", "waiting"];
  return ["Found", "found"];
}

function deviceHead(device, bridgeKind = null) {
  const title = h("h3", { class: "device-name", text: device.id });
  const meta = h("p", { class: "device-meta" });
  const badge = h("span", { class: "badge" });
  const icon = !bridgeKind ? device.kind : bridgeKind.sends.includes("glucose") ? "cgm" : bridgeKind.sends.includes("heart_rate") ? "watch" : "phone";
  const head = h("div", { class: "device-head" }, h("span", { class: "device-kind" }, kindIcon(icon)), h("div", { class: "device-title" }, title, meta), badge);
  function update(row) {
    let [label, tone] = statusBadge(row);
    if (bridgeKind) {
      const facts = bridgeFacts(row, bridgeKind);
      title.textContent = facts.title;
      meta.textContent = facts.meta;
      [label, tone] = facts.badge;
    } else {
      meta.textContent = [KIND_NAMES[row.kind] || row.kind, row.model].filter(Boolean).join(" · ");
    }
    badge.textContent = label;
    badge.className = `badge badge-${tone}`;
  }
  return { head, update };
}

/** A device waiting to pair (or only found on the network), with the pairing form. */
function waitingCard(device, onPaired) {
  const { head, update } = deviceHead(device);
  const code = h("input", {
    class: "code-input",
    name: "code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: 6,
    placeholder: "6 digits",
    "aria-label": `Pairing code shown on ${device.id}`,
  });
  const error = h("p", { class: "form-error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary", text: "Pair" });
  const form = h(
    "form",
    { class: "pair-form", "aria-label": `Pair ${device.id}` },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Code shown on the device" }), h("div", { class: "pair-row" }, code, button)),
    error,
  );
  const note = h("p", { class: "muted device-note" });
  const el = h("article", { class: "card device-card", "data-id": device.id }, head, form, note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = code.value.replace(/\s+/g, "");
    if (!/^\d{6}$/.test(value)) {
      error.textContent = "Enter the 6-digit code the device shows.";
      return;
    }
    button.disabled = true;
    error.textContent = "";
    try {
      await api("POST", `/v1/devices/${encodeURIComponent(device.id)}/pair`, { code: value });
      await onPaired(device.id);
    } catch (failure) {
      error.textContent = failure.message;
      code.select();
    } finally {
      button.disabled = false;
    }
  });
  function refresh(row) {
    update(row);
    const waiting = row.status === "waiting_to_pair";
    form.hidden = !waiting;
    note.textContent = waiting
      ? `Asked to pair ${relativeTime(row.last_seen)}.`
      : "Found on the network but not asking to pair: start pairing on the device to see its code.";
  }
  refresh(device);
  return { el, refresh };
}

/** A paired (or revoked) device or bridge: status, facts, charts and the revoke button. */
function pairedCard(device, sensorKinds, bridgeKind, onRevoked) {
  const { head, update } = deviceHead(device, bridgeKind);
  const facts = h("p", { class: "device-facts" });
  const charts = [...sensorKinds.values()]
    .filter((spec) => spec.charted && (device.capabilities || []).includes(spec.name))
    .map((spec) => liveChart(device.id, spec));
  const revoke = h("button", { type: "button", class: "ghost revoke-btn", text: "Revoke" });
  const error = h("p", { class: "form-error", role: "alert" });
  const actions = h("div", { class: "device-actions" }, error, revoke);
  const chartBox = h("div", { class: "device-charts" }, charts.map((chart) => chart.el));
  const el = h("article", { class: `card device-card${bridgeKind ? " bridge" : ""}`, "data-id": device.id }, head, facts, chartBox, actions);
  revoke.addEventListener("click", async () => {
    const question = bridgeKind
      ? `Revoke ${device.model || device.id}? Its secret stops working at once; add a new bridge to connect the app again.`
      : `Revoke ${device.id}? It is cut off at once and has to be paired again to send anything.`;
    const sure = await confirmDialog(question, "Revoke");
    if (!sure) return;
    revoke.disabled = true;
    error.textContent = "";
    try {
      await api("POST", `/v1/devices/${encodeURIComponent(device.id)}/revoke`);
      await onRevoked(device.id);
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      revoke.disabled = false;
    }
  });
  let row = device;
  function refresh(next) {
    row = next;
    update(row);
    const parts = bridgeKind
      ? [row.last_seen ? `Last sent ${relativeTime(row.last_seen)}` : "Nothing sent yet"]
      : [row.last_seen ? `Last seen ${relativeTime(row.last_seen)}` : "Never seen", batteryText(row), rateText(row.rates, sensorKinds)];
    facts.textContent = parts.filter(Boolean).join(" · ");
    const revoked = row.status === "revoked";
    revoke.hidden = revoked;
    chartBox.hidden = revoked || !charts.length;
  }
  refresh(device);
  return {
    el,
    refresh,
    refreshCharts: (range) => (row.status === "revoked" ? [] : charts.map((chart) => chart.refresh(range))),
  };
}

function section(id, title) {
  const list = h("div", { class: "device-list" });
  const el = h("section", { class: "device-section", "aria-labelledby": `${id}-title`, hidden: true }, h("h2", { id: `${id}-title`, text: title }), list);
  return { el, list };
}

async function mount(ctx) {
  let range = RANGES.find((candidate) => candidate.id === DEFAULT_RANGE);
  const cards = new Map(); // id -> { kind: "waiting" | "paired", card }
  let sensorKinds = null; // name -> entry of GET /v1/devices/kinds, read by the first poll
  let bridgeKinds = new Map(); // name -> entry of GET /v1/bridges/kinds, read by the first poll
  const bridgeSlot = h("div", { class: "bridge-slot" });
  const importSlot = h("div", { class: "import-slot" });

  const rangeButtons = RANGES.map((candidate) =>
    h("button", {
      type: "button",
      class: "range-btn",
      "data-range": candidate.id,
      "aria-pressed": String(candidate === range),
      text: candidate.label,
      onclick: () => pickRange(candidate),
    }),
  );
  const rangeBar = h("div", { class: "range-bar", role: "group", "aria-label": "Chart range", hidden: true }, h("span", { class: "range-label", text: "Charts show the last" }), rangeButtons);
  const waiting = section("waiting", "Waiting to pair");
  const paired = section("paired", "Paired");
  const bridged = section("bridges", "Bridges");
  const empty = h(
    "div",
    { class: "devices-empty", hidden: true },
    kindIcon("watch"),
    h("p", { text: "No devices yet. Start pairing on a wearable on the same network (or run a simulator: python -m devices.sim watch) and it shows up here with its code, or add a bridge above for an app such as xDrip+." }),
  );
  const failure = h("p", { class: "msg-error", role: "alert" });
  const live = livePoll(pollOnce, failure);

  ctx.main.append(
    h(
      "div",
      { class: "page-scroll devices-page" },
      h(
        "header",
        { class: "topbar" },
        iconButton("menu", "Open menu", ctx.openDrawer, { className: "menu-btn" }),
        h("div", { class: "title-wrap" }, h("h1", { class: "chat-title", text: "Devices" })),
        h("div", { class: "topbar-actions" }, live.pill),
      ),
      h(
        "div",
        { class: "devices" },
        bridgeSlot,
        importSlot,
        rangeBar,
        failure,
        waiting.el,
        paired.el,
        bridged.el,
        empty,
      ),
    ),
  );

  function pickRange(next) {
    range = next;
    for (const button of rangeButtons) button.setAttribute("aria-pressed", String(button.dataset.range === next.id));
    live.poll();
  }

  function place(device, after) {
    const kind = device.status === "paired" || device.status === "revoked" ? "paired" : "waiting";
    let entry = cards.get(device.id);
    if (entry && entry.kind !== kind) {
      entry.card.el.remove();
      entry = null;
    }
    if (!entry) {
      const bridgeKind = bridgeKinds.get(device.kind) || null;
      const card = kind === "paired" ? pairedCard(device, sensorKinds, bridgeKind, () => live.poll()) : waitingCard(device, () => live.poll());
      entry = { kind, card };
      cards.set(device.id, entry);
    }
    entry.card.refresh(device);
    // Keep the hub's order, moving a card only when it is out of place: moving it takes the
    // focus out of its code box while the person types the code.
    const list = (kind === "waiting" ? waiting : bridgeKinds.has(device.kind) ? bridged : paired).list;
    const next = after.get(list) ? after.get(list).nextElementSibling : list.firstElementChild;
    if (next !== entry.card.el) list.insertBefore(entry.card.el, next);
    after.set(list, entry.card.el);
  }

  function showDevices(devices) {
    const seen = new Set(devices.map((device) => device.id));
    for (const [id, entry] of cards) {
      if (!seen.has(id)) {
        entry.card.el.remove();
        cards.delete(id);
      }
    }
    const ordered = [...devices].sort((a, b) => (a.status === "revoked") - (b.status === "revoked"));
    const after = new Map(); // list -> the card placed last in it
    for (const device of ordered) place(device, after);
    waiting.el.hidden = !waiting.list.children.length;
    paired.el.hidden = !paired.list.children.length;
    bridged.el.hidden = !bridged.list.children.length;
    rangeBar.hidden = !paired.list.querySelector(".chart") && !bridged.list.querySelector(".chart");
    empty.hidden = devices.length > 0;
  }

  async function pollOnce() {
    if (!sensorKinds) {
      // Once per page; a failure is shown like any failed poll and the next poll tries again.
      const [kinds, bridges] = await Promise.all([api("GET", "/v1/devices/kinds"), api("GET", "/v1/bridges/kinds")]);
      sensorKinds = new Map(kinds.data.map((spec) => [spec.name, spec]));
      bridgeKinds = new Map(bridges.data.map((entry) => [entry.name, entry]));
      bridgeSlot.replaceChildren(bridgeForm(bridges.data, () => live.poll()).el);
      importSlot.replaceChildren(importForm(bridges.data, () => live.poll()).el);
    }
    const listed = await api("GET", "/v1/devices");
    if (live.stopped()) return;
    showDevices(listed.data);
    const loads = [];
    for (const entry of cards.values()) {
      if (entry.kind === "paired") loads.push(...entry.card.refreshCharts(range));
    }
    await Promise.all(loads);
  }

  await live.poll();
  return {
    unmount: () => {
      live.stop();
    },
  };
}

export const devicesPage = { id: "devices", label: "Devices", icon: "devices", mount };
