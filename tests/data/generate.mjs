#!/usr/bin/env node
// Deterministic, labeled test-data generator for veil's PII detector.
// See README.md in this directory for the output format and span conventions.
//
//   node tests/data/generate.mjs --seed 42 --lines 12000 --out FILE [--stats] [--check]
//   node tests/data/generate.mjs --verify FILE
//
// All randomness comes from one seeded PRNG (structure, digits, keys) plus seeded faker
// instances (names, street lines, words); nothing depends on time, locale or environment.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  fakerEN_US, fakerEN_GB, fakerDE, fakerFR, fakerES, fakerIT, fakerPT_BR, fakerPL, fakerTR,
  fakerEN_CA, fakerEN_AU, fakerEN_IN, fakerNL,
} from '@faker-js/faker';
import { isValidPhoneNumber, parsePhoneNumberFromString } from 'libphonenumber-js/max';

export const ENTITIES = [
  'EMAIL', 'PERSON_NAME', 'PHONE', 'CREDIT_CARD', 'IBAN', 'US_SSN', 'US_ITIN', 'US_PASSPORT',
  'US_DRIVER_LICENSE', 'US_BANK_ROUTING', 'UK_NINO', 'UK_NHS', 'US_NPI', 'DATE_OF_BIRTH',
  'IP_ADDRESS', 'MAC_ADDRESS', 'STREET_ADDRESS', 'JWT', 'AWS_ACCESS_KEY', 'AWS_SECRET_KEY',
  'GCP_API_KEY', 'GITHUB_TOKEN', 'SLACK_TOKEN', 'STRIPE_KEY', 'OPENAI_API_KEY', 'PRIVATE_KEY',
  'PASSWORD_IN_URL', 'GENERIC_SECRET', 'CRYPTO_WALLET',
];
export const KINDS = ['text', 'json', 'log', 'csv', 'url', 'config', 'sql'];

// ---------------------------------------------------------------------------------------------
// PRNG (sfc32) and helpers
// ---------------------------------------------------------------------------------------------
let R = null;
function makeRng(seed) {
  let a = 0x9e3779b9 ^ seed, b = 0x243f6a88, c = 0xb7e15162, d = (Math.imul(seed, 0x85ebca6b) + 7) | 0;
  const next = () => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 32; i++) next();
  return next;
}
const rnd = () => R();
const int = (lo, hi) => lo + Math.floor(R() * (hi - lo + 1)); // inclusive
const chance = (p) => R() < p;
const pick = (arr) => arr[Math.floor(R() * arr.length)];
function wpick(pairs) { // [[value, weight], ...]
  let total = 0;
  for (const [, w] of pairs) total += w;
  let x = R() * total;
  for (const [v, w] of pairs) { x -= w; if (x < 0) return v; }
  return pairs[pairs.length - 1][0];
}
function shuffle(arr) {
  for (let i = arr.length - 1; i > 0; i--) { const j = Math.floor(R() * (i + 1)); [arr[i], arr[j]] = [arr[j], arr[i]]; }
  return arr;
}
const DIG = '0123456789';
const HEX = '0123456789abcdef';
const UP = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOW = 'abcdefghijklmnopqrstuvwxyz';
const ALNUM = UP + LOW + DIG;
const B32 = UP + '234567';
const B64URL = ALNUM + '-_';
const B64 = ALNUM + '+/';
const chars = (alpha, n) => { let s = ''; for (let i = 0; i < n; i++) s += alpha[Math.floor(R() * alpha.length)]; return s; };
const digits = (n) => chars(DIG, n);
const pad = (n, w) => String(n).padStart(w, '0');
const randBytes = (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = Math.floor(R() * 256); return b; };
const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const sha256 = (b) => createHash('sha256').update(b).digest();
const hasClasses = (s) => /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s);

// ---------------------------------------------------------------------------------------------
// Checksums (shared by generators and --check)
// ---------------------------------------------------------------------------------------------
export function luhnOk(num) {
  let sum = 0, alt = false;
  for (let i = num.length - 1; i >= 0; i--) {
    let d = num.charCodeAt(i) - 48;
    if (alt) { d *= 2; if (d > 9) d -= 9; }
    sum += d; alt = !alt;
  }
  return sum % 10 === 0;
}
function luhnDigit(partial) { for (let d = 0; d < 10; d++) if (luhnOk(partial + d)) return String(d); throw new Error('luhn'); }
function mod97(str) { // str: digits+letters
  let rem = 0;
  for (const ch of str) {
    const v = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const c of v) rem = (rem * 10 + (c.charCodeAt(0) - 48)) % 97;
  }
  return rem;
}
export function ibanOk(iban) {
  const s = iban.replace(/ /g, '');
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s)) return false;
  if (IBAN_SPECS[s.slice(0, 2)] && IBAN_SPECS[s.slice(0, 2)].len !== s.length) return false;
  return mod97(s.slice(4) + s.slice(0, 4)) === 1;
}
export function abaOk(d) {
  if (!/^\d{9}$/.test(d)) return false;
  const n = [...d].map(Number);
  const p = Number(d.slice(0, 2));
  if (!((p >= 1 && p <= 12) || (p >= 21 && p <= 32) || (p >= 61 && p <= 72))) return false;
  return (3 * (n[0] + n[3] + n[6]) + 7 * (n[1] + n[4] + n[7]) + (n[2] + n[5] + n[8])) % 10 === 0;
}
function nhsCheck(nine) {
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (nine.charCodeAt(i) - 48) * (10 - i);
  let c = 11 - (sum % 11);
  if (c === 11) c = 0;
  return c; // 10 = invalid
}
export const nhsOk = (s) => { const d = s.replace(/ /g, ''); return /^\d{10}$/.test(d) && nhsCheck(d.slice(0, 9)) === Number(d[9]); };
export const npiOk = (s) => /^[12]\d{9}$/.test(s) && luhnOk('80840' + s);
export function ssnOk(s) {
  const m = /^(\d{3})-?(\d{2})-?(\d{4})$/.exec(s);
  if (!m) return false;
  const a = Number(m[1]), g = Number(m[2]), n = Number(m[3]);
  if (a === 0 || a === 666 || a >= 900 || g === 0 || n === 0) return false;
  return !['078051120', '219099999', '123456789'].includes(m[1] + m[2] + m[3]);
}
export function itinOk(s) {
  const m = /^9(\d{2})-(\d{2})-(\d{4})$/.exec(s);
  if (!m) return false;
  const g = Number(m[2]);
  return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || (g >= 94 && g <= 99);
}
export function ninoOk(s) {
  const m = /^([A-Z])([A-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])$/.exec(s);
  if (!m) return false;
  if ('DFIQUV'.includes(m[1]) || 'DFIOQUV'.includes(m[2])) return false;
  return !['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(m[1] + m[2]);
}

// base58check / bech32 / keccak-256 (EIP-55)
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58(buf) {
  let n = BigInt('0x' + (buf.toString('hex') || '0'));
  let s = '';
  while (n > 0n) { s = B58[Number(n % 58n)] + s; n /= 58n; }
  for (const b of buf) { if (b === 0) s = '1' + s; else break; }
  return s;
}
function unbase58(s) {
  let n = 0n;
  for (const ch of s) { const i = B58.indexOf(ch); if (i < 0) return null; n = n * 58n + BigInt(i); }
  let hex = n.toString(16); if (hex.length % 2) hex = '0' + hex;
  let lead = 0; for (const ch of s) { if (ch === '1') lead++; else break; }
  return Buffer.concat([Buffer.alloc(lead), n === 0n ? Buffer.alloc(0) : Buffer.from(hex, 'hex')]);
}
function base58check(payload) { return base58(Buffer.concat([payload, sha256(sha256(payload)).subarray(0, 4)])); }
const BECH = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
function bechPolymod(values) {
  const G = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const b = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((b >>> i) & 1) chk ^= G[i];
  }
  return chk >>> 0;
}
const hrpExpand = (h) => [...[...h].map((c) => c.charCodeAt(0) >> 5), 0, ...[...h].map((c) => c.charCodeAt(0) & 31)];
function convertBits(data, from, to) {
  let acc = 0, bits = 0; const out = [], maxv = (1 << to) - 1;
  for (const v of data) { acc = (acc << from) | v; bits += from; while (bits >= to) { bits -= to; out.push((acc >> bits) & maxv); } }
  if (bits > 0) out.push((acc << (to - bits)) & maxv);
  return out;
}
function bech32Encode(hrp, data) {
  const pm = bechPolymod([...hrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  const chk = []; for (let i = 0; i < 6; i++) chk.push((pm >>> (5 * (5 - i))) & 31);
  return hrp + '1' + [...data, ...chk].map((d) => BECH[d]).join('');
}
function bech32Ok(addr) {
  const s = addr.toLowerCase(); const p = s.lastIndexOf('1');
  if (p < 1) return false;
  const data = [...s.slice(p + 1)].map((c) => BECH.indexOf(c));
  if (data.some((d) => d < 0)) return false;
  return bechPolymod([...hrpExpand(s.slice(0, p)), ...data]) === 1;
}
const KRC = [0x1n, 0x8082n, 0x800000000000808an, 0x8000000080008000n, 0x808bn, 0x80000001n, 0x8000000080008081n,
  0x8000000000008009n, 0x8an, 0x88n, 0x80008009n, 0x8000000an, 0x8000808bn, 0x800000000000008bn, 0x8000000000008089n,
  0x8000000000008003n, 0x8000000000008002n, 0x8000000000000080n, 0x800an, 0x800000008000000an, 0x8000000080008081n,
  0x8000000000008080n, 0x80000001n, 0x8000000080008008n];
const KROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]];
const M64 = (1n << 64n) - 1n;
const rotl = (v, n) => (n === 0 ? v : ((v << BigInt(n)) | (v >> BigInt(64 - n))) & M64);
function keccakF(A) {
  for (let r = 0; r < 24; r++) {
    const C = [], D = [], B = new Array(25);
    for (let x = 0; x < 5; x++) C[x] = A[x] ^ A[x + 5] ^ A[x + 10] ^ A[x + 15] ^ A[x + 20];
    for (let x = 0; x < 5; x++) D[x] = C[(x + 4) % 5] ^ rotl(C[(x + 1) % 5], 1);
    for (let i = 0; i < 25; i++) A[i] ^= D[i % 5];
    for (let x = 0; x < 5; x++) for (let y = 0; y < 5; y++) B[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(A[x + 5 * y], KROT[x][y]);
    for (let x = 0; x < 5; x++) for (let y = 0; y < 5; y++) A[x + 5 * y] = B[x + 5 * y] ^ (~B[((x + 1) % 5) + 5 * y] & M64 & B[((x + 2) % 5) + 5 * y]);
    A[0] ^= KRC[r];
  }
}
export function keccak256(input) {
  const rate = 136;
  const msg = Buffer.from(input);
  const padLen = rate - (msg.length % rate);
  const p = Buffer.concat([msg, Buffer.alloc(padLen)]);
  p[msg.length] ^= 0x01; p[p.length - 1] ^= 0x80;
  const A = new Array(25).fill(0n);
  for (let off = 0; off < p.length; off += rate) {
    for (let i = 0; i < rate / 8; i++) A[i] ^= p.readBigUInt64LE(off + i * 8);
    keccakF(A);
  }
  const out = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) out.writeBigUInt64LE(A[i], i * 8);
  return out.toString('hex');
}
export function eip55(hex40) {
  const h = keccak256(hex40.toLowerCase());
  let s = '0x';
  for (let i = 0; i < 40; i++) { const c = hex40[i].toLowerCase(); s += parseInt(h[i], 16) >= 8 ? c.toUpperCase() : c; }
  return s;
}
export function walletOk(a) {
  if (/^0x[0-9a-fA-F]{40}$/.test(a)) {
    const body = a.slice(2);
    return body === body.toLowerCase() || body === body.toUpperCase() || eip55(body) === a;
  }
  if (/^bc1/i.test(a)) return bech32Ok(a);
  const raw = unbase58(a);
  if (!raw || raw.length !== 25 || (raw[0] !== 0 && raw[0] !== 5)) return false;
  return sha256(sha256(raw.subarray(0, 21))).subarray(0, 4).equals(raw.subarray(21));
}

// ---------------------------------------------------------------------------------------------
// Faker
// ---------------------------------------------------------------------------------------------
const NAME_LOCALES = [[fakerEN_US, 30], [fakerEN_GB, 12], [fakerDE, 9], [fakerFR, 9], [fakerES, 9],
  [fakerIT, 7], [fakerPT_BR, 6], [fakerPL, 6], [fakerTR, 3], [fakerNL, 3], [fakerEN_IN, 3], [fakerEN_AU, 3]];
