"""veil.service under a real systemd (PID 1): a Debian 12 container booted with
`systemd-nspawn --boot`, with bpffs mounted at /sys/fs/bpf mode 0700 as systemd mounts it on
every host, and the capabilities the eBPF layer needs. In it the test installs the .deb that
`cpack -G DEB` builds, protects the container's PostgreSQL 15 with `redirect: ebpf`, and
checks what an operator relies on:

  systemctl enable --now veil       active (running) once veild sent READY
  psql as nobody, real address      masked rows (the cgroup/connect4 redirect, inside systemd)
  systemctl reload veil             a changed guardrail applies to new sessions
  systemctl kill -s KILL veil       connection refused, then systemd restarts veild, which
                                    adopts its pins, and rows are masked again
  systemctl stop veil               still refused (fail closed)
  dpkg --purge veil                 no pins, no programs attached, the database answers directly
  systemd-analyze security veil     the exposure score, printed

The Debian tree is made by debootstrap from the mirror apt uses here, once, and cached in
$VEIL_NSPAWN_TREE (default /var/cache/veil-test/nspawn-bookworm); each run boots an overlay of
it, so the cache stays clean. Everything the test mounts lives in a mount namespace of its own.
Root only: skipped otherwise, and a failure under CI=true.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import mount_ns
from conftest import SEED_SQL, leaked_values, load_seeded_values, veild_bin

pytestmark = [pytest.mark.bpf, pytest.mark.nspawn]

TREE = Path(os.environ.get("VEIL_NSPAWN_TREE", "/var/cache/veil-test/nspawn-bookworm"))
TREE_DONE = ".veil-tree-complete"
SUITE = "bookworm"
# systemd as PID 1, the database the service protects, and what its tests drive it with.
BASE_PACKAGES = ["systemd-sysv", "dbus", "postgresql-15", "postgresql-client-15"]
# Capabilities the container's bounding set lacks by default and the eBPF layer needs.
CAPS = "CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN"
# nspawn's own seccomp filter refuses these (EPERM) unless they are added.
SYSCALLS = "bpf perf_event_open"
# What veil attaches to a cgroup (bpftool's names): cgroup/connect4, connect6 and sockops.
VEIL_ATTACH = {"cgroup_inet4_connect", "cgroup_inet6_connect", "cgroup_sock_ops"}
PG = ("127.0.0.1", 5432)  # the database's real address, inside the container
LISTEN = ("127.0.0.1", 6432)  # veild's listen port for it
ROW1 = ("1|[PERSON_NAME]|[EMAIL]|[PHONE]|Called about a refund; paid with card"
        " **** **** **** 1111, exp 09/27.||120.50")


def run(*argv, check=True, timeout=600, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited with {r.returncode}:\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


def need(condition: bool, message: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; under CI this test must run", pytrace=False)
    pytest.skip(message)


def debian_mirror() -> str:
    """The Debian mirror apt uses on this machine (deb822 .sources or a sources.list)."""
    apt = Path("/etc/apt")
    for f in sorted(apt.glob("sources.list.d/*.sources")):
        for stanza in f.read_text().split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:(.*)$", stanza, re.M)
            if uris and suites and SUITE in suites.group(1).split():
                return uris.group(1)
    for f in [apt / "sources.list", *sorted(apt.glob("sources.list.d/*.list"))]:
        if f.exists():
            for line in f.read_text().splitlines():
                m = re.match(r"deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+" + SUITE + r"\s", line)
                if m:
                    return m.group(1)
    return "http://deb.debian.org/debian"


def package_depends(deb: Path) -> list[str]:
    """The package names in the .deb's Depends (the first of each alternative)."""
    field = run("dpkg-deb", "-f", deb, "Depends").stdout
    names = []
    for dep in field.split(","):
        name = dep.split("|")[0].strip().split(" ")[0].split(":")[0]
        if name:
            names.append(name)
    return names


