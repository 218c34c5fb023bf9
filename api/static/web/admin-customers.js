// #customers: a searchable, paginated table (customers(search:), Relay cursors).
import { el, formatDate, replace, t, table } from "./tally.js";
import { pager, section, fill, status } from "./admin-lib.js";

const CUSTOMERS = `query($search: String, $after: String) {
  customers(search: $search, first: 20, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id externalId name email currency status delinquent creditsBlocked createdAt }
  }
}`;

// The search and page survive a visit to a customer and back.
const state = { search: "", cursors: [] };

export async function renderCustomers(view, ctx) {
  const input = el("input", { id: "customer-search", type: "search", name: "search", value: state.search });
  const form = el(
    "form",
    { role: "search", class: "row" },
    el("div", {}, el("label", { for: "customer-search" }, t("customers.search")), input),
    el("button", { type: "submit", class: "primary" }, t("customers.find")),
  );
  const results = section(t("customers.results"), "customer-results");
  replace(view, el("h1", {}, t("nav.customers")), form, results.node);

  const load = () =>
    fill(results, async () => {
      const after = state.cursors.at(-1) ?? null;
      const { customers } = await ctx.api.request(CUSTOMERS, { search: state.search || null, after });
      if (!customers.nodes.length) return el("p", { class: "muted" }, t("customers.none"));
      const rows = customers.nodes.map((c) => [
        el("a", { href: `#customer/${encodeURIComponent(c.id)}` }, c.name),
        c.email || "—",
        c.externalId || "—",
        c.currency,
        c.creditsBlocked ? status(t("customer.blocked"), "bad") : c.delinquent ? status(t("customer.delinquent"), "warn") : status(t("customer.ok"), "good"),
        formatDate(c.createdAt),
      ]);
      return [
        table(
          t("customers.caption", { count: customers.totalCount }),
          [t("name"), t("email"), t("externalId"), t("currency"), t("status"), t("created")],
          rows,
          { "data-testid": "customers-table" },
        ),
        pager(customers.pageInfo, state.cursors, (cursors) => {
          state.cursors = cursors;
          load();
        }),
      ];
    });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.search = input.value.trim();
    state.cursors = [];
    load();
  });
  await load();
}
