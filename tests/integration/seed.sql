-- The data every integration test sees: a small shop with PII where real databases keep it —
-- in columns whose names do not say so (contact, memo, payload, message), inside free text and
-- JSON, and in non-text columns (inet, date). Every sensitive value is one that veil's validators
-- accept (Luhn-valid cards from known issuer ranges, issued-range SSNs, mod-97-valid IBANs,
-- in-service NANP area codes, base32 AWS key ids, ...), so a value that comes back unmasked is
-- a detection failure, not a bad fixture.
--
-- Every raw sensitive value below is listed in seeded_values.txt; test_harness.py checks that
-- each listed value really is in this data. Add a value here, list it there.
--
-- Loaded by conftest.py into database "shop" after the roles exist; the app_* roles get their
-- privileges through the group role veil_app (granted at the end).

\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE TABLE customers (
  id        int PRIMARY KEY,
  name      text NOT NULL,
  contact   text,            -- an email address, though the column name does not say so
  phone     text,
  notes     text,            -- free text typed by support staff
  signup_ip inet,
  born      date,
  balance   numeric(12, 2) NOT NULL DEFAULT 0
);

INSERT INTO customers VALUES
  (1, 'Margaret Okonkwo', 'margaret.okonkwo@gmail.com', '(312) 847-3920',
   'Called about a refund; paid with card 4111 1111 1111 1111, exp 09/27.',
   '203.0.113.45', '1984-01-05', 120.50),
  (2, 'Daniel Alvarez', 'd.alvarez+billing@outlook.com', '+1 646-412-7788',
   'Identity verified over the phone with SSN 536-22-1234 before the address change.',
   '198.51.100.23', '1991-07-23', 0.00),
  (3, 'Kenji Watanabe', 'kenji.watanabe@protonmail.com', '+44 20 7123 4567',
   'Wants refunds wired to IBAN GB82 WEST 1234 5698 7654 32 instead of the card.',
   '192.0.2.77', '1975-11-30', 9875.00),
  (4, 'Priya Raman', 'priya.raman@acme-corp.io', '415.867.5309',
   'Second card 5105-1051-0510-5100 added; old IBAN DE89 3704 0044 0532 0130 00 closed. '
   'SSN on file: 287-65-4321.',
   '2001:db8::1f', '2001-02-14', -42.10),
  (5, 'Oliver Schmidt', 'oliver.schmidt@web.de', '+49 30 90182000',
   'Prefers contact by post. No open issues.',
   '203.0.113.200', '1968-09-09', 310.00),
  -- A customer with nothing on file: NULLs must come back as NULLs.
  (6, 'Aisha Bello', NULL, NULL, NULL, NULL, NULL, 0.00);

CREATE TABLE payments (
  id          int PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers (id),
  card_number text NOT NULL,
  memo        text
);

INSERT INTO payments VALUES
  (1, 1, '4111111111111111', 'monthly plan'),
  (2, 2, '5555555555554444', 'refund to the card on file'),
  (3, 3, '378282246310005', 'invoice INV-2024-0042 paid in full'),
  (4, 4, '6011111111111117', 'chargeback; receipt sent to billing@alvarez-family.net'),
  (5, 5, '4012888888881881', 'order 1234567890123 shipped to the billing address');

CREATE TABLE events (
  id      int PRIMARY KEY,
  payload jsonb NOT NULL     -- application events; secrets end up here by accident
);

INSERT INTO events VALUES
  (1, '{"type": "login", "user": {"id": 2, "email": "sam.oconnor@yahoo.com"}, "ok": true}'),
  (2, '{"type": "ci.secret_leak", "repo": "acme/api",
        "finding": {"file": ".env", "token": "ghp_M0XvqZjxTW3xvboSRt5Mh3dAwVtRMflhbmua"}}'),
  (3, '{"type": "deploy", "env": {"AWS_ACCESS_KEY_ID": "AKIADYBVZXG24VDHLDSU",
        "AWS_SECRET_ACCESS_KEY": "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", "REGION": "eu-west-1"}}'),
  (4, '{"type": "webhook", "headers": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjdXN0XzEwNDIiLCJlbWFpbCI6InNhbS5vY29ubm9yQHlhaG9vLmNvbSIsImlhdCI6MTcxODA5MDAwMH0.rQUqPsqT18okCB9qRX6o004hoSpShhONL-EhxEA8dTY"},
        "slack": "xoxb-656140532352-6915956419069-EIOUttYpATIk27f4t3tGolUB"}'),
  (5, '{"type": "import", "source": "crm.csv",
        "contacts": ["lena.fischer@gmx.de", "tom.baker@icloud.com"],
        "billing": {"stripe_key": "sk_live_yxRmXBYQ0DVbpag1xYKiuMw7TpHD8BHb"}}');

CREATE SCHEMA audit;

CREATE TABLE audit.log (
  id      int PRIMARY KEY,
  message text NOT NULL
);

INSERT INTO audit.log VALUES
  (1, 'login ok for carol.nguyen@fastmail.com from 198.51.100.7'),
  (2, 'password reset code sent to (206) 384-1920'),
  (3, 'support agent viewed SSN 412-70-5583 of a customer'),
  (4, 'nightly export of customers finished: 6 rows'),
  (5, 'deploy job ran: mysql -h db1 -u deploy -pDepl0y!2024 shop < migrate.sql'),
  (6, 'AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,ALTER ROLE app PASSWORD ''Rotat3d!2024'',<not logged>');

-- Enough rows that a result spans many DataRow frames and socket reads: streaming tests.
CREATE TABLE subscribers (
  id      int PRIMARY KEY,
  address text NOT NULL,     -- user<n>@example.com
  joined  date NOT NULL
);

INSERT INTO subscribers
SELECT n, 'user' || n || '@example.com', date '2024-01-01' + (n % 365)
FROM generate_series(1, 1000) AS n;

-- Writes and DDL are allowed by PostgreSQL itself, so that a statement refused in a test was
-- refused by veil's guardrails and not by a missing privilege.
GRANT USAGE, CREATE ON SCHEMA public, audit TO veil_app;
GRANT ALL ON ALL TABLES IN SCHEMA public, audit TO veil_app;

ANALYZE;
