// Labeled lines whose values come from generators this project did not write and never tuned
// its own generator against: chance.js, @ngneat/falso and fakerator (14 locales). Values are
// taken as each library emits them (unassigned area codes, national phone forms, USPS
// abbreviations, Luhn-valid cards of prefixes no network issues, names of every locale) and put
// into contact lines, tickets, logs, JSON and CSV/TSV rows, beside unlabeled hard negatives
// (GUIDs, hashes, amounts, coordinates, dates, years, company names, cities).
//
//   node outside.mjs --gen chance|falso|fakerator --seed N --lines N --out FILE
//
// Output: the format of generate.mjs ({text, spans:[{start,end,entity}], kind}). A name's span
// leaves out its titles and degrees ("Dr.", "JUDr.", "Pani", "Phd."), which are not the name.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const Chance = require('chance');
const falso = require('@ngneat/falso');
const Fakerator = require('fakerator');

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const gen = arg('gen', 'chance');
const seed = Number(arg('seed', '1'));
const lines = Number(arg('lines', '3000'));
const out = arg('out', '/dev/stdout');
const c = new Chance(seed);

function luhn(d) {
  let s = 0;
  for (let i = 0; i < d.length; i++) {
    let x = Number(d[d.length - 1 - i]);
    if (i % 2) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
    s += x;
  }
  return s % 10 === 0;
}
function routing() {
  const p = c.pickone(['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12', '21', '26']);
  const d = (p + c.string({ length: 6, pool: '0123456789' })).split('').map(Number);
  const s = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5]);
  return d.join('') + String((10 - (s % 10)) % 10);
}
const validEmail = (e) => /^[^.@\s][^@\s]*@[^@\s]+\.[a-z]{2,}$/i.test(e);
const until = (f, ok) => {
  for (;;) {
    const v = f();
    if (ok(v)) return v;
  }
};

// Each generator: a function per entity, and the city and company of a line.
const shared = {
  US_SSN: () => (c.bool() ? c.ssn() : c.ssn({ dashes: false })),
  MAC_ADDRESS: () => c.mac_address(),
  DATE_OF_BIRTH: () => c.birthday({ string: true, american: c.bool() }),
  US_BANK_ROUTING: routing,
};
function chanceGen() {
  const nats = ['en', 'it', 'nl', 'uk', 'de', 'jp', 'es', 'fr'];
  return {
    ...shared,
    PERSON_NAME: () => {
      const nat = c.pickone(nats);
      const first = c.first({ nationality: nat === 'it' ? 'it' : 'en' });
      const last = c.last({ nationality: nat });
      const k = c.integer({ min: 0, max: 5 });
      if (k === 0) return `${first} ${c.character({ alpha: true, casing: 'upper' })}. ${last}`;
      if (k === 1) return `${c.prefix()} ${first} ${last}`;
      if (k === 2) return `${first} ${c.first()} ${last}`;
      return `${first} ${last}`;
    },
    PHONE: () =>
      c.pickone([
        () => c.phone({ formatted: false }),
        () => c.phone({ country: 'uk' }),
        () => c.phone({ country: 'uk', mobile: true }),
        () => c.phone({ country: 'fr' }),
        () => c.phone({ country: 'fr', mobile: true }),
        () => c.phone(),
      ])(),
    CREDIT_CARD: () => c.cc(),
    EMAIL: () => c.email(),
    IP_ADDRESS: () => (c.bool({ likelihood: 70 }) ? c.ip() : c.ipv6()),
    STREET_ADDRESS: () => c.address({ short_suffix: c.bool() }),
    city: () => c.city(),
    company: () => c.company(),
  };
}
function falsoGen() {
  falso.seed(`veil-${seed}`);
  return {
    ...shared,
    PERSON_NAME: () => falso.randFullName({ withAccents: c.bool() }),
    PHONE: () =>
      falso.randPhoneNumber(
        c.bool() ? {} : { countryCode: c.pickone(['GB', 'DE', 'IN', 'FR', 'US', 'BR', 'ES', 'IT']) },
      ),
    CREDIT_CARD: () => until(() => falso.randCreditCardNumber(), (n) => luhn(n.replace(/\D/g, ''))),
    EMAIL: () => falso.randEmail(),
    IP_ADDRESS: () => (c.bool({ likelihood: 70 }) ? falso.randIp() : falso.randIpv6()),
    MAC_ADDRESS: () => falso.randMac(),
    STREET_ADDRESS: () => falso.randStreetAddress(),
    city: () => falso.randCity(),
    company: () => falso.randCompanyName(),
  };
}
function fakeratorGen() {
  const locales = ['de-DE', 'fr-FR', 'it-IT', 'es-ES', 'nl-NL', 'pl-PL', 'cs-CZ', 'sk-SK', 'sv-SE',
    'hu-HU', 'ru-RU', 'en-AU', 'en-CA', 'pt-BR'];
  const fk = Object.fromEntries(locales.map((l) => [l, Fakerator(l)]));
  locales.forEach((l) => fk[l].seed(seed));
  let f = fk[locales[0]];
  return {
    ...shared,
    line: () => {
      f = fk[c.pickone(locales)];
    },
    PERSON_NAME: () => f.names.name(),
    PHONE: () => f.phone.number(),
    CREDIT_CARD: () => c.cc(),
    // ru-RU's addresses lose their Cyrillic local part (".@ya.ru"): not an address.
    EMAIL: () => until(() => f.internet.email(), validEmail),
    IP_ADDRESS: () => f.internet.ip(),
    // A template fakerator leaves unfilled ("{address.streetNames.prefix}") is no street.
    STREET_ADDRESS: () => until(() => f.address.street(), (s) => !s.includes('{')),
    city: () => f.address.city(),
    company: () => c.company(),
  };
}
const values = { chance: chanceGen, falso: falsoGen, fakerator: fakeratorGen }[gen]();
if (!values) throw new Error(`--gen: chance, falso or fakerator, not ${gen}`);

