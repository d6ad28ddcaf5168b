"""The lineage table: statements a person or an AI agent may write over sensitive columns, each
with the exact rows a client must receive through veild (profile `entities: all`, `redact`,
rules `*.ssn` → US_SSN and `*.card` → CREDIT_CARD; data in seed.sql).

A derived column with a sensitive column in its lineage comes back whole as the entity's token
(text) or NULL (any other type); a column derived from several entities gets [MASKED]; what the
analysis cannot follow (a user-defined function) is masked whole. Non-sensitive columns and
lineage-breaking aggregates (count) come back unchanged: that is what keeps analytics useful.

Values are written as psql prints them in unaligned mode; None is SQL NULL.
"""

E, P, S, C, PH, D, M = ("[EMAIL]", "[PERSON_NAME]", "[US_SSN]", "[CREDIT_CARD]", "[PHONE]",
                        "[DATE_OF_BIRTH]", "[MASKED]")
N = None


class Case:
    def __init__(self, sql, rows, *, script=False, copy=False, note=""):
        self.sql = sql
        self.rows = [tuple(r) if isinstance(r, (tuple, list)) else (r,) for r in rows]
        # psql only: several statements (a transaction, PREPARE, cursors), or COPY's lines
        self.psql_only = script or copy
        self.copy = copy
        self.note = note

    def __repr__(self):
        return self.sql


W1 = " FROM customers WHERE id = 1"

