// #customer/<id>: one customer's subscriptions, invoices, payments, credit wallet
// (grant, block, unblock), usage of the last 30 days, and a portal sign-in link.
import { el, formatDate, formatNumber, isoDay, notice, replace, t, table } from "./tally.js";
import { canWrite, sectionTable, daysAgo, dateTime, field, fill, money, section, status, submitter } from "./admin-lib.js";

const CUSTOMER = `query($id: ID!) { customer(id: $id) {
  id externalId name email currency locale status delinquent creditsBlocked createdAt
  creditBalance { formatted } } }`;
const SUBSCRIPTIONS = `query($id: ID!) { subscriptions(customerId: $id, first: 50) { nodes {
  id status currency quantity currentPeriodStart currentPeriodEnd cancelAtPeriodEnd plan { name code } } } }`;
const INVOICES = `query($id: ID!) { invoices(customerId: $id, first: 50) { nodes {
  id number status total { formatted } amountDue { formatted } dueAt overdue createdAt pdfUrl } } }`;
const PAYMENTS = `query($id: ID!) { payments(customerId: $id, first: 50) { nodes {
  id status method amount { formatted } refunded { formatted } failureMessage createdAt invoice { number } } } }`;
const WALLET = `query($id: ID!) { creditWallet(customerId: $id) {
  balance reserved available usedToday dailyLimit remainingToday blocked blockedReason
  unblockedReason paymentOverdue paymentFailed modules lots { kind remaining expiresAt } } }`;
const USAGE = `query($id: ID!, $from: Date!, $to: Date!) {
  creditUsage(customerId: $id, fromDay: $from, toDay: $to) { day module credits consumptions } }`;
const WALLET_FIELDS = `... on CreditWalletSuccess { wallet { balance blocked blockedReason } }
  ... on Error { code message field }`;
const GRANT = `mutation($id: ID!, $amount: BigInt!, $reason: String!, $kind: CreditGrantKind!) {
  grantCredits(customerId: $id, amount: $amount, reason: $reason, kind: $kind) { __typename ${WALLET_FIELDS} } }`;
const BLOCK = `mutation($id: ID!, $reason: String) {
  blockCustomer(customerId: $id, reason: $reason) { __typename ${WALLET_FIELDS} } }`;
const UNBLOCK = `mutation($id: ID!, $reason: String) {
  unblockCustomer(customerId: $id, reason: $reason) { __typename ${WALLET_FIELDS} } }`;
const PORTAL_LINK = `mutation($id: ID!) { createPortalLink(customerId: $id) {
  __typename ... on PortalLinkSuccess { url expiresAt } ... on Error { code message field } } }`;

const INVOICE_STATUS = { PAID: "good", OPEN: "warn", UNCOLLECTIBLE: "bad", VOID: "muted", DRAFT: "muted" };
const PAYMENT_STATUS = { SUCCEEDED: "good", FAILED: "bad", CANCELED: "muted" };

function walletView(w) {
  const rows = [
    [t("wallet.balance"), formatNumber(w.balance)],
    [t("wallet.available"), formatNumber(w.available)],
    [t("wallet.reserved"), formatNumber(w.reserved)],
    [t("wallet.usedToday"), w.dailyLimit == null ? formatNumber(w.usedToday) : `${formatNumber(w.usedToday)} / ${formatNumber(w.dailyLimit)}`],
    [
      t("status"),
      w.blocked
        ? status(w.blockedReason ? t("wallet.blockedBecause", { reason: w.blockedReason }) : t("customer.blocked"), "bad")
        : w.paymentOverdue
          ? status(t("wallet.overdue"), "warn")
          : w.paymentFailed
            ? status(t("wallet.paymentFailed"), "warn")
            : status(w.unblockedReason ? t("wallet.unblockedBecause", { reason: w.unblockedReason }) : t("customer.ok"), "good"),
    ],
    [t("wallet.modules"), w.modules.join(", ") || "—"],
  ];
  const lots = w.lots.length
    ? table(
        t("wallet.lots"),
        [t("wallet.kind"), t("wallet.remaining"), t("wallet.expires")],
        w.lots.map((l) => [l.kind, formatNumber(l.remaining), l.expiresAt ? formatDate(l.expiresAt) : "—"]),
      )
    : null;
  return [
    el("dl", { class: "grid", "data-testid": "wallet" }, rows.map(([k, v]) => el("div", { class: "card" }, el("dt", { class: "label" }, k), el("dd", { class: "value" }, v)))),
    lots,
  ];
}

