// The customer portal (/portal): hash routes over Tally's GraphQL API with the
// customer's session. Pages live in portal-overview.js, portal-billing.js and
// portal-plan.js; shared pieces in portal-lib.js.

import {
  LOCALES,
  el,
  loadSession,
  preferredLocale,
  rememberLocale,
  replace,
  signOut,
  t,
  useLocale,
} from "./tally.js";
import { frame, portal, showError, start } from "./portal-lib.js";
import { overviewPage, usagePage } from "./portal-overview.js";
import { invoicesPage, paymentMethodsPage } from "./portal-billing.js";
import { creditsPage, planPage } from "./portal-plan.js";

const PAGES = {
  overview: overviewPage,
  usage: usagePage,
  invoices: invoicesPage,
  "payment-methods": paymentMethodsPage,
  plan: planPage,
  credits: creditsPage,
};
const LANGUAGE_NAMES = { en: "English", fr: "Français", ar: "العربية" };

function route() {
  const name = location.hash.replace(/^#/, "");
  return name in PAGES ? name : "overview";
}

function renderBar(current) {
  const bar = document.getElementById("bar");
  const nav = el(
    "nav",
    { "aria-label": t("nav.label") },
    Object.keys(PAGES).map((name) =>
      el("a", { href: `#${name}`, "aria-current": name === current ? "page" : null }, t(`nav.${name}`)),
    ),
  );
  const select = el(
    "select",
    {
      id: "language",
      onchange: async (event) => {
        rememberLocale(event.target.value);
        await switchLocale(event.target.value);
      },
    },
    LOCALES.map((code) =>
      el("option", { value: code, lang: code, selected: code === portal.api.locale }, LANGUAGE_NAMES[code]),
    ),
  );
  replace(
    bar,
    el("span", { class: "brand" }, portal.session.tenant.name),
    nav,
    el("span", { class: "muted" }, portal.session.customer.name),
    el("span", {}, el("label", { for: "language", class: "visually-hidden" }, t("language")), select),
    el("button", { type: "button", onclick: () => signOut(portal.session, "portal") }, t("signOut")),
  );
}

async function render() {
  const name = route();
  renderBar(name);
  document.title = `${t(`nav.${name}`)} · ${t("title")}`;
  const main = document.getElementById("main");
  try {
    await PAGES[name](main);
  } catch (error) {
    const { notices } = frame(main, t(`nav.${name}`));
    showError(notices, error);
  }
  main.dataset.page = name;
  main.dataset.ready = "true";
}

async function switchLocale(code) {
  const chosen = await useLocale("portal", code);
  portal.api.locale = chosen; // Money.formatted follows Accept-Language
  await render();
}

async function main() {
  const session = await loadSession();
  if (!session || session.role !== "customer") {
    location.assign("/portal/sign-in");
    return;
  }
  start(session);
  const chosen = await useLocale("portal", preferredLocale(session.locale));
  portal.api.locale = chosen;
  window.addEventListener("hashchange", () => {
    document.getElementById("main").dataset.ready = "false";
    render();
  });
  await render();
}

main();
