// The station network from upstream to downstream: each station's river, class, upstream
// stations with travel times, last reading, health (silent, stuck, out of range) and open leads.
// Refreshed every few seconds while shown.

import { forget, get, poll } from "./api.js";
import { t } from "./i18n.js";
import { el, errorLine, num, replace, timeEl } from "./format.js";

const POLL_MS = 5000;

/** Renders the stations list; returns the cleanup that stops polling. */
export function renderStations(main) {
  const box = el("div", {}, t("loading"));
  replace(main, el("h1", {}, t("stations.title")), box);
  return poll(async (live) => {
    try {
      const { stations } = await get("/api/stations");
      forget("/api/stations");
      if (live()) draw(box, order(stations));
    } catch (e) {
      if (live()) replace(box, errorLine(e));
    }
  }, POLL_MS);
}

/** Upstream before downstream (a topological order), ties by river km. */
function order(stations) {
  const byKm = [...stations].sort((a, b) => a.river_km - b.river_km);
  const placed = new Set();
  const out = [];
  while (out.length < byKm.length) {
    const next =
      byKm.find((s) => !placed.has(s.id) && s.upstream.every((u) => placed.has(u.station) || !byKm.some((x) => x.id === u.station))) ??
      byKm.find((s) => !placed.has(s.id)); // a loop in the config: keep going by km
    placed.add(next.id);
    out.push(next);
  }
  return out;
}

function health(h) {
  if (!h || h.states.length === 0) return [el("span", { class: "badge health-ok" }, t("health.ok"))];
  return h.states.map((s) => {
    const text =
      s === "silent"
        ? t("health.silent", { h: num((h.silent_for_s ?? 0) / 3600, 2) })
        : s === "stuck"
          ? t("health.stuck", { params: h.stuck.join(", ") })
          : s === "out_of_range"
            ? t("health.out_of_range", { params: h.out_of_range.join(", ") })
            : t(`health.${s}`);
    return el("span", { class: `badge health-${s}` }, text);
  });
}

function draw(box, stations) {
  const head = ["inbox.station", "stations.river", "stations.km", "stations.class", "stations.upstream", "stations.last", "stations.health", "stations.open"];
  const rows = stations.map((s) =>
    el(
      "tr",
      { "data-station": s.id },
      el("th", { scope: "row" }, el("span", { class: "id" }, s.id), " ", s.name),
      el("td", {}, s.river),
      el("td", { class: "num" }, num(s.river_km)),
      el("td", {}, s.target_class),
      el(
        "td",
        {},
        s.upstream.map((u, i) => [
          i ? ", " : "",
          u.station,
          u.travel_time_s !== null ? ` (${t("stations.travel", { h: num(u.travel_time_s / 3600) })})` : "",
        ]),
      ),
      el("td", {}, s.last_reading ? timeEl(s.last_reading) : t("stations.never")),
      el("td", { class: "health" }, health(s.health)),
      el(
        "td",
        { class: "num" },
        s.open_leads > 0 ? el("a", { href: `#/leads?station=${encodeURIComponent(s.id)}` }, String(s.open_leads)) : "0",
      ),
    ),
  );
  replace(
    box,
    el(
      "div",
      { class: "table-wrap" },
      el("table", { class: "stations" }, el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, t(h))))), el("tbody", {}, rows)),
    ),
  );
}
