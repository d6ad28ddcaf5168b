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
    # The second wall: the upstream session itself is read-only.
    r = psql_via(port, "CREATE TABLE should_not_exist (x int)", check=False)
    assert "read-only transaction" in r.stderr
    assert pg.psql("SELECT to_regclass('should_not_exist') IS NULL").stdout.strip() == "t"


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
