"""veil.service and veild's side of it: the unit passes systemd-analyze verify, and veild speaks
the notify protocol (READY when listening, WATCHDOG from its event loop, STOPPING on SIGTERM)
and survives SIGHUP."""

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


def test_notify_protocol_and_sighup(pg, tmp_path):
    veild = os.path.abspath(os.environ.get("VEILD_BIN", "build/agent/veild"))
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(10)
    port = free_port()
    cfg = tmp_path / "veil.yaml"
    cfg.write_text(veil_config(tmp_path, pg.host, pg.port, port))
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="200000")
    proc = subprocess.Popen([veild, "--config", str(cfg)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = notify.recv(4096).decode()
        assert first.startswith("READY=1"), first
        wait_for_port(HOST, port, 10, proc=proc)  # READY means listening
        got = notify.recv(4096).decode()
        assert got == "WATCHDOG=1", got
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
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
