"""No way around veil (issue 16), in the real kernel: an endpoint covers its server, not one
address. A PostgreSQL on this host that listens on every address ('*') is protected by one
endpoint whose upstream is 127.0.0.1:PORT; unprivileged clients (user nobody) that dial it at
127.0.0.2, ::1, an interface address, an /etc/hosts alias or its unix socket, and that connect
with IPv4, IPv6 and IPv4-mapped sockets, non-blocking, with TCP Fast Open or io_uring, all land
in veild and get masked rows, or are refused. With agent.unlisted_databases: deny a database
connect no endpoint covers is refused in the connect hook (EPERM), listed as a `denied` flow
and reported as a usage event; exempt principals (agent.direct_principals) connect directly.

Before veild starts, each test checks that the same client gets the raw value, so a pass means
the redirect made the difference. Runs in both bpffs states like test_bpf_redirect.py."""

import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

import mount_ns
from conftest import HOST, REPO_ROOT, PgServer, free_port, wait_for_port
from test_bpf_redirect import (  # noqa: F401  (fixtures: bpffs_state, pin_dir)
    NOBODY, bpf_config, bpffs_state, need_root, pin_dir, psql_as)

pytestmark = pytest.mark.bpf

RAW = "margaret.okonkwo@gmail.com"
MASKED = "[EMAIL]"
QUERY = "SELECT contact FROM customers WHERE id = 1"
VEILCTL = os.environ.get("VEILCTL_BIN", "build/tools/veilctl/veilctl")
ALIAS = "veil-shop-alias"
REMOTE_ALIAS = "veil-remote-alias"


def probe_bin() -> str:
    p = Path(os.environ.get("CONNECT_PROBE_BIN", "build/tests/probe/connect_probe"))
    p = p if p.is_absolute() else REPO_ROOT / p
    if not os.access(p, os.X_OK):
        pytest.fail(f"connect_probe not built: {p}")
    return str(p)


def probe_as(uid, method, host, port, sql=QUERY):
    """connect_probe as `uid`: (exit code, its one line of output)."""
    r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                        probe_bin(), method, host, str(port), "app_trust", "shop", sql],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def interface_addresses():
    """This host's non-loopback, non-link-local addresses."""
    out = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True,
                                    check=True).stdout)
    addrs = []
    for link in out:
        for a in link.get("addr_info", []):
            if a.get("scope") == "global" and not a.get("tentative"):
                addrs.append(a["local"])
    return addrs


class WildPg(PgServer):
    """The issue's setup: listen_addresses='*', trust from anywhere, a socket folder anyone can
    reach, so without veil every one of these paths gives the raw data."""

    def _configure(self) -> None:
        super()._configure()
        with open(self.data_dir / "pg_hba.conf", "a") as f:
            f.write("host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n")
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write("listen_addresses = '*'\n")
        os.chmod(self.base, 0o755)
        os.chmod(self.socket_dir, 0o755)


@pytest.fixture(scope="module")
def wild_pg():
    need_root()
    server = WildPg("pg-wild").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hosts_file(tmp_path):
    """/etc/hosts with ALIAS → an interface address (else 127.0.0.5) and REMOTE_ALIAS →
    198.51.100.8, bind-mounted in a mount namespace of this test process's own (veild and the
    clients it starts see it; the host's file stays as it is)."""
    need_root()
    mount_ns.enter_private_mount_ns()
    ifaces = [a for a in interface_addresses() if ":" not in a]
    alias_ip = ifaces[0] if ifaces else "127.0.0.5"
    f = tmp_path / "hosts"
    f.write_text(Path("/etc/hosts").read_text() +
                 f"\n{alias_ip} {ALIAS}\n198.51.100.8 {REMOTE_ALIAS}\n")
    os.chmod(f, 0o644)
    subprocess.run(["mount", "--bind", str(f), "/etc/hosts"], check=True)
    try:
        yield alias_ip
    finally:
        subprocess.run(["umount", "/etc/hosts"], check=False)


