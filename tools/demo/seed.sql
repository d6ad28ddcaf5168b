-- veil demo: a small customer table with PII in innocently named columns and in free text.
create table customers (
  id      int primary key,
  name    text,
  contact text,          -- emails
  phone   text,
  notes   text,          -- free text: cards, SSNs, IBANs, tokens
  born    date,
  balance numeric
);
insert into customers values
  (1, 'Jane Doe',   'jane.doe@example.com', '+44 20 7946 0958',
   'card 4111 1111 1111 1111 charged twice; SSN 536-22-1234', '1984-03-07', 120.50),
  (2, 'John Roe',   'john.roe@example.org', '(650) 253-0000',
   'refund to IBAN GB82 WEST 1234 5698 7654 32', '1990-11-23', 0),
  (3, 'Ann Smith',  'ann@example.net',      '+1 415-867-5309',
   'deploy token ghp_9JQNtFMgBAIw9vxZYn6gV9LkJu7FNDnT2ZSK pasted by mistake', '1975-06-30', 42),
  (4, 'Bo Li',      'bo.li@example.com',    'n/a',
   'nothing sensitive here, order 100234567 shipped', '2001-02-14', 7.25);
