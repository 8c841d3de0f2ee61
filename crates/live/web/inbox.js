// The leads inbox: newest first, filters kept in the hash (so back/forward and links work),
// counts per status, pages of 50, a poll every few seconds that shows new leads without a
// reload (new rows are marked until the next poll), and the filtered list as a case-intake
// sheet (GET /api/leads/export with the same filters, CSV or xlsx, in the page's language).

import { cached, get, poll } from "./api.js";
import { lang, t } from "./i18n.js";
import { badge, el, errorLine, isoToLocal, leadLine, localToIso, replace, stationLabel, time, timeEl } from "./format.js";

const PAGE = 50;
const POLL_MS = 4000;
const STATUSES = ["new", "acknowledged", "confirmed", "dismissed"];
const CATEGORIES = ["suspected_discharge", "standard_exceedance", "monitoring_anomaly"];
const SEVERITIES = ["low", "medium", "high", "critical"];
const FILTERS = ["status", "category", "severity", "station", "segment", "from", "to"];

/** Renders the inbox for `route.query`; returns the cleanup that stops polling. */
export function renderInbox(main, route) {
  const q = route.query;
  const offset = Math.max(0, Number.parseInt(q.get("offset") ?? "0", 10) || 0);
  const counts = el("div", { class: "tabs", role: "group", "aria-label": t("inbox.counts") });
  const form = el("form", { class: "filters", "aria-label": t("inbox.filters") });
  const list = el("div", { class: "list", "aria-live": "polite" }, t("loading"));
  const stamp = el("p", { class: "stamp" });
  replace(main, el("h1", {}, t("inbox.title")), counts, form, exports(q), stamp, list);

  let seen = null;
  cached("/api/stations")
    .then(({ stations }) => buildFilters(form, q, stations))
    .catch((e) => form.append(errorLine(e)));

  const params = { limit: PAGE, offset };
  for (const k of FILTERS) params[k] = q.get(k) ?? "";
  return poll(async (live) => {
    try {
      const [page, { stations }, { parameters }] = await Promise.all([
        get("/api/leads", params),
        cached("/api/stations"),
        cached("/api/parameters"),
      ]);
      if (!live()) return;
      const fresh = seen ? page.leads.filter((l) => !seen.has(l.id)).map((l) => l.id) : [];
      seen = new Set(page.leads.map((l) => l.id));
      drawCounts(counts, q, page.counts);
      drawList(list, page, offset, q, stations, parameters, new Set(fresh));
      stamp.textContent =
        (fresh.length ? `${t("inbox.new_arrived", { n: fresh.length })} · ` : "") +
        t("inbox.updated", { time: time(new Date().toISOString()) });
    } catch (e) {
      if (live()) replace(list, errorLine(e));
    }
  }, POLL_MS);
}

/** Links to the intake sheet of every lead the filters in `q` match (all pages). */
function exports(q) {
  const link = (format) => {
    const p = new URLSearchParams({ format, lang: lang() === "en" ? "en" : "zh" });
    for (const k of FILTERS) if (q.get(k)) p.set(k, q.get(k));
    return el("a", { id: `export-${format}`, class: "button", href: `/api/leads/export?${p}`, download: `leads.${format}` }, t(`inbox.export_${format}`));
  };
  return el("p", { class: "exports" }, el("span", {}, t("inbox.export")), " ", link("csv"), " ", link("xlsx"));
}

/** The hash for the inbox with `changes` applied to `q` (any filter change resets the page). */
function hashWith(q, changes) {
  const next = new URLSearchParams(q);
  for (const [k, v] of Object.entries(changes)) {
    if (v === "" || v === null || v === undefined) next.delete(k);
    else next.set(k, v);
  }
  if (!("offset" in changes)) next.delete("offset");
  const s = next.toString();
  return s ? `#/leads?${s}` : "#/leads";
}

function drawCounts(box, q, counts) {
  const current = q.get("status") ?? "";
  const total = STATUSES.reduce((n, s) => n + (counts?.[s] ?? 0), 0);
  const tab = (value, label, n) =>
    el(
      "a",
      {
        href: hashWith(q, { status: value }),
        class: "tab",
        "aria-current": current === value ? "true" : null,
        "data-status": value || "all",
      },
      label,
      " ",
      el("span", { class: "count" }, String(n)),
    );
  replace(box, tab("", t("inbox.all"), total), STATUSES.map((s) => tab(s, t(`status.${s}`), counts?.[s] ?? 0)));
}

