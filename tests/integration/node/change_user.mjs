// COM_CHANGE_USER through veild (test_veild_mysql.py): logs in, runs a query, changes user
// (connection.changeUser: COM_CHANGE_USER and its authentication exchange), runs queries again.
//
// Usage: node change_user.mjs SPEC_JSON
//   SPEC_JSON  {"host", "port", "user", "password", "database", "to": {"user", "password"},
//               "before": SQL, "after": [SQL, ...]}
// Prints {"before": rows, "after": [rows | {"error": code}, ...], "error": null | message}.
import mysql from "mysql2/promise";

const spec = JSON.parse(process.argv[2]);
const out = { before: null, after: [], error: null };
let conn;
try {
  conn = await mysql.createConnection({
    host: spec.host, port: spec.port, user: spec.user, password: spec.password,
    database: spec.database, rowsAsArray: true, dateStrings: true,
  });
  [out.before] = await conn.query(spec.before);
  await conn.changeUser({ user: spec.to.user, password: spec.to.password });
  for (const sql of spec.after) {
    try {
      const [rows] = await conn.query(sql);
      out.after.push(rows);
    } catch (e) {
      out.after.push({ error: e.errno ?? null });
    }
  }
} catch (e) {
  out.error = String(e.message ?? e);
} finally {
  if (conn) await conn.end().catch(() => {});
}
console.log(JSON.stringify(out));
