#!/usr/bin/env node
// Phones, birth dates and postal addresses as the rest of the world formats them, in English
// sentences and records, from sources this project does not shape:
//   - PHONE: faker's own phone.number() in every locale it ships (its "human", "national" and
//     "international" styles, extensions dropped), after a phone word or standing alone in a
//     sentence;
//   - DATE_OF_BIRTH: the date as Node's Intl.DateTimeFormat (CLDR) writes it in 41 locales, in
//     its "long" and "medium" styles, after a birth label;
//   - STREET_ADDRESS: faker's streetAddress() of its Latin-script locales after the key that
//     names it ("address: …", "home_address=…", {"address": "…"}).
// Hard negatives: what looks like them and is none (dates after other labels, "address" keys of
// e-mail, IP, MAC, memory and wallet addresses, versions with a build date after '+', numbers
// after "ring buffer", issue numbers before capitalised words).
// Same output format as generate.mjs (README.md): UTF-8 byte offsets, kind "text".
//
//   node tests/data/world_formats.mjs --seed 11 --out FILE

import { writeFileSync } from 'node:fs';
import * as F from '@faker-js/faker';

function args() {
  const a = { seed: 11, out: null };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--seed') a.seed = Number(v[++i]);
    else if (v[i] === '--out') a.out = v[++i];
  }
  return a;
}

const a = args();
let state = a.seed >>> 0;
const rnd = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 4294967296);
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const lines = [];

function add(template, value, entity, locale) {
  const at = template.indexOf('{}');
  const text = template.slice(0, at) + value + template.slice(at + 2);
  const start = Buffer.byteLength(template.slice(0, at), 'utf8');
  lines.push({ text, spans: [{ start, end: start + Buffer.byteLength(value, 'utf8'), entity }],
               kind: 'text', locale });
}
const negative = (text, locale) => lines.push({ text, spans: [], kind: 'text', locale });

// Phones: every locale, each style; a run of digits alone says nothing, so it is labeled only
// after a phone word.
const WITH_WORD = ['phone: {}', 'call me at {}', 'Tel. {}', 'mobile {}', 'contact number {}',
  '{"phone": "{}"}', 'left a voicemail from {}', 'reach out on {}'];
const ALONE = ['{}', 'text {} after 5pm', 'number {}', 'see you then, {}'];
const skip = new Set(['base', 'en_BORK', 'en_AU_ocker']);
for (const [loc, f] of Object.entries(F.allFakers)) {
  if (skip.has(loc)) continue;
  f.seed(a.seed);
  for (let i = 0; i < 18; i++) {
    let p = f.phone.number({ style: ['human', 'national', 'international'][i % 3] });
    p = p.replace(/\s*(?:x|ext\.?)\s*\d+$/, '');
    const compact = /^\d+$/.test(p);
    const alone = i % 3 === 2 && !compact;
    add(pick(alone ? ALONE : WITH_WORD), p, 'PHONE', `${loc}/phone`);
  }
}

// Birth dates, as CLDR formats them.
const DOB = ['DOB: {}', 'Date of birth: {}', 'born {}', '{"dob": "{}"}',
  'patient born on {}, admitted'];
const NOT_DOB = ['created: {}', 'Invoice date {}', 'last login {}', '{"updated_at": "{}"}',
  'released on {}'];
const DATE_LOCALES = ['pl', 'cs', 'sk', 'hr', 'ro', 'hu', 'tr', 'fi', 'ru', 'uk', 'el', 'th',
  'ar', 'id', 'vi', 'da', 'nb', 'sv', 'de', 'fr', 'es', 'it', 'pt', 'nl', 'ja', 'zh', 'ko', 'he',
  'hi', 'bg', 'sr', 'sl', 'lt', 'lv', 'et', 'ka', 'hy', 'ms', 'en-GB', 'en-US', 'en-IN'];
