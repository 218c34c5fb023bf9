// #exports: the export endpoints (GET /exports/<kind>.<format>, issue 17) and last
// month's KPI report. Plain links: the browser sends the session cookie.
import { el, replace, t, table } from "./tally.js";

// domain/reports/kinds.py
const KINDS = ["customers", "subscriptions", "invoices", "payments", "credit-ledger", "usage", "royalty-statements", "mrr-movements"];
const FORMATS = ["csv", "json", "xlsx"];

export async function renderExports(view) {
  const now = new Date();
  const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const month = last.toISOString().slice(0, 7);
  const rows = KINDS.map((kind) => [
    t(`export.${kind}`),
    el(
      "span",
      {},
      FORMATS.map((format) =>
        el("a", { href: `/exports/${kind}.${format}`, download: true, "aria-label": t("export.link", { kind: t(`export.${kind}`), format: format.toUpperCase() }) }, format.toUpperCase()),
      ),
    ),
  ]);
  replace(
    view,
    el("h1", {}, t("nav.exports")),
    el("section", { class: "exports" }, table(t("export.caption"), [t("export.kind"), t("export.formats")], rows, { "data-testid": "exports-table" })),
    el(
      "section",
      {},
      el("h2", {}, t("export.kpiTitle")),
      el("p", {}, el("a", { class: "button primary", href: `/v1/kpi-reports/${month}.pdf`, download: true, "data-testid": "kpi-report" }, t("export.kpiReport", { month }))),
    ),
  );
}
