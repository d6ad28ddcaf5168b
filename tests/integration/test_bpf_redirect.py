"""The eBPF flow layer in the real kernel (root): transparent redirect of a protected endpoint's
real address into veild, fail-closed pins that outlive veild, principals from the kernel
(user, systemd unit and container from cgroup paths the test creates), IPv6 and IPv4-mapped
connects, and flows of unprotected database ports.

Each test pins under its own folder in bpffs and removes it at teardown (`veild --remove-bpf`),
so a failed test never leaves the host's database ports redirected.

With VEIL_TEST_BPFFS=mounted or =unmounted (tools/test.sh runs the module both ways) each test
runs in a mount namespace of its own, with a fresh bpffs at /sys/fs/bpf mounted mode 0700 as
systemd mounts it, or with nothing there; unset, the tests use the host's /sys/fs/bpf as is."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

import mount_ns
from conftest import HOST, free_port, leaked_values, veild_bin, wait_for_port

pytestmark = pytest.mark.bpf

NOBODY = 65534


def need_root():
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("eBPF tests need root (CAP_BPF, CAP_NET_ADMIN); CI runs as root")
        pytest.skip("eBPF tests need root (CAP_BPF, CAP_NET_ADMIN)")


@pytest.fixture(autouse=True)
def bpffs_state():
    if os.environ.get("VEIL_TEST_BPFFS"):
        need_root()
        mount_ns.isolate_bpffs_from_env()
    yield


@pytest.fixture
def pin_dir():
    need_root()
    d = f"/sys/fs/bpf/veil-test-{os.getpid()}-{time.monotonic_ns()}"
    yield d
    subprocess.run([str(veild_bin()), "--remove-bpf", "--bpf-pin-dir", d], capture_output=True)
    assert not os.path.exists(d)


def cgroup2_root():
    for line in Path("/proc/mounts").read_text().splitlines():
        f = line.split()
        if len(f) > 2 and f[2] == "cgroup2":
            return f[1]
    pytest.fail("no cgroup2 mount in /proc/mounts")


def bpf_config(work, endpoints, *, standing="", sinks=""):
    text = textwrap.dedent(f"""
        agent:
          state_dir: {work}/state
          control_socket: {work}/run/veil.sock
          metrics_listen: ""
          redirect: ebpf
        endpoints:
        """)
    for ep in endpoints:
        text += textwrap.indent(textwrap.dedent(f"""\
            - name: {ep['name']}
              protocol: {ep.get('protocol', 'postgres')}
              upstream: "{ep['upstream']}"
              listen: "{ep.get('listen', '')}"
              access: {ep.get('access', 'open')}
              fail_mode: {ep.get('fail_mode', 'closed')}
              tls: {{client: disable, upstream: disable}}
            """), "  ")
    text += textwrap.dedent(f"""
        masking:
          key_file: {work}/state/keys/mask.key
        """)
    if standing:
        text += "grants:\n  standing:\n" + textwrap.indent(standing, "    ")
    if sinks:
        text += "events:\n  sinks:\n" + textwrap.indent(sinks, "    ")
    return re.sub(r'^\s+listen: ""\n', "", text, flags=re.M)


def psql_as(uid, port, sql, host=HOST, cgroup=None, user="app_trust", check=False):
    """psql as `uid` (no supplementary groups), optionally started inside `cgroup`."""
    argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "psql", "-h", host, "-p", str(port), "-U", user, "-d", "shop", "-A", "-t", "-X",
            "-c", sql]
    if cgroup:
        argv = ["sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$@"', "sh", *argv]
    env = dict(os.environ, PGCONNECT_TIMEOUT="5", HOME="/tmp")
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=check)


def test_unprivileged_psql_to_real_address_is_redirected_and_masked(pg, start_veild, tmp_path,
                                                                     pin_dir):
    listen = free_port()
    proc = start_veild(bpf_config(tmp_path, [{"name": "shop-db", "upstream": f"{pg.host}:{pg.port}",
                                              "listen": f"{HOST}:{listen}"}]),
                       args=("--bpf-pin-dir", pin_dir))
    # The client dials the database's real address; only the kernel knows it went to veild.
    out = psql_as(NOBODY, pg.port, "SELECT contact, notes FROM customers WHERE id = 1",
                  check=True).stdout
    assert "margaret.okonkwo@gmail.com" not in out and "4111 1111 1111 1111" not in out, out
    assert out.strip() == ("[EMAIL]|Called about a refund; paid with card [CREDIT_CARD], "
                           "exp 09/27."), out
    log = proc.log()
    # veild's own upstream connection was not redirected to itself (that session exists once),
    # and the session's principal is the kernel's: uid 65534, the psql process.
    assert "adopted" not in log and "attached" in log, log
    assert "uid=65534" in log, log


def mariadb_as(uid, server, port, sql):
    """The mariadb CLI as `uid` (no supplementary groups) over TCP to 127.0.0.1:port, as
    `server`'s veil_app, in database shop; tab-separated rows without a header. Returns the
    Popen's pid and the CompletedProcess-like (returncode, stdout, stderr)."""
    argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "mariadb", "--no-defaults", "--protocol=TCP", f"--host={server.host}",
            f"--port={port}", f"--user={server.user}", f"--password={server.password}",
            "--connect-timeout=10", "--skip-ssl", "--batch", "--skip-column-names",
            f"--database={server.dbname}", "-e", sql]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, HOME="/tmp"))
    out, err = child.communicate(timeout=60)
    return child.pid, subprocess.CompletedProcess(argv, child.returncode, out, err)


