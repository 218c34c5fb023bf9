// graphql-http's own GraphQL-over-HTTP audit against a running Tally server.
// Usage: TALLY_URL=http://127.0.0.1:PORT/graphql TALLY_KEY=... node audit.mjs
// Prints one JSON array: [{id, name, status, reason}] (status ok | warn | error).
import { auditServer } from 'graphql-http';

const url = process.env.TALLY_URL;
const key = process.env.TALLY_KEY;
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
const rows = results.map((r) => ({
  id: r.id,
  name: r.name,
  status: r.status,
  reason: r.status === 'ok' ? null : r.reason,
}));
process.stdout.write(JSON.stringify(rows));
