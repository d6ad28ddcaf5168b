// The node mysql2 client of the MySQL integration tests (mysql_clients.query_mysql2): mysql2
// (pinned by package-lock.json) against MariaDB, or veild in front of it.
//
// Usage: node mysql_probe.mjs SPEC_JSON
//
//   SPEC_JSON  {"host", "port", "user", "password", "database", "sql", "params": [...] | null,
//               "repeat": N, "countPrepares": bool, "ssl": null | {"ca": PATH | null,
//               "verify": bool}, "timeoutMs": N}
//
// With "params" (even []) the statement goes through connection.execute(): COM_STMT_PREPARE
// once, then COM_STMT_EXECUTE per repeat, rows in the binary protocol. Without, through
// connection.query(): COM_QUERY, text rows. Values are turned back into the text a server would
// send: dates and big numbers as strings (dateStrings, bigNumberStrings), buffers as UTF-8,
// other numbers with String(). Prints one JSON document on stdout:
//   {"columns": [...], "runs": [[[v, ...], ...], ...], "error": null | {"code", "sqlstate",
//    "message"}, "prepares": N | null}
// A database error (server ERR, connection refused or cut) is reported as "error" with exit
// status 0; anything else exits non-zero.

import fs from "node:fs";
import mysql from "mysql2/promise";

const spec = JSON.parse(process.argv[2]);

function text(v) {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  if (typeof v === "string") return v;
  return String(v);
}

const out = { columns: [], runs: [], error: null, prepares: null };
let conn;
try {
  const options = {
    host: spec.host, port: spec.port, user: spec.user, password: spec.password ?? undefined,
    database: spec.database ?? undefined, connectTimeout: spec.timeoutMs ?? 30000,
    dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, rowsAsArray: true,
  };
  if (spec.ssl) {
    options.ssl = { rejectUnauthorized: spec.ssl.verify };
    if (spec.ssl.ca) options.ssl.ca = fs.readFileSync(spec.ssl.ca);
  }
  conn = await mysql.createConnection(options);
  for (let i = 0; i < (spec.repeat ?? 1); i++) {
    const [rows, fields] = spec.params
      ? await conn.execute({ sql: spec.sql, rowsAsArray: true }, spec.params)
      : await conn.query({ sql: spec.sql, rowsAsArray: true });
    if (!Array.isArray(rows)) continue;  // an OK packet: no result set
    if (out.columns.length === 0 && fields) out.columns = fields.map((f) => f.name);
    out.runs.push(rows.map((row) => row.map(text)));
  }
  if (spec.countPrepares) {
    const [rows] = await conn.query({
      sql: "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'", rowsAsArray: true,
    });
    out.prepares = Number(text(rows[0][1]));
  }
} catch (e) {
  if (e.errno === undefined && e.code === undefined) throw e;
  out.error = { code: e.errno ?? null, sqlstate: e.sqlState ?? null,
                message: e.sqlMessage ?? `${e.code ?? ""} ${e.message}`.trim() };
} finally {
  if (conn) await conn.end().catch(() => {});
}
process.stdout.write(JSON.stringify(out) + "\n");
