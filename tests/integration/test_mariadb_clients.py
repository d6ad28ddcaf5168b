"""The MySQL client drivers (mysql_clients.py) straight against the `mariadb` fixtures, no veild.

Proves what the through-veild MySQL tests rely on: each of the four clients (mariadb CLI,
PyMySQL, MariaDB Connector/J with server-side prepared statements, node mysql2 execute())
connects with mysql_native_password, brings back the seeded raw values exactly — text for the
plain query, and for a prepared statement with a parameter the binary protocol where the
client has it (Com_stmt_prepare shows one prepare for many executions) — reports server errors
with MariaDB's codes, and does TLS with a verified certificate. Through veild the same calls
must return these rows masked; here they must return them raw, or a masked result there could
come from a broken driver rather than from veil.

Also keeps mariadb_seeded_values.txt honest: every listed value is really in the data.
"""

import pytest

from conftest import leaked_values
from mysql_clients import (BINARY_PROTOCOL_DRIVERS, DRIVERS, ClientTls, QueryOptions,
                           ServerError)

COLUMNS = ["id", "full_name", "email", "phone", "ssn", "card", "contact", "notes", "dob",
           "balance"]

# customers exactly as every client must see it from MariaDB directly (mariadb_seed.sql).
CUSTOMERS = {
    1: ("1", "Margaret Okonkwo", "margaret.okonkwo@gmail.com", "(312) 847-3920", "536-22-1234",
        "4111111111111111", "sam.oconnor@yahoo.com",
        "Called from (206) 384-1920 about a refund; receipt sent to carol.nguyen@fastmail.com.",
        "1984-01-05", "120.50"),
    2: ("2", "Daniel Alvarez", "d.alvarez+billing@outlook.com", "+1 646-412-7788",
        "287-65-4321", "5555555555554444", "billing@alvarez-family.net",
        "Wants invoices at lena.fischer@gmx.de; call back on (650) 253-0000 after 5pm.",
        "1991-07-23", "0.00"),
    3: ("3", "Kenji Watanabe", "kenji.watanabe@protonmail.com", "+44 20 7123 4567",
        "412-70-5583", "378282246310005", None,
        "Wants refunds wired to IBAN GB82 WEST 1234 5698 7654 32; copy to tom.baker@icloud.com.",
        "1975-11-30", "9875.00"),
    4: ("4", "Priya Raman", "priya.raman@acme-corp.io", "415.867.5309", "501-44-2718",
        "6011111111111117", "ops@acme-corp.io",
        "Second card 5105-1051-0510-5100 added; old IBAN DE89 3704 0044 0532 0130 00 closed.",
        "2001-02-14", "-42.10"),
    5: ("5", "Oliver Schmidt", "oliver.schmidt@web.de", "+49 30 90182000", "622-18-9034",
        "4012888888881881", None, "Prefers contact by post. No open issues.",
        "1968-09-09", "310.00"),
    6: ("6", "Aisha Bello", None, None, None, None, None, None, None, "0.00"),
}

PRODUCTS = [("1", "Espresso machine", "249.00"), ("2", "Paper filters, pack of 100", "4.50"),
            ("3", "Burr grinder", "89.90"), ("4", "Descaling tablets", "12.00"),
            ("5", "Café crème beans ☕", "18.40")]

ALL_CUSTOMERS = f"SELECT {', '.join(COLUMNS)} FROM customers ORDER BY id"
CUSTOMER_BY_ID = f"SELECT {', '.join(COLUMNS)} FROM customers WHERE id = ?"
CUSTOMER_BY_EMAIL = "SELECT id, full_name, dob, balance FROM customers WHERE email = ?"

drivers = pytest.mark.parametrize("driver", list(DRIVERS))


def run(driver, server, sql, options=None, *, user=None, password=None):
    return DRIVERS[driver](server.host, server.port, user or server.user,
                           server.password if password is None else password, server.dbname,
                           sql, options)


def test_every_listed_seeded_value_is_in_the_data(mariadb, mariadb_seeded_values):
    dump = mariadb.sql("SELECT * FROM customers; SELECT * FROM products").stdout
    missing = [v.value for v in mariadb_seeded_values if v.value not in dump]
    assert not missing, f"listed in mariadb_seeded_values.txt but not in the data: {missing}"
    assert len(mariadb_seeded_values) >= 40


