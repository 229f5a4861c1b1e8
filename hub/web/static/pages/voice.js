// The Voice page: how voice is set up and what it has heard, Home Assistant satellites (approve,
// revoke, add by address), "Say…" in the hub's voice, and the latest transcripts. Polled every few
// seconds while the page is open.

import { api, apiBlob } from "../api.js";
import { h, iconButton, relativeTime } from "../dom.js";
import { livePoll } from "../live_poll.js";
import { satellitesSection } from "./voice_satellites.js";

const TRANSCRIPTS_SHOWN = 20;
const MAX_SAY_CHARS = 4000;

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** A hub message as a sentence: capital first letter, full stop at the end. */
function sentence(message) {
  const text = String(message || "").trim();
  if (!text) return "";
  return text[0].toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

function seconds(value) {
  if (value < 60) return `${value.toFixed(value < 10 ? 1 : 0)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

/** The status card: a list of facts in words. */
function statusCard() {
  const facts = h("dl", { class: "voice-facts" });
  const counts = h("p", { class: "voice-counts" });
  const el = h("section", { class: "card voice-status", "aria-labelledby": "voice-status-title" }, h("h2", { id: "voice-status-title", text: "Voice on this hub" }), facts, counts);

  function show(status) {
    const setup = status.setup || {};
    const rows = [
      ["Wake phrase", `“${status.wake_phrase}”, then the question`],
      ["Speech recognition", setup.speech_model || "Whisper"],
      ["Spoken answers", setup.voice ? `eSpeak NG voice ${setup.voice}, ${setup.words_per_minute} words a minute` : "eSpeak NG"],
      ["An utterance ends after", setup.end_silence !== undefined ? `${setup.end_silence} s of quiet` : null],
      ["Satellites on the network", setup.finding_satellites === undefined ? null : setup.finding_satellites ? "Looking for them" : "Not looking (add them by address)"],
      ["Speech service for Home Assistant", setup.wyoming_server === undefined ? null : setup.wyoming_server ? `On at ${setup.wyoming_server}` : "Off"],
      ["Text seen by glasses", setup.reading_text === undefined ? null : setup.reading_text ? "Read and remembered" : "Not read"],
    ].filter(([, value]) => value);
    facts.replaceChildren(...rows.flatMap(([term, value]) => [h("dt", { text: term }), h("dd", { text: value })]));
    const audio = status.audio || {};
    const parts = [
      `${seconds(audio.seconds_heard || 0)} of audio heard`,
      plural(audio.utterances || 0, "utterance"),
      plural(audio.transcripts || 0, "transcript"),
      plural(audio.requests || 0, "request"),
      plural(status.replies || 0, "spoken answer"),
    ];
    if (audio.dropped_frames) parts.push(`${plural(audio.dropped_frames, "audio frame")} dropped (the hub was busy)`);
    if (audio.failures) parts.push(plural(audio.failures, "failure"));
    counts.textContent = `Since the hub started: ${parts.join(" · ")}.`;
  }
  return { el, show };
}

/** "Say…": the hub speaks typed text; the answer plays in an <audio> element. */
function sayCard() {
  const input = h("textarea", { id: "voice-say", rows: 1, maxlength: MAX_SAY_CHARS, placeholder: "Say…", "aria-describedby": "voice-say-error" });
  const button = h("button", { type: "submit", class: "primary", text: "Say" });
  const error = h("p", { class: "form-error", id: "voice-say-error", role: "alert" });
  const state = h("p", { class: "muted voice-say-state", role: "status" });
  const audio = h("audio", { controls: true, class: "voice-audio", hidden: true, "aria-label": "The hub's voice" });
  const form = h(
    "form",
    { class: "card voice-say", "aria-labelledby": "voice-say-title" },
    h("h2", { id: "voice-say-title", text: "Hear the hub's voice" }),
    h("label", { class: "field", for: "voice-say" }, h("span", { class: "field-label", text: "Text to say (the voice of spoken answers)" })),
    h("div", { class: "voice-say-row" }, input, button),
    error,
    state,
    audio,
  );
  let url = null;
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) {
      error.textContent = "Type something for the hub to say.";
      input.focus();
      return;
    }
    button.disabled = true;
    error.textContent = "";
    state.textContent = "Speaking…";
    try {
      const wav = await apiBlob("POST", "/v1/voice/speech", { text });
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(wav);
      audio.src = url;
      audio.hidden = false;
      state.textContent = "Ready: playing it now.";
      audio.play().catch(() => {
        state.textContent = "Ready: press play to hear it.";
      });
    } catch (failure) {
      state.textContent = "";
      error.textContent = failure.message;
    } finally {
      button.disabled = false;
    }
  });
  return {
    el: form,
    release: () => url && URL.revokeObjectURL(url),
    disable: (off) => {
      form.hidden = off;
    },
  };
}

function transcriptItem(memory) {
  const meta = memory.metadata || {};
  const when = h("time", { datetime: memory.happened_at });
  const device = meta.device_id || memory.source || "unknown device";
  const via = meta.via === "wyoming" ? "satellite" : null;
  const el = h(
    "li",
    { class: "transcript", "data-id": memory.id },
    h("div", { class: "transcript-meta" }, h("span", { class: "transcript-device", text: device }), via && h("span", { class: "transcript-tag", text: via }), meta.request && h("span", { class: "transcript-tag", text: "asked the assistant" }), when),
    h("p", { class: "transcript-text", text: memory.text }),
  );
  function refresh() {
    const at = Date.parse(memory.happened_at);
    when.textContent = Number.isNaN(at) ? "" : relativeTime(at / 1000);
    when.title = Number.isNaN(at) ? "" : new Date(at).toLocaleString();
  }
  refresh();
  return { el, refresh };
}

/** The latest transcripts, newest first; new ones are added on top (announced politely). */
function transcriptsSection() {
  const items = new Map();
  const list = h("ol", { class: "transcripts", role: "log", "aria-live": "polite", "aria-label": "Latest transcripts" });
  const empty = h("p", { class: "muted", text: "Nothing heard yet. What earbuds and approved satellites hear shows up here as it is transcribed." });
  const failure = h("p", { class: "form-error", role: "alert" });
  const off = h("p", { class: "notice", role: "status", hidden: true });
  const card = h("div", { class: "card transcripts-card" }, list, empty);
  const total = h("span", { class: "section-count" });
  const el = h(
    "section",
    { class: "voice-section", "aria-labelledby": "voice-transcripts-title" },
    h("h2", { id: "voice-transcripts-title" }, "Latest transcripts", total),
    failure,
    off,
    card,
  );

  function show(page) {
    failure.textContent = "";
    off.hidden = true;
    card.hidden = false;
    const keep = new Set(page.data.map((memory) => memory.id));
    for (const [id, item] of items) {
      if (!keep.has(id)) {
        item.el.remove();
        items.delete(id);
      }
    }
    let previous = null;
    for (const memory of page.data) {
      let item = items.get(memory.id);
      if (!item) {
        item = transcriptItem(memory);
        items.set(memory.id, item);
      }
      item.refresh();
      if (previous ? previous.el.nextSibling !== item.el : list.firstChild !== item.el) {
        if (previous) previous.el.after(item.el);
        else list.prepend(item.el);
      }
      previous = item;
    }
    empty.hidden = page.data.length > 0;
    total.textContent = page.total > page.data.length ? ` (${page.data.length} of ${page.total})` : "";
  }

  function fail(reason) {
    // Memory turned off is how the hub is set up, not a failure: said as a notice.
    const memoryOff = reason.code === "memory_disabled";
    off.textContent = memoryOff ? `${sentence(reason.message)} Transcripts are kept only in memory.` : "";
    off.hidden = !memoryOff;
    card.hidden = memoryOff;
    failure.textContent = memoryOff ? "" : sentence(reason.message);
  }
  return { el, show, fail };
}

async function mount(ctx) {
  const off = h("p", { class: "notice voice-off", role: "status", hidden: true });
  const failure = h("p", { class: "msg-error", role: "alert" });
  const live = livePoll(pollOnce, failure);
  const status = statusCard();
  const say = sayCard();
  const satellites = satellitesSection(() => live.poll());
  const transcripts = transcriptsSection();

  ctx.main.append(
    h(
      "div",
      { class: "page-scroll devices-page voice-page" },
      h(
        "header",
        { class: "topbar" },
        iconButton("menu", "Open menu", ctx.openDrawer, { className: "menu-btn" }),
        h("div", { class: "title-wrap" }, h("h1", { class: "chat-title", text: "Voice" })),
        h("div", { class: "topbar-actions" }, live.pill),
      ),
      h("div", { class: "voice" }, failure, off, status.el, satellites.el, say.el, transcripts.el),
    ),
  );

  function showVoiceOff(message) {
    off.textContent = message;
    off.hidden = false;
    status.el.hidden = true;
    say.disable(true);
    satellites.disable("Satellites need voice, which is off on this hub.");
  }

  async function pollOnce() {
    const [voice, sats, heard] = await Promise.allSettled([
      api("GET", "/v1/voice/status"),
      api("GET", "/v1/voice/satellites"),
      api("GET", `/v1/memory?kind=transcript&limit=${TRANSCRIPTS_SHOWN}`),
    ]);
    if (live.stopped()) return;
    const voiceOff = voice.status === "rejected" && voice.reason.code === "voice_unavailable";
    if (voiceOff) showVoiceOff(sentence(voice.reason.message));
    else if (voice.status === "fulfilled") {
      off.hidden = true;
      status.el.hidden = false;
      say.disable(false);
      status.show(voice.value);
    }
    if (sats.status === "fulfilled") satellites.show(sats.value.data);
    if (heard.status === "fulfilled") transcripts.show(heard.value);
    else transcripts.fail(heard.reason);
    // A hub that answers at all is live; voice or memory being off is said in their sections.
    const down = [voice, sats].find((result) => result.status === "rejected" && !["voice_unavailable"].includes(result.reason.code));
    if (down) throw down.reason;
  }

  await live.poll();
  return {
    unmount: () => {
      live.stop();
      say.release();
    },
  };
}

export const voicePage = { id: "voice", label: "Voice", icon: "voice", mount };
