// Plan (change with the proration preview first, cancel at period end, reactivate,
// a scheduled change) and credits (the wallet, buying credits) of the customer portal.

import { el, formatDate, formatNumber, notice, replace, t, table } from "./tally.js";
import { confirmPayment, credits, frame, portal, showError, statusBadge } from "./portal-lib.js";

const SUB_FIELDS = `id status currency quantity cancelAtPeriodEnd currentPeriodStart currentPeriodEnd
  plan { id name intervalMonths monthlyCredits dailyCreditLimit }
  unitPrice { formatted } scheduledChange { planId quantity effectiveAt unitPrice { formatted } }`;
const PLAN = `{
  subscriptions(first: 10) { nodes { ${SUB_FIELDS} } }
  plans(first: 100, status: ACTIVE) { nodes { id name selfService intervalMonths monthlyCredits dailyCreditLimit prices { currency formatted } } } }`;
const PREVIEW = `query($id: ID!, $input: ChangeSubscriptionInput!) {
  subscriptionChangePreview(id: $id, input: $input) {
    lines { description amount { formatted } } subtotal { formatted } tax { formatted }
    total { formatted } periodStart periodEnd } }`;
const RESULT = `__typename ... on SubscriptionSuccess { subscription { id status plan { name } } }
  ... on Error { code message field }`;
const CHANGE = `mutation($id: ID!, $input: ChangeSubscriptionInput!) { changeSubscription(id: $id, input: $input) { ${RESULT} } }`;
const CANCEL = `mutation($id: ID!) { cancelSubscription(id: $id, atPeriodEnd: true) { ${RESULT} } }`;
const REACTIVATE = `mutation($id: ID!) { reactivateSubscription(id: $id) { ${RESULT} } }`;
const UNSCHEDULE = `mutation($id: ID!) { cancelScheduledChange(id: $id) { ${RESULT} } }`;

function interval(months) {
  return months === 12 ? t("plan.yearly") : months === 1 ? t("plan.monthly") : t("plan.everyMonths", { n: months });
}

export async function planPage(main) {
  const { content, notices } = frame(main, t("plan.title"));
  const data = await portal.api.request(PLAN);
  const sub = data.subscriptions.nodes.find((s) => s.status !== "CANCELED");
  if (!sub) {
    replace(content, el("p", {}, t("plan.none")));
    return notices;
  }
  const plans = data.plans.nodes;
  const reload = async (message) => {
    await planPage(main);
    if (message) notice(main.querySelector(".notices"), message, "ok");
  };
  const run = async (query, vars, message) => {
    try {
      await portal.api.mutate(query, vars, query.match(/\{ (\w+)\(/)[1]);
      await reload(message);
    } catch (error) {
      showError(notices, error);
    }
  };
  const scheduledPlan = sub.scheduledChange && plans.find((p) => p.id === sub.scheduledChange.planId);
  const current = el(
    "section",
    { class: "card", "aria-labelledby": "current-plan" },
    el("h2", { id: "current-plan" }, t("plan.current")),
    el("p", { class: "value", id: "plan-name" }, sub.plan.name),
    el("p", {}, statusBadge("subscription", sub.status), " · ", sub.unitPrice.formatted, " · ", interval(sub.plan.intervalMonths)),
    el("p", { class: "muted" }, t("plan.period", { start: formatDate(sub.currentPeriodStart), end: formatDate(sub.currentPeriodEnd) })),
    sub.cancelAtPeriodEnd
      ? el("div", {},
          el("p", { class: "status warn", id: "cancel-state" }, t("plan.endsOn", { date: formatDate(sub.currentPeriodEnd) })),
          el("button", { type: "button", class: "primary", onclick: () => run(REACTIVATE, { id: sub.id }, t("plan.reactivated")) }, t("plan.reactivate")))
      : el("button", { type: "button", class: "danger", onclick: () => run(CANCEL, { id: sub.id }, t("plan.canceled", { date: formatDate(sub.currentPeriodEnd) })) }, t("plan.cancel")),
    sub.scheduledChange
      ? el("div", {},
          el("p", { id: "scheduled" }, t("plan.scheduled", { plan: scheduledPlan ? scheduledPlan.name : sub.scheduledChange.planId, date: formatDate(sub.scheduledChange.effectiveAt) })),
          el("button", { type: "button", onclick: () => run(UNSCHEDULE, { id: sub.id }, t("plan.unscheduled")) }, t("plan.unschedule")))
      : null,
  );

  // Change: choose, read the preview, then confirm (the button needs a fresh preview).
  const others = plans.filter((p) => p.id !== sub.plan.id && p.selfService);
  const preview = el("div", { id: "preview", "aria-live": "polite" });
  const confirm = el("button", { type: "button", class: "primary", id: "confirm-change", disabled: true }, t("plan.confirm"));
  const priceIn = (p) => (p.prices.find((m) => m.currency === sub.currency) || {}).formatted || "—";
  const form = el(
    "form",
    { id: "change-plan" },
    el("h2", {}, t("plan.change")),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "new-plan" }, t("plan.newPlan")),
        el("select", { id: "new-plan", name: "plan" }, others.map((p) => el("option", { value: p.id }, `${p.name} — ${priceIn(p)} ${interval(p.intervalMonths)} — ${credits(p.monthlyCredits)}`)))),
      el("div", {}, el("label", { for: "when" }, t("plan.when")),
        el("select", { id: "when", name: "when" }, el("option", { value: "IMMEDIATELY" }, t("plan.now")), el("option", { value: "PERIOD_END" }, t("plan.atPeriodEnd")))),
      el("button", { type: "submit" }, t("plan.preview")),
    ),
    preview,
    confirm,
  );
  const input = () => ({ planId: form.elements.plan.value, effective: form.elements.when.value });
  let previewed = null;
  form.addEventListener("change", () => {
    confirm.disabled = true;
    previewed = null;
    replace(preview);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    confirm.disabled = true;
    try {
      const chosen = input();
      const data = await portal.api.request(PREVIEW, { id: sub.id, input: chosen });
      const p = data.subscriptionChangePreview;
      if (!p) {
        replace(preview, el("p", {}, t("plan.nothingDue")));
      } else {
        const rows = p.lines.map((l) => [l.description, l.amount.formatted]);
        rows.push([t("plan.tax"), p.tax.formatted]);
        rows.push([el("strong", {}, t("plan.total")), el("strong", { id: "preview-total" }, p.total.formatted)]);
        replace(preview, table(chosen.effective === "PERIOD_END" ? t("plan.previewNext") : t("plan.previewNow"), [t("plan.line"), t("plan.amount")], rows));
      }
      previewed = chosen;
      confirm.disabled = false;
    } catch (error) {
      showError(preview, error);
    }
  });
  confirm.addEventListener("click", () => {
    if (!previewed) return;
    confirm.disabled = true;
    run(CHANGE, { id: sub.id, input: previewed }, t("plan.changed"));
  });
  replace(content, current, others.length ? el("section", { class: "card" }, form) : null);
  return notices;
}

