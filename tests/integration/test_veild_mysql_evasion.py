"""Masking that MySQL syntax cannot dodge: the lineage issue's evasion statements, in MariaDB's
dialect, through veild (`protocol: mysql`, `access: open`, mariadb_server.MYSQL_PROFILE) against
the seeded shop.customers.

veild has no MySQL lineage analysis; its rule fails closed (agent/protocol/mysql/transcoder.h):
a statement that names a sensitive column (by profile rule or by the column's name: full_name,
ssn, email, phone, dob) gets every computed column, and every column of a derived table, CTE or
view, replaced whole: text by "[MASKED]", anything else by NULL; its error texts are withheld;
SHOW WARNINGS inherits that from the statement before; user variables are tainted once a
sensitive statement used them. Each case below runs its statements on a fresh connection and
asserts
  - the exact rows of the last statement where they are deterministic (tokens or NULL for what
    derives from a sensitive column, the real values for analytics), and
  - that nothing any statement returned (rows, error texts) carries a seeded raw value in any
    form: verbatim, reversed, upper or lower case, hex, base64, UTF-16, or its digits alone.

A case marked `leak=` is a hole the current veild has: strict xfail, so the test fails once the
engine closes it (then drop the mark). Cases whose statements reach the server through
PyMySQL's COM_QUERY are most of the table; a few go through Connector/J and node mysql2
(COM_STMT_PREPARE/EXECUTE, binary rows) and through raw COM_STMT_PREPARE/EXECUTE packets on a
PyMySQL connection, to mix the binary protocol with session state.
"""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass

import pymysql
import pytest
from pymysql.constants import COMMAND, FIELD_TYPE

from conftest import HOST, VeildLauncher, free_port, veild_bin
from mariadb_server import MYSQL_PROFILE, mysql_veil_config
from mysql_clients import DRIVERS, QueryOptions

M = "[MASKED]"  # a computed text column of a statement that reads sensitive columns
N = None

# MYSQL_PROFILE, and a rule that names its column with the schema (the form a rule written for
# one database of a server takes).
PROFILE = MYSQL_PROFILE.rstrip() + """
        - {{match: "shop.customers.contact", entity: EMAIL}}
"""

# Objects the cases read, made by root before veild starts; dropped afterwards.
SETUP = """
CREATE OR REPLACE VIEW evasion_v AS
  SELECT id, reverse(ssn) AS r, concat('x', ssn) AS x, upper(email) AS e, balance FROM customers;
CREATE OR REPLACE VIEW evasion_v_pass AS
  SELECT id, ssn AS s, full_name AS who, dob AS day FROM customers;
CREATE OR REPLACE VIEW evasion_v_nested AS SELECT id, r FROM evasion_v;
CREATE OR REPLACE VIEW evasion_v_derived AS
  SELECT d.id, d.q FROM (SELECT id, reverse(ssn) AS q FROM customers) d;
CREATE OR REPLACE TABLE evasion_ssn_index (ssn CHAR(11) PRIMARY KEY, customer_id INT);
INSERT INTO evasion_ssn_index SELECT ssn, id FROM customers WHERE ssn IS NOT NULL;
CREATE OR REPLACE PROCEDURE evasion_stash()
  SET @stash = (SELECT reverse(ssn) FROM customers WHERE id = 1);
CREATE OR REPLACE FUNCTION evasion_known() RETURNS TEXT
  RETURN (SELECT reverse(ssn) FROM customers WHERE id = 1);
CREATE OR REPLACE TABLE evasion_log (n INT);
CREATE OR REPLACE TRIGGER evasion_log_stash BEFORE INSERT ON evasion_log FOR EACH ROW
  SET @trigger_stash = (SELECT reverse(ssn) FROM customers WHERE id = 1);
"""
TEARDOWN = """
DROP VIEW IF EXISTS evasion_v_nested, evasion_v_derived, evasion_v, evasion_v_pass;
DROP TABLE IF EXISTS evasion_ssn_index, evasion_log;
DROP PROCEDURE IF EXISTS evasion_stash;
DROP FUNCTION IF EXISTS evasion_known;
DROP FUNCTION IF EXISTS evasion_late;
"""


@dataclass
class Case:
    id: str
    sql: list[str]                 # run in order on one fresh connection
    rows: list[tuple] | None = None  # exact rows of the last statement (None: not checked)
    error: int | None = None       # the last statement fails with this code (text withheld)
    leak: str = ""                 # a known leak: strict xfail with this reason
    charset: str = "utf8mb4"
    database: str | None = "shop"  # the connection's default database
    note: str = ""


W1 = " FROM customers WHERE id = 1"

CASES: list[Case] = []


def case(id, sql, rows=None, **kw):
    CASES.append(Case(id, [sql] if isinstance(sql, str) else list(sql), rows, **kw))


# --- string functions over sensitive columns -----------------------------------------------
case("reverse", "SELECT reverse(ssn)" + W1, [(M,)])
case("upper_lower", "SELECT upper(email), lower(full_name), ucase(phone), lcase(email)" + W1,
     [(M, M, M, M)])
case("substr_split", "SELECT substring(ssn, 1, 3), substr(ssn, 5, 2), mid(ssn, 8, 4),"
     " substring(ssn FROM 9)" + W1, [(M, M, M, M)])
case("left_right", "SELECT left(email, 8), right(email, 12), left(phone, 5), right(full_name, 7)"
     + W1, [(M, M, M, M)])
case("concat_innocent", "SELECT concat(ssn, '|', id), concat_ws(',', full_name, balance, id)"
     + W1, [(M, M)])
case("hex_unhex", "SELECT hex(ssn), unhex(hex(email)), lower(hex(full_name))" + W1,
     [(M, M, M)])
case("base64", "SELECT to_base64(email), from_base64(to_base64(ssn))" + W1, [(M, M)])
case("replace_digits", "SELECT replace(ssn, '-', ''),"
     " replace(replace(replace(ssn, '5', 'five'), '3', 'three'), '-', ' ')" + W1, [(M, M)])
case("cast_number", "SELECT cast(replace(ssn, '-', '') AS UNSIGNED),"
     " cast(replace(ssn, '-', '') AS DECIMAL(12, 0)), replace(ssn, '-', '') + 0,"
     " cast(replace(ssn, '-', '') AS DOUBLE)" + W1, [(N, N, N, N)])
case("cast_text_types", "SELECT convert(ssn, CHAR), cast(ssn AS BINARY),"
     " convert(email USING utf16),"
     " cast(full_name AS CHAR CHARACTER SET latin1)" + W1, [(M, M, M, M)])
case("cast_dob", "SELECT cast(dob AS CHAR), dob + 0, date_format(dob, '%d/%m/%Y'), year(dob)"
     + W1, [(M, N, M, N)])
case("json", "SELECT json_object('s', ssn, 'e', email), json_array(full_name, phone),"
     " json_quote(ssn)" + W1, [(M, M, M)])
case("json_arrayagg", "SELECT json_arrayagg(ssn), json_objectagg(id, email) FROM customers",
     [(M, M)])
case("group_concat", "SELECT group_concat(ssn ORDER BY id SEPARATOR ';') FROM customers", [(M,)])
case("min_max", "SELECT min(ssn), max(ssn), min(email), max(full_name) FROM customers",
     [(M, M, M, M)])
case("per_position", "SELECT char_length(ssn), ascii(substr(ssn, 1, 1)), ord(mid(ssn, 2, 1)),"
     " ascii(right(ssn, 1)) = 52, locate('2', ssn), instr(email, '@')" + W1,
     [(N, N, N, N, N, N)])
case("per_position_where", "SELECT count(*) FROM customers WHERE ascii(substr(ssn, 1, 1)) = 53",
     [(N,)], note="count(*) beside ssn is computed: fail closed")
case("soundex_md5", "SELECT soundex(full_name), md5(ssn), sha2(email, 256), crc32(ssn)" + W1,
     [(M, M, M, N)])
case("lpad_insert", "SELECT lpad(ssn, 14, '*'), insert(ssn, 1, 3, 'xxx'), repeat(ssn, 2),"
     " elt(1, ssn), quote(ssn)" + W1, [(M, M, M, M, M)])
case("regexp", "SELECT regexp_replace(ssn, '[0-9]', 'X'), regexp_substr(email, '^[^@]+'),"
     " regexp_replace(ssn, '([0-9])', '\\\\1 ')" + W1, [(M, M, M)])

# --- subqueries, derived tables, CTEs, UNION ------------------------------------------------
case("scalar_subquery", "SELECT (SELECT reverse(ssn)" + W1 + ")", [(M,)])
case("scalar_subquery_direct", "SELECT c.id, (SELECT c2.ssn FROM customers c2 WHERE c2.id = c.id)"
     " FROM customers c WHERE c.id = 1", [("1", M)])
