// Personalization: nightly LoRA runs, the held-out questions each adapter answers (with examples),
// its other metrics and loss curve, promote and roll back.

import { api } from "../api.js";
import { h, iconButton, relativeTime } from "../dom.js";

const POLL_MS = 2000;
const PHASES = {
  starting: "Starting",
  loading: "Loading the model",
  evaluating: "Scoring",
  answering: "Answering held-out questions",
  training: "Training",
  step: "Training",
  checkpoint: "Training",
  exporting: "Writing the adapter",
  done: "Finishing",
};
const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  return el;
}

/** A loss curve drawn as an SVG polyline (no chart library: the page's CSP allows none). */
export function lossCurve(losses, label) {
  const width = 320;
  const height = 90;
  const pad = 6;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "loss-curve", role: "img", "aria-label": label });
  if (!losses || losses.length < 2) {
    const text = svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "loss-empty" });
    text.textContent = losses && losses.length === 1 ? `loss ${losses[0].toFixed(3)}` : "no steps yet";
    chart.append(text);
    return chart;
  }
  const top = Math.max(...losses);
  const bottom = Math.min(...losses);
  const span = top - bottom || 1;
  const points = losses.map((loss, index) => {
    const x = pad + (index / (losses.length - 1)) * (width - 2 * pad);
    const y = pad + ((top - loss) / span) * (height - 2 * pad);
    return `${x.toFixed(1)},${y.toFixed(1)}`; // SVG y grows downwards: high loss is drawn high
  });
  chart.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "loss-axis" }));
  chart.append(svg("polyline", { points: points.join(" "), class: "loss-line", fill: "none" }));
  // The highest loss is labelled top right, clear of a falling curve's start.
  const first = svg("text", { x: width - pad, y: 12, "text-anchor": "end", class: "loss-label" });
  first.textContent = `max ${top.toFixed(2)}`;
  const last = svg("text", { x: width - pad, y: height - pad - 4, "text-anchor": "end", class: "loss-label" });
  last.textContent = losses[losses.length - 1].toFixed(3);
  chart.append(first, last);
  return chart;
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const whole = Math.max(0, Math.round(seconds));
  return whole >= 60 ? `${Math.floor(whole / 60)} min ${whole % 60} s` : `${whole} s`;
}

function metricRows(version) {
  const candidate = version.metrics.candidate || {};
  const current = version.metrics.current || {};
  const row = (label, key, digits) =>
    h("tr", {}, h("th", { scope: "row", text: label }), h("td", { text: current[key]?.toFixed(digits) ?? "–" }), h("td", { text: candidate[key]?.toFixed(digits) ?? "–" }));
  const answered = (scores) => (scores.questions === undefined || scores.questions === null ? "–" : `${scores.answered ?? 0} of ${scores.questions}`);
  return h(
    "table",
    { class: "adapter-metrics" },
    h("thead", {}, h("tr", {}, h("th", { text: "" }), h("th", { scope: "col", text: "before" }), h("th", { scope: "col", text: "this adapter" }))),
    h(
      "tbody",
      {},
      h("tr", {}, h("th", { scope: "row", text: "Held-out questions answered" }), h("td", { text: answered(current) }), h("td", { text: answered(candidate) })),
      row("Personal questions (loss)", "personal_loss", 3),
      row("General text (perplexity)", "general_perplexity", 2),
      row("General questions (loss)", "general_questions_loss", 3),
    ),
  );
}

/** The headline: how many held-out questions it answers against what was served before (records
 * made before answers were judged have no counts, and no headline). */
function answersLine(version) {
  const candidate = version.metrics.candidate || {};
  const current = version.metrics.current || {};
  if (candidate.questions === undefined || candidate.questions === null) return null;
  if (candidate.questions === 0) return h("p", { class: "adapter-answers", text: "No held-out questions to judge it by" });
  return h(
    "p",
    { class: "adapter-answers" },
    `Answers ${candidate.answered ?? 0} of ${plural(candidate.questions, "held-out question")}`,
    h("span", { class: "muted", text: ` (before: ${current.answered ?? "–"} of ${current.questions ?? candidate.questions})` }),
  );
}

/** A few questions whose verdict changed: answered now and missed before, and the reverse. */
function answerExamples(version) {
  const section = (title, examples, kind) =>
    examples && examples.length
      ? h(
          "section",
          { class: `adapter-examples ${kind}` },
          h("h4", { text: title }),
          h(
            "ul",
            {},
            examples.map((example) =>
              h(
                "li",
                {},
                h("span", { class: "example-question", text: example.question }),
                " → ",
                h("span", { class: "example-answer", text: example.answer || "(no answer)" }),
                h("span", { class: "muted example-expected", text: ` · expected: ${example.expected}` }),
              ),
            ),
          ),
        )
      : null;
  return [section("Now answers", version.metrics.now_answered, "gained"), section("Now misses", version.metrics.now_missed, "lost")];
}

