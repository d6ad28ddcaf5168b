"""veil.service and veild's side of it: the unit passes systemd-analyze verify, and veild speaks
the notify protocol (READY when listening, WATCHDOG from its event loop, RELOADING and READY
around a SIGHUP reload, STOPPING on SIGTERM)."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import HOST, free_port, wait_for_port
from test_veild_pg import psql_via, veil_config

REPO = Path(__file__).resolve().parents[2]


def test_unit_passes_systemd_analyze_verify(tmp_path):
    veild = os.path.abspath(os.environ.get("VEILD_BIN", "build/agent/veild"))
    unit = (REPO / "systemd" / "veil.service").read_text().replace("/usr/sbin/veild", veild)
    path = tmp_path / "veil.service"
    path.write_text(unit)
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def _service_settings() -> dict[str, list[str]]:
    """[Service] settings of the unit in order, comments and continuation-free."""
    settings: dict[str, list[str]] = {}
    section = None
    for line in (REPO / "systemd" / "veil.service").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_is_the_service_spec_9_describes():
    s = _service_settings()
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    # First, as root: the pin dir on the host's bpffs for user veil; BindPaths= needs it.
    assert s["ExecStartPre"] == [
        "+/usr/bin/nsenter -t 1 -m -- /usr/sbin/veild --prepare-bpf-pin-dir veil",
        "/usr/sbin/veild --check-config /etc/veil/veil.yaml"]
    assert "WatchdogSec" in s and s["Restart"] == ["on-failure"]
    assert s["User"] == ["veil"] and s["NoNewPrivileges"] == ["yes"]
    # Least capabilities: the four of SPEC §9 plus CAP_SYS_PTRACE (justified in the unit);
    # never CAP_SYS_ADMIN.
    caps = {"CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_RESOURCE", "CAP_SYS_PTRACE"}
    assert set(s["CapabilityBoundingSet"][0].split()) == caps
    assert set(s["AmbientCapabilities"][0].split()) == caps
    assert s["LimitMEMLOCK"] == ["infinity"]
    assert s["ProtectSystem"] == ["strict"]
    assert set(s["ReadWritePaths"][0].split()) == {"/var/lib/veil", "/var/log/veil", "/run/veil"}
    # veild's view of bpffs: a tmpfs holding only its own pin dir, so systemd's mode 0700 on
    # /sys/fs/bpf stays and no DAC capability is needed (test_bpf_redirect.py runs veild in
    # this layout as user veil; test_nspawn_service.py under systemd).
    assert s["TemporaryFileSystem"] == ["/sys/fs/bpf:mode=0755"]
    assert s["BindPaths"] == ["-/sys/fs/bpf/veil"]
    for key in ("ProtectHome", "PrivateTmp", "LockPersonality", "MemoryDenyWriteExecute"):
        assert s[key] == ["yes"], key
    assert s["SystemCallArchitectures"] == ["native"]
    assert set(s["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    # Read-only /sys, /proc/sys and /sys/fs/cgroup: the bind mount of the pin dir stays
    # writable, and attaching to the cgroup root needs only a read-only descriptor.
    # ProtectKernelTunables=yes would add a read-only /sys/fs/bpf that replaces the tmpfs.
    assert s["ReadOnlyPaths"] == ["/sys /proc/sys -/proc/sysrq-trigger"]
    assert s["ProtectControlGroups"] == ["yes"] and "ProtectKernelTunables" not in s
    # bpf() is in @privileged: the allow line must come after the deny line to survive.
    filters = s["SystemCallFilter"]
    deny = next(i for i, f in enumerate(filters) if f.startswith("~") and "@privileged" in f)
    allow = max(i for i, f in enumerate(filters) if "bpf" in f.split())
    assert allow > deny, filters
    # Clients reach the PostgreSQL unix sockets in /run/veil (SPEC §3).
    assert s["RuntimeDirectory"] == ["veil"] and s["RuntimeDirectoryMode"] == ["0755"]


def test_notify_protocol_and_sighup(pg, tmp_path):
    veild = os.path.abspath(os.environ.get("VEILD_BIN", "build/agent/veild"))
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(10)
    port = free_port()
    cfg = tmp_path / "veil.yaml"
    cfg.write_text(veil_config(tmp_path, pg.host, pg.port, port) +
                   f"events:\n  sinks:\n    - {{type: file, path: {tmp_path}/events.jsonl}}\n")
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="200000")
    proc = subprocess.Popen([veild, "--config", str(cfg)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = notify.recv(4096).decode()
        assert first.startswith("READY=1"), first
        wait_for_port(HOST, port, 10, proc=proc)  # READY means listening
        got = notify.recv(4096).decode()
        assert got == "WATCHDOG=1", got
        # A reload is framed by RELOADING=1 (with the monotonic time systemd wants) and READY=1.
        proc.send_signal(signal.SIGHUP)
        reload_msgs = []
        deadline = time.time() + 10
        while time.time() < deadline and "READY=1" not in reload_msgs:
            m = notify.recv(4096).decode()
            if m != "WATCHDOG=1":
                reload_msgs.append(m)
        assert reload_msgs[0].startswith("RELOADING=1\nMONOTONIC_USEC="), reload_msgs
        assert reload_msgs[-1] == "READY=1", reload_msgs
        assert proc.poll() is None, "veild died on SIGHUP"
        assert psql_via(port, "SELECT contact FROM customers WHERE id = 1").stdout.strip() == \
            "[EMAIL]"
        proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        messages = []
        while time.time() < deadline and "STOPPING=1" not in messages:
            messages.append(notify.recv(4096).decode())
        assert "STOPPING=1" in messages
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
