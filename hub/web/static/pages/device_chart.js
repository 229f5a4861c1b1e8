// A live line chart of one device's readings of one sensor kind (heart rate, glucose: those the
// hub's kind table marks as charted), drawn as SVG from /v1/devices/{id}/samples. It loads the
// chosen range once, then asks only for what is newer.

import { api } from "../api.js";
import { h } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 170;
const PAD = { left: 40, right: 12, top: 10, bottom: 24 };

/** The ranges a person can pick; short ones read raw samples, longer ones 1-minute rollups. */
export const RANGES = [
  { id: "10m", label: "10 min", seconds: 600, resolution: "raw" },
  { id: "1h", label: "1 hour", seconds: 3600, resolution: "1m" },
  { id: "6h", label: "6 hours", seconds: 6 * 3600, resolution: "1m" },
  { id: "24h", label: "24 hours", seconds: 86400, resolution: "1m" },
];

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}

/** A kind's label inside a sentence: "heart rate", but "SpO₂" keeps its capitals. */
export function labelInText(label) {
  const [first] = label.split(" ");
  return first.slice(1) === first.slice(1).toLowerCase() ? label[0].toLowerCase() + label.slice(1) : label;
}

function format(value) {
  return Math.round(value).toLocaleString();
}

/** The y axis: the kind's usual range widened to the data, on round steps (at most 5). */
function yAxis(spec, points) {
  let [low, high] = spec.chart_floor || [Infinity, -Infinity];
  for (const point of points) {
    low = Math.min(low, point.lo ?? point.v);
    high = Math.max(high, point.hi ?? point.v);
  }
  if (!(high > low)) [low, high] = [low - 1, high + 1]; // a kind without a floor, one value
  const step = [5, 10, 20, 25, 50, 100, 200].find((candidate) => (high - low) / candidate <= 5) || 500;
  return { low: Math.floor(low / step) * step, high: Math.ceil(high / step) * step, step };
}

/** Break the line where readings stop for a while (more than 3 of the usual gaps). */
function segments(points) {
  if (points.length < 2) return [points];
  const gaps = points.slice(1).map((point, i) => point.t - points[i].t).sort((a, b) => a - b);
  const usual = Math.max(gaps[Math.floor(gaps.length / 2)], 1);
  const out = [[points[0]]];
  for (let i = 1; i < points.length; i += 1) {
    if (points[i].t - points[i - 1].t > usual * 3 + 60) out.push([]);
    out[out.length - 1].push(points[i]);
  }
  return out;
}

function draw(chart, spec, points, range, end) {
  const width = Math.max(chart.clientWidth || 0, 280);
  const plot = { x0: PAD.left, x1: width - PAD.right, y0: PAD.top, y1: HEIGHT - PAD.bottom };
  const start = end - range.seconds;
  const { low, high, step } = yAxis(spec, points);
  const x = (t) => plot.x0 + ((t - start) / (end - start)) * (plot.x1 - plot.x0);
  const y = (v) => plot.y1 - ((v - low) / (high - low)) * (plot.y1 - plot.y0);
  const root = svg("svg", { viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, class: "chart-svg" });
  if (spec.target_band) {
    const [bandLow, bandHigh] = spec.target_band;
    root.append(svg("rect", { class: "chart-band", x: plot.x0, width: plot.x1 - plot.x0, y: y(bandHigh), height: y(bandLow) - y(bandHigh) }));
  }
  for (let value = low; value <= high; value += step) {
    root.append(svg("line", { class: "chart-grid", x1: plot.x0, x2: plot.x1, y1: y(value), y2: y(value) }));
    const label = svg("text", { class: "chart-axis", x: plot.x0 - 6, y: y(value) + 4, "text-anchor": "end" });
    label.textContent = format(value);
    root.append(label);
  }
  for (const [t, anchor] of [[start, "start"], [start + range.seconds / 2, "middle"], [end, "end"]]) {
    const label = svg("text", { class: "chart-axis", x: x(t), y: HEIGHT - 6, "text-anchor": anchor });
    label.textContent = clock(t);
    root.append(label);
  }
  for (const part of segments(points)) {
    if (part.length && part[0].lo !== undefined) {
      // Per-minute rollups: the lowest and highest reading of each minute as a soft band.
      const upper = part.map((p) => `${x(p.t).toFixed(1)},${y(p.hi).toFixed(1)}`);
      const lower = part.map((p) => `${x(p.t).toFixed(1)},${y(p.lo).toFixed(1)}`).reverse();
      root.append(svg("polygon", { class: "chart-spread", points: [...upper, ...lower].join(" ") }));
    }
    const line = part.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
    if (part.length > 1) root.append(svg("polyline", { class: "chart-line", points: line }));
    else if (part.length === 1) root.append(svg("circle", { class: "chart-dot", cx: x(part[0].t), cy: y(part[0].v), r: 2.5 }));
  }
  const last = points[points.length - 1];
  if (last) root.append(svg("circle", { class: "chart-latest", cx: x(last.t), cy: y(last.v), r: 4 }));
  chart.replaceChildren(root);
}

