// Devices › Add a bridge: an app or device that cannot pair (a Nightscout uploader such as xDrip+,
// Health Auto Export, ...) gets a secret; the secret and what to enter in the app are shown once.
// Bridges are devices: they are then listed, charted and revoked with the others.

import { api } from "../api.js";
import { copyText, h } from "../dom.js";

// A setup line is "what: value" (the value is what the app takes, copied by the button) or,
// without ": ", advice.
function setupRow(line) {
  const cut = line.lastIndexOf(": ");
  if (cut < 0) return h("li", { class: "muted bridge-advice", text: line });
  const value = line.slice(cut + 2);
  const button = h("button", { type: "button", class: "ghost", text: "Copy", "aria-label": `Copy ${line.slice(0, cut)}` });
  button.addEventListener("click", async () => {
    await copyText(value);
    button.textContent = "Copied";
  });
  return h(
    "li",
    { class: "client-secret-row" },
    h("span", { class: "field-label", text: line.slice(0, cut) }),
    h("code", { class: "client-secret", text: value }),
    button,
  );
}

function shownOnce(made, label) {
  return h(
    "div",
    { class: "client-made bridge-made", role: "status" },
    h("p", { text: `${made.name} (${label}) is added. Enter these in the app now: the secret is not shown again.` }),
    h("ul", { class: "bridge-setup", "aria-label": "Setup" }, made.setup.map(setupRow)),
  );
}

/** The "Add a bridge" card; `allKinds` is GET /v1/bridges/kinds's list, `onAdded` re-polls.
 *  Only apps that upload are offered: an import makes its own bridge (`hub import`), and a
 *  Bluetooth device is added with its radio address (`hub bridges ble add`). */
export function bridgeForm(allKinds, onAdded) {
  const kinds = allKinds.filter((entry) => entry.arrives === "upload");
  const kind = h(
    "select",
    { id: "bridge-kind", name: "kind" },
    kinds.map((entry) => h("option", { value: entry.name, text: entry.label })),
  );
  const name = h("input", { id: "bridge-name", name: "name", maxlength: 64, placeholder: "xDrip phone", autocomplete: "off" });
  const add = h("button", { type: "submit", class: "primary", text: "Add bridge" });
  const error = h("p", { class: "form-error", role: "alert" });
  const made = h("div");
  const form = h(
    "form",
    { class: "bridge-form", "aria-label": "Add a bridge" },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "App or device" }), kind),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Name" }), name),
    h("div", { class: "form-row" }, add),
    error,
  );
  const el = h(
    "section",
    { class: "card bridge-card", "aria-labelledby": "bridge-add-title" },
    h("h2", { id: "bridge-add-title", text: "Add a bridge" }),
    h("p", { class: "muted device-note", text: "For apps that send to the hub themselves, such as xDrip+ or Juggluco (glucose) and Health Auto Export (iPhone). Exported files are imported below; Bluetooth straps are added on the hub with hub bridges ble add." }),
    form,
    made,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    add.disabled = true;
    error.textContent = "";
    try {
      const bridge = await api("POST", "/v1/bridges", { kind: kind.value, name: name.value.trim() });
      const label = allKinds.find((entry) => entry.name === bridge.kind)?.label || bridge.kind;
      made.replaceChildren(shownOnce(bridge, label));
      name.value = "";
      await onAdded(bridge.id);
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      add.disabled = false;
    }
  });
  return { el, forget: () => made.replaceChildren() };
}

/** How a bridge's card reads: its name first, its kind, when it last sent. */
export function bridgeFacts(device, kind) {
  const recent = device.last_seen && Date.now() / 1000 - device.last_seen < 30 * 60;
  return {
    title: device.model || device.id,
    meta: [kind ? kind.label : device.kind, device.id].join(" · "),
    badge: device.status === "revoked" ? ["Revoked", "revoked"] : recent ? ["Sending", "online"] : ["Bridge", "offline"],
  };
}
