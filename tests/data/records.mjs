// Labeled records in formats that standards and tools define, not this project: vCard 3 and 4
// (RFC 6350), LDIF (RFC 2849), iCalendar (RFC 5545), HL7 v2 PID and NK1 segments, FHIR Patient
// JSON and XML, X12 837 NM1/N3/N4/DMG, RFC 5322 headers, web forms, XML, YAML, git commits, JSON, the
// same keys as languages and frameworks serialise them (Python, Java, Go, PHP, Ruby, Rails
// params, TOML, .env, SQL, GraphQL, HTML inputs, ISO 20022), and CSV with a header (--only
// csvhdr). Values from chance.js and fakerator (10 locales), as in
// outside.mjs. A name split over fields (family, given, middle initial) is labeled field by field.
//
//   node records.mjs --seed N --lines N --out FILE [--only vcard,hl7,…]
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
const require = createRequire(import.meta.url);
const Chance = require('chance');
const Fakerator = require('fakerator');
const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? process.argv[i + 1] : d; };
const seed = Number(arg('seed', '1'));
const lines = Number(arg('lines', '1200'));
const out = arg('out', '/dev/stdout');
const only = arg('only', '');
const c = new Chance(seed);
const locales = ['de-DE', 'fr-FR', 'it-IT', 'es-ES', 'nl-NL', 'pl-PL', 'sv-SE', 'en-AU', 'en-CA', 'pt-BR'];
const fk = Object.fromEntries(locales.map((l) => [l, Fakerator(l)]));
locales.forEach((l) => fk[l].seed(seed));

function person() {
  if (c.bool({ likelihood: 55 })) {
    const first = c.first(), last = c.last();
    return { first, middle: c.character({ alpha: true, casing: 'upper' }), last,
      phone: c.pickone([() => c.phone(), () => c.phone({ formatted: false }), () => c.phone().replace(/[()]/g, '').replace(' ', '-')])(),
      email: c.email(), street: c.address({ short_suffix: c.bool() }), city: c.city(), zip: c.zip(), state: c.state(),
      dob: c.birthday(), ssn: c.ssn({ dashes: c.bool() }) };
  }
  const f = fk[c.pickone(locales)];
  let street;
  do street = f.address.street(); while (street.includes('{'));
  let email;
  do email = f.internet.email(); while (!/^[^.@\s][^@\s]*@[^@\s]+\.[a-z]{2,}$/i.test(email));
  return { first: f.names.firstName(), middle: c.character({ alpha: true, casing: 'upper' }), last: f.names.lastName(),
    phone: f.phone.number(), email, street, city: f.address.city(), zip: f.address.postCode(), state: c.state(),
    dob: c.birthday(), ssn: c.ssn({ dashes: c.bool() }) };
}
const pad = (n, k = 2) => String(n).padStart(k, '0');
const ymd = (d, sep = '-') => `${d.getFullYear()}${sep}${pad(d.getMonth() + 1)}${sep}${pad(d.getDate())}`;

