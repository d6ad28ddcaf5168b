#!/usr/bin/env node
// Labeled person names from the world, for the names stage: faker locales that generate.mjs does
// not use (Vietnamese, Indonesian, Nordic, Central European, West and South African, Cyrillic,
// Greek, CJK, Arabic, Hebrew, Persian, Thai, Georgian), in ticket, CRM and chat sentences, plus
// hard negatives from the same locales: companies, cities, streets and products, capitalised as
// names are. Same output format as generate.mjs (README.md): UTF-8 byte offsets, kind "text".
//
//   node tests/data/names_world.mjs --seed 7 --per-locale 60 --out FILE
//
// With --native: names written in their own scripts after their own languages' labels and
// titles instead, and addresses and phones after their labels: "姓名：王秀英", "お名前: 林 ゆかり 様", "이름: 천주영", "ФИО: Орлов Пимен",
// "العميل: وسيم عنون", "מר יצחק שוחט", "ชื่อ: ณัฐธิชา ศิริกุล". The sentences are forms, tickets
// and letters as people in those languages write them; hard negatives are cities after place
// labels, companies in sentences, and the same labels before values that are no name (a
// company's legal form, "unknown", a sentence that goes on after the label word).
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

// For each locale: how a full name is written (surname first, with or without a space), the
// templates around a name ({n}), and those around a city ({c}) or a company ({o}) or none.
const NATIVE = {
  ZH_CN: {
    order: 'last-first-tight',
    names: ['姓名：{n}', '客户：{n}，订单已发货', '联系人：{n}', '收件人：{n}', '尊敬的{n}先生：',
      '患者：{n}，复诊时间待定', '负责人: {n}', '经办人：{n}'],
    negatives: ['所在城市：{c}', '订单已从{c}仓库发出。', '供应商{o}已确认。', '客户要求退款，请尽快处理。',
      '用户反馈：系统很慢', '客户：未知', '姓名不能为空'],
  },
  ZH_TW: {
    order: 'last-first-tight',
    names: ['姓名：{n}', '客戶：{n}', '聯絡人：{n}', '尊敬的{n}女士：', '收件人：{n}'],
    negatives: ['城市：{c}', '訂單已從{c}出貨。', '客戶服務中心週末休息。'],
  },
  JA: {
    order: 'last-first-spaced',
    names: ['氏名：{n}', 'お名前: {n} 様', '担当者：{n}', '宛名：{n}', '契約者：{n}'],
    negatives: ['所在地：{c}', '会社名：{o}', '担当者：未定', 'お名前：なし'],
  },
  KO: {
    order: 'last-first-tight',
    names: ['이름: {n}', '성명: {n}', '고객: {n} 님', '담당자: {n}', '수령인: {n}'],
    negatives: ['주소: {c}', '회사: {o}', '고객 서비스 센터 안내', '담당자: 미정'],
  },
  RU: {
    order: 'first-last',
    names: ['ФИО: {n}', 'Клиент: {n}', 'Уважаемый {n}!', 'Получатель: {n}', 'Пациент: {n}, приём в 10:00'],
    negatives: ['Город: {c}', 'Клиент: {o}', 'Фамилия: не указана', 'Клиент: нет'],
  },
  UK: {
    order: 'first-last',
    names: ['ПІБ: {n}', 'Клієнт: {n}', 'Шановний {n}!', "Ім'я: {n}", 'Отримувач: {n}'],
    negatives: ['Місто: {c}', 'Клієнт: {o}'],
  },
  EL: {
    order: 'first-last',
    names: ['Όνομα: {n}', 'Πελάτης: {n}', 'Αγαπητέ {n},', 'Ονοματεπώνυμο: {n}', 'Ασθενής: {n}'],
    negatives: ['Πόλη: {c}', 'Η παραγγελία από {o} καθυστερεί.', 'Πελάτης: Άγνωστο'],
  },
  AR: {
    order: 'first-last',
    names: ['الاسم: {n}', 'العميل: {n}', 'السيد {n}', 'عزيزي {n}،', 'المريض: {n}'],
    negatives: ['المدينة: {c}', 'الطلب من {o} متأخر', 'العميل: لا يوجد'],
  },
  HE: {
    order: 'first-last',
    names: ['שם: {n}', 'לקוח: {n}', 'מר {n}', 'נמען: {n}', 'שם מלא: {n}'],
    negatives: ['עיר: {c}', 'ההזמנה של {o} התעכבה', 'הוא אמר שהוא יבוא מחר'],
  },
  FA: {
    order: 'first-last',
    names: ['نام: {n}', 'مشتری: {n}', 'آقای {n}', 'خانم {n}', 'بیمار: {n}'],
    negatives: ['شهر: {c}', 'سفارش از {o} تاخیر دارد'],
  },
  TH: {
    order: 'first-last',
    names: ['ชื่อ: {n}', 'ลูกค้า: {n}', 'ผู้รับ: {n}', 'ชื่อ-นามสกุล: {n}'],
    negatives: ['จังหวัด: {c}', 'ลูกค้าพอใจมาก'],
  },
  UR: {
    order: 'first-last',
    names: ['نام: {n}', 'گاہک: {n}', 'جناب {n}', 'مریض: {n}'],
    negatives: ['شہر: {c}'],
  },
  KA_GE: {
    order: 'first-last',
    names: ['სახელი: {n}', 'კლიენტი: {n}', 'პაციენტი: {n}'],
    negatives: ['ქალაქი: {c}'],
  },
  HY: {
    order: 'first-last',
    names: ['Անուն: {n}', 'Հաճախորդ: {n}'],
    negatives: ['Քաղաք: {c}'],
  },
};

