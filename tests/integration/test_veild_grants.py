"""access: grant — veild admits a session only inside an active grant for the principal the
kernel reports (here: the uid of the test process, from the socket table or SO_PEERCRED), sets
read grants' upstream sessions read-only, and ends sessions when their grant ends.

The control API (grants request/approve/revoke over veil.sock) is not built yet; these tests put
grants into state_dir/grants.db the way the store writes them, to test enforcement alone."""

import os
import pwd
import sqlite3
import subprocess
import time

import pytest

from conftest import HOST, free_port
from test_veild_pg import psql_via, veil_config

ME = "user:" + pwd.getpwuid(os.geteuid()).pw_name


def grant_config(work, pg, port, standing=""):
    cfg = veil_config(work, pg.host, pg.port, port).replace("access: open", "access: grant")
    return cfg + f"""
grants:
  policies:
    - {{endpoints: [shop-db], requesters: ["{ME}"], approvers: ["group:nobody-approves"]}}
  standing: [{standing}]
"""


def test_no_grant_is_refused_with_the_hint(pg, start_veild, tmp_path):
    port = free_port()
    start_veild(grant_config(tmp_path, pg, port))
    r = psql_via(port, "SELECT 1", check=False)
    assert r.returncode != 0
    assert f"FATAL:  veil: no active grant for {ME} on shop-db" in r.stderr
    assert 'HINT:  veilctl grants request shop-db --ttl 1h --reason "..."' in r.stderr
    # The database user in the startup packet does not matter: still refused.
    r = psql_via(port, "SELECT 1", check=False, user="app_trust")
    assert f"no active grant for {ME}" in r.stderr


def test_standing_read_grant_admits_masks_and_is_read_only(pg, start_veild, tmp_path):
    port = free_port()
    start_veild(grant_config(
        tmp_path, pg, port,
        standing=f'{{principal: "{ME}", endpoints: [shop-db], access: read}}'))
    assert psql_via(port, "SELECT contact FROM customers WHERE id = 1").stdout.strip() == \
        "[EMAIL]"
    # Over the unix socket too (principal from SO_PEERCRED).
    assert psql_via(port, "SELECT contact FROM customers WHERE id = 2",
                    host=tmp_path / "run").stdout.strip() == "[EMAIL]"
    # The first wall: veil's classifier refuses the write.
    r = psql_via(port, "CREATE TABLE should_not_exist (x int)", check=False)
    assert "veil: statement blocked by guardrail read-only" in r.stderr
    assert pg.psql("SELECT to_regclass('should_not_exist') IS NULL").stdout.strip() == "t"
    # The second wall alone: a write the classifier cannot see (a user function called from a
    # SELECT) is refused by the upstream session itself, which veild opened read-only.
    pg.psql("CREATE OR REPLACE FUNCTION sneaky_write() RETURNS int LANGUAGE sql AS"
            " $$ INSERT INTO audit.log VALUES (99, 'written through a read grant') RETURNING 1 $$")
    r = psql_via(port, "SELECT sneaky_write()", check=False)
    assert "cannot execute INSERT in a read-only transaction" in r.stderr, r.stderr
    assert pg.psql("SELECT count(*) FROM audit.log WHERE id = 99").stdout.strip() == "0"


def _put_grant(work, grant_id, not_after, state="active"):
    db = sqlite3.connect(work / "state" / "grants.db", timeout=10)
    now = int(time.time())
    with db:
        db.execute(
            "INSERT INTO grants VALUES (?, ?, 'write', '', ?, ?, ?, ?, ?, 'test', ?, ?, '', '', ?)",
            (grant_id, ME, now, now, not_after, not_after - now, now, ME, state, now))
        db.execute("INSERT INTO grant_endpoints VALUES (?, 0, 'shop-db')", (grant_id,))
    db.close()


