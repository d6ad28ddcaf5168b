"""`veilctl mcp` driven by real MCP clients, through veild, against a real PostgreSQL; and the
grants.notify webhooks, received by a local HTTP(S) server.

The agent is unix user veiltest-alice: the official TypeScript SDK's client (mcp/driver.mjs) and
the MCP Inspector's CLI mode each spawn `veilctl mcp` as alice. The approver is veiltest-bob, at
a shell, with `veilctl grants approve`. Scenario (the issue's): list_databases and describe show
the masked columns; query without a grant is a tool error carrying veild's HINT;
request_access gives a pending grant; bob approves; query returns masked rows; after bob's
revoke, query fails again. Every JSON-RPC message of the session, both ways, is checked against
the 1,075 seeded raw values, and so is every webhook body (and for the grant's reason text).
"""

import contextlib
import grp
import http.server
import json
import os
import select
import shutil
import ssl
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import HOST, _make_certificates, free_port, leaked_values
from test_veilctl_grants import VEILCTL, as_user, run_dir, users  # noqa: F401 (fixtures)

HERE = Path(__file__).resolve().parent
MCP_DIR = HERE / "mcp"
ALICE, BOB = "veiltest-alice", "veiltest-bob"
REASON = "MCP-IT-7731: refund audit for a customer ticket"


# ---- fixtures ----


@pytest.fixture(scope="module")
def mcp_clients():
    """mcp/ with its pinned node_modules (npm ci if tools/setup.sh has not run)."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not installed (tools/setup.sh installs it)")
        pytest.skip("node is not installed")
    if not (MCP_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir() or \
            not (MCP_DIR / "node_modules" / "@modelcontextprotocol" / "inspector").is_dir():
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=MCP_DIR, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"npm ci in {MCP_DIR} failed:\n{r.stderr}"
    return node


class Receiver:
    """A local webhook receiver (HTTP, or HTTPS with a throwaway CA). Records every POST;
    down() closes its listening socket so deliveries fail with a refused connect."""

    def __init__(self, port: int, tls=None):
        self.port, self.tls = port, tls
        self.deliveries: list[dict] = []
        self.lock = threading.Condition()
        self.server = None

    def up(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.deliveries.append({
                        "path": self.path, "content_type": self.headers.get("Content-Type"),
                        "user_agent": self.headers.get("User-Agent"),
                        "raw": body.decode("utf-8", errors="replace"), "json": json.loads(body),
                        "time": time.time()})
                    receiver.lock.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, self.port), Handler)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls.cert_file, self.tls.key_file)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def down(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_for(self, predicate, timeout=30.0, what="a delivery"):
        deadline = time.time() + timeout
        with self.lock:
            while not predicate(self.deliveries):
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout} s; got: "
                                         f"{[d['path'] + ' ' + d['raw'][:200] for d in self.deliveries]}")
                self.lock.wait(left)
            return list(self.deliveries)


def event_of(delivery):
    """The grant change a delivery reports: "requested", "approved", ..."""
    j = delivery["json"]
    if "event" in j:
        return j["event"]
    text = j["text"]
    for word, change in (("requests", "requested"), ("approved by", "approved"),
                         ("revoked", "revoked"), ("expired", "expired"), ("denied", "denied"),
                         ("ran out", "expired"), ("at once", "issued")):
        if word in text:
            return change
    return "?"


def veil_config(state, sock, pg, port, notify=""):
    return textwrap.dedent(f"""
        agent: {{state_dir: {state}, control_socket: {sock}, metrics_listen: "",
                 redirect: "off"}}
        endpoints:
          - name: shop-db
            protocol: postgres
            upstream: {pg.host}:{pg.port}
            listen: {HOST}:{port}
            access: grant
            tls: {{client: disable, upstream: disable}}
            guardrails: [read-only, no-ddl]
        masking:
          key_file: {state}/keys/mask.key
          profiles:
            default:
              strategies: {{EMAIL: hash, CREDIT_CARD: partial, US_SSN: partial, default: redact}}
              columns:
                - {{match: "*.name", entity: PERSON_NAME}}
                - {{match: "payments.card_number", entity: CREDIT_CARD}}
        grants:
          policies:
            - {{endpoints: [shop-db], requesters: ["user:{ALICE}"], approvers: ["user:{BOB}"],
               max_ttl: 2h}}
        """) + notify


def readable_config(proc, run_dir):
    """veild's config, where users of group veil can read it (as /etc/veil/veil.yaml is)."""
    path = Path(run_dir) / "veil.yaml"
    shutil.copy(proc.config_path, path)
    os.chown(path, 0, grp.getgrnam("veil").gr_gid)
    os.chmod(path, 0o640)
    return path


