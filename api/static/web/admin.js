// The admin console (/admin): KPIs, customers, operations, exports. A client of
// Tally's public GraphQL API with the session cookie; hash routes, no framework.
import { Api, LOCALES, el, loadSession, notice, preferredLocale, rememberLocale, replace, signOut, t, useLocale } from "./tally.js";
import { renderKpis } from "./admin-kpis.js";
import { renderCustomers } from "./admin-customers.js";
import { renderCustomer } from "./admin-customer.js";
import { renderOperations } from "./admin-operations.js";
import { renderExports } from "./admin-exports.js";

const ROUTES = {
  kpis: renderKpis,
  customers: renderCustomers,
  customer: renderCustomer,
  operations: renderOperations,
  exports: renderExports,
};
const NAV = ["kpis", "customers", "operations", "exports"];
const LANGUAGE_NAMES = { en: "English", fr: "Français", ar: "العربية" };

let cleanup = null;

function route() {
  const [name, ...rest] = location.hash.replace(/^#/, "").split("/");
  return ROUTES[name] ? { name, arg: rest.map(decodeURIComponent).join("/") } : { name: "kpis", arg: "" };
}

function renderNav(current) {
  const active = current === "customer" ? "customers" : current;
  replace(
    document.getElementById("nav"),
    NAV.map((name) =>
      el("a", { href: `#${name}`, "aria-current": name === active ? "page" : null }, t(`nav.${name}`)),
    ),
  );
}

// Each visit renders into its own box: a slow page still loading when the person
// moves on writes into a box that is no longer shown, and stops its live feed.
let generation = 0;

async function show(ctx) {
  const mine = ++generation;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const { name, arg } = route();
  renderNav(name);
  const view = document.getElementById("view");
  const box = el("div");
  replace(view, box);
  document.title = `${t(`nav.${name === "customer" ? "customers" : name}`)} · ${t("title")}`;
  view.setAttribute("data-route", name);
  view.setAttribute("aria-busy", "true");
  try {
    const stop = await ROUTES[name](box, ctx, arg);
    if (mine === generation) cleanup = stop || null;
    else if (stop) stop();
  } catch (error) {
    notice(box, t("error.load", { message: error.message }), "error");
  } finally {
    if (mine === generation) view.removeAttribute("aria-busy");
  }
}

function chrome(ctx) {
  const { session } = ctx;
  document.getElementById("brand").textContent = `${t("title")} · ${session.tenant.name}`;
  document.getElementById("who").textContent = t(`role.${session.role}`);
  const sign = document.getElementById("sign-out");
  sign.textContent = t("signOut");
  sign.onclick = () => signOut(session, "admin");
  const select = document.getElementById("locale");
  document.querySelector('label[for="locale"]').textContent = t("language");
  replace(
    select,
    LOCALES.map((code) => el("option", { value: code, selected: code === ctx.locale }, LANGUAGE_NAMES[code])),
  );
  select.onchange = async () => {
    rememberLocale(select.value);
    ctx.locale = await useLocale("admin", select.value);
    ctx.api.locale = ctx.locale;
    chrome(ctx);
    show(ctx);
  };
}

async function main() {
  const session = await loadSession();
  if (!session || !["admin", "analyst"].includes(session.role)) {
    location.assign("/admin/sign-in");
    return;
  }
  const ctx = { session, api: new Api(session) };
  ctx.locale = await useLocale("admin", preferredLocale(session.locale));
  ctx.api.locale = ctx.locale;
  chrome(ctx);
  window.addEventListener("hashchange", () => show(ctx));
  await show(ctx);
  document.body.setAttribute("data-ready", "true");
}

main().catch((error) => {
  const view = document.getElementById("view");
  notice(view, error.message, "error");
});