function walletForms(ctx, id, wallet, reload, out) {
  const grant = submitter(
    el(
      "form",
      { "aria-labelledby": "grant-title" },
      el("h3", { id: "grant-title" }, t("wallet.grant")),
      field("grant-amount", t("wallet.amount"), el("input", { id: "grant-amount", name: "amount", type: "number", min: "1", step: "1", required: true })),
      field("grant-reason", t("wallet.reason"), el("input", { id: "grant-reason", name: "reason", required: true })),
      field(
        "grant-kind",
        t("wallet.kind"),
        el("select", { id: "grant-kind", name: "kind" }, el("option", { value: "GRANT" }, t("wallet.kind.grant")), el("option", { value: "PROMOTION" }, t("wallet.kind.promotion"))),
      ),
      el("button", { type: "submit", class: "primary" }, t("wallet.grantButton")),
    ),
    out,
    async (data) => {
      const amount = String(data.get("amount"));
      const result = await ctx.api.mutate(GRANT, { id, amount, reason: data.get("reason"), kind: data.get("kind") }, "grantCredits");
      await reload();
      return t("wallet.granted", { amount: formatNumber(amount), balance: formatNumber(result.wallet.balance) });
    },
  );
  const block = wallet.blocked
    ? submitter(
        el(
          "form",
          { "aria-labelledby": "unblock-title" },
          el("h3", { id: "unblock-title" }, t("wallet.unblock")),
          el("p", { class: "muted" }, wallet.blockedReason ? t("wallet.blockedBecause", { reason: wallet.blockedReason }) : t("customer.blocked")),
          field("unblock-reason", t("wallet.reason"), el("input", { id: "unblock-reason", name: "reason", required: true })),
          el("button", { type: "submit", class: "primary" }, t("wallet.unblockButton")),
        ),
        out,
        async (data) => {
          await ctx.api.mutate(UNBLOCK, { id, reason: data.get("reason") }, "unblockCustomer");
          await reload();
          return t("wallet.unblocked");
        },
      )
    : submitter(
        el(
          "form",
          { "aria-labelledby": "block-title" },
          el("h3", { id: "block-title" }, t("wallet.block")),
          field("block-reason", t("wallet.reason"), el("input", { id: "block-reason", name: "reason", required: true })),
          el("button", { type: "submit", class: "danger" }, t("wallet.blockButton")),
        ),
        out,
        async (data) => {
          await ctx.api.mutate(BLOCK, { id, reason: data.get("reason") }, "blockCustomer");
          await reload();
          return t("wallet.blocked");
        },
      );
  return el("div", { class: "forms" }, grant, block);
}

function portalLink(ctx, id) {
  const out = el("div", { "data-testid": "portal-link" });
  const form = submitter(
    el("form", {}, el("button", { type: "submit" }, t("portal.create"))),
    out,
    async () => {
      const link = await ctx.api.mutate(PORTAL_LINK, { id }, "createPortalLink");
      replace(
        out,
        el("label", { for: "portal-url" }, t("portal.url", { at: dateTime(link.expiresAt) })),
        el("input", { id: "portal-url", class: "link-output", readonly: true, value: link.url }),
      );
      out.querySelector("input").select();
      return null;
    },
  );
  return [form, out];
}

