// #operations: the billing runs (what awaits one, the last runs), outbound webhook
// deliveries (with replay), provider events received, and payments that failed
// (dunning).
import { el, notice, replace, t, table } from "./tally.js";
import { canWrite, sectionTable, dateTime, fill, money, section, status } from "./admin-lib.js";

const DELIVERIES = `{ webhookDeliveries(first: 50) { totalCount nodes {
  status attempts nextAttemptAt lastStatusCode createdAt endpointId
  event { id type } attemptLog { statusCode error attemptedAt } } } }`;
const REPLAY = `mutation($event: ID!, $endpoint: ID) { replayWebhookEvent(eventId: $event, endpointId: $endpoint) {
  __typename ... on ReplaySuccess { queued } ... on Error { code message field } } }`;
const PROVIDER_EVENTS = `{ providerEvents(first: 50) { nodes { eventId provider type outcome note receivedAt } } }`;
const FAILED_PAYMENTS = `{ payments(status: FAILED, first: 50) { nodes {
  id method amount { formatted } failureCode failureMessage failedAt createdAt
  invoice { number status attemptCount nextPaymentAttemptAt customer { id name } } } } }`;

const BILLING = `{ billingStatus(lastRuns: 10) { dueNow nextDueAt runs {
  runId trigger startedAt finishedAt subscriptions invoices failures
  totals { formatted } errors { subscriptionId message } } } }`;

const DELIVERY_STATUS = { SUCCEEDED: "good", FAILED: "bad", PENDING: "warn" };
const OUTCOME = { PROCESSED: "good", IGNORED: "", FLAGGED: "warn" };

function lastAttempt(d) {
  const last = d.attemptLog.at(-1);
  if (!last) return "—";
  const what = last.statusCode ? `HTTP ${last.statusCode}` : last.error || "—";
  return `${dateTime(last.attemptedAt)} · ${what}`;
}

export async function renderOperations(view, ctx) {
  const writes = canWrite(ctx.session);
  const billing = section(t("ops.billingRuns"), "billing-runs");
  const deliveries = section(t("ops.deliveries"), "deliveries");
  const events = section(t("ops.providerEvents"), "provider-events");
  const dunning = section(t("ops.dunning"), "dunning");
  const outcome = el("div", { "data-testid": "replay-outcome" });
  const refresh = el("button", { type: "button", "data-testid": "refresh-deliveries" }, t("refresh"));
  replace(
    view,
    el("h1", {}, t("nav.operations")),
    billing.node,
    el("div", { class: "actions" }, refresh),
    outcome,
    deliveries.node,
    dunning.node,
    events.node,
  );

  const loadDeliveries = () =>
    fill(deliveries, async () => {
      const { webhookDeliveries } = await ctx.api.request(DELIVERIES);
      if (!webhookDeliveries.nodes.length) return el("p", { class: "muted" }, t("ops.noDeliveries"));
      const rows = webhookDeliveries.nodes.map((d) => {
        const replay = el(
          "button",
          {
            type: "button",
            disabled: !writes,
            "aria-label": t("ops.replayLabel", { event: d.event.id, endpoint: d.endpointId }),
            onclick: async (event) => {
              event.target.disabled = true;
              try {
                const result = await ctx.api.mutate(REPLAY, { event: d.event.id, endpoint: d.endpointId }, "replayWebhookEvent");
                notice(outcome, t("ops.replayed", { count: result.queued, event: d.event.id }), "ok");
                await loadDeliveries();
              } catch (error) {
                notice(outcome, t("error.action", { message: error.message, code: error.code || "" }), "error");
                event.target.disabled = false;
              }
            },
          },
          t("ops.replay"),
        );
        return [
          el("span", { "data-testid": "delivery-event" }, `${d.event.type} · ${d.event.id}`),
          d.endpointId,
          status(d.status, DELIVERY_STATUS[d.status]),
          el("span", { "data-testid": "delivery-attempts" }, t("ops.attempts", { count: d.attempts, logged: d.attemptLog.length })),
          lastAttempt(d),
          d.nextAttemptAt ? dateTime(d.nextAttemptAt) : "—",
          writes ? replay : null,
        ];
      });
      const headers = [t("ops.event"), t("ops.endpoint"), t("status"), t("ops.attemptsHeader"), t("ops.lastAttempt"), t("ops.nextAttempt")];
      if (writes) headers.push(t("actions"));
      return table(t("ops.deliveriesCaption", { count: webhookDeliveries.totalCount }), headers, rows, { "data-testid": "deliveries-table" });
    });
  refresh.addEventListener("click", () => loadDeliveries());

  await Promise.all([
    fill(billing, async () => {
      const { billingStatus: b } = await ctx.api.request(BILLING);
      const summary = el(
        "p",
        { "data-testid": "billing-due" },
        t("ops.billingDue", { count: b.dueNow }),
        " ",
        b.nextDueAt ? t("ops.billingNext", { at: dateTime(b.nextDueAt) }) : "",
      );
      if (!b.runs.length) return [summary, el("p", { class: "muted" }, t("ops.noBillingRuns"))];
      const runs = sectionTable(
        t("ops.billingRuns"),
        [t("ops.runStarted"), t("ops.runTrigger"), t("ops.runSubscriptions"), t("ops.runInvoices"), t("ops.runTotals"), t("ops.runFailures")],
        b.runs.map((r) => [
          dateTime(r.startedAt),
          r.trigger,
          String(r.subscriptions),
          String(r.invoices),
          r.totals.map((m) => m.formatted).join(", ") || "—",
          r.failures
            ? status(r.errors.map((e) => `${e.subscriptionId}: ${e.message}`).join("; "), "bad")
            : status("0", "good"),
        ]),
        { "data-testid": "billing-runs-table" },
      );
      return [summary, runs];
    }),
    loadDeliveries(),
    fill(events, async () => {
      const { providerEvents } = await ctx.api.request(PROVIDER_EVENTS);
      if (!providerEvents.nodes.length) return el("p", { class: "muted" }, t("ops.noProviderEvents"));
      return sectionTable(
        t("ops.providerEvents"),
        [t("date"), t("ops.provider"), t("ops.type"), t("ops.outcome"), t("ops.note"), t("id")],
        providerEvents.nodes.map((e) => [dateTime(e.receivedAt), e.provider, e.type, status(e.outcome, OUTCOME[e.outcome]), e.note || "—", e.eventId]),
      );
    }),
    fill(dunning, async () => {
      const { payments } = await ctx.api.request(FAILED_PAYMENTS);
      if (!payments.nodes.length) return el("p", { class: "muted" }, t("ops.noFailedPayments"));
      return table(
        t("ops.dunningCaption"),
        [t("date"), t("ops.customer"), t("payments.invoice"), t("payments.amount"), t("payments.failure"), t("ops.invoiceAttempts"), t("ops.nextRetry")],
        payments.nodes.map((p) => {
          const customer = p.invoice?.customer;
          return [
            dateTime(p.failedAt || p.createdAt),
            customer ? el("a", { href: `#customer/${encodeURIComponent(customer.id)}` }, customer.name) : "—",
            p.invoice ? `${p.invoice.number || "—"} (${p.invoice.status})` : "—",
            money(p.amount),
            [p.failureCode, p.failureMessage].filter(Boolean).join(": ") || "—",
            p.invoice ? String(p.invoice.attemptCount) : "—",
            p.invoice?.nextPaymentAttemptAt ? dateTime(p.invoice.nextPaymentAttemptAt) : "—",
          ];
        }),
      );
    }),
  ]);
}