def test_unprivileged_mariadb_to_real_address_is_redirected_and_masked(
        mariadb, mariadb_seeded_values, start_veild, tmp_path, pin_dir):
    listen = free_port()
    events = tmp_path / "mysql-events.jsonl"
    proc = start_veild(bpf_config(tmp_path, [{"name": "shop-my", "protocol": "mysql",
                                              "upstream": f"{mariadb.host}:{mariadb.port}",
                                              "listen": f"{HOST}:{listen}"}],
                                  sinks=f"- {{type: file, path: {events}}}\n"),
                       args=("--bpf-pin-dir", pin_dir))
    # The client dials MariaDB's real address; only the kernel knows it went to veild.
    pid, r = mariadb_as(NOBODY, mariadb, mariadb.port,
                        "SELECT full_name, email, contact, notes FROM customers WHERE id = 1")
    assert r.returncode == 0, r.stderr
    assert not leaked_values(r.stdout + r.stderr, mariadb_seeded_values), r.stdout
    assert r.stdout.rstrip("\n").split("\t") == [
        "[PERSON_NAME]", "[EMAIL]", "[EMAIL]",
        "Called from [PHONE] about a refund; receipt sent to [EMAIL]."], r.stdout
    log = proc.log()
    # veild's own upstream connection was not redirected to itself.
    assert "adopted" not in log and "attached" in log, log
    # The session's principal is the kernel's: uid 65534, the mariadb process.
    opened = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not opened:
        if events.exists():
            opened = [e for e in map(json.loads, filter(None, events.read_text().splitlines()))
                      if e.get("class_uid") == 6005 and e.get("activity_id") == 3]
        time.sleep(0.1)
    assert opened, events.read_text() if events.exists() else "no events file"
    assert opened[0]["actor"]["user"]["name"] == "nobody", opened[0]["actor"]
    assert opened[0]["unmapped"]["endpoint"] == "shop-my", opened[0]
    # `veilctl flows`: the client's connect, to MariaDB's address, redirected to the endpoint.
    veilctl = os.environ.get("VEILCTL_BIN", "build/tools/veilctl/veilctl")
    out = subprocess.run([veilctl, "--socket", f"{tmp_path}/run/veil.sock", "-o", "json",
                          "flows"], capture_output=True, text=True, check=True).stdout
    mine = [f for f in json.loads(out) if f["pid"] == pid]
    assert len(mine) == 1, out
    f = mine[0]
    assert f["dst"] == f"{mariadb.host}:{mariadb.port}", f
    assert f["redirected_to"] == f"{HOST}:{listen}", f
    assert f["endpoint"] == "shop-my", f
    assert f["verdict"] == "redirected", f
    assert f["principal"] == "user:nobody", f
    assert f["exe"] == os.path.realpath(shutil.which("mariadb")), f


