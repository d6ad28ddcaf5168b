"""MySQL-protocol client drivers for the integration tests: four real clients, one call shape.

    from mysql_clients import DRIVERS, QueryOptions, ClientTls, query_jdbc

    r = query_jdbc(host, port, user, password, database,
                   "SELECT id, email FROM customers WHERE id = ?", QueryOptions(params=[1]))
    r.rows     -> [("1", "margaret.okonkwo@gmail.com")]
    r.error    -> None, or ServerError(code, sqlstate, message)

Every driver is a function (host, port, user, password, database, sql, options=None) ->
QueryResult, and returns every value as the text a server sends for it (str, or None for SQL
NULL), whatever protocol carried it, so a test can assert exact (masked) output across clients.
The target is any MySQL-protocol endpoint: the `mariadb` fixture directly, or veild in front
of it.

  driver   plain query (params=None)        prepared (params=[...], `?` markers)
  cli      COM_QUERY, text rows             SQL PREPARE / SET @p / EXECUTE USING: COM_QUERY,
  (query_cli: the mariadb CLI)                text rows (what a CLI user can do)
  pymysql  COM_QUERY, text rows             PyMySQL interpolates the escaped parameters itself:
  (query_pymysql)                             COM_QUERY, text rows (it has no server-side
                                              prepared statements)
  jdbc     COM_QUERY, text rows             COM_STMT_PREPARE once + COM_STMT_EXECUTE per
  (query_jdbc: MariaDB Connector/J 2.7)       repeat, binary rows (useServerPrepStmts=true)
  mysql2   COM_QUERY, text rows             connection.execute(): COM_STMT_PREPARE once +
  (query_mysql2: node mysql2)                 COM_STMT_EXECUTE per repeat, binary rows

A server error (an ERR packet: a refused login, a bad statement, one veild refuses) or a
failed or cut connection is not raised: it comes back in QueryResult.error, with the runs that
completed before it. ServerError.code is MariaDB's error number (1045 access denied, 1064
syntax, ...); client-side failures have the client's own codes (2002/2003/2013 for the CLI and
PyMySQL) or None. Only a client that could not run at all (not installed, crashed, timed out,
printed garbage) raises DriverError.

QueryResult.raw is what the client printed (for the CLI its --xml output, which repeats each
statement's text in its `statement` attribute; for PyMySQL a JSON dump of the values), for
leak checks with conftest.leaked_values().

JDBC is compiled with javac on first use into a veil-it-* temporary folder (removed at exit);
mysql2 comes from node/node_modules (pinned by node/package-lock.json; `npm ci` there if it is
missing). A missing client skips the test, or fails it under CI=true.
"""

from __future__ import annotations

import atexit
import datetime
import decimal
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pytest

from conftest import _OWNER_FILE, _TMP_PREFIX, _clean_env

HERE = Path(__file__).resolve().parent
JDBC_MARIADB_DIR = HERE / "jdbc_mariadb"
MARIADB_JDBC_JAR = Path("/usr/share/java/mariadb-java-client.jar")
NODE_DIR = HERE / "node"
MYSQL2_PROBE = NODE_DIR / "mysql_probe.mjs"


@dataclass(frozen=True)
class ClientTls:
    """TLS for a client: required (a server without TLS fails the connection). With `verify`
    the server's chain is checked against `ca_file` and its name against the host connected
    to (the fixtures' certificate has SAN IP 127.0.0.1 and DNS localhost)."""
    ca_file: Path | str | None = None
    verify: bool = True


@dataclass(frozen=True)
class QueryOptions:
    params: Sequence | None = None   # None: a plain query; a sequence (even []): prepared, the
    #                                  values (int, str, Decimal, float, None) bound to the ?s
    tls: ClientTls | None = None     # None: no TLS
    repeat: int = 1                  # executions on one connection (prepared: prepared once)
    count_prepares: bool = False     # then read the session's Com_stmt_prepare (-> .prepares)
    timeout: float = 60              # seconds for the whole client run
    cli_batch: bool = False          # cli only: `mariadb -B -N` tab-separated output instead
    #                                  of --xml (NULL and the string 'NULL' look alike there;
    #                                  all rows go into one run, no column names)


@dataclass(frozen=True)
class ServerError:
    code: int | None
    sqlstate: str | None
    message: str


@dataclass
class QueryResult:
    columns: list[str]                  # the first result set's column names
    runs: list[list[tuple]]             # one list of rows per result set received, in order
    error: ServerError | None = None
    raw: str = ""
    prepares: int | None = None         # Com_stmt_prepare of the session (count_prepares)

    @property
    def rows(self) -> list[tuple]:
        """The first result set's rows (with repeat > 1, runs holds every execution's)."""
        return self.runs[0] if self.runs else []


