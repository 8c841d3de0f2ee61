// A small time-series chart drawn as inline SVG: one or more series (the lead's station, the
// upstream stations shifted by their travel time), the GB 3838 class limit as a line (two for
// a range such as pH), the lead window as a band, and marked points. Pointer or arrow keys move
// a cursor over the main series; the reading under it is written to a live text line.

import { el, num, svg, time } from "./format.js";

const W = 800;
const H = 300;
const M = { left: 60, right: 16, top: 14, bottom: 34 };
/** A gap longer than this many usual intervals between two readings breaks the line. */
const BREAK_STEPS = 3;

/**
 * `opts`: `{series: [{label, cls, points: [{t, v}]}]` (the first is the main one),
 * `limits: [{value, label}]`, `band: {start, end, label} | null`,
 * `marks: [{t, v, cls, label}]`, `unit`, `label` (for assistive tech)}.
 * Returns a `<figure>` with the SVG, a legend and the cursor's text line.
 */
export function chart(opts) {
  const all = opts.series.flatMap((s) => s.points);
  const ts = all.map((p) => p.t);
  const vs = all.map((p) => p.v).concat(opts.limits.map((l) => l.value));
  if (opts.band) ts.push(opts.band.start, opts.band.end);
  let [t0, t1] = [Math.min(...ts), Math.max(...ts)];
  if (t1 <= t0) t1 = t0 + 3600 * 1000;
  let [v0, v1] = [Math.min(...vs), Math.max(...vs)];
  if (v1 <= v0) [v0, v1] = [v0 - 1, v1 + 1];
  const pad = (v1 - v0) * 0.08;
  [v0, v1] = [v0 - pad, v1 + pad];
  const x = (t) => M.left + ((t - t0) / (t1 - t0)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - ((v - v0) / (v1 - v0)) * (H - M.top - M.bottom);

  const root = svg("svg", {
    class: "chart",
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": opts.label,
    tabindex: "0",
    preserveAspectRatio: "none",
  });
  const grid = svg("g", { class: "grid" });
  for (const v of ticks(v0, v1, 5)) {
    grid.append(
      svg("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }),
      svg("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end" }, num(v)),
    );
  }
  for (const t of timeTicks(t0, t1, 6)) {
    grid.append(
      svg("line", { x1: x(t), x2: x(t), y1: M.top, y2: H - M.bottom, class: "vertical" }),
      svg("text", { x: x(t), y: H - M.bottom + 18, "text-anchor": "middle" }, shortTime(t)),
    );
  }
  grid.append(svg("text", { x: 4, y: M.top + 4, class: "unit" }, opts.unit));
  root.append(grid);

  if (opts.band) {
    root.append(
      svg("rect", {
        class: "window",
        x: x(opts.band.start),
        y: M.top,
        width: Math.max(1, x(opts.band.end) - x(opts.band.start)),
        height: H - M.top - M.bottom,
      }),
    );
  }
  for (const l of opts.limits) {
    root.append(svg("line", { class: "limit", x1: M.left, x2: W - M.right, y1: y(l.value), y2: y(l.value) }));
  }
  opts.series.forEach((s, i) => {
    root.append(svg("path", { class: `series ${s.cls}`, d: path(s.points, x, y), "data-series": i }));
  });
  for (const m of opts.marks) {
    root.append(svg("circle", { class: `point ${m.cls}`, cx: x(m.t), cy: y(m.v), r: m.cls === "peak" ? 6 : 4 }, svg("title", {}, m.label)));
  }

  const cursor = svg("g", { class: "cursor", visibility: "hidden" }, svg("line", { y1: M.top, y2: H - M.bottom }), svg("circle", { r: 5 }));
  root.append(cursor);
  const readout = el("p", { class: "readout", "aria-live": "polite" }, "\u00a0");
  const main = opts.series[0]?.points ?? [];
  let at = -1;
  const moveTo = (i) => {
    if (main.length === 0) return;
    at = Math.max(0, Math.min(main.length - 1, i));
    const p = main[at];
    cursor.setAttribute("visibility", "visible");
    cursor.querySelector("line").setAttribute("x1", x(p.t));
    cursor.querySelector("line").setAttribute("x2", x(p.t));
    cursor.querySelector("circle").setAttribute("cx", x(p.t));
    cursor.querySelector("circle").setAttribute("cy", y(p.v));
    readout.textContent = `${time(new Date(p.t).toISOString())}  ${opts.series[0].label}: ${num(p.v, 4)} ${opts.unit}`;
  };
  root.addEventListener("pointermove", (ev) => {
    const box = root.getBoundingClientRect();
    const t = t0 + ((((ev.clientX - box.left) / box.width) * W - M.left) / (W - M.left - M.right)) * (t1 - t0);
    moveTo(nearest(main, t));
  });
  root.addEventListener("keydown", (ev) => {
    const step = { ArrowRight: 1, ArrowLeft: -1, PageDown: 12, PageUp: -12 }[ev.key];
    if (ev.key === "Home") moveTo(0);
    else if (ev.key === "End") moveTo(main.length - 1);
    else if (step) moveTo(at < 0 ? 0 : at + step);
    else return;
    ev.preventDefault();
  });

  const legend = el(
    "ul",
    { class: "legend" },
    opts.series.map((s) => el("li", { class: `key ${s.cls}` }, s.label)),
    opts.limits.map((l) => el("li", { class: "key limit" }, l.label)),
    opts.band ? el("li", { class: "key window" }, opts.band.label) : null,
    [...new Map(opts.marks.map((m) => [m.cls, m])).values()].map((m) => el("li", { class: `key point ${m.cls}` }, m.legend)),
  );
  return el("figure", { class: "chart-box" }, root, legend, readout);
}

/** The SVG path of `points` (time order), broken where readings are missing. */
function path(points, x, y) {
  const steps = points.slice(1).map((p, i) => p.t - points[i].t).sort((a, b) => a - b);
  const usual = steps.length ? steps[steps.length >> 1] : 0;
  let d = "";
  let prev = null;
  for (const p of points) {
    const gap = prev === null || p.t - prev > BREAK_STEPS * usual;
    d += `${gap ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    prev = p.t;
  }
  return d;
}

/** Index of the point nearest in time to `t` (points in time order). */
function nearest(points, t) {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(points[lo - 1].t - t) < Math.abs(points[lo].t - t)) return lo - 1;
  return lo;
}

/** About `n` round values between `a` and `b`. */
function ticks(a, b, n) {
  const raw = (b - a) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(a / step) * step; v <= b; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** About `n` times between `a` and `b` on whole hours (or days for long windows). */
function timeTicks(a, b, n) {
  const HOUR = 3600 * 1000;
  const steps = [1, 2, 3, 6, 12, 24, 48, 96, 168].map((h) => h * HOUR);
  const step = steps.find((s) => (b - a) / s <= n) ?? steps[steps.length - 1];
  const out = [];
  for (let t = Math.ceil(a / step) * step; t <= b; t += step) out.push(t);
  return out;
}

function shortTime(t) {
  const d = new Date(t);
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
