// A modal question with Cancel and one confirming button, for steps that cannot be undone.

import { h } from "./dom.js";

/** Ask `question`; resolves true when the person presses `confirmLabel`, false otherwise. */
export function confirmDialog(question, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-label": question },
      h("p", { text: question }),
      h(
        "div",
        { class: "dialog-buttons" },
        h("button", { type: "button", class: "ghost", text: "Cancel", onclick: () => dialog.close("cancel") }),
        h("button", { type: "button", class: "danger", text: confirmLabel, onclick: () => dialog.close("ok") }),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