def test_unprivileged_mariadb_over_the_servers_unix_socket_is_redirected_and_masked(
        mariadb, mariadb_seeded_values, start_veild, tmp_path, pin_dir):
    # Local MySQL clients use the server's socket by default (no -h, or -h localhost); the
    # hook sends a connect to any mysqld.sock to the endpoint's own socket in veild's folder.
    assert mariadb.socket_path.name == "mysqld.sock"
    listen = free_port()
    # veild's sockets in a folder every user may reach, as /run/veil (0755) is.
    run_dir = tempfile.mkdtemp(prefix="veil-unix-")
    os.chmod(run_dir, 0o755)
    cfg = bpf_config(tmp_path, [{"name": "shop-my", "protocol": "mysql",
                                 "upstream": f"{mariadb.host}:{mariadb.port}",
                                 "listen": f"{HOST}:{listen}"}])
    cfg = cfg.replace(f"control_socket: {tmp_path}/run/veil.sock",
                      f"control_socket: {run_dir}/veil.sock")
    assert run_dir in cfg
    proc = start_veild(cfg, args=("--bpf-pin-dir", pin_dir))
    # nobody may reach the server's socket folder (not its data directory).
    os.chmod(mariadb.socket_path.parent, 0o711)
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "mariadb", "--no-defaults", f"--socket={mariadb.socket_path}",
            f"--user={mariadb.user}", f"--password={mariadb.password}", "--connect-timeout=10",
            "--skip-ssl", "--batch", "--skip-column-names", f"--database={mariadb.dbname}",
            "-e", "SELECT full_name, email FROM customers WHERE id = 1"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, HOME="/tmp"))
    assert r.returncode == 0, r.stderr + proc.log()
    assert r.stdout.rstrip("\n").split("\t") == ["[PERSON_NAME]", "[EMAIL]"], r.stdout
    assert not leaked_values(r.stdout + r.stderr, mariadb_seeded_values)
    veilctl = os.environ.get("VEILCTL_BIN", "build/tools/veilctl/veilctl")
    out = subprocess.run([veilctl, "--socket", f"{run_dir}/veil.sock", "-o", "json",
                          "flows"], capture_output=True, text=True, check=True).stdout
    mine = [f for f in json.loads(out) if f.get("endpoint") == "shop-my"]
    shutil.rmtree(run_dir, ignore_errors=True)
    assert mine and all(f["verdict"] == "redirected" for f in mine), out


def test_fail_closed_after_kill9_and_adopted_on_restart(pg, start_veild, tmp_path, pin_dir):
    listen = free_port()
    cfg = bpf_config(tmp_path, [{"name": "shop-db", "upstream": f"{pg.host}:{pg.port}",
                                 "listen": f"{HOST}:{listen}"}])
    proc = start_veild(cfg, args=("--bpf-pin-dir", pin_dir))
    assert psql_as(NOBODY, pg.port, "SELECT 1", check=True).stdout.strip() == "1"
    proc.popen.send_signal(signal.SIGKILL)
    proc.popen.wait(10)
    proc.stopped = True
    # The redirect outlives veild: the database's address now lands on a closed port.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((pg.host, pg.port), timeout=5).close()
    r = psql_as(NOBODY, pg.port, "SELECT 1")
    assert r.returncode != 0 and "refused" in r.stderr, r.stderr
    # A restart adopts the pins; the endpoint works again.
    proc2 = start_veild(cfg, args=("--bpf-pin-dir", pin_dir))
    assert "adopted" in proc2.log()
    assert psql_as(NOBODY, pg.port, "SELECT 1", check=True).stdout.strip() == "1"