class SdkSession:
    """mcp/driver.mjs: the SDK client, spawning `veilctl mcp` as alice."""

    def __init__(self, node, server_argv, transcript, env):
        self.transcript = transcript
        self.proc = subprocess.Popen([node, str(MCP_DIR / "driver.mjs"), str(transcript), "--",
                                      *server_argv], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, cwd=MCP_DIR)
        self.next_id = 0
        self.connected = self._read(60)
        assert self.connected.get("op") == "connected", self.connected

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"the MCP client said nothing within {timeout} s")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the MCP client exited:\n{self.proc.stderr.read()}")
        return json.loads(line)

    def request(self, op, **fields):
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"id": self.next_id, "op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        answer = self._read(150)
        assert answer["id"] == self.next_id
        assert answer["ok"], answer["error"]
        return answer["result"]

    def call(self, name, **arguments):
        return self.request("call", name=name, arguments=arguments)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.stderr.read()


def text_of(result):
    return "\n".join(c["text"] for c in result["content"] if c["type"] == "text")


def veilctl_as(user, sock, *args):
    r = as_user(user, [os.path.abspath(VEILCTL), "--socket", sock, *args])
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def wait_events(path, predicate, timeout=15):
    deadline = time.time() + timeout
    while True:
        events = [json.loads(line) for line in open(path) if line.strip()]
        if predicate(events) or time.time() > deadline:
            return events
        time.sleep(0.1)


# ---- the official TypeScript SDK client ----