def test_only_veil_app_can_log_in_over_tcp(mariadb):
    accounts = mariadb.sql("SELECT user, host, plugin FROM mysql.user ORDER BY user, host").stdout
    assert accounts.splitlines() == ["mariadb.sys\tlocalhost\tmysql_native_password",
                                     "root\tlocalhost\t",
                                     "veil_app\t%\tmysql_native_password"]


@drivers
def test_plain_query_returns_the_raw_seeded_values(driver, mariadb, mariadb_seeded_values):
    r = run(driver, mariadb, ALL_CUSTOMERS)
    assert r.error is None
    assert r.columns == COLUMNS
    assert r.runs == [list(CUSTOMERS.values())]
    # Every customers value is in what the client printed: the leak check will see a leak.
    customer_values = [v for v in mariadb_seeded_values if v.where.startswith("customers.")]
    assert leaked_values(r.raw, customer_values) == customer_values


@drivers
def test_prepared_statement_with_a_parameter(driver, mariadb):
    r = run(driver, mariadb, CUSTOMER_BY_ID,
            QueryOptions(params=[1], repeat=3, count_prepares=True))
    assert r.error is None
    assert r.columns == COLUMNS
    assert r.runs == [[CUSTOMERS[1]]] * 3
    if driver in BINARY_PROTOCOL_DRIVERS or driver == "cli":
        # One COM_STMT_PREPARE (SQL PREPARE for the CLI) for three executions.
        assert r.prepares == 1
    else:
        assert r.prepares == 0  # PyMySQL interpolates: text protocol only

    # NULLs in binary rows (the NULL bitmap) and a string parameter.
    assert run(driver, mariadb, CUSTOMER_BY_ID, QueryOptions(params=[6])).rows == [CUSTOMERS[6]]
    r = run(driver, mariadb, CUSTOMER_BY_EMAIL,
            QueryOptions(params=["d.alvarez+billing@outlook.com"]))
    assert r.rows == [("2", "Daniel Alvarez", "1991-07-23", "0.00")]
    assert run(driver, mariadb, CUSTOMER_BY_EMAIL, QueryOptions(params=[None])).rows == []


@drivers
def test_non_sensitive_utf8_values_come_back_unchanged(driver, mariadb):
    for options in (None, QueryOptions(params=[0])):
        sql = "SELECT id, name, price FROM products WHERE id > ? ORDER BY id" if options else \
            "SELECT id, name, price FROM products ORDER BY id"
        r = run(driver, mariadb, sql, options)
        assert r.error is None
        assert r.rows == PRODUCTS


@drivers
def test_server_errors_come_back_with_mariadbs_code(driver, mariadb):
    r = run(driver, mariadb, "SELECT * FROM no_such_table")
    assert r.error is not None and r.error.code == 1146, r.error
    assert "no_such_table" in r.error.message
    r = run(driver, mariadb, CUSTOMER_BY_ID, QueryOptions(params=[1]), password="wrong")
    assert r.error is not None and r.error.code == 1045, r.error
    assert r.runs == []


@drivers
def test_tls_with_a_verified_certificate(driver, mariadb_tls):
    tls = QueryOptions(tls=ClientTls(mariadb_tls.tls.ca_file, verify=True))
    r = run(driver, mariadb_tls, "SHOW SESSION STATUS LIKE 'Ssl_version'", tls)
    assert r.error is None
    assert r.rows[0][1].startswith("TLSv1."), r.rows
    r = run(driver, mariadb_tls, CUSTOMER_BY_ID,
            QueryOptions(params=[4], tls=ClientTls(mariadb_tls.tls.ca_file)))
    assert r.rows == [CUSTOMERS[4]]
    # require_secure_transport: a plaintext login is refused.
    r = run(driver, mariadb_tls, "SELECT 1")
    assert r.error is not None and r.error.code == 1045 and r.runs == [], r.error


@drivers
def test_tls_required_fails_against_a_server_without_it(driver, mariadb, mariadb_tls):
    r = run(driver, mariadb, "SELECT 1", QueryOptions(tls=ClientTls(mariadb_tls.tls.ca_file)))
    assert isinstance(r.error, ServerError) and r.runs == [], r


def test_cli_batch_output(mariadb):
    r = run("cli", mariadb, "SELECT id, contact, notes FROM customers WHERE id IN (3, 6)",
            QueryOptions(cli_batch=True))
    assert r.rows == [("3", None, CUSTOMERS[3][7]), ("6", None, None)]
    assert r.raw.splitlines()[1] == "6\tNULL\tNULL"
