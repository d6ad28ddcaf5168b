"""veild in front of a real PostgreSQL, driven by the JDBC driver and node-postgres.

These clients use the extended protocol the way applications do: pgjdbc with prepareThreshold=1
turns each PreparedStatement into a named server-side statement and from then on sends only
Bind/Execute (no Describe, so no RowDescription comes back for those executions), and asks for
int, numeric and date columns in binary; node-postgres runs unnamed and named statements and
the simple Query protocol. Every execution must come back masked exactly as psql sees it, and no
seeded raw value may reach the client.

The clients live beside this file: jdbc/VeilJdbcProbe.java (compiled with javac at test time
against Debian's libpostgresql-jdbc-java) and node/probe.mjs (pg pinned by node/package-lock.json,
installed by tools/setup.sh, or by `npm ci` here when node_modules is missing).
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import HOST, free_port, leaked_values
from test_veild_pg import veil_config

HERE = Path(__file__).resolve().parent
JDBC_DIR = HERE / "jdbc"
NODE_DIR = HERE / "node"
PGJDBC_JAR = Path("/usr/share/java/postgresql.jar")

COLUMNS = ("id", "name", "contact", "phone", "notes", "born", "balance", "signup_ip")

# customers as every client must see it through veild with test_veild_pg's profile: name by the
# column rule, the rest by content; born (a date) and signup_ip (an inet) cannot hold a
# placeholder, so they come back NULL.
CUSTOMERS = {
    1: ("1", "[PERSON_NAME]", "[EMAIL]", "[PHONE]",
        "Called about a refund; paid with card **** **** **** 1111, exp 09/27.",
        None, "120.50", None),
    2: ("2", "[PERSON_NAME]", "[EMAIL]", "[PHONE]",
        "Identity verified over the phone with SSN ***-**-1234 before the address change.",
        None, "0.00", None),
    3: ("3", "[PERSON_NAME]", "[EMAIL]", "[PHONE]",
        "Wants refunds wired to IBAN [IBAN] instead of the card.",
        None, "9875.00", None),
    4: ("4", "[PERSON_NAME]", "[EMAIL]", "[PHONE]",
        "Second card ****-****-****-5100 added; old IBAN [IBAN] closed."
        " SSN on file: ***-**-4321.",
        None, "-42.10", None),
    5: ("5", "[PERSON_NAME]", "[EMAIL]", "[PHONE]",
        "Prefers contact by post. No open issues.",
        None, "310.00", None),
    6: ("6", "[PERSON_NAME]", None, None, None, None, "0.00", None),
}

# events.payload in jsonb's text form (keys in jsonb order), secrets masked inside the JSON.
EVENTS = {
    1: '{"ok": true, "type": "login", "user": {"id": 2, "email": "[EMAIL]"}}',
    2: '{"repo": "acme/api", "type": "ci.secret_leak",'
       ' "finding": {"file": ".env", "token": "[GITHUB_TOKEN]"}}',
    3: '{"env": {"REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "[AWS_ACCESS_KEY]",'
       ' "AWS_SECRET_ACCESS_KEY": "[AWS_SECRET_KEY]"}, "type": "deploy"}',
    4: '{"type": "webhook", "slack": "[SLACK_TOKEN]",'
       ' "headers": {"Authorization": "Bearer [JWT]"}}',
    5: '{"type": "import", "source": "crm.csv", "billing": {"stripe_key": "[STRIPE_KEY]"},'
       ' "contacts": ["[EMAIL]", "[EMAIL]"]}',
}


def require_tool(name: str, package: str) -> str:
    """The path of `name` on PATH. Missing: a skip naming the Debian package to install, and
    under CI (CI=true) a failure, since tools/setup.sh installs it."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: install Debian's {package} (tools/setup.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def run_client(argv, *, veild, cwd=None, timeout=60):
    """Runs a client; on a non-zero exit fails with its stderr and veild's log."""
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                       cwd=cwd)
    if r.returncode != 0:
        pytest.fail(f"{Path(str(argv[0])).name} exited with {r.returncode}\n--- stderr ---\n"
                    f"{r.stderr}\n--- stdout (tail) ---\n{r.stdout[-3000:]}\n"
                    f"--- veild log ---\n{veild.log()[-5000:]}", pytrace=False)
    return r


@pytest.fixture
def veil(pg, start_veild, tmp_path):
    """veild protecting the `pg` server with test_veild_pg's profile; (process, port)."""
    port = free_port()
    proc = start_veild(veil_config(tmp_path, pg.host, pg.port, port))
    return proc, port


# ---- JDBC ----


