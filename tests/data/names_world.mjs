#!/usr/bin/env node
// Labeled person names from the world, for the names stage: faker locales that generate.mjs does
// not use (Vietnamese, Indonesian, Nordic, Central European, West and South African, Cyrillic,
// Greek, CJK, Arabic, Hebrew, Persian, Thai, Georgian), in ticket, CRM and chat sentences, plus
// hard negatives from the same locales: companies, cities, streets and products, capitalised as
// names are. Same output format as generate.mjs (README.md): UTF-8 byte offsets, kind "text".
//
//   node tests/data/names_world.mjs --seed 7 --per-locale 60 --out FILE
//
// The engine's name table is built from US Census and SSA data (masker/data); nothing here
// comes from it, and none of these locales' name lists are in it.

import { writeFileSync } from 'node:fs';
import * as F from '@faker-js/faker';

const LOCALES = [
  'VI', 'ID_ID', 'SV', 'NB_NO', 'FI', 'DA', 'CS_CZ', 'SK', 'HU', 'RO', 'HR', 'LV', 'AF_ZA',
  'ZU_ZA', 'YO_NG', 'EN_NG', 'EN_GH', 'EN_ZA', 'EN_IE', 'RU', 'UK', 'EL', 'ZH_CN', 'ZH_TW', 'JA',
  'KO', 'AR', 'HE', 'FA', 'TH', 'KA_GE', 'HY',
];

// {n}: the name. Sentences a support desk, a CRM or a chat log holds; names before and after
// the verb, after titles and prepositions, in lists and quotes.
const NAME_TEMPLATES = [
  'Dear {n}, your order has shipped.',
  'Customer {n} called about the invoice.',
  'Ticket assigned to {n} by the on-call rotation.',
  'Spoke with {n} today; she will send the form.',
  '{n} wrote: the package arrived damaged.',
  'Thanks, {n}',
  'Reviewed by {n} on Monday.',
  'Escalated to {n} after the second outage.',
  'Meeting with {n} moved to 3pm.',
  '{n} said the card was declined twice.',
  'Patient {n} missed the follow-up appointment.',
  'Hi {n}, the refund is on its way.',
  'Contact: {n}',
  'cc {n}',
  'Call back {n} before noon.',
  'Forwarded to {n} for approval.',
  '{n} asked to close the account.',
  'Account holder {n} requested a new card.',
  'Best regards, {n}',
  'Note from {n}: the address changed last month.',
];

// {x}: a company, a city, a street or a product of the same locale: not a person.
const NEGATIVE_TEMPLATES = [
  'Shipment from {x} delayed by two days.',
  'Order placed with {x} for the spring catalogue.',
  'Warehouse in {x} is closed on Sunday.',
  'Invoice for {x} attached.',
  'The new office on {x} opens in May.',
  '{x} is out of stock again.',
];

function args() {
  const a = { seed: 7, perLocale: 60, out: null };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--seed') a.seed = Number(v[++i]);
    else if (v[i] === '--per-locale') a.perLocale = Number(v[++i]);
    else if (v[i] === '--out') a.out = v[++i];
    else throw new Error(`unknown argument ${v[i]}`);
  }
  return a;
}

function render(template, key, value) {
  const at = template.indexOf(key);
  const text = template.slice(0, at) + value + template.slice(at + key.length);
  const start = Buffer.byteLength(template.slice(0, at), 'utf8');
  return { text, start, end: start + Buffer.byteLength(value, 'utf8') };
}

const a = args();
const lines = [];
for (const loc of LOCALES) {
  const f = F[`faker${loc}`];
  if (!f) throw new Error(`faker has no locale ${loc}`);
  f.seed(a.seed);
  for (let i = 0; i < a.perLocale; i++) {
    const sex = f.helpers.arrayElement(['female', 'male']);
    const name = `${f.person.firstName(sex)} ${f.person.lastName(sex)}`.trim();
    const r = render(f.helpers.arrayElement(NAME_TEMPLATES), '{n}', name);
    lines.push({ text: r.text, spans: [{ start: r.start, end: r.end, entity: 'PERSON_NAME' }],
                 kind: 'text', locale: loc });
    if (i % 3 === 0) {
      const pick = f.helpers.arrayElement(['company', 'city', 'street', 'product']);
      let x;
      try {
        x = pick === 'company' ? f.company.name() : pick === 'city' ? f.location.city()
          : pick === 'street' ? f.location.street() : f.commerce.productName();
      } catch {
        x = f.location.city();
      }
      const r2 = render(f.helpers.arrayElement(NEGATIVE_TEMPLATES), '{x}', x);
      lines.push({ text: r2.text, spans: [], kind: 'text', locale: loc });
    }
  }
}
const out = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
if (a.out) writeFileSync(a.out, out);
else process.stdout.write(out);
