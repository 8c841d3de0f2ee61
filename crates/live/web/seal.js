// A lead's seal on its page: the checks of `riverwatch verify lead` as the API runs them
// (GET /api/leads/{id}/verification, without the replay) shown as one state — green verified,
// red a check failed, grey not sealed or not checkable — with the reason of every check; and
// the files a case is handed over with: the evidence bundle (zip) and the printable dossier in
// Chinese and in English. These GET endpoints need no token, so plain same-origin links do.

import { get } from "./api.js";
import { t } from "./i18n.js";
import { el, replace } from "./format.js";

/** The seal card of `lead`: its verification (loaded now) and its downloads. */
export function sealCard(lead) {
  const id = encodeURIComponent(lead.id);
  const state = el("div", { id: "verification", class: "verify", "data-state": "loading", role: "status" }, t("seal.loading"));
  const facts = el("dl", { class: "facts", id: "seal-facts" });
  const checks = el("ul", { class: "checks", id: "seal-checks" });
  get(`/api/leads/${id}/verification`)
    .then((v) => drawVerification(state, facts, checks, v))
    .catch((e) => drawUnverified(state, e));
  const file = (attrs, key) => el("a", { class: "button", ...attrs }, t(key));
  return el(
    "section",
    { "aria-labelledby": "h-seal", class: "card" },
    el("h2", { id: "h-seal" }, t("seal.title")),
    state,
    facts,
    checks,
    el(
      "p",
      { class: "buttons files" },
      file({ id: "bundle", href: `/api/leads/${id}/bundle`, download: `evidence-${lead.id}.zip` }, "seal.bundle"),
      file({ id: "dossier-zh", href: `/api/leads/${id}/dossier?lang=zh`, target: "_blank", rel: "noopener", lang: "zh-CN" }, "seal.dossier_zh"),
      file({ id: "dossier-en", href: `/api/leads/${id}/dossier?lang=en`, target: "_blank", rel: "noopener", lang: "en" }, "seal.dossier_en"),
    ),
    el("p", { class: "hint" }, t("seal.bundle_help")),
  );
}

function drawVerification(state, facts, checks, v) {
  const check = (name) => v.checks.find((c) => c.name === name);
  const failed = v.checks.filter((c) => !c.ok).map((c) => t(`seal.check.${c.name}`));
  state.dataset.state = v.ok ? "ok" : "failed";
  replace(state, v.ok ? t("seal.ok") : t("seal.failed", { checks: failed.join(t("list.sep")) }));
  const sig = check("signature");
  const ev = check("evidence");
  const signature = !sig
    ? t("seal.unknown")
    : !sig.ok
      ? t("seal.sig_bad", { reason: sig.detail })
      : v.signed_by
        ? t("seal.sig_ok", { key: short(v.signed_by) })
        : t("seal.sig_none");
  const evidence = !ev ? t("seal.unknown") : ev.ok ? t("seal.ev_ok") : t("seal.ev_bad", { reason: ev.detail });
  replace(
    facts,
    el("dt", {}, t("seal.sealed")),
    el("dd", { id: "seal-sealed" }, t("seal.entry", { entry: v.entry, revision: v.revision }), " ", el("code", { title: v.digest }, short(v.digest))),
    el("dt", {}, t("seal.signature")),
    el("dd", { id: "seal-signature", title: v.signed_by, "data-ok": String(Boolean(sig?.ok)), "data-signed": String(Boolean(v.signed_by)) }, signature),
    el("dt", {}, t("seal.evidence")),
    el("dd", { id: "seal-evidence", "data-ok": String(Boolean(ev?.ok)) }, evidence),
  );
  replace(
    checks,
    v.checks.map((c) =>
      el(
        "li",
        { class: c.ok ? "pass" : "fail", "data-check": c.name },
        el("strong", {}, `${c.ok ? "✓" : "✗"} ${t(`seal.check.${c.name}`)}`),
        " ",
        el("span", { lang: "en" }, c.detail),
      ),
    ),
  );
}

/** Grey: no sealed revision (404), or the check could not run; the API's reason is shown. */
function drawUnverified(state, e) {
  const unsealed = /no sealed revision/.test(e.message);
  state.dataset.state = unsealed ? "unsealed" : "error";
  replace(state, t(unsealed ? "seal.unsealed" : "seal.error"), " ", el("span", { class: "reason", lang: "en" }, e.message));
}

/** The first 12 hex digits of a digest or key, for display (the full value is in `title`). */
function short(hex) {
  return hex && hex.length > 12 ? `${hex.slice(0, 12)}…` : hex ?? "";
}
