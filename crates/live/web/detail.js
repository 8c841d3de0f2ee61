// One lead: the plain-language summary, its seal with the downloads (seal.js), the chart of each involved parameter with the class
// limit and the upstream stations' lagged series, the raw evidence with a CSV download, the
// revisions and status history, and the acknowledge / confirm / dismiss buttons.

import { cached, credentials, get, setStatus } from "./api.js";
import { askToken, toast } from "./token.js";
import { chart } from "./chart.js";
import { t } from "./i18n.js";
import { sealCard } from "./seal.js";
import { badge, detectorName, el, errorLine, leadLine, num, paramName, replace, stationLabel, time, timeEl } from "./format.js";

/** Rows of the evidence table shown at once (the CSV has them all). */
const TABLE_ROWS = 300;
/** Upstream stations drawn at most. */
const MAX_UPSTREAM = 3;

/** Renders lead `route.id`. */
export function renderDetail(main, route) {
  let stopped = false;
  replace(main, el("p", {}, t("loading")));
  (async () => {
    try {
      const [d, { stations }, { parameters }] = await Promise.all([
        get(`/api/leads/${encodeURIComponent(route.id)}`),
        cached("/api/stations"),
        cached("/api/parameters"),
      ]);
      if (!stopped) draw(main, d, stations, parameters);
    } catch (e) {
      if (!stopped) replace(main, el("p", {}, el("a", { href: "#/leads" }, t("detail.back"))), errorLine(e));
    }
  })();
  return () => {
    stopped = true;
  };
}

function draw(main, d, stations, parameters) {
  const lead = d.lead;
  const statusBox = el("span", { id: "lead-status" }, badge("status", lead.status));
  const history = el("div", { id: "history" });
  drawHistory(history, d.history);
  const pairs = chartPairs(lead, d.evidence);
  const chartBox = el("div", { id: "chart" });
  const tableBox = el("div", { id: "evidence-table" });
  const chooser = el("div", { class: "chooser", role: "group", "aria-label": t("detail.chart_param") });
  const choose = (i) => {
    chooser.querySelectorAll("button").forEach((b, j) => b.setAttribute("aria-pressed", String(i === j)));
    drawChart(chartBox, lead, d.evidence, pairs[i], stations, parameters).catch((e) => replace(chartBox, errorLine(e)));
    drawTable(tableBox, d.evidence, pairs[i], parameters);
  };
  pairs.forEach((p, i) =>
    chooser.append(el("button", { type: "button", onclick: () => choose(i) }, `${p.station} · ${paramName(parameters, p.parameter)}`)),
  );

  replace(
    main,
    el("p", {}, el("a", { href: "#/leads" }, t("detail.back"))),
    el(
      "h1",
      {},
      t(`category.${lead.category}`),
      " · ",
      place(lead),
      " ",
      statusBox,
      " ",
      badge("severity", lead.severity),
    ),
    el("section", { "aria-labelledby": "h-summary", class: "card" }, el("h2", { id: "h-summary" }, t("detail.summary")), summary(lead, stations, parameters)),
    sealCard(lead),
    el("section", { "aria-labelledby": "h-actions", class: "card" }, el("h2", { id: "h-actions" }, t("detail.actions")), actions(lead, statusBox, history)),
    el(
      "section",
      { "aria-labelledby": "h-chart", class: "card" },
      el("h2", { id: "h-chart" }, t("detail.chart")),
      chooser,
      chartBox,
      el("p", { class: "hint" }, t("detail.chart_help")),
    ),
    el(
      "section",
      { "aria-labelledby": "h-evidence", class: "card" },
      el("h2", { id: "h-evidence" }, t("detail.evidence")),
      el("p", {}, el("a", { class: "button", id: "csv", href: `/api/leads/${encodeURIComponent(lead.id)}/evidence.csv`, download: `evidence-${lead.id}.csv` }, t("detail.download"))),
      tableBox,
    ),
    el(
      "section",
      { "aria-labelledby": "h-history", class: "card" },
      el("h2", { id: "h-history" }, t("detail.history")),
      history,
      el("h2", {}, t("detail.revisions")),
      revisions(d.revisions ?? []),
    ),
  );
  if (pairs.length) choose(0);
  else replace(chartBox, el("p", {}, t("detail.chart_empty")));
}

function place(lead) {
  const s = lead.segment;
  if (s && s.upstream.length) return t("detail.segment", { up: s.upstream.join(" / "), down: s.downstream });
  if (s) return t("detail.segment_top", { down: s.downstream });
  return t("detail.at_station", { station: lead.station });
}