// Locales whose faker phone.number() formats go into the corpus unfiltered (see genPhone).
const PHONE_LOCALES = [['US', fakerEN_US, 6], ['CA', fakerEN_CA, 2], ['GB', fakerEN_GB, 4], ['DE', fakerDE, 3],
  ['FR', fakerFR, 3], ['ES', fakerES, 2], ['IT', fakerIT, 2], ['BR', fakerPT_BR, 2], ['PL', fakerPL, 2], ['TR', fakerTR, 1],
  ['AU', fakerEN_AU, 2], ['NL', fakerNL, 1], ['IN', fakerEN_IN, 2]];
const STREET_LOCALES = [[fakerEN_US, 6], [fakerEN_GB, 3], [fakerEN_CA, 1], [fakerEN_AU, 1], [fakerEN_IN, 1]];
const ALL_FAKERS = [...new Set([...NAME_LOCALES.map(([f]) => f), ...PHONE_LOCALES.map(([, f]) => f), ...STREET_LOCALES.map(([f]) => f)])];
function seedFakers(seed) { ALL_FAKERS.forEach((f, i) => f.seed(seed * 7919 + i + 1)); }
const asciiFold = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/ł/g, 'l').replace(/Ł/g, 'L')
  .replace(/ı/g, 'i').replace(/ß/g, 'ss');
