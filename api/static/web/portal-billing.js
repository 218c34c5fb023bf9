// Invoices (status, PDF, pay now with 3-D Secure) and payment methods (the sandbox
// provider's test cards) of the customer portal.

import { el, formatDate, notice, replace, t, table } from "./tally.js";
import { confirmPayment, frame, portal, showError, statusBadge } from "./portal-lib.js";

// Words that tell a screen reader which row a button acts on (the visible text stays
// the start of the accessible name).
function hidden(text) {
  return el("span", { class: "visually-hidden" }, ` ${text}`);
}

const INVOICES = `{
  invoices(first: 100) { nodes { id number status billingReason createdAt finalizedAt dueAt overdue
    total { formatted } amountDue { amountMinor formatted }
    payments { id status attempt failureMessage amount { formatted } } } } }`;

const PAY = `mutation($id: ID!, $pm: ID) { payInvoice(invoiceId: $id, paymentMethodId: $pm) {
  __typename ... on PaymentSuccess { payment { id status failureMessage amount { formatted } } }
  ... on Error { code message field } } }`;

// Pay an open invoice now; a payment that needs the bank's confirmation asks for it.
async function pay(invoiceId, area, onDone) {
  try {
    const result = await portal.api.mutate(PAY, { id: invoiceId, pm: null }, "payInvoice");
    const payment = result.payment;
    if (payment.status === "REQUIRES_ACTION") confirmPayment(area, payment, onDone);
    else if (payment.status === "SUCCEEDED") {
      notice(area, t("invoices.paid"), "ok");
      onDone(payment);
    } else notice(area, t("3ds.failed", { message: payment.failureMessage || payment.status }), "error");
  } catch (error) {
    showError(area, error);
  }
}

export async function invoicesPage(main) {
  const { content, notices } = frame(main, t("invoices.title"));
  const data = await portal.api.request(INVOICES);
  const invoices = data.invoices.nodes.filter((i) => i.status !== "DRAFT");
  const actions = el("div", { id: "payment-actions", "aria-live": "polite" });
  // After a payment: the list as it now stands, and what became of the payment.
  const reload = async (payment) => {
    await invoicesPage(main);
    const notices = main.querySelector(".notices");
    if (payment && payment.status === "SUCCEEDED") notice(notices, t("invoices.paid"), "ok");
    else if (payment) notice(notices, t("3ds.failed", { message: payment.failureMessage || payment.status }), "error");
  };
  const rows = invoices.map((inv) => {
    const number = inv.number || inv.id;
    const waiting = inv.payments.find((p) => p.status === "REQUIRES_ACTION");
    const cells = [
      el("a", { href: `/invoices/${encodeURIComponent(inv.id)}.pdf` }, t("invoices.pdf"), hidden(number)),
    ];
    if (waiting) {
      cells.push(" ", el("button", { type: "button", onclick: () => confirmPayment(actions, waiting, reload) }, t("invoices.confirm")));
    } else if (inv.status === "OPEN" && Number(inv.amountDue.amountMinor) > 0) {
      cells.push(" ", el("button", { type: "button", class: "primary", onclick: () => pay(inv.id, actions, reload) }, t("invoices.pay"), hidden(number)));
    }
    return [
      number,
      formatDate(inv.finalizedAt || inv.createdAt),
      t(`reason.${inv.billingReason}`) === `reason.${inv.billingReason}` ? inv.billingReason : t(`reason.${inv.billingReason}`),
      el("span", {}, statusBadge("invoice", inv.status), inv.overdue ? el("span", { class: "status bad" }, ` · ${t("invoices.overdue")}`) : null),
      inv.total.formatted,
      inv.amountDue.formatted,
      el("span", {}, cells),
    ];
  });
  replace(
    content,
    invoices.length
      ? table(
          t("invoices.caption"),
          [t("invoices.number"), t("invoices.date"), t("invoices.reason"), t("invoices.status"), t("invoices.total"), t("invoices.due"), t("invoices.actions")],
          rows,
          { id: "invoices" },
        )
      : el("p", {}, t("invoices.none")),
    actions,
  );
  return notices;
}