class DriverError(RuntimeError):
    """The client program itself failed (not a database error)."""


def _require(path: str | Path | None, what: str, package: str) -> str:
    if path is None or not os.access(path, os.X_OK if what != "jar" else os.R_OK):
        message = f"{path or what} not found: install Debian's {package} (tools/setup.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return str(path)


def _env() -> dict[str, str]:
    """conftest's scrubbed environment, less MYSQL_PWD, MYSQL_HOST and the like, which the
    mariadb CLI reads even with --no-defaults."""
    return {k: v for k, v in _clean_env().items() if not k.startswith("MYSQL_")}


def _options(options: QueryOptions | None) -> QueryOptions:
    return options or QueryOptions()


def _run(argv: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                              timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as e:
        raise DriverError(f"{Path(str(argv[0])).name} did not finish within {timeout} s; "
                          f"stderr:\n{e.stderr}") from None


def _text(v) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", errors="surrogateescape")
    return str(v)


# ---------------------------------------------------------------------------------------------
# mariadb CLI

_CLI_ERROR = re.compile(r"^ERROR (\d+) \(([0-9A-Z]{5})\)(?: at line \d+)?: (.*)$", re.M | re.S)


def _sql_literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float, decimal.Decimal)):
        return str(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        v = v.isoformat(sep=" ") if isinstance(v, datetime.datetime) else v.isoformat()
    return "'" + str(v).replace("\\", "\\\\").replace("'", "''") + "'"


def query_cli(host: str, port: int, user: str, password: str | None, database: str | None,
              sql: str, options: QueryOptions | None = None) -> QueryResult:
    """The mariadb CLI (mariadb-client), over TCP, statements read from stdin, --xml output
    (or -B -N with options.cli_batch). Prepared: PREPARE / SET / EXECUTE USING in SQL."""
    o = _options(options)
    cli = _require(shutil.which("mariadb"), "mariadb", "mariadb-client")
    if o.cli_batch and o.count_prepares:
        raise ValueError("count_prepares needs the --xml output (cli_batch=False)")
    argv = [cli, "--no-defaults", "--protocol=TCP", f"--host={host}", f"--port={port}",
            f"--user={user}", "--connect-timeout=10", "--default-character-set=utf8mb4"]
    if password is not None:
        argv.append(f"--password={password}")
    if database:
        argv.append(f"--database={database}")
    if o.tls is None:
        argv.append("--skip-ssl")
    else:
        argv.append("--ssl")
        if o.tls.ca_file:
            argv.append(f"--ssl-ca={o.tls.ca_file}")
        argv.append("--ssl-verify-server-cert" if o.tls.verify else
                    "--skip-ssl-verify-server-cert")
    argv += ["--batch", "--skip-column-names"] if o.cli_batch else ["--xml"]

    if o.params is None:
        script = "".join(sql.rstrip().rstrip(";") + ";\n" for _ in range(o.repeat))
    else:
        body = sql.rstrip().rstrip(";")
        names = [f"@veil_p{i + 1}" for i in range(len(o.params))]
        script = f"PREPARE veil_stmt FROM {_sql_literal(body)};\n"
        if names:
            script += "SET " + ", ".join(f"{n} = {_sql_literal(v)}"
                                         for n, v in zip(names, o.params)) + ";\n"
        using = f" USING {', '.join(names)}" if names else ""
        script += f"EXECUTE veil_stmt{using};\n" * o.repeat
        script += "DEALLOCATE PREPARE veil_stmt;\n"
    if o.count_prepares:
        script += "SHOW SESSION STATUS LIKE 'Com_stmt_prepare';\n"

    r = _run(argv, o.timeout, input=script, env=_env())
    error = None
    if r.returncode != 0:
        m = _CLI_ERROR.search(r.stderr)
        if not m:
            raise DriverError(f"mariadb exited with {r.returncode}:\n{r.stderr}")
        error = ServerError(int(m.group(1)), m.group(2), m.group(3).strip())

    if o.cli_batch:
        unescape = {"t": "\t", "n": "\n", "\\": "\\", "0": "\0"}
        rows = [tuple(None if f == "NULL" else
                      re.sub(r"\\([tn\\0])", lambda m: unescape[m.group(1)], f)
                      for f in line.split("\t"))
                for line in r.stdout.split("\n") if line]
        return QueryResult([], [rows] if rows else [], error, r.stdout)

    columns: list[str] = []
    runs: list[list[tuple]] = []
    for doc in r.stdout.split('<?xml version="1.0"?>'):
        if not doc.strip():
            continue
        try:
            resultset = ET.fromstring(doc.strip())
        except ET.ParseError as e:
            raise DriverError(f"mariadb --xml printed what is not XML ({e}):\n{doc}") from None
        rows = []
        for row in resultset.iter("row"):
            fields = row.findall("field")
            if not columns and not runs:
                columns = [f.get("name") for f in fields]
            nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
            rows.append(tuple(None if f.get(nil) == "true" else (f.text or "") for f in fields))
        runs.append(rows)
    prepares = None
    if o.count_prepares and error is None:
        prepares = int(runs.pop()[0][1])
    return QueryResult(columns, runs, error, r.stdout, prepares)


# ---------------------------------------------------------------------------------------------
# PyMySQL


def query_pymysql(host: str, port: int, user: str, password: str | None,
                  database: str | None, sql: str,
                  options: QueryOptions | None = None) -> QueryResult:
    """PyMySQL (python3-pymysql) in this process. Its converters are left out, so values stay
    the text the server sent. Prepared: `?` becomes PyMySQL's %s and PyMySQL escapes and
    interpolates the parameters itself (COM_QUERY, text rows); `%` in sql is kept literal."""
    o = _options(options)
    try:
        import pymysql
        import pymysql.converters
    except ImportError:
        _require(None, "pymysql", "python3-pymysql")
    # Encoders only (to escape parameters); no decoders: every value stays str (bytes for a
    # binary column, decoded here as UTF-8).
    encoders = {k: v for k, v in pymysql.converters.conversions.items()
                if not isinstance(k, int)}
    ctx = None
    if o.tls is not None:
        ctx = ssl.create_default_context(cafile=str(o.tls.ca_file) if o.tls.ca_file else None)
        if not o.tls.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    statement = sql if o.params is None else sql.replace("%", "%%").replace("?", "%s")
    params = None if o.params is None else tuple(o.params)

    columns: list[str] = []
    runs: list[list[tuple]] = []
    error = None
    prepares = None
    conn = None
    try:
        conn = pymysql.connect(host=host, port=int(port), user=user, password=password or "",
                               database=database, charset="utf8mb4", conv=encoders,
                               connect_timeout=10, read_timeout=int(o.timeout),
                               write_timeout=int(o.timeout), autocommit=True, ssl=ctx,
                               ssl_disabled=ctx is None)
        if ctx is not None and not isinstance(conn._sock, ssl.SSLSocket):
            # PyMySQL goes on in plaintext when the server does not offer TLS; the other
            # clients refuse, and so does this driver: ClientTls means TLS required.
            conn.close()
            conn = None
            return QueryResult([], [], ServerError(
                2026, "HY000", "TLS required, but the server did not offer it"), "")
        with conn.cursor() as cur:
            for _ in range(o.repeat):
                cur.execute(statement, params)
                while True:
                    if cur.description is not None:
                        if not columns:
                            columns = [d[0] for d in cur.description]
                        runs.append([tuple(_text(v) for v in row) for row in cur.fetchall()])
                    if not cur.nextset():
                        break
            if o.count_prepares:
                cur.execute("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'")
                prepares = int(_text(cur.fetchone()[1]))
    except pymysql.err.MySQLError as e:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else None
        message = e.args[1] if len(e.args) > 1 else str(e)
        error = ServerError(code, None, str(message))
    finally:
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass
    raw = json.dumps({"columns": columns, "runs": runs}, ensure_ascii=False)
    return QueryResult(columns, runs, error, raw, prepares)


# ---------------------------------------------------------------------------------------------
# JSON-printing probes (JDBC, mysql2)


def _parse_probe(name: str, r: subprocess.CompletedProcess) -> QueryResult:
    if r.returncode != 0:
        raise DriverError(f"{name} exited with {r.returncode}:\n{r.stderr[-5000:]}\n"
                          f"--- stdout ---\n{r.stdout[-2000:]}")
    try:
        doc = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DriverError(f"{name} printed no JSON:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}") \
            from None
    error = None
    if doc["error"] is not None:
        e = doc["error"]
        code = e.get("code")
        error = ServerError(code if isinstance(code, int) and code > 0 else None,
                            e.get("sqlstate"), e.get("message") or "")
    runs = [[tuple(row) for row in run] for run in doc["runs"]]
    prepares = None if doc.get("prepares") is None else int(doc["prepares"])
    return QueryResult(doc["columns"], runs, error, r.stdout, prepares)


_build_lock = threading.Lock()
_jdbc_classes: Path | None = None


def _jdbc_classpath() -> str:
    """VeilMariadbProbe compiled (once per process) against Debian's Connector/J."""
    global _jdbc_classes
    javac = _require(shutil.which("javac"), "javac", "default-jdk-headless")
    _require(MARIADB_JDBC_JAR if MARIADB_JDBC_JAR.exists() else None, "jar", "libmariadb-java")
    with _build_lock:
        if _jdbc_classes is None:
            out = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}mysql-jdbc-"))
            (out / _OWNER_FILE).write_text(str(os.getpid()))
            atexit.register(shutil.rmtree, out, True)
            r = _run([javac, "-d", out, "-cp", MARIADB_JDBC_JAR,
                      JDBC_MARIADB_DIR / "VeilMariadbProbe.java"], 180)
            if r.returncode != 0:
                raise DriverError(f"javac failed:\n{r.stderr}")
            _jdbc_classes = out
    return f"{MARIADB_JDBC_JAR}{os.pathsep}{_jdbc_classes}"


