// The node-postgres client of tests/integration/test_veild_clients.py: pg through veild.
//
// Usage: node probe.mjs HOST PORT USER PASSWORD ITERATIONS
//
// Runs the same customer query three ways — extended protocol with an unnamed statement, a
// named prepared statement executed ITERATIONS times (Parse once, then Bind/Describe/Execute
// by name), and the simple Query protocol — plus the events' jsonb, and prints one JSON
// document with every row it received. Values are left as the text PostgreSQL (or veild)
// sent: no type parsing, so the test sees exactly what went over the wire. Exits non-zero on
// any error.

import pg from "pg";

const [host, port, user, password, iterations] = process.argv.slice(2);
const raw = { getTypeParser: () => (text) => text };
const CUSTOMERS =
  "SELECT id, name, contact, phone, notes, born, balance, signup_ip FROM customers";

const client = new pg.Client({
  host, port: Number(port), user, password, database: "shop",
  connectionTimeoutMillis: 10000, query_timeout: 30000,
});
await client.connect();
try {
  const out = { extended: [], named: [], simple: [], events: [] };
  for (const id of [1, 2, 6]) {
    const r = await client.query({ text: `${CUSTOMERS} WHERE id = $1`, values: [id], types: raw });
    out.extended.push(...r.rows);
  }
  for (let i = 0; i < Number(iterations); i++) {
    const rows = [];
    for (const id of [1, 2, 6]) {
      const r = await client.query({
        name: "customer_by_id", text: `${CUSTOMERS} WHERE id = $1`, values: [id], types: raw,
      });
      rows.push(...r.rows);
    }
    out.named.push(rows);
  }
  out.simple = (await client.query({ text: `${CUSTOMERS} ORDER BY id`, types: raw })).rows;
  out.events = (await client.query({
    text: "SELECT id, payload FROM events WHERE id > $1 ORDER BY id", values: [0], types: raw,
  })).rows;
  process.stdout.write(JSON.stringify(out) + "\n");
} finally {
  await client.end();
}
