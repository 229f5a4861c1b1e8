// Start the web UI: sign in if needed, then draw the shell and the page the address names.

import { api } from "./api.js";
import { h, icon, iconButton } from "./dom.js";
import { PAGES, parseRoute } from "./pages.js";
import { showSignIn } from "./sign_in.js";

const root = document.getElementById("app");

function readSetupToken() {
  const params = new URLSearchParams(window.location.search);
  const token = params.get("setup");
  if (token !== null) {
    // Keep the one-time token out of the history and any later address bar copy.
    window.history.replaceState(null, "", window.location.pathname + window.location.hash);
  }
  return token;
}

function buildShell() {
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Pages" },
    PAGES.map((page) =>
      h("a", { href: `#/${page.id}`, class: "nav-link", "data-page": page.id }, icon(page.icon), h("span", { text: page.label })),
    ),
  );
  const sidebarSlot = h("div", { class: "sidebar-slot" });
  const signOut = iconButton("signout", "Sign out", async () => {
    await api("DELETE", "/v1/session").catch(() => {});
    window.location.reload();
  }, { showLabel: true, className: "sign-out" });
  const sidebar = h(
    "aside",
    { class: "sidebar", id: "sidebar" },
    h("div", { class: "brand" }, h("img", { src: "/static/icon.svg", alt: "", class: "brand-mark" }), h("span", { text: "Walking NAS" })),
    nav,
    sidebarSlot,
    h("div", { class: "sidebar-foot" }, signOut),
  );
  const scrim = h("div", { class: "scrim", onclick: () => document.body.classList.remove("drawer-open") });
  const main = h("main", { class: "main", id: "main" });
  root.replaceChildren(h("div", { class: "shell" }, sidebar, scrim, main));
  return { nav, sidebarSlot, main };
}

async function startApp() {
  const shell = buildShell();
  let cleanup = null;
  const ctx = {
    main: shell.main,
    sidebar: shell.sidebarSlot,
    openDrawer: () => document.body.classList.add("drawer-open"),
    closeDrawer: () => document.body.classList.remove("drawer-open"),
    navigate: (hash) => {
      if (window.location.hash === hash) route();
      else window.location.hash = hash;
    },
  };
  async function route() {
    const { page, params } = parseRoute(window.location.hash);
    for (const link of shell.nav.querySelectorAll(".nav-link")) {
      link.toggleAttribute("aria-current", link.dataset.page === page.id);
      if (link.dataset.page === page.id) link.setAttribute("aria-current", "page");
    }
    if (cleanup && cleanup.page === page && cleanup.update) {
      cleanup.update(params);
      return;
    }
    if (cleanup && cleanup.unmount) cleanup.unmount();
    shell.main.replaceChildren();
    shell.sidebarSlot.replaceChildren();
    ctx.closeDrawer();
    cleanup = { page, ...((await page.mount(ctx, params)) || {}) };
  }
  window.addEventListener("hashchange", route);
  await route();
}

async function boot() {
  const setupToken = readSetupToken();
  window.addEventListener("hub:signed-out", () => window.location.reload(), { once: true });
  let status;
  try {
    status = await api("GET", "/v1/session");
  } catch (error) {
    root.replaceChildren(h("p", { class: "fatal", text: `The hub did not answer: ${error.message}` }));
    return;
  }
  if (status.signed_in) {
    document.body.dataset.state = "signed-in";
    await startApp();
    return;
  }
  showSignIn(root, status, setupToken, () => window.location.reload());
}

boot();