def _jdbc_param(v) -> str:
    if v is None:
        return "n:"
    if isinstance(v, bool):
        return f"i:{int(v)}"
    if isinstance(v, int):
        return f"i:{v}"
    if isinstance(v, (float, decimal.Decimal)):
        return f"d:{v}"
    if isinstance(v, datetime.date):
        return f"s:{v.isoformat()}"
    return f"s:{v}"


def query_jdbc(host: str, port: int, user: str, password: str | None, database: str | None,
               sql: str, options: QueryOptions | None = None) -> QueryResult:
    """MariaDB Connector/J (libmariadb-java) in a JVM, useServerPrepStmts=true: prepared
    statements are COM_STMT_PREPARE/EXECUTE with binary rows; values are getString()."""
    o = _options(options)
    java = _require(shutil.which("java"), "java", "default-jdk-headless")
    classpath = _jdbc_classpath()
    timeout_ms = int(o.timeout * 1000)
    props = [("useServerPrepStmts", "true"), ("connectTimeout", "10000"),
             ("socketTimeout", str(timeout_ms))]
    if o.tls is None:
        props.append(("useSsl", "false"))
    else:
        props.append(("useSsl", "true"))
        if o.tls.ca_file:
            props.append(("serverSslCert", str(o.tls.ca_file)))
        if not o.tls.verify:
            props.append(("trustServerCertificate", "true"))
    url = (f"jdbc:mariadb://{host}:{port}/{database or ''}?"
           + "&".join(f"{k}={v}" for k, v in props))
    argv = [java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dfile.encoding=UTF-8",
            "-Dsun.stdout.encoding=UTF-8", "-cp",
            classpath, "VeilMariadbProbe", url, user, password or "", sql,
            "query" if o.params is None else "prepared", str(o.repeat),
            "1" if o.count_prepares else "0", *[_jdbc_param(v) for v in (o.params or ())]]
    return _parse_probe("VeilMariadbProbe", _run(argv, o.timeout + 30, env=_env()))


