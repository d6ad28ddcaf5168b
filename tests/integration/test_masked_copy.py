"""Masked copies for sandboxes (issue 17): pg_dump through veild with a profile whose strategy
is `fake`, restored into a fresh database with every constraint checked.

The source schema has what breaks naive masking: a foreign key between PII columns (an email
is the key), a UNIQUE constraint on a PII column, a CHECK on the phone's format, a bytea column
under a rule and a large object holding PII. A second pair of tables holds more distinct phone
numbers than the fictional 555-01XX range can give without collisions: UNIQUE phones and SSNs,
and a foreign key whose key is the phone number. Every format (-Fp, -Fc, -Fd -j 2) must complete,
restore with ON_ERROR_STOP / --exit-on-error, hold none of the seeded raw values (as text or
hex), and keep the relationships: same key, same surrogates (two veild runs); another key,
other surrogates.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HOST, VeildLauncher, free_port, veild_bin

SRC = "sandbox_src"
N_CUSTOMERS = 300
FIRST = ["Margaret", "Tobias", "Aiko", "Oluwaseun", "Ingrid", "Rafael", "Priya", "Dmitri",
         "Siobhan", "Kwame", "Lucia", "Henrik", "Yara", "Mateo", "Annika", "Bartholomew"]
LAST = ["Okonkwo", "Lindqvist", "Tanaka", "Adeyemi", "Halvorsen", "Quintero", "Raman",
        "Volkov", "Gallagher", "Mensah", "Ferraro", "Sorensen", "Haddad", "Alvarez"]


def luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    return luhn_complete(digits[:-1]) == digits


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def make_iban(rng: random.Random) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    check = 98 - int("".join(str(int(c, 36)) for c in bban + "DE00")) % 97
    raw = f"DE{check:02d}{bban}"
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def seed_rows():
    rng = random.Random(17)
    rows = []
    for i in range(N_CUSTOMERS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append({
            "full_name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}{i}@acme-mail.com",
            "phone": f"({rng.randint(201, 989)}) {rng.randint(200, 989)}-{rng.randint(0, 9999):04d}",
            "ssn": f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}",
            "card": " ".join(re.findall("....", luhn_complete(
                "4" + "".join(rng.choice("0123456789") for _ in range(14))))),
            "iban": make_iban(rng),
            "born": f"{rng.randint(1940, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        })
    return rows


ROWS = seed_rows()

# 4,000 contacts with distinct phones (UNIQUE): drawn independently from the ~79,000 fictional
# lines, about 100 pairs would share a surrogate and the restore would fail on the constraint.
N_CONTACTS = 4000


def seed_contacts():
    rng = random.Random(23)
    return [{"phone": f"({201 + i % 700}) {200 + (i // 700) % 700}-{rng.randint(0, 9999):04d}",
             "ssn": f"{1 + i % 665:03d}-{1 + (i // 665) % 99:02d}-{1000 + i:04d}"}
            for i in range(N_CONTACTS)]


CONTACTS = seed_contacts()
CONTACT_VALUES = {c[k] for c in CONTACTS for k in ("phone", "ssn")}
# Each value is checked whole; names also by surname (a surname alone must not reach a copy).
# Dates of birth are checked per row (test below): a date shifted by a few days is often another
# customer's real birthday, which is no leak of it.
SEEDED = [v for r in ROWS for k, v in r.items() if k not in ("full_name", "born")] + LAST


def leaks(text: str) -> list[str]:
    lower = text.lower()
    found = [v for v in SEEDED if v.lower() in lower]
    # bytea and large objects are dumped hex-encoded.
    found += [v for v in SEEDED if v.encode().hex() in lower]
    # The contacts' values, by shape (8,000 substring searches would be slow).
    found += sorted(set(re.findall(r"\(\d{3}\) \d{3}-\d{4}|\d{3}-\d{2}-\d{4}", text)) &
                    CONTACT_VALUES)
    return found


def seed_sql() -> str:
    def q(s: str) -> str:
        return "'" + s.replace("'", "''") + "'"
    lines = [r"""
