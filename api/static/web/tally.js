// Tally's web panels: what every page shares. The pages are clients of Tally's own
// public GraphQL API: queries and mutations over fetch with the session cookie and
// its CSRF token, live updates over graphql-transport-ws (the npm graphql-ws client,
// vendor/graphql-ws.min.js, global `graphqlWs`). No framework: small DOM helpers.

const RTL = new Set(["ar"]);
export const LOCALES = ["en", "fr", "ar"];

export class ApiError extends Error {
  constructor(message, code, field) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

// The signed-in session: {role, customer: {id, name} | null, tenant: {name},
// csrfToken, locale, expiresAt}. Null when not signed in.
export async function loadSession() {
  const response = await fetch("/web/session", { credentials: "same-origin" });
  if (response.status === 401) return null;
  if (!response.ok) throw new ApiError(`session: HTTP ${response.status}`, "HTTP");
  return response.json();
}

export class Api {
  constructor(session) {
    this.session = session;
    this.locale = session.locale;
    this.ws = null;
  }

  // The `data` of a GraphQL document; throws ApiError on a GraphQL error.
  async request(query, variables = {}) {
    const response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json",
        "Accept-Language": this.locale,
        "X-CSRF-Token": this.session.csrfToken,
      },
      body: JSON.stringify({ query, variables }),
    });
    if (response.status === 401) this.signedOut();
    let body;
    try {
      body = await response.json();
    } catch {
      throw new ApiError(`HTTP ${response.status}`, "HTTP");
    }
    if (body.errors && body.errors.length) {
      const e = body.errors[0];
      throw new ApiError(e.message, (e.extensions || {}).code, (e.extensions || {}).field);
    }
    if (!response.ok) throw new ApiError(`HTTP ${response.status}`, "HTTP");
    return body.data;
  }

  // The session is over (expired, signed out elsewhere, its key revoked): back to
  // the panel's sign-in page, rather than a page that silently stops working.
  signedOut() {
    const panel = this.session.role === "customer" ? "portal" : "admin";
    location.assign(`/${panel}/sign-in`);
  }

  // A mutation whose result is a union of a success type and typed errors (Tally's
  // convention: `... on Error { message code field }`); returns the success object.
  async mutate(query, variables, field) {
    const data = await this.request(query, variables);
    const result = data[field];
    if (result && result.__typename && result.message !== undefined && result.code) {
      throw new ApiError(result.message, result.code, result.field);
    }
    return result;
  }

  // Live updates: calls onData(data) for every pushed result; returns unsubscribe().
  subscribe(query, variables, onData, onError = console.error) {
    if (!this.ws) {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      this.ws = graphqlWs.createClient({
        url: `${scheme}://${location.host}/graphql`,
        connectionParams: { csrfToken: this.session.csrfToken },
        lazy: true,
        retryAttempts: Infinity,
        // 4403: the session ended (signed out, expired, its key revoked).
        shouldRetry: (event) => !(event && event.code === 4403),
        on: { closed: (event) => event && event.code === 4403 && this.signedOut() },
      });
    }
    return this.ws.subscribe(
      { query, variables },
      {
        next: (result) => (result.errors ? onError(result.errors) : onData(result.data)),
        error: onError,
        complete: () => {},
      },
    );
  }
}

// -- language ---------------------------------------------------------------------------

let strings = {};
let current = "en";

// Loads the panel's strings (i18n/<panel>.<locale>.js) and sets the page direction.
export async function useLocale(panel, locale) {
  current = LOCALES.includes(locale) ? locale : "en";
  const module = await import(`./i18n/${panel}.${current}.js`);
  strings = module.default;
  document.documentElement.lang = current;
  document.documentElement.dir = RTL.has(current) ? "rtl" : "ltr";
  return current;
}

export function locale() {
  return current;
}

// A translated string; {name} placeholders are filled from `values`.
export function t(key, values = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// The switcher's choice outlives the page (a preference, not a credential).
export function preferredLocale(fallback) {
  return localStorage.getItem("tally.locale") || fallback;
}

export function rememberLocale(locale) {
  localStorage.setItem("tally.locale", locale);
}

export function formatDate(iso, options = { dateStyle: "medium" }) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(current, options).format(new Date(iso));
}

export function formatNumber(value) {
  return new Intl.NumberFormat(current).format(Number(value));
}

// -- DOM ---------------------------------------------------------------------------------

// el("button", {class: "primary", onclick: fn}, "text", child…): text is always text
// (never parsed as HTML), so data from the API cannot inject markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function replace(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

// A figure card: its label, its value, and anything under them.
export function card(label, value, testId = null, ...extra) {
  return el(
    "div",
    { class: "card", "data-testid": testId },
    el("p", { class: "label" }, label),
    el("p", { class: "value" }, value),
    ...extra,
  );
}

// A date as the API takes a day: YYYY-MM-DD (UTC).
export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

// A <table> with a caption, header cells and rows of cells (strings or nodes).
export function table(caption, headers, rows, attrs = {}) {
  return el(
    "table",
    attrs,
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))),
  );
}

// A status line for messages (role=status, read out by screen readers).
export function notice(container, text, kind = "info") {
  replace(container, el("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text));
}

export async function signOut(session, panel) {
  await fetch("/web/sign-out", {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": session.csrfToken },
  });
  location.assign(`/${panel}/sign-in`);
}

// -- charts (uPlot, vendor/uPlot.iife.min.js, global `uPlot`) ---------------------------

// A line or bar chart of `series` ([{label, values, color}]) over `x` (unix seconds).
export function lineChart(container, { x, series, height = 240, bars = false }) {
  const width = Math.max(320, container.clientWidth || 640);
  const opts = {
    width,
    height,
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        fill: bars ? s.color : undefined,
        width: 2,
        paths: bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined,
      })),
    ],
    axes: [{}, { size: 70 }],
  };
  container.replaceChildren();
  return new uPlot(opts, [x, ...series.map((s) => s.values)], container);
}