case("derived_computed", "SELECT x FROM (SELECT reverse(ssn) AS x" + W1 + ") t", [(M,)])
case("derived_passthrough", "SELECT s, id FROM (SELECT ssn AS s, id" + W1 + ") t", [(M, N)])
case("cte", "WITH t AS (SELECT id, ssn FROM customers) SELECT reverse(ssn) FROM t WHERE id = 1",
     [(M,)])
case("cte_recursive_chars",
     "WITH RECURSIVE r(i, c) AS (SELECT 1, substr((SELECT ssn" + W1 + "), 1, 1)"
     " UNION ALL SELECT i + 1, substr((SELECT ssn" + W1 + "), i + 1, 1) FROM r WHERE i < 11)"
     " SELECT i, c FROM r", [(N, M)] * 11)
case("union_innocent",
     "SELECT full_name" + W1 + " UNION ALL SELECT name FROM products WHERE id = 1",
     [(M,), (M,)])
case("union_reverse", "SELECT name FROM products WHERE id = 1 UNION ALL SELECT reverse(ssn)" + W1,
     [(M,), (M,)])

# --- views made by root: the statement does not show the expression -------------------------
case("view_computed", "SELECT r, x, e FROM evasion_v WHERE id = 1", [(M, M, M)])
case("view_nested", "SELECT r FROM evasion_v_nested WHERE id = 1", [(M,)])
case("view_derived", "SELECT q FROM evasion_v_derived WHERE id = 1", [(M,)])
case("view_innocent_column", "SELECT id, balance FROM evasion_v WHERE id = 3",
     [("3", "9875.00")])
case("view_passthrough_renamed", "SELECT s, who FROM evasion_v_pass WHERE id = 1",
     [("***-**-1234", "[PERSON_NAME]")])
case("view_passthrough_date", "SELECT day FROM evasion_v_pass WHERE id = 1", [(N,)],
     note="the view's definition says day is dob: masked as dob (a date of birth: NULL)")
# Through a derived table or a CTE the view's column comes back as the derived table's: the
# statement is judged by the view's definition (`day` is dob), as a base table's would be.
case("view_passthrough_in_derived",
     "SELECT d.day, d.s FROM (SELECT day, s, id FROM evasion_v_pass) d WHERE d.id = 1",
     [(N, M)], note="1984-01-05 reached the client before")
case("view_passthrough_in_cte",
     "WITH d AS (SELECT day AS x, id FROM evasion_v_pass) SELECT concat(x, '') FROM d"
     " WHERE id = 1", [(M,)])
case("view_star_in_derived", "SELECT * FROM (SELECT * FROM evasion_v_pass) d WHERE d.id = 1",
     [(N, M, M, N)])
case("view_innocent_in_derived",
     "SELECT d.id, (SELECT count(*) FROM evasion_v_pass) FROM (SELECT id FROM evasion_v_pass) d"
     " WHERE d.id = 3", [("3", "6")])

# --- `*` through a derived table, a CTE or a set operation --------------------------------------
# Its columns come back computed, and a date is planned by content: `*` counts as naming the
# columns it brings (dob, 1984-01-05, reached the client from each of these before).
STAR_ROW = [(N, M, M, M, M, M, M, M, N, N)]
case("star_through_derived", "SELECT * FROM (SELECT * FROM customers) d WHERE d.id = 1", STAR_ROW)
case("star_union", "SELECT * FROM customers WHERE id = 1 UNION SELECT * FROM customers"
     " WHERE id = 1", STAR_ROW)
case("star_union_in_derived", "SELECT * FROM (SELECT * FROM customers UNION"
     " SELECT * FROM customers) d WHERE d.id = 1", STAR_ROW)
case("star_innocent_through_derived",
     "SELECT * FROM (SELECT * FROM products) d WHERE d.id = 1 UNION SELECT * FROM products"
     " WHERE id = 2", [("1", "Espresso machine", "249.00"),
                       ("2", "Paper filters, pack of 100", "4.50")])

# --- user variables ---------------------------------------------------------------------------
case("var_assign_in_select", ["SELECT @v := ssn" + W1, "SELECT @v, reverse(@v)"], [(M, M)])
case("var_set_subquery", ["SET @v = (SELECT reverse(ssn)" + W1 + ")", "SELECT @v"], [(M,)])
case("select_into_var", ["SELECT ssn INTO @v" + W1, "SELECT concat(@v, '')"], [(M,)])
case("select_into_var_then_innocent",
     ["SELECT ssn, email INTO @a, @b" + W1, "SELECT name FROM products WHERE id = 1",
      "SELECT @a, @b"], [(M, M)])

# --- diagnostics and errors ------------------------------------------------------------------
case("show_warnings_cast_ssn",
     ["SELECT cast(ssn AS DECIMAL(10, 0))" + W1, "SHOW WARNINGS"], None)
case("show_warnings_cast_email",
     ["SELECT email + 0" + W1, "SHOW WARNINGS"], None)
case("where_ssn_number_warnings",
     ["SELECT id FROM customers WHERE ssn = 1", "SHOW WARNINGS"], None)
case("get_diagnostics",
     ["SELECT email + 0" + W1, "GET DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT", "SELECT @m"],
     [(M,)])
case("strict_cast_error", "SELECT cast(ssn AS DATE) + INTERVAL 1 DAY" + W1, None)
case("duplicate_key_named",
     "INSERT INTO evasion_ssn_index (ssn, customer_id) SELECT ssn, 0" + W1, None,
     error=1062)
case("strict_insert_error",
     "INSERT INTO evasion_ssn_index (ssn, customer_id) SELECT 'x', ssn" + W1, None, error=1265)
case("signal_tainted_message",
     ["SET @m = (SELECT ssn" + W1 + ")", "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = @m"], None,
     error=1644)
case("duplicate_key_unnamed",
     "INSERT INTO evasion_ssn_index SELECT * FROM evasion_ssn_index", None, error=1062)

# --- identifiers the scanner must see ---------------------------------------------------------
case("backtick_case", "SELECT reverse(`SsN`), REVERSE(shop.customers.`Email`)"
     " FROM `shop`.`customers` WHERE id = 1", [(M, M)])
case("executable_comment", "SELECT reverse(/*! ssn */), reverse(/*!50000 email */),"
     " reverse(/*M! full_name */)" + W1, [(M, M, M)])
case("hash_comment", "SELECT reverse( # a comment\n ssn)" + W1, [(M,)])
case("dash_dash_not_comment", "SELECT 1--1, reverse(ssn)" + W1, [(N, M)])

# --- dynamic SQL ------------------------------------------------------------------------------
case("prepare_concat",
     ["SET @q = concat('SEL', 'ECT reverse(s', 'sn) FROM customers WHERE id = 1')",
      "PREPARE s FROM @q", "EXECUTE s"], [(M,)])
case("execute_immediate",
     "EXECUTE IMMEDIATE concat('SELECT hex(s', 'sn) FROM customers WHERE id = 1')", [(M,)])
case("call_procedure_then_var", ["CALL evasion_stash()", "SELECT @stash"], [(M,)],
     note="closed: CALL is judged sensitive but names no @variable, so the variable a procedure sets is "
          "never tainted: SELECT @stash returns reverse(ssn)")

case("stored_function", "SELECT evasion_known(), shop.EVASION_KNOWN()", [(M, M)])
case("trigger_sets_variable",
     ["INSERT INTO evasion_log VALUES (1)", "SELECT @trigger_stash"], [(M,)],
     note="closed: a trigger (code veil cannot see) sets a user variable during an INSERT that names "
          "nothing sensitive: @trigger_stash is never tainted and reverse(ssn) passes")
case("dynamic_sql_into_table_comment",
     ["SET @c = (SELECT reverse(ssn)" + W1 + ")",
      "EXECUTE IMMEDIATE concat('CREATE TEMPORARY TABLE evasion_c (n INT) COMMENT ', quote(@c))",
      "SHOW CREATE TABLE evasion_c"], [(M, M)],
     note="closed: dynamic SQL wrote reverse(ssn) into a temporary table's COMMENT, and SHOW "
          "CREATE TABLE named nothing sensitive; after dynamic SQL the catalog's texts are "
          "replaced whole")

case("user_variables_table",
     ["SELECT reverse(ssn) INTO @y" + W1, "SELECT * FROM information_schema.USER_VARIABLES",
      "SHOW USER_VARIABLES"], [("y", M)],
     note="closed: MariaDB lists every user variable's value in information_schema.USER_VARIABLES "
          "(and SHOW USER_VARIABLES); reading them named no @variable, so reverse(ssn) passed")

# --- analytics that must keep working ---------------------------------------------------------
case("count", "SELECT count(*) FROM customers", [("6",)])
case("avg_balance", "SELECT avg(balance), sum(balance), min(balance), max(balance) FROM customers",
     [("1710.566667", "10263.40", "-42.10", "9875.00")])