CREATE TABLE customers (
  id         serial PRIMARY KEY,
  full_name  varchar(40) NOT NULL,
  email      varchar(64) NOT NULL UNIQUE,
  phone      varchar(14) CHECK (phone ~ '^\(\d{3}\) \d{3}-\d{4}$'),
  ssn        varchar(11) NOT NULL,
  card       varchar(19),
  iban       varchar(27),
  born       varchar(10),
  photo      bytea,
  doc        oid
);
CREATE TABLE orders (
  id             serial PRIMARY KEY,
  customer_email varchar(64) NOT NULL REFERENCES customers(email),
  amount         numeric(10,2) NOT NULL
);
CREATE TABLE contacts (
  id     serial PRIMARY KEY,
  phone  varchar(14) NOT NULL UNIQUE CHECK (phone ~ '^\(\d{3}\) \d{3}-\d{4}$'),
  ssn    varchar(11) NOT NULL UNIQUE
);
CREATE TABLE calls (
  id     serial PRIMARY KEY,
  phone  varchar(14) NOT NULL REFERENCES contacts(phone),
  minutes int NOT NULL
);
"""]
    for r in ROWS:
        lines.append(
            "INSERT INTO customers (full_name, email, phone, ssn, card, iban, born, photo) VALUES "
            f"({q(r['full_name'])}, {q(r['email'])}, {q(r['phone'])}, {q(r['ssn'])}, "
            f"{q(r['card'])}, {q(r['iban'])}, {q(r['born'])}, "
            f"convert_to({q(r['email'])}, 'UTF8'));")
    rng = random.Random(1)
    for i, r in enumerate(ROWS):
        for _ in range(1 + i % 3):
            lines.append(f"INSERT INTO orders (customer_email, amount) VALUES ({q(r['email'])}, "
                         f"{rng.randint(100, 99999) / 100});")
    lines.append("INSERT INTO contacts (phone, ssn) VALUES " + ", ".join(
        f"({q(c['phone'])}, {q(c['ssn'])})" for c in CONTACTS) + ";")
    lines.append("INSERT INTO calls (phone, minutes) VALUES " + ", ".join(
        f"({q(c['phone'])}, {1 + i % 50})" for i, c in enumerate(CONTACTS * 2)) + ";")
    # Large objects holding PII, referenced from the first ten customers.
    lines.append("UPDATE customers SET doc = lo_from_bytea(0, convert_to(full_name || ' ' || "
                 "ssn || ' ' || email, 'UTF8')) WHERE id <= 10;")
    return "\n".join(lines)


def prepare_work(work: Path, key: bytes = bytes(range(32))) -> Path:
    """A folder for one veild: state/, run/ and its mask key (0600). Returns the key file."""
    (work / "state").mkdir(parents=True)
    (work / "run").mkdir()
    key_file = work / "mask.key"
    key_file.write_bytes(key)
    key_file.chmod(0o600)
    return key_file


def config(tmp: Path, pg, port: int, key_file: Path) -> str:
    return f"""
agent:
  state_dir: {tmp}/state
  control_socket: {tmp}/run/veil.sock
  metrics_listen: ""
  redirect: "off"
endpoints:
  - name: src-db
    protocol: postgres
    upstream: {pg.host}:{pg.port}
    listen: {HOST}:{port}
    access: open
    tls: {{client: disable, upstream: disable}}
    masking: sandbox
masking:
  key_file: {key_file}
  profiles:
    sandbox:
      entities: all
      strategies: {{default: fake}}
      date_shift_days: 30
      columns:
        - {{match: "*.full_name", entity: PERSON_NAME}}
        - {{match: "*.email", entity: EMAIL}}
        - {{match: "*.customer_email", entity: EMAIL}}
        - {{match: "*.phone", entity: PHONE}}
        - {{match: "*.ssn", entity: US_SSN}}
        - {{match: "*.card", entity: CREDIT_CARD}}
        - {{match: "*.iban", entity: IBAN}}
        - {{match: "*.born", entity: DATE_OF_BIRTH}}
        - {{match: "*.photo", entity: EMAIL}}
events:
  sinks:
    - {{type: file, path: {tmp}/events.jsonl}}
