// The customer portal's shared pieces: the session's Api, the page frame (an <h1>
// and a notice area per page), typed-error notices, the credits chart and the CSV
// downloads. Every figure comes from Tally's GraphQL API with the session's own
// permissions; money is always the server's `formatted` string.

import { Api, ApiError, el, formatDate, formatNumber, isoDay, notice, replace, t } from "./tally.js";

export const portal = {
  session: null,
  api: null,
  customerId: null,
  live: new Set(), // listeners of the creditBalance feed: fn(event)
  lastBalance: null, // the feed's latest event
};

export function start(session) {
  portal.session = session;
  portal.api = new Api(session);
  portal.customerId = session.customer.id;
  portal.api.subscribe(
    "subscription { creditBalance { customerId balance reserved usedToday blocked committedAt } }",
    {},
    (data) => {
      portal.lastBalance = data.creditBalance;
      for (const listener of portal.live) listener(data.creditBalance);
    },
    (errors) => console.error("creditBalance feed:", errors),
  );
}

// A page: <h1> then a notice area then its content; returns {content, notices}.
export function frame(main, title) {
  const notices = el("div", { class: "notices", "aria-live": "polite" });
  const content = el("div", { class: "content" });
  replace(main, el("h1", { id: "page-title", tabindex: "-1" }, title), notices, content);
  return { content, notices };
}

// An API failure as a notice (a typed error's own message, never swallowed).
export function showError(container, error) {
  const text = error instanceof ApiError && error.code ? `${error.message} (${error.code})` : String(error.message || error);
  notice(container, t("error", { message: text }), "error");
}

export function statusLabel(kind, value) {
  const key = `${kind}.${value}`;
  const text = t(key);
  return text === key ? value : text;
}

const GOOD = new Set(["PAID", "ACTIVE", "TRIALING", "SUCCEEDED"]);
const BAD = new Set(["UNCOLLECTIBLE", "VOID", "CANCELED", "FAILED", "PAST_DUE", "UNPAID"]);

export function statusBadge(kind, value) {
  const tone = GOOD.has(value) ? "good" : BAD.has(value) ? "bad" : "warn";
  return el("span", { class: `status ${tone}` }, statusLabel(kind, value));
}

export function credits(value) {
  return t("credits", { n: formatNumber(value) });
}

// -- the 30 days chart ---------------------------------------------------------------

export const DAYS = 30;

export function lastDays(today = new Date()) {
  const days = [];
  for (let i = DAYS - 1; i >= 0; i--) {
    days.push(isoDay(new Date(today.getTime() - i * 86_400_000)));
  }
  return days;
}

const LEDGER = `query($after: String, $since: DateTime) {
  creditLedger(first: 100, after: $after, since: $since) {
    nodes { id kind amount balanceAfter module action quantity requestId reason localDay createdAt }
    pageInfo { hasNextPage endCursor } } }`;

// Every ledger entry since `since` (oldest first), at most `pages` pages of 100.
export async function ledger(since = null, pages = 50) {
  const entries = [];
  let after = null;
  for (let i = 0; i < pages; i++) {
    const data = await portal.api.request(LEDGER, { after, since });
    entries.push(...data.creditLedger.nodes);
    if (!data.creditLedger.pageInfo.hasNextPage) break;
    after = data.creditLedger.pageInfo.endCursor;
  }
  return entries;
}

const USAGE = `query($from: Date!, $to: Date!) {
  creditUsage(fromDay: $from, toDay: $to) { day module credits consumptions }
  creditWallet { balance usedToday dailyLimit } }`;

// The chart's data: credits used per day (creditUsage) and the balance at each day's
// end (the ledger's balanceAfter), the last day being the wallet as it is now.
export async function usageSeries() {
  const days = lastDays();
  const since = new Date(Date.now() - DAYS * 86_400_000).toISOString();
  const [data, entries] = await Promise.all([
    portal.api.request(USAGE, { from: days[0], to: days[days.length - 1] }),
    ledger(since, 10),
  ]);
  const used = new Map(days.map((d) => [d, 0]));
  for (const row of data.creditUsage) {
    if (used.has(row.day)) used.set(row.day, used.get(row.day) + Number(row.credits));
  }
  const endOfDay = new Map();
  for (const e of entries) endOfDay.set(isoDay(new Date(e.createdAt)), Number(e.balanceAfter));
  let running = entries.length ? Number(entries[0].balanceAfter) - Number(entries[0].amount) : Number(data.creditWallet.balance);
  const balance = days.map((d) => (running = endOfDay.has(d) ? endOfDay.get(d) : running));
  balance[balance.length - 1] = Number(data.creditWallet.balance);
  return { days, used: days.map((d) => used.get(d)), balance, usage: data.creditUsage, entries };
}