case("group_by", "SELECT balance > 100 AS big, count(*), sum(balance) FROM customers"
     " GROUP BY balance > 100 ORDER BY big", [("0", "3", "-42.10"), ("1", "3", "10305.50")])
case("filter_on_sensitive", "SELECT id, balance FROM customers WHERE email LIKE '%@gmail.com'",
     [("1", "120.50")], note="direct innocent columns pass even where a sensitive one filters")
case("products", "SELECT id, name, price FROM products ORDER BY id",
     [("1", "Espresso machine", "249.00"), ("2", "Paper filters, pack of 100", "4.50"),
      ("3", "Burr grinder", "89.90"), ("4", "Descaling tablets", "12.00"),
      ("5", "Café crème beans ☕", "18.40")])
case("products_aggregates", "SELECT count(*), max(price), sum(price), upper(min(name))"
     " FROM products", [("5", "249.00", "373.80", "BURR GRINDER")])
case("join_innocent", "SELECT c.id, p.name FROM customers c JOIN products p ON p.id = c.id"
     " WHERE c.id <= 2 ORDER BY c.id", [("1", "Espresso machine"),
                                          ("2", "Paper filters, pack of 100")])

# --- holes probed (see the report) ------------------------------------------------------------
case("reverse_unnamed_columns",
     ["SELECT card, notes FROM customers",
      "SELECT reverse(card), substr(notes, 1, 30)" + W1], [(M, M)],
     note="card and notes are sensitive by content only: the first read teaches the column "
          "store what they hold, and reverse(card) then reads a sensitive column")
case("schema_rule", "SELECT hex(contact) FROM shop.customers WHERE id = 1", [(M,)])
case("schema_rule_no_default_database", "SELECT hex(contact) FROM shop.customers WHERE id = 1",
     [(M,)], database=None,
     note="closed: the rule shop.customers.contact is matched against the session's database (none "
          "here), not the schema the statement names: hex(contact) passes")
case("ansi_quotes", ["SET SESSION sql_mode = concat(@@sql_mode, ',ANSI_QUOTES')",
                     'SELECT reverse("ssn")' + W1], [(M,)])
case("set_statement_ansi_quotes",
     "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR SELECT reverse(\"ssn\")" + W1, [(M,)],
     note="MariaDB parses before SET STATEMENT applies (\"ssn\" stays a string, 'nss'), "
          "but the ANSI_QUOTES reading names ssn: fail closed")
case("oracle_mode", ["SET SESSION sql_mode = 'ORACLE'", 'SELECT reverse("ssn")' + W1], [(M,)])
case("nul_byte", "SELECT reverse(\x00ssn)" + W1, None)
case("no_backslash_escapes",
     ["SET SESSION sql_mode = concat(@@sql_mode, ',NO_BACKSLASH_ESCAPES')",
      "SELECT 'a\\', reverse(ssn), '\\'" + W1], [(M, M, M)],
     note="every reading of the text is scanned; the literals are computed columns too")
case("cte_column_list", "WITH t(a, b, c, d, e, f, g, h, i, j) AS (SELECT * FROM customers)"
     " SELECT reverse(e), b, e, i FROM t WHERE a = 1", [(M, M, M, N)],
     note="closed: a CTE column list renames the columns of SELECT *: the text names no sensitive column,"
          " reverse(e) is scanned by content and the DATE i (dob) passes as it is")
case("temporary_table", ["CREATE TEMPORARY TABLE evasion_tmp AS SELECT id, reverse(ssn) AS r,"
                         " ssn AS code, full_name AS label, dob AS day" + W1,
                         "SELECT r, code, label, day FROM evasion_tmp"], [(M, M, M, N)],
     note="closed: CREATE TEMPORARY TABLE ... AS SELECT reverse(ssn): the copy's columns are base columns"
          " nobody marked sensitive (no MySQL lineage into the column store)")
case("temporary_table_renamed",
     ["CREATE TEMPORARY TABLE evasion_rn AS SELECT id, reverse(ssn) AS r, reverse(email) AS e" + W1,
      "ALTER TABLE evasion_rn RENAME COLUMN r TO code, CHANGE e label TEXT",
      "RENAME TABLE evasion_rn TO evasion_rn2",
      "SELECT code, label FROM evasion_rn2"], [(M, M)],
     note="a copy's columns renamed, and its table: nothing learned is keyed by a name it had")
case("union_of_two_sensitive_columns",
     ["SELECT ssn FROM customers UNION SELECT email FROM customers",
      "SELECT phone FROM customers UNION ALL SELECT full_name FROM customers"],
     note="one column from two sensitive ones: no one column's policy masks both")
case("system_variable",
     ["SET SESSION max_join_size = (SELECT cast(replace(ssn, '-', '') AS UNSIGNED)" + W1 + ")",
      "SELECT @@session.max_join_size", "SHOW VARIABLES LIKE 'max_join_size'"],
     note="closed: a session system variable (@@max_join_size) holds the SSN's digits; @@ variables never"
          " taint and the number passes. Now the SET itself is refused as a side channel (SHOW "
          "VARIABLES would show the value, named by no @variable)")
case("select_star_into_vars", ["SELECT * FROM customers WHERE id = 1"
                               " INTO @a, @b, @c, @d, @e, @f, @g, @h, @i, @j",
                               "SELECT @b, reverse(@e), @e"], [(M, M, M)],
     note="closed: SELECT * ... INTO @a..@j names no sensitive column, so the variables are never "
          "tainted: reverse(@e) passes by content")
case("execute_immediate_into_var",
     ["EXECUTE IMMEDIATE 'SELECT reverse(ssn) INTO @v FROM customers WHERE id = 1'",
      "SELECT @v"], [(M,)],
     note="closed: the INTO @v inside the EXECUTE IMMEDIATE string is not seen, so @v is never tainted")
case("prepare_literal_into_var",
     ["PREPARE s FROM 'SELECT reverse(ssn) INTO @v FROM customers WHERE id = 1'", "EXECUTE s",
      "SELECT @v"], [(M,)],
     note="closed: the INTO @v inside the PREPARE string is not seen, so @v is never tainted")
case("handler_read", ["HANDLER customers OPEN", "HANDLER customers READ `PRIMARY` FIRST"],
     [("1", "[PERSON_NAME]", "[EMAIL]", "[PHONE]", "***-**-1234", "************1111",
       "[EMAIL]", "Called from [PHONE] about a refund; receipt sent to [EMAIL].", None,
       "120.50")])
case("explain_extended_const", ["EXPLAIN EXTENDED SELECT * FROM customers WHERE id = 1",
                                "SHOW WARNINGS"], None,
     note="closed: EXPLAIN EXTENDED's note 1003 prints a const row's values; the statement names no "
          "sensitive column and the DATE of birth '1984-01-05' passes the content scan")
case("procedure_analyse", "SELECT * FROM customers PROCEDURE ANALYSE()", None,
     note="closed: PROCEDURE ANALYSE() prints min/max and an ENUM of every value of every column; dob's "
          "dates pass the content scan")
case("character_set_results_utf16",
     ["SET character_set_results = utf16",
      "SELECT full_name, email, phone, ssn, card, contact, notes" + W1], None,
     note="closed: with character_set_results = utf16 the column definitions and values come in UTF-16: "
          "no rule or name matches, the content scan finds nothing, and the whole row passes raw")
case("warnings_survive_tableless",
     ["SELECT cast(reverse(ssn) AS DECIMAL(10, 0))" + W1, "SELECT 1", "SHOW WARNINGS"],
     [(M, N, M)],
     note="closed: MariaDB keeps the warnings of the sensitive statement through SELECT 1; veil judges "
          "SHOW WARNINGS by SELECT 1 and the reversed SSN passes")
case("gbk_backslash", ["SELECT '\udcbf\\', reverse(ssn), ''" + W1], [(M, M, M)],
     charset="gbk")


# ---------------------------------------------------------------------------------------------
# leak check


def _forms(value: str) -> set[str]:
    """The forms of a seeded value a client must never see: as stored, reversed, upper and
    lower case, hex, base64, and its digits alone (values with at least 7 of them)."""
    raw = value.encode()
    out = {value, value[::-1], value.upper(), value.lower(), value[::-1].upper(),
           raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode().rstrip("=")}
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) >= 7:
        out |= {digits, digits[::-1]}
    return out