for (const loc of DATE_LOCALES) {
  for (let i = 0; i < 30; i++) {
    const d = new Date(Date.UTC(1930 + Math.floor(rnd() * 75), Math.floor(rnd() * 12),
                                1 + Math.floor(rnd() * 28)));
    const v = new Intl.DateTimeFormat(loc, { dateStyle: i % 2 ? 'long' : 'medium',
                                             timeZone: 'UTC' }).format(d);
    if (i % 5 === 4) {
      negative(pick(NOT_DOB).replace('{}', v), `${loc}/date`);
      continue;
    }
    // The label covers the date; the dot after a last day ("1985. március 12.") and
    // Lithuanian's "d." (for day) say nothing without it.
    const core = v.replace(/ d\.$/, '').replace(/\.$/, '');
    add(pick(DOB).replace('{}', `{}${v.slice(core.length)}`), core, 'DATE_OF_BIRTH', `${loc}/dob`);
  }
}

// Addresses after their keys, in the Latin-script locales (their street lines; faker's locales
// that mix scripts with US suffixes are left out).
const ADDRESS = ['address: {}', 'Address: {}', 'home_address={}', '{"address": "{}"}',
  'shipping_address: "{}"', 'Adresse: {}'];
const STREET_LOCALES = ['en_US', 'en_GB', 'en_AU', 'en_CA', 'en_IE', 'en_IN', 'en_NG', 'en_ZA',
  'de', 'de_AT', 'de_CH', 'fr', 'fr_BE', 'fr_CH', 'es', 'es_MX', 'it', 'pt_BR', 'pt_PT', 'nl',
  'nl_BE', 'pl', 'cs_CZ', 'sk', 'hu', 'ro', 'hr', 'fi', 'sv', 'nb_NO', 'da', 'lv', 'tr', 'id_ID'];
for (const loc of STREET_LOCALES) {
  const f = F.allFakers[loc];
  f.seed(a.seed + 1);
  for (let i = 0; i < 24; i++) {
    const s = f.location.streetAddress(i % 3 === 0);
    if (!/\d/.test(s)) continue;
    add(pick(ADDRESS), s, 'STREET_ADDRESS', `${loc}/address`);
  }
}
const fk = F.allFakers.en;
fk.seed(a.seed + 2);
for (let i = 0; i < 150; i++) {
  negative(pick([
    `address: 0x${fk.string.hexadecimal({ length: 8, prefix: '' })}`,
    `wallet_address: 0x${fk.string.hexadecimal({ length: 40, prefix: '' })}`,
    `listen_address: Localhost ${fk.number.int({ min: 1024, max: 65535 })}`, 'Address: Unknown',
    `of/address: Add support for ${fk.number.int({ min: 2, max: 9 })} address cells`,
    `Build-Depends: libfoo-dev (>= 2.${fk.number.int(60)}+2021${String(fk.number.int({ min: 10, max: 12 }))}0${fk.number.int({ min: 1, max: 9 })})`,
    `ring buffer ${fk.number.int({ min: 1024, max: 8192 })} ${fk.number.int({ min: 1024, max: 8192 })}`,
    ` - #${fk.number.int({ min: 100, max: 9999 })} Link error in ${fk.system.fileName()}`,
    `U+0${fk.number.int({ min: 600, max: 699 })}-0${fk.number.int({ min: 700, max: 799 })}`,
  ]), 'en/negative');
}

// The "address" keys of other addresses: each is its own entity, never a street.
for (let i = 0; i < 60; i++) {
  const [t, v, e] = pick([['ip_address: {}', fk.internet.ipv4(), 'IP_ADDRESS'],
    ['email_address: {}', fk.internet.email(), 'EMAIL'], ['mac_address={}', fk.internet.mac(), 'MAC_ADDRESS']]);
  add(t, v, e, 'en/other-address');
}

const out = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
if (a.out) writeFileSync(a.out, out);
else process.stdout.write(out);