// Addresses and phones of the same locales after their languages' labels: {a} is the address
// as the locale writes it (city and street in its order), {p} a phone as faker formats it.
const NATIVE_CONTACT = {
  ZH_CN: { address: ['地址：{city}{street}', '收货地址：{city}{street}，请尽快发货'],
    phone: ['电话：{p}', '手机号：{p}'], none: ['地址：未知', '地址：0x7ffd5e8c'] },
  ZH_TW: { address: ['地址：{city}{street}'], phone: ['電話：{p}'], none: ['地址：不詳'] },
  JA: { address: ['住所：{city}{street}', '〒{zip} {city}{street}'], phone: ['電話番号：{p}'],
    none: ['住所：未定'] },
  KO: { address: ['주소: {city} {street}'], phone: ['연락처: {p}', '휴대폰 {p}'], none: ['주소: 미정'] },
  RU: { address: ['Адрес: г. {city}, {street}'], phone: ['Телефон: {p}', 'тел. {p}'],
    none: ['Адрес: не указан', 'адрес: 0x%08x, размер: %u'] },
  UK: { address: ['Адреса: м. {city}, {street}'], phone: ['Телефон: {p}'], none: ['Адреса: немає'] },
  EL: { address: ['Διεύθυνση: {street}, {city}'], phone: ['Τηλ: {p}', 'τηλέφωνο {p}'],
    none: ['Διεύθυνση: Άγνωστο'] },
  AR: { address: ['العنوان: {street}، {city}'], phone: ['هاتف: {p}', 'الجوال {p}'],
    none: ['العنوان: لا يوجد'] },
  HE: { address: ['כתובת: {street}, {city}'], phone: ['טלפון: {p}'], none: ['כתובת: אין'] },
  FA: { address: ['آدرس: {city}، {street}'], phone: ['تلفن: {p}'], none: [] },
  TH: { address: ['ที่อยู่: {street} {city}'], phone: ['โทร: {p}'], none: ['ที่อยู่: ไม่มี'] },
  UR: { address: ['پتہ: {street}، {city}'], phone: ['فون: {p}'], none: [] },
  KA_GE: { address: ['მისამართი: {street}, {city}'], phone: ['ტელეფონი: {p}'], none: [] },
  HY: { address: ['Հասցե: {street}, {city}'], phone: ['Հեռախոս: {p}'], none: [] },
};

// Birth dates: the labels, and how the locale writes a date (Thailand's Buddhist-era years
// are left out: the engine reads Gregorian years).
const NATIVE_DOB = {
  ZH_CN: { labels: ['出生日期：{d}', '生日：{d}'], format: 'cjk' },
  ZH_TW: { labels: ['出生日期：{d}'], format: 'cjk' },
  JA: { labels: ['生年月日：{d}'], format: 'cjk' },
  KO: { labels: ['생년월일: {d}'], format: 'ko' },
  RU: { labels: ['Дата рождения: {d}'], format: 'dots' },
  UK: { labels: ['Дата народження: {d}'], format: 'dots' },
  EL: { labels: ['Ημερομηνία γέννησης: {d}'], format: 'slashes' },
  AR: { labels: ['تاريخ الميلاد: {d}'], format: 'slashes' },
  HE: { labels: ['תאריך לידה: {d}'], format: 'dots' },
  FA: { labels: ['تاریخ تولد: {d}'], format: 'slashes' },
  TH: { labels: ['วันเกิด: {d}'], format: 'slashes' },
  UR: { labels: ['تاریخ پیدائش: {d}'], format: 'slashes' },
  KA_GE: { labels: ['დაბადების თარიღი: {d}'], format: 'dots' },
  HY: { labels: ['Ծննդյան ամսաթիվ: {d}'], format: 'dots' },
};