function versionCard(version, onPromote) {
  const dataset = version.dataset || {};
  const training = version.training || {};
  const gate = version.passed_gate ? "passed the gate" : "rejected by the gate";
  return h(
    "article",
    { class: `card adapter-card${version.active ? " active" : ""}`, "data-version": version.id },
    h(
      "header",
      { class: "adapter-head" },
      h("h3", { text: version.id }),
      version.active ? h("span", { class: "adapter-badge", text: "active" }) : null,
      h("span", { class: `adapter-gate ${version.passed_gate ? "ok" : "no"}`, text: gate }),
      h("span", { class: "muted", text: `${version.model_name} · ${relativeTime(version.created_at)}` }),
    ),
    h(
      "p",
      { class: "muted adapter-summary" },
      `${plural(dataset.train_examples ?? 0, "example")} (${dataset.held_out_examples ?? 0} held out) · ${plural(training.steps ?? 0, "step")} · ` +
        `${training.tokens_per_second ?? "–"} tokens/s · ${duration(training.train_seconds)}` +
        (training.stopped_by_budget ? " · stopped at the time budget" : "") +
        (training.kept_step != null && training.kept_step < training.steps
          ? ` · the weights of step ${training.kept_step}: later steps drifted too far from general text`
          : ""),
    ),
    answersLine(version),
    answerExamples(version),
    lossCurve(version.losses, `Training loss of ${version.id}`),
    metricRows(version),
    h("ul", { class: "adapter-reasons" }, (version.decision?.reasons || []).map((reason) => h("li", { text: reason }))),
    version.active ? null : h("div", { class: "form-row" }, h("button", { type: "button", class: "ghost", text: "Promote", onclick: () => onPromote(version) })),
  );
}

async function mount(ctx) {
  const status = h("p", { class: "status", role: "status" });
  const progressBar = h("progress", { class: "run-progress", max: 1, value: 0 });
  const progressText = h("p", { class: "muted run-text", text: "" });
  const liveCurve = h("div", { class: "run-curve" });
  const train = h("button", { type: "button", class: "primary", text: "Train now" });
  const rollback = h("button", { type: "button", class: "ghost", text: "Roll back" });
  const runCard = h(
    "section",
    { class: "card settings-card", "aria-labelledby": "run-title" },
    h("h2", { id: "run-title", text: "Tonight's training" }),
    h("p", { class: "muted", text: "Every night, when the hub is idle, it teaches its model about you on your own data, and keeps the result only if it is better." }),
    progressBar,
    progressText,
    liveCurve,
    h("div", { class: "form-row" }, train, rollback, status),
  );
  const list = h("div", { class: "adapter-list" });
  const versionsCard = h("section", { class: "settings-card adapters-section", "aria-labelledby": "adapters-title" }, h("h2", { id: "adapters-title", text: "Adapters" }), list);
  ctx.main.append(
    h(
      "div",
      { class: "page-scroll" },
      h("header", { class: "topbar" }, iconButton("menu", "Open menu", ctx.openDrawer, { className: "menu-btn" }), h("div", { class: "title-wrap" }, h("h1", { class: "chat-title", text: "Personalization" }))),
      h("div", { class: "settings personalization" }, runCard, versionsCard),
    ),
  );

  let wasRunning = false;
  let timer = null;

  async function drawVersions() {
    const versions = (await api("GET", "/v1/personalization/adapters")).data;
    rollback.disabled = !versions.some((version) => version.active);
    list.replaceChildren(
      ...(versions.length
        ? versions.map((version) => versionCard(version, promote))
        : [h("p", { class: "muted", text: "No adapters yet. Train one now, or wait for tonight." })]),
    );
  }

  function drawRun(state) {
    const running = state.running;
    train.disabled = Boolean(running);
    if (running) {
      const total = running.total_steps || 0;
      progressBar.max = total || 1;
      progressBar.value = running.step || 0;
      progressBar.hidden = false;
      const phase = PHASES[running.phase] || running.phase;
      const steps = total ? ` · step ${running.step} of ${total}` : "";
      // While it answers the held-out questions, their count says how far it is (training's ETA does not).
      const done = running.questions
        ? ` · ${running.answered ?? 0} of ${running.questions}${total ? ` · after step ${running.step} of ${total}` : ""}`
        : `${steps} · about ${duration(running.eta_seconds)} left`;
      progressText.textContent = `${phase}${done}` + (running.resumed ? " · resumed" : "");
      liveCurve.replaceChildren(lossCurve(running.losses, "Training loss so far"));
    } else {
      progressBar.hidden = true;
      liveCurve.replaceChildren();
      const last = state.last_outcome || state.last_run;
      progressText.textContent = last ? `Last run: ${last.status}: ${last.message}` : `No run yet; the next one starts at ${state.schedule.time} when the hub is idle.`;
    }
    return Boolean(running);
  }

  async function poll() {
    try {
      const running = drawRun(await api("GET", "/v1/personalization"));
      if (wasRunning && !running) await drawVersions();
      wasRunning = running;
    } catch (error) {
      status.textContent = error.message;
    }
    timer = setTimeout(poll, POLL_MS);
  }

  async function act(message, work) {
    status.textContent = message;
    try {
      status.textContent = await work();
      await drawVersions();
    } catch (error) {
      status.textContent = error.message;
    }
  }

  async function promote(version) {
    await act(`Promoting ${version.id}…`, async () => {
      await api("POST", `/v1/personalization/adapters/${encodeURIComponent(version.id)}/promote`);
      return `${version.id} now answers.`;
    });
  }

  train.addEventListener("click", () =>
    act("Starting…", async () => {
      const state = await api("POST", "/v1/personalization/runs", { force: true });
      wasRunning = drawRun(state);
      return state.running ? "Training started." : state.last_outcome?.message || "";
    }),
  );
  rollback.addEventListener("click", () =>
    act("Rolling back…", async () => {
      const answer = await api("POST", "/v1/personalization/rollback");
      return answer.active ? `Back to ${answer.active}.` : "Back to the model without an adapter.";
    }),
  );

  try {
    await drawVersions();
  } catch (error) {
    status.textContent = error.message;
  }
  await poll();
  return { unmount: () => clearTimeout(timer) };
}

export const personalizationPage = { id: "personalization", label: "Personalization", icon: "personalization", mount };
