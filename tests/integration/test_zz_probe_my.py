from test_veild_mysql import connect, run_all  # noqa

def test_pa(veil_mysql, mariadb):
    _, port = veil_mysql
    conn = connect(mariadb, port)
    got = run_all(conn, ["SELECT * FROM customers PROCEDURE ANALYSE()",
                         "SELECT id, notes FROM customers PROCEDURE ANALYSE()",
                         "SELECT * FROM (SELECT * FROM customers) d PROCEDURE ANALYSE()",
                         "SELECT MIN(full_name), MAX(full_name) FROM customers",
                         "SELECT GROUP_CONCAT(full_name) FROM customers",
                         "SELECT JSON_ARRAYAGG(full_name) FROM customers",
                         "SELECT c.* FROM customers c WHERE id = 1",
                         "TABLE customers",
                         "SELECT * FROM customers c NATURAL JOIN customers c2 WHERE c.id = 1",
                         "SELECT JSON_OBJECT('a', c.ssn) FROM customers c",
                         "SELECT * FROM JSON_TABLE((SELECT JSON_ARRAYAGG(ssn) FROM customers), '$[*]' COLUMNS (v VARCHAR(20) PATH '$')) j",
                         "SELECT ROW_NUMBER() OVER (ORDER BY ssn), id FROM customers",
                         ])
    open("/tmp/pr/pa.txt", "w").write("\n".join(repr(g) for g in got))
