"""`veilctl clone` (issue 17): one command gives a masked sandbox copy of a protected database.

The source is test_masked_copy.py's (PII in every column shape that breaks naive masking: a
foreign key between PII columns, UNIQUE and CHECK on PII, bytea, large objects) behind veild
with a `fake` profile; the target is a second throwaway PostgreSQL cluster. The copy must keep
the schema with every constraint valid and every row, hold none of the seeded raw values, and
the summary, veild's one clone event and `veilctl audit verify` must agree on what was masked.
A target that is a protected address, or a restore that fails, exits 1 and writes nothing.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PgServer, VeildLauncher, free_port, veild_bin
from test_masked_copy import (N_CUSTOMERS, ROWS, SRC, config, leaks, prepare_work, rows,
                              src_db)  # noqa: F401

VEILCTL = os.environ.get("VEILCTL_BIN", "build/tools/veilctl/veilctl")
N_ORDERS = sum(1 + i % 3 for i in range(N_CUSTOMERS))


def counts(pg, db: str) -> tuple[dict, dict]:
    """What a database holds, whatever test_masked_copy seeds: rows per table, and per column
    under a rule of the sandbox profile (its `*.name` globs) the non-NULL values, which veild
    must all mask."""
    ruled = set(re.findall(r'match: "\*\.(\w+)"', config(Path("/x"), pg, 1, Path("/k"))))
    tables = [t for (t,) in rows(pg, db, "SELECT tablename FROM pg_tables"
                                 " WHERE schemaname = 'public' ORDER BY 1;")]
    by_table, by_column = {}, {}
    for t in tables:
        cols = [c for (c,) in rows(pg, db, "SELECT column_name FROM information_schema.columns"
                                   f" WHERE table_schema = 'public' AND table_name = '{t}'"
                                   " ORDER BY ordinal_position;") if c in ruled]
        n = rows(pg, db, "SELECT " + ", ".join(["count(*)"] + [f"count({c})" for c in cols])
                 + f" FROM {t};")[0]
        by_table[f"public.{t}"] = int(n[0])
        by_column.update({f"public.{t}.{c}": int(k) for c, k in zip(cols, n[1:]) if int(k)})
    return by_table, by_column


@pytest.fixture(scope="module")
def target_pg():
    server = PgServer("clone-target").start()
    try:
        yield server
    finally:
        server.stop()


def launch(work, src_db, access: str = "open", guardrails: str = ""):  # noqa: F811
    """veild in front of the source with the sandbox profile, in `work`: (launcher, info)."""
    key_file = prepare_work(work)
    launcher = VeildLauncher(veild_bin(), work)
    port = free_port()
    extra = f"\n    guardrails: {guardrails}" if guardrails else ""
    text = config(work, src_db, port, key_file).replace("access: open", f"access: {access}{extra}")
    proc = launcher(text)
    return launcher, {"port": port, "config": proc.config_path, "events": work / "events.jsonl"}


@pytest.fixture(scope="module")
def veild(src_db, tmp_path_factory):  # noqa: F811
    launcher, info = launch(tmp_path_factory.mktemp("clone"), src_db)
    yield info
    problems = launcher.close()
    assert not problems, "\n".join(problems)


def env(**extra) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    e.update(PGUSER="postgres", LC_ALL="C")
    e.update(extra)
    return e


def clone(veild, target: str, *args, database: str = SRC) -> subprocess.CompletedProcess:
    return subprocess.run(
        [VEILCTL, *args, "clone", "src-db", target, "--database", database, "--config",
         str(veild["config"])],
        capture_output=True, text=True, timeout=300, env=env())


def events(veild) -> list[dict]:
    path = veild["events"]
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def clone_events(veild, expect: int, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in events(veild) if e.get("api", {}).get("operation") == "clone"]
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def fresh_db(pg, name: str) -> str:
    pg.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name};",
            dbname="postgres")
    return name


def relations(pg, db: str) -> int:
    return int(rows(pg, db, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid ="
                    " c.relnamespace WHERE n.nspname = 'public';")[0][0])


def test_clone_copies_schema_rows_and_constraints_masked(veild, target_pg, src_db):  # noqa: F811
    expected_rows, expected = counts(src_db, SRC)
    db = fresh_db(target_pg, "sandbox")
    target = f"host={target_pg.host} port={target_pg.port} user=postgres dbname={db}"
    before = len(clone_events(veild, 0, timeout=0))
    r = clone(veild, target, "-o", "json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)

    # Every row of every table; the constraints were added after the data and are valid.
    copied, _ = counts(target_pg, db)
    assert copied == expected_rows
    assert expected_rows["public.customers"] == N_CUSTOMERS
    assert expected_rows["public.orders"] == N_ORDERS
    checked = rows(target_pg, db, "SELECT count(*) FROM pg_constraint c JOIN pg_class t"
                   " ON t.oid = c.conrelid WHERE t.relname IN ('customers', 'orders')"
                   " AND c.convalidated AND c.contype IN ('u', 'f', 'c', 'p');")
    assert checked == [["5"]]  # 2 primary keys, UNIQUE(email), the FK, the CHECK
    # The sequences came along: the next id follows the copied ones.
    assert rows(target_pg, db, "SELECT nextval('customers_id_seq');") == [[str(N_CUSTOMERS + 1)]]
    # The relationship held: each customer keeps its orders.
    per_customer = rows(target_pg, db, "SELECT count(o.id) FROM customers c LEFT JOIN orders o"
                        " ON o.customer_email = c.email GROUP BY c.id ORDER BY c.id;")
    assert [int(n) for (n,) in per_customer] == [1 + i % 3 for i in range(N_CUSTOMERS)]

    # No seeded raw value in any table of the copy (as text or hex), nor a date of birth.
    for table in expected_rows:
        text = target_pg.psql(f"COPY {table} TO STDOUT;", dbname=db).stdout
        assert not leaks(text), (table, leaks(text)[:5])
    born = rows(target_pg, db, "SELECT born FROM customers ORDER BY id;")
    assert all(b != orig["born"] for (b,), orig in zip(born, ROWS))

    # The summary: rows per table as copied, masked values per column as veild counted them.
    assert summary["rows_by_table"] == expected_rows
    assert summary["rows"] == sum(expected_rows.values())
    assert summary["target"] == f"{target_pg.host}:{target_pg.port}/{db}"
    # Every value under a rule was masked, and counted in its column: here, every one.
    assert expected["public.customers.email"] == N_CUSTOMERS
    assert expected["public.orders.customer_email"] == N_ORDERS
    # pg_dump's catalog queries pass veild too: what it masks there (built-in comments that look
    # like names, columns of unknown lineage) is counted under the catalog's labels.
    masked = summary["masked_by_column"]
    assert {k: v for k, v in masked.items() if k.startswith("public.")} == expected
    assert all(k.startswith("pg_catalog.") or " <- " in k for k in masked if k not in expected)
    assert summary["complete"] and summary["recorded"]

    # Exactly one clone event for the run, with the same counts, and no secret in it.
    found = clone_events(veild, before + 1)[before:]
    assert len(found) == 1, found
    (e,) = found
    assert e["class_uid"] == 6003 and e["activity_id"] == 1 and e["status_id"] == 1
    u = e["unmapped"]
    assert u["masked"]["by_column"] == masked
    assert u["rows_by_table"] == summary["rows_by_table"]
    assert u["rows"] == sum(expected_rows.values())
    assert u["target"] == summary["target"]
    assert u["clone_run"] == summary["run"]
    assert u["endpoint"] == "src-db"
    assert e["database"]["name"] == SRC
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert u["principal"] == f"user:{me}"
    assert e["resources"] == [{"type": "database", "uid": summary["target"]}]
    # Every statement of the run's sessions went through veild's usage events as well.
    dumps = [x for x in events(veild) if x.get("unmapped", {}).get("application_name")
             == f"veil-clone:{summary['run']}"]
    assert dumps, "the run's sessions left no usage events"

    ok = subprocess.run([VEILCTL, "audit", "verify", str(veild["events"])],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_clone_table_output_and_progress(veild, target_pg):
    db = fresh_db(target_pg, "sandbox_table")
    r = clone(veild, f"postgresql://postgres@{target_pg.host}:{target_pg.port}/{db}")
    assert r.returncode == 0, r.stderr
    assert f"-> {target_pg.host}:{target_pg.port}/{db}" in r.stdout
    assert "public.customers.email" in r.stdout and "MASKED COLUMN" in r.stdout
    # stderr is no TTY here: the start line and (for a run this short) no redraws.
    assert "\r" not in r.stderr
    assert f"src-db/{SRC} through veild" in r.stderr
    # Never a data value on either stream.
    assert not leaks(r.stdout + r.stderr)


@pytest.mark.parametrize("how", ["upstream", "upstream-name", "upstream-socket", "listen"])
def test_clone_refuses_a_protected_target(veild, src_db, how):  # noqa: F811
    db = fresh_db(src_db, "sandbox_refused")
    target = {
        "upstream": f"host={src_db.host} port={src_db.port} user=postgres dbname={db}",
        "upstream-name": f"postgresql://postgres@localhost:{src_db.port}/{db}",
        "upstream-socket": f"host={src_db.socket_dir} port={src_db.port} user=postgres"
                           f" dbname={db}",
        "listen": f"host=127.0.0.1 port={veild['port']} user=postgres dbname={db}",
    }[how]
    before = len(clone_events(veild, 0, timeout=0))
    r = clone(veild, target)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "refused: TARGET" in r.stderr
    assert ("upstream" if how.startswith("upstream") else "listen address") in r.stderr
    assert relations(src_db, db) == 0  # nothing written
    assert len(clone_events(veild, before + 1, timeout=1)) == before  # nothing dumped


def test_clone_refuses_a_target_that_holds_tables(veild, target_pg):
    db = fresh_db(target_pg, "sandbox_used")
    target_pg.psql("CREATE TABLE keep_me (id int);", dbname=db)
    r = clone(veild, f"host={target_pg.host} port={target_pg.port} user=postgres dbname={db}")
    assert r.returncode == 1
    assert "already holds 1 relations" in r.stderr


def test_clone_into_a_missing_database_exits_1(veild, target_pg):
    r = clone(veild, f"host={target_pg.host} port={target_pg.port} user=postgres"
              " dbname=no_such_sandbox")
    assert r.returncode == 1
    assert "no_such_sandbox" in r.stderr and "does not exist" in r.stderr


def test_a_failing_restore_exits_1_rolls_back_and_is_recorded(veild, target_pg):
    # app_trust may connect but not create in public (PostgreSQL 15): psql fails on the first
    # CREATE TABLE, after pg_dump started.
    db = fresh_db(target_pg, "sandbox_denied")
    before = len(clone_events(veild, 0, timeout=0))
    r = clone(veild, f"host={target_pg.host} port={target_pg.port} user=app_trust dbname={db}")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "restore failed (psql exit" in r.stderr
    assert "permission denied" in r.stderr  # psql's own words, its stderr's last lines
    assert relations(target_pg, db) == 0  # one transaction: nothing is left behind
    found = clone_events(veild, before + 1)[before:]
    assert len(found) == 1
    assert found[0]["status_id"] == 2
    assert found[0]["status_detail"].startswith("restore failed (psql exit")
    ok = subprocess.run([VEILCTL, "audit", "verify", str(veild["events"])],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_clone_usage_errors_and_unreachable_agent(veild, target_pg, tmp_path):
    r = clone(veild, "this is = not a conninfo '")
    assert r.returncode == 2, r.stderr
    # veild's control socket is elsewhere: the agent is unreachable (3), nothing is copied.
    db = fresh_db(target_pg, "sandbox_unreachable")
    r = subprocess.run(
        [VEILCTL, "--socket", str(tmp_path / "nothing.sock"), "clone", "src-db",
         f"host={target_pg.host} port={target_pg.port} user=postgres dbname={db}",
         "--database", SRC, "--config", str(veild["config"])],
        capture_output=True, text=True, timeout=60, env=env())
    assert r.returncode == 3, r.stderr
    assert relations(target_pg, db) == 0


def test_clone_needs_a_grant_like_any_client(src_db, target_pg, tmp_path):  # noqa: F811
    # access: grant and no grant for this user: pg_dump's session would be refused, so the run
    # stops at its first connection through veild, with veild's words and hint, and is recorded.
    launcher, grant_veild = launch(tmp_path, src_db, access="grant")
    try:
        db = fresh_db(target_pg, "sandbox_no_grant")
        r = clone(grant_veild,
                  f"host={target_pg.host} port={target_pg.port} user=postgres dbname={db}")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "no active grant" in r.stderr and "veilctl grants request src-db" in r.stderr
        assert relations(target_pg, db) == 0
        found = clone_events(grant_veild, 1)
        assert len(found) == 1 and found[0]["status_id"] == 2
        assert found[0]["status_detail"] == "source connection through veild failed"
    finally:
        problems = launcher.close()
    assert not problems, "\n".join(problems)


def test_a_failing_dump_exits_1_and_leaves_the_target_empty(
        src_db, target_pg, tmp_path):  # noqa: F811
    # A guardrail refuses pg_dump's COPY of orders, after the customers' rows have streamed
    # into psql: pg_dump fails mid-dump, psql is stopped before it could commit.
    launcher, blocked = launch(tmp_path, src_db,
                               guardrails='[{deny: "^COPY public\\\\.orders"}]')
    try:
        db = fresh_db(target_pg, "sandbox_cut")
        r = clone(blocked,
                  f"host={target_pg.host} port={target_pg.port} user=postgres dbname={db}")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "pg_dump failed (exit 1)" in r.stderr
        assert "guardrail" in r.stderr  # pg_dump's own error, its stderr's last lines
        assert relations(target_pg, db) == 0
        (e,) = clone_events(blocked, 1)
        assert e["status_id"] == 2 and e["status_detail"] == "pg_dump failed (exit 1)"
        # What had streamed when it failed: the customers (and the tables pg_dump took
        # before them), and the header of the orders' block.
        copied = e["unmapped"]["rows_by_table"]
        assert copied["public.customers"] == N_CUSTOMERS and copied["public.orders"] == 0
    finally:
        problems = launcher.close()
    assert not problems, "\n".join(problems)
