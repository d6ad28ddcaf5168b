#!/usr/bin/env node
// Labeled national identification numbers of other countries (NATIONAL_ID): India's Aadhaar,
// Brazil's CPF, China's resident id, France's NIR, Poland's PESEL, the Netherlands' BSN,
// Germany's tax id, Sweden's personnummer, Korea's RRN, Spain's DNI/NIE, Italy's codice
// fiscale. Check digits are computed here from each scheme's published rule, not by the
// engine's code. Values appear in their printed shapes, after the names people give them, in
// JSON and in log lines; hard negatives are the same shapes with a wrong check digit and
// neutral words, and compact digit runs of the same lengths (order and account numbers).
// Same output format as generate.mjs (README.md): UTF-8 byte offsets.
//
//   node tests/data/national_ids.mjs --seed 11 --lines 3000 --out FILE

import { writeFileSync } from 'node:fs';

function args() {
  const a = { seed: 11, lines: 3000, out: null };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--seed') a.seed = Number(v[++i]);
    else if (v[i] === '--lines') a.lines = Number(v[++i]);
    else if (v[i] === '--out') a.out = v[++i];
    else throw new Error(`unknown argument ${v[i]}`);
  }
  return a;
}

// sfc32, seeded: the same seed gives the same bytes.
function prng(seed) {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

const a = args();
const rnd = prng(a.seed);
const int = (n) => Math.floor(rnd() * n);
const pick = (xs) => xs[int(xs.length)];
const digits = (n) => Array.from({ length: n }, () => int(10)).join('');
const pad = (x, n) => String(x).padStart(n, '0');
const date = (y0, y1) => {
  const y = y0 + int(y1 - y0), m = 1 + int(12), d = 1 + int(28);
  return { y, m, d };
};

// ---- check digits, from each scheme's rule ----
const VD = [[0,1,2,3,4,5,6,7,8,9],[1,2,3,4,0,6,7,8,9,5],[2,3,4,0,1,7,8,9,5,6],[3,4,0,1,2,8,9,5,6,7],
  [4,0,1,2,3,9,5,6,7,8],[5,9,8,7,6,0,4,3,2,1],[6,5,9,8,7,1,0,4,3,2],[7,6,5,9,8,2,1,0,4,3],
  [8,7,6,5,9,3,2,1,0,4],[9,8,7,6,5,4,3,2,1,0]];
const VP = [[0,1,2,3,4,5,6,7,8,9],[1,5,7,6,2,8,3,0,9,4],[5,8,0,3,7,9,6,1,4,2],[8,9,1,6,0,4,3,5,2,7],
  [9,4,5,3,1,2,6,8,7,0],[4,2,8,6,5,7,3,9,0,1],[2,7,9,3,8,0,6,4,1,5],[7,0,4,6,9,1,3,2,5,8]];
const VINV = [0,4,3,2,1,5,6,7,8,9];
function verhoeff(s) {
  let c = 0;
  [...s].reverse().forEach((ch, i) => { c = VD[c][VP[(i + 1) % 8][Number(ch)]]; });
  return String(VINV[c]);
}
function luhnDigit(s) {
  let sum = 0;
  [...s].reverse().forEach((ch, i) => {
    let v = Number(ch);
    if (i % 2 === 0) { v *= 2; if (v > 9) v -= 9; }
    sum += v;
  });
  return String((10 - (sum % 10)) % 10);
}
function cpfDigits(nine) {
  let s = nine;
  for (const k of [9, 10]) {
    let sum = 0;
    for (let i = 0; i < k; i++) sum += Number(s[i]) * (k + 1 - i);
    s += String(((sum * 10) % 11) % 10);
  }
  return s;
}

const schemes = {
  aadhaar() {
    const b = String(2 + int(8)) + digits(10);
    const v = b + verhoeff(b);
    return { v, shapes: [v.replace(/(\d{4})(\d{4})(\d{4})/, '$1 $2 $3'),
                         v.replace(/(\d{4})(\d{4})(\d{4})/, '$1-$2-$3'), v],
             shaped: 2, kw: ['Aadhaar', 'Aadhaar no.', 'aadhaar_number', 'UIDAI'] };
  },
  cpf() {
    let nine = digits(9);
    while (/^(\d)\1+$/.test(nine)) nine = digits(9);
    const v = cpfDigits(nine);
    return { v, shapes: [v.replace(/(\d{3})(\d{3})(\d{3})(\d{2})/, '$1.$2.$3-$4'), v], shaped: 1,
             kw: ['CPF', 'cpf', 'CPF nº'] };
  },
  cn() {
    const { y, m, d } = date(1940, 2010);
    const region = String(1 + int(8)) + digits(5);
    const b = region + y + pad(m, 2) + pad(d, 2) + digits(3);
    const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum = 0;
    for (let i = 0; i < 17; i++) sum += Number(b[i]) * w[i];
    const v = b + '10X98765432'[sum % 11];
    return { v, shapes: [v], shaped: 1, kw: ['身份证号', '身份证', 'resident id'] };
  },
  nir() {
    const sex = String(1 + int(2)), yy = pad(int(100), 2), mm = pad(1 + int(12), 2);
    const b = sex + yy + mm + pad(1 + int(95), 2) + digits(3) + digits(3);
    const key = pad(97 - Number(BigInt(b) % 97n), 2);
    const v = b + key;
    return { v, shapes: [v.replace(/(\d)(\d{2})(\d{2})(\d{2})(\d{3})(\d{3})(\d{2})/,
                                   '$1 $2 $3 $4 $5 $6 $7'), v],
             shaped: 2, kw: ['NIR', 'numéro de sécurité sociale', 'INSEE'] };
  },
  pesel() {
    const { y, m, d } = date(1930, 2020);
    const mm = m + (y >= 2000 ? 20 : 0);
    const b = pad(y % 100, 2) + pad(mm, 2) + pad(d, 2) + digits(4);
    const w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum = 0;
    for (let i = 0; i < 10; i++) sum += Number(b[i]) * w[i];
    const v = b + String((10 - (sum % 10)) % 10);
    return { v, shapes: [v], shaped: 0, kw: ['PESEL', 'pesel', 'nr PESEL'] };
  },
  bsn() {
    for (;;) {
      const b = digits(8);
      let sum = 0;
      for (let i = 0; i < 8; i++) sum += Number(b[i]) * (9 - i);
      const c = sum % 11;
      if (c < 10 && b[0] !== '0') return { v: b + c, shapes: [b + c], shaped: 0,
                                            kw: ['BSN', 'burgerservicenummer', 'bsn'] };
    }
  },
  se() {
    const { y, m, d } = date(1940, 2010);
    const b = pad(y % 100, 2) + pad(m, 2) + pad(d, 2) + digits(3);
    const ten = b + luhnDigit(b);
    const long = String(y).slice(0, 2) + ten;
    return { v: ten, shapes: [ten.slice(0, 6) + '-' + ten.slice(6), long.slice(0, 8) + '-' +
                              long.slice(8)], shaped: 2, kw: ['personnummer', 'Personnummer'] };
  },
  kr() {
    const { y, m, d } = date(1940, 2019);
    const g = y >= 2000 ? 3 + int(2) : 1 + int(2);
    // Numbers issued before October 2020 end in a check digit (weights 2-9, 2-5, mod 11).
    const b = pad(y % 100, 2) + pad(m, 2) + pad(d, 2) + g + digits(5);
    const w = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += Number(b[i]) * w[i];
    const v = b + String((11 - (sum % 11)) % 10);
    return { v, shapes: [v.slice(0, 6) + '-' + v.slice(6)], shaped: 1,
             kw: ['RRN', 'resident registration number', '주민등록번호'] };
  },
  dni() {
    const nie = rnd() < 0.3;
    const lead = int(3);
    const body = nie ? digits(7) : digits(8);
    const n = nie ? Number(String(lead) + body) : Number(body);
    const v = (nie ? 'XYZ'[lead] : '') + body + 'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23];
    return { v, shapes: [v], shaped: 0, kw: nie ? ['NIE'] : ['DNI', 'NIF'] };
  },
};

const NAMES = Object.keys(schemes);
const KW_TEMPLATES = ['{k}: {v}', '{k} {v}', 'Customer {k} {v} verified at the branch.',
                      '{"{k}": "{v}", "status": "active"}', 'level=info msg="kyc ok" {k}={v}'];
const SHAPE_TEMPLATES = ['holder {v} verified', 'Please check {v} before the transfer.',
                         'id {v}', 'kyc: document {v} accepted', '{"document": "{v}"}'];
const NEG_TEMPLATES = ['ref {v} shipped', 'order {v} received', 'tracking {v}',
                       'account {v} closed', 'batch {v} done'];

function render(template, k, v) {
  const t = template.replace('{k}', k);
  const at = t.indexOf('{v}');
  const text = t.slice(0, at) + v + t.slice(at + 3);
  const start = Buffer.byteLength(t.slice(0, at), 'utf8');
  return { text, start, end: start + Buffer.byteLength(v, 'utf8') };
}

// A wrong check: the last digit (or letter) changed, in the same printed shape.
function spoil(s) {
  const i = s.search(/[0-9A-Z](?=[^0-9A-Z]*$)/);
  const c = s[i];
  const r = /\d/.test(c) ? String((Number(c) + 1 + int(8)) % 10)
                         : String.fromCharCode(65 + ((c.charCodeAt(0) - 65 + 1 + int(20)) % 26));
  return s.slice(0, i) + r + s.slice(i + 1);
}

const out = [];
for (let i = 0; i < a.lines; i++) {
  const name = NAMES[i % NAMES.length];
  const id = schemes[name]();
  const r = rnd();
  if (r < 0.45) {  // named
    const v = pick(id.shapes);
    const x = render(pick(KW_TEMPLATES), pick(id.kw), v);
    out.push({ text: x.text, spans: [{ start: x.start, end: x.end, entity: 'NATIONAL_ID' }],
               kind: 'text', scheme: name });
  } else if (r < 0.75 && id.shaped > 0) {  // in its printed shape, no name
    const v = id.shapes[int(id.shaped)];
    const x = render(pick(SHAPE_TEMPLATES), '', v);
    out.push({ text: x.text, spans: [{ start: x.start, end: x.end, entity: 'NATIONAL_ID' }],
               kind: 'text', scheme: name });
  } else {  // a hard negative: a wrong check in the printed shape, or a bare run of digits
    let v = id.shaped > 0 ? spoil(id.shapes[int(id.shaped)]) : digits(id.v.length);
    if (rnd() < 0.3) v = digits(9 + int(10));
    const x = render(pick(NEG_TEMPLATES), '', v);
    out.push({ text: x.text, spans: [], kind: 'text', scheme: name });
  }
}
const text = out.map((l) => JSON.stringify(l)).join('\n') + '\n';
if (a.out) writeFileSync(a.out, text);
else process.stdout.write(text);
