// Small shared helpers: building DOM nodes without innerHTML, and formatting times and numbers.

import { lang, t } from "./i18n.js";

/**
 * `el("a", {href: "#/x", class: "c", onclick: f}, "text", child)`: an element. Attributes
 * starting with `on` become listeners; `null`/`false` attributes are left out; text children
 * become text nodes, so no data can ever be read as markup.
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Like `el`, in the SVG namespace. */
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(e, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** A local date and time, to the minute, in the page's language. */
export function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(lang(), {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

/** A `<time>` element showing local time, with the UTC instant as its machine value. */
export function timeEl(iso) {
  return el("time", { datetime: iso, title: iso }, time(iso));
}

/** A number with at most `digits` significant digits, no exponent for everyday values. */
export function num(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

/** `[new value, …]` from a `datetime-local` input as RFC 3339 UTC, or "" when empty. */
export function localToIso(v) {
  if (!v) return "";
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The `datetime-local` value of an RFC 3339 time. */
export function isoToLocal(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A parameter's name in the page's language, from `/api/parameters`. */
export function paramName(params, id) {
  const p = params.find((x) => x.id === id);
  if (!p) return id;
  return lang() === "en" ? p.name_en : p.name_zh;
}

/** A station's label: id and name. */
export function stationLabel(stations, id) {
  const s = stations.find((x) => x.id === id);
  return s ? `${id} ${s.name}` : id;
}

/** A badge for an enum value (`status`, `category`, `severity`). */
export function badge(kind, value) {
  return el("span", { class: `badge ${kind}-${value}` }, t(`${kind}.${value}`));
}

/** Replaces `node`'s children. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

/** An error line. */
export function errorLine(e) {
  return el("p", { class: "error", role: "alert" }, t("error", { e: e.message ?? e }));
}

/** A detector's name in the page's language (its id when unknown). */
export function detectorName(id) {
  const key = `detector.${id}`;
  const text = t(key);
  return text === key ? id : text;
}

/**
 * One line in the page's language saying what a lead's parameters did: the ones past their
 * GB 3838 limit first, at most `max` of them.
 */
export function leadLine(lead, params, max = 2) {
  const worst = [...lead.parameters].sort((a, b) => (b.ratio ?? 0) - (a.ratio ?? 0));
  const parts = worst.slice(0, max).map((p) => {
    const vars = {
      param: `${p.station} ${paramName(params, p.parameter)}`,
      peak: num(p.peak, 4),
      unit: p.unit,
      cls: p.limit_class ?? "",
      limit: num(p.limit),
      ratio: num(p.ratio),
      baseline: num(p.baseline, 4),
      dir: t(p.direction < 0 ? "line.fell" : "line.rose"),
    };
    if (p.limit !== null && p.ratio !== null && p.ratio > 1) return t("line.exceed", vars);
    if (p.baseline !== null && p.baseline !== undefined) return t("line.change", vars);
    return t("line.peak", vars);
  });
  if (worst.length > max) parts.push(t("line.more", { n: worst.length }));
  return parts.join(lang() === "en" ? "; " : "；");
}
