import json, os, subprocess, time
from test_lineage import veil, analyzed, lineage_db, DB, USER, HOST  # noqa

PROBES = [l.rstrip("\n") for l in open("/tmp/rt/probes.sql") if l.strip() and not l.startswith("--")]

def run(port, sql):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C")
    conn = f"host={HOST} port={port} dbname={DB} user={USER} connect_timeout=10"
    t = time.time()
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "|", "-d", conn],
                       input=(sql + ";").encode(), capture_output=True, timeout=60, env=env)
    return (r.stdout + r.stderr).decode("utf-8", "backslashreplace")[-1500:] + f" [{time.time()-t:.2f}s]"

def test_redteam(veil, analyzed):
    _, port, _ = veil
    out = [{"sql": s, "direct": run(analyzed.port, s), "veil": run(port, s)} for s in PROBES]
    json.dump(out, open("/tmp/rt/out.json", "w"), indent=1)