CASES = [
    # --- the Why table -------------------------------------------------------------
    Case("SELECT split_part(email, '@', 1)" + W1, [E]),
    Case("SELECT initcap(full_name)" + W1, [P]),
    Case("SELECT regexp_split_to_table(ssn, '-')" + W1, [S, S, S]),
    Case("SELECT substr(card, 1, 8), substr(card, 9, 20)" + W1, [(C, C)]),
    Case("SELECT encode(convert_to(email, 'UTF8'), 'base64')" + W1, [E]),
    Case("SELECT string_agg(c, '') FROM (SELECT regexp_split_to_table(email, '') c"
         " FROM customers WHERE id = 1) t", [E]),
    Case("SELECT ascii(substr(ssn, 1, 1))" + W1, [N]),
    Case("SELECT ssn::bytea" + W1, [N]),
    # --- direct references: content and column strategy, aliases do not hide a column --------
    Case("SELECT email" + W1, [E]),
    Case("SELECT email AS x" + W1, [E]),
    Case("SELECT c.email FROM customers c WHERE c.id = 1", [E]),
    Case('SELECT "email" FROM "public"."customers" WHERE id = 1', [E]),
    Case("SELECT e FROM (SELECT email AS e, id FROM customers) s WHERE id = 1", [E]),
    Case("WITH x AS (SELECT id, email FROM customers) SELECT email FROM x WHERE id = 1", [E]),
    Case("SELECT email FROM customer_emails WHERE id = 1", [E]),
    Case("SELECT contact_point FROM renamed WHERE k = 1", [E]),
    Case("SELECT ssn, card" + W1, [(S, C)]),
    Case("SELECT born" + W1, [N]),
    Case("SELECT email FROM other.customers", [E]),
    # --- string functions ----------------------------------------------------------------------
    Case("SELECT lower(email)" + W1, [E]),
    Case("SELECT upper(email)" + W1, [E]),
    Case("SELECT reverse(email)" + W1, [E]),
    Case("SELECT md5(email)" + W1, [E]),
    Case("SELECT email || ''" + W1, [E]),
    Case("SELECT 'x' || email || 'y'" + W1, [E]),
    Case("SELECT concat(email, city)" + W1, [E]),
    Case("SELECT concat_ws('-', city, ssn)" + W1, [S]),
    Case("SELECT format('%s', ssn)" + W1, [S]),
    Case("SELECT left(email, 3), right(email, 3)" + W1, [(E, E)]),
    Case("SELECT split_part(email, '@', 2)" + W1, [E]),
    Case("SELECT substring(email FROM '^(.*)@')" + W1, [E]),
    Case("SELECT overlay(card PLACING 'xxxx' FROM 1 FOR 4)" + W1, [C]),
    Case("SELECT translate(ssn, '0123456789', 'abcdefghij')" + W1, [S]),
    Case("SELECT regexp_replace(phone, '\\D', '', 'g')" + W1, [PH]),
    Case("SELECT replace(email, '@', ' at ')" + W1, [E]),
    Case("SELECT quote_literal(email)" + W1, [E]),
    Case("SELECT to_hex(ascii(email))" + W1, [E]),
    Case("SELECT chr(ascii(ssn))" + W1, [S]),
    Case("SELECT repeat(ssn, 2)" + W1, [S]),
    Case("SELECT lpad(ssn, 20, '*')" + W1, [S]),
    Case("SELECT btrim(email, 'm')" + W1, [E]),
    Case("SELECT email COLLATE \"C\"" + W1, [E]),
    Case("SELECT email::varchar(10)" + W1, [E]),
    Case("SELECT CAST(born AS text)" + W1, [D]),
    Case("SELECT to_char(born, 'YYYY')" + W1, [D]),
    Case("SELECT encode(sha256(convert_to(ssn, 'UTF8')), 'hex')" + W1, [S]),
    Case("SELECT (string_to_array(email, '@'))[1]" + W1, [E]),
    Case("SELECT (regexp_match(email, '(.)'))[1]" + W1, [E]),
    # --- non-text results of sensitive columns: NULL ---------------------------------------------
    Case("SELECT length(email)" + W1, [N]),
    Case("SELECT position('@' IN email)" + W1, [N]),
    Case("SELECT email ~ '^m'" + W1, [N]),
    Case("SELECT email = 'margaret.okonkwo@example.com'" + W1, [N]),
    Case("SELECT string_to_array(email, '@')" + W1, [N]),
    Case("SELECT array[email]" + W1, [N]),
    Case("SELECT convert_to(email, 'UTF8')" + W1, [N]),
    Case("SELECT extract(year FROM born)" + W1, [N]),
    Case("SELECT age(born, born)" + W1, [N]),
    Case("SELECT date_trunc('month', born)" + W1, [N]),
    Case("SELECT ROW(email, id)" + W1, [N]),
    Case("SELECT c FROM customers c WHERE id = 1", [N]),
    Case("SELECT xmlelement(name e, email)" + W1, [N]),
    Case("SELECT hashtext(email)" + W1, [N]),
    # --- JSON: a JSON string token keeps the value valid JSON -------------------------------------
    Case("SELECT row_to_json(c) FROM customers c WHERE id = 1", ['"[MASKED]"']),
    Case("SELECT to_jsonb(c.*) FROM customers c WHERE id = 1", ['"[MASKED]"']),
    Case("SELECT json_build_object('e', email)" + W1, ['"[EMAIL]"']),
    Case("SELECT jsonb_build_array(ssn)" + W1, ['"[US_SSN]"']),
    Case("SELECT json_agg(email) FROM customers", ['"[EMAIL]"']),
    Case("SELECT to_json(email)" + W1, ['"[EMAIL]"']),
    Case("SELECT x.a FROM customers c, jsonb_to_recordset(jsonb_build_array("
         "jsonb_build_object('a', c.email))) AS x(a text) WHERE c.id = 1", [E]),
    # --- CASE, COALESCE and friends -----------------------------------------------------------------
    Case("SELECT coalesce(email, 'none')" + W1, [E]),
    Case("SELECT nullif(ssn, '')" + W1, [S]),
    Case("SELECT greatest(email, city)" + W1, [E]),
    Case("SELECT CASE WHEN id = 1 THEN email ELSE city END" + W1, [E]),
    Case("SELECT CASE WHEN email LIKE 'm%' THEN 'yes' ELSE 'no' END" + W1, [E]),
    Case("SELECT CASE WHEN id > 0 THEN ssn END" + W1, [S]),
    # --- aggregates and windows -----------------------------------------------------------------
    Case("SELECT count(email) FROM customers", ["3"]),
    Case("SELECT count(DISTINCT email) FROM customers", ["3"]),
    Case("SELECT count(*) FROM customers", ["3"]),
    Case("SELECT max(email) FROM customers", [E]),
    Case("SELECT min(ssn) FROM customers", [S]),
    Case("SELECT string_agg(email, ',') FROM customers", [E]),
    Case("SELECT string_agg(ssn, ',' ORDER BY id) FROM customers", [S]),
    Case("SELECT array_agg(email) FROM customers", [N]),
    Case("SELECT sum(length(ssn)) FROM customers", [N]),
    Case("SELECT count(*) FILTER (WHERE id > 1) FROM customers", ["2"]),
    Case("SELECT id, lag(email) OVER (ORDER BY id) FROM customers ORDER BY id",
         [("1", N), ("2", E), ("3", E)]),
    Case("SELECT id, first_value(full_name) OVER () FROM customers ORDER BY id",
         [("1", P), ("2", P), ("3", P)]),
    Case("SELECT id, row_number() OVER (ORDER BY email) FROM customers ORDER BY id",
         [("1", N), ("2", N), ("3", N)]),
    Case("SELECT mode() WITHIN GROUP (ORDER BY email) FROM customers", [E]),
    # --- subqueries, CTEs, set operations, LATERAL, joins ---------------------------------------
    Case("SELECT (SELECT email FROM customers WHERE id = 1)", [E]),
    Case("SELECT id, (SELECT upper(email) FROM customers i WHERE i.id = o.customer_id)"
         " FROM orders o ORDER BY id", [("1", E), ("2", E), ("3", E)]),
    Case("WITH x AS (SELECT upper(email) u FROM customers WHERE id = 1) SELECT u FROM x", [E]),
    Case("WITH RECURSIVE r(n, s) AS (SELECT 1, email FROM customers WHERE id = 1"
         " UNION ALL SELECT n + 1, substr(s, 2) FROM r WHERE n < 3) SELECT s FROM r",
         [E, E, E]),
    # Each branch is a direct reference: the values are the columns' own, masked by content
    # with the sensitive branch's context (a city is not an address).
    Case("SELECT email FROM customers WHERE id = 1 UNION ALL SELECT city FROM customers"
         " WHERE id = 1", [E, "Lagos"]),
    Case("SELECT lower(email) FROM customers WHERE id = 1 INTERSECT"
         " SELECT lower(email) FROM customers", [E]),
    Case("SELECT ssn FROM customers WHERE id = 1 EXCEPT SELECT 'x'", [S]),
    Case("SELECT t.x FROM customers c, LATERAL (SELECT upper(c.email) AS x) t WHERE c.id = 1", [E]),
    Case("SELECT u FROM customers c CROSS JOIN LATERAL unnest(ARRAY[c.email, c.city]) AS u"
         " WHERE c.id = 1", [E, E]),
    Case("SELECT unnest(ARRAY[email])" + W1, [E]),
    Case("SELECT t.v FROM customers c, ROWS FROM (regexp_split_to_table(c.ssn, '-'))"
         " WITH ORDINALITY AS t(v, n) WHERE c.id = 1 AND t.n = 1", [S]),
    Case("SELECT exists(SELECT 1 FROM customers WHERE email LIKE 'm%')", [N]),
    Case("SELECT id, email IN (SELECT email FROM customers) FROM customers WHERE id = 1",
         [("1", N)]),
    Case("SELECT lname FROM customer_emails WHERE id = 1", [P]),
    Case("SELECT upper(o.status), c.email FROM orders o JOIN customers c"
         " ON c.id = o.customer_id WHERE o.id = 3", [("REFUNDED", E)]),
    Case("SELECT id, email FROM customers JOIN (SELECT 1 AS id) one USING (id)", [("1", E)]),
    Case("SELECT * FROM (VALUES (1, 'x')) v(a, b)", [("1", "x")]),
    # --- COPY ---------------------------------------------------------------------------------------
    Case("COPY (SELECT upper(email), city FROM customers WHERE id = 1) TO STDOUT",
         [(E + "\tLagos",)], copy=True),
    Case("COPY (SELECT split_part(email, '@', 2) FROM customers ORDER BY id) TO STDOUT WITH CSV",
         [E, E, E], copy=True),
    # --- what cannot be followed is masked whole --------------------------------------------------
    Case("SELECT shout(email)" + W1, [E]),
    Case("SELECT shout(city)" + W1, [M]),
    Case("SELECT query_to_xml('select email from customers', true, false, '')", [N]),
    Case("SELECT histogram_bounds::text FROM pg_stats WHERE tablename = 'customers'"
         " AND attname = 'email'", [M]),
    # --- prepared statements and cursors (several statements: psql only) --------------------------
    Case("PREPARE p(int) AS SELECT reverse(email) FROM customers WHERE id = $1;\nEXECUTE p(1);",
         [E], script=True),
    Case("BEGIN;\nDECLARE cur CURSOR FOR SELECT initcap(full_name) FROM customers ORDER BY id;\n"
         "FETCH 2 FROM cur;\nCOMMIT;", [P, P], script=True),
    Case("SELECT 1 AS a;\nSELECT split_part(email, '@', 1) FROM customers WHERE id = 2;",
         ["1", E], script=True),
    # --- ordinary analytics stay as they are ------------------------------------------------------
    Case("SELECT id FROM customers ORDER BY id", ["1", "2", "3"]),
    Case("SELECT city, count(*) FROM customers GROUP BY city ORDER BY city",
         [("Lagos", "1"), ("Malmo", "1"), ("Osaka", "1")]),
    Case("SELECT c.id, sum(o.amount) FROM customers c JOIN orders o ON o.customer_id = c.id"
         " GROUP BY c.id ORDER BY c.id", [("1", "30.00"), ("2", "5.50")]),
    Case("SELECT sku, count(*) FROM orders GROUP BY sku ORDER BY sku",
         [("SKU-001", "2"), ("SKU-002", "1")]),
    Case("SELECT status, sum(amount) FROM orders GROUP BY status ORDER BY status",
         [("paid", "30.00"), ("refunded", "5.50")]),
    Case("SELECT o.id, c.city FROM orders o JOIN customers c ON c.id = o.customer_id"
         " ORDER BY o.id", [("1", "Lagos"), ("2", "Lagos"), ("3", "Malmo")]),
    Case("SELECT upper(city), balance * 2" + W1, [("LAGOS", "241.00")]),
    Case("SELECT total FROM order_totals ORDER BY customer_id", ["30.00", "5.50"]),
    Case("SELECT id, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id)"
         " FROM customers c ORDER BY id", [("1", "2"), ("2", "1"), ("3", "0")]),
    Case("SELECT avg(balance)::numeric(10,2) FROM customers", ["73.17"]),
    Case("SELECT id FROM customers WHERE email = 'margaret.okonkwo@example.com'", ["1"]),
    Case("SELECT generate_series(1, 3)", ["1", "2", "3"]),
    Case("SELECT 'plain text', 42", [("plain text", "42")]),
    Case("SELECT city FROM customers ORDER BY id LIMIT 1 OFFSET 1", ["Malmo"]),
    # System columns say where a row is stored, never what it holds (pg_dump reads tableoid).
    Case("SELECT tableoid::regclass::text, ctid::text LIKE '(%,%)', xmin IS NOT NULL,"
         " c.xmax::text ~ '^[0-9]+$', email FROM customers c WHERE id = 1",
         [("customers", "t", "t", "t", E)]),
    Case("SELECT n.tableoid::regclass::text, n.nspname FROM pg_namespace n"
         " WHERE nspname = 'public'", [("pg_namespace", "public")]),
]