"""


@pytest.fixture(scope="module")
def src_db(pg):
    pg.psql(f"DROP DATABASE IF EXISTS {SRC}; CREATE DATABASE {SRC};", dbname="postgres")
    pg.psql(seed_sql(), dbname=SRC, timeout=120)
    return pg


@pytest.fixture(scope="module")
def veilds(src_db, tmp_path_factory):
    """Three veild in front of the source: two with the same key (separate state), one with
    another key. Returns {name: port}."""
    base = tmp_path_factory.mktemp("masked-copy")
    keys = {"a": bytes(range(32)), "b": bytes(range(32, 64))}
    launchers, ports = [], {}
    for name, key in [("k1", "a"), ("k1-again", "a"), ("k2", "b")]:
        work = base / name
        key_file = prepare_work(work, keys[key])
        launcher = VeildLauncher(veild_bin(), work)
        port = free_port()
        launcher(config(work, src_db, port, key_file))
        launchers.append(launcher)
        ports[name] = port
    yield ports
    problems = [p for launcher in launchers for p in launcher.close()]
    assert not problems, "\n".join(problems)


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def dump(port: int, fmt: str, out: Path) -> str:
    """pg_dump through veild; returns the dump as SQL text."""
    r = subprocess.run(
        ["pg_dump", "-h", HOST, "-p", str(port), "-U", "postgres", "-d", SRC, "-F", fmt,
         "--no-owner", "--no-privileges", "-f", str(out)] + (["-j", "2"] if fmt == "d" else []),
        capture_output=True, text=True, timeout=300, env=clean_env())
    assert r.returncode == 0, r.stderr
    if fmt == "p":
        return out.read_text()
    listed = subprocess.run(["pg_restore", "-f", "-", str(out)], capture_output=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.decode()


def restore(pg, fmt: str, out: Path, target: str) -> None:
    pg.psql(f"DROP DATABASE IF EXISTS {target}; CREATE DATABASE {target};", dbname="postgres")
    dsn = f"host={pg.host} port={pg.port} user=postgres dbname={target}"
    if fmt == "p":
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(out)]
    else:
        argv = ["pg_restore", "--exit-on-error", "-d", dsn] + (
            ["-j", "2"] if fmt == "d" else []) + [str(out)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=clean_env())
    assert r.returncode == 0, r.stderr


def rows(pg, db: str, sql: str) -> list[list[str]]:
    out = pg.psql(sql, dbname=db, args=("-A", "-t", "-F", "\t")).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def copy_data(text: str) -> dict[str, list[str]]:
    """The COPY blocks of a dump, per table."""
    blocks = {}
    for m in re.finditer(r"^COPY public\.(\w+) \(.*?\) FROM stdin;\n(.*?)^\\\.$", text,
                         re.M | re.S):
        blocks[m.group(1)] = m.group(2).splitlines()
    return blocks


@pytest.mark.parametrize("fmt", ["p", "c", "d"])
def test_masked_copy_restores_with_constraints_and_no_raw_value(src_db, veilds, tmp_path, fmt):
    out = tmp_path / ("dump.sql" if fmt == "p" else "dump.fc" if fmt == "c" else "dump.d")
    text = dump(veilds["k1"], fmt, out)
    assert not leaks(text), leaks(text)[:5]
    target = f"sandbox_{fmt}_{os.getpid()}"
    try:
        # Constraints are added after the data: UNIQUE, the FK and the CHECK are validated
        # against the surrogates, and any violation stops the restore.
        restore(src_db, fmt, out, target)
        got = rows(src_db, target, "SELECT full_name, email, phone, ssn, card, iban, born,"
                   " photo IS NULL, coalesce(length(lo_get(doc)), -1) FROM customers ORDER BY id;")
        assert len(got) == N_CUSTOMERS
        emails = [r[1] for r in got]
        assert len(set(emails)) == N_CUSTOMERS
        for orig, (name, email, phone, ssn, card, iban, born, photo_null, doc_len) in zip(
                ROWS, got):
            assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", name), name
            assert len(name) <= len(orig["full_name"])
            assert re.fullmatch(r"[a-z._]+[0-9]{4,}@example\.(com|org|net)", email), email
            # 555-01XX first; an original whose draws kept colliding moves to another 555 line.
            assert re.fullmatch(r"\(\d{3}\) 555-\d{4}", phone), phone
            assert re.fullmatch(r"9\d\d-\d\d-\d{4}", ssn), ssn
            assert luhn_ok(card) and card[0] == "4" and len(card) == len(orig["card"]), card
            assert iban_ok(iban) and iban[:2] == "DE" and len(iban) == len(orig["iban"]), iban
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", born) and born != orig["born"], born
            assert photo_null == "t"  # a bytea under a rule: NULL, there is no text to mask
            assert doc_len in ("-1", "0")  # large objects read through veild come back empty
        # The FK held on restore; the relationship is intact: each customer keeps its orders.
        per_customer = rows(src_db, target, "SELECT c.id, count(o.id) FROM customers c LEFT JOIN"
                            " orders o ON o.customer_email = c.email GROUP BY c.id ORDER BY c.id;")
        assert [int(n) for _, n in per_customer] == [1 + i % 3 for i in range(N_CUSTOMERS)]
        checked = rows(src_db, target, "SELECT count(*) FROM pg_constraint c JOIN pg_class t"
                       " ON t.oid = c.conrelid WHERE t.relname IN ('customers', 'orders')"
                       " AND c.convalidated AND c.contype IN ('u', 'f', 'c', 'p');")
        assert checked == [["5"]]  # 2 primary keys, UNIQUE(email), the FK, the CHECK
        # Phones as keys: UNIQUE(phone), UNIQUE(ssn), the CHECK and calls' FK held on restore,
        # so no two contacts share a surrogate and each call still finds its contact.
        contacts = rows(src_db, target, "SELECT count(*), count(DISTINCT phone),"
                        " count(DISTINCT ssn), count(*) FILTER (WHERE phone ~ '555-01')"
                        " FROM contacts;")
        assert contacts[0][:3] == [str(N_CONTACTS)] * 3
        assert int(contacts[0][3]) > N_CONTACTS * 9 // 10  # the fictional lines come first
        per_contact = rows(src_db, target, "SELECT count(*) FROM contacts c JOIN calls k"
                           " ON k.phone = c.phone;")
        assert per_contact == [[str(2 * N_CONTACTS)]]
        los = rows(src_db, target, "SELECT count(*) FROM pg_largeobject_metadata;")
        assert los == [["10"]]  # the objects exist in the copy, without their contents
    finally:
        src_db.psql(f"DROP DATABASE IF EXISTS {target} WITH (FORCE);", dbname="postgres")


def test_same_key_same_surrogates_another_key_others(src_db, veilds, tmp_path):
    a = copy_data(dump(veilds["k1"], "p", tmp_path / "a.sql"))
    again = copy_data(dump(veilds["k1-again"], "p", tmp_path / "again.sql"))
    other = copy_data(dump(veilds["k2"], "p", tmp_path / "other.sql"))
    assert set(a) == {"customers", "orders", "contacts", "calls"}
    # Same key, another veild process and state folder: the same copy, byte for byte.
    assert a == again
    # Another key: every PII cell differs, but for dates: a shift of 1..30 days either way
    # has 60 outcomes, so two keys agree on about one date in 60.
    same_dates = 0
    for mine, theirs in zip(a["customers"], other["customers"]):
        m, t = mine.split("\t"), theirs.split("\t")
        assert m[0] == t[0]  # the id is no PII
        for col in range(1, 7):
            assert m[col] != t[col], (m, t)
        same_dates += m[7] == t[7]
    assert same_dates < N_CUSTOMERS // 10, same_dates
    # Across tables, in one dump: the orders' emails are the customers' surrogates.
    emails = {line.split("\t")[2] for line in a["customers"]}
    assert {line.split("\t")[1] for line in a["orders"]} <= emails
    phones = [line.split("\t")[1] for line in a["contacts"]]
    assert len(set(phones)) == N_CONTACTS
    assert {line.split("\t")[1] for line in a["calls"]} == set(phones)
    # And a parallel directory dump gives the same surrogates as the plain one.
    d = copy_data(dump(veilds["k1"], "d", tmp_path / "par.d"))
    assert d == a


def test_a_reload_keeps_what_the_registry_handed_out(src_db, tmp_path):
    """A SIGHUP compiles the profile again; its surrogate registry must carry over, or a copy
    that spans a reload gives a value that had moved another surrogate. Read back in the
    reverse order after the reload, a fresh registry would let the other value of each
    colliding pair keep the first draw (about 100 of the 4,000 contacts)."""
    work = tmp_path / "reload"
    key_file = prepare_work(work)
    launcher = VeildLauncher(veild_bin(), work)
    port = free_port()
    try:
        proc = launcher(config(work, src_db, port, key_file))
        dumped = copy_data(dump(port, "p", tmp_path / "before.sql"))
        before = [line.split("\t")[1] for line in dumped["contacts"]]  # by id
        assert len(set(before)) == N_CONTACTS
        os.kill(proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "applied" not in proc.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "applied" in proc.log(), proc.log()[-2000:]
        r = subprocess.run(
            ["psql", "-h", HOST, "-p", str(port), "-U", "postgres", "-d", SRC, "-X", "-A", "-t",
             "-c", "SELECT phone FROM contacts ORDER BY id DESC"],
            capture_output=True, text=True, timeout=60, env=clean_env())
        assert r.returncode == 0, r.stderr
        after = [line for line in r.stdout.splitlines() if line][::-1]
        assert len(after) == N_CONTACTS
        moved = sum(a != b for a, b in zip(after, before))
        assert moved == 0, f"{moved} contacts got another surrogate after the reload"
    finally:
        problems = launcher.close()
        assert not problems, "\n".join(problems)