def test_sdk_client_drives_the_grant_flow_through_veild(users, pg, start_veild, tmp_path,
                                                        run_dir, mcp_clients, seeded_values):
    sock = f"{run_dir}/veil.sock"
    port, hook_port = free_port(), free_port()
    hooks = Receiver(hook_port).up()
    notify = textwrap.dedent(f"""
          notify:
            - {{type: json, url: "http://{HOST}:{hook_port}/json"}}
            - {{type: slack, url: "http://{HOST}:{hook_port}/slack/T000/B000/s3cr3t",
               events: [requested, approved, denied, revoked]}}
        """)
    notify = textwrap.indent(notify, "  ")
    proc = start_veild(veil_config(f"{tmp_path}/state", sock, pg, port, notify))
    config = readable_config(proc, run_dir)
    env = dict(os.environ, PGUSER="postgres", PGDATABASE="shop")
    server = ["runuser", "-u", ALICE, "--", os.path.abspath(VEILCTL), "--socket", sock, "mcp",
              "--config", str(config)]
    mcp = SdkSession(mcp_clients, server, tmp_path / "transcript.jsonl", env)
    try:
        # Lifecycle: the SDK asked for its latest version and got it; one capability, tools.
        assert mcp.connected["protocolVersion"] == "2025-11-25"
        assert mcp.connected["server"]["name"] == "veil"
        assert mcp.connected["capabilities"] == {"tools": {"listChanged": False}}
        assert "request_access" in mcp.connected["instructions"]
        tools = {t["name"]: t for t in mcp.request("list_tools")["tools"]}
        assert set(tools) == {"list_databases", "describe", "query", "request_access",
                              "access_status"}
        for t in tools.values():
            assert t["inputSchema"]["type"] == "object" and t["outputSchema"]["type"] == "object"
        assert tools["query"]["annotations"]["readOnlyHint"] is True
        assert "password" not in json.dumps(tools["query"]["inputSchema"]["properties"])

        # 1. What alice may use, and what will come back masked.
        dbs = mcp.call("list_databases")
        assert not dbs["isError"]
        listing = dbs["structuredContent"]
        assert listing["caller"] == f"user:{ALICE}"
        [db] = listing["databases"]
        assert (db["endpoint"], db["access_mode"], db["can_query_now"], db["can_request_access"],
                db["approvers"], db["max_ttl"], db["grants"]) == \
            ("shop-db", "grant", False, True, [f"user:{BOB}"], "2h", [])
        desc = mcp.call("describe", endpoint="shop-db")["structuredContent"]
        assert desc["catalog"]["read"] is False
        assert "needs an active grant" in desc["catalog"]["detail"]
        assert {"match": "*.name", "action": "mask", "entity": "PERSON_NAME"} in desc["rules"]
        assert {"match": "payments.card_number", "action": "mask",
                "entity": "CREDIT_CARD"} in desc["rules"]
        assert any("masking profile" in s for s in desc["classification_sources"])
        assert any("ListColumns" in s for s in desc["classification_sources"])

        # 2. No grant: a tool error that carries veild's HINT and the way forward.
        r = mcp.call("query", endpoint="shop-db", sql="SELECT contact FROM customers")
        assert r["isError"] is True and "structuredContent" not in r
        text = text_of(r)
        assert f"no active grant for user:{ALICE} on shop-db" in text
        assert 'HINT: veilctl grants request shop-db --ttl 1h --reason "..."' in text
        assert "request_access" in text and f"user:{BOB}" in text

        # 3. request_access: pending, and who approves. The approver hears of it.
        req = mcp.call("request_access", endpoint="shop-db", ttl="30m", reason=REASON)
        assert not req["isError"], text_of(req)
        grant = req["structuredContent"]["grant"]
        gid = grant["id"]
        assert grant["state"] == "pending" and grant["endpoints"] == ["shop-db"]
        assert req["structuredContent"]["approvers"] == [f"user:{BOB}"]
        assert req["structuredContent"]["can_query_now"] is False
        assert f"veilctl grants approve {gid}" in req["structuredContent"]["next_step"]
        got = hooks.wait_for(lambda d: {(x["path"].split("/")[1], event_of(x)) for x in d} >=
                             {("json", "requested"), ("slack", "requested")})
        slack = next(x for x in got if x["path"].startswith("/slack"))
        assert slack["path"] == "/slack/T000/B000/s3cr3t"
        assert f"veilctl grants approve {gid}" in slack["json"]["text"]
        assert set(slack["json"]) == {"text"}
        body = next(x for x in got if x["path"] == "/json")["json"]
        assert (body["event"], body["grant"]["id"], body["grant"]["principal"],
                body["grant"]["ttl_seconds"], body["ocsf"]["class_uid"],
                body["ocsf"]["unmapped"]["grant_event"]) == \
            ("requested", gid, f"user:{ALICE}", 1800, 3005, "requested")
        status = mcp.call("access_status", grant_id=gid)["structuredContent"]
        assert status["grant"]["state"] == "pending" and not status["can_query_now"]

        # 4. bob approves at his shell; access_status, waiting, sees it become active.
        veilctl_as(BOB, sock, "grants", "approve", gid)
        status = mcp.call("access_status", grant_id=gid, wait_seconds=10)["structuredContent"]
        assert status["grant"]["state"] == "active" and status["can_query_now"]
        assert status["grant"]["approved_by"] == [f"user:{BOB}"]
        assert 0 < status["grant"]["expires_in_seconds"] <= 1800

        # 5. describe now reads the catalog through veild: types and masking per column.
        desc = mcp.call("describe", endpoint="shop-db", table="customers")["structuredContent"]
        assert desc["catalog"]["read"] is True and desc["database"] == "shop"
        [customers] = desc["tables"]
        cols = {c["name"]: c for c in customers["columns"]}
        assert list(cols) == ["id", "name", "contact", "phone", "notes", "signup_ip", "born",
                              "balance"]
        assert (cols["name"]["masking"], cols["name"]["entity"], cols["name"]["source"],
                cols["name"]["strategy"]) == ("always", "PERSON_NAME", "rule", "redact")
        assert (cols["phone"]["masking"], cols["phone"]["entity"], cols["phone"]["source"]) == \
            ("scanned", "PHONE", "name")
        assert cols["contact"]["masking"] == "scanned"
        assert (cols["born"]["type"], cols["born"]["masking"], cols["born"]["entity"]) == \
            ("date", "null", "DATE_OF_BIRTH")
        assert (cols["balance"]["masking"], cols["balance"]["source"]) == ("never", "type")

        # 6. The query: masked rows, the masked columns named, the caps stated.
        r = mcp.call("query", endpoint="shop-db",
                     sql="SELECT id, name, contact, notes, balance FROM customers ORDER BY id")
        assert not r["isError"], text_of(r)
        q = r["structuredContent"]
        assert json.loads(text_of(r)) == q  # the same JSON for text-only clients
        assert q["limits"] == {"max_rows": 200, "max_bytes": 262144,
                               "statement_timeout_ms": 30000}
        assert (q["row_count"], q["truncated"], q["command_tag"]) == (6, False, "SELECT 6")
        assert [c["name"] for c in q["columns"]] == ["id", "name", "contact", "notes", "balance"]
        assert q["masked_columns"] == ["name", "contact", "notes"]
        by_name = {c["name"]: c for c in q["columns"]}
        assert by_name["name"]["base_column"] == "public.customers.name"
        assert by_name["contact"]["entity"] == "EMAIL" and by_name["contact"]["masked"]
        assert not by_name["balance"]["masked"]
        rows = q["rows"]
        assert [row[1] for row in rows] == ["[PERSON_NAME]"] * 6
        assert all(row[2].endswith("@masked.invalid") for row in rows[:5]) and rows[5][2] is None
        assert rows[0][3] == "Called about a refund; paid with card **** **** **** 1111, " \
                             "exp 09/27."
        assert [row[4] for row in rows] == ["120.50", "0.00", "9875.00", "-42.10", "310.00",
                                            "0.00"]
        # Caps: rows past max_rows are never fetched into the answer.
        r = mcp.call("query", endpoint="shop-db", sql="SELECT * FROM subscribers", max_rows=3)
        q = r["structuredContent"]
        assert (q["row_count"], q["truncated"], q["truncated_by"], q["limits"]["max_rows"]) == \
            (3, True, "max_rows", 3)
        # A guardrail refusal is a tool error with veild's words.
        r = mcp.call("query", endpoint="shop-db", sql="DELETE FROM customers WHERE id = 6")
        assert r["isError"] and "veil blocked the statement (SQLSTATE 42501)" in text_of(r)
        assert "guardrail" in text_of(r)
        # One statement only.
        r = mcp.call("query", endpoint="shop-db", sql="SELECT 1; SELECT 2")
        assert r["isError"]

        # 7. bob revokes: the next query is refused again, with the hint.
        veilctl_as(BOB, sock, "grants", "revoke", gid)
        r = mcp.call("query", endpoint="shop-db", sql="SELECT count(*) FROM customers")
        assert r["isError"] and f"no active grant for user:{ALICE} on shop-db" in text_of(r)
        assert "HINT: veilctl grants request shop-db" in text_of(r)
        status = mcp.call("access_status", grant_id=gid)["structuredContent"]
        assert status["grant"]["state"] == "revoked"
    finally:
        stderr = mcp.close()
    # Nothing raw crossed, in either direction, in any message of the session.
    transcript = (tmp_path / "transcript.jsonl").read_text()
    assert transcript.count('"direction"') > 20
    assert leaked_values(transcript, seeded_values) == [], stderr

    # The approver was told of each step, the revoke too; no reason text, no raw value.
    got = hooks.wait_for(lambda d: sum(event_of(x) == "revoked" for x in d) == 2)
    assert [event_of(x) for x in got if x["path"] == "/json"] == \
        ["requested", "approved", "revoked"]
    assert [event_of(x) for x in got if x["path"].startswith("/slack")] == \
        ["requested", "approved", "revoked"]
    for d in got:
        assert d["content_type"].startswith("application/json")
        assert d["user_agent"].startswith("veil/")
        assert "MCP-IT-7731" not in d["raw"] and "refund audit" not in d["raw"]
        assert leaked_values(d["raw"], seeded_values) == []
    hooks.down()

    # Usage events: alice's statements through veilctl mcp carry the mark, as context only.
    events = wait_events(f"{tmp_path}/events.jsonl", lambda ev: any(
        e.get("unmapped", {}).get("grant_event") == "revoked" for e in ev))
    queries = [e for e in events if e["class_uid"] == 6005 and e["activity_id"] == 4]
    assert queries
    for e in queries:
        assert (e["unmapped"]["client"], e["unmapped"]["client_name"],
                e["unmapped"]["application_name"], e["unmapped"]["principal"]) == \
            ("mcp", "veil-it-agent", "veilctl mcp: veil-it-agent", f"user:{ALICE}")
    assert any("FROM customers" in e["query_info"]["query_string"] for e in queries)
    refused = [e for e in events if e["class_uid"] == 6005 and e["status"] == "Failure"
               and e.get("status_code") == "28000"]
    assert refused and all(e["unmapped"]["client"] == "mcp" for e in refused)


