// First-run passphrase and sign-in: a single card, with errors the person can act on.

import { api } from "./api.js";
import { h } from "./dom.js";

function field(label, input) {
  return h("label", { class: "field" }, h("span", { class: "field-label", text: label }), input);
}

function passphraseInput(id, autocomplete) {
  return h("input", { id, type: "password", autocomplete, required: true, minlength: 1, maxlength: 1024 });
}

/** Draw the sign-in (or choose-a-passphrase) card; call onSignedIn once a session exists. */
export function showSignIn(root, status, setupToken, onSignedIn) {
  const firstRun = !status.passphrase_set;
  const needsLink = firstRun && status.setup_needs_link && !setupToken;
  const error = h("p", { class: "form-error", role: "alert", id: "sign-in-error" });
  const passphrase = passphraseInput("passphrase", firstRun ? "new-password" : "current-password");
  const confirm = firstRun ? passphraseInput("passphrase-confirm", "new-password") : null;
  const submit = h("button", { type: "submit", class: "primary wide", text: firstRun ? "Set passphrase and start" : "Sign in" });

  async function onSubmit(event) {
    event.preventDefault();
    error.textContent = "";
    if (confirm && confirm.value !== passphrase.value) {
      error.textContent = "The two passphrases differ; type the same one twice.";
      confirm.focus();
      return;
    }
    submit.disabled = true;
    try {
      if (firstRun) {
        await api("POST", "/v1/session/passphrase", { passphrase: passphrase.value, setup_token: setupToken });
      } else {
        await api("POST", "/v1/session", { passphrase: passphrase.value });
      }
      onSignedIn();
    } catch (failure) {
      error.textContent = failure.message.charAt(0).toUpperCase() + failure.message.slice(1);
      passphrase.select();
    } finally {
      submit.disabled = false;
    }
  }

  const intro = firstRun
    ? "Choose a passphrase for this hub's web UI. You will use it to sign in from your phone or laptop."
    : "Enter your passphrase to chat with your hub.";
  const form = h(
    "form",
    { class: "sign-in-form", onsubmit: onSubmit },
    field(firstRun ? "New passphrase" : "Passphrase", passphrase),
    confirm ? field("Type it again", confirm) : null,
    firstRun ? h("p", { class: "hint", text: "At least 8 characters. A few unrelated words work well." }) : null,
    error,
    submit,
  );
  const blocked = h(
    "p",
    { class: "notice" },
    "To set the passphrase from another device, open the one-time setup link that ",
    h("code", { text: "hub serve" }),
    " printed in its terminal.",
  );
  root.replaceChildren(
    h(
      "div",
      { class: "sign-in" },
      h(
        "section",
        { class: "card sign-in-card", "aria-labelledby": "sign-in-title" },
        h("img", { src: "/static/icon.svg", alt: "", class: "sign-in-mark" }),
        h("h1", { id: "sign-in-title", text: firstRun ? "Welcome to your hub" : "Walking NAS" }),
        h("p", { class: "muted", text: intro }),
        needsLink ? blocked : form,
      ),
    ),
  );
  if (!needsLink) passphrase.focus();
}
