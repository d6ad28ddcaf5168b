"""Usage events end to end: a query through veild yields OCSF events with the right fields and
no seeded raw value anywhere; the hash chain verifies with `veilctl audit verify` and an edit is
caught; a syslog receiver that is down does not slow queries, and the events arrive once it is
back; Prometheus metrics are served and count what happened."""

import json
import os
import socket
import subprocess
import threading
import time
import urllib.request

import psycopg2
import pytest

from conftest import HOST, free_port, leaked_values
from test_veild_pg import veil_config

VEILCTL = os.environ.get("VEILCTL_BIN", "build/tools/veilctl/veilctl")


def read_events(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_events(path, predicate, timeout=10):
    deadline = time.monotonic() + timeout
    events = []
    while time.monotonic() < deadline:
        if os.path.exists(path):
            events = read_events(path)
            if predicate(events):
                return events
        time.sleep(0.1)
    raise AssertionError(f"events not as expected in {path}: {json.dumps(events)[-3000:]}")


def with_sinks(cfg, sinks, metrics="\"\""):
    cfg = cfg.replace('metrics_listen: ""', f"metrics_listen: {metrics}")
    return cfg + "events:\n  sinks:\n" + "".join(f"    - {s}\n" for s in sinks)


def queries(port, sqls, user="app_trust"):
    conn = psycopg2.connect(host=HOST, port=port, user=user, dbname="shop")
    conn.autocommit = True
    out = []
    with conn.cursor() as cur:
        for sql in sqls:
            try:
                cur.execute(sql)
                out.append(cur.fetchall() if cur.description else None)
            except psycopg2.Error as e:
                out.append(e)
    conn.close()
    return out


def test_query_events_have_fields_and_no_raw_values(pg, start_veild, tmp_path, seeded_values):
    port = free_port()
    events_path = tmp_path / "events.jsonl"
    start_veild(with_sinks(veil_config(tmp_path, pg.host, pg.port, port),
                           [f"{{type: file, path: {events_path}}}"]))
    # Statements full of the seeded values as literals: none may reach an event.
    literal_sql = [
        "SELECT id, contact, notes FROM customers WHERE contact = 'margaret.okonkwo@gmail.com'",
        "SELECT count(*) FROM customers WHERE notes LIKE E'%4111 1111 1111 1111%' "
        "OR phone = $x$(312) 847-3920$x$ OR notes LIKE '%536-22-1234%'",
        "SELECT 'x@y.z'::int",
    ]
    queries(port, ["SELECT id, name, contact, phone, notes FROM customers ORDER BY id",
                   *literal_sql])
    events = wait_events(events_path, lambda ev: any(
        e.get("class_uid") == 6005 and e.get("activity_name") == "Close" for e in ev))
    text = events_path.read_text()
    leaks = leaked_values(text, seeded_values)
    assert not leaks, [v.value for v in leaks]
    assert "x@y.z" not in text
    for e in events:
        assert e["metadata"]["product"]["name"] == "veil"
        assert e["metadata"]["uid"]
    sessions = [e for e in events if e["class_uid"] == 6005 and e["activity_id"] == 3]
    queries_ = [e for e in events if e["class_uid"] == 6005 and e["activity_id"] == 4]
    assert len(sessions) == 1 and len(queries_) == 4, json.dumps(events, indent=1)[:4000]
    s = sessions[0]
    corr = s["metadata"]["correlation_uid"]
    assert all(q["metadata"]["correlation_uid"] == corr for q in queries_)
    assert s["type_uid"] == 600503
    assert s["unmapped"]["endpoint"] == "shop-db"
    assert s["unmapped"]["database_user"] == "app_trust"
    assert s["actor"]["user"]["name"] == "root"  # the test runs psycopg2 as root
    first = queries_[0]
    assert first["type_uid"] == 600504
    assert first["query_info"]["query_string"] == \
        "SELECT id, name, contact, phone, notes FROM customers ORDER BY id"
    u = first["unmapped"]
    assert u["rows"] == 6 and u["bytes"] > 0
    assert u["masked"]["by_entity"]["EMAIL"] >= 5
    assert u["masked"]["by_column"]["public.customers.contact"] >= 5
    assert "?" in queries_[1]["query_info"]["query_string"]
    assert queries_[3]["status_code"] == "22P02"
    for e in events:
        assert set(e["unmapped"]["chain"]) == {"seq", "prev", "hash"}
    # The chain verifies; an edited record is caught at its seq.
    ok = subprocess.run([VEILCTL, "audit", "verify", str(events_path)], capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = events_path.read_text().splitlines()
    edited = json.loads(lines[2])
    edited["unmapped"]["rows"] = 999
    lines[2] = json.dumps(edited, separators=(",", ":"), sort_keys=True)
    bad_path = tmp_path / "edited.jsonl"
    bad_path.write_text("\n".join(lines) + "\n")
    bad = subprocess.run([VEILCTL, "audit", "verify", str(bad_path)], capture_output=True,
                         text=True)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert str(edited["unmapped"]["chain"]["seq"]) in bad.stdout + bad.stderr


def test_guardrail_block_is_an_event(pg, start_veild, tmp_path):
    port = free_port()
    events_path = tmp_path / "events.jsonl"
    cfg = veil_config(tmp_path, pg.host, pg.port, port).replace(
        "access: open", "access: open\n    guardrails: [no-ddl]")
    start_veild(with_sinks(cfg, [f"{{type: file, path: {events_path}}}"]))
    r = queries(port, ["DROP TABLE customers"])
    assert isinstance(r[0], psycopg2.Error)
    events = wait_events(events_path, lambda ev: any(
        e.get("unmapped", {}).get("guardrail") for e in ev))
    blocked = [e for e in events if e.get("unmapped", {}).get("guardrail")][0]
    assert blocked["unmapped"]["guardrail"] == "no-ddl"
    assert blocked["query_info"]["query_string"] == "DROP TABLE customers"
    assert blocked["status_code"] == "42501"


class SyslogReceiver:
    """RFC 5424 over TCP with octet counting (RFC 6587), as veild sends it."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, port))
        self.sock.listen(4)
        self.messages = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(c,), daemon=True).start()

    def _read(self, c):
        buf = b""
        while True:
            data = c.recv(65536)
            if not data:
                return
            buf += data
            while b" " in buf:
                n, rest = buf.split(b" ", 1)
                if len(rest) < int(n):
                    break
                self.messages.append(rest[:int(n)].decode())
                buf = rest[int(n):]

    def close(self):
        self.sock.close()


def test_syslog_down_does_not_slow_queries_and_events_arrive_later(pg, start_veild, tmp_path):
    port, syslog_port = free_port(), free_port()
    start_veild(with_sinks(veil_config(tmp_path, pg.host, pg.port, port),
                           [f"{{type: syslog, address: \"tcp://{HOST}:{syslog_port}\"}}"]))
    # Nobody listens on the syslog port: every query must still be answered promptly.
    conn = psycopg2.connect(host=HOST, port=port, user="app_trust", dbname="shop")
    conn.autocommit = True
    cur = conn.cursor()
    slowest = 0.0
    for i in range(200):
        t = time.monotonic()
        cur.execute(f"SELECT contact FROM customers WHERE id = {i % 6 + 1}")
        cur.fetchall()
        slowest = max(slowest, time.monotonic() - t)
    conn.close()
    assert slowest < 1.0, f"a query took {slowest:.3f} s with the syslog receiver down"
    receiver = SyslogReceiver(syslog_port)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            queries_seen = [m for m in receiver.messages if '"activity_id":4' in m]
            if len(queries_seen) >= 200:
                break
            time.sleep(0.2)
        msgs = receiver.messages
        assert len([m for m in msgs if '"activity_id":4' in m]) == 200, len(msgs)
        first = msgs[0]
        assert first.startswith("<") and " veil " in first, first[:200]
        seqs = [json.loads(m[m.index("{"):])["unmapped"]["chain"]["seq"] for m in msgs]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    finally:
        receiver.close()


def test_metrics_endpoint_counts_sessions_statements_and_masked_values(pg, start_veild,
                                                                        tmp_path):
    port, mport = free_port(), free_port()
    cfg = veil_config(tmp_path, pg.host, pg.port, port).replace(
        'metrics_listen: ""', f"metrics_listen: {HOST}:{mport}")
    start_veild(cfg)
    queries(port, ["SELECT contact FROM customers", "SELECT 1"])
    deadline = time.monotonic() + 10
    while True:
        body = urllib.request.urlopen(f"http://{HOST}:{mport}/metrics", timeout=5).read().decode()
        values = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                values[k] = float(v)
        # Statements are counted just after their results reach the client: poll, don't race.
        if (values.get('veil_sessions_total{endpoint="shop-db",outcome="admitted"}', 0) >= 1 and
                values.get('veil_statements_total{endpoint="shop-db",kind="read"}', 0) >= 2 and
                values.get('veil_events_written_total{sink="file"}', 0) >= 1) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert values['veil_sessions_total{endpoint="shop-db",outcome="admitted"}'] >= 1, body
    assert values['veil_statements_total{endpoint="shop-db",kind="read"}'] >= 2, body
    assert values['veil_masked_values_total{entity="EMAIL"}'] >= 5, body
    assert values['veil_events_written_total{sink="file"}'] >= 1, body
    assert values['veil_events_dropped_total{sink="file"}'] == 0, body
    assert "app_trust" not in body and "user:" not in body