/**
 * A chart card for one device and one sensor kind (an entry of GET /v1/devices/kinds: name,
 * label, unit, chart_floor, target_band); call refresh(range) on every poll.
 */
export function liveChart(deviceId, spec) {
  const kind = spec.name;
  const value = h("span", { class: "chart-value" });
  const when = h("span", { class: "chart-when" });
  const chart = h("div", { class: "chart-plot", role: "img", "data-kind": kind, "data-points": "0" });
  const empty = h("p", { class: "chart-empty" });
  const el = h(
    "figure",
    { class: `chart chart-${kind}`, "data-device": deviceId },
    h("figcaption", { class: "chart-head" }, h("span", { class: "chart-title", text: spec.label }), value, when),
    chart,
    empty,
  );
  let points = [];
  let shownRange = null;
  let drawn = null; // the last drawing's arguments, to redraw at a new width
  let width = 0;
  new ResizeObserver(() => {
    if (drawn && chart.clientWidth !== width) {
      width = chart.clientWidth;
      draw(chart, ...drawn);
    }
  }).observe(chart);

  function merge(rows, resolution) {
    const byTime = new Map(points.map((point) => [point.t, point]));
    for (const row of rows) {
      byTime.set(row.t, resolution === "raw" ? { t: row.t, v: row.v } : { t: row.t, v: row.mean, lo: row.min, hi: row.max });
    }
    points = [...byTime.values()].sort((a, b) => a.t - b.t);
  }

  async function refresh(range) {
    if (shownRange !== range) {
      points = [];
      shownRange = range;
    }
    const now = Date.now() / 1000;
    const since = points.length ? points[points.length - 1].t : now - range.seconds;
    const params = new URLSearchParams({ kind, resolution: range.resolution, since: String(since), limit: "5000" });
    const answer = await api("GET", `/v1/devices/${encodeURIComponent(deviceId)}/samples?${params}`);
    if (shownRange !== range) return; // the range changed while this was loading
    merge(answer.data, range.resolution);
    // The window ends now, or at the newest reading when a device's clock runs ahead.
    const end = Math.max(now, points.length ? points[points.length - 1].t : now);
    points = points.filter((point) => point.t >= end - range.seconds);
    const last = points[points.length - 1];
    value.textContent = last ? `${format(last.v)} ${spec.unit}` : "";
    when.textContent = last ? `at ${clock(last.t)}` : "";
    empty.textContent = last ? "" : `No ${labelInText(spec.label)} readings in the last ${range.label}.`;
    chart.hidden = !last;
    chart.dataset.points = String(points.length);
    chart.setAttribute(
      "aria-label",
      last
        ? `${spec.label}: ${points.length} readings, from ${clock(points[0].t)} to ${clock(last.t)}, latest ${format(last.v)} ${spec.unit}`
        : `${spec.label}: no readings`,
    );
    if (last) {
      drawn = [spec, points, range, end];
      width = chart.clientWidth;
      draw(chart, ...drawn);
    }
  }

  return { el, refresh };
}
