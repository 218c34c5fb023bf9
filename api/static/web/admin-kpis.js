// #kpis: the KPI cards of this month, the MRR movements chart of the last twelve
// months and the receivables aging, from the `analytics` API; kept current by the
// `metricsUpdates` subscription (the server pushes when MRR or cash move).
import { card, el, replace, t, table } from "./tally.js";
import { minorAmount, money, monthStart, movementsChart, percent } from "./admin-lib.js";

const KPIS = `query($from: DateTime!, $to: DateTime!, $monthFrom: DateTime!) {
  analytics {
    mrr(from: $from, to: $to, interval: MONTH) {
      start currency mrr { formatted amountMinor } arr { formatted }
      new { amount formatted } expansion { amount formatted }
      contraction { amount formatted } churn { amount formatted }
      customers logoChurnRate grossMrrChurnRate
    }
    customersOverview(from: $monthFrom, to: $to) {
      currency paying arpa logoChurnRate grossMrrChurnRate mrr { formatted } arr { formatted }
    }
    cash(from: $monthFrom, to: $to) { currency collected { formatted } invoiced { formatted } }
    receivables {
      currency current { formatted } days1To30 { formatted } days31To60 { formatted }
      days61To90 { formatted } over90Days { formatted } total { formatted }
    }
  }
}`;

const LIVE = `subscription { metricsUpdates { at } }`;

function currencies(analytics) {
  const seen = new Set();
  for (const list of [analytics.customersOverview, analytics.mrr, analytics.cash]) {
    for (const row of list) seen.add(row.currency);
  }
  return [...seen];
}

function cards(analytics, currency) {
  const overview = analytics.customersOverview.find((o) => o.currency === currency);
  const cash = analytics.cash.filter((c) => c.currency === currency).at(-1);
  return el(
    "div",
    { class: "grid", "data-currency": currency },
    card(t("kpi.mrr"), overview ? money(overview.mrr) : "—", "kpi-mrr"),
    card(t("kpi.arr"), overview ? money(overview.arr) : "—", "kpi-arr"),
    card(t("kpi.customers"), overview ? String(overview.paying) : "0", "kpi-customers"),
    card(t("kpi.churn"), overview ? percent(overview.logoChurnRate) : "—", "kpi-churn"),
    card(t("kpi.arpu"), overview ? minorAmount(overview.arpa, currency) : "—", "kpi-arpu"),
    card(t("kpi.collected"), cash ? money(cash.collected) : "—", "kpi-collected"),
  );
}

function movements(analytics, currency) {
  const points = analytics.mrr.filter((p) => p.currency === currency);
  const chart = el("div", { class: "chart", "data-testid": "mrr-chart", role: "img", "aria-label": t("chart.label", { currency }) });
  const rows = points.map((p) => [
    new Intl.DateTimeFormat(document.documentElement.lang, { year: "numeric", month: "short", timeZone: "UTC" }).format(new Date(p.start)),
    p.new.formatted,
    p.expansion.formatted,
    p.contraction.formatted,
    p.churn.formatted,
    p.mrr.formatted,
  ]);
  const data = table(
    t("chart.table", { currency }),
    [t("month"), t("movement.new"), t("movement.expansion"), t("movement.contraction"), t("movement.churn"), t("kpi.mrr")],
    rows,
    { "data-testid": "mrr-table" },
  );
  const format = (value) => new Intl.NumberFormat(document.documentElement.lang, { style: "currency", currency, maximumFractionDigits: 0 }).format(value);
  return { node: el("div", {}, chart, el("details", {}, el("summary", {}, t("chart.data")), data)), draw: () => movementsChart(chart, points, format) };
}

function aging(analytics) {
  const rows = analytics.receivables.map((r) => [
    r.currency,
    money(r.current),
    money(r.days1To30),
    money(r.days31To60),
    money(r.days61To90),
    money(r.over90Days),
    money(r.total),
  ]);
  if (!rows.length) return el("p", { class: "muted" }, t("receivables.none"));
  return table(
    t("receivables.caption"),
    [t("currency"), t("receivables.current"), "1–30", "31–60", "61–90", "90+", t("total")],
    rows,
    { "data-testid": "receivables" },
  );
}

export async function renderKpis(view, ctx) {
  const now = new Date();
  const variables = { from: monthStart(now, -11), to: monthStart(now, 1), monthFrom: monthStart(now) };
  const charts = [];
  const draw = async () => {
    const { analytics } = await ctx.api.request(KPIS, variables);
    const parts = [el("h1", {}, t("kpi.title"))];
    const list = currencies(analytics);
    if (!list.length) parts.push(el("p", { class: "muted" }, t("kpi.empty")));
    const pending = [];
    for (const currency of list) {
      const chart = movements(analytics, currency);
      pending.push(chart.draw);
      parts.push(
        el(
          "section",
          { "data-testid": `kpis-${currency}` },
          el("h2", {}, t("kpi.month", { currency })),
          cards(analytics, currency),
          el("h3", {}, t("chart.title")),
          chart.node,
        ),
      );
    }
    parts.push(el("section", {}, el("h2", {}, t("receivables.title")), aging(analytics)));
    parts.push(el("p", { class: "muted", role: "status", "data-testid": "kpi-updated" }, t("kpi.updated", { at: new Date().toLocaleTimeString(document.documentElement.lang) })));
    charts.splice(0).forEach((c) => c.destroy());
    replace(view, parts);
    for (const drawChart of pending) charts.push(drawChart());
  };
  await draw();
  let busy = false;
  let again = false;
  const refresh = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      await draw();
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  };
  const stop = ctx.api.subscribe(LIVE, {}, () => refresh(), () => {});
  return () => {
    stop();
    charts.forEach((c) => c.destroy());
  };
}