// A record: pieces, labeled ones as [value, entity].
const T = {
  vcard: (p) => ['BEGIN:VCARD\nVERSION:3.0\nN:', [p.last, 'PERSON_NAME'], ';', [p.first, 'PERSON_NAME'], ';;;\nFN:', [`${p.first} ${p.last}`, 'PERSON_NAME'],
    `\nORG:${c.company()}\nTEL;TYPE=CELL:`, [p.phone, 'PHONE'], '\nADR;TYPE=HOME:;;', [p.street, 'STREET_ADDRESS'], `;${p.city};${p.state};${p.zip};USA\nEMAIL:`, [p.email, 'EMAIL'],
    '\nBDAY:', [ymd(p.dob), 'DATE_OF_BIRTH'], '\nEND:VCARD'],
  vcard4: (p) => ['BEGIN:VCARD\nVERSION:4.0\nFN:', [`${p.first} ${p.last}`, 'PERSON_NAME'], '\nN:', [p.last, 'PERSON_NAME'], ';', [p.first, 'PERSON_NAME'], ';;;\nTEL;VALUE=uri;TYPE="voice,home":tel:', [p.phone, 'PHONE'], '\nEMAIL;TYPE=work:', [p.email, 'EMAIL'], '\nEND:VCARD'],
  ldif: (p) => [`dn: uid=${c.word()}${c.integer({ min: 1, max: 99 })},ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\ncn: `, [`${p.first} ${p.last}`, 'PERSON_NAME'], '\nsn: ', [p.last, 'PERSON_NAME'], '\ngivenName: ', [p.first, 'PERSON_NAME'],
    '\nmail: ', [p.email, 'EMAIL'], '\ntelephoneNumber: ', [p.phone, 'PHONE'], '\nstreet: ', [p.street, 'STREET_ADDRESS'], `\nl: ${p.city}\npostalCode: ${p.zip}`],
  ical: (p) => [`BEGIN:VEVENT\nUID:${c.guid()}\nDTSTART:20240305T100000Z\nSUMMARY:${c.sentence({ words: 3 }).replace('.', '')}\nORGANIZER;CN=`, [`${p.first} ${p.last}`, 'PERSON_NAME'], ':mailto:', [p.email, 'EMAIL'],
    '\nATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=', [`${p.first} ${p.last}`, 'PERSON_NAME'], ':mailto:', [p.email, 'EMAIL'], '\nEND:VEVENT'],
  hl7: (p) => [`MSH|^~\\&|EPIC|HOSP|LAB|HOSP|20240305101112||ADT^A01|MSG${c.integer({ min: 10000, max: 99999 })}|P|2.5\rPID|1||${c.integer({ min: 100000, max: 999999 })}^^^MRN^MR||`,
    [p.last.toUpperCase(), 'PERSON_NAME'], '^', [p.first.toUpperCase(), 'PERSON_NAME'], '^', [p.middle, 'PERSON_NAME'], '||', [ymd(p.dob, ''), 'DATE_OF_BIRTH'], `|${c.pickone(['M', 'F'])}|||`,
    [p.street.toUpperCase(), 'STREET_ADDRESS'], `^^${p.city.toUpperCase()}^${p.state}^${p.zip}||`, [p.phone, 'PHONE'], '|||S||', `${c.integer({ min: 1e7, max: 9e7 })}|`, [p.ssn, 'US_SSN'], '|'],
  hl7nk1: (p) => ['NK1|1|', [p.last.toUpperCase(), 'PERSON_NAME'], '^', [p.first.toUpperCase(), 'PERSON_NAME'], '|SPO^Spouse|', [p.street, 'STREET_ADDRESS'], `^^${p.city}^${p.state}^${p.zip}|`, [p.phone, 'PHONE']],
  fhir: (p) => ['{"resourceType":"Patient","id":"', c.guid(), '","name":[{"use":"official","family":"', [p.last, 'PERSON_NAME'], '","given":["', [p.first, 'PERSON_NAME'], '"]}],"telecom":[{"system":"phone","value":"', [p.phone, 'PHONE'],
    '","use":"mobile"},{"system":"email","value":"', [p.email, 'EMAIL'], '"}],"gender":"', c.pickone(['male', 'female']), '","birthDate":"', [ymd(p.dob), 'DATE_OF_BIRTH'], '","address":[{"line":["', [p.street, 'STREET_ADDRESS'], `"],"city":"${p.city}","postalCode":"${p.zip}"}]}`],
  fhirxml: (p) => ['<Patient xmlns="http://hl7.org/fhir"><name><use value="official"/><family value="', [p.last, 'PERSON_NAME'], '"/><given value="', [p.first, 'PERSON_NAME'], '"/></name><birthDate value="', [ymd(p.dob), 'DATE_OF_BIRTH'], '"/><address><line value="', [p.street, 'STREET_ADDRESS'], `"/><city value="${p.city}"/></address></Patient>`],
  x12: (p) => ['NM1*IL*1*', [p.last.toUpperCase(), 'PERSON_NAME'], '*', [p.first.toUpperCase(), 'PERSON_NAME'], '*', [p.middle, 'PERSON_NAME'], `***MI*${c.integer({ min: 1e8, max: 9e8 })}~N3*`, [p.street.toUpperCase(), 'STREET_ADDRESS'], `~N4*${p.city.toUpperCase()}*${p.state}*${p.zip}~DMG*D8*`, [ymd(p.dob, ''), 'DATE_OF_BIRTH'], '*M~'],
  mailhdr: (p) => ['From: "', [`${p.last}, ${p.first}`, 'PERSON_NAME'], '" <', [p.email, 'EMAIL'], `>\nTo: support team\nSubject: ${c.sentence({ words: 4 })}\nReply-To: `, [`${p.first} ${p.last}`, 'PERSON_NAME'], ' <', [p.email, 'EMAIL'], '>'],
  form: (p) => ['first_name=', [p.first.replace(/ /g, '+'), 'PERSON_NAME'], '&last_name=', [p.last.replace(/ /g, '+'), 'PERSON_NAME'], '&email=', [p.email.replace('@', '%40'), 'EMAIL'], '&phone=', [encodeURIComponent(p.phone).replace(/%20/g, '+'), 'PHONE'], '&dob=', [ymd(p.dob), 'DATE_OF_BIRTH']],
  xml: (p) => ['<Customer id="', String(c.integer({ min: 1, max: 99999 })), '"><FirstName>', [p.first, 'PERSON_NAME'], '</FirstName><LastName>', [p.last, 'PERSON_NAME'], '</LastName><Phone>', [p.phone, 'PHONE'], '</Phone><DateOfBirth>', [ymd(p.dob), 'DATE_OF_BIRTH'], '</DateOfBirth><SSN>', [p.ssn, 'US_SSN'], '</SSN><Street>', [p.street, 'STREET_ADDRESS'], '</Street></Customer>'],
  yaml: (p) => ['customer:\n  first_name: ', [p.first, 'PERSON_NAME'], '\n  last_name: ', [p.last, 'PERSON_NAME'], '\n  phone: "', [p.phone, 'PHONE'], '"\n  address:\n    street: ', [p.street, 'STREET_ADDRESS'], `\n    city: ${p.city}\n  date_of_birth: `, [ymd(p.dob), 'DATE_OF_BIRTH']],
  git: (p) => [`commit ${c.hash({ length: 40 })}\nAuthor: `, [`${p.first} ${p.last}`, 'PERSON_NAME'], ' <', [p.email, 'EMAIL'], `>\nDate:   Tue Mar 5 10:11:12 2024 +0100\n\n    ${c.sentence({ words: 5 })}\n\n    Signed-off-by: `, [`${p.first} ${p.last}`, 'PERSON_NAME'], ' <', [p.email, 'EMAIL'], '>'],
  json: (p) => ['{"firstName":"', [p.first, 'PERSON_NAME'], '","lastName":"', [p.last, 'PERSON_NAME'], '","phoneNumber":"', [p.phone, 'PHONE'], '","birthDate":"', [ymd(p.dob), 'DATE_OF_BIRTH'], '"}'],
  // The same keys as languages, frameworks and protocols serialise them.
  pydict: (p) => ["{'first_name': '", [p.first, 'PERSON_NAME'], "', 'last_name': '", [p.last, 'PERSON_NAME'], "'}"],
  pyrepr: (p) => ["Customer(first_name='", [p.first, 'PERSON_NAME'], "', last_name='", [p.last, 'PERSON_NAME'], "', phone='", [p.phone, 'PHONE'], "')"],
  javatostring: (p) => ["User{firstName='", [p.first, 'PERSON_NAME'], "', lastName='", [p.last, 'PERSON_NAME'], "'}"],
  gostruct: (p) => ['{FirstName:', [p.first, 'PERSON_NAME'], ' LastName:', [p.last, 'PERSON_NAME'], '}'],
  htmlinput: (p) => ['<input type="text" name="first_name" value="', [p.first, 'PERSON_NAME'], '"><input type="text" name="last_name" value="', [p.last, 'PERSON_NAME'], '">'],
  xmlattr: (p) => ['<name first="', [p.first, 'PERSON_NAME'], '" last="', [p.last, 'PERSON_NAME'], '"/>'],
  xmlns: (p) => ['<ns2:FirstName>', [p.first, 'PERSON_NAME'], '</ns2:FirstName><ns2:LastName>', [p.last, 'PERSON_NAME'], '</ns2:LastName>'],
  railsparams: (p) => ['user[first_name]=', [p.first, 'PERSON_NAME'], '&user[last_name]=', [p.last, 'PERSON_NAME'], '&commit=Save'],
  phpserial: (p) => [`a:2:{s:10:"first_name";s:${Buffer.byteLength(p.first)}:"`, [p.first, 'PERSON_NAME'], `";s:9:"last_name";s:${Buffer.byteLength(p.last)}:"`, [p.last, 'PERSON_NAME'], '";}'],
  toml: (p) => ['[customer]\nfirst_name = "', [p.first, 'PERSON_NAME'], '"\nlast_name = "', [p.last, 'PERSON_NAME'], '"'],
  env: (p) => ['FIRST_NAME=', [p.first, 'PERSON_NAME'], '\nLAST_NAME=', [p.last, 'PERSON_NAME']],
  sqlupdate: (p) => ["UPDATE customers SET first_name = '", [p.first, 'PERSON_NAME'], "', last_name = '", [p.last.replace(/'/g, "''"), 'PERSON_NAME'], "' WHERE id = 42;"],
  sqlwhere: (p) => ["SELECT * FROM customers WHERE last_name = '", [p.last.replace(/'/g, "''"), 'PERSON_NAME'], "' AND first_name='", [p.first, 'PERSON_NAME'], "'"],
  spacedjson: (p) => ['{ "first_name" : "', [p.first, 'PERSON_NAME'], '" , "last_name" : "', [p.last, 'PERSON_NAME'], '" }'],
  dotted: (p) => ['customer.firstName=', [p.first, 'PERSON_NAME'], ' customer.lastName=', [p.last, 'PERSON_NAME'], ' status=active'],
  graphql: (p) => ['mutation { createUser(firstName: "', [p.first, 'PERSON_NAME'], '", lastName: "', [p.last, 'PERSON_NAME'], '") { id } }'],
  randomuser: (p) => ['{"gender":"female","name":{"title":"Ms","first":"', [p.first, 'PERSON_NAME'], '","last":"', [p.last, 'PERSON_NAME'], '"},"cell":"', [p.phone, 'PHONE'], '"}'],
  rubyhash: (p) => [':first_name => "', [p.first, 'PERSON_NAME'], '", :last_name => "', [p.last, 'PERSON_NAME'], '"'],
  contacts: (p) => ['{"contact":{"givenName":"', [p.first, 'PERSON_NAME'], '","familyName":"', [p.last, 'PERSON_NAME'], '","phoneNumbers":[{"label":"mobile","number":"', [p.phone, 'PHONE'], '"}]}}'],
  iso20022: (p) => ['<Dbtr><Nm>', [`${p.first} ${p.last}`, 'PERSON_NAME'], '</Nm><PstlAdr><StrtNm>', [p.street, 'STREET_ADDRESS'], '</StrtNm></PstlAdr></Dbtr>'],
  // A person's record by its other keys, a person's role by its key.
  namerecord: (p) => [`{"id":${c.integer({ min: 1, max: 99999 })},"name":"`, [p.last, 'PERSON_NAME'], '","email":"', [p.email, 'EMAIL'], '"}'],
  roles: (p) => [`{"ticket":${c.integer({ min: 1, max: 9999 })},"owner":"`, [`${p.first} ${p.last}`, 'PERSON_NAME'], '","recipient":"', [p.first, 'PERSON_NAME'], '"}'],
  csvhdr: (p) => ['first_name,last_name,phone,dob\n', [p.first, 'PERSON_NAME'], ',', [p.last, 'PERSON_NAME'], ',', [p.phone, 'PHONE'], ',', [ymd(p.dob), 'DATE_OF_BIRTH']],
};
// csvhdr (a header line, then values with no context of their own) is left out by default:
// the engine reads one line at a time and does not carry a header to the lines after it.
const names = only ? only.split(',') : Object.keys(T).filter((k) => k !== 'csvhdr');
const rows = [];
for (let i = 0; i < lines; i++) {
  const kind = names[i % names.length];
  const parts = T[kind](person());
  let text = '';
  const spans = [];
  for (const x of parts) {
    if (typeof x === 'string') { text += x; continue; }
    const [v, entity] = x;
    spans.push({ start: Buffer.byteLength(text), end: Buffer.byteLength(text + v), entity });
    text += v;
  }
  rows.push(JSON.stringify({ text, spans, kind: 'text', gen: `records/${kind}` }));
}
writeFileSync(out, rows.join('\n') + '\n');