function summary(lead, stations, parameters) {
  const w = lead.window;
  const params = [...new Set(lead.parameters.map((p) => paramName(parameters, p.parameter)))].join(t("list.sep"));
  const where = [place(lead), ...lead.stations.map((s) => stationLabel(stations, s))];
  const far = lead.parameters.map((p) => {
    const unit = p.unit;
    const parts = [t("detail.peak", { param: `${p.station} ${paramName(parameters, p.parameter)}`, peak: num(p.peak, 4), unit, time: time(p.peak_time) })];
    const cls = p.limit_class ?? "";
    if (p.limit !== null && p.limit !== undefined) {
      parts.push(t("detail.limit", { cls, limit: num(p.limit), unit, ratio: num(p.ratio) }));
      if (p.exceedance_multiple !== null && p.exceedance_multiple !== undefined && p.exceedance_multiple > 0) {
        parts.push(t("detail.multiple", { m: num(p.exceedance_multiple) }));
      } else if (p.ratio !== null && p.ratio <= 1) {
        parts.push(t("detail.within"));
      }
    } else {
      parts.push(t("detail.no_limit", { cls }));
    }
    if (p.baseline !== null && p.baseline !== undefined) parts.push(t("detail.baseline", { b: num(p.baseline, 4), unit }));
    return el("li", {}, parts.join("；"));
  });
  const detectors = lead.detectors.map((x) => el("li", { title: x.detector }, `${detectorName(x.detector)} (${num(x.score, 2)})`));
  return el(
    "dl",
    { class: "facts" },
    el("dt", {}, t("detail.what")),
    el("dd", {}, t("detail.what_line", { cat: t(`category.${lead.category}`), params, line: leadLine(lead, parameters, 3) })),
    el("dt", {}, t("detail.where")),
    el("dd", {}, where.join(" — ")),
    el("dt", {}, t("detail.when")),
    el("dd", {}, timeEl(w.start), " – ", timeEl(w.end), " ", t(lead.open ? "detail.ongoing" : "detail.closed")),
    el("dt", {}, t("detail.how_far")),
    el("dd", {}, el("ul", {}, far)),
    el("dt", {}, t("detail.detectors")),
    el("dd", {}, el("ul", { class: "inline" }, detectors)),
    el("dt", {}, t("detail.confidence")),
    el("dd", {}, `${Math.round(lead.confidence * 100)}%`),
    el("dt", {}, t("detail.engine_summary")),
    el("dd", { lang: "en" }, lead.summary),
  );
}

function actions(lead, statusBox, history) {
  const note = el("textarea", { id: "note", rows: 3, maxlength: 10000 });
  const button = (status, key, cls) =>
    el(
      "button",
      {
        type: "button",
        class: cls,
        "data-action": status,
        onclick: async (ev) => {
          let c = credentials();
          if (!c && (await askToken())) c = credentials();
          if (!c) {
            toast(t("detail.need_token"));
            return;
          }
          ev.target.disabled = true;
          try {
            const r = await setStatus(lead.id, status, c.analyst, note.value, c.token);
            replace(statusBox, badge("status", r.lead.status));
            drawHistory(history, r.history);
            note.value = "";
            toast(t("detail.saved", { status: t(`status.${r.lead.status}`) }));
          } catch (e) {
            toast(t("error", { e: e.message }));
          } finally {
            ev.target.disabled = false;
          }
        },
      },
      t(key),
    );
  return el(
    "div",
    { class: "actions" },
    el("label", { for: "note" }, t("detail.note")),
    note,
    el(
      "div",
      { class: "buttons" },
      button("acknowledged", "detail.acknowledge", ""),
      button("confirmed", "detail.confirm", "primary"),
      button("dismissed", "detail.dismiss", "danger"),
    ),
  );
}

function drawHistory(box, history) {
  if (!history.length) {
    replace(box, el("p", { class: "empty" }, t("detail.no_history")));
    return;
  }
  replace(
    box,
    el(
      "ol",
      { class: "history" },
      history.map((h) =>
        el(
          "li",
          {},
          timeEl(h.time),
          " ",
          t("detail.by", { analyst: h.analyst, from: t(`status.${h.from}`), to: t(`status.${h.to}`) }),
          h.note ? el("q", {}, h.note) : null,
        ),
      ),
    ),
  );
}

function revisions(list) {
  return el(
    "ol",
    { class: "history" },
    list.map((r) =>
      el(
        "li",
        {},
        el("strong", {}, t("detail.revision", { n: r.revision })),
        " ",
        timeEl(r.recorded),
        " ",
        badge("severity", r.severity),
        " ",
        el("span", { title: r.summary }, r.window ? `${time(r.window.start)} – ${time(r.window.end)}` : ""),
      ),
    ),
  );
}