@pytest.fixture(scope="module")
def jdbc_classpath(tmp_path_factory):
    """VeilJdbcProbe compiled against Debian's pgjdbc; the classpath to run it with."""
    javac = require_tool("javac", "default-jdk-headless")
    require_tool("java", "default-jdk-headless")
    if not PGJDBC_JAR.exists():
        message = f"{PGJDBC_JAR} not found: install Debian's libpostgresql-jdbc-java"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("jdbc")
    r = subprocess.run([javac, "-d", str(out), "-cp", str(PGJDBC_JAR),
                        str(JDBC_DIR / "VeilJdbcProbe.java")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"javac failed:\n{r.stderr}"
    return f"{PGJDBC_JAR}{os.pathsep}{out}"


def parse_jdbc_probe(stdout: str):
    """VeilJdbcProbe's output as ({(label, iteration): [row tuple, ...]}, prepared count)."""
    unescape = {"n": "\n", "\\": "\\"}
    blocks: dict[tuple[str, int], list[dict]] = {}
    prepared = None
    row = None
    for line in stdout.splitlines():
        if line.startswith("row "):
            _, label, iteration = line.split(" ")
            row = {}
            blocks.setdefault((label, int(iteration)), []).append(row)
        elif line.startswith("prepared_statements="):
            prepared = int(line.split("=", 1)[1])
        else:
            col, value = line.split("=", 1)
            row[col] = None if value == "\\N" else re.sub(
                r"\\(.)", lambda m: unescape[m.group(1)], value)
    return {k: [tuple(r.values()) for r in rows] for k, rows in blocks.items()}, prepared


def test_jdbc_named_statements_and_binary_results_are_masked(veil, jdbc_classpath,
                                                             seeded_values):
    proc, port = veil
    iterations = 5
    r = run_client(["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", jdbc_classpath,
                    "VeilJdbcProbe", f"jdbc:postgresql://{HOST}:{port}/shop", "app_scram",
                    "scrampass", iterations], veild=proc)
    blocks, prepared = parse_jdbc_probe(r.stdout)

    # Both PreparedStatements became named server-side statements on this connection.
    assert prepared is not None and prepared >= 2, r.stdout[-2000:]
    # Every execution, the first (Parse + Describe) and the named ones after it (Bind/Execute
    # only), comes back exactly as psql sees it.
    expected_customers = [CUSTOMERS[i] for i in sorted(CUSTOMERS)]
    expected_events = [(str(i), EVENTS[i], EVENTS[i]) for i in sorted(EVENTS)]
    for i in range(iterations):
        assert blocks.get(("customer", i)) == expected_customers, f"iteration {i}"
        assert blocks.get(("event", i)) == expected_events, f"iteration {i}"
    assert blocks.get(("plain", 0)) == expected_customers
    assert leaked_values(r.stdout, seeded_values) == []


# ---- node-postgres ----


@pytest.fixture(scope="module")
def node_probe():
    """node/probe.mjs with its pinned node_modules (npm ci if tools/setup.sh has not run)."""
    node = require_tool("node", "nodejs")
    if not (NODE_DIR / "node_modules" / "pg").is_dir():
        npm = require_tool("npm", "npm")
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=NODE_DIR, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"npm ci in {NODE_DIR} failed:\n{r.stderr}"
    return [node, NODE_DIR / "probe.mjs"]


def test_node_postgres_scram_extended_named_and_simple(veil, pg, node_probe, seeded_values):
    proc, port = veil
    log_pos = pg.log_position()
    iterations = 3
    r = run_client([*node_probe, HOST, port, "app_scram", "scrampass", iterations],
                   veild=proc, cwd=NODE_DIR)
    got = json.loads(r.stdout)

    def rows(objs):
        return [tuple(o[c] for c in COLUMNS) for o in objs]

    some = [CUSTOMERS[1], CUSTOMERS[2], CUSTOMERS[6]]
    assert rows(got["extended"]) == some
    for i, named in enumerate(got["named"]):
        assert rows(named) == some, f"named statement, iteration {i}"
    assert len(got["named"]) == iterations
    assert rows(got["simple"]) == [CUSTOMERS[i] for i in sorted(CUSTOMERS)]
    assert [(e["id"], e["payload"]) for e in got["events"]] == \
        [(str(i), EVENTS[i]) for i in sorted(EVENTS)]
    assert leaked_values(r.stdout, seeded_values) == []
    # The password went through veild as SCRAM to PostgreSQL (the role's only method).
    assert re.search(r"app_scram@shop .*connection authenticated: identity=\"app_scram\" "
                     r"method=scram-sha-256", pg.log_since(log_pos))