const CTX_WORD_RE = /\b(phone|tel|mobile|call|ssn|social|security|itin|taxpayer|passport|driver|license|licence|dl|routing|aba|rtn|npi|nhs|dob|born|birth|birthdate|password|passwd|secret|token|key|api)\b/i;
function fillerWord() {
  for (;;) { const w = fakerEN_US.word.noun(); if (!CTX_WORD_RE.test(w) && /^[a-z]+$/.test(w)) return w; }
}
function personName(opts = {}) {
  for (;;) {
    const f = wpick(NAME_LOCALES);
    const first = f.person.firstName(), last = f.person.lastName();
    const form = opts.plain ? 'fl' : wpick([['fl', 62], ['fml', 14], ['fmidl', 5], ['lcf', 7], ['caps', 5], ['il', 4], ['fll', 3]]);
    let name;
    if (form === 'fml') name = `${first} ${pick(UP.replace(/[QXZ]/g, ''))}. ${last}`;
    else if (form === 'fmidl') name = `${first} ${f.person.firstName()} ${last}`;
    else if (form === 'lcf') name = `${last}, ${first}`;
    else if (form === 'caps') name = `${first} ${last}`.toUpperCase();
    else if (form === 'il') name = `${first[0]}. ${last}`;
    else if (form === 'fll') name = `${first} ${last}-${f.person.lastName()}`;
    else name = `${first} ${last}`;
    if (/[^\p{L}\p{M} .,'-]/u.test(name) || /^\P{L}/u.test(name)) continue;
    if (opts.noApostrophe && name.includes("'")) continue;
    if (opts.noComma && name.includes(',')) continue;
    return { name, first, last };
  }
}

// ---------------------------------------------------------------------------------------------
// Positive generators. Each returns { segs, ctxKeys, ctxPhrases, bareKeys, barePhrases, needCtx }
// segs: [{t, e?}] -- the value itself (a sub-segment may carry the label, e.g. PASSWORD_IN_URL).
// ---------------------------------------------------------------------------------------------
const lab = (e, t) => [{ t, e }];
const NEUTRAL_KEYS = ['value', 'data', 'field_3', 'col_c', 'attr', 'v', 'item', 'payload', 'extra', 'ref', 'meta'];

function genEmail() {
  const { first, last } = personName();
  const f = asciiFold(first).toLowerCase().replace(/[^a-z]/g, '') || 'user';
  const l = asciiFold(last).toLowerCase().replace(/[^a-z]/g, '') || 'smith';
  let local = wpick([[`${f}.${l}`, 5], [`${f[0]}${l}`, 3], [`${f}_${l}${int(1, 99)}`, 2], [`${f}${l}`, 2],
    [`${f}${int(1, 9999)}`, 2], [`${l}.${f}`, 1], [`${f}.${pick(LOW)}.${l}`, 1], [`${f}-${l}`, 1]]);
  if (chance(0.12)) local += '+' + pick(['tag', 'news', 'billing', 'dev', 'test', 'shop', int(1, 99), 'spam', 'work']);
  const domain = wpick([
    [pick(['gmail.com', 'yahoo.com', 'outlook.com', 'hotmail.com', 'icloud.com', 'proton.me', 'aol.com', 'gmx.de',
      'web.de', 'hotmail.co.uk', 'yahoo.fr', 'orange.fr', 'libero.it', 'uol.com.br', 'wp.pl', 'fastmail.fm']), 6],
    [fakerEN_US.internet.domainName(), 3],
    [`${pick(['mail', 'eng', 'corp', 'us', 'eu', 'dev', 'hr', 'billing'])}.${fakerEN_US.internet.domainWord()}.${pick(['com', 'io', 'co.uk', 'de', 'net', 'org', 'com.au'])}`, 2],
    [`${fakerEN_US.internet.domainWord()}.${pick(['io', 'ai', 'dev', 'co', 'app', 'tech', 'health', 'bank'])}`, 2],
  ]);
  let email = `${local}@${domain}`;
  if (chance(0.07)) email = email.toUpperCase();
  else if (chance(0.08)) email = email.replace(/^[a-z]/, (c) => c.toUpperCase()).replace(/\.([a-z])/, (m, c) => '.' + c.toUpperCase());
  return {
    segs: lab('EMAIL', email),
    ctxKeys: ['email', 'e-mail', 'contact_email', 'user_email', 'reply_to', 'to', 'from', 'login'],
    ctxPhrases: ['email: {}', 'e-mail {}', 'email me at {}', 'reach me at {}', 'sent to {}', 'from: {}', 'reply-to <{}>', 'contact {}'],
    bareKeys: ['user', 'owner', 'recipient', 'account', 'cc', 'username'],
    barePhrases: ['{}', 'cc {}', '<{}>', '({})', 'forwarded by {}', '{} wrote'],
  };
}

function genName(kindHint) {
  const { name } = personName({ noApostrophe: kindHint === 'sql', noComma: kindHint !== 'text' });
  return {
    segs: lab('PERSON_NAME', name),
    ctxKeys: ['name', 'full_name', 'customer_name', 'contact_name', 'patient_name', 'cardholder', 'account_holder', 'display_name'],
    ctxPhrases: ['name: {}', 'customer {}', 'Dear {},', 'patient {}', 'signed by {}', 'cardholder {}', 'Mr. {}', 'Ms. {}', 'Dr. {}',
      'Mrs. {}', 'account holder {}', 'Hello {},', 'Attn: {}'],
    bareKeys: ['assignee', 'owner', 'author', 'by', 'approved_by', 'created_by', 'agent', 'member', 'who'],
    barePhrases: ['{}', '{} asked about the refund', 'thanks, {}', 'per {}', 'escalated by {}', '{} (ops)', 'member {} renewed',
      'spoke with {} today', '{} called twice', 'ticket opened by {}', '{} will follow up', 'meeting with {} moved to Friday',
      'forwarded to {} in finance', 'cc {} on the reply'],
  };
}

const US_NPA = ['201', '202', '203', '205', '206', '212', '213', '214', '215', '216', '217', '224', '248', '253', '262',
  '267', '301', '303', '305', '310', '312', '313', '314', '317', '323', '347', '385', '404', '407', '408', '410', '412',
  '414', '415', '469', '480', '503', '504', '508', '510', '512', '516', '602', '608', '612', '614', '615', '617', '619',
  '626', '630', '646', '650', '702', '703', '704', '713', '714', '718', '720', '732', '773', '781', '801', '808', '813',
  '818', '832', '858', '907', '913', '916', '917', '919', '925', '949', '971', '972'];
const CA_NPA = ['416', '647', '604', '778', '514', '438', '403', '587', '613', '905', '519', '780', '902', '306', '204', '250'];
const PHONE_NSN = {
  GB: () => wpick([['20' + pick('378') + digits(7), 3], ['7' + pick('5789') + digits(8), 4], ['161' + int(2, 9) + digits(6), 1],
    ['131' + int(2, 9) + digits(6), 1], ['121' + int(2, 9) + digits(6), 1]]),
  DE: () => wpick([['30' + int(2, 9) + digits(int(5, 7)), 2], ['89' + int(2, 9) + digits(int(5, 7)), 1], ['40' + int(2, 9) + digits(int(5, 7)), 1],
    ['15' + pick('12579') + digits(8), 2], ['17' + digits(1) + digits(7), 2], ['16' + pick('023') + digits(7), 1]]),
  FR: () => wpick([[String(int(1, 5)) + digits(8), 2], ['6' + digits(8), 3]]),
  IN: () => wpick([['9' + int(4, 9) + digits(8), 4], ['11' + int(2, 4) + digits(7), 1], ['22' + int(2, 6) + digits(7), 1]]),
  BR: () => wpick([['119' + int(5, 9) + digits(7), 3], ['219' + int(6, 9) + digits(7), 1], ['11' + int(2, 5) + digits(7), 1]]),
  AU: () => wpick([['4' + int(0, 3) + digits(7), 3], ['2' + pick('89') + digits(7), 1], ['3' + pick('89') + digits(7), 1]]),
  JP: () => wpick([['3' + int(3, 6) + digits(7), 2], [pick(['90', '80']) + digits(8), 3], ['6' + int(6, 7) + digits(7), 1]]),
  ES: () => wpick([['6' + digits(8), 3], ['91' + int(2, 7) + digits(6), 1], ['93' + int(2, 4) + digits(6), 1]]),
  IT: () => wpick([['3' + int(2, 9) + digits(8), 3], ['06' + int(3, 9) + digits(7), 1], ['02' + int(3, 9) + digits(7), 1]]),
};
function nanp() {
  for (;;) {
    const npa = chance(0.85) ? pick(US_NPA) : pick(CA_NPA);
    let ex;
    do { ex = String(int(200, 999)); } while (ex[1] === '1' && ex[2] === '1' || ex === '555' || ex === '950' || ex === '958' || ex === '959' || ex === '976');
    const sub = digits(4);
    const nsn = npa + ex + sub;
    if (isValidPhoneNumber(nsn, 'US') || isValidPhoneNumber('+1' + nsn)) return [npa, ex, sub];
  }
}
function genPhone(kindHint, bareAllowed) {
  const common = {
    ctxKeys: ['phone', 'phone_number', 'tel', 'mobile', 'contact_phone', 'cell', 'mobile_number'],
    ctxPhrases: ['phone: {}', 'phone {}', 'tel {}', 'tel: {}', 'mobile: {}', 'call {}', 'call me at {}', 'cell {}', 'ph. {}'],
    bareKeys: ['contact', 'emergency_contact', 'alt', 'from_number', 'to_number', 'caller'],
    barePhrases: ['{}', 'reach out on {}', 'text {} after 5pm', 'left a voicemail from {}', 'use {} for urgent issues', 'number {}'],
  };
  // Half of the phones are faker's own phone.number() in several locales, unfiltered: numbers
  // libphonenumber calls invalid (unassigned area codes, made-up country codes) are phones all
  // the same. An extension (" x628") is not part of the label; a form without any separator
  // (FR 0670310133) is a phone only with a phone word or key, as a bare run of digits says nothing.
  if (chance(0.5)) {
    const [, f] = wpick(PHONE_LOCALES.map(([cc, fk, w]) => [[cc, fk], w]));
    const raw = f.phone.number();
    const m = /^(.*?)(\s*(?:x|ext\.?)\s*\d+)?$/.exec(raw);
    const num = m[1], ext = m[2] || '';
    const compact = /^\+?\d+$/.test(num) && !num.startsWith('+');
    return { segs: [{ t: num, e: 'PHONE' }, ...(ext ? [{ t: ext }] : [])], ...common, ...(compact ? { needCtx: true } : {}) };
  }
  if (chance(0.1)) {  // NANP with an area code that is not (yet) assigned: still a phone
    const npa = pick(['237', '238', '249', '259', '271', '275', '289', '293', '327', '335', '355', '356', '371', '377', '383',
      '387', '427', '437', '453', '471', '482', '524', '535', '538', '543', '546', '569', '583', '624', '627', '633', '637', '643']);
    const ex = String(int(200, 999)), sub = digits(4);
    const v = wpick([[`(${npa}) ${ex}-${sub}`, 3], [`${npa}.${ex}.${sub}`, 2], [`${npa}-${ex}-${sub}`, 2], [`+1 ${npa}-${ex}-${sub}`, 2], [`+1 (${npa}) ${ex} ${sub}`, 1]]);
    return { segs: lab('PHONE', v), ...common };
  }
  if (chance(0.5)) {
    const [a, b, c] = nanp();
    if (bareAllowed && chance(0.14)) {
      return { segs: lab('PHONE', a + b + c), ...common, needCtx: true,
        ctxKeys: ['phone', 'tel', 'mobile', 'phone_number'], ctxPhrases: ['phone: {}', 'phone {}', 'tel {}', 'tel: {}', 'mobile {}', 'mobile: {}', 'call {}'] };
    }
    const v = wpick([[`+1 ${a}-${b}-${c}`, 3], [`(${a}) ${b}-${c}`, 4], [`${a}.${b}.${c}`, 2], [`${a}-${b}-${c}`, 4],
      [`+1${a}${b}${c}`, 2], [`+1 (${a}) ${b}-${c}`, 2], [`1-${a}-${b}-${c}`, 1], [`+1 ${a} ${b} ${c}`, 1], [`+1.${a}.${b}.${c}`, 1]]);
    return { segs: lab('PHONE', v), ...common };
  }
  const cc = pick(Object.keys(PHONE_NSN));
  for (;;) {
    const nsn = PHONE_NSN[cc]();
    if (!isValidPhoneNumber(nsn, cc)) continue;
    const p = parsePhoneNumberFromString(nsn, cc);
    const intl = p.formatInternational();
    const v = wpick([[intl, 6], [p.number, 2], [intl.replace(/ /g, '-'), 1]]);
    return { segs: lab('PHONE', v), ...common };
  }
}

function cardNumber() {
  const [brand, prefix, len] = wpick([
    [['visa', '4', 16], 10], [['visa19', '4', 19], 1],
    [['mc', String(int(51, 55)), 16], 6], [['mc2', String(int(2221, 2720)), 16], 3],
    [['amex', pick(['34', '37']), 15], 4], [['disc', wpick([['6011', 3], [String(int(644, 649)), 1], ['65', 2]]), 16], 3],
    [['jcb', String(int(3528, 3589)), 16], 2], [['diners', wpick([['36', 2], [String(int(300, 305)), 1], ['38', 1]]), 14], 2],
    [['up', '62' + digits(1), 19], 1], [['up16', '62' + digits(1), 16], 1],
  ]);
  const partial = prefix + digits(len - 1 - prefix.length);
  return { brand, num: partial + luhnDigit(partial), len };
}
function groupCard(num, sep) {
  const L = num.length;
  if (L === 15) return [num.slice(0, 4), num.slice(4, 10), num.slice(10)].join(sep);
  if (L === 14) return [num.slice(0, 4), num.slice(4, 10), num.slice(10)].join(sep);
  const g = []; for (let i = 0; i < L; i += 4) g.push(num.slice(i, i + 4)); return g.join(sep);
}
function genCard() {
  const { num } = cardNumber();
  const v = wpick([[groupCard(num, ' '), 4], [groupCard(num, '-'), 3], [num, 4]]);
  return {
    segs: lab('CREDIT_CARD', v),
    ctxKeys: ['card_number', 'cc_number', 'pan', 'card', 'credit_card', 'cardNumber'],
    ctxPhrases: ['card {}', 'card number {}', 'paid with {}', 'CC# {}', 'Visa {}', 'PAN {}', 'charged to card {}'],
    bareKeys: ['instrument', 'pm', 'source', 'number'],
    barePhrases: ['{}', 'used {} at checkout', '{} declined', 'please refund {}'],
  };
}

const IBAN_SPECS = {
  DE: { len: 22, bban: () => digits(18) }, GB: { len: 22, bban: () => pick(['NWBK', 'BARC', 'LOYD', 'HBUK', 'MIDL', 'MONZ']) + digits(14) },
  FR: { len: 27, bban: () => digits(23) }, NL: { len: 18, bban: () => pick(['ABNA', 'INGB', 'RABO', 'TRIO', 'SNSB', 'KNAB']) + digits(10) },
  ES: { len: 24, bban: () => digits(20) }, IT: { len: 27, bban: () => pick(UP) + digits(22) }, CH: { len: 21, bban: () => digits(17) },
  BE: { len: 16, bban: () => { const t = digits(10); let c = Number(BigInt(t) % 97n); if (c === 0) c = 97; return t + pad(c, 2); } },
  AT: { len: 20, bban: () => digits(16) }, PL: { len: 28, bban: () => digits(24) }, SE: { len: 24, bban: () => digits(20) },
  IE: { len: 22, bban: () => pick(['AIBK', 'BOFI', 'IPBS']) + digits(14) }, PT: { len: 25, bban: () => digits(21) },
  DK: { len: 18, bban: () => digits(14) }, NO: { len: 15, bban: () => digits(11) }, FI: { len: 18, bban: () => digits(14) },
  LU: { len: 20, bban: () => digits(16) },
};
function ibanRaw(valid = true) {
  const cc = wpick([['DE', 5], ['GB', 4], ['FR', 3], ['NL', 3], ['ES', 3], ['IT', 2], ['CH', 2], ['BE', 2], ['AT', 1], ['PL', 1],
    ['SE', 1], ['IE', 1], ['PT', 1], ['DK', 1], ['NO', 1], ['FI', 1], ['LU', 1]]);
  const bban = IBAN_SPECS[cc].bban();
  let cd = 98 - mod97(bban + cc + '00');
  if (!valid) { let x; do { x = int(2, 98); } while (x === cd); cd = x; }
  const s = cc + pad(cd, 2) + bban;
  if (s.length !== IBAN_SPECS[cc].len) throw new Error('iban len ' + cc);
  return s;
}
const groupIban = (s) => s.replace(/(.{4})/g, '$1 ').trim();
// Iran issues IBANs (IR + 2 check digits + 22 digits) though it is not in SWIFT's registry.
function iranIban() { const bban = '0' + digits(21); return 'IR' + pad(98 - mod97(bban + 'IR00'), 2) + bban; }
function genIban() {
  // Faker's own IBANs (68 countries of the SWIFT registry), the fixed-country ones above, and Iran.
  const s = wpick([[() => fakerEN_US.finance.iban(), 5], [() => ibanRaw(true), 4], [iranIban, 1]])();
  return {
    segs: lab('IBAN', chance(0.5) ? groupIban(s) : s),
    ctxKeys: ['iban', 'IBAN', 'bank_account', 'payout_iban', 'creditor_iban'],
    ctxPhrases: ['IBAN {}', 'IBAN: {}', 'please wire to {}', 'account {}', 'SEPA transfer to {}'],
    bareKeys: ['destination', 'acct', 'beneficiary'],
    barePhrases: ['{}', 'transfer to {} failed', 'bene {}'],
  };
}

function ssnDigits() {
  for (;;) {
    let a; do { a = int(1, 899); } while (a === 666);
    const s = pad(a, 3) + pad(int(1, 99), 2) + pad(int(1, 9999), 4);
    if (ssnOk(s)) return s;
  }
}
function genSsn(kindHint, bareAllowed) {
  const s = ssnDigits();
  const ctxKeys = ['ssn', 'SSN', 'social_security_number', 'ssn_full', 'applicant_ssn'];
  const ctxPhrases = ['SSN {}', 'SSN: {}', 'social security {}', 'social security number {}', 'SSN# {}', 'ssn={}'];
  if (bareAllowed && chance(0.22)) return { segs: lab('US_SSN', s), ctxKeys, ctxPhrases, needCtx: true };
  return {
    segs: lab('US_SSN', `${s.slice(0, 3)}-${s.slice(3, 5)}-${s.slice(5)}`), ctxKeys, ctxPhrases,
    bareKeys: ['tin', 'identifier', 'national_id', 'gov_id', 'id_value'],
    barePhrases: ['{}', 'verified identity with {}', 'id {} on file', 'applicant {}'],
  };
}
function genItin() {
  const g = pick([...Array(16).keys()].map((i) => 50 + i).concat([...Array(19).keys()].map((i) => 70 + i), [90, 91, 92, 94, 95, 96, 97, 98, 99]));
  return {
    segs: lab('US_ITIN', `9${digits(2)}-${g}-${digits(4)}`),
    ctxKeys: ['itin', 'ITIN', 'taxpayer_id', 'itin_number'], needCtx: true,
    ctxPhrases: ['ITIN {}', 'ITIN: {}', 'taxpayer id {}', 'taxpayer id: {}', 'ITIN# {}', 'filed with ITIN {}'],
  };
}
function genPassport() {
  const v = chance(0.5) ? String(int(1, 9)) + digits(8) : pick(UP) + digits(8);
  return {
    segs: lab('US_PASSPORT', v), needCtx: true,
    ctxKeys: ['passport', 'passport_number', 'passport_no', 'passportNumber'],
    ctxPhrases: ['passport {}', 'passport no. {}', 'passport_number={}', 'US passport {}', 'passport number: {}', 'passport # {}'],
  };
}
function genDL() {
  const [st, v] = wpick([
    [['CA', pick(UP) + digits(7)], 3],
    [['FL', (() => { const d = digits(12); return chance(0.5) ? `${pick(UP)}${d.slice(0, 3)}-${d.slice(3, 6)}-${d.slice(6, 8)}-${d.slice(8, 11)}-${d.slice(11)}` : pick(UP) + d; })()], 2],
    [['NY', String(int(1, 9)) + digits(8)], 2], [['TX', String(int(1, 4)) + digits(7)], 2], [['IL', pick(UP) + digits(11)], 1],
  ]);
  return {
    segs: lab('US_DRIVER_LICENSE', v), needCtx: true,
    ctxKeys: ['dl_number', 'drivers_license', 'driver_license_no', 'license_no', 'DL#'],
    ctxPhrases: [`${st} driver's license {}`, "driver's license {}", 'DL# {}', `DL# {} (${st})`, 'dl_number={}', 'license no {}', `license no. {} ${st}`],
  };
}
function genRouting() {
  for (;;) {
    const p = pick([int(1, 12), int(21, 32), int(61, 72)]);
    const head = pad(p, 2) + digits(6);
    const n = [...head].map(Number);
    const partial = 3 * (n[0] + n[3] + n[6]) + 7 * (n[1] + n[4] + n[7]) + (n[2] + n[5]);
    const d9 = (10 - (partial % 10)) % 10;
    const v = head + d9;
    if (!abaOk(v)) throw new Error('aba');
    return {
      segs: lab('US_BANK_ROUTING', v), needCtx: true,
      ctxKeys: ['routing_number', 'routing', 'aba', 'aba_routing', 'rtn', 'bank_routing'],
      ctxPhrases: ['routing {}', 'routing number {}', 'ABA {}', 'ABA# {}', 'RTN {}', 'routing_number={}', 'routing/ABA {}'],
    };
  }
}
function genNino() {
  const FIRST = UP.replace(/[DFIQUV]/g, ''), SECOND = UP.replace(/[DFIOQUV]/g, '');
  let p; do { p = pick(FIRST) + pick(SECOND); } while (['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(p));
  const d = digits(6), suf = pick('ABCD');
  const v = chance(0.5) ? `${p} ${d.slice(0, 2)} ${d.slice(2, 4)} ${d.slice(4)} ${suf}` : `${p}${d}${suf}`;
  return {
    segs: lab('UK_NINO', v),
    ctxKeys: ['nino', 'ni_number', 'national_insurance_no', 'NINO'],
    ctxPhrases: ['NI number {}', 'NINO {}', 'National Insurance number {}', 'NI no. {}'],
    bareKeys: ['employee_ref', 'hmrc_ref', 'payroll_id', 'uk_id'],
    barePhrases: ['{}', 'P60 for {}', 'payroll record {}'],
  };
}
function genNhs(kindHint, bareAllowed) {
  for (;;) {
    const nine = String(int(4, 7)) + digits(8);
    const c = nhsCheck(nine);
    if (c === 10) continue;
    const d = nine + c;
    const ctxKeys = ['nhs_number', 'NHS', 'nhs_no', 'nhsNumber'];
    const ctxPhrases = ['NHS {}', 'NHS number {}', 'NHS no. {}', 'NHS#: {}'];
    if (bareAllowed && chance(0.35)) return { segs: lab('UK_NHS', d), ctxKeys, ctxPhrases, needCtx: true };
    return {
      segs: lab('UK_NHS', `${d.slice(0, 3)} ${d.slice(3, 6)} ${d.slice(6)}`), ctxKeys, ctxPhrases,
      bareKeys: ['patient_ref', 'gp_ref', 'record'], barePhrases: ['{}', 'referral for {}', 'patient {} seen today'],
    };
  }
}
function genNpi() {
  const partial = String(int(1, 2)) + digits(8);
  const v = partial + luhnDigit('80840' + partial);
  return {
    segs: lab('US_NPI', v), needCtx: true,
    ctxKeys: ['npi', 'NPI', 'provider_npi', 'npi_number', 'billing_npi'],
    ctxPhrases: ['NPI {}', 'NPI: {}', 'NPI# {}', 'provider NPI {}', 'npi={}'],
  };
}
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
function dateForms(y, m, d, weights) {
  return wpick([[`${y}-${pad(m, 2)}-${pad(d, 2)}`, weights[0]], [`${pad(m, 2)}/${pad(d, 2)}/${y}`, weights[1]],
    [`${d} ${MONTHS[m - 1]} ${y}`, weights[2]], [`${MONTHS[m - 1]} ${d}, ${y}`, weights[3]], [`${pad(d, 2)}.${pad(m, 2)}.${y}`, weights[4]]]);
}
function genDob() {
  const y = int(1938, 2007), m = int(1, 12), d = int(1, [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]);
  return {
    segs: lab('DATE_OF_BIRTH', dateForms(y, m, d, [4, 3, 2, 2, 1])), needCtx: true,
    ctxKeys: ['dob', 'date_of_birth', 'birthdate', 'birth_date', 'DOB', 'dateOfBirth'],
    ctxPhrases: ['DOB {}', 'DOB: {}', 'date of birth: {}', 'date of birth {}', 'born {}', 'born on {}', 'birthdate {}', 'dob={}'],
  };
}

const IP_CTX = {
  ctxKeys: ['ip', 'client_ip', 'remote_addr', 'src_ip', 'ip_address', 'x_forwarded_for', 'last_login_ip'],
  ctxPhrases: ['IP {}', 'from IP {}', 'client {}', 'remote address {}', 'ip={}'],
  bareKeys: ['host', 'peer', 'addr', 'upstream', 'gateway', 'resolver', 'src', 'dst'],
  barePhrases: ['{}', 'connection from {}', 'ping {} timed out', 'blocked {}', 'via {}'],
};
function ipv4() {
  const kind = wpick([['10', 2], ['192', 2], ['172', 1], ['pub', 5]]);
  if (kind === '10') return `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
  if (kind === '192') return `192.168.${int(0, 255)}.${int(1, 254)}`;
  if (kind === '172') return `172.${int(16, 31)}.${int(0, 255)}.${int(1, 254)}`;
  for (;;) {
    const o = [int(1, 223), int(0, 255), int(0, 255), int(1, 254)];
    if ([0, 10, 100, 127, 169, 172, 192, 198, 203].includes(o[0])) continue;
    if (o.filter((x) => x >= 10).length < 3) continue;
    return o.join('.');
  }
}
function ipv6() {
  const k = wpick([['full', 2], ['comp', 4], ['ll', 2], ['doc', 1]]);
  const h = () => int(0, 0xffff).toString(16);
  if (k === 'full') {
    const g = [pick(['2001', '2a00', '2600', '2a03', '2406', '2607', '2001']), pad(int(0, 0xffff).toString(16), 4)];
    for (let i = 0; i < 6; i++) g.push(chance(0.2) ? '0000' : pad(int(0, 0xffff).toString(16), 4));
    return g.join(':');
  }
  if (k === 'll') return `fe80::${h()}:${h()}:${h()}:${h()}`;
  if (k === 'doc') return `2001:db8::${chance(0.5) ? int(1, 99) : h()}`;
  const head = [pick(['2001:4860', '2a00:1450', '2600:1f18', '2a03:2880', '2606:4700', '2604:a880']), h()].join(':');
  return `${head}::${h()}${chance(0.6) ? ':' + h() : ''}`;
}
function genIp(kind) {
  const v6 = chance(0.3);
  const addr = v6 ? ipv6() : ipv4();
  const mode = kind === 'url' || kind === 'csv' ? 'plain' : wpick([['plain', 7], ['port', 2], ['cidr', 1]]);
  const segs = lab('IP_ADDRESS', addr);
  if (mode === 'port') {
    const port = pick([22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9200, int(1024, 65535)]);
    return v6 ? { segs: [{ t: '[' }, ...segs, { t: `]:${port}` }], ...IP_CTX } : { segs: [...segs, { t: `:${port}` }], ...IP_CTX };
  }
  if (mode === 'cidr') return { segs: [...segs, { t: '/' + (v6 ? pick([48, 56, 64, 128]) : pick([8, 16, 24, 28, 32])) }], ...IP_CTX };
  return { segs, ...IP_CTX };
}
function genMac() {
  const b = [...randBytes(6)].map((x) => pad(x.toString(16), 2));
  b[0] = pad((parseInt(b[0], 16) & 0xfe).toString(16), 2);
  const v = wpick([[b.join(':'), 4], [b.join('-').toUpperCase(), 2], [`${b[0]}${b[1]}.${b[2]}${b[3]}.${b[4]}${b[5]}`, 2], [b.join(':').toUpperCase(), 1]]);
  return {
    segs: lab('MAC_ADDRESS', v),
    ctxKeys: ['mac', 'mac_address', 'hwaddr', 'device_mac', 'bssid'],
    ctxPhrases: ['MAC {}', 'MAC address {}', 'hwaddr {}', 'ether {}'],
    bareKeys: ['device', 'iface', 'station', 'client'],
    barePhrases: ['{}', 'device {} joined', 'lease for {}', 'station {} roamed'],
  };
}
function genStreet(kindHint) {
  for (;;) {
    const f = wpick(STREET_LOCALES);
    const v = f.location.streetAddress(chance(0.3));
    if (/[,"]/.test(v) || (kindHint === 'sql' && v.includes("'"))) continue;
    return {
      segs: lab('STREET_ADDRESS', v),
      ctxKeys: ['address', 'street', 'address_line1', 'shipping_address', 'billing_street', 'addr1'],
      ctxPhrases: ['address: {}', 'lives at {}', 'ship to {}', 'billing address {}', 'moved to {}'],
      bareKeys: ['line1', 'location', 'dest', 'site'],
      barePhrases: ['{}', 'package left at {}', 'meet at {}', 'delivered to {}'],
      suffix: chance(0.4) ? `, ${pick(CITIES)}` : '',
    };
  }
}
function genJwt() {
  const alg = wpick([['HS256', 5], ['ES256', 2], ['HS512', 2]]);
  const header = wpick([[{ alg, typ: 'JWT' }, 5], [{ typ: 'JWT', alg }, 1], [{ alg, typ: 'JWT', kid: chars(ALNUM, int(8, 16)) }, 2]]);
  const now = 1700000000 + int(0, 40000000);
  const { name } = personName();
  const payload = wpick([
    [{ sub: digits(int(6, 10)), name, iat: now }, 2],
    [{ sub: fakerEN_US.string.uuid(), iat: now, exp: now + pick([900, 3600, 86400]) }, 2],
    [{ iss: `https://auth.${fakerEN_US.internet.domainWord()}.io/`, sub: 'auth0|' + chars(HEX, 24), aud: 'api', iat: now, exp: now + 3600, scope: pick(['read:users', 'openid profile email', 'admin']) }, 2],
    [{ user_id: int(1, 999999), role: pick(['admin', 'user', 'viewer']), iat: now, exp: now + 7200 }, 1],
  ]);
  const sig = b64url(randBytes(alg === 'HS256' ? 32 : 64));
  const v = `${b64url(Buffer.from(JSON.stringify(header)))}.${b64url(Buffer.from(JSON.stringify(payload)))}.${sig}`;
  return {
    segs: lab('JWT', v),
    ctxKeys: ['token', 'access_token', 'id_token', 'jwt', 'authorization', 'session'],
    ctxPhrases: ['Authorization: Bearer {}', 'Bearer {}', 'jwt={}', 'token {}', 'id_token={}'],
    bareKeys: ['auth', 'cookie', 'hdr', 'h'],
    barePhrases: ['{}', 'replayed {}', 'got {} from the SSO callback'],
  };
}
function genAwsKey() {
  return {
    segs: lab('AWS_ACCESS_KEY', pick(['AKIA', 'AKIA', 'AKIA', 'ASIA']) + chars(B32, 16)),
    ctxKeys: ['aws_access_key_id', 'AWS_ACCESS_KEY_ID', 'AccessKeyId', 'access_key'],
    ctxPhrases: ['aws_access_key_id={}', 'AWS_ACCESS_KEY_ID={}', 'access key {}', 'AccessKeyId {}'],
    bareKeys: ['principal', 'credential', 'key_ref', 'identity'],
    barePhrases: ['{}', 'rotated {}', 'CloudTrail shows {}', 'leaked {} in repo'],
  };
}
function genAwsSecret() {
  let v; do { v = chars(B64, 40); } while (!hasClasses(v));
  return {
    segs: lab('AWS_SECRET_KEY', v), needCtx: true,
    ctxKeys: ['aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY', 'SecretAccessKey', 'secret_access_key'],
    ctxPhrases: ['aws_secret_access_key={}', 'AWS_SECRET_ACCESS_KEY={}', '"SecretAccessKey": "{}"', 'aws_secret_access_key = {}'],
  };
}
function genGcp() {
  return {
    segs: lab('GCP_API_KEY', 'AIza' + chars(B64URL, 35)),
    ctxKeys: ['google_api_key', 'GOOGLE_API_KEY', 'maps_key', 'apiKey', 'firebase_api_key'],
    ctxPhrases: ['key={}', 'GOOGLE_API_KEY={}', 'maps api key {}', 'apiKey: {}'],
    bareKeys: ['k', 'param', 'cfg', 'client'],
    barePhrases: ['{}', 'restricted {} to our referrers', 'quota exceeded for {}'],
  };
}
function genGithub() {
  const v = chance(0.75) ? pick(['ghp_', 'ghp_', 'gho_', 'ghs_']) + chars(ALNUM, 36) : `github_pat_${chars(ALNUM, 22)}_${chars(ALNUM, 59)}`;
  return {
    segs: lab('GITHUB_TOKEN', v),
    ctxKeys: ['GITHUB_TOKEN', 'github_token', 'GH_TOKEN', 'token', 'pat'],
    ctxPhrases: ['GITHUB_TOKEN={}', 'token {}', 'github token {}', 'Authorization: token {}'],
    bareKeys: ['ci_cred', 'deploy', 'value', 'auth'],
    barePhrases: ['{}', 'revoked {}', 'found {} in a public gist'],
  };
}
function genSlack() {
  const v = wpick([
    [`xoxb-${digits(int(10, 13))}-${digits(int(10, 13))}-${chars(ALNUM, 24)}`, 4],
    [`xoxp-${digits(int(10, 13))}-${digits(int(10, 13))}-${digits(int(10, 13))}-${chars(HEX, 32)}`, 2],
    [`xapp-1-A${chars(UP + DIG, 10)}-${digits(13)}-${chars(HEX, 64)}`, 1],
  ]);
  return {
    segs: lab('SLACK_TOKEN', v),
    ctxKeys: ['SLACK_BOT_TOKEN', 'slack_token', 'SLACK_APP_TOKEN', 'bot_token'],
    ctxPhrases: ['SLACK_BOT_TOKEN={}', 'slack token {}', 'bot token: {}'],
    bareKeys: ['integration', 'cred', 'hook_auth'],
    barePhrases: ['{}', 'bot posted with {}', 'rotate {} asap'],
  };
}
function genStripe() {
  const len = wpick([[24, 3], [int(25, 60), 1], [99, 2], [int(60, 99), 1]]);
  return {
    segs: lab('STRIPE_KEY', pick(['sk_live_', 'sk_live_', 'rk_live_', 'sk_test_']) + chars(ALNUM, len)),
    ctxKeys: ['STRIPE_SECRET_KEY', 'stripe_key', 'stripe_api_key', 'STRIPE_API_KEY'],
    ctxPhrases: ['STRIPE_SECRET_KEY={}', 'stripe key {}', 'Stripe.api_key = {}'],
    bareKeys: ['psp_cred', 'gateway_auth', 'billing_cfg'],
    barePhrases: ['{}', 'charges failing for {}', 'rolled {}'],
  };
}
function genOpenai() {
  const v = chance(0.7) ? 'sk-proj-' + chars(B64URL, wpick([[int(40, 80), 1], [int(120, 150), 2], [int(80, 120), 1]]))
    : `sk-${chars(ALNUM, 20)}T3BlbkFJ${chars(ALNUM, 20)}`;
  return {
    segs: lab('OPENAI_API_KEY', v),
    ctxKeys: ['OPENAI_API_KEY', 'openai_key', 'llm_key'],
    ctxPhrases: ['OPENAI_API_KEY={}', 'openai key {}', 'Authorization: Bearer {}'],
    bareKeys: ['provider_cred', 'model_auth', 'x'],
    barePhrases: ['{}', 'rate limited on {}', 'usage spike on {}'],
  };
}
const PEM_BODY = {
  'RSA PRIVATE KEY': () => pick(['MIIEpAIBAAKCAQEA', 'MIIEowIBAAKCAQEA', 'MIIEogIBAAKCAQEA', 'MIICXAIBAAKBgQC']),
  'PRIVATE KEY': () => pick(['MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ', 'MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQ', 'MC4CAQAwBQYDK2VwBCIEI']),
  'EC PRIVATE KEY': () => 'MHcCAQEEI',
  'OPENSSH PRIVATE KEY': () => 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAA',
};
function genPrivateKey() {
  const type = wpick([['RSA PRIVATE KEY', 4], ['PRIVATE KEY', 3], ['EC PRIVATE KEY', 2], ['OPENSSH PRIVATE KEY', 2]]);
  const lineLen = type === 'OPENSSH PRIVATE KEY' ? 70 : 64;
  const nLines = type === 'EC PRIVATE KEY' ? 3 : type === 'OPENSSH PRIVATE KEY' ? int(5, 7) : int(4, 26);
  let body = PEM_BODY[type]();
  const total = lineLen * (nLines - 1) + int(8, lineLen);
  body += chars(B64, total - body.length);
  if (chance(0.5)) body = body.slice(0, -1) + '=';
  const lines = []; for (let i = 0; i < body.length; i += lineLen) lines.push(body.slice(i, i + lineLen));
  const v = `-----BEGIN ${type}-----\\n${lines.join('\\n')}\\n-----END ${type}-----`;
  return {
    segs: lab('PRIVATE_KEY', v),
    ctxKeys: ['private_key', 'ssh_key', 'tls_key', 'signing_key', 'PRIVATE_KEY'],
    ctxPhrases: ['private key {}', 'key: {}', 'PRIVATE_KEY="{}"'],
    bareKeys: ['pem', 'blob', 'content', 'body'],
    barePhrases: ['{}', 'pasted {} into the ticket'],
  };
}
function urlPassword() {
  for (;;) {
    const n = int(8, 24);
    let p = '';
    for (let i = 0; i < n; i++) p += chance(0.12) ? pick('!$*-_.~') : pick(ALNUM);
    if (hasClasses(p) && !/^[-_.~]|[-_.~]$/.test(p)) return p;
  }
}
function genPasswordInUrl() {
  const scheme = wpick([['postgres', 4], ['postgresql', 2], ['mysql', 3], ['redis', 2], ['https', 2], ['mongodb', 2], ['amqp', 1], ['mongodb+srv', 1]]);
  const user = pick(['app', 'admin', 'root', 'svc_orders', 'readonly', 'etl', 'api', 'reporting', 'deploy', 'billing_rw',
    asciiFold(fakerEN_US.person.firstName()).toLowerCase().replace(/[^a-z]/g, '') || 'ops']);
  const pass = urlPassword();
  const hostIp = chance(0.15);
  const dw = fakerEN_US.internet.domainWord();
  const hostPool = {
    postgres: [`db.${dw}.internal`, `pg-${int(1, 9)}.prod.${dw}.com`, 'localhost', `${dw}.cluster-${chars(LOW + DIG, 12)}.us-east-1.rds.amazonaws.com`],
    mysql: [`mysql-${int(1, 9)}.${dw}.internal`, 'localhost', `${dw}.${chars(LOW + DIG, 12)}.eu-west-1.rds.amazonaws.com`],
    redis: [`cache-${int(1, 9)}.${dw}.internal`, 'localhost', `redis.${dw}.svc.cluster.local`],
    https: [`git.${dw}.com`, `${dw}.jfrog.io`, `api.${dw}.io`],
    mongodb: [`mongo-${int(1, 3)}.${dw}.internal`, 'localhost'],
    'mongodb+srv': [`cluster0.${chars(LOW + DIG, 5)}.mongodb.net`],
    amqp: [`rabbitmq.${dw}.internal`, `mq-${int(1, 3)}.${dw}.com`],
  };
  const fam = scheme === 'postgresql' ? 'postgres' : scheme;
  const host = hostIp && scheme !== 'mongodb+srv' ? ipv4() : pick(hostPool[fam]);
  const hostSeg = /^\d/.test(host) ? { t: host, e: 'IP_ADDRESS' } : { t: host };
  const port = { postgres: 5432, postgresql: 5432, mysql: 3306, redis: 6379, https: '', mongodb: 27017, amqp: 5672, 'mongodb+srv': '' }[scheme];
  const tail = scheme === 'https' ? `/${pick(['api/v1/export', 'repo.git', 'artifactory/libs', 'hooks/ingest', ''])}`
    : scheme === 'redis' ? `:${port}/${int(0, 15)}`
      : `${port ? ':' + port : ''}/${pick(['app', 'orders', 'prod', 'analytics', 'users', 'billing'])}${chance(0.3) ? '?sslmode=require' : ''}`;
  const pre = scheme === 'redis' && chance(0.6) ? `redis://:` : `${scheme}://${user}:`;
  return {
    segs: [{ t: pre }, { t: pass, e: 'PASSWORD_IN_URL' }, { t: '@' }, hostSeg, { t: tail }],
    ctxKeys: { postgres: ['DATABASE_URL', 'database_url', 'dsn', 'PG_URL', 'connection_string'], mysql: ['DATABASE_URL', 'dsn', 'MYSQL_URL', 'db_url'],
      redis: ['REDIS_URL', 'cache_url', 'broker'], https: ['url', 'remote', 'endpoint', 'registry'], mongodb: ['MONGO_URI', 'mongo_url'],
      'mongodb+srv': ['MONGO_URI', 'MONGODB_URL'], amqp: ['AMQP_URL', 'BROKER_URL', 'CELERY_BROKER_URL'] }[fam],
    ctxPhrases: [`${{ postgres: 'DATABASE_URL', mysql: 'DATABASE_URL', redis: 'REDIS_URL', https: 'remote', mongodb: 'MONGO_URI', 'mongodb+srv': 'MONGO_URI', amqp: 'BROKER_URL' }[fam]}={}`, 'connecting to {}', 'url: {}', 'dsn={}'],
    bareKeys: ['target', 'endpoint', 'upstream'],
    barePhrases: ['{}', 'failed to connect: {}', 'psql {}'],
  };
}
const GENERIC_PREFIX_RE = /^(AKIA|ASIA|AIza|gh[pousr]_|github_pat_|xox|xapp|sk[-_]|rk_|eyJ)/;
function genGeneric() {
  for (;;) {
    const n = int(16, 48);
    const alpha = chance(0.5) ? ALNUM : ALNUM + '!#$%*_-.~^';
    const v = chars(alpha, n);
    if (!hasClasses(v) || GENERIC_PREFIX_RE.test(v)) continue;
    return {
      segs: lab('GENERIC_SECRET', v), needCtx: true, quoteable: true,
      ctxKeys: ['password', 'api_key', 'secret', 'token', 'client_secret', 'DB_PASSWORD', 'apiKey', 'auth_token', 'secret_key', 'SMTP_PASSWORD', 'passwd'],
      ctxPhrases: ['password={}', 'api_key: "{}"', '"api_key": "{}"', 'secret: {}', 'token={}', 'client_secret={}', 'DB_PASSWORD={}', 'password is {}', 'new password: {}'],
    };
  }
}
function genWallet() {
  const k = wpick([['p2pkh', 3], ['p2sh', 2], ['bech32', 3], ['eth', 4]]);
  let v;
  if (k === 'p2pkh') v = base58check(Buffer.concat([Buffer.from([0]), randBytes(20)]));
  else if (k === 'p2sh') v = base58check(Buffer.concat([Buffer.from([5]), randBytes(20)]));
  else if (k === 'bech32') v = bech32Encode('bc', [0, ...convertBits([...randBytes(20)], 8, 5)]);
  else { const h = randBytes(20).toString('hex'); v = chance(0.55) ? eip55(h) : '0x' + h; }
  return {
    segs: lab('CRYPTO_WALLET', v),
    ctxKeys: ['wallet', 'btc_address', 'eth_address', 'payout_address', 'deposit_address', 'wallet_address'],
    ctxPhrases: ['wallet {}', 'BTC address {}', 'send ETH to {}', 'deposit address: {}', 'payout wallet {}'],
    bareKeys: ['dest', 'to', 'recipient', 'addr'],
    barePhrases: ['{}', 'withdrawal to {} pending', 'tx to {} confirmed'],
  };
}

// kindHint lets a generator avoid forms that the setting cannot hold.
const GENERATORS = {
  EMAIL: [genEmail, 9], PERSON_NAME: [genName, 9], PHONE: [genPhone, 8], CREDIT_CARD: [genCard, 5], IBAN: [genIban, 4],
  US_SSN: [genSsn, 4], US_ITIN: [genItin, 2], US_PASSPORT: [genPassport, 2], US_DRIVER_LICENSE: [genDL, 2],
  US_BANK_ROUTING: [genRouting, 2], UK_NINO: [genNino, 2], UK_NHS: [genNhs, 2], US_NPI: [genNpi, 2], DATE_OF_BIRTH: [genDob, 4],
  IP_ADDRESS: [genIp, 7], MAC_ADDRESS: [genMac, 3], STREET_ADDRESS: [genStreet, 4], JWT: [genJwt, 3], AWS_ACCESS_KEY: [genAwsKey, 2],
  AWS_SECRET_KEY: [genAwsSecret, 2], GCP_API_KEY: [genGcp, 2], GITHUB_TOKEN: [genGithub, 2], SLACK_TOKEN: [genSlack, 2],
  STRIPE_KEY: [genStripe, 2], OPENAI_API_KEY: [genOpenai, 2], PRIVATE_KEY: [genPrivateKey, 1.5], PASSWORD_IN_URL: [genPasswordInUrl, 3],
  GENERIC_SECRET: [genGeneric, 4], CRYPTO_WALLET: [genWallet, 2.5],
};
const ENTITY_WEIGHTS = Object.entries(GENERATORS).map(([e, [, w]]) => [e, w]);

// ---------------------------------------------------------------------------------------------
// Hard negatives. Each returns { t, keys, phrases } -- never labeled.
// ---------------------------------------------------------------------------------------------
const WEAK_PASSWORDS = ['changeme', 'password', 'hunter2'];
const NEG = {
  uuid: [3, () => ({ t: fakerEN_US.string.uuid(), keys: ['request_id', 'trace_id', 'uuid', 'correlation_id', 'object_id'], phrases: ['request {}', 'trace_id={}', 'job {} queued'] })],
  hash: [3, () => { const n = pick([32, 40, 64]); return { t: chars(HEX, n), keys: [n === 32 ? 'md5' : n === 40 ? 'sha1' : 'sha256', 'checksum', 'etag', 'digest', 'hash'], phrases: ['checksum {}', 'sha256:{}', 'digest {}', 'etag "{}"'] }; }],
  git_sha: [2, () => ({ t: chance(0.5) ? chars(HEX, 40) : chars(HEX, int(7, 12)), keys: ['commit', 'rev', 'git_sha', 'build_ref'], phrases: ['commit {}', 'deployed {}', 'reverted {}', 'at rev {}'] })],
  luhn_invalid_16: [3, () => {
    const p = pick(['4', '5' + int(1, 5), '6011', '37']) ;
    const len = p === '37' ? 15 : 16;
    const partial = p + digits(len - 1 - p.length);
    const good = Number(luhnDigit(partial));
    const num = partial + ((good + int(1, 9)) % 10);
    const t = chance(0.5) ? num : groupCard(num, pick([' ', '-']));
    return { t, keys: ['tracking_number', 'gift_code', 'voucher', 'shipment', 'serial'], phrases: ['tracking {}', 'voucher {}', 'serial {}', 'shipment {} delayed'] };
  }],
  iban_invalid: [2, () => { const s = ibanRaw(false); return { t: chance(0.5) ? groupIban(s) : s, keys: ['iban_draft', 'beneficiary_ref', 'payment_ref', 'remittance'], phrases: ['ref {}', 'remittance {}', 'payment reference {}'] }; }],
  ssn_invalid: [3, () => {
    const t = wpick([[`000-${pad(int(1, 99), 2)}-${digits(4)}`, 2], [`666-${pad(int(1, 99), 2)}-${digits(4)}`, 2],
      [`9${digits(2)}-${pick([pad(int(0, 49), 2), String(int(66, 69)), '89', '93'])}-${digits(4)}`, 3],
      [`${pad(int(1, 665), 3)}-00-${digits(4)}`, 1], [`${pad(int(1, 665), 3)}-${pad(int(1, 99), 2)}-0000`, 1],
      [pick(['078-05-1120', '219-09-9999', '123-45-6789']), 1]]);
    // Written as an SSN in an area the SSA assigns, a published number or a group 00 or serial
    // 0000 is one (shape first): only an area never assigned (000, 666, 9xx that is no ITIN)
    // stays a negative. Same draws as before, so the rest of every seed's corpus is unchanged.
    const area = Number(t.slice(0, 3));
    const negative = area === 0 || area === 666 || area >= 900 ? t : '000' + t.slice(3);
    return { t: negative, keys: ['part_no', 'case_ref', 'sku', 'claim_no', 'lot'], phrases: ['part {}', 'case {}', 'lot {}', 'claim {}'] };
  }],
  date_no_ctx: [4, () => {
    const y = wpick([[int(2015, 2025), 5], [int(1960, 2005), 1]]); const m = int(1, 12), d = int(1, 28);
    const t = chance(0.35) ? `${y}-${pad(m, 2)}-${pad(d, 2)}T${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}${pick(['Z', '.000Z', '+02:00', ''])}` : dateForms(y, m, d, [4, 3, 1, 1, 1]);
    return { t, keys: ['created_at', 'updated_at', 'hire_date', 'expires', 'order_date', 'last_seen', 'due_date', 'since'], phrases: ['created {}', 'updated on {}', 'hired {}', 'expires {}', 'renewal due {}', 'member since {}', 'shipped {}'] };
  }],
  epoch: [2, () => { const ms = chance(0.6); const t = String(1600000000 + int(0, 150000000)) + (ms ? digits(3) : ''); return { t, keys: ['ts', 'timestamp', 'epoch_ms', 'created', 'exp_at'], phrases: ['at {}', 'ts={}', 'epoch {}'] }; }],
  order_id: [3, () => ({ t: wpick([[`ORD-${int(2019, 2025)}-${pad(int(1, 999999), 6)}`, 2], [`#${int(100000000, 999999999)}`, 2], [`INV-${int(10000, 99999)}`, 1], [`PO${digits(8)}`, 1]]), keys: ['order', 'order_id', 'invoice', 'ticket', 'po'], phrases: ['order {}', 'invoice {}', 'ticket {}', 're: {}'] })],
  price: [3, () => ({ t: wpick([[`$${int(1, 9)},${pad(int(0, 999), 3)}.${pad(int(0, 99), 2)}`, 2], [`$${int(1, 999)}.${pad(int(0, 99), 2)}`, 2], [`€${int(1, 9999)},${pad(int(0, 99), 2)}`, 1], [`£${int(1, 999)}.${pad(int(0, 99), 2)}`, 1]]), keys: ['amount', 'total', 'price', 'balance', 'subtotal'], phrases: ['total {}', 'charged {}', 'refund of {}', 'balance {}'] })],
  version: [3, () => ({ t: wpick([[`${int(0, 20)}.${int(0, 40)}.${int(0, 99)}`, 3], [`v${int(1, 20)}.${int(0, 30)}.${int(0, 20)}`, 3], [`${int(1, 10)}.${int(0, 9)}.${int(256, 30000)}.${int(0, 9999)}`, 1], [`${int(1, 10)}.${int(0, 20)}.${int(0, 9)}-rc${int(1, 5)}`, 1]]), keys: ['version', 'app_version', 'agent', 'build', 'sdk_version'], phrases: ['version {}', 'upgraded to {}', 'running {}', 'client {}'] })],
  port: [2, () => ({ t: wpick([[String(pick([22, 80, 443, 3306, 5432, 6379, 8080, 9092, 27017])), 2], [`${pick(['db', 'cache', 'api', 'kafka'])}-${int(1, 9)}.internal:${pick([5432, 6379, 9092, 8443])}`, 2], [`localhost:${int(3000, 9999)}`, 1]]), keys: ['port', 'listen', 'bind', 'upstream_host'], phrases: ['listening on {}', 'port {}', 'bound {}'] })],
  zip: [2, () => ({ t: chance(0.7) ? pad(int(1001, 99950), 5) : `${pad(int(1001, 99950), 5)}-${digits(4)}`, keys: ['zip', 'postal_code', 'zipcode'], phrases: ['ZIP {}', 'zip code {}', 'postal {}'] })],
  bare_9_10: [4, () => ({ t: chance(0.5) ? String(int(100000000, 999999999)) : String(int(1000000000, 9999999999)), keys: ['invoice_no', 'order_no', 'customer_id', 'account_id', 'ticket_no', 'member_no', 'shipment_id'], phrases: ['invoice {}', 'order no {}', 'customer #{}', 'member id {}', 'ticket {}', 'ref no. {}'] })],
  // AWS's documentation pair and weak passwords (`changeme`, `hunter2`) are drawn here, among the
  // placeholders, but labeled: they are shaped as, or set as, the real thing, and masking a
  // public example costs nothing (masker/GATES.md). A secret key, like genAwsSecret's, is only
  // written beside its label: forty characters of base64 alone are any id.
  aws_example: [1, () => (chance(0.5) ? { t: 'AKIAIOSFODNN7EXAMPLE', e: 'AWS_ACCESS_KEY', keys: ['aws_access_key_id', 'AccessKeyId'], phrases: ['e.g. {}', 'aws_access_key_id={} (from the docs)'] }
    : { t: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', e: 'AWS_SECRET_KEY', keys: ['aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY'], phrases: ['aws_secret_access_key={}', 'sample secret {}'], fixedKey: true })],
  placeholder_secret: [3, () => {
    const [k, t] = pick([['password', 'changeme'], ['password', 'password'], ['token', '${TOKEN}'], ['api_key', '<your-key>'], ['secret', 'REPLACE_ME'],
      ['DB_PASSWORD', '${DB_PASSWORD}'], ['password', '********'], ['client_secret', 'xxxxxxxxxxxx'], ['api_key', 'YOUR_API_KEY'], ['token', 'null'],
      ['stripe_key', 'sk_live_xxxxxxxxxxxxxxxxxxxxxxxx'], ['STRIPE_SECRET_KEY', 'sk_test_XXXXXXXXXXXXXXXXXXXXXXXX'], ['password', 'hunter2'], ['secret', '{{ vault_secret }}']]);
    return { t, e: WEAK_PASSWORDS.includes(t) ? 'GENERIC_SECRET' : undefined, keys: [k], phrases: [`${k}={}`, `${k}: {}`], fixedKey: true };
  }],
  placeholder_email: [2, () => ({ t: pick(['user@localhost', 'root@localhost', 'postgres@db01', 'admin@intranet', 'noreply@localhost', 'git@gitlab', 'jenkins@buildbox']), keys: ['sender', 'mail_from', 'owner'], phrases: ['mail from {}', 'ran as {}', 'owner {}'] })],
  handle: [2, () => ({ t: '@' + fakerEN_US.internet.username().replace(/[^A-Za-z0-9_]/g, '_'), keys: ['handle', 'mention', 'twitter', 'slack_user'], phrases: ['cc {}', 'thanks {}!', 'ping {}'] })],
  retina_file: [1, () => ({ t: `${pick(['logo', 'icon', 'avatar', 'hero', 'banner', 'btn-close'])}@${int(2, 3)}x.${pick(['png', 'webp', 'jpg'])}`, keys: ['asset', 'image', 'file'], phrases: ['uploaded {}', 'missing asset {}'] })],
  css_color: [1, () => ({ t: chance(0.7) ? '#' + chars(HEX, 6) : '#' + chars(HEX, 3), keys: ['color', 'bg', 'accent'], phrases: ['color {}', 'background: {}'] })],
  hex40: [2, () => ({ t: chars(HEX, 40), keys: ['fingerprint', 'object_hash', 'blob'], phrases: ['fingerprint {}', 'blob {}'] })],
  sku: [3, () => ({ t: wpick([[`SKU-${int(10000, 99999)}-${pick(['XL', 'S', 'M', 'BLU', 'RED', '2PK'])}`, 3], [`${chars(UP, 3)}-${pad(int(0, 99999), 5)}-${chars(UP, 2)}`, 2],
    [`${chars(UP, 2)}${int(100, 999)}-${int(1000, 9999)}`, 1], [`${int(100, 999)}-${int(10000, 99999)}-${int(10, 99)}`, 1], [`${int(10, 99)}-${int(1000, 9999)}-${int(100, 999)}`, 1]]),
    keys: ['sku', 'part_number', 'item', 'variant', 'article'], phrases: ['SKU {}', 'part {}', 'item {} restocked', 'variant {}'] })],
  decimal: [3, () => ({ t: wpick([[`${int(0, 99999)}.${pad(int(0, 99), 2)}`, 3], [`0.${digits(int(3, 8))}`, 1], [`${int(1, 999)},${pad(int(0, 999), 3)},${pad(int(0, 999), 3)}.${pad(int(0, 99), 2)}`, 1],
    [`${int(1, 999)}.${pad(int(0, 999), 3)}.${pad(int(0, 999), 3)},${pad(int(0, 99), 2)}`, 1], [`-${int(1, 9999)}.${digits(int(1, 4))}`, 1], [`${int(0, 100)}.${digits(1)}%`, 1],
    [`${int(-89, 89)}.${digits(4)}, ${int(-179, 179)}.${digits(4)}`, 1]]),
    keys: ['amount', 'weight', 'ratio', 'score', 'lat_lng', 'value'], phrases: ['amount {}', 'weight {} kg', 'score {}', 'at {}'] })],
  timestamp: [3, () => { const y = int(2015, 2025), mo = pad(int(1, 12), 2), d = pad(int(1, 28), 2), hh = pad(int(0, 23), 2), mi = pad(int(0, 59), 2), ss = pad(int(0, 59), 2);
    return { t: wpick([[`${y}-${mo}-${d} ${hh}:${mi}:${ss}.${digits(3)}+00`, 3], [`${y}${mo}${d}T${hh}${mi}${ss}Z`, 1], [`${d}/${mo}/${y} ${hh}:${mi}`, 2], [`${y}-${mo}-${d} ${hh}:${mi}`, 2],
      [`${pick(['Mon', 'Tue', 'Wed', 'Thu', 'Fri'])}, ${d} ${pick(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun'])} ${y} ${hh}:${mi}:${ss} GMT`, 1], [`${y}.${mo}.${d} ${hh}.${mi}`, 1]]),
    keys: ['created_at', 'ts', 'logged_at', 'received', 'sent_at'], phrases: ['at {}', 'received {}', 'logged {}', 'sent {}'] }; }],
  title_case: [4, () => ({ t: wpick([[fakerEN_US.commerce.productName(), 3], [fakerEN_US.company.name(), 2], [fakerEN_US.person.jobTitle(), 2], [fakerEN_US.location.city(), 1],
    [fakerEN_US.location.state(), 1], [`${fakerEN_US.commerce.department()} Team`, 1], [fakerEN_GB.location.county(), 1], [pick(['Customer Success', 'Account Manager', 'Quarterly Business Review',
      'New Year', 'Black Friday', 'Terms Of Service', 'Privacy Policy', 'Service Level Agreement', 'Net Promoter Score', 'Purchase Order', 'Release Notes', 'General Availability']), 2]]).replace(/[,']/g, ''),
    keys: ['product', 'company', 'title', 'city', 'team', 'subject', 'label'], phrases: ['re: {}', 'about {}', 'for {}', 'ordered {}', 'the {} page'] })],
  id_shapes: [2, () => ({ t: wpick([[`978-${int(0, 1)}-${int(100, 999)}-${int(10000, 99999)}-${int(0, 9)}`, 1], [`1Z ${chars(UP + DIG, 3)} ${chars(UP + DIG, 3)} ${digits(2)} ${digits(4)} ${digits(4)}`, 1],
    [`${int(10, 99)}-${int(1000000, 9999999)}`, 1], [`${int(100, 999)}.${int(100, 999)}`, 1], [`${digits(4)} ${digits(4)}`, 1], [`${int(1, 9)}.${int(0, 9)}.${int(0, 9)}.${int(1000, 9999)}`, 1]]),
    keys: ['isbn', 'tracking', 'ein', 'code', 'ref', 'build'], phrases: ['ISBN {}', 'tracking {}', 'ref {}', 'code {}', 'build {}'] })],
  clock_time: [2, () => ({ t: `${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}`, keys: ['time', 'duration', 'elapsed', 'start_time'], phrases: ['at {}', 'took {}', 'window {}'] })],
};
const NEG_WEIGHTS = Object.entries(NEG).map(([k, [w]]) => [k, w]);

// ---------------------------------------------------------------------------------------------
// Settings (kinds)
// ---------------------------------------------------------------------------------------------
// A "field" is { key, segs } ; items carry either a chosen key or a phrase.
const fill = (tpl, segs) => { const i = tpl.indexOf('{}'); return [{ t: tpl.slice(0, i) }, ...segs, { t: tpl.slice(i + 2) }]; };
const segText = (segs) => segs.map((s) => s.t).join('');
const CAN_CTX = { text: true, json: true, log: true, csv: false, url: true, config: true, sql: true };

function compatible(kind, segs) {
  const t = segText(segs);
  if (/[\n\r]/.test(t)) return false;
  if (kind === 'url') return !/[\s&#?=/"'\\<>,]/.test(t);
  if (kind === 'json') return !/["]/.test(t) && (!t.includes('\\') || /^-----BEGIN/.test(t));
  if (kind === 'sql') return !t.includes("'");
  if (kind === 'csv') return !t.includes('"');
  return true;
}

function makePositive(kind) {
  for (let tries = 0; tries < 50; tries++) {
    const ent = wpick(ENTITY_WEIGHTS);
    const bareAllowed = CAN_CTX[kind];
    const gen = GENERATORS[ent][0](kind, bareAllowed);
    if (gen.needCtx && !CAN_CTX[kind]) continue;
    if (!compatible(kind, gen.segs)) continue;
    const useCtx = gen.needCtx || !gen.bareKeys || (CAN_CTX[kind] && chance(0.45));
    const valueSegs = gen.suffix && kind !== 'url' ? [...gen.segs, { t: gen.suffix }] : gen.segs;
    return { ent, useCtx, segs: valueSegs, keys: useCtx ? gen.ctxKeys : gen.bareKeys, phrases: useCtx ? gen.ctxPhrases : gen.barePhrases, gen };
  }
  throw new Error('no compatible positive for ' + kind);
}
function makeNegative(kind) {
  for (;;) {
    const k = wpick(NEG_WEIGHTS);
    const n = NEG[k][1]();
    const segs = [n.e ? { t: n.t, e: n.e } : { t: n.t }];
    if (!compatible(kind, segs)) continue;
    if (kind === 'csv' && n.fixedKey) continue;
    return { neg: k, segs, keys: n.keys, phrases: n.phrases, fixedKey: n.fixedKey };
  }
}

const FILLER_SENTENCES = [
  'The nightly export finished without errors.', 'Cache warmup took longer than usual.', 'No action needed on our side.',
  'Retrying the batch after the maintenance window.', 'Marked as resolved by the on-call engineer.', 'See the attached screenshot.',
  'Migration 42 applied cleanly.', 'Dashboard numbers look right again.', 'Closing this out for now.', 'The vendor confirmed the fix.',
  'Waiting on legal before we proceed.', 'Spike in 5xx responses subsided.', 'Please review before Friday.', 'Rollout paused at 20 percent.',
];
const STARTERS = ['', '', '', 'FYI', 'Update:', 'Hi team,', 'Per our conversation,', 'Customer called back:', 'Note:', 'Heads up -', 'Quick summary:', 'Support ticket:', 'From the intake form:'];
const CITIES = ['Springfield', 'Portland', 'Austin', 'Denver', 'Columbus', 'Leeds', 'Bristol', 'Manchester', 'Munich', 'Lyon',
  'Seattle', 'Phoenix', 'Raleigh', 'Madison', 'Glasgow', 'Cardiff', 'Toronto', 'Boise', 'Tucson', 'Omaha', 'Sacramento', 'Reading'];
const FILLERS = {
  id: () => String(int(1, 999999)),
  status: () => pick(['active', 'pending', 'closed', 'failed', 'ok', 'suspended', 'trial', 'queued']),
  plan: () => pick(['basic', 'pro', 'team', 'enterprise', 'free']),
  region: () => pick(['us-east-1', 'eu-west-2', 'ap-south-1', 'eu-central-1', 'us-west-2']),
  attempt: () => String(int(1, 5)),
  tier: () => pick(['gold', 'silver', 'bronze', 'platinum']),
  locale: () => pick(['en-US', 'de-DE', 'fr-FR', 'en-GB', 'es-ES', 'pt-BR']),
  source: () => pick(['web', 'ios', 'android', 'api', 'import', 'batch']),
  count: () => String(int(0, 5000)),
  city: () => pick(CITIES),
  product: () => fakerEN_US.commerce.productName(),
  category: () => fillerWord(),
  retries: () => String(int(0, 7)),
  flag: () => pick(['true', 'false']),
  shard: () => `shard-${pad(int(1, 32), 2)}`,
  env: () => pick(['prod', 'staging', 'dev']),
  channel: () => pick(['email', 'sms', 'push', 'chat']),
};
const FILLER_KEYS = Object.keys(FILLERS);
const fillerValue = () => FILLERS[pick(FILLER_KEYS)]();
const fillerField = () => { const key = pick(FILLER_KEYS); return { key, segs: [{ t: FILLERS[key]() }], filler: true }; };

function pickKey(item, kind) {
  const k = pick(item.keys);
  if (kind === 'text' || kind === 'json') return k;
  return k.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/_+$/, '');
}
function phraseSegs(item, noQuote) {
  const ph = noQuote ? item.phrases.filter((p) => !p.includes('"')) : item.phrases;
  return ph.length ? fill(pick(ph), item.segs) : null;
}

// text: a couple of sentences.
function renderText(items) {
  const out = [];
  const st = pick(STARTERS);
  if (st) out.push({ t: st + ' ' });
  if (items.length === 0) { out.push({ t: pick(FILLER_SENTENCES) }); if (chance(0.5)) out.push({ t: ' ' + pick(FILLER_SENTENCES) }); return out; }
  items.forEach((it, i) => {
    if (i > 0) out.push({ t: pick([', ', '; ', '. ', ' and ', ' - ', ', also ']) });
    out.push(...phraseSegs(it));
  });
  out.push({ t: pick(['.', '', '.', ' ' + pick(FILLER_SENTENCES), '!', ' Thanks.']) });
  return out;
}
// Structured kinds share: build a list of {key, segs, raw?} fields.
function fieldsFor(items, kind, allowNote) {
  const fields = [];
  const noteItems = [];
  for (const it of items) {
    if (allowNote && !it.fixedKey && chance(0.18) && phraseSegs(it, true)) noteItems.push(it);
    else fields.push({ key: pickKey(it, kind), segs: it.segs });
  }
  if (noteItems.length) {
    const segs = [];
    noteItems.forEach((it, i) => { if (i > 0) segs.push({ t: pick([', ', '; ', ' and ']) }); segs.push(...phraseSegs(it, true)); });
    fields.push({ key: pick(['note', 'comment', 'message', 'description', 'remarks']), segs, spaced: true });
  }
  const nFill = int(1, 3);
  for (let i = 0; i < nFill; i++) fields.splice(int(0, fields.length), 0, fillerField());
  // de-duplicate keys
  const seen = new Set();
  for (const f of fields) { let k = f.key, n = 2; while (seen.has(k)) k = f.key + '_' + n++; f.key = k; seen.add(k); }
  return fields;
}
const isNumeric = (segs) => /^\d{1,15}$/.test(segText(segs)) && !/^0/.test(segText(segs));
function renderJson(items) {
  const fields = fieldsFor(items, 'json', true);
  const out = [{ t: '{' }];
  const sp = chance(0.5) ? ' ' : '';
  fields.forEach((f, i) => {
    if (i > 0) out.push({ t: ',' + sp });
    out.push({ t: `"${f.key}":${sp}` });
    if (f.filler && /^(\d+|true|false)$/.test(f.segs[0].t)) out.push(...f.segs);
    else if (isNumeric(f.segs) && chance(0.3)) out.push(...f.segs);
    else out.push({ t: '"' }, ...f.segs, { t: '"' });
  });
  out.push({ t: '}' });
  if (chance(0.25)) return [{ t: pick(['payload=', 'body: ', 'event ', 'webhook received: ', '']) }, ...out];
  return out;
}
function isoTs() { return `2024-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}T${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}.${digits(3)}Z`; }
function renderLog(items) {
  const out = [{ t: `${isoTs()} ${wpick([['INFO', 6], ['WARN', 2], ['ERROR', 1], ['DEBUG', 2]])} ` }];
  if (chance(0.6)) out.push({ t: `[${pick(['api', 'auth', 'billing', 'worker', 'gateway', 'sync', 'mailer', 'kyc'])}] ` });
  out.push({ t: pick(['request completed', 'user updated', 'login ok', 'payment processed', 'webhook delivered', 'profile saved', 'lookup', 'retrying job', 'validation failed', 'session created']) });
  const fields = fieldsFor(items, 'log', true);
  for (const f of fields) {
    const needsQ = f.spaced || /[\s"]/.test(segText(f.segs));
    out.push({ t: ` ${f.key}=` });
    if (needsQ) out.push({ t: '"' }, ...f.segs, { t: '"' }); else out.push(...f.segs);
  }
  if (chance(0.4)) out.push({ t: ` duration_ms=${int(1, 2500)}` });
  return out;
}
function renderCsv(items) {
  const cols = items.map((it) => it.segs);
  const nFill = int(1, 4);
  for (let i = 0; i < nFill; i++) cols.splice(int(0, cols.length), 0, [{ t: chance(0.3) ? String(int(1, 99999)) : fillerValue() }]);
  const sep = chance(0.85) ? ',' : pick([';', '|']);
  const out = [];
  cols.forEach((c, i) => {
    if (i > 0) out.push({ t: sep });
    const t = segText(c);
    if (t.includes(sep) || (/ /.test(t) && chance(0.5))) out.push({ t: '"' }, ...c, { t: '"' }); else out.push(...c);
  });
  return out;
}
function renderUrl(items) {
  const host = pick([`https://app.${fakerEN_US.internet.domainWord()}.com`, `https://api.${fakerEN_US.internet.domainWord()}.io`, 'http://localhost:8080', `https://${fakerEN_US.internet.domainWord()}.example.net`]);
  const path = pick(['/api/v1/users', '/signup', '/v2/lookup', '/callback', '/track', '/search', '/account/verify', '/oauth/authorize', '/export']);
  const out = [];
  if (chance(0.3)) out.push({ t: pick(['GET ', 'POST ', 'Referer: ', 'redirect to ']) });
  out.push({ t: host + path });
  const fields = items.map((it) => ({ key: pickKey(it, 'url'), segs: it.segs }));
  const nFill = int(0, 2);
  for (let i = 0; i < nFill; i++) fields.splice(int(0, fields.length), 0, { key: pick(['utm_source', 'page', 'lang', 'ref', 'v', 'limit']), segs: [{ t: pick(['newsletter', String(int(1, 50)), 'en', 'home', '2', '100']) }] });
  const seen = new Set();
  fields.forEach((f, i) => {
    let k = f.key; while (seen.has(k)) k += '2'; seen.add(k);
    out.push({ t: `${i === 0 ? '?' : '&'}${k}=` }, ...f.segs);
  });
  if (chance(0.3) && out.length > 0) out.push({ t: pick([' 200', ' HTTP/1.1', ' 302 Found']) });
  return out;
}
function renderConfig(items) {
  const yaml = chance(0.45);
  const fields = fieldsFor(items, 'config', false);
  const out = [];
  fields.forEach((f, i) => {
    if (i > 0) out.push({ t: '\\n' });
    const t = segText(f.segs);
    let key = yaml ? f.key.replace(/-/g, '_') : f.key.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    if (/^[0-9]/.test(key)) key = 'K_' + key;
    if (yaml) {
      const q = /[:#\s]/.test(t) || chance(0.3) ? pick(['"', "'"]) : '';
      const qq = q === "'" && t.includes("'") ? '"' : q;
      out.push({ t: `${'  '.repeat(i > 0 && chance(0.2) ? 1 : 0)}${key}: ${qq}` }, ...f.segs, { t: qq });
    } else {
      const q = /\s/.test(t) || chance(0.2) ? '"' : '';
      out.push({ t: `${chance(0.15) ? 'export ' : ''}${key}=${q}` }, ...f.segs, { t: q });
    }
  });
  return out;
}
function renderSql(items) {
  const table = pick(['users', 'customers', 'patients', 'employees', 'accounts', 'orders', 'applicants', 'contacts', 'payouts']);
  const fields = fieldsFor(items, 'sql', false);
  const out = [];
  const val = (f) => (f.filler && /^\d+$/.test(segText(f.segs)) ? f.segs : [{ t: "'" }, ...f.segs, { t: "'" }]);
  if (chance(0.55)) {
    out.push({ t: `INSERT INTO ${table} (${fields.map((f) => f.key).join(', ')}) VALUES (` });
    fields.forEach((f, i) => { if (i > 0) out.push({ t: ', ' }); out.push(...val(f)); });
    out.push({ t: ');' });
  } else {
    const where = fields.length > 1 && chance(0.35) ? fields.pop() : null;
    out.push({ t: `UPDATE ${table} SET ` });
    fields.forEach((f, i) => { if (i > 0) out.push({ t: ', ' }); out.push({ t: `${f.key} = ` }, ...val(f)); });
    out.push({ t: ' WHERE ' });
    if (where) out.push({ t: `${where.key} = ` }, ...val(where)); else out.push({ t: `id = ${int(1, 999999)}` });
    out.push({ t: ';' });
  }
  return out;
}
const RENDER = { text: renderText, json: renderJson, log: renderLog, csv: renderCsv, url: renderUrl, config: renderConfig, sql: renderSql };

// ---------------------------------------------------------------------------------------------
// Line assembly
// ---------------------------------------------------------------------------------------------
function assemble(segs) {
  let text = '', bytes = 0;
  const spans = [], expect = [];
  for (const s of segs) {
    if (!s.t) continue;
    const b = Buffer.byteLength(s.t, 'utf8');
    if (s.e) { spans.push({ start: bytes, end: bytes + b, entity: s.e }); expect.push(s.t); }
    text += s.t; bytes += b;
  }
  return { text, spans, expect };
}
export function generate(seed, lines) {
  R = makeRng(seed >>> 0);
  seedFakers(seed);
  const rows = [], expects = [];
  const negCounts = {};
  for (let i = 0; i < lines; i++) {
    const kind = wpick([['text', 22], ['json', 18], ['log', 18], ['csv', 10], ['url', 10], ['config', 11], ['sql', 11]]);
    const nPos = wpick([[0, 15], [1, 38], [2, 31], [3, 16]]);
    const nNeg = wpick([[0, 50], [1, 34], [2, 16]]);
    const items = [];
    for (let j = 0; j < nPos; j++) items.push(makePositive(kind));
    for (let j = 0; j < nNeg; j++) { const n = makeNegative(kind); negCounts[n.neg] = (negCounts[n.neg] || 0) + 1; items.push(n); }
    shuffle(items);
    const { text, spans, expect } = assemble(RENDER[kind](items));
    rows.push({ text, spans, kind });
    expects.push(expect);
  }
  return { rows, negCounts, expects };
}

// ---------------------------------------------------------------------------------------------
// Self-check
// ---------------------------------------------------------------------------------------------
const VALIDATE = {
  EMAIL: (s) => /^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/.test(s),
  PERSON_NAME: (s) => /^[\p{L}\p{M}'.-]+( [\p{L}\p{M}'.-]+)*,?( [\p{L}\p{M}'.-]+)+$/u.test(s),
  PHONE: (s) => { const d = s.replace(/\D/g, ''); return d.length >= 7 && d.length <= 15 && /^[+(]?\d[\d ().-]*\d$/.test(s); },
  CREDIT_CARD: (s) => { const d = s.replace(/[ -]/g, ''); return /^\d{14,19}$/.test(d) && luhnOk(d); },
  IBAN: ibanOk,
  US_SSN: ssnOk,
  US_ITIN: itinOk,
  US_PASSPORT: (s) => /^(\d{9}|[A-Z]\d{8})$/.test(s),
  US_DRIVER_LICENSE: (s) => /^([A-Z]\d{7}|[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d|[A-Z]\d{12}|\d{9}|\d{8}|[A-Z]\d{11})$/.test(s),
  US_BANK_ROUTING: abaOk,
  UK_NINO: ninoOk,
  UK_NHS: nhsOk,
  US_NPI: npiOk,
  DATE_OF_BIRTH: (s) => /^(\d{4}-\d{2}-\d{2}|\d{2}\/\d{2}\/\d{4}|\d{1,2} [A-Z][a-z]+ \d{4}|[A-Z][a-z]+ \d{1,2}, \d{4}|\d{2}\.\d{2}\.\d{4})$/.test(s),
  IP_ADDRESS: (s) => (/^\d+\.\d+\.\d+\.\d+$/.test(s) ? s.split('.').every((o) => Number(o) <= 255) : /^[0-9a-f:]+$/.test(s) && s.includes(':') && s.split('::').length <= 2),
  MAC_ADDRESS: (s) => /^([0-9a-fA-F]{2}([:-])){5}[0-9a-fA-F]{2}$|^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(s),
  STREET_ADDRESS: (s) => /^\d+[A-Za-z]? \S/.test(s),
  JWT: (s) => { const p = s.split('.'); if (p.length !== 3 || ![43, 86].includes(p[2].length)) return false; try { return typeof JSON.parse(Buffer.from(p[0], 'base64url')).alg === 'string' && typeof JSON.parse(Buffer.from(p[1], 'base64url')) === 'object'; } catch { return false; } },
  AWS_ACCESS_KEY: (s) => /^(AKIA|ASIA)[A-Z2-7]{16}$/.test(s),
  AWS_SECRET_KEY: (s) => /^[A-Za-z0-9/+]{40}$/.test(s),
  GCP_API_KEY: (s) => /^AIza[A-Za-z0-9_-]{35}$/.test(s),
  GITHUB_TOKEN: (s) => /^(gh[pos]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})$/.test(s),
  SLACK_TOKEN: (s) => /^(xoxb-\d{10,13}-\d{10,13}-[A-Za-z0-9]{24}|xoxp-\d{10,13}-\d{10,13}-\d{10,13}-[a-f0-9]{32}|xapp-1-[A-Z0-9]+-\d+-[a-f0-9]+)$/.test(s),
  STRIPE_KEY: (s) => /^(sk_live_|rk_live_|sk_test_)[A-Za-z0-9]{24,99}$/.test(s),
  OPENAI_API_KEY: (s) => /^(sk-proj-[A-Za-z0-9_-]{40,150}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})$/.test(s),
  PRIVATE_KEY: (s) => /^-----BEGIN ((RSA|EC|OPENSSH) )?PRIVATE KEY-----\\n[A-Za-z0-9+/=\\n]+\\n-----END ((RSA|EC|OPENSSH) )?PRIVATE KEY-----$/.test(s),
  PASSWORD_IN_URL: (s) => /^[A-Za-z0-9!$*\-_.~]{8,24}$/.test(s),
  GENERIC_SECRET: (s) => (s.length >= 16 && s.length <= 48 && hasClasses(s)) || WEAK_PASSWORDS.includes(s),
  CRYPTO_WALLET: walletOk,
};
export function checkRows(rows, expects = null) {
  const errors = [];
  const err = (i, m) => { if (errors.length < 50) errors.push(`line ${i + 1}: ${m}`); };
  rows.forEach((r, i) => {
    if (typeof r.text !== 'string' || !Array.isArray(r.spans) || !KINDS.includes(r.kind)) return err(i, 'bad shape');
    if (/[\n\r]/.test(r.text)) err(i, 'newline in text');
    const buf = Buffer.from(r.text, 'utf8');
    let prevEnd = 0;
    if (expects && expects[i].length !== r.spans.length) err(i, 'span count differs from generated');
    r.spans.forEach((s, j) => {
      if (!ENTITIES.includes(s.entity)) err(i, `unknown entity ${s.entity}`);
      if (!(Number.isInteger(s.start) && Number.isInteger(s.end) && s.start >= 0 && s.end <= buf.length && s.start < s.end)) { err(i, `span out of bounds ${JSON.stringify(s)}`); return; }
      if (s.start < prevEnd) err(i, `overlap/unsorted ${JSON.stringify(s)}`);
      prevEnd = s.end;
      const sub = buf.subarray(s.start, s.end).toString('utf8');
      if (Buffer.byteLength(sub) !== s.end - s.start || sub.includes('\uFFFD')) err(i, `span splits a UTF-8 sequence ${JSON.stringify(s)}`);
      if (sub !== sub.trim()) err(i, `span has surrounding whitespace: ${JSON.stringify(sub)}`);
      if (!VALIDATE[s.entity](sub)) err(i, `${s.entity} fails validator: ${JSON.stringify(sub)}`);
      if (expects && expects[i][j] !== sub) err(i, `byte slice ${JSON.stringify(sub)} != generated entity string ${JSON.stringify(expects[i][j])}`);
    });
    if (/AKIAIOSFODNN7EXAMPLE|EXAMPLEKEY/.test(r.spans.map((s) => buf.subarray(s.start, s.end).toString()).join(' '))) err(i, 'doc example labeled');
  });
  return errors;
}

// Leak audit: scan the text OUTSIDE labeled spans for strings that would be valid positives.
// (Hard negatives are designed to fail these; a hit means a generator leaked an unlabeled entity.)
const LEAKS = [
  ['EMAIL', /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, (m) => !/@\dx\.(png|webp|jpg)$/.test(m)],
  ['CREDIT_CARD', /(?<![\w.-]|[A-Z]{2}\d{2} )[2-6]\d{3}([ -]?)\d{4,6}\1\d{4,5}(?:\1\d{1,4})?(?:\1\d{3})?(?![\w.-])/g, (m) => { const d = m.replace(/[ -]/g, ''); return d.length >= 14 && d.length <= 19 && luhnOk(d); }],
  ['IBAN', /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g, ibanOk],
  ['US_SSN', /(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])/g, (m) => ssnOk(m) || itinOk(m)],
  ['TOKEN', /AKIA(?!IOSFODNN7EXAMPLE)[A-Z2-7]{16}|ASIA[A-Z2-7]{16}|AIza[\w-]{35}|gh[pos]_[A-Za-z0-9]{36}|github_pat_|xox[bp]-|xapp-|(?:sk|rk)_(?:live|test)_(?![xX]+\b)[A-Za-z0-9]{24}|sk-proj-|T3BlbkFJ|eyJ[\w-]+\.eyJ|PRIVATE KEY-----/g, () => true],
  ['MAC_ADDRESS', /\b[0-9a-fA-F]{2}([:-])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}\b|\b[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}\b/g, () => true],
  ['IP_ADDRESS', /(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])/g, (m) => m.split('.').every((o) => Number(o) <= 255)],
  ['CRYPTO_WALLET', /\b0x[0-9a-fA-F]{40}\b|\bbc1q[02-9ac-hj-np-z]{38}\b/g, () => true],
];
export function auditLeaks(rows) {
  const hits = [];
  rows.forEach((r, i) => {
    const buf = Buffer.from(r.text, 'utf8');
    for (const s of r.spans) buf.fill(0x20, s.start, s.end);
    const outside = buf.toString('utf8');
    // IBAN-shaped strings (valid ones are caught by the IBAN rule) are blanked for the other rules
    const noIban = outside.replace(/\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g, (m) => ' '.repeat(m.length));
    for (const [name, re, ok] of LEAKS) {
      for (const m of (name === 'IBAN' ? outside : noIban).matchAll(re)) if (ok(m[0])) hits.push(`line ${i + 1}: unlabeled ${name}-like ${JSON.stringify(m[0])}`);
    }
  });
  return hits;
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------
function selfTest() {
  const e = [];
  if (keccak256('') !== 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470') e.push('keccak256("")');
  if (eip55('5aaeb6053f3e94c9b9a09f33669435e7ef1beaed') !== '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed') e.push('eip55');
  if (!walletOk('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2') || !walletOk('3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy')) e.push('base58check');
  if (!walletOk('bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq')) e.push('bech32');
  if (!ibanOk('DE89370400440532013000') || !ibanOk('GB82 WEST 1234 5698 7654 32')) e.push('iban');
  if (!nhsOk('943 476 5919') || !npiOk('1234567893') || !abaOk('011000015')) e.push('nhs/npi/aba');
  return e;
}
function parseArgs(argv) {
  const a = { seed: 42, lines: 12000, out: null, stats: false, check: false, verify: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--seed') a.seed = Number(argv[++i]);
    else if (k === '--lines') a.lines = Number(argv[++i]);
    else if (k === '--out') a.out = argv[++i];
    else if (k === '--stats') a.stats = true;
    else if (k === '--check') a.check = true;
    else if (k === '--verify') a.verify = argv[++i];
    else if (k === '-h' || k === '--help') { a.help = true; }
    else throw new Error(`unknown argument ${k}`);
  }
  if (!Number.isInteger(a.seed) || a.seed < 0 || a.seed > 0xffffffff) throw new Error('--seed must be an integer in [0, 2^32)');
  if (!Number.isInteger(a.lines) || a.lines < 0) throw new Error('--lines must be a non-negative integer');
  return a;
}
function readJsonl(file) {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
}
function printStats(rows, negCounts) {
  const ent = Object.fromEntries(ENTITIES.map((e) => [e, 0]));
  const kinds = Object.fromEntries(KINDS.map((k) => [k, 0]));
  let empty = 0;
  for (const r of rows) { kinds[r.kind]++; if (!r.spans.length) empty++; for (const s of r.spans) ent[s.entity]++; }
  const total = Object.values(ent).reduce((a, b) => a + b, 0);
  const w = (s) => s.padEnd(20);
  let o = `lines: ${rows.length} (no entity: ${empty}, ${(100 * empty / Math.max(1, rows.length)).toFixed(1)}%)\nentity spans: ${total}\n`;
  for (const e of ENTITIES) o += `  ${w(e)} ${ent[e]}\n`;
  o += 'kinds:\n'; for (const k of KINDS) o += `  ${w(k)} ${kinds[k]}\n`;
  if (negCounts) {
    const nt = Object.values(negCounts).reduce((a, b) => a + b, 0);
    o += `hard negatives (unlabeled): ${nt}\n`;
    for (const k of Object.keys(NEG)) o += `  ${w(k)} ${negCounts[k] || 0}\n`;
  }
  process.stderr.write(o);
}
function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.help) {
    process.stdout.write('usage: node generate.mjs --seed N --lines N --out FILE [--stats] [--check]\n       node generate.mjs --verify FILE [--stats]\n');
    return 0;
  }
  const st = selfTest();
  if (st.length) { process.stderr.write(`self-test failed: ${st.join(', ')}\n`); return 1; }
  if (a.verify) {
    const rows = readJsonl(a.verify);
    const errs = checkRows(rows).concat(auditLeaks(rows).slice(0, 50));
    if (a.stats) printStats(rows, null);
    if (errs.length) { process.stderr.write(errs.join('\n') + '\ncheck: FAILED\n'); return 1; }
    process.stderr.write(`check: ${rows.length} lines OK\n`);
    return 0;
  }
  const { rows, negCounts, expects } = generate(a.seed, a.lines);
  const body = rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
  if (a.out) { mkdirSync(dirname(a.out), { recursive: true }); writeFileSync(a.out, body); } else if (!a.check) process.stdout.write(body);
  if (a.stats) printStats(rows, negCounts);
  if (a.check) {
    const reread = a.out ? readJsonl(a.out) : body.split('\n').filter((l) => l).map((l) => JSON.parse(l));
    const errs = checkRows(reread, expects).concat(auditLeaks(reread).slice(0, 50));
    if (reread.length !== rows.length) errs.push(`line count ${reread.length} != ${rows.length}`);
    if (errs.length) { process.stderr.write(errs.join('\n') + '\ncheck: FAILED\n'); return 1; }
    process.stderr.write(`check: ${reread.length} lines OK\n`);
  }
  return 0;
}
process.exitCode = main();