_node_ready = False


def _mysql2_probe() -> list[str]:
    """node and mysql_probe.mjs, with mysql2 installed from the lock file if missing."""
    global _node_ready
    node = _require(shutil.which("node"), "node", "nodejs")
    with _build_lock:
        if not _node_ready and not (NODE_DIR / "node_modules" / "mysql2").is_dir():
            npm = _require(shutil.which("npm"), "npm", "npm")
            r = _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], 300,
                     cwd=NODE_DIR)
            if r.returncode != 0:
                raise DriverError(f"npm ci in {NODE_DIR} failed:\n{r.stderr}")
        _node_ready = True
    return [node, str(MYSQL2_PROBE)]


def _json_param(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, datetime.date):
        return v.isoformat()
    return v


def query_mysql2(host: str, port: int, user: str, password: str | None,
                 database: str | None, sql: str,
                 options: QueryOptions | None = None) -> QueryResult:
    """node mysql2 (node/mysql_probe.mjs): query() for a plain query, execute() (binary
    prepared statements, one prepare per connection) with params."""
    o = _options(options)
    spec = {"host": host, "port": int(port), "user": user, "password": password,
            "database": database, "sql": sql,
            "params": None if o.params is None else [_json_param(v) for v in o.params],
            "repeat": o.repeat, "countPrepares": o.count_prepares,
            "ssl": None if o.tls is None else {
                "ca": str(o.tls.ca_file) if o.tls.ca_file else None, "verify": o.tls.verify},
            "timeoutMs": 10000}
    argv = [*_mysql2_probe(), json.dumps(spec)]
    return _parse_probe("mysql_probe.mjs", _run(argv, o.timeout, env=_env(),
                                                cwd=NODE_DIR))


Driver = Callable[..., QueryResult]
DRIVERS: dict[str, Driver] = {
    "cli": query_cli,
    "pymysql": query_pymysql,
    "jdbc": query_jdbc,
    "mysql2": query_mysql2,
}
# The drivers whose prepared statements are real server-side ones with binary rows.
BINARY_PROTOCOL_DRIVERS = ("jdbc", "mysql2")