# ---- the MCP Inspector, CLI mode ----


def inspector(node, server_script, method, *args, env=None):
    cli = MCP_DIR / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / \
        "launcher" / "build" / "index.js"
    argv = [node, str(cli), "--cli", str(server_script), "-e", "PGUSER=postgres",
            "-e", "PGDATABASE=shop", "--method", method, *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=MCP_DIR, env=env)
    start = r.stdout.find("{")
    assert start >= 0, f"inspector printed no JSON ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout[start:]), r


def test_inspector_cli_drives_the_same_flow(users, pg, start_veild, tmp_path, run_dir,
                                            mcp_clients, seeded_values):
    sock = f"{run_dir}/veil.sock"
    port = free_port()
    proc = start_veild(veil_config(f"{tmp_path}/state", sock, pg, port))
    config = readable_config(proc, run_dir)
    # The Inspector launches one command; this one runs veilctl mcp as alice.
    script = Path(run_dir) / "veilctl-mcp-as-alice"
    script.write_text(f"#!/bin/sh\nexec runuser -u {ALICE} -- {os.path.abspath(VEILCTL)} "
                      f"--socket {sock} mcp --config {config} --statement-timeout 3000 "
                      f"--max-bytes 2048 \"$@\"\n")
    script.chmod(0o755)
    seen = []

    def run(method, *args):
        out, r = inspector(mcp_clients, script, method, *args)
        seen.append(r.stdout)
        return out

    tools = run("tools/list")["tools"]
    assert sorted(t["name"] for t in tools) == ["access_status", "describe", "list_databases",
                                                "query", "request_access"]
    listing = run("tools/call", "--tool-name", "list_databases")
    [db] = listing["structuredContent"]["databases"]
    assert (db["endpoint"], db["can_query_now"]) == ("shop-db", False)
    desc = run("tools/call", "--tool-name", "describe", "--tool-arg", "endpoint=shop-db")
    assert {"match": "*.name", "action": "mask", "entity": "PERSON_NAME"} in \
        desc["structuredContent"]["rules"]

    refused = run("tools/call", "--tool-name", "query", "--tool-arg", "endpoint=shop-db",
                  "--tool-arg", "sql=SELECT name, contact FROM customers ORDER BY id")
    assert refused["isError"] is True
    assert 'HINT: veilctl grants request shop-db --ttl 1h --reason "..."' in \
        refused["content"][0]["text"]

    req = run("tools/call", "--tool-name", "request_access", "--tool-arg", "endpoint=shop-db",
              "--tool-arg", "ttl=15m", "--tool-arg", f"reason={REASON}")
    gid = req["structuredContent"]["grant"]["id"]
    assert req["structuredContent"]["grant"]["state"] == "pending"
    veilctl_as(BOB, sock, "grants", "approve", gid)
    status = run("tools/call", "--tool-name", "access_status", "--tool-arg", f"grant_id={gid}")
    assert status["structuredContent"]["grant"]["state"] == "active"

    rows = run("tools/call", "--tool-name", "query", "--tool-arg", "endpoint=shop-db",
               "--tool-arg", "sql=SELECT name, contact FROM customers ORDER BY id")
    assert rows["isError"] is False
    q = rows["structuredContent"]
    assert q["masked_columns"] == ["name", "contact"]
    assert [r[0] for r in q["rows"]] == ["[PERSON_NAME]"] * 6
    assert all(r[1].endswith("@masked.invalid") for r in q["rows"][:5])

    # The operator's caps, stated in every result: bytes, and time.
    assert q["limits"] == {"max_rows": 200, "max_bytes": 2048, "statement_timeout_ms": 3000}
    big = run("tools/call", "--tool-name", "query", "--tool-arg", "endpoint=shop-db",
              "--tool-arg", "sql=SELECT address FROM subscribers ORDER BY id")
    b = big["structuredContent"]
    assert (b["truncated"], b["truncated_by"]) == (True, "max_bytes")
    assert 0 < b["row_count"] < 200
    assert sum(len(r[0]) for r in b["rows"]) <= 2048
    slow = run("tools/call", "--tool-name", "query", "--tool-arg", "endpoint=shop-db",
               "--tool-arg", "sql=SELECT pg_sleep(5)")
    assert slow["isError"] is True
    assert "statement timeout (3000 ms)" in slow["content"][0]["text"]

    veilctl_as(BOB, sock, "grants", "revoke", gid)
    again = run("tools/call", "--tool-name", "query", "--tool-arg", "endpoint=shop-db",
                "--tool-arg", "sql=SELECT name FROM customers")
    assert again["isError"] is True and "no active grant" in again["content"][0]["text"]
    # The Inspector's portability check of the tool schemas finds nothing to report.
    _, strict = inspector(mcp_clients, script, "tools/list", "--strict")
    assert strict.returncode == 0, strict.stderr
    assert "Warning: tool" not in strict.stderr and "Error: tool" not in strict.stderr, \
        strict.stderr
    assert leaked_values("\n".join(seen), seeded_values) == []


