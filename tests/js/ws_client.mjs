// The npm graphql-ws client (what GraphiQL, Apollo and urql build on) against a
// running Tally server. Usage: TALLY_HOST=127.0.0.1:PORT TALLY_KEY=... node ws_client.mjs
// Prints one JSON object with what each operation gave.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const host = process.env.TALLY_HOST;
const key = process.env.TALLY_KEY;
const out = {};

const client = createClient({
  url: `ws://${host}/graphql`,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${key}` },
  retryAttempts: 0,
  on: { closed: (event) => { out.closed = out.closed ?? { code: event.code, reason: event.reason }; } },
});

function once(payload) {
  // The first result (or the error) of an operation; the operation is then disposed.
  return new Promise((resolve) => {
    let dispose = () => {};
    dispose = client.subscribe(payload, {
      next: (value) => { dispose(); resolve({ next: value }); },
      error: (error) => resolve({ error: Array.isArray(error) ? error : String(error?.message ?? error) }),
      complete: () => resolve({ complete: true }),
    });
  });
}

async function firstEvent(query, trigger) {
  // Keep triggering until the subscription (registered asynchronously) sees one.
  let resolveEvent;
  const event = new Promise((resolve) => { resolveEvent = resolve; });
  const dispose = client.subscribe({ query }, {
    next: (value) => resolveEvent({ next: value }),
    error: (error) => resolveEvent({ error }),
    complete: () => resolveEvent({ complete: true }),
  });
  for (let i = 0; i < 50; i += 1) {
    await trigger();
    const got = await Promise.race([event, new Promise((r) => setTimeout(() => r(null), 200))]);
    if (got) { dispose(); return got; }
  }
  dispose();
  return { timeout: true };
}

async function createCustomer() {
  await fetch(`http://${host}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: 'mutation { createCustomer(input: {name: "From node"}) { __typename } }' }),
  });
}

try {
  out.query = await once({ query: '{ viewer { role } }' });
  out.event = await firstEvent(
    'subscription { tenantEvents(types: ["customer.created"]) { type objectId } }',
    createCustomer,
  );
  out.syntaxError = await once({ query: 'subscription { tenantEvents(' });
  out.unknownCustomer = await once({
    query: 'subscription { creditBalance(customerId: "cus_nope") { balance } }',
  });
} catch (error) {
  out.failure = String(error?.stack ?? error);
} finally {
  await client.dispose();
}
process.stdout.write(JSON.stringify(out));
