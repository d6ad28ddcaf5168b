"""The grant flow end to end, with real unix users made by the test: alice requests through
veilctl, her own approval is refused, bob approves, alice's psql gets masked rows, bob's revoke
ends her live session within a second. veild knows each caller from the control socket's peer
credentials, and each psql session from veil's unix socket's."""

import grp
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import textwrap
import time

import pytest

from conftest import HOST, free_port

VEILCTL = os.environ.get("VEILCTL_BIN", "build/tools/veilctl/veilctl")


def ensure_user(name, groups=()):
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True)
    for g in groups:
        subprocess.run(["usermod", "-aG", g, name], check=True)


@pytest.fixture(scope="module")
def users():
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("needs root to create unix users")
        pytest.skip("needs root to create unix users")
    try:
        grp.getgrnam("veil")
    except KeyError:
        subprocess.run(["groupadd", "--system", "veil"], check=True)
    ensure_user("veiltest-alice", ["veil"])
    ensure_user("veiltest-bob", ["veil"])
    ensure_user("veiltest-carol")  # not in group veil
    return "veiltest-alice", "veiltest-bob", "veiltest-carol"


def as_user(user, argv, **kw):
    return subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True, text=True,
                          timeout=60, **kw)


@pytest.fixture
def run_dir():
    d = tempfile.mkdtemp(prefix="veil-it-")  # reachable by the test users, unlike tmp_path
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_request_approve_query_revoke(users, pg, start_veild, tmp_path, run_dir):
    alice, bob, carol = users
    sock = f"{run_dir}/veil.sock"
    port = free_port()
    start_veild(textwrap.dedent(f"""
        agent: {{state_dir: {tmp_path}/state, control_socket: {sock}, metrics_listen: "",
                 redirect: "off"}}
        endpoints:
          - name: shop-db
            protocol: postgres
            upstream: {pg.host}:{pg.port}
            listen: {HOST}:{port}
            access: grant
            tls: {{client: disable, upstream: disable}}
        masking:
          key_file: {tmp_path}/state/keys/mask.key
        grants:
          policies:
            - {{endpoints: [shop-db], requesters: ["user:{alice}"], approvers: ["user:{bob}"]}}
        """))
    veilctl = os.path.abspath(VEILCTL)
    psql = ["psql", "-h", run_dir, "-p", str(port), "-U", "postgres", "-d", "shop", "-AtX",
            "-c", "SELECT contact FROM customers WHERE id = 1"]

    r = as_user(alice, [veilctl, "--socket", sock, "grants", "request", "shop-db", "--ttl", "1h",
                        "--reason", "ticket 42: refund check"])
    assert r.returncode == 0, r.stderr
    gid = r.stdout.strip()
    assert gid.startswith("g-") and len(gid) == 14

    r = as_user(alice, [veilctl, "--socket", sock, "grants", "approve", gid])
    assert r.returncode == 1 and "refused" in r.stderr, r.stderr
    r = as_user(alice, psql)
    assert f"no active grant for user:{alice} on shop-db" in r.stderr

    r = as_user(bob, [veilctl, "--socket", sock, "grants", "approve", gid])
    assert r.returncode == 0, r.stderr
    r = as_user(alice, psql)
    assert (r.returncode, r.stdout.strip()) == (0, "[EMAIL]"), r.stderr
    # bob has no grant of his own.
    assert "no active grant" in as_user(bob, psql).stderr

    listing = json.loads(subprocess.run([veilctl, "--socket", sock, "-o", "json", "grants",
                                         "list", "--state", "active"], capture_output=True,
                                        text=True, check=True).stdout)
    assert [(g["id"], g["principal"], g["state"], g["approvers"]) for g in listing] == \
        [(gid, f"user:{alice}", "active", [f"user:{bob}"])]

    live = subprocess.Popen(["runuser", "-u", alice, "--", "psql", "-h", run_dir, "-p", str(port),
                             "-U", "postgres", "-d", "shop", "-X", "-c", "SELECT pg_sleep(30)"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    r = as_user(bob, [veilctl, "--socket", sock, "grants", "revoke", gid])
    assert r.returncode == 0, r.stderr
    revoked = time.time()
    _, err = live.communicate(timeout=20)
    assert f"FATAL:  veil: grant {gid} revoked" in err
    assert time.time() - revoked < 2.0

    # Exit codes: not in group veil → the socket refuses them; no agent → 3 as well.
    r = as_user(carol, [veilctl, "--socket", sock, "status"])
    assert r.returncode == 3 and "group veil" in r.stderr, r.stderr
    r = subprocess.run([veilctl, "--socket", f"{run_dir}/nothing.sock", "status"],
                       capture_output=True, text=True)
    assert r.returncode == 3
    assert f"agent unreachable at {run_dir}/nothing.sock: is veil.service running?" in r.stderr
    r = subprocess.run([veilctl, "grants", "request", "shop-db", "--ttl", "soon", "--reason", "x",
                        "--socket", sock], capture_output=True, text=True)
    assert r.returncode == 2

    # The audit trail: every grant change (3005) and control call (6003), by whom, with the
    # refused self-approval too; the free-text reason never (it may hold anything).
    deadline = time.time() + 10  # events are written by the sink's own thread
    while True:
        events = [json.loads(l) for l in open(f"{tmp_path}/events.jsonl") if l.strip()]
        if any(e.get("unmapped", {}).get("grant_event") == "revoked" for e in events) or \
                time.time() > deadline:
            break
        time.sleep(0.1)
    grant_events = [(e["unmapped"]["grant_event"], e["actor"]["user"]["name"])
                    for e in events if e["class_uid"] == 3005]
    assert grant_events == [("requested", alice), ("approved", bob), ("revoked", bob)], \
        grant_events
    api = [(e["api"]["operation"], e["actor"]["user"]["name"], e["status"]) for e in events
           if e["class_uid"] == 6003]
    assert ("grants.approve", alice, "Failure") in api and ("grants.approve", bob, "Success") in api
    assert "ticket 42" not in open(f"{tmp_path}/events.jsonl").read()
    # A session refused for want of a grant is an event too.
    refused = [e for e in events if e["class_uid"] == 6005 and e["status"] == "Failure"]
    assert refused and refused[0]["status_code"] == "28000"


def test_sessions_list_and_kill(pg, start_veild, tmp_path):
    port = free_port()
    sock = f"{tmp_path}/run/veil.sock"
    from test_veild_pg import veil_config
    start_veild(veil_config(tmp_path, pg.host, pg.port, port))
    veilctl = os.path.abspath(VEILCTL)
    live = subprocess.Popen(["psql", "-h", HOST, "-p", str(port), "-U", "postgres", "-d", "shop",
                             "-X", "-c", "SELECT pg_sleep(30)"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    sessions = []
    while time.time() < deadline and not sessions:
        sessions = json.loads(subprocess.run([veilctl, "--socket", sock, "-o", "json",
                                              "sessions"], capture_output=True, text=True,
                                             check=True).stdout)
        time.sleep(0.1)
    assert len(sessions) == 1
    s = sessions[0]
    assert (s["endpoint"], s["database_user"], s["database"]) == ("shop-db", "postgres", "shop")
    assert s["principal"] == "user:" + pwd.getpwuid(os.geteuid()).pw_name
    r = subprocess.run([veilctl, "--socket", sock, "sessions", "kill", str(s["id"])],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    _, err = live.communicate(timeout=10)
    assert "FATAL:  veil: session terminated by an operator" in err
    r = subprocess.run([veilctl, "--socket", sock, "sessions", "kill", str(s["id"])],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "no live session" in r.stderr