# ---- webhooks: retry after the receiver was down, https, expiry ----


def test_webhooks_retry_https_and_expiry(users, pg, start_veild, tmp_path, run_dir,
                                         seeded_values):
    sock = f"{run_dir}/veil.sock"
    port, hook_port, tls_port = free_port(), free_port(), free_port()
    tls = _make_certificates(tmp_path / "hook-tls")
    url_file = tmp_path / "slack.url"  # the secret URL kept out of the config file
    url_file.write_text(f"https://localhost:{tls_port}/services/T1/B1/t0ken\n")
    notify = textwrap.indent(textwrap.dedent(f"""
          notify:
            - {{type: json, url: "http://{HOST}:{hook_port}/hook", timeout: 2s}}
            - {{type: slack, url_file: {url_file}, ca_file: {tls.ca_file}}}
        """), "  ")
    plain = Receiver(hook_port)  # down at first: nothing listens on its port
    secure = Receiver(tls_port, tls).up()
    proc = start_veild(veil_config(f"{tmp_path}/state", sock, pg, port, notify))
    try:
        gid = veilctl_as(ALICE, sock, "grants", "request", "shop-db", "--ttl", "4s",
                         "--reason", REASON)
        veilctl_as(BOB, sock, "grants", "approve", gid)
        # https with the receiver's own CA: delivered at once, in order.
        secure.wait_for(lambda d: [event_of(x) for x in d] == ["requested", "approved"])
        # The plain receiver is down: veild spools and retries with backoff, and never held
        # up the grant (the approval above returned at once).
        spool = Path(f"{tmp_path}/state/spool")
        deadline = time.time() + 10
        while time.time() < deadline and not any(
                len(f.read_text().splitlines()) == 2 for f in spool.glob("notify-json-*.jsonl")):
            time.sleep(0.1)
        [spooled] = list(spool.glob("notify-json-*.jsonl"))
        assert len(spooled.read_text().splitlines()) == 2
        assert "t0ken" not in spooled.name and "not delivered" in proc.log()
        assert "t0ken" not in proc.log() and f"http://{HOST}:{hook_port}/hook" not in proc.log()
        came_up = time.time()
        plain.up()
        got = plain.wait_for(lambda d: len(d) >= 2, timeout=40)
        assert [x["json"]["event"] for x in got[:2]] == ["requested", "approved"]
        assert got[0]["time"] - came_up < 35
        # The grant runs out (ttl 4s): both receivers hear it.
        plain.wait_for(lambda d: any(x["json"]["event"] == "expired" for x in d), timeout=20)
        secure.wait_for(lambda d: any(event_of(x) == "expired" for x in d), timeout=20)
        deadline = time.time() + 10
        while time.time() < deadline and list(spool.glob("notify-json-*.jsonl")):
            time.sleep(0.1)
        assert not list(spool.glob("notify-json-*.jsonl"))  # delivered: the spool is gone
        expired = next(x["json"] for x in plain.deliveries if x["json"]["event"] == "expired")
        assert (expired["actor"], expired["grant"]["state"]) == ("veil", "expired")
        for d in plain.deliveries + secure.deliveries:
            assert REASON not in d["raw"] and "refund audit" not in d["raw"]
            assert leaked_values(d["raw"], seeded_values) == []
    finally:
        plain.down()
        secure.down()