def installed_providers(admindir: str = "/var/lib/dpkg") -> dict[str, str]:
    """Every name an installed package is or provides (virtual packages such as
    libspdlog1.10-fmt9, which Depends may name), mapped to that package."""
    out = run("dpkg-query", f"--admindir={admindir}", "-W",
              "-f=${db:Status-Abbrev}|${Package}|${Provides}\n").stdout
    names = {}
    for line in out.splitlines():
        status, name, provides = line.split("|", 2)
        if status.startswith("ii"):
            names[name] = name
            for p in provides.split(","):
                if p.strip():
                    names.setdefault(p.strip().split(" ")[0], name)
    return names


def missing_in_tree(tree: Path, packages: list[str]) -> list[str]:
    """Those of `packages` that no package installed in `tree` is or provides."""
    have = installed_providers(f"{tree}/var/lib/dpkg")
    return [p for p in packages if p not in have]


class Cgroups:
    """A cgroup of its own for a process tree, in every hierarchy systemd uses (the cgroup v2
    one, and on hybrid hosts the v1 name=systemd one), all found in /proc/mounts. systemd-nspawn
    --keep-unit puts its supervisor and the container's payload below the cgroup it starts in."""

    def __init__(self, name: str):
        self.dirs = []
        for line in Path("/proc/mounts").read_text().splitlines():
            _, where, fstype, opts, *_ = line.split()
            if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in opts.split(",")):
                d = Path(where) / name
                d.mkdir(exist_ok=True)
                self.dirs.append(d)
        assert self.dirs, "no cgroup2 mount in /proc/mounts"

    def enter_then(self, argv: list[str]) -> list[str]:
        """argv, run from a shell that first moves itself into these cgroups."""
        moves = "".join(f'echo $$ > "{d}/cgroup.procs" && ' for d in self.dirs)
        return ["sh", "-c", moves + 'exec "$@"', "sh", *argv]

    def remove(self) -> None:
        for top in self.dirs:
            for d in sorted(top.glob("**/"), key=lambda p: -len(p.parts)):
                for _ in range(50):
                    try:
                        d.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.1)


def cgroup2_mount() -> Path:
    for line in Path("/proc/mounts").read_text().splitlines():
        f = line.split()
        if f[2] == "cgroup2":
            return Path(f[1])
    raise AssertionError("no cgroup2 mount in /proc/mounts")


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    need(os.geteuid() == 0, "booting a container needs root")
    for tool in ("systemd-nspawn", "debootstrap", "bpftool", "nsenter", "cpack"):
        need(shutil.which(tool) is not None, f"{tool} is not installed (tools/setup.sh)")
    build = Path(os.environ.get("VEIL_BUILD_DIR") or veild_bin().resolve().parents[1])
    config = build / "CPackConfig.cmake"
    need(config.exists(), f"{config} does not exist: configure and build in {build}")
    out = tmp_path_factory.mktemp("deb")
    run("cpack", "-G", "DEB", "--config", config, "-B", out, cwd=build)
    (found,) = sorted(out.glob("veil_*.deb"))
    return found


