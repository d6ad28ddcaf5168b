// What a client that tracks session state (mysql2: CLIENT_SESSION_TRACK) is told of each
// statement's changes, for test_veild_mysql_evasion.py::test_session_state_tracking_*.
//
// Usage: node session_track_probe.mjs SPEC_JSON
//
//   SPEC_JSON  {"host", "port", "user", "password", "database", "sqls": [...]}
//
// Prints one JSON line per statement: {"sql", "variables": {name: value} | null,
// "error": message | null}.

import mysql from "mysql2/promise";

const spec = JSON.parse(process.argv[2]);
const conn = await mysql.createConnection({
  host: spec.host, port: spec.port, user: spec.user, password: spec.password ?? undefined,
  database: spec.database ?? undefined, connectTimeout: 30000,
});
for (const sql of spec.sqls) {
  try {
    const [r] = await conn.query(sql);
    const changes = r && r.stateChanges ? r.stateChanges.systemVariables : null;
    console.log(JSON.stringify({ sql, variables: changes, error: null }));
  } catch (e) {
    console.log(JSON.stringify({ sql, variables: null, error: e.message }));
  }
}
await conn.end();