def leaks(text: str, seeded) -> list[str]:
    """Seeded values (with the form found) that `text` carries. NUL bytes are dropped first,
    so a value in UTF-16 is found too."""
    flat = text.replace("\x00", "")
    found = []
    for v in seeded:
        for form in _forms(v.value):
            if form in flat:
                found.append(f"{v.value!r} ({v.where}) as {form!r}")
                break
    return found


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def veil(mariadb, tmp_path_factory):
    """One veild for the module in front of `mariadb`, after SETUP; its port."""
    if not os.access(veild_bin(), os.X_OK):
        message = f"veild not built: {veild_bin()} (build it, or set VEILD_BIN)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    mariadb.sql(SETUP)
    work = tmp_path_factory.mktemp("mysql-evasion")
    launcher = VeildLauncher(veild_bin(), work)
    port = free_port()
    try:
        launcher(mysql_veil_config(work, mariadb.host, mariadb.port, port, profile=PROFILE))
        yield port
    finally:
        problems = launcher.close()
        mariadb.sql(TEARDOWN)
    assert not problems, "\n".join(problems)


def _text(v):
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", errors="replace")
    return str(v)


def connect(mariadb, port, charset="utf8mb4", database="shop"):
    encoders = {k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)}
    return pymysql.connect(host=HOST, port=port, user=mariadb.user, password=mariadb.password,
                           database=database, charset=charset, conv=encoders,
                           autocommit=True, connect_timeout=10, read_timeout=30)


def run(conn, sql: str):
    """Rows of every result set of `sql` (a list of lists), or ("error", code, message)."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            sets = []
            while True:
                if cur.description is not None:
                    sets.append([tuple(_text(v) for v in row) for row in cur.fetchall()])
                if not cur.nextset():
                    break
            return sets
    except pymysql.MySQLError as e:
        return ("error", e.args[0], str(e.args[1]) if len(e.args) > 1 else str(e))


def flatten(outs) -> str:
    """Every string a client received in `outs` (cells, error texts), one per line."""
    parts = []

    def walk(o):
        if isinstance(o, str):
            parts.append(o)
        elif isinstance(o, (list, tuple)):
            for x in o:
                walk(x)

    walk(outs)
    return "\n".join(parts)


def _params(c: Case):
    marks = [pytest.mark.xfail(strict=True, reason=c.leak)] if c.leak else []
    return pytest.param(c, id=c.id, marks=marks)


@pytest.mark.parametrize("c", [_params(c) for c in CASES])
def test_evasion(c: Case, veil, mariadb, mariadb_seeded_values):
    conn = connect(mariadb, veil, c.charset, c.database)
    try:
        outs = [run(conn, sql) for sql in c.sql]
    finally:
        conn.close()
    report = "\n".join(f"{sql!r}\n  -> {out!r}" for sql, out in zip(c.sql, outs))
    assert leaks(flatten(outs), mariadb_seeded_values) == [], report
    last = outs[-1]
    if c.error is not None:
        assert isinstance(last, tuple) and last[1] == c.error, report
        assert last[2].startswith("veil: text withheld"), report
    elif c.rows is not None:
        assert not isinstance(last, tuple), report
        assert last[0] == c.rows, report


# A value counted out in rows: ranked against a number table's column, or computed with it, in
# a filter. Every cell is masked, but how many rows pass is the value (536 rows of NULL before).
COUNTED_OUT = [
    "SELECT seq FROM seq_0_to_999 WHERE seq < (SELECT substr(ssn, 1, 3) FROM customers"
    " WHERE id = 1)",
    "SELECT seq FROM seq_0_to_999 WHERE seq BETWEEN (SELECT substr(ssn, 1, 3) FROM customers"
    " WHERE id = 1) AND 999",
    "SELECT s.seq FROM seq_0_to_999 s JOIN customers c ON s.seq <= substr(c.ssn, 1, 3)"
    " AND c.id = 1",
    "SELECT seq FROM seq_0_to_999, (SELECT substr(ssn, 1, 3) p FROM customers WHERE id = 1) d"
    " WHERE seq < d.p",
    "SELECT seq FROM seq_0_to_999 WHERE seq - (SELECT substr(ssn, 1, 3) FROM customers"
    " WHERE id = 1) < 0",
    "SELECT seq FROM seq_0_to_999 WHERE least(seq, (SELECT substr(ssn, 1, 3) FROM customers"
    " WHERE id = 1)) = seq",
    "SELECT seq FROM seq_0_to_999 WHERE IF(seq < (SELECT substr(ssn, 1, 3) FROM customers"
    " WHERE id = 1), 1, 0) = 1",
    "SELECT seq FROM seq_0_to_999 WHERE seq < ANY (SELECT substr(ssn, 1, 3) FROM customers"
    " WHERE id = 1)",
    "SELECT 1 FROM seq_0_to_999 GROUP BY least(seq, (SELECT min(substr(ssn, 1, 3))"
    " FROM customers))",
    "SELECT DISTINCT least(seq, (SELECT min(substr(ssn, 1, 3)) FROM customers))"
    " FROM seq_0_to_999",
    # sqlmap's MySQL inference expression (ORD(MID((SELECT IFNULL(CAST(… AS NCHAR),0x20) FROM
    # … ORDER BY … LIMIT 0,1),1,1))), ranked against a number table instead of a constant;
    # other columns than the SSN, other spellings of the same rank.
    "SELECT seq FROM seq_0_to_255 WHERE seq < ORD(MID((SELECT IFNULL(CAST(email AS CHAR),0x20)"
    " FROM shop.customers ORDER BY id LIMIT 0,1),1,1))",
    "SELECT seq FROM seq_0_to_255 WHERE NOT seq >= ASCII(SUBSTRING((SELECT phone FROM customers"
    " LIMIT 1),2,1))",
    "SELECT seq FROM seq_0_to_99 WHERE seq<(SELECT CHAR_LENGTH(full_name) FROM customers"
    " WHERE id=1)",
    "SELECT seq FROM seq_0_to_999 t1 INNER JOIN customers t2"
    " ON t1.seq<CONV(SUBSTRING(t2.ssn,1,3),10,10) WHERE t2.id=1",
]


@pytest.mark.parametrize("sql", COUNTED_OUT, ids=lambda s: s[:60])
def test_a_value_counted_out_in_rows_is_refused(sql, veil, mariadb):
    conn = connect(mariadb, veil)
    try:
        out = run(conn, sql)
        assert isinstance(out, tuple) and out[1] == 1142, out
        assert "veil: statement blocked by guardrail side-channel" in out[2], out
        # Against a constant, and an equality lookup: open, and the session goes on.
        ids = run(conn, "SELECT id FROM customers WHERE ssn > '5' ORDER BY id")
        assert not isinstance(ids, tuple) and len(ids[0]) == 3, ids
        assert run(conn, "SELECT seq FROM seq_0_to_999 WHERE seq = (SELECT substr(ssn, 1, 3)"
                         " FROM customers WHERE id = 1)") == [[(None,)]]
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# the binary protocol mixed with session state: COM_STMT_PREPARE / COM_STMT_EXECUTE packets on
# a PyMySQL connection (which has no server-side prepared statements of its own)


def stmt_prepare(conn, sql: str) -> int:
    """COM_STMT_PREPARE; the statement id. Raises pymysql's error on an ERR packet."""
    conn._execute_command(COMMAND.COM_STMT_PREPARE, sql)
    ok = conn._read_packet().get_all_data()
    stmt_id, ncols, nparams = struct.unpack_from("<IHH", ok, 1)
    for n in (nparams, ncols):
        for _ in range(n):
            conn._read_packet()
        if n:
            conn._read_packet()  # EOF (PyMySQL does not ask for CLIENT_DEPRECATE_EOF)
    return stmt_id


_INT = {FIELD_TYPE.TINY: "<b", FIELD_TYPE.SHORT: "<h", FIELD_TYPE.YEAR: "<h",
        FIELD_TYPE.INT24: "<i", FIELD_TYPE.LONG: "<i", FIELD_TYPE.LONGLONG: "<q",
        FIELD_TYPE.DOUBLE: "<d", FIELD_TYPE.FLOAT: "<f"}


def _lenenc(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[pos + 1:pos + 1 + size], "little"), pos + 1 + size