/** The (station, parameter) pairs to chart: the lead's figures, else what the evidence holds. */
function chartPairs(lead, evidence) {
  const seen = new Map();
  for (const p of lead.parameters) seen.set(`${p.station}|${p.parameter}`, { station: p.station, parameter: p.parameter, summary: p });
  for (const r of evidence.readings ?? []) {
    const k = `${r.station}|${r.parameter}`;
    if (!seen.has(k) && lead.evidence.parameters.includes(r.parameter)) seen.set(k, { station: r.station, parameter: r.parameter, summary: null });
  }
  return [...seen.values()];
}

async function drawChart(box, lead, evidence, pair, stations, parameters) {
  replace(box, el("p", {}, t("loading")));
  const main = (evidence.readings ?? [])
    .filter((r) => r.station === pair.station && r.parameter === pair.parameter)
    .map((r) => ({ t: Date.parse(r.time), v: r.value }))
    .sort((a, b) => a.t - b.t);
  const station = stations.find((s) => s.id === pair.station);
  const from = Date.parse(lead.evidence.from);
  const to = Date.parse(lead.evidence.to);
  const ups = (station?.upstream ?? []).filter((u) => u.travel_time_s !== null).slice(0, MAX_UPSTREAM);
  const upstream = await Promise.all(
    ups.map(async (u) => {
      const lag = u.travel_time_s * 1000;
      const r = await get("/api/readings", {
        station: u.station,
        parameter: pair.parameter,
        from: new Date(from - lag).toISOString(),
        to: new Date(to - lag).toISOString(),
      }).catch(() => ({ readings: [] }));
      return {
        label: t("detail.legend.upstream", { station: u.station, h: num(u.travel_time_s / 3600) }),
        cls: "upstream",
        points: r.readings.map((x) => ({ t: Date.parse(x.time) + lag, v: x.value })).sort((a, b) => a.t - b.t),
      };
    }),
  );
  const lim = await cached("/api/limits", { station: pair.station }).catch(() => null);
  const item = lim?.limits.find((l) => l.parameter === pair.parameter);
  const cls = lim?.target_class ?? "";
  const limits = !item
    ? []
    : item.kind === "range"
      ? [item.low, item.high].map((v) => ({ value: v, label: `${t("detail.legend.limit", { cls })} ${num(v)}` }))
      : [{ value: item.value, label: `${t("detail.legend.limit", { cls })} ${num(item.value)}` }];
  const breaches = (v) => item && (item.kind === "max" ? v > item.value : item.kind === "min" ? v < item.value : v < item.low || v > item.high);
  const ws = Date.parse(lead.window.start);
  const we = Date.parse(lead.window.end);
  const marks = main
    .filter((p) => p.t >= ws && p.t <= we && breaches(p.v))
    .map((p) => ({ ...p, cls: "breach", label: `${time(new Date(p.t).toISOString())} ${num(p.v, 4)}`, legend: t("detail.legend.points") }));
  if (pair.summary) {
    const s = pair.summary;
    marks.push({ t: Date.parse(s.peak_time), v: s.peak, cls: "peak", label: `${time(s.peak_time)} ${num(s.peak, 4)}`, legend: t("detail.legend.peak") });
  }
  const series = [{ label: t("detail.legend.series", { station: pair.station }), cls: "main", points: main }, ...upstream.filter((u) => u.points.length)];
  if (!main.length && series.length === 1) {
    replace(box, el("p", {}, t("detail.chart_empty")));
    return;
  }
  const unit = parameters.find((p) => p.id === pair.parameter)?.unit ?? "";
  replace(
    box,
    chart({
      series,
      limits,
      band: { start: ws, end: we, label: t("detail.legend.window") },
      marks,
      unit,
      label: `${stationLabel(stations, pair.station)} ${paramName(parameters, pair.parameter)}`,
    }),
  );
}

function drawTable(box, evidence, pair, parameters) {
  if (evidence.error) {
    replace(box, errorLine(t("detail.evidence_error", { e: evidence.error })));
    return;
  }
  const rows = evidence.readings.filter((r) => r.parameter === pair.parameter && r.station === pair.station);
  const shown = rows.slice(0, TABLE_ROWS);
  replace(
    box,
    el("p", {}, t("detail.evidence_note", { n: evidence.readings.length, cut: evidence.truncated ? t("detail.evidence_cut") : "", shown: shown.length })),
    el(
      "div",
      { class: "table-wrap scroll" },
      el(
        "table",
        { class: "evidence" },
        el("thead", {}, el("tr", {}, ["detail.time", "detail.station", "detail.parameter", "detail.value", "detail.flag"].map((k) => el("th", { scope: "col" }, t(k))))),
        el(
          "tbody",
          {},
          shown.map((r) =>
            el("tr", {}, el("td", {}, timeEl(r.time)), el("td", {}, r.station), el("td", {}, paramName(parameters, r.parameter)), el("td", { class: "num" }, String(r.value)), el("td", {}, r.flag)),
          ),
        ),
      ),
    ),
  );
}