def test_fail_open_endpoint_is_released_on_clean_stop(pg, start_veild, tmp_path, pin_dir):
    listen = free_port()
    proc = start_veild(bpf_config(tmp_path, [{"name": "shop-db", "upstream": f"{pg.host}:{pg.port}",
                                              "listen": f"{HOST}:{listen}",
                                              "fail_mode": "open"}]),
                       args=("--bpf-pin-dir", pin_dir))
    masked = psql_as(NOBODY, pg.port, "SELECT contact FROM customers WHERE id = 1", check=True)
    assert masked.stdout.strip() == "[EMAIL]"
    proc.stop()
    direct = psql_as(NOBODY, pg.port, "SELECT contact FROM customers WHERE id = 1", check=True)
    assert direct.stdout.strip() == "margaret.okonkwo@gmail.com"


class Forwarder:
    """A TCP forwarder on [::1]:port → 127.0.0.1:target: an IPv6 'database' for the IPv6 path."""

    def __init__(self, target):
        self.target = target
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(self.target)
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def test_ipv6_and_ipv4_mapped_connects_are_redirected(pg, start_veild, tmp_path, pin_dir):
    fwd = Forwarder((pg.host, pg.port))
    try:
        l4, l6 = free_port(), free_port()
        start_veild(bpf_config(tmp_path, [
            {"name": "shop-db", "upstream": f"{pg.host}:{pg.port}", "listen": f"{HOST}:{l4}"},
            {"name": "shop-db-v6", "upstream": f"[::1]:{fwd.port}", "listen": f"[::1]:{l6}"},
        ]), args=("--bpf-pin-dir", pin_dir), wait_ports=[(HOST, l4), ("::1", l6)])
        # Pure IPv6: psql to [::1]:fwd → veild on [::1]:l6.
        out = psql_as(NOBODY, fwd.port, "SELECT contact FROM customers WHERE id = 1", host="::1",
                      check=True).stdout
        assert out.strip() == "[EMAIL]", out
        # IPv4-mapped: an AF_INET6 socket dialling ::ffff:127.0.0.1 (what Java does) is caught by
        # connect6 and sent to the IPv4 endpoint's listen address.
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect((f"::ffff:{pg.host}", pg.port))
        s.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")  # SSLRequest
        assert s.recv(1) == b"N"  # veild's answer: this endpoint has tls.client: disable
        s.close()
    finally:
        fwd.close()


@pytest.fixture
def cgroups():
    need_root()
    root = Path(cgroup2_root()) / f"veil-test-{os.getpid()}"
    unit = root / "system.slice" / "etl.service"
    cid = "4f1c2a7e9b3d5c6a8e0f1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
    container = root / f"docker-{cid}.scope"
    for d in (unit, container):
        d.mkdir(parents=True, exist_ok=True)
    yield {"unit": str(unit), "container": str(container), "container_id": cid}
    for d in (unit, unit.parent, container, root):
        # Leftover processes (none expected) go back to the root before rmdir.
        try:
            for pid in (d / "cgroup.procs").read_text().split():
                (Path(cgroup2_root()) / "cgroup.procs").write_text(pid)
            d.rmdir()
        except OSError:
            pass


def test_principals_from_cgroup_paths_admit_under_standing_grants(pg, start_veild, tmp_path,
                                                                   pin_dir, cgroups):
    listen = free_port()
    standing = textwrap.dedent(f"""\
        - {{principal: "unit:etl.service", endpoints: [shop-db], access: read}}
        - {{principal: "container:{cgroups['container_id']}", endpoints: [shop-db], access: read}}
        """)
    start_veild(bpf_config(tmp_path, [{"name": "shop-db", "upstream": f"{pg.host}:{pg.port}",
                                       "listen": f"{HOST}:{listen}", "access": "grant"}],
                           standing=standing),
                args=("--bpf-pin-dir", pin_dir))
    sql = "SELECT contact FROM customers WHERE id = 1"
    # The same user and binary: admitted only from the cgroups the grants name.
    r = psql_as(NOBODY, pg.port, sql, cgroup=cgroups["unit"])
    assert r.returncode == 0 and r.stdout.strip() == "[EMAIL]", r.stderr
    r = psql_as(NOBODY, pg.port, sql, cgroup=cgroups["container"])
    assert r.returncode == 0 and r.stdout.strip() == "[EMAIL]", r.stderr
    r = psql_as(NOBODY, pg.port, sql)
    assert r.returncode != 0 and "no active grant for user:nobody on shop-db" in r.stderr, r.stderr


