// The page's shell: the hash router (#/leads?…, #/leads/ID, #/stations, #/replay), the language switch
// and the token button. Each view is `render(main, route) -> cleanup`; a view that polls stops
// when its cleanup runs.

import { credentials } from "./api.js";
import { askToken } from "./token.js";
import { lang, setLang, t, translateStatic } from "./i18n.js";
import { renderInbox } from "./inbox.js";
import { renderDetail } from "./detail.js";
import { renderStations } from "./stations.js";
import { renderReplay } from "./replay.js";

const main = document.getElementById("main");
let cleanup = null;

/** `{view, id, query}` of the current hash. */
function route() {
  const hash = location.hash.replace(/^#/, "") || "/leads";
  const [path, qs = ""] = hash.split("?");
  const parts = path.split("/").filter(Boolean);
  const query = new URLSearchParams(qs);
  if (parts[0] === "leads" && parts[1]) return { view: "detail", id: decodeURIComponent(parts[1]), query };
  if (parts[0] === "stations") return { view: "stations", query };
  if (parts[0] === "replay") return { view: "replay", query };
  return { view: "leads", query };
}

function show() {
  if (cleanup) cleanup();
  cleanup = null;
  const r = route();
  document.querySelectorAll("[data-nav]").forEach((a) => {
    const here = a.dataset.nav === (r.view === "detail" ? "leads" : r.view);
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  const views = { leads: renderInbox, detail: renderDetail, stations: renderStations, replay: renderReplay };
  cleanup = views[r.view](main, r) ?? null;
}

function chrome() {
  document.documentElement.lang = lang();
  translateStatic();
  document.getElementById("lang-button").textContent = t("lang.switch");
  document.getElementById("lang-button").setAttribute("lang", lang() === "en" ? "zh-CN" : "en");
  const c = credentials();
  document.getElementById("token-button").textContent = c
    ? t("token.change", { analyst: c.analyst })
    : t("token.set");
}

document.getElementById("lang-button").addEventListener("click", () => {
  setLang(lang() === "en" ? "zh-CN" : "en");
});
document.getElementById("token-button").addEventListener("click", () => askToken());
window.addEventListener("langchange", () => {
  chrome();
  show();
});
window.addEventListener("tokenchange", chrome);
window.addEventListener("hashchange", () => {
  show();
  main.focus({ preventScroll: true });
});
chrome();
show();
