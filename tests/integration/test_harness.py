"""Smoke tests of the harness itself, straight against PostgreSQL (no veild): if these fail, a
failure of a veild test says nothing about veild."""

import re
import socket
import ssl
import sys
import textwrap
import time

import psycopg2
import pytest

from conftest import (AUTH_CODE_OF_METHOD, AUTH_SASL, ROLES, VeildLauncher, auth_request,
                      free_port, leaked_values)

# SPEC section 6, built-in entities.
SPEC_ENTITIES = set("""EMAIL PERSON_NAME PHONE CREDIT_CARD IBAN US_SSN US_ITIN US_PASSPORT
US_DRIVER_LICENSE US_BANK_ROUTING UK_NINO UK_NHS US_NPI DATE_OF_BIRTH IP_ADDRESS MAC_ADDRESS
STREET_ADDRESS JWT AWS_ACCESS_KEY AWS_SECRET_KEY GCP_API_KEY GITHUB_TOKEN SLACK_TOKEN STRIPE_KEY
OPENAI_API_KEY PRIVATE_KEY PASSWORD_IN_URL GENERIC_SECRET CRYPTO_WALLET""".split())


# ---- authentication: each role reaches the server over TCP through its own method ----


@pytest.mark.parametrize("role", ROLES.values(), ids=lambda r: r.method)
def test_role_authenticates_with_its_method(pg, role):
    # What the server asks for on the wire, not just what pg_hba.conf says: an md5 line with a
    # SCRAM verifier would silently run SCRAM.
    assert auth_request(pg.host, pg.port, role.name) == AUTH_CODE_OF_METHOD[role.method]

    before = pg.log_position()
    with pg.connect(role.name, role.password) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, host(inet_server_addr()), inet_server_port(),"
                    " (SELECT count(*) FROM customers)")
        assert cur.fetchone() == (role.name, "127.0.0.1", pg.port, 6)
    conn.close()
    log = pg.log_since(before)
    assert f"connection authorized: user={role.name} database=shop" in log
    if role.password is not None:
        assert f'connection authenticated: identity="{role.name}" method={role.method}' in log


@pytest.mark.parametrize("role", [r for r in ROLES.values() if r.password],
                         ids=lambda r: r.method)
def test_wrong_password_is_refused(pg, role):
    with pytest.raises(psycopg2.OperationalError,
                       match=f'password authentication failed for user "{role.name}"'):
        pg.connect(role.name, "not-" + role.password)


def test_role_without_hba_line_is_refused(pg):
    # No catch-all trust line: only the roles above get in over TCP.
    pg.psql("CREATE ROLE app_unlisted LOGIN PASSWORD 'x'")
    try:
        with pytest.raises(psycopg2.OperationalError, match="no pg_hba.conf entry"):
            pg.connect("app_unlisted", "x")
    finally:
        pg.psql("DROP ROLE app_unlisted")


def test_plain_server_does_not_offer_tls(pg):
    with pytest.raises(psycopg2.OperationalError, match="server does not support SSL"):
        pg.connect("app_trust", sslmode="require")


# ---- pg_tls ----


def test_tls_server_verifies_and_encrypts(pg_tls):
    with pg_tls.connect("app_scram") as conn, conn.cursor() as cur:  # sslmode=verify-full
        cur.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        encrypted, version = cur.fetchone()
        cur.execute("SELECT count(*) FROM subscribers")
        assert cur.fetchone() == (1000,)
    conn.close()
    assert encrypted is True
    assert version in ("TLSv1.2", "TLSv1.3")

    ctx = ssl.create_default_context(cafile=str(pg_tls.tls.ca_file))
    assert auth_request(pg_tls.host, pg_tls.port, "app_scram", tls_context=ctx) == AUTH_SASL


def test_tls_server_refuses_plaintext_and_unknown_ca(pg_tls):
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        pg_tls.connect("app_trust", sslmode="disable")
    # The system CA bundle does not know the test CA: verification is real.
    with pytest.raises(psycopg2.OperationalError, match="certificate verify failed"):
        pg_tls.connect("app_trust", sslrootcert="/etc/ssl/certs/ca-certificates.crt")


# ---- seeded data ----


def test_psql_copy_customers_to_stdout(pg):
    out = pg.psql(r"\copy customers to stdout", user="app_scram").stdout
    lines = out.splitlines()
    assert len(lines) == 6
    assert lines[0] == ("1\tMargaret Okonkwo\tmargaret.okonkwo@gmail.com\t(312) 847-3920\t"
                        "Called about a refund; paid with card 4111 1111 1111 1111, exp 09/27.\t"
                        "203.0.113.45\t1984-01-05\t120.50")
    assert lines[5] == "6\tAisha Bello\t\\N\t\\N\t\\N\t\\N\t\\N\t0.00"