// -- payment methods --------------------------------------------------------------------

const METHODS = `{ viewer { customer { id paymentProvider paymentMethods {
  id brand last4 expMonth expYear isDefault provider } } } }`;
const ATTACH = `mutation($c: ID!, $token: String!, $def: Boolean!) {
  attachPaymentMethod(customerId: $c, token: $token, makeDefault: $def) {
    __typename ... on PaymentMethodSuccess { paymentMethod { id brand last4 } }
    ... on Error { code message field } } }`;
const DEFAULT = `mutation($id: ID!) { setDefaultPaymentMethod(id: $id) {
  __typename ... on PaymentMethodSuccess { paymentMethod { id } } ... on Error { code message field } } }`;
const DETACH = `mutation($id: ID!) { detachPaymentMethod(id: $id) {
  __typename ... on PaymentMethodSuccess { paymentMethod { id } } ... on Error { code message field } } }`;

// The sandbox provider's test cards (Stripe's test payment methods).
const TEST_CARDS = [
  ["pm_card_visa", "cards.visa"],
  ["pm_card_mastercard", "cards.mastercard"],
  ["pm_card_authenticationRequired", "cards.threeDS"],
  ["pm_card_chargeDeclined", "cards.declined"],
  ["pm_card_insufficientFunds", "cards.insufficient"],
];

export async function paymentMethodsPage(main) {
  const { content, notices } = frame(main, t("methods.title"));
  const data = await portal.api.request(METHODS);
  const methods = data.viewer.customer.paymentMethods;
  const reload = () => paymentMethodsPage(main);
  const act = async (query, id, field) => {
    try {
      await portal.api.mutate(query, { id }, field);
      await reload();
    } catch (error) {
      showError(notices, error);
    }
  };
  const rows = methods.map((m) => [
    `${m.brand} •••• ${m.last4}`,
    m.expMonth ? `${String(m.expMonth).padStart(2, "0")}/${m.expYear}` : "—",
    m.isDefault ? el("span", { class: "status good" }, t("methods.default")) : "",
    el(
      "span",
      {},
      m.isDefault ? null : el("button", { type: "button", onclick: () => act(DEFAULT, m.id, "setDefaultPaymentMethod") }, t("methods.makeDefault"), hidden(`•••• ${m.last4}`)),
      " ",
      el("button", { type: "button", onclick: () => act(DETACH, m.id, "detachPaymentMethod") }, t("methods.remove"), hidden(`•••• ${m.last4}`)),
    ),
  ]);
  const form = el(
    "form",
    {
      id: "add-card",
      onsubmit: async (event) => {
        event.preventDefault();
        const button = form.querySelector("button");
        button.disabled = true;
        try {
          const result = await portal.api.mutate(
            ATTACH,
            { c: portal.customerId, token: form.elements.card.value, def: form.elements.makeDefault.checked },
            "attachPaymentMethod",
          );
          await reload();
          notice(main.querySelector(".notices"), t("methods.added", { last4: result.paymentMethod.last4 }), "ok");
        } catch (error) {
          showError(notices, error);
          button.disabled = false;
        }
      },
    },
    el("h2", {}, t("methods.add")),
    el("p", { class: "muted" }, t("methods.sandbox")),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "card" }, t("methods.card")), el("select", { id: "card", name: "card" }, TEST_CARDS.map(([token, key]) => el("option", { value: token }, t(key))))),
      el("div", {}, el("label", { for: "makeDefault" }, el("input", { type: "checkbox", id: "makeDefault", name: "makeDefault", checked: true }), " ", t("methods.setDefault"))),
      el("button", { type: "submit", class: "primary" }, t("methods.addButton")),
    ),
  );
  replace(
    content,
    methods.length
      ? table(t("methods.caption"), [t("methods.card"), t("methods.expires"), t("methods.status"), t("methods.actions")], rows, { id: "methods" })
      : el("p", { id: "methods" }, t("methods.none")),
    el("section", { class: "card" }, form),
  );
  return notices;
}
