// The replay view: a past window of the service's store through the engine again, with the
// thresholds in force or a candidate thresholds.toml chosen from disk, and how the leads it
// raises compare with the recorded ones (new, missing, changed and what changed). A replay
// needs the API token (it is CPU-heavy). The form and the last answer are kept while the page
// lives, so a language switch or a visit to a lead does not lose them.

import { cached, credentials, replay } from "./api.js";
import { askToken } from "./token.js";
import { t } from "./i18n.js";
import { badge, el, errorLine, isoToLocal, leadLine, localToIso, num, replace, stationLabel, timeEl } from "./format.js";

const WEEK_MS = 7 * 24 * 3600 * 1000;

/** What the form held and the last answer, for this page load. */
const memory = {
  from: "",
  to: "",
  stations: [],
  file: null, // {name, text}
  result: null, // {answer, secs, file}
  running: null, // {started, done}: the replay in flight, which outlives a re-render
};

/** Renders the replay view; returns the cleanup (a replay in flight goes on, for the next view). */
export function renderReplay(main) {
  if (!memory.to) {
    const now = Date.now();
    memory.to = isoToLocal(new Date(now).toISOString());
    memory.from = isoToLocal(new Date(now - WEEK_MS).toISOString());
  }
  let live = true;
  const from = el("input", { id: "replay-from", type: "datetime-local", required: true, value: memory.from });
  const to = el("input", { id: "replay-to", type: "datetime-local", required: true, value: memory.to });
  const stations = el("select", { id: "replay-stations", multiple: true, size: 6 });
  const file = el("input", { id: "replay-thresholds", type: "file", accept: ".toml,text/plain" });
  const fileName = el("span", { class: "hint", id: "replay-file-name" });
  const clearFile = el("button", { type: "button", hidden: true }, t("replay.clear_file"));
  const run = el("button", { type: "submit", class: "primary", id: "replay-run" }, t("replay.run"));
  const state = el("p", { class: "stamp", id: "replay-state", role: "status", "aria-live": "polite" });
  const out = el("div", { id: "replay-result" });

  const showFile = () => {
    fileName.textContent = memory.file ? t("replay.with_file", { name: memory.file.name }) : t("replay.current");
    clearFile.hidden = !memory.file;
  };
  file.addEventListener("change", async () => {
    const f = file.files[0];
    memory.file = f ? { name: f.name, text: await f.text() } : null;
    showFile();
  });
  clearFile.addEventListener("click", () => {
    memory.file = null;
    file.value = "";
    showFile();
  });
  showFile();

  const form = el(
    "form",
    { class: "filters replay-form", "aria-label": t("replay.title") },
    el("label", { for: "replay-from" }, t("inbox.from"), from),
    el("label", { for: "replay-to" }, t("inbox.to"), to),
    el("label", { for: "replay-stations", class: "wide" }, t("replay.stations"), stations),
    el("div", { class: "wide file" }, el("label", { for: "replay-thresholds" }, t("replay.thresholds"), file), fileName, clearFile),
    el("div", { class: "buttons" }, run),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    memory.from = from.value;
    memory.to = to.value;
    memory.stations = [...stations.selectedOptions].map((o) => o.value);
    let c = credentials();
    if (!c && (await askToken())) c = credentials();
    if (!c) {
      replace(state, t("replay.need_token"));
      return;
    }
    const body = { from: localToIso(from.value), to: localToIso(to.value), stations: memory.stations };
    if (memory.file) body.thresholds = memory.file.text;
    const started = performance.now();
    const file = memory.file?.name ?? null;
    memory.running = {
      started,
      done: replay(body, c.token)
        .then((answer) => {
          memory.result = { answer, secs: (performance.now() - started) / 1000, file };
        })
        .finally(() => {
          memory.running = null;
        }),
    };
    follow();
  });

  /** Shows the running state until the replay in flight ends, then its answer or error. */
  async function follow() {
    const { started, done } = memory.running;
    run.disabled = true;
    form.setAttribute("aria-busy", "true");
    const tick = () => replace(state, t("replay.running", { s: Math.round((performance.now() - started) / 1000) }));
    tick();
    const timer = setInterval(tick, 1000);
    try {
      await done;
      if (live) await draw(out, memory.result);
      if (live) replace(state);
    } catch (e) {
      if (live) replace(state, errorLine(e));
    } finally {
      clearInterval(timer);
      run.disabled = false;
      form.removeAttribute("aria-busy");
    }
  }

  replace(main, el("h1", {}, t("replay.title")), el("p", { class: "hint" }, t("replay.help")), form, state, out);
  cached("/api/stations")
    .then(({ stations: list }) => {
      stations.replaceChildren(
        ...list.map((s) => el("option", { value: s.id, selected: memory.stations.includes(s.id) }, `${s.id} ${s.name}`)),
      );
    })
    .catch((e) => form.append(errorLine(e)));
  if (memory.running) follow();
  else if (memory.result) draw(out, memory.result).catch((e) => replace(out, errorLine(e)));
  return () => {
    live = false;
  };
}