def test_tls_client_of_observe_endpoint_yields_usage_event(pg_tls, start_veild, tmp_path,
                                                           pin_dir):
    events = tmp_path / "observe-events.jsonl"
    dummy = free_port()  # veild needs a port to come up on; the observe endpoint has none
    proxied = {"name": "other-db", "upstream": f"{HOST}:{free_port()}", "listen": f"{HOST}:{dummy}"}
    start_veild(bpf_config(tmp_path, [
        {"name": "shop-tls", "upstream": f"{pg_tls.host}:{pg_tls.port}", "access": "observe"},
        proxied], sinks=f"- {{type: file, path: {events}}}\n"),
        args=("--bpf-pin-dir", pin_dir))
    env = dict(os.environ, PGSSLMODE="require", PGCONNECT_TIMEOUT="5", HOME="/tmp")
    sql = "SELECT contact FROM customers WHERE contact = 'margaret.okonkwo@gmail.com'"
    r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "psql", "-h", pg_tls.host, "-p", str(pg_tls.port), "-U", "app_trust",
                        "-d", "shop", "-A", "-t", "-X", "-c", sql],
                       capture_output=True, text=True, timeout=60, env=env)
    # Observed, not proxied: the client gets the real value over its own TLS session.
    assert r.returncode == 0 and r.stdout.strip() == "margaret.okonkwo@gmail.com", r.stderr
    deadline = time.monotonic() + 10
    found = []
    while time.monotonic() < deadline and not found:
        if events.exists():
            found = [json.loads(l) for l in events.read_text().splitlines() if l.strip()]
            found = [e for e in found if e.get("class_uid") == 6005 and e.get("activity_id") == 4]
        time.sleep(0.2)
    assert found, events.read_text() if events.exists() else "no events file"
    e = found[0]
    assert e["query_info"]["query_string"] == "SELECT contact FROM customers WHERE contact = ?"
    assert e["unmapped"]["endpoint"] == "shop-tls"
    assert e["unmapped"]["rows"] == 1
    assert e["unmapped"]["principal"] == "user:nobody"
    assert "margaret" not in events.read_text()


def test_unprotected_database_port_shows_in_flows_all(pg, start_veild, tmp_path,
                                                      pin_dir):
    listen = free_port()
    # A local database on the port of an endpoint whose server is elsewhere: a database port
    # (each endpoint's port counts, besides 5432, 3306, …) that no endpoint covers here. (An
    # endpoint whose server is local covers every local address on its port, issue 16.)
    other = socket.socket()
    other.bind(("127.0.0.3", 0))
    other.listen(4)
    target = ("127.0.0.3", other.getsockname()[1])
    start_veild(bpf_config(tmp_path, [{"name": "shop-db", "upstream": f"198.51.100.7:{target[1]}",
                                       "listen": f"{HOST}:{listen}"}]),
                args=("--bpf-pin-dir", pin_dir))
    child = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         "/usr/bin/python3", "-c",
         "import socket,sys,time\n"
         f"s=socket.create_connection({target!r})\n"
         "print('connected', flush=True)\n"
         "time.sleep(30)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "connected"
        veilctl = os.environ.get("VEILCTL_BIN", "build/tools/veilctl/veilctl")
        sock = f"{tmp_path}/run/veil.sock"
        deadline = time.monotonic() + 10
        mine = []
        while time.monotonic() < deadline and not mine:
            out = subprocess.run([veilctl, "--socket", sock, "-o", "json", "flows", "--all"],
                                 capture_output=True, text=True, check=True).stdout
            mine = [f for f in json.loads(out) if f["dst"] == f"127.0.0.3:{target[1]}"]
            time.sleep(0.1)
        assert mine, out
        f = mine[0]
        assert f["pid"] == child.pid
        assert f["exe"].startswith("/usr/bin/python3")
        assert f["principal"] == "user:nobody"
        assert f["verdict"] == "direct"
        assert f["endpoint"] == ""
        # Without --all only flows to configured endpoints are listed.
        out = subprocess.run([veilctl, "--socket", sock, "-o", "json", "flows"],
                             capture_output=True, text=True, check=True).stdout
        assert not [x for x in json.loads(out) if x["dst"] == f"127.0.0.3:{target[1]}"]
    finally:
        child.kill()
        child.wait()
        other.close()