function select(name, label, options, value) {
  const id = `filter-${name}`;
  return el(
    "label",
    { for: id },
    el("span", {}, label),
    el(
      "select",
      { id, name },
      el("option", { value: "" }, t("inbox.all")),
      options.map(([v, text]) => el("option", { value: v, selected: v === value }, text)),
    ),
  );
}

function buildFilters(form, q, stations) {
  const segments = stations.filter((s) => s.upstream.length > 0);
  const dateInput = (name, label) =>
    el(
      "label",
      { for: `filter-${name}` },
      el("span", {}, label),
      el("input", { id: `filter-${name}`, name, type: "datetime-local", value: isoToLocal(q.get(name)) }),
    );
  replace(
    form,
    select("status", t("inbox.status"), STATUSES.map((s) => [s, t(`status.${s}`)]), q.get("status") ?? ""),
    select("category", t("inbox.category"), CATEGORIES.map((c) => [c, t(`category.${c}`)]), q.get("category") ?? ""),
    select("severity", t("inbox.severity"), SEVERITIES.map((s) => [s, t(`severity.${s}`)]), q.get("severity") ?? ""),
    select("station", t("inbox.station"), stations.map((s) => [s.id, stationLabel(stations, s.id)]), q.get("station") ?? ""),
    select(
      "segment",
      t("inbox.segment"),
      segments.map((s) => [s.id, `${s.upstream.map((u) => u.station).join("/")} → ${s.id}`]),
      q.get("segment") ?? "",
    ),
    dateInput("from", t("inbox.from")),
    dateInput("to", t("inbox.to")),
    el("button", { type: "reset", class: "reset" }, t("inbox.reset")),
  );
  form.addEventListener("change", (ev) => {
    const { name, value } = ev.target;
    if (!FILTERS.includes(name)) return;
    const v = name === "from" || name === "to" ? localToIso(value) : value;
    location.hash = hashWith(q, { [name]: v });
  });
  form.addEventListener("reset", (ev) => {
    ev.preventDefault();
    location.hash = "#/leads";
  });
  form.addEventListener("submit", (ev) => ev.preventDefault());
}

function place(lead) {
  if (lead.segment) {
    const up = lead.segment.upstream.join("/");
    return up ? `${up} → ${lead.segment.downstream}` : `↑ ${lead.segment.downstream}`;
  }
  return lead.station;
}

function drawList(box, page, offset, q, stations, parameters, fresh) {
  if (page.leads.length === 0) {
    replace(box, el("p", { class: "empty" }, t("inbox.empty")));
    return;
  }
  const rows = page.leads.map((lead) =>
    el(
      "tr",
      { class: fresh.has(lead.id) ? "fresh" : null, "data-lead": lead.id },
      el("td", {}, timeEl(lead.window.start)),
      el("td", {}, badge("category", lead.category)),
      el("td", {}, badge("severity", lead.severity)),
      el("td", { title: stationLabel(stations, lead.station) }, place(lead)),
      el(
        "td",
        { class: "summary" },
        el("a", { href: `#/leads/${encodeURIComponent(lead.id)}`, title: lead.summary }, leadLine(lead, parameters) || lead.summary),
      ),
      el("td", {}, badge("status", lead.status)),
    ),
  );
  const head = ["inbox.when", "inbox.category", "inbox.severity", "inbox.where", "inbox.what", "inbox.status"];
  const table = el(
    "table",
    { class: "leads" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, t(h))))),
    el("tbody", {}, rows),
  );
  const last = offset + page.leads.length;
  const pager = el(
    "nav",
    { class: "pager", "aria-label": "pages" },
    el("span", {}, t("inbox.range", { from: offset + 1, to: last, total: page.total })),
    offset > 0 ? el("a", { href: hashWith(q, { offset: Math.max(0, offset - PAGE) }), class: "button" }, t("inbox.prev")) : null,
    last < page.total ? el("a", { href: hashWith(q, { offset: last }), class: "button" }, t("inbox.next")) : null,
  );
  replace(box, el("div", { class: "table-wrap" }, table), pager);
}