def _binary_rows(conn, types: list[int]) -> tuple[list[tuple], bytes]:
    """Binary rows up to their EOF: (rows, raw bytes). Integer and float values are decoded,
    and length-encoded ones (text, decimal) as UTF-8; a DATE is left as 'date:<hex>'."""
    rows, raw = [], b""
    while True:
        data = conn._read_packet().get_all_data()
        raw += data
        if data[0] == 0xFE and len(data) < 9:
            return rows, raw
        bitmap_len = (len(types) + 7 + 2) // 8
        pos, row = 1 + bitmap_len, []
        for i, t in enumerate(types):
            if data[1 + (i + 2) // 8] & (1 << ((i + 2) % 8)):
                row.append(None)
            elif t in _INT:
                fmt = _INT[t]
                row.append(str(struct.unpack_from(fmt, data, pos)[0]))
                pos += struct.calcsize(fmt)
            elif t in (FIELD_TYPE.DATE, FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP):
                n = data[pos]
                if n >= 4:
                    year, month, day = struct.unpack_from("<HBB", data, pos + 1)
                    row.append(f"{year:04d}-{month:02d}-{day:02d}")
                else:
                    row.append("0000-00-00")
                pos += 1 + n
            else:
                n, pos = _lenenc(data, pos)
                row.append(data[pos:pos + n].decode("utf-8", errors="replace"))
                pos += n
        rows.append(tuple(row))


def stmt_execute(conn, stmt_id: int, cursor: bool = False):
    """COM_STMT_EXECUTE without parameters: (rows, raw bytes of every packet received, column
    types). With `cursor` (CURSOR_TYPE_READ_ONLY) the rows wait for stmt_fetch()."""
    conn._execute_command(COMMAND.COM_STMT_EXECUTE,
                          struct.pack("<IBI", stmt_id, 1 if cursor else 0, 1))
    first = conn._read_packet()
    raw = first.get_all_data()
    if first.is_ok_packet():
        return [], raw, []
    ncols, _ = _lenenc(raw, 0)
    types = []
    for _ in range(ncols):
        p = conn._read_packet(pymysql.protocol.FieldDescriptorPacket)
        raw += p.get_all_data()
        types.append(p.type_code)
    raw += conn._read_packet().get_all_data()  # EOF
    if cursor:
        return [], raw, types
    rows, more = _binary_rows(conn, types)
    return rows, raw + more, types


def stmt_fetch(conn, stmt_id: int, count: int, types: list[int]):
    """COM_STMT_FETCH of an open cursor: (rows, raw bytes)."""
    conn._execute_command(COMMAND.COM_STMT_FETCH, struct.pack("<II", stmt_id, count))
    return _binary_rows(conn, types)


def test_binary_prepared_reverse(veil, mariadb, mariadb_seeded_values):
    conn = connect(mariadb, veil)
    try:
        sid = stmt_prepare(conn, "SELECT reverse(ssn), id, upper(email)" + W1)
        rows, raw, _ = stmt_execute(conn, sid)
    finally:
        conn.close()
    assert rows == [(M, "1", M)]
    assert leaks(raw.decode("utf-8", errors="replace"), mariadb_seeded_values) == []


@pytest.mark.parametrize("name, call", [
    ("evasion_late", "SELECT evasion_late()"),
    ("evasion_late", "SELECT shop.evasion_late()"),
    ("evasion_late", "SELECT `evasion_late` ()"),
    # A non-reserved word MariaDB calls a stored function by (not a native: no grammar of its own).
    ("path", "SELECT path()"),
    # Spellings an attacker would try: case, a comment before the parenthesis, a conditional
    # comment the server runs, the call inside a CTE, an expression or a derived table.
    ("evasion_late", "SELECT EVASION_LATE()"),
    ("evasion_late", "SELECT evasion_late/* x */()"),
    ("evasion_late", "SELECT /*!100000 evasion_late() */"),
    ("evasion_late", "WITH x AS (SELECT evasion_late() AS v) SELECT v FROM x"),
    ("evasion_late", "SELECT concat('', evasion_late())"),
    ("evasion_late", "SELECT v FROM (SELECT evasion_late() AS v) d"),
])
def test_stored_function_created_after_login(veil, mariadb, mariadb_seeded_values, name, call):
    # The session read the stored functions when it logged in; this one came later. Any name
    # the server does not list as native (information_schema.SQL_FUNCTIONS) is code veil cannot
    # see, so its result is replaced whole.
    conn = connect(mariadb, veil)
    try:
        mariadb.sql(f"CREATE OR REPLACE FUNCTION `{name}`() RETURNS TEXT"
                    " RETURN (SELECT reverse(ssn) FROM customers WHERE id = 1)")
        out = run(conn, call)
    finally:
        conn.close()
        mariadb.sql(f"DROP FUNCTION IF EXISTS `{name}`")
    assert leaks(flatten(out), mariadb_seeded_values) == [], out
    assert out == [[(M,)]]


def test_stored_function_created_after_login_binary(veil, mariadb, mariadb_seeded_values):
    """The same through the binary protocol: prepared, then executed."""
    conn = connect(mariadb, veil)
    try:
        mariadb.sql("CREATE OR REPLACE FUNCTION evasion_late_bin() RETURNS TEXT"
                    " RETURN (SELECT reverse(ssn) FROM customers WHERE id = 1)")
        sid = stmt_prepare(conn, "SELECT evasion_late_bin(), id" + W1)
        rows, raw, _ = stmt_execute(conn, sid)
    finally:
        conn.close()
        mariadb.sql("DROP FUNCTION IF EXISTS evasion_late_bin")
    assert leaks(raw.decode("utf-8", errors="replace"), mariadb_seeded_values) == []
    assert rows == [(M, "1")]


def test_binary_prepared_before_taint(veil, mariadb, mariadb_seeded_values):
    conn = connect(mariadb, veil)
    try:
        sid = stmt_prepare(conn, "SELECT @v")
        assert run(conn, "SET @v = (SELECT reverse(ssn)" + W1 + ")") == []
        rows, raw, _ = stmt_execute(conn, sid)
    finally:
        conn.close()
    assert leaks(raw.decode("utf-8", errors="replace"), mariadb_seeded_values) == []
    assert rows == [(M,)]


def test_binary_cursor_fetch(veil, mariadb, mariadb_seeded_values):
    """Rows fetched from a server-side cursor (COM_STMT_FETCH) are masked like executed ones."""
    conn = connect(mariadb, veil)
    try:
        sid = stmt_prepare(conn, "SELECT * FROM customers WHERE id = 1")
        _, raw, types = stmt_execute(conn, sid, cursor=True)
        rows, more = stmt_fetch(conn, sid, 10, types)
    finally:
        conn.close()
    received = (raw + more).decode("utf-8", errors="replace") + "\n" + flatten(rows)
    assert leaks(received, mariadb_seeded_values) == [], rows
    assert rows == [("1", "[PERSON_NAME]", "[EMAIL]", "[PHONE]", "***-**-1234", "************1111",
                     "[EMAIL]", "Called from [PHONE] about a refund; receipt sent to [EMAIL].",
                     None, "120.50")]


def test_binary_prepare_between_warnings(veil, mariadb, mariadb_seeded_values):
    """A COM_STMT_PREPARE between a sensitive statement and SHOW WARNINGS."""
    conn = connect(mariadb, veil)
    try:
        first = run(conn, "SELECT cast(reverse(ssn) AS DECIMAL(10, 0))" + W1)
        stmt_prepare(conn, "SELECT 1")
        warnings = run(conn, "SHOW WARNINGS")
    finally:
        conn.close()
    assert leaks(flatten([first, warnings]), mariadb_seeded_values) == []


# ---------------------------------------------------------------------------------------------
# real drivers: prepared statements (binary rows for jdbc and mysql2, SQL PREPARE for the
# CLI) and a few plain queries

PREPARED = [
    ("cli", "SELECT reverse(ssn), id FROM customers WHERE id = ?", [1], [(M, "1")], ""),
    ("cli", "SELECT to_base64(full_name), sum(balance) FROM customers WHERE id = 1", None,
     [(M, N)], ""),
    ("mysql2", "SELECT json_object('e', email) FROM customers WHERE id = 1", None, [(M,)],
     ""),
    ("jdbc", "SELECT reverse(ssn), hex(email), char_length(full_name), id FROM customers"
     " WHERE id = ?", [1], [(M, M, None, "1")], ""),
    ("mysql2", "SELECT upper(full_name), cast(replace(ssn, '-', '') AS UNSIGNED),"
     " concat('e', email) FROM customers WHERE id = ?", [1], [(M, None, M)], ""),
    ("mysql2", "SELECT json_object('e', email) FROM customers WHERE id = ?", [1], [(M,)],
     ""),
    ("jdbc", "SELECT count(*), avg(balance), sum(balance) FROM customers WHERE id <= ?", [6],
     [("6", "1710.566667", "10263.40")], ""),
    ("mysql2", "SELECT name, price FROM products WHERE price > ? ORDER BY id", [50],
     [("Espresso machine", "249.00"), ("Burr grinder", "89.90")], ""),
    ("mysql2", "WITH t(a, b, c, d, e, f, g, h, i, j) AS (SELECT * FROM customers)"
     " SELECT reverse(e) FROM t WHERE a = ?", [1], [(M,)],
     ""),
    # card is sensitive by content only; this module's veild has read it before (learned).
    ("jdbc", "SELECT reverse(card) FROM customers WHERE id = ?", [1], [(M,)], ""),
]


@pytest.mark.parametrize(
    "driver,sql,params,rows",
    [pytest.param(d, s, p, r, id=f"{d}-{s[:40]}",
                  marks=[pytest.mark.xfail(strict=True, reason=leak)] if leak else [])
     for d, s, p, r, leak in PREPARED])
def test_driver(driver, sql, params, rows, veil, mariadb, mariadb_seeded_values):
    r = DRIVERS[driver](HOST, veil, mariadb.user, mariadb.password, mariadb.dbname, sql,
                        QueryOptions(params=params))
    assert r.error is None, r.error
    assert leaks(r.raw + flatten(r.rows), mariadb_seeded_values) == [], r.rows
    assert r.rows == rows


# ---------------------------------------------------------------------------------------------
# guardrails: [no-filter-on-masked] on a MySQL endpoint: no parse tree, so veild judges a
# statement's filters by the names it knows are sensitive and fails closed where names do not
# show what is compared (transcoder.h FiltersOnSensitive). Each refused statement below returns
# rows (or a count) that would let a client bisect a value when let through.

FILTER_REFUSED = [
    "SELECT count(*) FROM customers WHERE ssn LIKE '5%'",
    "SELECT id FROM customers WHERE ascii(substr(ssn, 1, 1)) > 50",
    "SELECT id FROM customers ORDER BY ssn",
    "SELECT count(*) FROM customers GROUP BY phone",
    "SELECT id FROM customers WHERE dob < '1990-01-01'",
    "SELECT id FROM customers WHERE contact LIKE 's%'",          # a rule names it, not its name
    "SELECT id FROM customers WHERE `SSN` > '5'",
    "SELECT id FROM customers WHERE shop.customers.ssn > '5'",
    "SELECT id FROM customers WHERE /*!ssn*/ > '5'",
    "SELECT id FROM customers WHERE ssn = 536",                   # a number: its leading digits
    "SELECT id FROM customers WHERE ssn = '536' + 0",
    "SELECT id FROM customers WHERE ssn IN ('536-22-1234', '287-65-4321')",
    "SELECT id FROM customers WHERE CASE WHEN ssn > '5' THEN 1 END = 1",
    "SELECT id, ssn FROM customers ORDER BY 2",                   # by position
    "SELECT * FROM customers ORDER BY 5",
    "SELECT ssn AS s, id FROM customers ORDER BY s",              # by alias
    "SELECT ssn s, id FROM customers HAVING s > '5'",
    "SELECT d.id FROM (SELECT id, ssn AS k FROM customers) d WHERE d.k LIKE '5%'",
    # Equality of an alias or a view's expression tests a part of a value.
    "SELECT d.id FROM (SELECT id, substr(ssn, 1, 1) k FROM customers) d WHERE k = '5'",
    "SELECT d.id FROM (SELECT id, substr(ssn, 1, 1) FROM customers) d"
    " WHERE `substr(ssn, 1, 1)` = '5'",
    "SELECT id, left(ssn, 1) AS k FROM customers HAVING k = '5'",
    "SELECT id FROM evasion_v WHERE r = '4321-22-635'",
    "SELECT d.id FROM (SELECT id, reverse(ssn) FROM customers) d WHERE `reverse(ssn)` LIKE '4%'",
    "WITH x(i, k) AS (SELECT id, ssn FROM customers) SELECT i FROM x WHERE k LIKE '5%'",
    "SELECT a.id FROM customers a JOIN customers b ON a.ssn > b.ssn",
    "SELECT a.id FROM customers a JOIN customers b USING (email)",
    "SELECT a.id FROM customers a NATURAL JOIN customers b",
    "SELECT id FROM customers WHERE id IN (SELECT id FROM customers WHERE email LIKE 'm%')",
    "SELECT id FROM customers c WHERE (SELECT c2.ssn FROM customers c2 WHERE c2.id = c.id) > '5'",
    "SELECT id, row_number() OVER (ORDER BY ssn) FROM customers",
    "SELECT group_concat(id ORDER BY ssn) FROM customers",
    "SELECT name FROM products UNION ALL SELECT ssn FROM customers ORDER BY name",
    "SELECT id FROM evasion_v_pass WHERE s LIKE '5%'",             # a view passing ssn as s
    "SELECT id FROM evasion_v WHERE r LIKE '4%'",                  # reverse(ssn) in a view
    "SELECT id FROM customers WHERE evasion_known() > '5'",         # a stored function
    "PREPARE p FROM 'SELECT id FROM customers WHERE ssn > ?'",
    "HANDLER customers OPEN",
    # Whether a computation over a sensitive value fails answers a question (exp(1000) is out
    # of range: error 1690 or a row, by the first digit).
    "SELECT IF(substr(ssn, 1, 1) = '5', 1, exp(1000)) FROM customers WHERE id = 1",
    "SELECT CASE WHEN ssn > '5' THEN 1 ELSE exp(1000) END FROM customers WHERE id = 1",
    "SELECT 1 / (ascii(ssn) - 53) FROM customers",
    "SELECT IF(s > '5', 1, exp(1000)) FROM evasion_v_pass WHERE id = 1",
    "SELECT upper(full_name) FROM customers",  # computing on one at all: nothing to gain
    # Spelled as sqlmap's MySQL payloads spell them (boolean-blind inference, error-based
    # BIGINT overflow and EXTRACTVALUE, time-based), and with other spacing and comments.
    "SELECT id FROM customers WHERE id=1 AND ORD(MID((SELECT IFNULL(CAST(ssn AS NCHAR),0x20) "
    "FROM customers ORDER BY id LIMIT 0,1),1,1))>53",
    "SELECT id FROM customers WHERE id=1 AND (SELECT 2*(IF((SELECT * FROM (SELECT "
    "CONCAT(0x71,(SELECT MID(ssn,1,5) FROM customers LIMIT 0,1),0x71))s), "
    "8446744073709551610, 8446744073709551610)))",
    "SELECT id FROM customers WHERE id=1 AND EXTRACTVALUE(1,CONCAT(0x5c,(SELECT ssn FROM "
    "customers LIMIT 1)))",
    "SELECT id FROM customers WHERE id=1 AND (SELECT 1 FROM (SELECT SLEEP(IF(ASCII(SUBSTRING("
    "ssn,1,1))>53,0,0)) FROM customers LIMIT 1)x)",
    "SELECT ELT(INSTR(ssn,'5')=1, 1, ~0+1) FROM customers WHERE id = 1",
    "SELECT id FROM customers HAVING MAX(ssn) LIKE '5%'",
    "SELECT id FROM customers WHERE ssn REGEXP '^5'",
    "SELECT id FROM customers WHERE LOCATE('5', ssn) = 1",
    "SELECT id FROM customers WHERE ssn LIKE BINARY '5%'",
    "SELECT/**/id/**/FROM/**/customers/**/WHERE/**/ssn/**/LIKE/**/'5%'",
    "select id\nfrom CUSTOMERS\nwhere\tSSN\nlike '5%'",
    "SELECT id FROM customers /*!50000ORDER BY ssn*/",
    # MariaDB's statistics hold every column's extremes.
    "SELECT column_name FROM mysql.column_stats WHERE min_value LIKE '19%'",
]

FILTER_ALLOWED = [
    ("SELECT id FROM customers WHERE email = 'margaret.okonkwo@gmail.com'", [("1",)]),
    ("SELECT id FROM customers WHERE 'd.alvarez+billing@outlook.com' = email", [("2",)]),
    ("SELECT id FROM customers WHERE (ssn = '287-65-4321' OR email = 'x') AND NOT id = 5",
     [("2",)]),
    ("SELECT id FROM customers WHERE id IN (SELECT id FROM customers WHERE ssn = '536-22-1234')",
     [("1",)]),
    ("SELECT id, ssn FROM customers WHERE id = 2 ORDER BY id", None),
    ("SELECT count(*) FROM customers WHERE balance > 100", None),
    ("SELECT * FROM customers ORDER BY id DESC LIMIT 2", None),
    ("SELECT id FROM evasion_v_pass WHERE s = '412-70-5583'", [("3",)]),  # a view's base column
    ("SELECT id, rank() OVER w, ssn FROM customers WINDOW w AS (ORDER BY id) ORDER BY id LIMIT 1",
     None),
    ("SELECT name FROM products WHERE price > 1 ORDER BY name LIMIT 2", None),
    ("SELECT a.id FROM customers a JOIN customers b ON a.id = b.id WHERE a.id = 3", [("3",)]),
    ("SELECT DISTINCT c.ssn, count(email) FROM customers c WHERE id = 1", None),
    ("SELECT count(DISTINCT ssn), sum(balance) FROM customers", None),
    ("SELECT id FROM customers WHERE ssn = '536' -- ' OR ssn > '5'", []),  # then a comment
]


def test_no_filter_on_masked(veil, mariadb, start_veild, tmp_path, mariadb_seeded_values):
    port = free_port()
    start_veild(mysql_veil_config(tmp_path, mariadb.host, mariadb.port, port, profile=PROFILE,
                                  guardrails="[no-filter-on-masked]"))
    conn = connect(mariadb, port)
    try:
        for sql in FILTER_REFUSED:
            out = run(conn, sql)
            assert out == ("error", 1142, "veil: statement blocked by guardrail "
                                          "no-filter-on-masked"), (sql, out)
        for sql, rows in FILTER_ALLOWED:
            out = run(conn, sql)
            assert not isinstance(out, tuple), (sql, out)
            assert leaks(flatten(out), mariadb_seeded_values) == [], (sql, out)
            if rows is not None:
                assert out[0] == rows, (sql, out)
        # A variable that may hold a sensitive value is a sensitive filter from then on.
        assert not isinstance(run(conn, "SET @v = (SELECT ssn FROM customers WHERE id = 1)"),
                              tuple)
        assert run(conn, "SELECT id FROM customers WHERE @v > '5'")[1] == 1142
        # The binary protocol's prepare is judged by its text.
        with pytest.raises(pymysql.MySQLError) as e:
            stmt_prepare(conn, "SELECT id FROM customers WHERE ssn > ?")
        assert e.value.args[0] == 1142
    finally:
        conn.close()
    # A statement prepared before its variable could hold a sensitive value is judged again
    # when it runs.
    conn = connect(mariadb, port)
    try:
        sid = stmt_prepare(conn, "SELECT id FROM customers WHERE @w > '5'")
        assert stmt_execute(conn, sid)[0] == []
        assert not isinstance(run(conn, "SET @w = (SELECT ssn FROM customers WHERE id = 1)"),
                              tuple)
        with pytest.raises(pymysql.MySQLError) as e:
            stmt_execute(conn, sid)
        assert e.value.args[0] == 1142
        assert run(conn, "SELECT 1") == [[("1",)]]  # the session goes on
    finally:
        conn.close()



def test_statistics_tables_hold_values_and_are_masked(veil, mariadb, mariadb_seeded_values):
    # ANALYZE TABLE … PERSISTENT writes each column's least and greatest value, and a histogram,
    # to mysql.column_stats; a user with SELECT on *.* (a common analyst grant) reads them there.
    # min_value of dob was 1968-09-09, a bare date: no shape to find by content.
    mariadb.sql("ANALYZE TABLE shop.customers PERSISTENT FOR ALL;"
                "GRANT SELECT ON mysql.column_stats TO 'veil_app'@'%'")
    conn = connect(mariadb, veil)
    try:
        outs = [run(conn, sql) for sql in [
            "SELECT column_name, min_value, max_value, histogram, avg_length FROM"
            " mysql.column_stats WHERE db_name = 'shop' AND table_name = 'customers'"
            " AND column_name IN ('dob', 'ssn') ORDER BY column_name",
            "SELECT concat(min_value, ''), hex(max_value) FROM mysql.column_stats",
            "SELECT s.max_value FROM (SELECT * FROM mysql.column_stats) s",
        ]]
    finally:
        conn.close()
        mariadb.sql("REVOKE SELECT ON mysql.column_stats FROM 'veil_app'@'%'")
    assert leaks(flatten(outs), mariadb_seeded_values) == [], outs
    assert outs[0] == [[("dob", M, M, M, "3.0000"), ("ssn", M, M, M, "11.0000")]], outs
    assert all(v in (M, None) for row in outs[1][0] + outs[2][0] for v in row), outs


GENERATED = ("CREATE OR REPLACE TABLE {name} (id INT, ssn CHAR(11), dob DATE,"
             " r CHAR(11) AS (reverse(ssn)) VIRTUAL,"
             " v INT AS (year(dob) * 10000 + month(dob) * 100 + dayofmonth(dob)) VIRTUAL,"
             " label VARCHAR(10) AS (concat('#', id)) VIRTUAL,"
             # Spelled otherwise: a mixed-case quoted name, over another generated column.
             " `Again R` CHAR(12) AS (concat(`R`, '.')) VIRTUAL);"
             "INSERT INTO {name} (id, ssn, dob) SELECT id, ssn, dob FROM customers")


@pytest.mark.parametrize("late", [False, True], ids=["before_login", "after_login"])
def test_generated_columns_are_their_expressions(veil, mariadb, mariadb_seeded_values, late):
    # A generated column is a base column to the protocol, but its value is its expression's:
    # reverse(ssn) came back as 4321-22-635 and dob's digits as 19840105. veild reads the
    # generation expressions with the tables (again for a table made after login).
    name = "evasion_gen_late" if late else "evasion_gen"
    if not late:
        mariadb.sql(GENERATED.format(name=name))
    conn = connect(mariadb, veil)
    try:
        if late:
            assert run(conn, "SELECT 1") == [[("1",)]]
            mariadb.sql(GENERATED.format(name=name))
        outs = [run(conn, sql) for sql in [
            f"SELECT id, r, v, label FROM {name} WHERE id = 1",
            f"SELECT * FROM {name} WHERE id = 1",
            f"SELECT d.r, d.v FROM (SELECT r, v, id FROM {name}) d WHERE d.id = 1",
            f"SELECT concat(v, ''), label FROM {name} WHERE id = 1",
            f"SELECT `again r`, x.`AGAIN R` FROM {name} x WHERE id = 1",
        ]]
    finally:
        conn.close()
        mariadb.sql(f"DROP TABLE IF EXISTS {name}")
    assert leaks(flatten(outs), mariadb_seeded_values) == [], outs
    assert "19840105" not in repr(outs), outs
    assert outs == [[[("1", M, None, "#1")]], [[("1", "***-**-1234", None, M, None, "#1", M)]],
                    [[(M, None)]], [[(M, "#1")]], [[(M, M)]]], outs


LATE_VIEW = ("CREATE OR REPLACE VIEW evasion_v_late AS SELECT id, full_name AS who, dob AS day,"
             " reverse(ssn) AS r, ssn AS s, notes AS n FROM customers")


@pytest.mark.parametrize("select, rows", [
    ("SELECT who FROM evasion_v_late WHERE id = 1", [("[PERSON_NAME]",)]),  # full_name's rule
    ("SELECT day FROM evasion_v_late WHERE id = 1", [(None,)]),     # dob: a date under its name
    ("SELECT r FROM evasion_v_late WHERE id = 1", [(M,)]),
    ("SELECT s FROM evasion_v_late WHERE id = 1", [("***-**-1234",)]),  # ssn, under its rule
    # Spellings this change did not write its check for: quoted, qualified, inside a derived
    # table, joined.
    ("SELECT `day` FROM `evasion_v_late` WHERE `id` = 1", [(None,)]),
    ("SELECT day FROM shop.evasion_v_late WHERE id = 1", [(None,)]),
    ("SELECT v.day, p.name FROM evasion_v_late v JOIN products p ON p.id = 1 WHERE v.id = 1",
     [(None, "Espresso machine")]),
    ("SELECT d.day FROM (SELECT day, id FROM evasion_v_late) d WHERE d.id = 1", [(None,)]),
    ("SELECT d.n FROM (SELECT who AS n, id FROM evasion_v_late) d WHERE d.id = 1", [(M,)]),
    ("SELECT * FROM evasion_v_late WHERE id = 1",
     [("1", "[PERSON_NAME]", None, M, "***-**-1234",
       "Called from [PHONE] about a refund; receipt sent to [EMAIL].")]),
])
def test_view_created_after_login(veil, mariadb, mariadb_seeded_values, select, rows):
    # The session read the views when it logged in; this one came later. A statement that reads
    # from a name veil does not know has it read the views and tables again first, so the
    # view's columns are planned as the base columns they pass through (dob AS day reached the
    # client raw before).
    conn = connect(mariadb, veil)
    try:
        mariadb.sql(LATE_VIEW)
        out = run(conn, select)
    finally:
        conn.close()
        mariadb.sql("DROP VIEW IF EXISTS evasion_v_late")
    assert leaks(flatten(out), mariadb_seeded_values) == [], out
    assert out == [rows]


def test_view_unknown_after_reading_again_is_replaced_whole(veil, mariadb, mariadb_seeded_values):
    # The lists were read again for this name before the view existed (the statement failed),
    # and are not read again for the same name: a relation neither list holds has every column
    # replaced.
    conn = connect(mariadb, veil)
    sql = "SELECT id, day, s FROM evasion_v_late WHERE id = 1"
    try:
        assert run(conn, sql)[:2] == ("error", 1146)  # no such table
        mariadb.sql(LATE_VIEW)
        out = run(conn, sql)
    finally:
        conn.close()
        mariadb.sql("DROP VIEW IF EXISTS evasion_v_late")
    assert leaks(flatten(out), mariadb_seeded_values) == [], out
    assert out == [[(None, None, M)]]


@pytest.mark.parametrize("sql", ["SELECT reverse(notes) FROM customers",
                                 "SELECT reverse(card) FROM customers",
                                 "SELECT hex(notes), concat(substr(card, 1, 8), substr(card, 9)) "
                                 "FROM shop.customers",
                                 # The table's name as other statements write it.
                                 "SELECT REVERSE(NOTES) FROM `customers`",
                                 "SELECT reverse(n) FROM (SELECT notes AS n FROM customers) t",
                                 "WITH c AS (SELECT card AS x FROM customers) "
                                 "SELECT to_base64(x) FROM c",
                                 "SELECT reverse(c.card) FROM products p JOIN customers c "
                                 "ON c.id = p.id"])
def test_derivation_before_any_read_of_the_column(sql, veil, mariadb, start_veild, tmp_path,
                                                  mariadb_seeded_values):
    """A column whose name says nothing, derived from before veild has seen any of its values:
    veild first reads the table's first rows (as the client's user, never shown), learns what
    its columns hold, and judges the statement by that (before, on a veild that had seen
    nothing, reverse(notes) and reverse(card) came back raw). A table whose columns hold
    nothing sensitive keeps its computed columns."""
    port = free_port()
    start_veild(mysql_veil_config(tmp_path, mariadb.host, mariadb.port, port, profile=PROFILE))
    conn = connect(mariadb, port)
    try:
        out = run(conn, sql)
        assert not isinstance(out, tuple), out
        assert leaks(flatten(out), mariadb_seeded_values) == [], out
        assert all(v in (M, None) for row in out[0] for v in row), out
        assert run(conn, "SELECT upper(name) FROM products WHERE id = 3") == [[("BURR GRINDER",)]]
    finally:
        conn.close()


def test_table_created_after_login_reads_as_it_is(veil, mariadb):
    # What the lists are read again for keeps working: a new table of nothing sensitive.
    conn = connect(mariadb, veil)
    try:
        mariadb.sql("CREATE OR REPLACE TABLE evasion_t_late (id INT, label VARCHAR(20));"
                    "INSERT INTO evasion_t_late VALUES (1, 'blue')")
        out = run(conn, "SELECT id, label FROM evasion_t_late")
    finally:
        conn.close()
        mariadb.sql("DROP TABLE IF EXISTS evasion_t_late")
    assert out == [[("1", "blue")]]


SET_C = "SET @c = (SELECT reverse(ssn)" + W1 + ")"


@pytest.mark.parametrize("sqls, names", [
    ([SET_C, "EXECUTE IMMEDIATE concat('SELECT 1 AS `', @c, '`')"], ["column_1"]),
    ([SET_C, "EXECUTE IMMEDIATE concat('CREATE TEMPORARY TABLE evasion_n (`', @c, '` INT)')",
      "INSERT INTO evasion_n VALUES (7)", "SELECT * FROM evasion_n"], ["column_1"]),
    # Everything dynamic SQL names is renamed, even what it did not build from the value.
    ([SET_C, "EXECUTE IMMEDIATE concat('SELECT 1 AS n FROM (SELECT 1) AS `', @c, '`')"],
     ["column_1"]),
    # The client's text is no proof for what dynamic SQL or its tables name: a comment listing
    # every digit would let a one-digit name through. Other columns, other encodings.
    ([SET_C, "EXECUTE IMMEDIATE concat('SELECT 1 AS `', substr(@c, 1, 1), '`')"
      " /* 0 1 2 3 4 5 6 7 8 9 */"], ["column_1"]),
    ([SET_C, "EXECUTE IMMEDIATE concat('CREATE TEMPORARY TABLE evasion_n (`',"
      " substr(@c, 1, 1), '` INT)')", "SELECT * FROM evasion_n /* 0 1 2 3 4 5 6 7 8 9 */"],
     ["column_1"]),
    (["SET @h = (SELECT hex(email)" + W1 + ")",
      "EXECUTE IMMEDIATE concat('SELECT 1 AS `', left(@h, 60), '`')"], ["column_1"]),
    (["SET @p = (SELECT phone" + W1 + ")", "PREPARE s FROM concat('SELECT 2 AS `', @p, '`')",
      "EXECUTE s"], ["column_1"]),
    # What the client wrote and the lists' own tables keep their names.
    (["EXECUTE IMMEDIATE 'SELECT 1'", "SELECT count(*), id AS k, full_name FROM customers"],
     ["count(*)", "k", "full_name"]),
])
def test_names_after_dynamic_sql(veil, mariadb, mariadb_seeded_values, sqls, names):
    # Dynamic SQL builds statement text from values: a result column, a table alias or a
    # temporary table's column named after reverse(ssn) carried it in the column definitions
    # (which no value masking reads). After dynamic SQL, a name the client did not write, and
    # that is no listed table's own, is replaced by the column's position.
    conn = connect(mariadb, veil)
    try:
        for sql in sqls[:-1]:
            assert not isinstance(run(conn, sql), tuple), sql
        with conn.cursor() as cur:
            cur.execute(sqls[-1])
            cur.fetchall()
            fields = cur._result.fields
    finally:
        conn.close()
    text = " ".join(f"{f.name} {f.org_name} {f.table_name} {f.org_table}" for f in fields)
    assert leaks(text, mariadb_seeded_values) == [], text
    assert [f.name for f in fields] == names


def test_session_state_tracking_reports_no_value_it_was_set_from(veil, mariadb,
                                                                 mariadb_seeded_values):
    # Under CLIENT_SESSION_TRACK (mysql2 asks for it) an OK packet reports each system
    # variable's new value: dynamic SQL set max_join_size from the SSN's digits and mysql2's
    # stateChanges showed 536221234. A statement that reads sensitive columns (dynamic SQL, a
    # tainted variable) has no variable reported; the client's own SET before is reported.
    import json
    import subprocess

    from mysql_clients import NODE_DIR, _mysql2_probe

    node = _mysql2_probe()[0]
    sqls = ["SET SESSION session_track_system_variables = '*'",
            "SET SESSION max_join_size = 4242",
            "SET @c = (SELECT replace(ssn, '-', '')" + W1 + ")",
            "EXECUTE IMMEDIATE concat('SET SESSION max_join_size = ', @c)",
            # One digit of the phone, every candidate written in the statement's own text.
            "SET @p = (SELECT 1000 + substr(phone, 2, 1)" + W1 + ")",
            "EXECUTE IMMEDIATE concat('SET SESSION group_concat_max_len = ', @p)"
            " /* 1000 1001 1002 1003 1004 1005 1006 1007 1008 1009 */"]
    spec = {"host": HOST, "port": veil, "user": mariadb.user, "password": mariadb.password,
            "database": mariadb.dbname, "sqls": sqls}
    r = subprocess.run([node, str(NODE_DIR / "session_track_probe.mjs"), json.dumps(spec)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["error"] for x in lines] == [None] * 6, lines
    assert leaks(r.stdout, mariadb_seeded_values) == [], r.stdout
    assert "536221234" not in r.stdout
    assert lines[0]["variables"] == {"session_track_system_variables": "*"}
    assert lines[1]["variables"] == {"max_join_size": "4242"}
    assert not lines[3]["variables"], lines[3]
    assert not lines[5]["variables"], lines[5]


# A system variable set from a sensitive value: SHOW VARIABLES and information_schema's
# SESSION_VARIABLES show it, named by no @variable (MariaDB's default_master_connection takes
# any text). Refused as a side channel; setting one from a literal goes on working.
SYSTEM_VARIABLE_SETS = [
    ["SET SESSION default_master_connection = (SELECT reverse(ssn)" + W1 + ")"],
    ["SET @@default_master_connection = (SELECT reverse(ssn)" + W1 + "), @a = 1"],
    ["SET @a = 1, default_master_connection = (SELECT reverse(ssn)" + W1 + ")"],
    ["SET @v = (SELECT reverse(ssn)" + W1 + ")", "SET SESSION default_master_connection = @v"],
]


@pytest.mark.parametrize("sqls", SYSTEM_VARIABLE_SETS, ids=lambda s: s[-1][:60])
def test_a_system_variable_set_from_a_sensitive_value_is_refused(sqls, veil, mariadb,
                                                                  mariadb_seeded_values):
    conn = connect(mariadb, veil)
    try:
        outs = [run(conn, sql) for sql in sqls]
        last = outs[-1]
        assert isinstance(last, tuple) and last[1] == 1142, outs
        assert "veil: statement blocked by guardrail side-channel" in last[2], outs
        shown = [run(conn, "SHOW VARIABLES LIKE 'default_master_connection'"),
                 run(conn, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_VARIABLES"
                           " WHERE VARIABLE_NAME = 'DEFAULT_MASTER_CONNECTION'")]
        assert leaks(flatten(outs + shown), mariadb_seeded_values) == [], shown
        assert run(conn, "SET SESSION sql_mode = 'ANSI_QUOTES'") == []
    finally:
        conn.close()
