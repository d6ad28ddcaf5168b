-- The database of the lineage tests (tests/integration/test_lineage.py): sensitive values in
-- columns a rule or a name marks, so that every transformation of them must come back as a
-- token or NULL, beside ordinary data that must come back unchanged.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE TABLE customers (
  id        int PRIMARY KEY,
  full_name text,          -- PERSON_NAME by its name
  email     text,          -- EMAIL by its name
  ssn       text,          -- US_SSN by rule *.ssn
  card      text,          -- CREDIT_CARD by rule *.card
  phone     text,          -- PHONE by its name
  notes     text,          -- free text: scanned, not sensitive as a column
  born      date,          -- DATE_OF_BIRTH by its name
  balance   numeric(10, 2) NOT NULL,
  city      text NOT NULL
);
INSERT INTO customers VALUES
  (1, 'Margaret Okonkwo', 'margaret.okonkwo@example.com', '536-22-1234', '4111 1111 1111 1111',
   '(415) 555-0132', 'prefers the phone', '1980-04-02', 120.50, 'Lagos'),
  (2, 'Tobias Lindqvist', 't.lindqvist@example.org', '078-05-1120', '5500 0000 0000 0004',
   '+46 8 123 456 78', 'call after 5pm', '1975-11-30', 99.00, 'Malmo'),
  (3, 'Aiko Tanaka', 'aiko.tanaka@example.net', '219-09-9999', '3782 822463 10005',
   '415.555.0199', NULL, NULL, 0.00, 'Osaka');

CREATE TABLE orders (
  id          int PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers (id),
  amount      numeric(10, 2) NOT NULL,
  sku         text NOT NULL,
  status      text NOT NULL
);
INSERT INTO orders VALUES
  (1, 1, 10.00, 'SKU-001', 'paid'),
  (2, 1, 20.00, 'SKU-002', 'paid'),
  (3, 2, 5.50, 'SKU-001', 'refunded');

CREATE VIEW customer_emails AS SELECT id, email, lower(full_name) AS lname FROM customers;
CREATE VIEW order_totals AS SELECT customer_id, sum(amount) AS total FROM orders GROUP BY 1;
CREATE VIEW renamed AS SELECT id AS k, email AS contact_point FROM customers;

-- A user-defined function: its body is not followed, so what it returns is unknown.
CREATE FUNCTION shout(t text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT upper(t)';

CREATE SCHEMA other;
CREATE TABLE other.customers (id int, email text);
INSERT INTO other.customers VALUES (1, 'other.person@example.com');

-- Statistics hold real values (pg_stats.histogram_bounds): reading them must not leak.
ANALYZE customers;

GRANT USAGE ON SCHEMA public, other TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA public, other TO PUBLIC;
