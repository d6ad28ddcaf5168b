#!/usr/bin/python3
"""Contact data from a second generator this project does not shape: Python's Faker (Debian's
python3-fake-factory), 44 locales, each value as that locale's provider writes it (names,
phone_number(), street_address(), ssn(), email(), date_of_birth()), in contact, ticket, CRM and
JSON templates, with companies, catch phrases, sentences and cities of the same locales as
hard negatives. Same output format as generate.mjs (README.md): UTF-8 byte offsets, kind
"text". A name's span leaves out the titles and degrees Faker puts around it ("Dr.", "Univ.Prof.",
"PhD", "B.Sc."): masking them is no requirement.

    /usr/bin/python3 tests/data/pyfaker_contacts.py --seed 1 --out FILE
"""

import argparse
import json
import random
import re

from faker import Faker

LOCALES = ['en_US', 'en_GB', 'en_CA', 'en_AU', 'de_DE', 'de_AT', 'fr_FR', 'es_ES', 'es_MX',
           'it_IT', 'pt_BR', 'pt_PT', 'nl_NL', 'pl_PL', 'cs_CZ', 'sv_SE', 'no_NO', 'dk_DK',
           'fi_FI', 'hu_HU', 'ru_RU', 'uk_UA', 'tr_TR', 'ro_RO', 'hr_HR', 'sk_SK', 'sl_SI',
           'lt_LT', 'lv_LV', 'et_EE', 'bg_BG', 'el_GR', 'ja_JP', 'zh_CN', 'zh_TW', 'ko_KR',
           'hi_IN', 'id_ID', 'th_TH', 'fa_IR', 'ar_EG', 'he_IL', 'ne_NP', 'ka_GE']
TEMPLATES = [
    'Dear {name},',
    'member {name} ssn {ssn}',
    'Contact {name} at {phone} for details.',
    '{name} lives at {addr}.',
    'Customer {name} (DOB {dob}) called from {phone}',
    'Ship to: {addr}',
    '{name}, {email}, {phone}',
    '{{"name": "{name}", "phone": "{phone}", "address": "{addr}"}}',
    'Spoke with {name} today about the refund.',
    'Please call {phone} after 5pm.',
    'Thanks, {name}',
]
ENTITY = {'name': 'PERSON_NAME', 'ssn': 'US_SSN', 'phone': 'PHONE', 'addr': 'STREET_ADDRESS',
          'dob': 'DATE_OF_BIRTH', 'email': 'EMAIL'}
# Titles and degrees around a name, as Faker's locales write them.
TITLE = re.compile(r"^(?:[\w()]+\.[\w.]*|PhD|MD|DDS|DVM|MBA|Jr|Sr|II|III|IV|V|pani|pan|Herr|"
                   r"Frau|Mme|Mlle|M|Sig|Sig\.ra|Dott|Lic|Ing|Sr\(a\)\.?|Sra|Srta)$")


def name_span(name):
    """The name without the titles and degrees at its ends: (start, end) in characters."""
    words = [(m.start(), m.end()) for m in re.finditer(r'\S+', name)]
    keep = [w for w in words if not TITLE.match(name[w[0]:w[1]].rstrip(','))]
    if not keep:
        return 0, len(name)
    return keep[0][0], keep[-1][1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out')
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    lines = []
    for loc in LOCALES:
        f = Faker(loc)
        f.seed_instance(a.seed)
        for i in range(22):
            template = TEMPLATES[i % len(TEMPLATES)]
            v = {'name': f.name(), 'ssn': f.ssn(), 'phone': f.phone_number(),
                 'addr': f.street_address().replace('\n', ', '), 'email': f.email(),
                 'dob': f.date_of_birth().strftime(
                     rnd.choice(['%Y-%m-%d', '%m/%d/%Y', '%d.%m.%Y', '%B %d, %Y']))}
            text, spans, pos = '', [], 0
            for m in re.finditer(r'\{(\w+)\}|\{\{|\}\}', template):
                text += template[pos:m.start()]
                if m.group(0) in ('{{', '}}'):
                    text += m.group(0)[0]
                else:
                    key, value = m.group(1), v[m.group(1)]
                    b, e = (name_span(value) if key == 'name' else (0, len(value)))
                    start = len((text + value[:b]).encode())
                    spans.append({'start': start, 'end': start + len(value[b:e].encode()),
                                  'entity': ENTITY[key]})
                    text += value
                pos = m.end()
            text += template[pos:]
            lines.append({'text': text, 'spans': spans, 'kind': 'text', 'locale': loc})
        for _ in range(6):
            neg = rnd.choice([f.company, f.catch_phrase, f.sentence, f.city, f.job])()
            lines.append({'text': neg, 'spans': [], 'kind': 'text', 'locale': loc})
    out = '\n'.join(json.dumps(l, ensure_ascii=False) for l in lines) + '\n'
    if a.out:
        with open(a.out, 'w', encoding='utf-8') as fh:
            fh.write(out)
    else:
        print(out, end='')


if __name__ == '__main__':
    main()
