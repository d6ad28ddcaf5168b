-- The MariaDB data of the MySQL integration tests, loaded by mariadb_server.py into database
-- "shop": the same small shop as seed.sql, with PII where real databases keep it — in columns
-- named for it (full_name, email, phone, ssn, card, dob), in a column whose name does not say so
-- (contact), inside free text (notes), and in non-text columns (DATE). The sensitive values are
-- ones veil's validators accept (Luhn-valid cards from known issuer ranges, issued-range SSNs,
-- mod-97-valid IBANs, in-service NANP area codes), mostly the very values of seed.sql, so a value
-- that comes back unmasked is a detection failure, not a bad fixture. products holds nothing
-- sensitive: it must come back unchanged.
--
-- Every raw sensitive value below is listed in mariadb_seeded_values.txt, and
-- test_mariadb_clients.py checks that each listed value really is in this data. Add a value
-- here, list it there.
--
-- Run by the server's root over the unix socket after mariadb-install-db; veil_app gets its
-- privileges on shop.* in mariadb_server.py.

CREATE TABLE customers (
  id        INT PRIMARY KEY,
  full_name VARCHAR(100) NOT NULL,
  email     VARCHAR(255),
  phone     VARCHAR(40),
  ssn       CHAR(11),
  card      VARCHAR(32),
  contact   VARCHAR(255),   -- a second email address, though the column name does not say so
  notes     TEXT,           -- free text typed by support staff
  dob       DATE,
  balance   DECIMAL(12, 2) NOT NULL DEFAULT 0
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

INSERT INTO customers VALUES
  (1, 'Margaret Okonkwo', 'margaret.okonkwo@gmail.com', '(312) 847-3920', '536-22-1234',
   '4111111111111111', 'sam.oconnor@yahoo.com',
   'Called from (206) 384-1920 about a refund; receipt sent to carol.nguyen@fastmail.com.',
   '1984-01-05', 120.50),
  (2, 'Daniel Alvarez', 'd.alvarez+billing@outlook.com', '+1 646-412-7788', '287-65-4321',
   '5555555555554444', 'billing@alvarez-family.net',
   'Wants invoices at lena.fischer@gmx.de; call back on (650) 253-0000 after 5pm.',
   '1991-07-23', 0.00),
  (3, 'Kenji Watanabe', 'kenji.watanabe@protonmail.com', '+44 20 7123 4567', '412-70-5583',
   '378282246310005', NULL,
   'Wants refunds wired to IBAN GB82 WEST 1234 5698 7654 32; copy to tom.baker@icloud.com.',
   '1975-11-30', 9875.00),
  (4, 'Priya Raman', 'priya.raman@acme-corp.io', '415.867.5309', '501-44-2718',
   '6011111111111117', 'ops@acme-corp.io',
   'Second card 5105-1051-0510-5100 added; old IBAN DE89 3704 0044 0532 0130 00 closed.',
   '2001-02-14', -42.10),
  (5, 'Oliver Schmidt', 'oliver.schmidt@web.de', '+49 30 90182000', '622-18-9034',
   '4012888888881881', NULL,
   'Prefers contact by post. No open issues.',
   '1968-09-09', 310.00),
  -- A customer with nothing on file: NULLs must come back as NULLs.
  (6, 'Aisha Bello', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.00);

CREATE TABLE products (
  id    INT PRIMARY KEY,
  name  VARCHAR(100) NOT NULL,
  price DECIMAL(10, 2) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

INSERT INTO products VALUES
  (1, 'Espresso machine', 249.00),
  (2, 'Paper filters, pack of 100', 4.50),
  (3, 'Burr grinder', 89.90),
  (4, 'Descaling tablets', 12.00),
  -- Multi-byte UTF-8 (utf8mb4): what a driver or a proxy must carry unchanged.
  (5, 'Café crème beans ☕', 18.40);
