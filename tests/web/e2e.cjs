// End-to-end check of the analysts' web page in Debian's headless Chromium, driven by
// Playwright (playwright-core, no browser download). Started by tests/it/web.rs against a
// running `riverwatch demo`; every check that fails throws, and the last stdout line is a JSON
// report the Rust test reads back.
//
// Environment: RW_BASE (http://127.0.0.1:PORT), RW_TOKEN (the demo's API token), RW_CHROMIUM
// (the browser binary), RW_PLAYWRIGHT (the playwright-core directory), RW_OUT (screenshots).

"use strict";

const { chromium } = require(process.env.RW_PLAYWRIGHT);
const fs = require("fs");
const path = require("path");

const BASE = process.env.RW_BASE;
const TOKEN = process.env.RW_TOKEN;
const OUT = process.env.RW_OUT;
const WAIT = 20000;

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function api(p) {
  const r = await fetch(`${BASE}${p}`);
  check(r.ok, `${p}: HTTP ${r.status}`);
  return r.json();
}

/** Retries `f` (which throws while not yet true) until it passes or WAIT runs out. */
async function eventually(what, f) {
  const end = Date.now() + WAIT;
  let last;
  while (Date.now() < end) {
    try {
      return await f();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${what}: ${last && last.message}`);
}

/** Clicks `selector` and returns the download it starts: `{name, bytes}`. */
async function download(page, selector) {
  const [d] = await Promise.all([page.waitForEvent("download", { timeout: WAIT }), page.click(selector)]);
  const file = await d.path();
  check(file, `${selector}: the download arrived (${await d.failure()})`);
  return { name: d.suggestedFilename(), bytes: fs.readFileSync(file) };
}

const rowIds = (page) => page.$$eval("table.leads tbody tr", (rows) => rows.map((r) => r.dataset.lead));
const sameList = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.RW_CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const requests = [];
  const problems = [];
  context.on("request", (r) => requests.push(r.url()));
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  const report = {};

  // Inbox, in Chinese by default, listing what the API lists, newest first.
  await page.goto(`${BASE}/`);
  check((await page.getAttribute("html", "lang")) === "zh-CN", "the page starts in Chinese");
  await page.waitForSelector("table.leads tbody tr", { timeout: WAIT });
  check((await page.textContent("[data-nav=leads]")).trim() === "线索", "Chinese navigation");
  const listed = await eventually("the inbox lists the API's leads", async () => {
    const want = await api("/api/leads?limit=50");
    const got = await rowIds(page);
    check(sameList(got, want.leads.map((l) => l.id)), `rows ${got.length} vs API ${want.leads.length}`);
    const all = await page.textContent("[data-status=all] .count");
    check(Number(all) === want.total, `the count of all leads ${all} is ${want.total}`);
    return want;
  });
  check(listed.leads.length > 0, "the demo raised leads");
  const starts = listed.leads.map((l) => Date.parse(l.window.start));
  check(starts.every((s, i) => i === 0 || starts[i - 1] >= s), "newest first");
  report.inbox_rows = listed.leads.length;
  report.total = listed.total;
  await page.screenshot({ path: path.join(OUT, "inbox.png"), fullPage: false });

  // Filtering by category: every row has the category and the rows are the API's for it.
  const category = listed.leads[listed.leads.length - 1].category;
  await page.selectOption("#filter-category", category);
  await eventually("the category filter applies", async () => {
    const want = await api(`/api/leads?limit=50&category=${category}`);
    const got = await rowIds(page);
    check(sameList(got, want.leads.map((l) => l.id)), "filtered rows are the API's");
    const cats = await page.$$eval("table.leads tbody tr .badge[class*=category-]", (b) => b.map((x) => x.className));
    check(cats.length === got.length && cats.every((c) => c.includes(`category-${category}`)), "every row has the category");
  });
  check(page.url().includes(`category=${category}`), "the filter is in the address");
  report.filtered_category = category;
  // The filtered list as an intake sheet: the same filters, every page, CSV with a BOM.
  const wanted = await api(`/api/leads?limit=1000&category=${category}`);
  const shownIds = await rowIds(page);
  check((await page.getAttribute("#export-csv", "href")).includes(`category=${category}`), "the export link carries the filter");
  const sheet = await download(page, "#export-csv");
  check(sheet.name === "leads.csv", `the CSV is named leads.csv, not ${sheet.name}`);
  check(sheet.bytes[0] === 0xef && sheet.bytes[1] === 0xbb && sheet.bytes[2] === 0xbf, "the CSV starts with a UTF-8 BOM");
  const sheetText = sheet.bytes.subarray(3).toString("utf8");
  const sheetRows = sheetText.trim().split("\r\n");
  check(sheetRows[0].startsWith("线索编号,"), "the sheet's header is in Chinese");
  check(sheetRows.length - 1 === wanted.total, `the sheet has ${sheetRows.length - 1} rows, the filter matches ${wanted.total}`);
  const sheetIds = new Set(sheetRows.slice(1).map((r) => r.split(",")[0]));
  check(shownIds.every((id) => sheetIds.has(id)), "every lead shown is in the sheet");
  check(sheetIds.size === wanted.total && wanted.leads.every((l) => sheetIds.has(l.id)), "the sheet holds the filter's leads and no others");
  const xlsx = await download(page, "#export-xlsx");
  check(xlsx.name === "leads.xlsx" && xlsx.bytes.subarray(0, 4).equals(Buffer.from("PK\x03\x04", "latin1")), "the xlsx download is a workbook");
  report.export = { rows: sheetRows.length - 1, xlsx_bytes: xlsx.bytes.length };
  // A status tab narrows further; "all" again brings every row of the category back.
  await page.click("[data-status=new]");
  await eventually("the status tab applies", async () => {
    const want = await api(`/api/leads?limit=50&category=${category}&status=new`);
    check(sameList(await rowIds(page), want.leads.map((l) => l.id)), "status-filtered rows");
  });
  await page.click("button.reset");
  await eventually("reset shows every lead", async () => {
    check((await rowIds(page)).length === listed.leads.length, "rows after reset");
  });

  // The English switch, remembered across a reload.
  await page.click("#lang-button");
  await eventually("English", async () => check((await page.textContent("[data-nav=leads]")).trim() === "Leads", "English navigation"));
  await page.reload();
  await page.waitForSelector("table.leads tbody tr", { timeout: WAIT });
  check((await page.getAttribute("html", "lang")) === "en", "the language choice survives a reload");
  await page.click("#lang-button");
  await eventually("back to Chinese", async () => check((await page.textContent("[data-nav=leads]")).trim() === "线索", "Chinese again"));

  // A lead with a GB 3838 limit, opened from the keyboard.
  const lead = listed.leads.find((l) => l.parameters.some((p) => p.limit !== null)) || listed.leads[0];
  const link = page.locator(`tr[data-lead="${lead.id}"] a`);
  await link.focus();
  await page.keyboard.press("Enter");
  await page.waitForSelector("svg.chart path.series.main", { timeout: WAIT });
  const chart = await page.$eval("svg.chart", (s) => ({
    main: s.querySelector("path.series.main").getAttribute("d").length,
    upstream: s.querySelectorAll("path.series.upstream").length,
    limits: s.querySelectorAll("line.limit").length,
    window: s.querySelectorAll("rect.window").length,
    peak: s.querySelectorAll("circle.point.peak").length,
    breaches: s.querySelectorAll("circle.point.breach").length,
  }));
  check(chart.main > 10, "the main series is drawn");
  check(chart.window === 1, "the lead window is drawn");
  check(chart.peak === 1, "the peak is marked");
  const first = lead.parameters[0];
  if (first.limit !== null) check(chart.limits >= 1, "the class limit line is drawn");
  if (first.limit !== null && first.ratio > 1) check(chart.breaches >= 1, "readings past the limit are marked");
  const { stations } = await api("/api/stations");
  const st = stations.find((s) => s.id === first.station);
  const up = st.upstream.find((u) => u.travel_time_s !== null);
  if (up) {
    const lag = up.travel_time_s * 1000;
    const iso = (ms) => new Date(ms).toISOString();
    const r = await api(
      `/api/readings?station=${up.station}&parameter=${first.parameter}&from=${iso(Date.parse(lead.evidence.from) - lag)}&to=${iso(Date.parse(lead.evidence.to) - lag)}`,
    );
    if (r.count > 0) check(chart.upstream >= 1, "the upstream station's lagged series is drawn");
  }
  // The chart answers the keyboard.
  await page.focus("svg.chart");
  await page.keyboard.press("End");
  check((await page.textContent(".readout")).trim().length > 0, "arrow keys move the chart's cursor");
  const evidenceRows = await page.$$eval("table.evidence tbody tr", (r) => r.length);
  check(evidenceRows > 0, "the evidence table has readings");
  const csv = await page.getAttribute("#csv", "href");
  const csvText = await (await fetch(`${BASE}${csv}`)).text();
  check(csvText.startsWith("time,station,parameter,value"), "the CSV download is the long CSV");
  report.lead = lead.id;
  report.chart = chart;

  // The lead's seal: the API's verification shown green, signed (the demo signs), the evidence
  // digest matching, every check with its reason.
  const v = await api(`/api/leads/${encodeURIComponent(lead.id)}/verification`);
  check(v.ok, `the demo's lead verifies: ${JSON.stringify(v.checks)}`);
  await page.waitForSelector("#verification[data-state=ok]", { timeout: WAIT });
  check((await page.textContent("#verification")).includes("核验通过"), "the state says verified, in Chinese");
  check((await page.getAttribute("#seal-signature", "data-ok")) === "true", "the signature is valid");
  check((await page.getAttribute("#seal-signature", "data-signed")) === "true", "the lead is signed");
  check((await page.textContent("#seal-signature")).includes(v.signed_by.slice(0, 12)), "the signing key is shown");
  check((await page.getAttribute("#seal-evidence", "data-ok")) === "true", "the evidence digest matches");
  check((await page.textContent("#seal-sealed")).includes(String(v.entry)), "the ledger entry is shown");
  const shownChecks = await page.$$eval("#seal-checks li", (li) => li.map((x) => [x.dataset.check, x.className, x.textContent]));
  check(shownChecks.length === v.checks.length, "every check is listed");
  check(shownChecks.every(([name, cls, text], i) => name === v.checks[i].name && cls === "pass" && text.includes(v.checks[i].detail)), "each check with its reason");
  // The evidence bundle arrives as a zip named after the lead.
  const bundle = await download(page, "#bundle");
  check(bundle.name === `evidence-${lead.id}.zip`, `the bundle is named after the lead: ${bundle.name}`);
  check(bundle.bytes.length > 1000 && bundle.bytes.subarray(0, 4).equals(Buffer.from("PK\x03\x04", "latin1")), "the bundle is a non-empty zip");
  // The dossier opens as HTML naming the lead, in Chinese and in English.
  const [dossier] = await Promise.all([context.waitForEvent("page", { timeout: WAIT }), page.click("#dossier-zh")]);
  await dossier.waitForLoadState();
  const dossierHtml = await dossier.content();
  check(dossierHtml.includes(lead.id) && dossierHtml.includes("线索编号"), "the Chinese dossier names the lead");
  await dossier.close();
  const en = await (await fetch(`${BASE}${await page.getAttribute("#dossier-en", "href")}`)).text();
  check(en.includes(lead.id) && en.includes("Lead number"), "the English dossier names the lead");
  report.seal = { entry: v.entry, bundle_bytes: bundle.bytes.length, checks: v.checks.length };
  await page.screenshot({ path: path.join(OUT, "lead.png"), fullPage: true });

  // A second tab watching the confirmed leads; it must pick the change up without a reload.
  const watcher = await context.newPage();
  watcher.on("pageerror", (e) => problems.push(`watcher page error: ${e.message}`));
  await watcher.goto(`${BASE}/#/leads?status=confirmed`);
  await watcher.waitForSelector(".list .empty, table.leads", { timeout: WAIT });
  check(!(await rowIds(watcher)).includes(lead.id), "the lead is not confirmed yet");
  await watcher.evaluate(() => {
    window.stillTheSamePage = true;
  });

  // Confirming with the token: the dialog asks once, the API then says confirmed.
  const note = "现场采样已确认 e2e";
  await page.fill("#note", note);
  await page.click("button[data-action=confirmed]");
  await page.waitForSelector("#token-dialog[open]", { timeout: WAIT });
  await page.fill("#token-analyst", "e2e-analyst");
  await page.fill("#token-input", TOKEN);
  await page.click("#token-dialog button[value=save]");
  await page.waitForSelector("#lead-status .status-confirmed", { timeout: WAIT });
  const d = await api(`/api/leads/${encodeURIComponent(lead.id)}`);
  check(d.lead.status === "confirmed", "the API says confirmed");
  const last = d.history[d.history.length - 1];
  check(last.to === "confirmed" && last.analyst === "e2e-analyst" && last.note === note, "the history keeps who and why");
  check((await page.textContent("#history")).includes("e2e-analyst"), "the page shows the history");
  check((await page.evaluate(() => sessionStorage.getItem("riverwatch.token"))) === TOKEN, "the token is kept for the tab");
  report.confirmed = lead.id;
  await eventually("the watching tab shows the confirmed lead", async () => {
    check((await rowIds(watcher)).includes(lead.id), "the confirmed lead appears in the other tab");
  });
  check(await watcher.evaluate(() => window.stillTheSamePage === true), "without a reload");
  await watcher.close();

  // Tablet size: nothing wider than the screen, on the lead and on the inbox.
  const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  check(await fits(), "the lead page fits 1366 px");
  await page.setViewportSize({ width: 820, height: 1180 });
  check(await fits(), "the lead page fits a tablet");
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(OUT, "lead-tablet.png"), fullPage: false });
  await page.click("[data-nav=leads]");
  await page.waitForSelector("table.leads tbody tr", { timeout: WAIT });
  check(await fits(), "the inbox fits a tablet");
  await page.setViewportSize({ width: 1366, height: 768 });

  // Stations, upstream to downstream, each with its health.
  await page.click("[data-nav=stations]");
  await page.waitForSelector("table.stations tbody tr", { timeout: WAIT });
  const shown = await page.$$eval("table.stations tbody tr", (rows) => rows.map((r) => [r.dataset.station, r.querySelectorAll("td.health .badge").length]));
  check(shown.length === stations.length, "every station is listed");
  check(shown.every(([, n]) => n >= 1), "every station shows its health");
  const order = shown.map(([id]) => id);
  for (const s of stations) {
    for (const u of s.upstream) check(order.indexOf(u.station) < order.indexOf(s.id), `${u.station} is listed above ${s.id}`);
  }
  report.stations = order;

  // Replay of the demo window (the form's default: the last week) with the thresholds in force,
  // using the token saved above: the leads it raises and the comparison with the ledger.
  await page.click("[data-nav=replay]");
  await page.waitForSelector("#replay-run", { timeout: WAIT });
  check((await page.textContent("[data-nav=replay]")).trim() === "回放", "Chinese replay tab");
  await page.waitForSelector("#replay-stations option", { timeout: WAIT });
  check((await page.$$eval("#replay-stations option", (o) => o.length)) === stations.length, "every station can be chosen");
  await page.click("#replay-run");
  await page.waitForSelector("table.replay-leads tbody tr", { timeout: 4 * WAIT });
  const replayed = await page.$$eval("table.replay-leads tbody tr", (rows) =>
    rows.map((r) => ({ id: r.dataset.lead, diff: r.dataset.diff, linked: r.querySelector("a.lead-id") !== null })),
  );
  check(replayed.length > 0, "the replay raised leads");
  check(replayed.every((r) => r.linked === (r.diff !== "new")), "recorded leads are linked, new ones are not");
  check(replayed.some((r) => r.linked), "some replayed lead is one the live service recorded");
  const diffText = await page.textContent("#replay-diff");
  for (const k of ["same", "new", "missing", "changed"]) {
    check((await page.$$(`#replay-diff [data-diff=${k}]`)).length === 1, `the diff summary counts ${k}`);
  }
  check(diffText.includes("相同") && diffText.includes("新增"), "the diff summary is in Chinese");
  await eventually("the run button is enabled again", async () => check(!(await page.isDisabled("#replay-run")), "enabled"));
  report.replay = { leads: replayed.length, linked: replayed.filter((r) => r.linked).length };
  await page.screenshot({ path: path.join(OUT, "replay.png"), fullPage: true });

  // Nothing left the machine.
  const foreign = requests.filter((u) => {
    if (u.startsWith("data:") || u.startsWith("blob:")) return false;
    const host = new URL(u).hostname;
    return host !== "127.0.0.1" && host !== "localhost";
  });
  check(requests.length > 0, "requests were seen");
  check(foreign.length === 0, `requests left localhost: ${foreign.join(", ")}`);
  check(problems.length === 0, problems.join("; "));
  report.requests = requests.length;
  await browser.close();
  console.log(JSON.stringify(report));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