function args() {
  const a = { seed: 7, perLocale: 60, out: null, native: false };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--seed') a.seed = Number(v[++i]);
    else if (v[i] === '--per-locale') a.perLocale = Number(v[++i]);
    else if (v[i] === '--out') a.out = v[++i];
    else if (v[i] === '--native') a.native = true;
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
if (a.native) {
  for (const [loc, spec] of Object.entries(NATIVE)) {
    const f = F[`faker${loc}`];
    if (!f) throw new Error(`faker has no locale ${loc}`);
    f.seed(a.seed);
    for (let i = 0; i < a.perLocale; i++) {
      const sex = f.helpers.arrayElement(['female', 'male']);
      const first = f.person.firstName(sex).trim();
      const last = f.person.lastName(sex).trim();
      const name = spec.order === 'last-first-tight' ? `${last}${first}`
        : spec.order === 'last-first-spaced' ? `${last} ${first}` : `${first} ${last}`;
      const r = render(f.helpers.arrayElement(spec.names), '{n}', name);
      lines.push({ text: r.text, spans: [{ start: r.start, end: r.end, entity: 'PERSON_NAME' }],
                   kind: 'text', locale: loc });
      if (i % 2 === 0) {
        const t = f.helpers.arrayElement(spec.negatives);
        let o;
        try {
          o = f.company.name();
        } catch {
          o = f.location.city();
        }
        const text = t.replace('{c}', f.location.city()).replace('{o}', o);
        lines.push({ text, spans: [], kind: 'text', locale: loc });
      }
    }
    // Reseeded: the names above stay what they were before these lines were added.
    const contact = NATIVE_CONTACT[loc];
    f.seed(a.seed + 1);
    for (let i = 0; i < a.perLocale / 2; i++) {
      const addr = f.helpers.arrayElement(contact.address);
      const value = addr.slice(addr.search(/[{〒]/) + (addr.startsWith('〒') ? 1 : 0))
        .replace('{city}', f.location.city()).replace('{street}', f.location.streetAddress(i % 2 === 0))
        .replace('{zip}', f.location.zipCode());
      const prefix = addr.slice(0, addr.search(/[{〒]/) + (addr.startsWith('〒') ? 1 : 0));
      const tail = value.indexOf('，') >= 0 ? value.slice(value.indexOf('，')) : '';
      const a1 = tail ? value.slice(0, value.indexOf('，')) : value;
      const start = Buffer.byteLength(prefix, 'utf8');
      lines.push({ text: prefix + a1 + tail,
                   spans: [{ start, end: start + Buffer.byteLength(a1, 'utf8'),
                             entity: 'STREET_ADDRESS' }], kind: 'text', locale: loc });
      const r = render(f.helpers.arrayElement(contact.phone), '{p}', f.phone.number());
      lines.push({ text: r.text, spans: [{ start: r.start, end: r.end, entity: 'PHONE' }],
                   kind: 'text', locale: loc });
      if (contact.none.length && i % 3 === 0)
        lines.push({ text: f.helpers.arrayElement(contact.none), spans: [], kind: 'text',
                     locale: loc });
    }
    // Birth dates after the languages' labels, written as each writes a date.
    f.seed(a.seed + 2);
    for (let i = 0; i < a.perLocale / 4; i++) {
      const d = f.date.birthdate({ min: 18, max: 90, mode: 'age' });
      const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
      const p2 = (x) => String(x).padStart(2, '0');
      const value = NATIVE_DOB[loc].format === 'cjk' ? `${y}年${m}月${day}日`
        : NATIVE_DOB[loc].format === 'ko' ? `${y}년 ${m}월 ${day}일`
        : NATIVE_DOB[loc].format === 'dots' ? `${p2(day)}.${p2(m)}.${y}` : `${p2(day)}/${p2(m)}/${y}`;
      const r = render(f.helpers.arrayElement(NATIVE_DOB[loc].labels), '{d}', value);
      lines.push({ text: r.text, spans: [{ start: r.start, end: r.end, entity: 'DATE_OF_BIRTH' }],
                   kind: 'text', locale: loc });
    }
  }
} else {
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
}
const out = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
if (a.out) writeFileSync(a.out, out);
else process.stdout.write(out);