/** The answer: the diff summary, then the replayed leads with what the ledger says of each. */
async function draw(box, { answer, secs, file }) {
  const [{ stations }, { parameters }] = await Promise.all([cached("/api/stations"), cached("/api/parameters")]);
  const d = answer.diff;
  const fresh = new Set(d.new);
  const changed = new Map(d.changed.map((c) => [c.id, c.what]));
  const what = (fields) => fields.map((f) => t(`replay.field.${f}`)).join(t("list.sep"));
  const summary = el(
    "section",
    { class: "card replay-diff", id: "replay-diff", "aria-labelledby": "replay-diff-title" },
    el("h2", { id: "replay-diff-title" }, t("replay.diff")),
    el(
      "p",
      {},
      t("replay.summary", { readings: answer.readings, leads: answer.leads.length, secs: num(secs, 2) }),
      file ? ` · ${t("replay.with_file", { name: file })}` : "",
    ),
    el(
      "ul",
      { class: "inline counts" },
      el("li", { "data-diff": "same" }, t("replay.same", { n: d.same })),
      el("li", { "data-diff": "new" }, t("replay.new", { n: d.new.length })),
      el("li", { "data-diff": "missing" }, t("replay.missing", { n: d.missing.length })),
      el("li", { "data-diff": "changed" }, t("replay.changed", { n: d.changed.length })),
    ),
    d.changed.length
      ? el(
          "ul",
          { class: "diff-list changed" },
          d.changed.map((c) => el("li", {}, leadLink(c.id), ": ", what(c.what))),
        )
      : null,
    d.missing.length
      ? el(
          "div",
          {},
          el("h3", {}, t("replay.missing_title")),
          el("ul", { class: "diff-list missing" }, d.missing.map((id) => el("li", {}, leadLink(id)))),
        )
      : null,
  );
  if (answer.leads.length === 0) {
    replace(box, summary, el("p", { class: "empty" }, t("replay.none")));
    return;
  }
  const rows = answer.leads.map((lead) => {
    const state = fresh.has(lead.id) ? "new" : changed.has(lead.id) ? "changed" : "same";
    return el(
      "tr",
      { "data-lead": lead.id, "data-diff": state },
      el("td", {}, timeEl(lead.window.start)),
      el("td", {}, badge("category", lead.category)),
      el("td", {}, badge("severity", lead.severity)),
      el("td", { title: stationLabel(stations, lead.station) }, lead.station),
      el("td", { class: "summary" }, leadLine(lead, parameters) || lead.summary),
      el(
        "td",
        {},
        el("span", { class: `badge diff-${state}` }, t(`replay.state.${state}`)),
        state === "changed" ? ` ${what(changed.get(lead.id))}` : "",
      ),
      el("td", {}, state === "new" ? el("span", { class: "hint" }, t("replay.not_recorded")) : leadLink(lead.id)),
    );
  });
  const head = ["inbox.when", "inbox.category", "inbox.severity", "inbox.where", "inbox.what", "replay.compared", "replay.recorded"];
  replace(
    box,
    summary,
    el("h2", {}, t("replay.leads")),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { class: "replay-leads" },
        el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, t(h))))),
        el("tbody", {}, rows),
      ),
    ),
  );
}

/** A link to a recorded lead's detail. */
function leadLink(id) {
  return el("a", { href: `#/leads/${encodeURIComponent(id)}`, class: "lead-id" }, id);
}