@pytest.fixture(scope="module")
def tree(deb) -> Path:
    """The cached Debian 12 tree, made by debootstrap when missing; the .deb's dependencies
    are added to it when it lacks one (the container has no network of its own)."""
    TREE.parent.mkdir(parents=True, exist_ok=True)
    packages = BASE_PACKAGES + [p for p in package_depends(deb) if p not in BASE_PACKAGES]
    with open(f"{TREE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others wait and reuse
        if not (TREE / TREE_DONE).exists():
            partial = Path(f"{TREE}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(TREE, ignore_errors=True)
            mirror = debian_mirror()
            started = time.monotonic()
            # debootstrap takes real packages only: a virtual one becomes the package that
            # provides it here, where the .deb was built against it.
            host = installed_providers()
            real = sorted({host.get(p, p) for p in packages})
            run("debootstrap", "--variant=minbase", "--include=" + ",".join(real), SUITE,
                partial, mirror, timeout=1800)
            (partial / TREE_DONE).write_text(f"{SUITE} {mirror}\n")
            partial.rename(TREE)
            print(f"\nnspawn tree: debootstrap {SUITE} from {mirror} took "
                  f"{time.monotonic() - started:.0f} s")
        missing = missing_in_tree(TREE, packages)
        if missing:
            cg = Cgroups(f"veil-nspawn-apt-{os.getpid()}")
            try:
                started = time.monotonic()
                run(*cg.enter_then(["systemd-nspawn", "-q", "--register=no", "--keep-unit",
                                    "-D", str(TREE), "--pipe", "sh", "-c",
                                    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                                    "apt-get install -y -qq --no-install-recommends "
                                    + " ".join(missing)]), timeout=1800)
                print(f"\nnspawn tree: added {' '.join(missing)} in "
                      f"{time.monotonic() - started:.0f} s")
            finally:
                cg.remove()
            assert not missing_in_tree(TREE, packages)
    return TREE


class Machine:
    """A booted container: `sh()` runs a command in all its namespaces as root (outside its
    cgroups: for systemctl, dpkg, files), `client()` runs one as a transient unit of its own
    systemd, so inside its cgroup tree where veil's programs are attached."""

    def __init__(self, tree: Path, work: Path):
        self.work = work
        self.root = work / "root"
        self.bpffs = work / "bpffs"  # the container's /sys/fs/bpf, seen from the host
        for d in ("upper", "ovl", "root", "bpffs"):
            (work / d).mkdir()
        run("mount", "-t", "overlay", "overlay", "-o",
            f"lowerdir={tree},upperdir={work}/upper,workdir={work}/ovl", self.root)
        (self.root / "etc" / "hostname").write_text("veil-test\n")
        # bpffs as systemd mounts it at boot (systemd does not mount it inside a container).
        run("mount", "-t", "bpf", "-o", "mode=0700,nosuid,nodev,noexec", "bpf", self.bpffs)
        self.cgroups = Cgroups(f"veil-nspawn-{os.getpid()}")
        self.console = open(work / "console.log", "w")
        argv = ["systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
                "--directory", str(self.root), "--machine", "veil-test", "--private-network",
                "--console=read-only", f"--capability={CAPS}",
                f"--system-call-filter={SYSCALLS}",
                f"--bind={self.bpffs}:/sys/fs/bpf"]
        started = time.monotonic()
        self.nspawn = subprocess.Popen(self.cgroups.enter_then(argv), stdout=self.console,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self.leader = self._leader(started + 30)
            deadline = time.monotonic() + 120
            # Until PID 1 has made /run/systemd/system (before it, systemctl says "offline"
            # at once), then listens on its private socket, then until booted.
            while True:
                r = self.sh("systemctl is-system-running --wait", check=False, timeout=120)
                early = "Failed to connect" in r.stderr or r.stdout.strip() == "offline"
                if not early or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.boot_seconds = time.monotonic() - started
            if r.stdout.strip() not in ("running", "degraded"):
                raise AssertionError(f"the container did not boot: {r.stdout} {r.stderr}\n"
                                     + self.console_log())
            if r.stdout.strip() == "degraded":
                print(self.sh("systemctl --failed --no-legend", check=False).stdout)
        except BaseException:
            self.stop()  # no container outlives a failed boot
            raise

    def _leader(self, deadline: float) -> int:
        """The container's PID 1 (systemd), a child of systemd-nspawn."""
        while time.monotonic() < deadline:
            assert self.nspawn.poll() is None, self.console_log()
            for task in Path(f"/proc/{self.nspawn.pid}/task").iterdir():
                for child in (task / "children").read_text().split():
                    if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                        return int(child)
            time.sleep(0.1)
        raise AssertionError("the container's systemd did not start:\n" + self.console_log())

    def console_log(self) -> str:
        return (self.work / "console.log").read_text(errors="replace")[-4000:]

    def sh(self, script: str, check=True, timeout=120, input=None) -> subprocess.CompletedProcess:
        return run("nsenter", "-t", self.leader, "-m", "-u", "-i", "-n", "-p", "-C", "--",
                   "sh", "-c", script, check=check, timeout=timeout, input=input)

    def client(self, user: str, *argv: str, check=False) -> subprocess.CompletedProcess:
        return run("nsenter", "-t", self.leader, "-m", "-u", "-i", "-n", "-p", "-C", "--",
                   "systemd-run", "--quiet", "--wait", "--pipe", "--collect", "-p",
                   f"User={user}", "-E", "PGCONNECT_TIMEOUT=5", "--", *argv, check=check,
                   timeout=60, stdin=subprocess.DEVNULL)

    def psql(self, sql: str, user="nobody", host=PG) -> subprocess.CompletedProcess:
        return self.client(user, "psql", "-h", host[0], "-p", str(host[1]), "-U", "app_trust",
                           "-d", "shop", "-A", "-t", "-X", "-v", "ON_ERROR_STOP=1", "-c", sql)

    def systemctl(self, *args: str, timeout=90) -> subprocess.CompletedProcess:
        """systemctl ARGS; a failure shows veil's journal."""
        r = self.sh("systemctl " + " ".join(args), check=False, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"systemctl {' '.join(args)} exited with {r.returncode}:\n"
                                 f"{r.stderr}\n{self.journal('veil')}")
        return r

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.sh(f"systemctl show {unit} " + " ".join(f"-p {p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str) -> str:
        return self.sh(f"journalctl --no-pager -o cat -u {unit}", check=False).stdout

    def cgroup_root(self) -> Path:
        """The container's cgroup v2 root as the host sees it (its PID 1 is in init.scope)."""
        for line in Path(f"/proc/{self.leader}/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return cgroup2_mount() / line[3:].lstrip("/").rsplit("/", 1)[0]
        raise AssertionError("the container's PID 1 has no cgroup v2 path")

    def veil_programs(self) -> list[str]:
        """veil's programs attached anywhere in the container's cgroup tree, and veil links
        on its root, by bpftool on the host."""
        root = self.cgroup_root()
        found = []
        tree = json.loads(run("bpftool", "-j", "cgroup", "tree", root).stdout or "[]")
        for cg in tree:
            found += [f"{cg['cgroup']}: {p.get('name')}" for p in cg.get("programs", [])
                      if str(p.get("name", "")).startswith("veil_")]
        cgroup_id = os.stat(root).st_ino
        for link in json.loads(run("bpftool", "-j", "link", "show").stdout or "[]"):
            if link.get("cgroup_id") == cgroup_id and link.get("attach_type") in VEIL_ATTACH:
                found.append(f"link {link['id']} ({link['attach_type']}) on {root}")
        return found

    def stop(self) -> None:
        if self.nspawn.poll() is None:
            self.nspawn.terminate()  # nspawn asks the container's systemd to power off
            try:
                self.nspawn.wait(60)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait(10)
        self.console.close()
        for m in (self.root, self.bpffs):
            run("umount", "-l", m, check=False)
        self.cgroups.remove()


@pytest.fixture(scope="module")
def machine(tree, deb):
    mount_ns.enter_private_mount_ns()  # the overlay and bpffs mounts die with this process
    work = Path(tempfile.mkdtemp(prefix="veil-nspawn-", dir="/var/tmp"))
    m = None
    try:
        m = Machine(tree, work)
        print(f"\nnspawn: booted to {m.sh('systemctl is-system-running').stdout.strip()} in "
              f"{m.boot_seconds:.1f} s")
        shutil.copy(deb, m.root / "root" / "veil.deb")
        shutil.copy(SEED_SQL, m.root / "root" / "seed.sql")
        yield m
    finally:
        if m is not None:
            m.stop()
        shutil.rmtree(work, ignore_errors=True)


def veil_yaml(guardrails: str) -> str:
    return textwrap.dedent(f"""\
        agent:
          state_dir: /var/lib/veil
          control_socket: /run/veil/veil.sock
          metrics_listen: ""
          redirect: ebpf
        endpoints:
          - name: shop-db
            protocol: postgres
            upstream: localhost:{PG[1]}
            listen: {LISTEN[0]}:{LISTEN[1]}
            access: open
            fail_mode: closed
            tls: {{client: disable, upstream: disable}}
            guardrails: {guardrails}
        masking:
          key_file: /var/lib/veil/keys/mask.key
          profiles:
            default:
              strategies: {{CREDIT_CARD: partial, US_SSN: partial, default: redact}}
              columns:
                - {{match: "*.name", entity: PERSON_NAME}}
        events:
          sinks:
            - {{type: file, path: /var/log/veil/events.jsonl}}
        """)


def wait_until(what: str, predicate, timeout: float = 30, explain=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s\n{explain()}")


def test_veil_service_under_booted_systemd(machine):
    m = machine
    phases = {}
    started = time.monotonic()

    # The database: role, data and pg_hba lines that trust app_trust over TCP (veild dials
    # it as localhost, 127.0.0.1 or ::1).
    m.sh("runuser -u postgres -- psql -q -v ON_ERROR_STOP=1"
         " -c 'CREATE ROLE veil_app NOLOGIN' -c 'CREATE ROLE app_trust LOGIN IN ROLE veil_app'"
         " -c 'CREATE DATABASE shop'"
         " && runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -d shop < /root/seed.sql"
         " && sed -i '1i host shop app_trust 127.0.0.1/32 trust\\n"
         "host shop app_trust ::1/128 trust' /etc/postgresql/15/main/pg_hba.conf"
         " && systemctl reload postgresql@15-main")
    direct = m.psql("SELECT contact FROM customers WHERE id = 1")
    assert direct.stdout.strip() == "margaret.okonkwo@gmail.com", direct.stderr

    # Install: enabled, not started (postinst), no pin dir yet and bpffs's mode untouched.
    m.sh("dpkg -i /root/veil.deb")
    assert m.sh("systemctl is-enabled veil").stdout.strip() == "enabled"
    assert m.show("veil", "ActiveState")["ActiveState"] == "inactive"
    assert not (m.bpffs / "veil").exists()
    m.sh("cat > /etc/veil/veil.yaml && chgrp veil /etc/veil/veil.yaml && "
         "chmod 0640 /etc/veil/veil.yaml", input=veil_yaml("[]"))
    phases["install"] = time.monotonic() - started

    # Start: `systemctl start` of a Type=notify unit returns once veild sent READY=1.
    t = time.monotonic()
    r = m.sh("systemctl enable --now veil", check=False, timeout=90)
    state = m.show("veil", "ActiveState", "SubState", "MainPID", "NRestarts", "Result")
    if r.returncode != 0 or (state["ActiveState"], state["SubState"]) != ("active", "running"):
        raise AssertionError(f"veil did not start: {state}\n{r.stderr}\n{m.journal('veil')}")
    phases["start"] = time.monotonic() - t
    first_pid = state["MainPID"]
    log = m.journal("veil")
    assert "ready for user veil" in log and "eBPF flow layer attached" in log, log
    st = (m.bpffs / "veil").stat()
    assert (st.st_mode & 0o7777) == 0o700
    assert (m.bpffs.stat().st_mode & 0o777) == 0o700, "the container's bpffs was loosened"
    pins = sorted(p.name for p in (m.bpffs / "veil").iterdir())
    assert {"link_connect4", "link_connect6", "link_sockops"} <= set(pins), pins
    attached = m.veil_programs()
    assert len(attached) == 6, "\n".join(attached)  # 3 programs in the tree, 3 links

    # An unprivileged psql dialling the database's real address gets masked rows.
    r = m.psql("SELECT id, name, contact, phone, notes, born, balance FROM customers"
               " WHERE id = 1")
    assert r.returncode == 0 and r.stdout.strip() == ROW1, (r.stdout, r.stderr)
    received = "".join(m.psql(f"SELECT * FROM {t}").stdout for t in ("customers", "payments"))
    ours = [v for v in load_seeded_values() if v.where.split(".")[0] in ("customers",
                                                                          "payments")]
    assert len(received.splitlines()) > 10 and leaked_values(received, ours) == []
    assert "uid=65534" in m.journal("veil")
    # The session's principal and its systemd unit (from the cgroup the kernel reported). The
    # process fields stay thin in a container: the kernel reports host pids, which the
    # container's /proc does not have (test_bpf_redirect.py checks exe: on the host).
    events = [json.loads(line) for line in
              m.sh("cat /var/log/veil/events.jsonl").stdout.splitlines() if line.strip()]
    opened = [e for e in events if e.get("class_uid") == 6005 and e.get("activity_id") == 3]
    assert opened and opened[0]["actor"]["user"]["name"] == "nobody", events[:3]
    assert opened[0]["actor"]["app_name"].startswith("run-u"), opened[0]["actor"]

    # Reload with a changed guardrail: new sessions get it.
    assert m.psql("CREATE TEMP TABLE t_reload (x int)").returncode == 0
    m.sh("cat > /etc/veil/veil.yaml", input=veil_yaml("[read-only]"))
    m.systemctl("reload", "veil")
    wait_until("the reload applied", lambda: "applied" in m.journal("veil"), 15,
               lambda: m.journal("veil"))
    r = m.psql("CREATE TEMP TABLE t_reload (x int)")
    assert r.returncode != 0 and "guardrail" in r.stderr, (r.stdout, r.stderr)
    assert m.psql("SELECT contact FROM customers WHERE id = 1").stdout.strip() == "[EMAIL]"
    assert m.show("veil", "MainPID")["MainPID"] == first_pid, "reload restarted veild"

    # kill -9: the redirect outlives veild, so the real address is refused, never reached...
    m.systemctl("kill", "-s", "KILL", "veil")
    r = m.psql("SELECT 1")
    assert r.returncode != 0 and "refused" in r.stderr, (r.stdout, r.stderr)
    # ...until systemd restarts the unit by itself and the new veild adopts the pins.
    wait_until("veil restarted", lambda: (lambda s: s["SubState"] == "running" and
                                          s["MainPID"] not in ("0", first_pid))(
        m.show("veil", "SubState", "MainPID")), 30, lambda: m.journal("veil"))
    assert m.show("veil", "NRestarts")["NRestarts"] == "1"
    assert "eBPF flow layer adopted from pins" in m.journal("veil")
    r = m.psql("SELECT contact FROM customers WHERE id = 1")
    assert r.returncode == 0 and r.stdout.strip() == "[EMAIL]", r.stderr

    score = m.sh("systemd-analyze security --no-pager veil.service", check=False).stdout
    overall = re.search(r"Overall exposure level for veil.service: (\S+) (\S+)", score)
    assert overall, score
    print(f"\nsystemd-analyze security veil.service: {overall.group(1)} {overall.group(2)}")

    # A clean stop keeps fail-closed endpoints closed.
    m.systemctl("stop", "veil")
    assert m.show("veil", "ActiveState")["ActiveState"] == "inactive"
    r = m.psql("SELECT 1")
    assert r.returncode != 0 and "refused" in r.stderr, (r.stdout, r.stderr)
    assert (m.bpffs / "veil" / "link_connect4").exists()

    # Purge: no pins, no programs, and the database answers directly again.
    m.sh("dpkg --purge veil")
    assert not (m.bpffs / "veil").exists(), sorted(p.name for p in (m.bpffs / "veil").iterdir())
    assert m.veil_programs() == []
    r = m.psql("SELECT contact FROM customers WHERE id = 1")
    assert r.returncode == 0 and r.stdout.strip() == "margaret.okonkwo@gmail.com", r.stderr
    assert m.sh("systemctl list-unit-files veil.service --no-legend", check=False).stdout == ""
    phases["total"] = time.monotonic() - started
    print("nspawn phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