def test_seeded_row_counts(pg):
    out = pg.psql("""
        SELECT 'customers', count(*) FROM customers UNION ALL
        SELECT 'payments', count(*) FROM payments UNION ALL
        SELECT 'events', count(*) FROM events UNION ALL
        SELECT 'audit.log', count(*) FROM audit.log UNION ALL
        SELECT 'subscribers', count(DISTINCT address) FROM subscribers
    """).stdout
    counts = dict(line.split("|") for line in out.splitlines())
    assert counts == {"customers": "6", "payments": "5", "events": "5", "audit.log": "6",
                      "subscribers": "1000"}


def test_every_seeded_value_is_in_its_column(pg, seeded_values):
    # Keeps seeded_values.txt honest: a value listed but not seeded (or seeded elsewhere) would
    # make a "nothing leaked" assertion pass for the wrong reason.
    assert len(seeded_values) > 1000
    dupes = {v.value for v in seeded_values if [w.value for w in seeded_values].count(v.value) > 1}
    assert not dupes
    assert {v.entity for v in seeded_values} <= SPEC_ENTITIES

    missing = []
    for where in sorted({v.where for v in seeded_values}):
        *table, column = where.split(".")
        column_text = pg.psql(
            f"SELECT {column}::text FROM {'.'.join(table)} WHERE {column} IS NOT NULL").stdout
        missing += [f"{v.value!r} not in {where}" for v in seeded_values
                    if v.where == where and v.value not in column_text]
    assert missing == []


def test_leaked_values_finds_raw_and_ignores_masked(pg, seeded_values):
    raw = pg.psql("SELECT contact, notes FROM customers WHERE id = 1").stdout
    found = {v.value for v in leaked_values(raw.encode(), seeded_values)}
    assert found == {"margaret.okonkwo@gmail.com", "4111 1111 1111 1111"}
    masked = "u_3f9a1c@masked.invalid|paid with card ************1111"
    assert leaked_values(masked, seeded_values) == []


# ---- the veild launcher, driven with a stand-in binary until veild exists ----

FAKE_VEILD = textwrap.dedent(f"""\
    #!{sys.executable}
    import os, socket, sys, time, yaml
    argv = sys.argv[1:]
    open("argv.txt", "w").write("\\n".join(argv))
    mode = os.environ.get("FAKE_VEILD_MODE", "serve")
    if mode == "die":
        print("config.yaml:3:5: unknown key 'bogus'", flush=True)
        sys.exit(2)
    doc = yaml.safe_load(open(argv[argv.index("--config") + 1]))
    socks = []
    for ep in doc["endpoints"]:
        host, port = ep["listen"].rsplit(":", 1)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        s.listen()
        socks.append(s)
    if mode == "exit-soon":
        time.sleep(0.3)
        sys.exit(3)
    while True:
        socks[0].accept()[0].close()
    """)


@pytest.fixture
def fake_veild(tmp_path):
    path = tmp_path / "fake-veild"
    path.write_text(FAKE_VEILD)
    path.chmod(0o755)
    return path


def _config(port):
    return textwrap.dedent(f"""\
        endpoints:
          - name: shop-db
            protocol: postgres
            upstream: 127.0.0.1:5432
            listen: 127.0.0.1:{port}
        masking: {{profiles: {{default: {{strategies: {{EMAIL: hash}}}}}}}}
        """)


def _accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_launcher_starts_waits_and_stops(fake_veild, tmp_path):
    port = free_port()
    launcher = VeildLauncher(fake_veild, tmp_path)
    proc = launcher(_config(port))
    assert proc.popen.poll() is None
    assert _accepts(port)
    # The config as given, plus a file sink in the test's folder (events never go to /var/log).
    assert proc.config_path.read_text() == _config(port) + (
        f"\nevents:\n  sinks:\n    - {{type: file, path: {tmp_path}/events.jsonl}}\n")
    assert (tmp_path / "argv.txt").read_text().split("\n") == ["--config", str(proc.config_path)]

    assert launcher.close() == []
    assert proc.popen.poll() is not None
    assert not _accepts(port)


def test_launcher_reports_startup_failure_with_output(fake_veild, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VEILD_MODE", "die")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"(?s)exited with 2.*unknown key 'bogus'"):
        VeildLauncher(fake_veild, tmp_path)(_config(free_port()))
    assert time.monotonic() - started < 5  # noticed the exit, did not wait for the timeout


def test_launcher_reports_exit_during_test(fake_veild, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VEILD_MODE", "exit-soon")
    launcher = VeildLauncher(fake_veild, tmp_path)
    proc = launcher(_config(free_port()))
    proc.popen.wait(5)
    problems = launcher.close()
    assert len(problems) == 1
    assert re.match(r"veild exited by itself during the test with 3", problems[0])
