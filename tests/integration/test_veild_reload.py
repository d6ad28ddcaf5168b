"""SIGHUP reload: endpoints, guardrails and masking profiles change atomically, live sessions
are not dropped (and keep the settings they started with), and a bad file is refused with
file:line:col while the running configuration goes on serving."""

import os
import signal
import textwrap
import threading
import time

import psycopg2
import pytest

from conftest import HOST, free_port


def config(work, pg, port, *, email="redact", extra_endpoint=None, guardrails="[read-only]"):
    text = textwrap.dedent(f"""
        agent:
          state_dir: {work}/state
          control_socket: {work}/run/veil.sock
          metrics_listen: ""
          redirect: "off"
        endpoints:
          - name: shop-db
            protocol: postgres
            upstream: {pg.host}:{pg.port}
            listen: {HOST}:{port}
            access: open
            tls: {{client: disable, upstream: disable}}
            guardrails: {guardrails}
        """)
    if extra_endpoint:
        text += textwrap.indent(textwrap.dedent(f"""
            - name: shop-db-2
              protocol: postgres
              upstream: localhost:{pg.port}
              listen: {HOST}:{extra_endpoint}
              access: open
              tls: {{client: disable, upstream: disable}}
            """), "  ")
    text += textwrap.dedent(f"""
        masking:
          key_file: {work}/state/keys/mask.key
          profiles:
            default:
              strategies: {{EMAIL: {email}, default: redact}}
        """)
    return text


def contact(port):
    with psycopg2.connect(host=HOST, port=port, user="app_trust", dbname="shop") as c:
        with c.cursor() as cur:
            cur.execute("SELECT contact FROM customers WHERE id = 1")
            return cur.fetchone()[0]


def wait_log(proc, needle, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in proc.log():
            return
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in veild's log:\n{proc.log()[-3000:]}")


def test_reload_under_load_drops_no_session(pg, start_veild, tmp_path):
    port, port2 = free_port(), free_port()
    path_text = config(tmp_path, pg, port)
    proc = start_veild(path_text)
    assert contact(port) == "[EMAIL]"

    # Sessions that query without pause through the reload.
    stop = threading.Event()
    errors, counts, seen = [], [0] * 4, [set() for _ in range(4)]

    def load(i):
        try:
            conn = psycopg2.connect(host=HOST, port=port, user="app_trust", dbname="shop")
            conn.autocommit = True
            cur = conn.cursor()
            while not stop.is_set():
                cur.execute("SELECT contact FROM customers WHERE id = 1")
                seen[i].add(cur.fetchone()[0])
                counts[i] += 1
            conn.close()
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            errors.append(f"session {i}: {e!r}")

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)

    proc.config_path.write_text(config(tmp_path, pg, port, email="hash", extra_endpoint=port2))
    os.kill(proc.pid, signal.SIGHUP)
    wait_log(proc, "reload: ")
    wait_log(proc, "applied")
    before = list(counts)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(10)
    assert not errors, errors
    # Every session kept running through the reload, with the masking it started with.
    assert all(c > b for c, b in zip(counts, before)), (before, counts)
    assert all(s == {"[EMAIL]"} for s in seen), seen
    # New sessions get the new profile; the added endpoint listens.
    hashed = contact(port)
    assert hashed.endswith("@masked.invalid") and "okonkwo" not in hashed, hashed
    assert contact(port2) == hashed


def test_bad_reload_keeps_running_config(pg, start_veild, tmp_path):
    port = free_port()
    proc = start_veild(config(tmp_path, pg, port))
    bad = config(tmp_path, pg, port, email="scramble")
    proc.config_path.write_text(bad)
    os.kill(proc.pid, signal.SIGHUP)
    wait_log(proc, "reload refused")
    log = proc.log()
    line = next(i + 1 for i, l in enumerate(bad.splitlines()) if "scramble" in l)
    assert f"{proc.config_path}:{line}:" in log, log[-2000:]
    assert proc.popen.poll() is None
    assert contact(port) == "[EMAIL]"


def test_reload_changes_guardrails_for_new_sessions(pg, start_veild, tmp_path):
    port = free_port()
    proc = start_veild(config(tmp_path, pg, port, guardrails="[read-only]"))
    live = psycopg2.connect(host=HOST, port=port, user="app_trust", dbname="shop")
    live.autocommit = True
    proc.config_path.write_text(config(tmp_path, pg, port, guardrails="[]"))
    os.kill(proc.pid, signal.SIGHUP)
    wait_log(proc, "applied")
    # The live session keeps the guardrails it was admitted with...
    with pytest.raises(psycopg2.Error) as e:
        live.cursor().execute("CREATE TEMP TABLE t_reload (x int)")
    assert "guardrail" in str(e.value)
    live.close()
    # ...and a new one gets the new set.
    with psycopg2.connect(host=HOST, port=port, user="app_trust", dbname="shop") as c:
        c.cursor().execute("CREATE TEMP TABLE t_reload (x int)")