export async function renderCustomer(view, ctx, id) {
  const { customer } = await ctx.api.request(CUSTOMER, { id });
  if (!customer) {
    replace(view, el("h1", {}, t("customer.missing")), el("p", {}, el("a", { href: "#customers" }, t("nav.customers"))));
    return;
  }
  const writes = canWrite(ctx.session);
  const parts = {
    wallet: section(t("wallet.title"), "wallet-section"),
    subscriptions: section(t("subscriptions.title"), "subscriptions"),
    invoices: section(t("invoices.title"), "invoices"),
    payments: section(t("payments.title"), "payments"),
    usage: section(t("usage.title"), "usage"),
  };
  const header = el(
    "div",
    {},
    el("p", {}, el("a", { href: "#customers" }, t("customer.back"))),
    el("h1", { "data-testid": "customer-name" }, customer.name, " ", el("span", { class: "muted" }, customer.id)),
    el(
      "p",
      { class: "muted" },
      [customer.email, customer.externalId && t("externalIdIs", { id: customer.externalId }), customer.currency, t("createdOn", { date: formatDate(customer.createdAt) })].filter(Boolean).join(" · "),
    ),
  );
  const portal = writes ? el("section", {}, el("h2", {}, t("portal.title")), portalLink(ctx, id)) : null;
  replace(view, header, parts.wallet.node, portal, parts.subscriptions.node, parts.invoices.node, parts.payments.node, parts.usage.node);

  // Outside the part that reloads after each action, so its message stays.
  const outcome = el("div", { "data-testid": "wallet-outcome" });
  parts.wallet.node.append(outcome);
  const loadWallet = () =>
    fill(parts.wallet, async () => {
      const { creditWallet } = await ctx.api.request(WALLET, { id });
      return [walletView(creditWallet), writes ? walletForms(ctx, id, creditWallet, loadWallet, outcome) : null];
    });
  await Promise.all([
    loadWallet(),
    fill(parts.subscriptions, async () => {
      const { subscriptions } = await ctx.api.request(SUBSCRIPTIONS, { id });
      if (!subscriptions.nodes.length) return el("p", { class: "muted" }, t("subscriptions.none"));
      return sectionTable(
        t("subscriptions.title"),
        [t("subscriptions.plan"), t("status"), t("subscriptions.period"), t("subscriptions.quantity"), t("id")],
        subscriptions.nodes.map((s) => [
          s.plan ? s.plan.name : "—",
          status(s.cancelAtPeriodEnd ? t("subscriptions.ending", { status: s.status }) : s.status, s.status === "ACTIVE" || s.status === "TRIALING" ? "good" : "warn"),
          `${formatDate(s.currentPeriodStart)} – ${formatDate(s.currentPeriodEnd)}`,
          String(s.quantity),
          s.id,
        ]),
      );
    }),
    fill(parts.invoices, async () => {
      const { invoices } = await ctx.api.request(INVOICES, { id });
      if (!invoices.nodes.length) return el("p", { class: "muted" }, t("invoices.none"));
      return sectionTable(
        t("invoices.title"),
        [t("invoices.number"), t("status"), t("total"), t("invoices.due"), t("invoices.dueAt"), t("invoices.pdf")],
        invoices.nodes.map((i) => [
          i.number || i.id,
          status(i.overdue ? t("invoices.overdue") : i.status, i.overdue ? "bad" : INVOICE_STATUS[i.status] || ""),
          money(i.total),
          money(i.amountDue),
          i.dueAt ? formatDate(i.dueAt) : "—",
          i.number ? el("a", { href: i.pdfUrl, download: true }, t("invoices.download", { number: i.number })) : "—",
        ]),
      );
    }),
    fill(parts.payments, async () => {
      const { payments } = await ctx.api.request(PAYMENTS, { id });
      if (!payments.nodes.length) return el("p", { class: "muted" }, t("payments.none"));
      return sectionTable(
        t("payments.title"),
        [t("date"), t("status"), t("payments.amount"), t("payments.refunded"), t("payments.invoice"), t("payments.failure")],
        payments.nodes.map((p) => [
          dateTime(p.createdAt),
          status(p.status, PAYMENT_STATUS[p.status] || "warn"),
          money(p.amount),
          money(p.refunded),
          p.invoice?.number || "—",
          p.failureMessage || "—",
        ]),
      );
    }),
    fill(parts.usage, async () => {
      const now = new Date();
      const { creditUsage } = await ctx.api.request(USAGE, { id, from: isoDay(daysAgo(29, now)), to: isoDay(now) });
      if (!creditUsage.length) return el("p", { class: "muted" }, t("usage.none"));
      return table(
        t("usage.caption"),
        [t("date"), t("usage.module"), t("usage.credits"), t("usage.consumptions")],
        creditUsage.map((u) => [formatDate(u.day), u.module, formatNumber(u.credits), formatNumber(u.consumptions)]),
      );
    }),
  ]);
  if (!writes) notice(view.appendChild(el("div")), t("readOnly"), "info");
}