def _long_query(port):
    return subprocess.Popen(
        ["psql", "-h", HOST, "-p", str(port), "-U", "postgres", "-d", "shop", "-X", "-c",
         "SELECT pg_sleep(30)"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_grant_expiry_ends_a_live_session_within_a_second(pg, start_veild, tmp_path):
    port = free_port()
    start_veild(grant_config(tmp_path, pg, port))
    not_after = int(time.time()) + 3
    _put_grant(tmp_path, "g-expiresoon2", not_after)
    q = _long_query(port)
    _, err = q.communicate(timeout=20)
    ended = time.time()
    assert "FATAL:  veil: grant g-expiresoon2 expired" in err
    assert ended - not_after < 2.0, f"ended {ended - not_after:.2f}s after not_after"
    # And a new session is refused now.
    r = psql_via(port, "SELECT 1", check=False)
    assert "no active grant" in r.stderr


def test_revoke_ends_a_live_session_within_a_second(pg, start_veild, tmp_path):
    port = free_port()
    start_veild(grant_config(tmp_path, pg, port))
    _put_grant(tmp_path, "g-revokedsoon", int(time.time()) + 3600)
    q = _long_query(port)
    time.sleep(1.5)
    db = sqlite3.connect(tmp_path / "state" / "grants.db", timeout=10)
    with db:
        db.execute("UPDATE grants SET state = 'revoked', revoked_by = 'test' WHERE id = ?",
                   ("g-revokedsoon",))
    db.close()
    revoked = time.time()
    _, err = q.communicate(timeout=20)
    assert "FATAL:  veil: grant g-revokedsoon revoked" in err
    assert time.time() - revoked < 2.0


def test_guardrails_block_with_42501_and_the_session_goes_on(pg, start_veild, tmp_path):
    port = free_port()
    cfg = veil_config(tmp_path, pg.host, pg.port, port).replace(
        "    access: open\n",
        "    access: open\n    guardrails: [no-ddl, no-unbounded-write, {deny: \"pg_sleep\"}]\n")
    assert "guardrails:" in cfg
    start_veild(cfg)
    r = psql_via(port, "CREATE TABLE blocked (x int);\n"
                       "SELECT contact FROM customers WHERE id = 1;\n"
                       "UPDATE payments SET memo = memo;\n"
                       "UPDATE payments SET memo = memo WHERE id = 1;\n"
                       "select pg_sleep(0);\n"
                       "/* ; */ SELECT 'drop table x' AS harmless;\n",
                 args=("-A", "-t", "-X"), check=False)
    # veil's own error, without the context of the DO block that raised it in the statement's
    # place (the client never wrote one).
    assert r.stderr.splitlines() == [
        "ERROR:  veil: statement blocked by guardrail no-ddl",
        "ERROR:  veil: statement blocked by guardrail no-unbounded-write",
        "ERROR:  veil: statement blocked by guardrail deny #1",  # deny patterns count from 1
    ], r.stderr
    assert r.stdout.splitlines() == ["[EMAIL]", "UPDATE 1", "drop table x"]
    assert pg.psql("SELECT to_regclass('blocked') IS NULL").stdout.strip() == "t"
    # The SQLSTATE a driver sees.
    import psycopg2
    conn = psycopg2.connect(host=HOST, port=port, dbname="shop", user="app_trust")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="guardrail no-ddl"):
        with conn.cursor() as cur:
            cur.execute("DROP TABLE payments")
    conn.close()


def test_read_grant_blocks_writes_at_veil_first(pg, start_veild, tmp_path):
    port = free_port()
    start_veild(grant_config(
        tmp_path, pg, port,
        standing=f'{{principal: "{ME}", endpoints: [shop-db], access: read}}'))
    r = psql_via(port, "UPDATE payments SET memo = 'x' WHERE id = 1", check=False)
    assert "ERROR:  veil: statement blocked by guardrail read-only" in r.stderr
    r = psql_via(port, "SET default_transaction_read_only = off", check=False)
    assert "guardrail read-only" in r.stderr
    assert pg.psql("SELECT memo FROM payments WHERE id = 1").stdout.strip() == "monthly plan"


def test_max_rows_ends_a_result_with_an_error(pg, start_veild, tmp_path):
    port = free_port()
    cfg = veil_config(tmp_path, pg.host, pg.port, port).replace(
        "    access: open\n", "    access: open\n    guardrails: [{max-rows: 100}]\n")
    start_veild(cfg)
    r = psql_via(port, "SELECT id, address FROM subscribers ORDER BY id;\n"
                       "SELECT count(*) FROM subscribers;\n", args=("-A", "-t", "-X"),
                 check=False)
    assert "ERROR:  veil: result ended by guardrail max-rows after 100 rows" in r.stderr
    assert r.stdout.strip() == "1000"  # the session goes on; a small result passes
    assert psql_via(port, "SELECT id FROM subscribers WHERE id <= 100").stdout.count("\n") == 100
    # Known gap (see the closing note): FETCHes from a DECLAREd cursor count one by one.


def _msg(kind, body=b""):
    import struct
    return kind + struct.pack("!i", len(body) + 4) + body


def _until_ready(s):
    import struct
    buf, msgs = b"", []
    while True:
        while len(buf) < 5 or len(buf) < 1 + struct.unpack("!i", buf[1:5])[0]:
            chunk = s.recv(65536)
            assert chunk, "connection closed"
            buf += chunk
        n = 1 + struct.unpack("!i", buf[1:5])[0]
        msgs.append((buf[:1], buf[5:n]))
        buf = buf[n:]
        if msgs[-1][0] == b"Z":
            return msgs


def test_blocked_named_statement_in_the_extended_protocol(pg, start_veild, tmp_path):
    # Parse of a named statement that a guardrail blocks: the Bind and Execute that follow name
    # it, and must meet veil's 42501, not "prepared statement does not exist".
    port = free_port()
    cfg = veil_config(tmp_path, pg.host, pg.port, port).replace(
        "    access: open\n", "    access: open\n    guardrails: [no-ddl]\n")
    start_veild(cfg)
    from test_veild_pg import _startup
    s = _startup(port)
    for name, sql in [(b"S_drop", b"DROP TABLE payments"), (b"S_ok", b"SELECT 7")]:
        # A Flush first, in the same packet: the Parse is not at the start of veil's buffer.
        s.sendall(_msg(b"H") + _msg(b"P", name + b"\0" + sql + b"\0\0\0") +
                  _msg(b"B", b"\0" + name + b"\0\0\0\0\0\0\0") +
                  _msg(b"E", b"\0\0\0\0\0") + _msg(b"S"))
        msgs = _until_ready(s)
        kinds = b"".join(k for k, _ in msgs)
        if name == b"S_drop":
            errors = [body for k, body in msgs if k == b"E"]
            assert len(errors) == 1 and b"C42501\0" in errors[0], msgs
            assert b"guardrail no-ddl" in errors[0]
        else:
            assert kinds == b"12DCZ", kinds
    s.close()
    assert pg.psql("SELECT to_regclass('payments') IS NOT NULL").stdout.strip() == "t"