@pytest.fixture
def run_dir():
    """veild's socket folder where any user can reach it, as /run/veil is (pytest's tmp_path is
    private to root): the unix redirect lands clients there."""
    import tempfile
    d = tempfile.mkdtemp(prefix="veil-cov-run-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def coverage_config(work, pg, listen, *, agent_extra="", aliases=(), run=None):
    text = bpf_config(work, [{"name": "shop-db", "upstream": f"{pg.host}:{pg.port}",
                              "listen": f"{HOST}:{listen}"}])
    if run:
        text = text.replace(f"control_socket: {work}/run/veil.sock", f"control_socket: {run}/veil.sock")
    if aliases:
        text = text.replace("    tls: {client: disable, upstream: disable}\n",
                            "    tls: {client: disable, upstream: disable}\n"
                            f"    aliases: {json.dumps(list(aliases))}\n", 1)
    if agent_extra:
        text = text.replace("  redirect: ebpf\n", "  redirect: ebpf\n" + agent_extra, 1)
    return text


def veilctl(sock, *args):
    r = subprocess.run([VEILCTL, "--socket", sock, "-o", "json", *args], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_flows(sock, pred, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        flows = veilctl(sock, "flows", "--all")
        mine = [f for f in flows if pred(f)]
        if mine or time.monotonic() > deadline:
            return mine, flows
        time.sleep(0.1)


def test_every_path_to_a_local_database_lands_in_veild(wild_pg, hosts_file, start_veild,
                                                       tmp_path, pin_dir, run_dir):
    pg = wild_pg
    ifaces = interface_addresses()
    # Without veil: the table, every path raw.
    assert psql_as(NOBODY, pg.port, QUERY, host="127.0.0.2", check=True).stdout.strip() == RAW
    assert psql_as(NOBODY, pg.port, QUERY, host="::1", check=True).stdout.strip() == RAW
    assert psql_as(NOBODY, pg.port, QUERY, host=str(pg.socket_dir),
                   check=True).stdout.strip() == RAW

    listen = free_port()
    start_veild(coverage_config(tmp_path, pg, listen, aliases=[ALIAS], run=run_dir),
                args=("--bpf-pin-dir", pin_dir))
    sock = f"{run_dir}/veil.sock"
    status = veilctl(sock, "status")
    assert status["redirect"] == "ebpf"
    assert status["unlisted_databases"] == "observe"
    assert status["unix_sockets_covered"] is True, status["unix_sockets_why_not"]
    [cov] = status["coverage"]
    assert cov["endpoint"] == "shop-db" and cov["port"] == pg.port and cov["local"] is True
    for want in ["127.0.0.1", "127.0.0.0/8", "::1", "0.0.0.0", "::", *ifaces]:
        assert want in cov["addresses"], (want, cov)
    assert cov["unix_sockets"] == [f".s.PGSQL.{pg.port}"]
    assert cov["unix_redirect_to"] == f"{run_dir}/.s.PGSQL.{listen}"

    hosts = ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "localhost", ALIAS, *ifaces,
             str(pg.socket_dir)]
    for host in hosts:
        r = psql_as(NOBODY, pg.port, QUERY, host=host)
        assert r.returncode == 0, (host, r.stderr)
        assert r.stdout.strip() == MASKED, (host, r.stdout)

    # The unix connect is a flow of its own: what was dialled, who, and that it was redirected.
    path = f"unix:{pg.socket_dir}/.s.PGSQL.{pg.port}"
    mine, flows = wait_flows(sock, lambda f: f["dst"] == path)
    assert mine, flows
    assert mine[0]["verdict"] == "redirected" and mine[0]["endpoint"] == "shop-db", mine
    assert mine[0]["principal"] == "user:nobody", mine
    for host in ["127.0.0.2", "::1"]:
        dst = f"[{host}]:{pg.port}" if ":" in host else f"{host}:{pg.port}"
        mine, flows = wait_flows(sock, lambda f, d=dst: f["dst"] == d)
        assert mine and mine[0]["verdict"] == "redirected", (dst, flows)


def test_every_way_to_connect_is_redirected(wild_pg, start_veild, tmp_path, pin_dir):
    pg = wild_pg
    cases = [("connect4", "127.0.0.2"), ("connect6", "127.0.0.3"), ("connect6", "::1"),
             ("nonblock", "127.0.0.4"), ("nonblock", "::1"), ("tfo", "127.0.0.5"),
             ("tfo", "::1"), ("uring", "127.0.0.6"), ("uring", "::1")]
    ifaces = interface_addresses()
    cases += [("uring", a) for a in ifaces] + [("tfo", a) for a in ifaces]
    # connect6 with an IPv4 host dials the IPv4-mapped form ::ffff:127.0.0.3.
    for method, host in cases[:2]:
        assert probe_as(NOBODY, method, host, pg.port) == (0, f"row: {RAW}"), (method, host)
    start_veild(coverage_config(tmp_path, pg, free_port()), args=("--bpf-pin-dir", pin_dir))
    for method, host in cases:
        assert probe_as(NOBODY, method, host, pg.port) == (0, f"row: {MASKED}"), (method, host)


def test_aliases_cover_names_addresses_and_cidrs_of_a_remote_server(hosts_file, start_veild,
                                                                    tmp_path, pin_dir):
    # A server elsewhere (TEST-NET addresses): a connect to any of its names lands in veild at
    # once, instead of going out to the network; veild's own upstream connect cannot reach it.
    port = free_port()
    listen = free_port()
    text = bpf_config(tmp_path, [{"name": "remote-db", "upstream": f"198.51.100.7:{port}",
                                  "listen": f"{HOST}:{listen}"}])
    text = text.replace("    tls: {client: disable, upstream: disable}\n",
                        "    tls: {client: disable, upstream: disable}\n"
                        f"    aliases: [{REMOTE_ALIAS}, 203.0.113.0/24, \"2001:db8:77::/48\"]\n")
    start_veild(text, args=("--bpf-pin-dir", pin_dir))
    sock = f"{tmp_path}/run/veil.sock"
    [cov] = veilctl(sock, "status")["coverage"]
    assert cov["local"] is False
    assert cov["addresses"] == ["198.51.100.7", "198.51.100.8", "203.0.113.0/24",
                                "2001:db8:77::/48"], cov
    for host in ["198.51.100.7", REMOTE_ALIAS, "203.0.113.77", "2001:db8:77::9"]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        addr = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(addr)  # lands on veild's listen port; the real address would not answer
        s.close()
        dst = f"[{addr[0]}]:{port}" if ":" in addr[0] else f"{addr[0]}:{port}"
        mine, flows = wait_flows(sock, lambda f, d=dst: f["dst"] == d)
        assert mine and mine[0]["verdict"] == "redirected", (dst, flows)
        assert mine[0]["endpoint"] == "remote-db"
    # Not an alias: the same port elsewhere is no endpoint's (a direct flow, not redirected).
    s = socket.socket()
    s.setblocking(False)
    assert s.connect_ex(("203.0.114.9", port)) in (errno.EINPROGRESS, errno.ENETUNREACH)
    s.close()


def test_unlisted_databases_deny_refuses_in_the_connect_hook(wild_pg, pg, start_veild, tmp_path,
                                                              pin_dir):
    listen = free_port()
    start_veild(coverage_config(tmp_path, wild_pg, listen,
                                agent_extra="  unlisted_databases: deny\n"
                                            "  direct_principals: [user:postgres]\n"),
                args=("--bpf-pin-dir", pin_dir))
    sock = f"{tmp_path}/run/veil.sock"
    status = veilctl(sock, "status")
    assert status["unlisted_databases"] == "deny"
    assert status["direct_principals"] == ["user:postgres"]
    # A database port at an address no endpoint covers: refused at once, before any packet.
    t0 = time.monotonic()
    code, out = probe_as(NOBODY, "nonblock", "198.51.100.9", wild_pg.port)
    assert (code, out) == (3, "connect: EPERM (Operation not permitted)")
    assert time.monotonic() - t0 < 5
    # The covered server still works for the same user, masked.
    assert probe_as(NOBODY, "connect4", "127.0.0.2", wild_pg.port) == (0, f"row: {MASKED}")
    # A database socket no endpoint covers (another cluster's): refused too.
    r = psql_as(NOBODY, pg.port, "SELECT 1", host=str(pg.socket_dir))
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r.stderr
    # An exempt principal connects directly: raw from the database itself, and not refused.
    pw_uid = int(subprocess.run(["id", "-u", "postgres"], capture_output=True, text=True,
                                check=True).stdout)
    assert probe_as(pw_uid, "connect4", "127.0.0.2", wild_pg.port) == (0, f"row: {RAW}")
    r = subprocess.run(["setpriv", f"--reuid={pw_uid}", f"--regid={pw_uid}", "--clear-groups",
                        "/usr/bin/python3", "-c",
                        "import socket\ns=socket.socket()\ns.setblocking(False)\n"
                        f"print(s.connect_ex(('198.51.100.9', {wild_pg.port})))"],
                       capture_output=True, text=True, timeout=30, check=True)
    assert int(r.stdout) in (errno.EINPROGRESS, errno.ENETUNREACH), r.stdout

    dst = f"198.51.100.9:{wild_pg.port}"
    mine, flows = wait_flows(sock, lambda f: f["dst"] == dst and f["verdict"] == "denied")
    assert mine, flows
    assert mine[0]["principal"] == "user:nobody" and mine[0]["endpoint"] == "", mine
    # Not listed without --all: it is no endpoint's flow.
    assert not [f for f in veilctl(sock, "flows") if f["dst"] == dst]
    unix_dst = f"unix:{pg.socket_dir}/.s.PGSQL.{pg.port}"
    mine, flows = wait_flows(sock, lambda f: f["dst"] == unix_dst)
    assert mine and mine[0]["verdict"] == "denied", flows

    events_path = tmp_path / "events.jsonl"
    deadline = time.monotonic() + 10
    refused = []
    while time.monotonic() < deadline and len(refused) < 2:
        events = [json.loads(line) for line in events_path.read_text().splitlines() if line]
        # This test's client's refusals only: the connect hook refuses every process on the
        # host (cgroup root), and another one may have tried a database meanwhile.
        refused = [e for e in events if e["class_uid"] == 6005 and e.get("status_code") == "EPERM"
                   and e["unmapped"]["principal"] == "user:nobody"]
        time.sleep(0.2)
    assert len(refused) >= 2, refused
    e = refused[0]
    assert e["status"] == "Failure" and e["activity_id"] == 3
    assert e["unmapped"]["principal"] == "user:nobody"
    assert "198.51.100.9" in e["status_detail"] and "unlisted_databases: deny" in e["status_detail"]


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@pytest.fixture
def netns_client():
    """A network namespace of its own (as a container's), joined to this host by a veth pair:
    the host side is 10.251.8.1, the namespace's 10.251.8.2. Yields (namespace, host address)."""
    need_root()
    tag = os.getpid() % 100000
    ns, host_if, ns_if = f"veil-cov-{tag}", f"vch{tag}", f"vcn{tag}"
    ip("netns", "add", ns)
    try:
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", ns)
        ip("addr", "add", "10.251.8.1/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        for cmd in (["addr", "add", "10.251.8.2/30", "dev", ns_if], ["link", "set", ns_if, "up"],
                    ["link", "set", "lo", "up"]):
            ip("netns", "exec", ns, "ip", *cmd)
        yield ns, "10.251.8.1"
    finally:
        ip("link", "del", host_if, check=False)
        ip("netns", "del", ns, check=False)


def test_client_in_a_network_namespace_of_its_own_is_refused_never_direct(
        wild_pg, netns_client, start_veild, tmp_path, pin_dir):
    # veild listens on loopback, which a client in another network namespace cannot reach: its
    # connect to the database's address (the host's veth address) is refused in the connect
    # hook, never let through to the database.
    ns, host_addr = netns_client
    pg = wild_pg

    def psql_in_ns():
        argv = ["ip", "netns", "exec", ns, "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                "--clear-groups", "psql", "-h", host_addr, "-p", str(pg.port), "-U", "app_trust",
                "-d", "shop", "-A", "-t", "-X", "-c", QUERY]
        env = dict(os.environ, PGCONNECT_TIMEOUT="5", HOME="/tmp")
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)

    before = psql_in_ns()
    assert before.returncode == 0 and before.stdout.strip() == RAW, before
    start_veild(coverage_config(tmp_path, pg, free_port()), args=("--bpf-pin-dir", pin_dir))
    sock = f"{tmp_path}/run/veil.sock"
    [cov] = veilctl(sock, "status")["coverage"]
    assert host_addr in cov["addresses"], cov
    r = psql_in_ns()
    assert r.returncode != 0 and RAW not in r.stdout, r
    assert "Operation not permitted" in r.stderr, r.stderr
    dst = f"{host_addr}:{pg.port}"
    mine, flows = wait_flows(sock, lambda f: f["dst"] == dst)
    assert mine and mine[0]["verdict"] == "denied", flows
    assert mine[0]["endpoint"] == "shop-db" and mine[0]["principal"] == "user:nobody", mine


def test_an_interface_address_added_later_is_covered_without_a_reload(
        wild_pg, start_veild, tmp_path, pin_dir):
    # Interfaces come and go (a VPN, a container bridge, DHCP): an address added while veild
    # runs is covered as soon as the kernel announces it, not at the next periodic refresh.
    pg = wild_pg
    start_veild(coverage_config(tmp_path, pg, free_port()), args=("--bpf-pin-dir", pin_dir))
    sock = f"{tmp_path}/run/veil.sock"
    tag = os.getpid() % 100000
    a, b, addr = f"vla{tag}", f"vlb{tag}", "10.251.9.1"
    ip("link", "add", a, "type", "veth", "peer", "name", b)
    try:
        ip("addr", "add", f"{addr}/32", "dev", a)
        ip("link", "set", a, "up")
        ip("link", "set", b, "up")
        deadline = time.monotonic() + 10  # the periodic refresh is 30 s: only the watch is this fast
        while addr not in veilctl(sock, "status")["coverage"][0]["addresses"]:
            assert time.monotonic() < deadline, veilctl(sock, "status")["coverage"]
            time.sleep(0.1)
        r = psql_as(NOBODY, pg.port, QUERY, host=addr)
        assert r.returncode == 0 and r.stdout.strip() == MASKED, r
    finally:
        ip("link", "del", a, check=False)
    deadline = time.monotonic() + 10
    while addr in veilctl(sock, "status")["coverage"][0]["addresses"]:
        assert time.monotonic() < deadline, "a removed address stays covered"
        time.sleep(0.1)


class FakeDns:
    """A DNS server on 127.0.0.77:53 that answers A queries for one name with `ip` and `ttl`
    (and nothing else: AAAA and other names get an empty NOERROR answer)."""

    def __init__(self, name, ip, ttl):
        import threading
        self.name, self.ip, self.ttl = name, ip, ttl
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.77", 53))
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import struct
        while self.running:
            try:
                data, peer = self.sock.recvfrom(1500)
            except socket.timeout:
                continue
            i, labels = 12, []
            while data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode())
                i += 1 + data[i]
            qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
            question = data[12:i + 5]
            hit = ".".join(labels).lower() == self.name and qtype == 1
            head = data[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if hit else 0, 0, 0)
            answer = b""
            if hit:
                answer = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, self.ttl, 4) +
                          socket.inet_aton(self.ip))
            self.sock.sendto(head + question + answer, peer)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def test_host_names_are_resolved_again_on_their_dns_ttl(start_veild, tmp_path, pin_dir):
    # A managed database's name moves to another address on failover (cloud databases answer
    # with TTLs of a few seconds): the new address is covered on the name's TTL, not at the next
    # periodic refresh (30 s) or reload, and the old one is let go.
    need_root()
    name = "orders.veil-ttl.test"
    dns = FakeDns(name, "198.51.100.20", ttl=1)
    mount_ns.enter_private_mount_ns()
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.77\noptions timeout:1 attempts:1\n")
    os.chmod(conf, 0o644)
    subprocess.run(["mount", "--bind", str(conf), "/etc/resolv.conf"], check=True)
    try:
        port = free_port()
        text = bpf_config(tmp_path, [{"name": "orders-db", "upstream": f"198.51.100.7:{port}",
                                      "listen": f"{HOST}:{free_port()}"}])
        text = text.replace("    tls: {client: disable, upstream: disable}\n",
                            "    tls: {client: disable, upstream: disable}\n"
                            f"    aliases: [{name}]\n")
        proc = start_veild(text, args=("--bpf-pin-dir", pin_dir))
        sock = f"{tmp_path}/run/veil.sock"
        [cov] = veilctl(sock, "status")["coverage"]
        assert cov["addresses"] == ["198.51.100.7", "198.51.100.20"], cov
        dns.ip = "198.51.100.21"  # failover
        deadline = time.monotonic() + 10
        while True:
            [cov] = veilctl(sock, "status")["coverage"]
            if cov["addresses"] == ["198.51.100.7", "198.51.100.21"]:
                break
            assert time.monotonic() < deadline, cov
            time.sleep(0.2)
        assert "looked at again every 1 s (a host name's DNS TTL)" in proc.log()
    finally:
        subprocess.run(["umount", "/etc/resolv.conf"], check=False)
        dns.close()
