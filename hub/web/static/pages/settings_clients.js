// Settings › Client programs: credentials for Home Assistant, Open WebUI and other programs,
// each limited to scopes; the credential is shown once, when it is made.

import { api } from "../api.js";
import { copyText, h } from "../dom.js";
import { confirmDialog } from "../dialog.js";

function when(iso) {
  return iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "never";
}

function copyRow(label, value) {
  const button = h("button", { type: "button", class: "ghost", text: "Copy" });
  button.addEventListener("click", async () => {
    await copyText(value);
    button.textContent = "Copied";
  });
  return h("div", { class: "client-secret-row" }, h("span", { class: "field-label", text: label }), h("code", { class: "client-secret", text: value }), button);
}

function shownOnce(made) {
  const url = `${window.location.origin}${made.url_prefix}`;
  return h(
    "div",
    { class: "client-made", role: "status" },
    h("p", { text: `${made.name} may: ${made.scopes.join(", ")}. Copy its credential now: it is not shown again.` }),
    copyRow("URL (Home Assistant, Open WebUI)", url),
    copyRow("Header", made.header),
  );
}

function clientRow(client, onRevoke) {
  const revoke = h("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke ${client.name}` });
  revoke.addEventListener("click", () => onRevoke(client, revoke));
  return h(
    "li",
    { class: "client-row" },
    h(
      "div",
      { class: "client-text" },
      h("span", { class: "model-name", text: client.name }),
      h("span", { class: "model-details", text: `${client.scopes.join(", ")} · made ${when(client.created_at)} · last seen ${when(client.last_seen_at)}` }),
    ),
    revoke,
  );
}

/** Draw the list of clients and the form that adds one into `section`. */
export async function drawClients(section) {
  const list = h("ul", { class: "client-list", "aria-label": "Client programs" });
  const status = h("p", { class: "status", role: "status" });
  const made = h("div");
  const name = h("input", { id: "client-name", maxlength: 64, required: true, placeholder: "home-assistant", autocomplete: "off" });
  const scopeBoxes = h("fieldset", { class: "client-scopes" }, h("legend", { class: "field-label", text: "May" }));
  const add = h("button", { type: "submit", class: "primary", text: "Add" });
  const form = h(
    "form",
    { class: "settings-form" },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Program name" }), name),
    scopeBoxes,
    h("div", { class: "form-row" }, add),
  );
  section.append(list, form, made, status);

  async function refresh() {
    const clients = (await api("GET", "/v1/clients")).data;
    list.replaceChildren(...clients.map((client) => clientRow(client, revoke)));
    if (!clients.length) list.append(h("li", { class: "muted", text: "No client programs yet." }));
  }

  async function revoke(client, button) {
    if (!(await confirmDialog(`Revoke ${client.name}? It stops working at once.`, "Revoke"))) return;
    button.disabled = true;
    try {
      await api("DELETE", `/v1/clients/${encodeURIComponent(client.name)}`);
      status.textContent = `Revoked ${client.name}.`;
      made.replaceChildren();
      await refresh();
    } catch (error) {
      status.textContent = error.message;
      button.disabled = false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scopes = [...scopeBoxes.querySelectorAll("input:checked")].map((box) => box.value);
    add.disabled = true;
    status.textContent = "";
    try {
      const client = await api("POST", "/v1/clients", { name: name.value.trim(), scopes });
      made.replaceChildren(shownOnce(client));
      name.value = "";
      await refresh();
    } catch (error) {
      status.textContent = error.message;
    } finally {
      add.disabled = false;
    }
  });

  try {
    const scopes = (await api("GET", "/v1/clients/scopes")).data;
    for (const scope of scopes) {
      const box = h("input", { type: "checkbox", value: scope.name, checked: scope.name === "chat" });
      scopeBoxes.append(h("label", { class: "client-scope" }, box, h("code", { text: scope.name }), h("span", { class: "muted", text: ` ${scope.description}` })));
    }
    await refresh();
  } catch (error) {
    status.textContent = error.message;
  }
}
