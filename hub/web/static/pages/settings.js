// Settings: which model answers, the persona, how answers are generated, and client programs.

import { api } from "../api.js";
import { h, iconButton } from "../dom.js";
import { drawClients } from "./settings_clients.js";
import { drawPull } from "./settings_pull.js";

function formatSize(bytes) {
  if (!bytes) return null;
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

function modelDetails(model) {
  return [model.architecture, formatSize(model.size_bytes), model.quantization, model.context_length ? `${model.context_length} ctx` : null]
    .filter(Boolean)
    .join(" · ");
}

async function drawModels(section) {
  const status = h("p", { class: "status", role: "status" });
  const list = h("div", { class: "model-list", role: "radiogroup", "aria-label": "Active model" });
  section.append(list, status);
  drawPull(section, () => drawModelList(list, status));
  await drawModelList(list, status);
}

async function drawModelList(list, status) {
  list.replaceChildren();
  let models;
  let active;
  try {
    [models, active] = await Promise.all([api("GET", "/v1/models").then((list) => list.data), api("GET", "/v1/models/active")]);
  } catch (error) {
    status.textContent = error.message;
    return;
  }
  // The chosen model failed to load: say which answers instead, and why.
  if (active.status === "fallback") status.textContent = `${active.model} answers because ${active.chosen} could not be loaded: ${active.reason}`;
  if (active.status === "unavailable") status.textContent = `No model answers: ${active.reason}`;
  for (const model of models) {
    const radio = h("input", { type: "radio", name: "model", value: model.id, checked: model.active, disabled: Boolean(model.error) });
    radio.addEventListener("change", async () => {
      status.textContent = `Switching to ${model.id}…`;
      for (const other of list.querySelectorAll("input")) other.disabled = true;
      try {
        const active = await api("PUT", "/v1/models/active", { model: model.id });
        status.textContent = `${active.model} now answers.`;
      } catch (error) {
        status.textContent = error.message;
        list.querySelector("input[checked]")?.click();
      } finally {
        for (const other of list.querySelectorAll("input")) other.disabled = false;
      }
    });
    list.append(
      h(
        "label",
        { class: "model-option" },
        radio,
        h(
          "span",
          { class: "model-text" },
          h("span", { class: "model-name", text: model.id }),
          h("span", { class: "model-details", text: model.error || modelDetails(model) }),
          model.description ? h("span", { class: "model-description", text: model.description }) : null,
        ),
      ),
    );
  }
}

async function drawPreferences(section) {
  const persona = h("textarea", { id: "system-prompt", rows: 5, maxlength: 8000, placeholder: "For example: You are a calm, concise assistant. I live in Lisbon and prefer metric units." });
  const temperature = h("input", { id: "temperature", type: "range", min: 0, max: 2, step: 0.05 });
  const temperatureValue = h("output", { for: "temperature", class: "range-value" });
  const maxTokens = h("input", { id: "max-tokens", type: "number", min: 1, max: 32768, step: 1, placeholder: "Hub default", inputmode: "numeric" });
  const status = h("p", { class: "status", role: "status" });
  const save = h("button", { type: "submit", class: "primary", text: "Save" });
  temperature.addEventListener("input", () => {
    temperatureValue.textContent = Number(temperature.value).toFixed(2);
  });
  const form = h(
    "form",
    { class: "settings-form" },
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Persona (system prompt)" }), persona),
    h("p", { class: "hint", text: "Sent before every conversation. Leave empty for the model's own manner." }),
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Temperature ", temperatureValue), temperature),
    h("p", { class: "hint", text: "0 always picks the likeliest word; higher is more varied." }),
    h("label", { class: "field" }, h("span", { class: "field-label", text: "Longest answer (tokens)" }), maxTokens),
    h("div", { class: "form-row" }, save, status),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    status.textContent = "Saving…";
    try {
      await api("PUT", "/v1/preferences", {
        system_prompt: persona.value,
        temperature: Number(temperature.value),
        max_tokens: maxTokens.value ? Number(maxTokens.value) : null,
      });
      status.textContent = "Saved. New answers use these settings.";
    } catch (error) {
      status.textContent = error.message;
    } finally {
      save.disabled = false;
    }
  });
  section.append(form);
  try {
    const saved = await api("GET", "/v1/preferences");
    persona.value = saved.system_prompt;
    temperature.value = saved.temperature;
    temperatureValue.textContent = Number(saved.temperature).toFixed(2);
    maxTokens.value = saved.max_tokens ?? "";
  } catch (error) {
    status.textContent = error.message;
  }
}

async function mount(ctx) {
  const models = h("section", { class: "card settings-card", "aria-labelledby": "models-title" }, h("h2", { id: "models-title", text: "Model" }), h("p", { class: "muted", text: "The model that answers. Switching takes effect between answers." }));
  const preferences = h("section", { class: "card settings-card", "aria-labelledby": "answers-title" }, h("h2", { id: "answers-title", text: "Answers" }));
  const access = h(
    "section",
    { class: "card settings-card" },
    h("h2", { text: "Access" }),
    h("p", { class: "muted" }, "Programs use the API with the owner's bearer token: run ", h("code", { text: "hub token" }), " on the hub."),
  );
  const clients = h(
    "section",
    { class: "card settings-card", "aria-labelledby": "clients-title" },
    h("h2", { id: "clients-title", text: "Client programs" }),
    h("p", { class: "muted", text: "Give Home Assistant, Open WebUI or another program its own credential, limited to what it may do, instead of the owner's token." }),
  );
  ctx.main.append(
    h(
      "div",
      { class: "page-scroll" },
      h("header", { class: "topbar" }, iconButton("menu", "Open menu", ctx.openDrawer, { className: "menu-btn" }), h("div", { class: "title-wrap" }, h("h1", { class: "chat-title", text: "Settings" }))),
      h("div", { class: "settings" }, models, preferences, access, clients),
    ),
  );
  await Promise.all([drawModels(models), drawPreferences(preferences), drawClients(clients)]);
}

export const settingsPage = { id: "settings", label: "Settings", icon: "settings", mount };