# ---- the README's configurations, as written ----


def readme_section():
    text = (HERE.parents[1] / "README.md").read_text()
    start = text.index("## Give an AI agent masked, just-in-time database access")
    end = text.index("\n## ", start + 10)
    return text[start:end]


def fenced(section, lang):
    blocks, rest = [], section
    while f"```{lang}\n" in rest:
        rest = rest[rest.index(f"```{lang}\n") + len(lang) + 4:]
        blocks.append(rest[:rest.index("```")])
        rest = rest[rest.index("```") + 3:]
    return blocks


def test_readme_client_configurations_work_as_written(users, pg, start_veild, tmp_path, run_dir,
                                                       mcp_clients):
    sock = f"{run_dir}/veil.sock"
    proc = start_veild(veil_config(f"{tmp_path}/state", sock, pg, free_port()))
    config = readable_config(proc, run_dir)
    # `veilctl` on PATH, as the package installs it; this one only points at the test's socket
    # and configuration instead of /run/veil and /etc/veil, and runs as alice.
    bin_dir = Path(run_dir) / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "veilctl"
    real = os.path.abspath(VEILCTL)
    shim.write_text(f"#!/bin/sh\n"
                    f"if [ \"$(id -u)\" = 0 ]; then exec runuser -u {ALICE} -- {real} "
                    f"--socket {sock} \"$@\" --config {config}; fi\n"
                    f"exec {real} --socket {sock} \"$@\" --config {config}\n")
    shim.chmod(0o755)
    path = f"{bin_dir}:{os.environ['PATH']}"
    section = readme_section()

    configs = [json.loads(b) for b in fenced(section, "json")]
    assert len(configs) == 2  # Claude Code, Claude Desktop
    for cfg in configs:
        server = cfg["mcpServers"]["veil"]
        assert server["command"] == "veilctl" and server["args"][0] == "mcp"
        assert set(server["env"]) <= {"PGUSER", "PGDATABASE", "PGSERVICE", "PGPASSFILE"}
        env = dict(os.environ, PATH=path, **server["env"])
        mcp = SdkSession(mcp_clients, [server["command"], *server["args"]],
                         tmp_path / "readme.jsonl", env)
        try:
            r = mcp.call("list_databases")
            assert not r["isError"], text_of(r)
            assert r["structuredContent"]["caller"] == f"user:{ALICE}"
        finally:
            mcp.close()

    [by_hand] = fenced(section, "sh")
    r = subprocess.run(["runuser", "-u", ALICE, "--", "env", f"PATH={path}", "sh", "-c", by_hand],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    replies = [json.loads(line) for line in r.stdout.splitlines()]
    assert [m["id"] for m in replies] == [1, 2]
    assert replies[0]["result"]["protocolVersion"] == "2025-11-25"
    listing = replies[1]["result"]["structuredContent"]
    assert [d["endpoint"] for d in listing["databases"]] == ["shop-db"]

    # The grants.notify example is valid configuration.
    [yaml_block] = fenced(section, "yaml")
    example = Path(run_dir) / "notify-example.yaml"
    example.write_text(yaml_block)
    r = subprocess.run([str(proc.popen.args[0]), "--check-config", str(example)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