// -- credits ------------------------------------------------------------------------------

const WALLET = `{ creditWallet { balance reserved available usedToday dailyLimit remainingToday
  nextResetAt blocked blockedReason modules lots { kind remaining expiresAt } }
  viewer { customer { currency } } }`;
const BUY = `mutation($c: ID!, $n: BigInt!) { purchaseCredits(customerId: $c, credits: $n) {
  __typename ... on CreditPurchaseSuccess { purchase { id credits status
    invoice { id number status total { formatted }
      payments { id status failureMessage amount { formatted } } } } }
  ... on Error { code message field } } }`;

export async function creditsPage(main) {
  const { content, notices } = frame(main, t("credits.title"));
  const data = await portal.api.request(WALLET);
  const w = data.creditWallet;
  const result = el("div", { id: "purchase-result", "aria-live": "polite" });
  const form = el(
    "form",
    { id: "buy-credits" },
    el("h2", {}, t("credits.buy")),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "amount" }, t("credits.amount")), el("input", { id: "amount", name: "amount", type: "number", min: "1", step: "1", value: "100", required: true })),
      el("button", { type: "submit", class: "primary" }, t("credits.buyButton")),
    ),
    el("p", { class: "muted" }, t("credits.buyHelp")),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(result);
    try {
      const done = await portal.api.mutate(BUY, { c: portal.customerId, n: form.elements.amount.value }, "purchaseCredits");
      const p = done.purchase;
      notice(result, t("credits.bought", { n: formatNumber(p.credits), total: p.invoice ? p.invoice.total.formatted : "—", status: t(`purchase.${p.status}`) }), "ok");
      const waiting = p.invoice && p.invoice.payments.find((x) => x.status === "REQUIRES_ACTION");
      if (waiting) confirmPayment(result, waiting, () => {});
    } catch (error) {
      showError(result, error);
    }
  });
  const lots = table(
    t("credits.lots"),
    [t("credits.kind"), t("credits.remaining"), t("credits.expires")],
    w.lots.map((l) => [t(`entry.${l.kind.toUpperCase()}`), formatNumber(l.remaining), l.expiresAt ? formatDate(l.expiresAt) : "—"]),
  );
  replace(
    content,
    el("div", { class: "grid" },
      el("div", { class: "card" }, el("p", { class: "label" }, t("overview.balance")), el("p", { class: "value", id: "balance" }, credits(w.balance))),
      el("div", { class: "card" }, el("p", { class: "label" }, t("credits.available")), el("p", { class: "value" }, credits(w.available))),
      el("div", { class: "card" }, el("p", { class: "label" }, t("credits.usedToday")), el("p", { class: "value" },
        w.dailyLimit === null ? formatNumber(w.usedToday) : `${formatNumber(w.usedToday)} / ${formatNumber(w.dailyLimit)}`)),
      el("div", { class: "card" }, el("p", { class: "label" }, t("credits.resets")), el("p", { class: "value" }, formatDate(w.nextResetAt, { dateStyle: "medium", timeStyle: "short" }))),
    ),
    w.blocked ? el("p", { class: "notice error" }, t("overview.blocked"), w.blockedReason ? `: ${w.blockedReason}` : "") : null,
    el("section", {}, lots),
    el("section", { class: "card" }, form),
  );
  return notices;
}