def test_unix_socket_clients_get_unit_principals_from_peer_pid(pg, start_veild, tmp_path,
                                                               cgroups):
    # No eBPF here: the principal of a client on veil's unix socket comes from SO_PEERCRED and
    # its pid's cgroup (held by a pidfd while /proc is read).
    run_dir = tempfile.mkdtemp(prefix="veil-unix-")
    os.chmod(run_dir, 0o755)
    try:
        listen = free_port()
        cfg = bpf_config(tmp_path, [{"name": "shop-db", "upstream": f"{pg.host}:{pg.port}",
                                     "listen": f"{HOST}:{listen}", "access": "grant"}],
                         standing='- {principal: "unit:etl.service", endpoints: [shop-db]}\n')
        cfg = cfg.replace("redirect: ebpf", 'redirect: "off"').replace(
            f"control_socket: {tmp_path}/run/veil.sock", f"control_socket: {run_dir}/veil.sock")
        start_veild(cfg)
        sql = "SELECT contact FROM customers WHERE id = 1"
        r = psql_as(NOBODY, listen, sql, host=run_dir, cgroup=cgroups["unit"])
        assert r.returncode == 0 and r.stdout.strip() == "[EMAIL]", r.stderr
        r = psql_as(NOBODY, listen, sql, host=run_dir)
        assert r.returncode != 0 and "no active grant for user:nobody" in r.stderr, r.stderr
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def unit_settings():
    """veil.service's [Service] settings, in order."""
    unit = Path(__file__).resolve().parents[2] / "systemd" / "veil.service"
    settings, section = {}, None
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def unit_view_script(pin_dir):
    """Shell commands that give a process the mount layout veil.service gives veild, built from
    the unit's own settings (the pin dir /sys/fs/bpf/veil stands for `pin_dir`):
    TemporaryFileSystem=/sys/fs/bpf, BindPaths= of the pin dir into it (staged first, as systemd
    does, since the tmpfs hides the source), ProtectProc=invisible (a /proc of its own with
    hidepid=invisible), ReadOnlyPaths=/sys /proc/sys and ProtectControlGroups=yes: every mount
    under /sys read-only but the two mounted above."""
    s = unit_settings()
    assert s.get("ProtectControlGroups") == ["yes"]
    (tmpfs,) = s["TemporaryFileSystem"]
    tmpfs_path, _, tmpfs_opts = tmpfs.partition(":")
    assert tmpfs_path == "/sys/fs/bpf", tmpfs
    (bind,) = s["BindPaths"]
    assert bind == "-/sys/fs/bpf/veil", bind
    assert s.get("ProtectProc") == ["invisible"]
    (read_only,) = s["ReadOnlyPaths"]
    read_only = [p for p in read_only.split() if not p.startswith("-")]
    assert read_only == ["/sys", "/proc/sys"], read_only
    return textwrap.dedent(f"""\
        set -e
        stage=$(mktemp -d /tmp/veil-stage-XXXXXX)
        mount --bind {pin_dir} "$stage"
        mount -t tmpfs -o {tmpfs_opts or "mode=0755"} tmpfs {tmpfs_path}
        mkdir {pin_dir}
        mount --move "$stage" {pin_dir}
        rmdir "$stage"
        mount -t proc -o hidepid=invisible proc /proc
        mount --bind /proc/sys /proc/sys
        mount -o remount,bind,ro /proc/sys
        awk '$5 ~ "^/sys(/|$)" {{print $5}}' /proc/self/mountinfo | sort -u |
          while read -r m; do
            case "$m" in {tmpfs_path}|{tmpfs_path}/*) continue ;; esac
            mount -o remount,bind,ro "$m"
          done
        """)


