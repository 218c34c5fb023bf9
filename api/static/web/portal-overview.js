// Overview (plan, status, next invoice, credits today) and usage (the 30 days chart,
// daily table, ledger, CSV exports) of the customer portal.

import { card, el, formatDate, formatNumber, replace, t, table } from "./tally.js";
import {
  creditsChart,
  credits,
  download,
  follow,
  frame,
  ledger,
  portal,
  showError,
  statusBadge,
  toCsv,
  usageSeries,
} from "./portal-lib.js";

const OVERVIEW = `{
  subscriptions(first: 10) { nodes { id status cancelAtPeriodEnd currentPeriodEnd
    plan { name } unitPrice { formatted } upcomingInvoice { total { formatted } periodStart } } }
  creditWallet { balance available usedToday dailyLimit remainingToday blocked blockedReason
    paymentOverdue nextResetAt } }`;

function todayMeter(wallet) {
  if (wallet.dailyLimit === null || wallet.dailyLimit === undefined) {
    return el("p", { class: "muted", id: "today-text" }, t("overview.todayUnlimited", { used: formatNumber(wallet.usedToday) }));
  }
  const share = Math.min(100, (100 * Number(wallet.usedToday)) / Math.max(1, Number(wallet.dailyLimit)));
  const bar = el("span", {});
  bar.style.width = `${share}%`;
  return el(
    "div",
    {},
    el("p", { class: "muted", id: "today-text" }, t("overview.today", { used: formatNumber(wallet.usedToday), limit: formatNumber(wallet.dailyLimit) })),
    el(
      "div",
      { class: "meter", role: "meter", "aria-valuemin": "0", "aria-valuemax": String(wallet.dailyLimit), "aria-valuenow": String(wallet.usedToday), "aria-label": t("overview.todayLabel") },
      bar,
    ),
  );
}

export async function overviewPage(main) {
  const { content, notices } = frame(main, t("overview.title"));
  const [data, series] = await Promise.all([portal.api.request(OVERVIEW), usageSeries()]);
  const sub = data.subscriptions.nodes.find((s) => s.status !== "CANCELED") || data.subscriptions.nodes[0];
  const wallet = data.creditWallet;
  const balance = el("span", { id: "balance" }, credits(wallet.balance));
  const today = el("div", { id: "today" }, todayMeter(wallet));
  const cards = [
    card(
      t("overview.plan"),
      sub ? sub.plan.name : t("overview.noPlan"),
      null,
      sub ? el("p", {}, statusBadge("subscription", sub.status)) : null,
      sub && sub.cancelAtPeriodEnd ? el("p", { class: "muted" }, t("plan.endsOn", { date: formatDate(sub.currentPeriodEnd) })) : null,
    ),
    card(
      t("overview.nextInvoice"),
      sub && sub.upcomingInvoice ? sub.upcomingInvoice.total.formatted : "—",
      null,
      sub && sub.upcomingInvoice ? el("p", { class: "muted" }, t("overview.on", { date: formatDate(sub.upcomingInvoice.periodStart) })) : null,
    ),
    card(t("overview.balance"), balance, null, today),
  ];
  if (wallet.blocked) {
    cards.push(card(t("overview.blocked"), wallet.blockedReason || (wallet.paymentOverdue ? t("overview.overdue") : "—")));
  }
  const figure = el("figure", { class: "card", id: "credits-chart" });
  replace(
    content,
    el("div", { class: "grid" }, cards),
    el("section", { "aria-labelledby": "chart-title" }, el("h2", { id: "chart-title" }, t("chart.title")), figure),
  );
  const chart = creditsChart(figure, series);
  follow(figure, (event) => {
    balance.textContent = credits(event.balance);
    replace(today, todayMeter({ ...wallet, usedToday: event.usedToday }));
    chart.update(event);
  });
  return notices;
}

export async function usagePage(main) {
  const { content, notices } = frame(main, t("usage.title"));
  const series = await usageSeries();
  const figure = el("figure", { class: "card", id: "credits-chart" });
  const exportStatus = el("div", { "aria-live": "polite" });
  const exportUsage = () => {
    const rows = series.usage.map((r) => [r.day, r.module, r.credits, r.consumptions]);
    download(`usage-${series.days[0]}-${series.days[series.days.length - 1]}.csv`, toCsv(["day", "module", "credits", "consumptions"], rows));
  };
  const exportLedger = async () => {
    try {
      const entries = await ledger();
      const headers = ["id", "createdAt", "kind", "amount", "balanceAfter", "module", "action", "quantity", "requestId", "reason", "localDay"];
      download("credit-ledger.csv", toCsv(headers, entries.map((e) => headers.map((h) => e[h]))));
    } catch (error) {
      showError(exportStatus, error);
    }
  };
  const daily = table(
    t("usage.dailyCaption"),
    [t("usage.day"), t("usage.module"), t("usage.credits"), t("usage.consumptions")],
    [...series.usage].reverse().map((r) => [formatDate(`${r.day}T12:00:00Z`), r.module, formatNumber(r.credits), formatNumber(r.consumptions)]),
  );
  const recent = [...series.entries].reverse().slice(0, 50);
  const entries = table(
    t("usage.ledgerCaption"),
    [t("usage.when"), t("usage.kind"), t("usage.amount"), t("usage.balanceAfter"), t("usage.module")],
    recent.map((e) => [formatDate(e.createdAt, { dateStyle: "medium", timeStyle: "short" }), t(`entry.${e.kind}`), formatNumber(e.amount), formatNumber(e.balanceAfter), e.module || "—"]),
  );
  replace(
    content,
    el("section", { "aria-labelledby": "chart-title" }, el("h2", { id: "chart-title" }, t("chart.title")), figure),
    el(
      "section",
      { "aria-labelledby": "export-title" },
      el("h2", { id: "export-title" }, t("usage.export")),
      el("button", { type: "button", id: "export-usage", onclick: exportUsage }, t("usage.exportUsage")),
      " ",
      el("button", { type: "button", id: "export-ledger", onclick: exportLedger }, t("usage.exportLedger")),
      exportStatus,
    ),
    el("section", {}, daily),
    el("section", {}, entries),
  );
  const chart = creditsChart(figure, series);
  follow(figure, (event) => chart.update(event));
  return notices;
}