// uPlot with two scales: the day's use as bars (left axis), the balance as a line
// (right axis). Returns {update(series)} for live events.
export function creditsChart(figure, series) {
  const plot = el("div", { class: "chart", role: "img", "aria-label": t("chart.label") });
  const caption = el("figcaption", { id: "chart-summary" });
  replace(figure, plot, caption);
  figure.style.margin = "0"; // the card's padding is the frame (no inline style attributes in HTML)
  const x = series.days.map((d) => Date.parse(`${d}T12:00:00Z`) / 1000);
  let chart = null;
  const draw = () => {
    const width = Math.max(320, (figure.clientWidth || 760) - 40);
    const opts = {
      width,
      height: 260,
      series: [
        { label: t("chart.day"), value: (u, v) => (v === null ? "—" : formatDate(new Date(v * 1000).toISOString())) },
        { label: t("chart.used"), scale: "used", stroke: "#0b5cad", fill: "rgba(11,92,173,0.35)", paths: uPlot.paths.bars({ size: [0.6, 40] }) },
        { label: t("chart.balance"), scale: "balance", stroke: "#1a6b34", width: 2 },
      ],
      scales: { used: { range: (u, min, max) => [0, Math.max(10, max * 1.2)] } },
      axes: [{}, { scale: "used", size: 60 }, { scale: "balance", side: 1, size: 70, grid: { show: false } }],
    };
    chart = new uPlot(opts, [x, series.used, series.balance], plot);
  };
  const summarise = () => {
    const total = series.used.reduce((a, b) => a + b, 0);
    figure.dataset.usedToday = String(series.used[series.used.length - 1]);
    figure.dataset.balance = String(series.balance[series.balance.length - 1]);
    caption.textContent = t("chart.summary", {
      total: formatNumber(total),
      today: formatNumber(series.used[series.used.length - 1]),
      balance: formatNumber(series.balance[series.balance.length - 1]),
    });
  };
  draw();
  summarise();
  return {
    // A creditBalance event: today's bar and the balance move at once.
    update(event) {
      series.used[series.used.length - 1] = Number(event.usedToday);
      series.balance[series.balance.length - 1] = Number(event.balance);
      if (chart) chart.setData([x, series.used, series.balance]);
      summarise();
    },
  };
}

// Follow the feed while `node` is in the page.
export function follow(node, listener) {
  const wrapped = (event) => {
    if (!node.isConnected) portal.live.delete(wrapped);
    else listener(event);
  };
  portal.live.add(wrapped);
}

// -- CSV downloads (built here from GraphQL data: the API's permissions hold) -------

function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = typeof value === "object" ? JSON.stringify(value) : String(value);
  // Spreadsheet formulas (after leading blanks, which spreadsheets skip): quoted.
  if (/^[\s]*[=+\-@|\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(headers, rows) {
  return [headers, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = el("a", { href: url, download: filename, class: "visually-hidden" }, filename);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// -- 3-D Secure (the sandbox's confirmation step) ----------------------------------

const COMPLETE = `mutation($id: ID!, $ok: Boolean!) { completeSandboxAction(paymentId: $id, succeed: $ok) {
  __typename ... on PaymentSuccess { payment { id status failureMessage invoice { id status } } }
  ... on Error { code message field } } }`;

// A payment awaiting authentication: the bank's question, answered by the customer.
export function confirmPayment(container, payment, done) {
  const status = el("div", { "aria-live": "polite" });
  const answer = async (ok) => {
    for (const b of box.querySelectorAll("button")) b.disabled = true;
    try {
      const result = await portal.api.mutate(COMPLETE, { id: payment.id, ok }, "completeSandboxAction");
      const p = result.payment;
      if (done) await done(p); // may re-render the page, which then says what happened
      if (!status.isConnected) return;
      if (p.status === "SUCCEEDED") notice(status, t("3ds.succeeded"), "ok");
      else notice(status, t("3ds.failed", { message: p.failureMessage || statusLabel("payment", p.status) }), "error");
    } catch (error) {
      showError(status, error);
      for (const b of box.querySelectorAll("button")) b.disabled = false;
    }
  };
  const box = el(
    "section",
    { class: "card three-ds", "aria-labelledby": `tds-${payment.id}` },
    el("h2", { id: `tds-${payment.id}` }, t("3ds.title")),
    el("p", {}, t("3ds.text", { amount: payment.amount.formatted })),
    el(
      "div",
      { class: "row" },
      el("button", { type: "button", class: "primary", onclick: () => answer(true) }, t("3ds.confirm")),
      " ",
      el("button", { type: "button", onclick: () => answer(false) }, t("3ds.decline")),
    ),
    status,
  );
  container.append(box);
  return box;
}

export { formatDate };