const neg = {
  guid: () => c.guid(),
  hash: () => c.hash({ length: c.pickone([7, 12, 32, 40]) }),
  exp: () => c.exp(),
  euro: () => c.euro(),
  dollar: () => c.dollar(),
  coords: () => c.coordinates(),
  date: () => c.date({ string: true }),
  year: () => String(c.year()),
  word: () => c.word(),
  sentence: () => c.sentence({ words: 5 }),
  integer: () => String(c.integer({ min: 1000, max: 99999999 })),
  pct: () => `${c.floating({ min: 0, max: 100, fixed: 2 })}%`,
};

// Titles and degrees around a name are not the name.
const TITLE = /^(?:[A-Za-z]{1,6}\.|Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Pan|Pani|Mme|M|Sir|Herr|Frau)$/;
function nameSpan(name) {
  const words = name.split(' ');
  let b = 0;
  let e = words.length;
  while (b < e - 1 && TITLE.test(words[b]) && !/^[A-Z]\.$/.test(words[b])) b++;
  while (e > b + 1 && /\.$/.test(words[e - 1]) && words[e - 1].length > 2) e--;
  const start = words.slice(0, b).join(' ').length + (b ? 1 : 0);
  return [start, start + words.slice(b, e).join(' ').length];
}

// A template: parts, each text or an entity E(x) or a negative N(x); kind text or row.
const E = (entity) => ({ entity });
const N = (neg) => ({ neg });
const T = [
  ['text', 'Customer ', E('PERSON_NAME'), ' called from ', E('PHONE'), ' about order #', N('integer'), '.'],
  ['row', E('PERSON_NAME'), ',', E('EMAIL'), ',', E('PHONE'), ',', E('STREET_ADDRESS'), ',', N('city')],
  ['row', '{"name":"', E('PERSON_NAME'), '","phone":"', E('PHONE'), '","ssn":"', E('US_SSN'), '","dob":"', E('DATE_OF_BIRTH'), '"}'],
  ['row', 'ts=2024-03-05T10:11:12Z level=info user="', E('PERSON_NAME'), '" ip=', E('IP_ADDRESS'), ' mac=', E('MAC_ADDRESS'), ' req=', N('guid')],
  ['text', 'Please update the mailing address for ', E('PERSON_NAME'), ' to ', E('STREET_ADDRESS'), ', ', N('city'), '.'],
  ['text', 'Payment by card ', E('CREDIT_CARD'), ' exp ', N('exp'), ' for ', N('dollar'), ' declined; contact ', E('EMAIL'), '.'],
  ['text', 'SSN ', E('US_SSN'), ' on file for ', E('PERSON_NAME'), ', born ', E('DATE_OF_BIRTH'), '.'],
  ['row', E('PERSON_NAME'), '\t', E('PHONE'), '\t', N('pct'), '\t', N('year'), '\t', N('hash')],
  ['text', 'Wire to routing ', E('US_BANK_ROUTING'), ' requested by ', E('PERSON_NAME'), ' (', E('EMAIL'), ').'],
  ['text', 'Thanks for your help! -- ', E('PERSON_NAME'), ', ', E('PHONE')],
  ['text', 'login failed for ', E('EMAIL'), ' from ', E('IP_ADDRESS'), ' at ', N('date'), ' (commit ', N('hash'), ')'],
  ['text', 'invoice ', N('integer'), ': ', N('euro'), ', ship to ', E('STREET_ADDRESS')],
  ['text', 'patient: ', E('PERSON_NAME'), '; dob: ', E('DATE_OF_BIRTH'), '; phone: ', E('PHONE'), '; location ', N('coords')],
  ['text', 'I spoke with ', E('PERSON_NAME'), ' yesterday and they asked us to call back on ', E('PHONE'), '.'],
  ['row', 'card_number=', E('CREDIT_CARD'), ' cardholder="', E('PERSON_NAME'), '" amount=', N('dollar')],
  ['text', 'Your ticket about ', N('word'), ' is closed. ', N('sentence')],
];

const rows = [];
for (let i = 0; i < lines; i++) {
  if (values.line) values.line();
  const [kind, ...parts] = T[i % T.length];
  let text = '';
  const spans = [];
  for (const p of parts) {
    if (typeof p === 'string') {
      text += p;
    } else if (p.neg) {
      text += (neg[p.neg] || values[p.neg])();
    } else {
      const v = values[p.entity]();
      let [b, e] = [0, v.length];
      if (p.entity === 'PERSON_NAME') [b, e] = nameSpan(v);
      spans.push({ start: Buffer.byteLength(text + v.slice(0, b)), end: Buffer.byteLength(text + v.slice(0, e)), entity: p.entity });
      text += v;
    }
  }
  rows.push(JSON.stringify({ text, spans, kind, gen }));
}
writeFileSync(out, rows.join('\n') + '\n');
