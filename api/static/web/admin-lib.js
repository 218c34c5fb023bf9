// The admin console's own helpers (tally.js holds what the portal shares).
import { el, replace, notice, t, table, locale, formatDate } from "./tally.js";

// Analysts read; only admins write. The API refuses an analyst's mutation anyway,
// the console just does not offer it.
export function canWrite(session) {
  return session.role === "admin";
}

// ISO strings for the first instant of the UTC month `offset` months from `at`.
export function monthStart(at = new Date(), offset = 0) {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1)).toISOString();
}

export function daysAgo(n, at = new Date()) {
  return new Date(at.getTime() - n * 86_400_000);
}

// A Money from the API, as the server formatted it (CLDR rules, request locale).
export function money(m) {
  return m ? m.formatted : "—";
}

// A minor-unit decimal (e.g. ARPA "1000.00") in `currency`, formatted here.
export function minorAmount(value, currency) {
  if (value === null || value === undefined) return "—";
  const format = new Intl.NumberFormat(locale(), { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(Number(value) / 10 ** digits);
}

// A ratio ("0.5000") as a percentage; "—" when the API says there is none.
export function percent(value) {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(
    Number(value),
  );
}

export function dateTime(iso) {
  return formatDate(iso, { dateStyle: "medium", timeStyle: "short" });
}

// A table under a heading that already names it: its caption is for screen readers.
export function sectionTable(caption, headers, rows, attrs = {}) {
  const node = table(caption, headers, rows, attrs);
  node.querySelector("caption").className = "visually-hidden";
  return node;
}

export function status(text, kind) {
  return el("span", { class: `status ${kind}` }, text);
}

// A <section> with a heading and a body that loads on its own: one failing read
// (say, a permission the role lacks) leaves the others on the page.
export function section(title, testId) {
  const body = el("div", {}, el("p", { class: "muted" }, t("loading")));
  const node = el("section", { "data-testid": testId, "aria-busy": "true" }, el("h2", {}, title), body);
  return { node, body };
}

export async function fill(part, load) {
  try {
    replace(part.body, [await load()].flat(Infinity));
  } catch (error) {
    // The API decides what a role may read (an analyst sees no webhook log).
    if (error.code === "FORBIDDEN") replace(part.body, el("p", { class: "muted" }, t("error.forbidden")));
    else notice(part.body, t("error.load", { message: error.message }), "error");
  } finally {
    part.node.removeAttribute("aria-busy");
  }
}

// Runs `action` for a form's submit, with the button disabled meanwhile, and puts
// the outcome in `out` (role=status / alert).
export function submitter(form, out, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    try {
      const message = await action(new FormData(form));
      if (message) notice(out, message, "ok");
    } catch (error) {
      notice(out, t("error.action", { message: error.message, code: error.code || "" }), "error");
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return form;
}

export function field(id, label, input) {
  return [el("label", { for: id }, label), input];
}

// Previous/next buttons over Relay cursors: `cursors` is the stack of `after`
// values that led to the current page.
export function pager(pageInfo, cursors, go) {
  const previous = el(
    "button",
    { type: "button", disabled: cursors.length === 0, onclick: () => go(cursors.slice(0, -1)) },
    t("page.previous"),
  );
  const next = el(
    "button",
    {
      type: "button",
      disabled: !pageInfo.hasNextPage,
      onclick: () => go([...cursors, pageInfo.endCursor]),
    },
    t("page.next"),
  );
  return el("div", { class: "pager" }, previous, next);
}

const MOVEMENT_COLORS = {
  new: "#1a6b34",
  expansion: "#0b5cad",
  contraction: "#b35c00",
  churn: "#a4161a",
};

// MRR movements as bars per month: new and expansion stacked above the axis,
// contraction and churn below it. uPlot draws each series as its own bars, so the
// stack is drawn tallest first; the legend shows each movement's own amount.
export function movementsChart(container, points, formatAmount) {
  const x = points.map((p) => Math.floor(new Date(p.start).getTime() / 1000));
  const amount = (p, k) => Number(p[k].amount);
  const own = {
    new: points.map((p) => amount(p, "new")),
    expansion: points.map((p) => amount(p, "expansion")),
    contraction: points.map((p) => -amount(p, "contraction")),
    churn: points.map((p) => -amount(p, "churn")),
  };
  const drawn = {
    new: own.new.map((v, i) => v + own.expansion[i]),
    expansion: own.expansion,
    contraction: own.contraction.map((v, i) => v + own.churn[i]),
    churn: own.churn,
  };
  const order = ["new", "expansion", "contraction", "churn"];
  const width = Math.max(320, container.clientWidth || 640);
  const bars = uPlot.paths.bars({ size: [0.6, 48], align: 0 });
  const opts = {
    width,
    height: 260,
    // Half a month either side, so the first and last bars are whole.
    scales: { x: { time: true, range: (u, min, max) => [min - 15 * 86_400, max + 15 * 86_400] } },
    series: [
      { label: t("month"), value: (u, v) => (v == null ? "—" : formatDate(new Date(v * 1000).toISOString(), { year: "numeric", month: "short", timeZone: "UTC" })) },
      ...order.map((key) => ({
        label: t(`movement.${key}`),
        stroke: MOVEMENT_COLORS[key],
        fill: MOVEMENT_COLORS[key],
        width: 1,
        paths: bars,
        points: { show: false },
        value: (u, v, si, i) => (i == null ? "—" : formatAmount(Math.abs(own[key][i]))),
      })),
    ],
    axes: [
      { values: (u, splits) => splits.map((s) => formatDate(new Date(s * 1000).toISOString(), { month: "short", timeZone: "UTC" })) },
      { size: 80, values: (u, splits) => splits.map((s) => formatAmount(s)) },
    ],
  };
  container.replaceChildren();
  return new uPlot(opts, [x, ...order.map((k) => drawn[k])], container);
}

export { MOVEMENT_COLORS };