def ensure_user_veil():
    import grp
    import pwd
    try:
        grp.getgrnam("veil")
    except KeyError:
        subprocess.run(["groupadd", "--system", "veil"], check=True)
    try:
        pwd.getpwnam("veil")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", "-g", "veil", "veil"], check=True)
    return pwd.getpwnam("veil")


class AsTheUnit:
    """veild as veil.service runs it, without systemd: the unit's `ExecStartPre=+` as root, then
    veild as user veil with exactly the unit's AmbientCapabilities (plus a drop-in's), in the
    unit's mount layout (unit_view_script) inside a mount namespace of its own."""

    def __init__(self, pin_dir, config_text, dropin=None):
        self.veil = ensure_user_veil()
        self.pin_dir = pin_dir
        # A capability outside this process's own bounding set cannot be granted here (this
        # sandbox lacks CAP_SYS_RESOURCE, which only matters for memlock on kernels < 5.11).
        caps = unit_settings()["AmbientCapabilities"][0].split()
        if dropin:
            caps += [line.split("=", 1)[1] for line in dropin.read_text().splitlines()
                     if line.startswith("AmbientCapabilities=")][0].split()
        bounding = subprocess.run(["capsh", "--print"], capture_output=True, text=True,
                                  check=True).stdout.split("Bounding set =")[1].split("\n")[0]
        self.caps = [c.lower() for c in caps if c.lower() in bounding]
        # The unit's first ExecStartPre=+, as root, in the mount namespace where bpffs is the
        # host's: PID 1's for the unit, this test's own here (VEIL_TEST_BPFFS).
        prepare = [x.split() for x in unit_settings()["ExecStartPre"] if x.startswith("+")]
        assert prepare == [["+/usr/bin/nsenter", "-t", "1", "-m", "--", "/usr/sbin/veild",
                            "--prepare-bpf-pin-dir", "veil"]], prepare
        subprocess.run([str(veild_bin()), "--prepare-bpf-pin-dir", "veil", "--bpf-pin-dir",
                        pin_dir], check=True, capture_output=True)
        st = os.stat(pin_dir)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == \
            (self.veil.pw_uid, self.veil.pw_gid, 0o700)
        self.work = Path(f"/tmp/veil-caps-{os.getpid()}")
        shutil.rmtree(self.work, ignore_errors=True)
        (self.work / "state").mkdir(parents=True)
        (self.work / "run").mkdir()
        os.chmod(self.work, 0o755)
        (self.work / "veil.yaml").write_text(config_text.replace("@WORK@", str(self.work)))
        subprocess.run(["chown", "-R", "veil:veil", str(self.work)], check=True)
        self.proc = None

    def start(self, wait):
        capset = ",".join(self.caps)
        script = unit_view_script(self.pin_dir) + (
            f'exec capsh --caps="{capset}+eip cap_setpcap,cap_setuid,cap_setgid+ep" --keep=1 '
            f'--user=veil --addamb={capset} -- -c \'exec "{veild_bin()}" '
            f'--config {self.work}/veil.yaml --bpf-pin-dir {self.pin_dir}\'\n')
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for_port(*wait, 15, proc=self.proc)
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        assert "\nUid:\t" + str(self.veil.pw_uid) in status
        return self.proc

    def stop(self, sig=signal.SIGTERM) -> str:
        self.proc.send_signal(sig)
        log, _ = self.proc.communicate(timeout=10)
        return log

    def events(self, predicate, timeout=10):
        path = self.work / "events.jsonl"
        deadline = time.monotonic() + timeout
        while True:
            text = path.read_text() if path.exists() else ""
            found = [e for e in map(json.loads, filter(None, text.splitlines())) if predicate(e)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def test_least_privilege_user_veil_with_the_units_capabilities(pg, pin_dir):
    """veild as user veil with exactly veil.service's AmbientCapabilities, in the mount layout
    the unit gives it (bpffs as systemd mounts it, mode 0700, never loosened), loads, pins,
    redirects, names a client's executable, fails closed on kill -9 and adopts its pins on
    restart: the unit's capability set and pin dir design are proven, not guessed."""
    bpffs_mode = os.stat("/sys/fs/bpf").st_mode & 0o7777 if os.path.ismount("/sys/fs/bpf") \
        else None
    listen = free_port()
    unit = AsTheUnit(pin_dir, bpf_config("@WORK@", [
        {"name": "shop-db", "upstream": f"{pg.host}:{pg.port}", "listen": f"{HOST}:{listen}"}],
        sinks="- {type: file, path: @WORK@/events.jsonl}\n"))
    try:
        unit.start((HOST, listen))
        out = psql_as(NOBODY, pg.port, "SELECT contact FROM customers WHERE id = 1", check=True)
        assert out.stdout.strip() == "[EMAIL]"
        # exe: of another user's process, through CAP_SYS_PTRACE under hidepid=invisible.
        opened = unit.events(lambda e: e.get("class_uid") == 6005 and e.get("activity_id") == 3)
        assert opened
        actor = opened[0]["actor"]
        assert actor["user"]["name"] == "nobody", actor
        # psql is Debian's pg_wrapper, which execs the real one.
        assert actor["process"]["file"]["path"] == "/usr/lib/postgresql/15/bin/psql", actor
        # Fail closed with the pins on the host's bpffs, outside veild's view...
        first_log = unit.stop(signal.SIGKILL)
        assert "eBPF flow layer attached" in first_log, first_log
        r = psql_as(NOBODY, pg.port, "SELECT 1")
        assert r.returncode != 0 and "refused" in r.stderr, r.stderr
        # ...and adopted by the next veild, as user veil, through a new view.
        unit.start((HOST, listen))
        out = psql_as(NOBODY, pg.port, "SELECT contact FROM customers WHERE id = 1", check=True)
        assert out.stdout.strip() == "[EMAIL]"
        log = unit.stop()
    finally:
        unit.close()
    assert "eBPF flow layer adopted from pins" in log, log
    # The host's bpffs keeps the mode it had (systemd's 0700 where it is mounted that way).
    if bpffs_mode is not None:
        assert os.stat("/sys/fs/bpf").st_mode & 0o7777 == bpffs_mode


def test_least_privilege_observe_endpoint_with_the_units_dropin(pg_tls, pin_dir):
    """The same, with the observe.conf drop-in's capabilities added: a TLS client of an
    `access: observe` endpoint yields a usage event under the unit's sandbox layout."""
    dropin = Path(__file__).resolve().parents[2] / "systemd" / "observe.conf"
    dummy = free_port()  # veild needs a port to come up on; the observe endpoint has none
    unit = AsTheUnit(pin_dir, bpf_config("@WORK@", [
        {"name": "shop-tls", "upstream": f"{pg_tls.host}:{pg_tls.port}", "access": "observe"},
        {"name": "other-db", "upstream": f"{HOST}:{free_port()}", "listen": f"{HOST}:{dummy}"}],
        sinks="- {type: file, path: @WORK@/events.jsonl}\n"), dropin=dropin)
    try:
        unit.start((HOST, dummy))
        env = dict(os.environ, PGSSLMODE="require", PGCONNECT_TIMEOUT="5", HOME="/tmp")
        sql = "SELECT contact FROM customers WHERE contact = 'margaret.okonkwo@gmail.com'"
        r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                            "--clear-groups", "psql", "-h", pg_tls.host, "-p", str(pg_tls.port),
                            "-U", "app_trust", "-d", "shop", "-A", "-t", "-X", "-c", sql],
                           capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0 and r.stdout.strip() == "margaret.okonkwo@gmail.com", r.stderr
        found = unit.events(lambda e: e.get("class_uid") == 6005 and e.get("activity_id") == 4)
        assert found, unit.proc.poll()
        assert found[0]["query_info"]["query_string"] == \
            "SELECT contact FROM customers WHERE contact = ?"
        assert found[0]["unmapped"]["principal"] == "user:nobody"
    finally:
        unit.close()
