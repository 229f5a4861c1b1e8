// Keeping a page live: poll the hub every few seconds while the page is open (less often while
// the tab is hidden), one poll at a time (a newer one, after a button press, supersedes one in
// flight), shown in a "Live · updated …" pill; a failed poll says why in the page's error line.

import { h } from "./dom.js";

const POLL_MS = 3000;
const HIDDEN_SLOWDOWN = 5;

export function livePoll(pollOnce, failure) {
  let timer = null;
  let stopped = false;
  let run = 0;
  // Only "Live" / "Reconnecting…" is announced; the ticking time is for the eye.
  const text = h("span", { class: "live-text", role: "status", text: "Connecting…" });
  const time = h("span", { class: "live-time", "aria-hidden": "true" });
  const pill = h("span", { class: "live" }, h("span", { class: "live-dot" }), text, time);

  function show(ok, words, when = "") {
    pill.classList.toggle("live-off", !ok);
    text.textContent = words;
    time.textContent = when;
  }

  async function poll() {
    const mine = ++run;
    clearTimeout(timer);
    try {
      await pollOnce();
      if (mine !== run) return;
      failure.textContent = "";
      show(true, "Live", `updated ${new Date().toLocaleTimeString([], { hour: "numeric", minute: "2-digit", second: "2-digit" })}`);
    } catch (error) {
      if (mine !== run) return;
      show(false, "Reconnecting…");
      failure.textContent = `The hub did not answer: ${error.message}`;
    } finally {
      if (mine === run && !stopped) timer = setTimeout(poll, document.hidden ? POLL_MS * HIDDEN_SLOWDOWN : POLL_MS);
    }
  }

  return {
    pill,
    poll,
    stopped: () => stopped,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
