#include "masker/catalog.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

namespace veil::masker::catalog {
namespace {

using E = Entity;
using D = DbClass;
using R = Resolver;

// USPS Publication 28 street suffixes (full names and standard abbreviations: "Grv", "Vw",
// "Mnr", as US address data writes them) and the common British ones (Close, Garth, Croft, Wynd
// …), Australia's (Circuit, Esplanade, Parade's "Pde", Terrace's "Tce") and Link. Abbreviations
// that are English words or initials ("Is", "Un", "Br") are left out.
#define STREET_SUFFIX                                                                           \
  "(?:Alley|Aly|Annex|Arcade|Avenue|Ave|Bayou|Beach|Bend|Bluff|Bluffs|Bottom|Boulevard|Blvd|"   \
  "Branch|Bridge|Brook|Brooks|Burg|Burgs|Bypass|Camp|Canyon|Cape|Causeway|Center|Centre|"       \
  "Centers|Circle|Cir|Circles|Cliff|Cliffs|Club|Common|Commons|Corner|Corners|Course|Court|Ct|" \
  "Courts|Cove|Coves|Creek|Crescent|Crest|Crossing|Xing|Crossroad|Crossroads|Curve|Dale|Dam|"   \
  "Divide|Drive|Dr|Drives|Estate|Estates|Est|Expressway|Expy|Extension|Extensions|Fall|Falls|"  \
  "Ferry|Field|Fields|Flat|Flats|Ford|Fords|Forest|Forge|Forges|Fork|Forks|Fort|Ft|Freeway|"    \
  "Fwy|Garden|Gardens|Gateway|Glen|Glens|Green|Greens|Grove|Groves|Harbor|Harbour|Harbors|"     \
  "Haven|Heights|Hts|Highway|Hwy|Hill|Hills|Hollow|Inlet|Island|Islands|Isle|Junction|Jct|"     \
  "Junctions|Key|Keys|Knoll|Knolls|Lake|Lakes|Land|Landing|Lane|Ln|Light|Lights|Loaf|Lock|"     \
  "Locks|Lodge|Loop|Mall|Manor|Manors|Meadow|Meadows|Mews|Mill|Mills|Mission|Motorway|Mount|"   \
  "Mountain|Mountains|Neck|Orchard|Oval|Overpass|Park|Parks|Parkway|Pkwy|Parkways|Pass|"        \
  "Passage|Path|Pike|Pine|Pines|Place|Pl|Plain|Plains|Plaza|Plz|Point|Pt|Points|Port|Ports|"    \
  "Prairie|Radial|Ramp|Ranch|Rapid|Rapids|Rest|Ridge|Ridges|River|Road|Rd|Roads|Route|Rte|Row|" \
  "Rue|Run|Shoal|Shoals|Shore|Shores|Skyway|Spring|Springs|Spur|Spurs|Square|Sq|Squares|"       \
  "Station|Sta|Stravenue|Stream|Street|St|Streets|Summit|Terrace|Ter|Throughway|Trace|Track|"   \
  "Trafficway|Trail|Trl|Trailer|Tunnel|Turnpike|Tpke|Underpass|Union|Unions|Valley|Vly|"        \
  "Valleys|Via|Viaduct|View|Views|Village|Vlg|Villages|Ville|Vista|Vis|Walk|Walks|Wall|Way|"    \
  "Ways|Well|Wells|Close|Gate|Rise|Wharf|Yard|Parade|Garth|Croft|Chase|Wynd|Brae|Fold|"         \
  "Approach|Circus|Embankment|Vale|Dene|Bank|Leys|Hey|Side|End|Grange|Lea|Copse|Quay|Broadway|" \
  "Drove|Brow|Glade|Mead|Paddock|Wood|Woods|Brookside|Riverside|Lawn|Lawns|"                    \
  "Circuit|Cct|Esplanade|Esp|Pde|Tce|Link|Amble|Slope|Outlook|Retreat|Boardwalk|Concourse|"     \
  "Promenade|Nagar|Marg|Colony|Enclave|Chowk|"                                                  \
  "Anx|Arc|Bch|Bnd|Blf|Blfs|Btm|Brg|Brk|Brks|Byp|Cyn|Cpe|Cswy|Ctr|Ctrs|Cirs|Clf|Clfs|Cmn|"      \
  "Cmns|Cors|Crse|Cts|Cv|Cvs|Crk|Cres|Crst|Xrd|Xrds|Curv|Drs|Ests|Exts|Ext|Fls|Fry|Fld|Flds|"   \
  "Flt|Flts|Frd|Frds|Frst|Frg|Frgs|Frk|Frks|Gdn|Gdns|Gtwy|Gln|Glns|Grn|Grns|Grv|Grvs|Hbr|Hbrs|" \
  "Hvn|Hl|Hls|Holw|Inlt|Jcts|Kys|Knl|Knls|Lk|Lks|Lndg|Lgts|Lcks|Ldg|Mnr|Mnrs|Mdw|Mdws|Mls|"     \
  "Msn|Mtwy|Mt|Mtn|Mtns|Nck|Orch|Opas|Psge|Pne|Pnes|Pln|Plns|Pts|Prt|Prts|Radl|Rnch|Rpd|Rpds|"  \
  "Rst|Rdg|Rdgs|Riv|Rds|Shl|Shls|Shr|Shrs|Skwy|Spg|Spgs|Sqs|Stra|Strm|Sts|Smt|Trce|Trak|Trfy|"  \
  "Trlr|Tunl|Upas|Vdct|Vlys|Vw|Vws|Vlgs|Wls|Trwy)"

// Keyword patterns end at the keyword; the resolver skips `: `, `=`, `": "`, ` is `, `no.` …
#define KW_END ""
// Keyword boundaries: a word boundary, or '_' (provider_npi, nhs_number), or before the keyword
// a literal "\\n" escape (config text stored on one line).
#define KB "(?:\\b|_|\\\\[nrt])"
#define KE "(?:\\b|_|number|num|no\\b|id\\b)"

constexpr PatternSpec kPatterns[] = {
    // ---- literal-anchored: one match per occurrence of the literal ----
    // Internationalised addresses (RFC 6531: jürgen.müller@straße.de) have UTF-8 on either side.
    {"[A-Za-z0-9._%+\\-\\x80-\\xFF]@[A-Za-z0-9\\x80-\\xFF]", D::kLiteral, R::kEmail, E::kEmail, 0,
     0},
    // A quoted local part ("john doe"@example.com) and a domain that is an address literal
    // (user@[192.0.2.7], user@[IPv6:2001:db8::1]): RFC 5321's other forms.
    {"\"@[A-Za-z0-9\\x80-\\xFF]", D::kLiteral, R::kEmail, E::kEmail, 0, 0},
    {"[A-Za-z0-9._%+\\-\\x80-\\xFF]@\\[", D::kLiteral, R::kEmail, E::kEmail, 0, 0},
    {"eyJ[A-Za-z0-9_\\-]{10}", D::kLiteral, R::kFixedToken, E::kJwt, 13, 8192},
    {"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}", D::kLiteral,
     R::kFixedToken, E::kAwsAccessKey, 20, 0},
    {"AIza[A-Za-z0-9_\\-]{35}", D::kLiteral, R::kFixedToken, E::kGcpApiKey, 39, 0},
    {"gh[pousr]_[A-Za-z0-9]{36}", D::kLiteral, R::kFixedToken, E::kGithubToken, 40, 0},
    {"github_pat_[A-Za-z0-9_]{82}", D::kLiteral, R::kFixedToken, E::kGithubToken, 93, 0},
    {"xox[abposr]-[0-9A-Za-z]{4}", D::kLiteral, R::kFixedToken, E::kSlackToken, 9, 256},
    {"xapp-[0-9]-[0-9A-Za-z]{4}", D::kLiteral, R::kFixedToken, E::kSlackToken, 11, 256},
    {"[sr]k_live_[A-Za-z0-9]{16}", D::kLiteral, R::kFixedToken, E::kStripeKey, 24, 256},
    {"[sr]k_test_[A-Za-z0-9]{16}", D::kLiteral, R::kFixedToken, E::kStripeKey, 24, 256},
    {"sk-proj-[A-Za-z0-9_\\-]{16}", D::kLiteral, R::kFixedToken, E::kOpenAiApiKey, 24, 512},
    {"sk-svcacct-[A-Za-z0-9_\\-]{16}", D::kLiteral, R::kFixedToken, E::kOpenAiApiKey, 27, 512},
    {"sk-admin-[A-Za-z0-9_\\-]{16}", D::kLiteral, R::kFixedToken, E::kOpenAiApiKey, 25, 512},
    {"sk-[A-Za-z0-9]{20}T3BlbkFJ", D::kLiteral, R::kFixedToken, E::kOpenAiApiKey, 31, 51},
    // PEM and OpenSSH keys, and OpenPGP's armoured "PRIVATE KEY BLOCK".
    {"-----BEGIN[A-Z ]{0,24} PRIVATE KEY(?: BLOCK)?-----", D::kLiteral, R::kPrivateKey,
     E::kPrivateKey, 0, 0},
    {"://[^ \\t\\r\\n/?#@:]{0,128}:[^ \\t\\r\\n/?#@]{1,256}@", D::kLiteral, R::kUrlPassword,
     E::kPasswordInUrl, 0, 0},
    {"\\b0x[0-9a-fA-F]{40}", D::kLiteral, R::kFixedToken, E::kCryptoWallet, 42, 0},
    {"\\bbc1[02-9ac-hj-np-z]{8}", D::kLiteral, R::kFixedToken, E::kCryptoWallet, 11, 90},
    {"\\bBC1[02-9AC-HJ-NP-Z]{8}", D::kLiteral, R::kFixedToken, E::kCryptoWallet, 11, 90},
    // ---- API_TOKEN in shapes with inner structure (the rest are read by prefix in code:
    // TokenPrefixes below). A fixed-length core [to-len, to), extended over token characters. ----
    {"PMAK-[0-9a-f]{24}-[0-9a-f]{34}", D::kLiteral, R::kFixedToken, E::kApiToken, 64, 0},
    {"lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}", D::kLiteral, R::kFixedToken, E::kApiToken, 51, 0},
    {"glsa_[A-Za-z0-9]{32}_[0-9a-fA-F]{8}", D::kLiteral, R::kFixedToken, E::kApiToken, 46, 0},
    {"dt0c01\\.[A-Z0-9]{24}\\.[A-Z0-9]{64}", D::kLiteral, R::kFixedToken, E::kApiToken, 96, 0},
    {"CCIPAT_[A-Za-z0-9]{22}_[0-9a-f]{40}", D::kLiteral, R::kFixedToken, E::kApiToken, 70, 0},
    {"[a-z0-9]{14}\\.atlasv1\\.[a-z0-9_=\\-]{60}", D::kLiteral, R::kFixedToken, E::kApiToken, 83,
     100},
    {"SG\\.[A-Za-z0-9_\\-]{22}\\.[A-Za-z0-9_\\-]{43}", D::kLiteral, R::kFixedToken, E::kApiToken,
     69, 0},
    {"v1\\.0-[0-9a-f]{24}-[0-9a-f]{146}", D::kLiteral, R::kFixedToken, E::kApiToken, 176, 0},
    {"A3-[A-Z0-9]{6}-[A-Z0-9]{11}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}", D::kLiteral, R::kFixedToken,
     E::kApiToken, 40, 0},  // 1Password secret keys
    {"A3-[A-Z0-9]{6}-[A-Z0-9]{6}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}", D::kLiteral,
     R::kFixedToken, E::kApiToken, 41, 0},
    // Secrets after a label: webhook URLs (the path is the credential), a URL whose user part
    // is a key (Sentry's DSN), Azure connection strings and SAS signatures, signed-URL tokens.
    {"hooks\\.slack\\.com/(?:services|workflows|triggers)/", D::kLiteral, R::kSecretAfter,
     E::kApiToken, 20, 256},
    {"discord(?:app)?\\.com/api/webhooks/", D::kLiteral, R::kSecretAfter, E::kApiToken, 20, 256},
    {"://[A-Za-z0-9_\\-]{16,128}@", D::kLiteral, R::kUrlUser, E::kApiToken, 0, 0},
    // Compressed IPv6 ("2001:db8::1", "fe80::1", "::1").
    {"::[0-9A-Fa-f]", D::kLiteral, R::kIpv6, E::kIpAddress, 0, 0},
    {"[0-9A-Fa-f]::", D::kLiteral, R::kIpv6, E::kIpAddress, 0, 0},

    // ---- numbers: read by the number lexer (detector.cc), not compiled ----
    {"\\(\\d{2,5}\\)[ \\-.]?\\d{2,5}[ \\-.]?\\d{3,5}\\b", D::kNumber, R::kPhone, E::kPhone, 0, 0},
    {"\\+\\d{1,3}[ \\-.]?\\(?\\d{1,4}\\)?[ \\-.]?\\d{2}", D::kNumber, R::kPhone, E::kPhone, 0, 0},
    {"\\b\\d{4}[ \\-]?\\d{4}[ \\-]?\\d{4}", D::kNumber, R::kCardRun, E::kCreditCard, 0, 0},
    {"\\b\\d{4}[ \\-]?\\d{6}[ \\-]?\\d{4}", D::kNumber, R::kCardRun, E::kCreditCard, 0, 0},
    {"\\b\\d{3}-\\d{2}-\\d{4}\\b", D::kNumber, R::kSsnDashed, E::kUsSsn, 0, 0},
    {"\\b\\d{3}-\\d{3}-\\d{4}\\b", D::kNumber, R::kPhone, E::kPhone, 0, 0},
    {"\\b\\d{3}\\.\\d{3}\\.\\d{4}\\b", D::kNumber, R::kPhone, E::kPhone, 0, 0},
    {"\\b0\\d{1,5}[ \\-.]\\d{2,8}(?:[ \\-.]\\d{2,4}){0,3}\\b", D::kNumber, R::kPhone, E::kPhone, 0,
     0},
    {"\\b\\d{2,3}[ \\-.]\\d{2,3}[ \\-.]\\d{2,4}(?:[ \\-.]\\d{2,4}){0,2}\\b", D::kNumber, R::kPhone,
     E::kPhone, 0, 0},
    {"\\b\\d{3} \\d{3} \\d{4}\\b", D::kNumber, R::kSpacedTen, E::kUkNhs, 0, 0},
    {"\\b\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\b", D::kNumber, R::kIpv4, E::kIpAddress, 0, 0},
    // IBAN: two letters, check digits, a BBAN group; the validator knows the countries.
    {"\\b[A-Z]{2}\\d{2} ?[A-Z0-9]{4}", D::kNumber, R::kIban, E::kIban, 0, 0},
    {"\\b[A-Z]{2} ?\\d{2} ?\\d{2} ?\\d{2}", D::kNumber, R::kNino, E::kUkNino, 0, 0},

    // ---- hex with separators: MACs, full IPv6 ----
    // Full IPv6: three groups in a row (a time such as 12:30:45 has only two colons).
    {"[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:", D::kHexSep, R::kIpv6, E::kIpAddress, 0,
     0},
    {"\\b[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\\b", D::kHexSep, R::kMac, E::kMacAddress, 17, 0},
    {"\\b[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}\\b", D::kHexSep, R::kMac, E::kMacAddress, 17, 0},
    {"\\b[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\b", D::kHexSep, R::kMac, E::kMacAddress,
     14, 0},

    // ---- letter shapes ----
    {"\\b[13][1-9A-HJ-NP-Za-km-z]{25}", D::kLetters, R::kFixedToken, E::kCryptoWallet, 26, 35},
    // Street lines end in a suffix; the resolver walks back over the name to the number.
    {" " STREET_SUFFIX "\\b", D::kLetters, R::kStreet, E::kStreetAddress, 0, 0},
    // British named terraces without a suffix: "113 The Beeches", "556 The Sidings".
    {"\\d The [A-Z][a-z]{2,}\\b", D::kLetters, R::kStreet, E::kStreetAddress, 0, 0},

    // ---- context keywords (caseless); the value follows the keyword ----
    {KB "(?:ssn|social[ _\\-]?security(?:[ _\\-]?(?:number|no|num|#))?|ss#|social)" KE, D::kKeyword,
     R::kKeywordValue, E::kUsSsn, 0, 0},
    {KB "(?:itin|taxpayer[ _\\-]?id(?:entification)?(?:[ _\\-]?number)?)" KE, D::kKeyword,
     R::kKeywordValue, E::kUsItin, 0, 0},
    // Passports and driving licences, also as other languages name them (the entity keeps its
    // name: the number after the label is masked whatever country issued it).
    {"(?:passport|passeport|pasaporte|passaporte|passaporto|reisepass|paspoort|" KB
     "pass[ _\\-]?(?:nr|nummer)" KE "|"
     // … and in Chinese, Japanese, Korean, Arabic, Persian, Urdu, Hebrew, Hindi, Thai, Greek,
     // with the word for number where it is written after ("护照号码：", "パスポート番号：").
     "护照号码|護照號碼|护照号|护照|護照|パスポート番号|パスポート|여권번호|여권|جواز السفر|جواز "
     "سفر|"
     "گذرنامه|پاسپورٹ|דרכון|पासपोर्ट|หนังสือเดินทาง|διαβατηρίου|διαβατήριο|Διαβατήριο)",
     D::kKeyword, R::kKeywordValue, E::kUsPassport, 0, 0},
    {"(?:driver'?s?[ _\\-]?licen[cs]e|driving[ _\\-]?licen[cs]e|" KB "dl#|" KB "dl" KE
     "|licen[cs]e[ _\\-]?(?:no|number|#)|f(?:\\xC3\\xBC|ue?)hrerschein|permis de conduire|"
     "licencia de conduc|carn(?:e|\\xC3\\xA9)t? de conducir|patente di guida|rijbewijs|"
     "carteira de habilita)",
     D::kKeyword, R::kKeywordValue, E::kUsDriverLicense, 0, 0},
    {"(?:routing|" KB "aba" KE "|" KB "rtn" KE ")", D::kKeyword, R::kKeywordValue,
     E::kUsBankRouting, 0, 0},
    {KB "npi" KE, D::kKeyword, R::kKeywordValue, E::kUsNpi, 0, 0},
    {KB "nhs" KE, D::kKeyword, R::kKeywordValue, E::kUkNhs, 0, 0},
    // Bank account numbers after the names people give them (an IBAN is its own entity; a
    // customer's `account_id` is not a bank account).
    {"(?:bank account|bank_account|bankaccount|account number|account_number|accountnumber|account "
     "no\\b|"
     "account_no\\b|account #|account#|" KB "acct" KE
     "|checking account|checking_account|savings account|savings_account"
     "|kontonummer|num(?:e|\\xC3\\xA9)ro de compte|n(?:u|\\xC3\\xBA)mero de cuenta|"
     "conto corrente|rekeningnummer)",
     D::kKeyword, R::kKeywordValue, E::kBankAccount, 0, 0},
    // A card's security code after its name.
    {"(?:" KB "cvv2?" KE "|" KB "cvc2?" KE
     "|security[ _\\-]?code|card[ _\\-]?verification[ _\\-]?(?:value|code))",
     D::kKeyword, R::kKeywordValue, E::kCardCvv, 0, 0},
    // HMRC's own example prefix (QQ) and others it never issues are still written after the
    // label: there the shape is the number.
    {"(?:" KB "nino" KE "|national[ _\\-]?insurance|" KB "ni[ _\\-]?(?:number|no\\b|#))",
     D::kKeyword, R::kKeywordValue, E::kUkNino, 0, 0},
    {"(?:phone|" KB "tel" KE "|telephone|mobile|" KB "cell" KE "|" KB "call" KE "|" KB "fax" KE
     "|" KB "ph\\.|" KB "contact" KE "|" KB "dial(?:l?ed|l?ing)?" KE "|" KB
     "call(?:ed|ing) (?:from|back on|me on)|" KB "(?:text|reach)(?:ed)? (?:me|us|him|her|them)|" KB
     "reach(?:ed)? out (?:on|at)|" KB "ring (?:me|us) (?:on|at)|voicemail|"
     "whatsapp|" KB "tlf" KE "|"
     // 电话 電話 手机 携帯 전화 телефон тел.
     "\xE7\x94\xB5\xE8\xAF\x9D|\xE9\x9B\xBB\xE8\xA9\xB1|\xE6\x89\x8B\xE6\x9C\xBA|"
     "\xE6\x90\xBA\xE5\xB8\xAF|\xEC\xA0\x84\xED\x99\x94|"
     "\xD1\x82\xD0\xB5\xD0\xBB(?:\xD0\xB5\xD1\x84\xD0\xBE\xD0\xBD|\\.)|"
     // As other languages label them: Telefon, teléfono, telefone, téléphone, cellulare,
     // celular, Handy, móvil, Mobil, puhelin.
     "telefon|tel(?:e|\\xC3\\xA9)fono|t(?:e|\\xC3\\xA9)l(?:e|\\xC3\\xA9)phone|cellulare|celular|" KB
     "handy" KE "|m(?:o|\\xC3\\xB3)vil" KE "|" KB "mobil" KE "|puhelin|"
     // Arabic, Persian, Urdu, Hebrew, Greek, Hindi, Thai, Korean, Japanese, Chinese, Russian,
     // Georgian and Armenian labels: phone, mobile, contact details.
     "هاتف|جوال|موبايل|تلفون|טלפון|נייד|פלאפון|τηλ|Τηλ|ΤΗΛ|κινητό|Κινητό|फोन|फ़ोन|मोबाइल|"
     "दूरभाष|โทร|มือถือ|연락처|휴대폰|핸드폰|連絡先|联系方式|Тел|ТЕЛ|Моб|моб\\.|Мобильный|"
     // … and with the word for number after them: a label of its own ("電話番号：", "手机号：").
     "電話番号|携帯番号|携帯電話|电话号码|手机号码|手机号|τηλέφωνο|Τηλέφωνο|ტელეფონი|ტელ|Հեռախոս|"
     "Հեռ\\.|تلفن|موبایل|شماره تماس|فون|موبائل|"
     "мобильный)",
     D::kKeyword, R::kKeywordValue, E::kPhone, 0, 0},
    // Birth dates, also as other languages label them: Geburtsdatum, geb., fecha de
    // nacimiento, nacido el, date de naissance, né(e) le, data di nascita, data de nascimento,
    // geboortedatum, födelsedatum, fødselsdato, syntymäaika, data urodzenia, datum narození.
    {"(?:" KB "dob" KE "|" KB
     "d\\.o\\.b\\.?|date[ _\\-]?of[ _\\-]?birth|birth[ _\\-]?date|birthday|" KB "bday" KE "|" KB
     "born(?: on)?|geburtsdatum|" KB "geb\\.|geboren(?: am)?|nacimiento|" KB
     "nacid[oa] el|naissance|" KB "nat[oa] il|" KB "nascid[oa] em|" KB
     "n\\xC3\\xA9e? le|nascita|nascimento|geboortedatum|f\\xC3\\xB6delsedatum|"
     "f\\xC3\\xB8dselsdato|syntym\\xC3\\xA4aika|data urodzenia|datum narozen\\xC3\\xAD|"
     // дата рождения, 生日, 出生日期, 生年月日
     "\xD0\xB4\xD0\xB0\xD1\x82\xD0\xB0 "
     "\xD1\x80\xD0\xBE\xD0\xB6\xD0\xB4\xD0\xB5\xD0\xBD\xD0\xB8\xD1\x8F|"
     "\xE7\x94\x9F\xE6\x97\xA5|\xE5\x87\xBA\xE7\x94\x9F\xE6\x97\xA5\xE6\x9C\x9F|"
     "\xE7\x94\x9F\xE5\xB9\xB4\xE6\x9C\x88\xE6\x97\xA5|"
     // and in Korean, Russian and Ukrainian (capitalised too), Arabic, Persian, Hebrew, Hindi,
     // Thai, Greek, Urdu, Georgian, Armenian, and Japanese's other forms.
     "생년월일|출생일|Дата рождения|Дата народження|дата народження|تاريخ الميلاد|تاريخ ميلاد|"
     "تاریخ تولد|תאריך לידה|जन्म तिथि|जन्मतिथि|जन्म दिनांक|วันเกิด|Ημερομηνία γέννησης|"
     "ημερομηνία γέννησης|出生年月|誕生日|تاریخ پیدائش|დაბადების თარიღი|Ծննդյան ամսաթիվ|"
     // Turkish, Hungarian, Vietnamese, Indonesian, Romanian, Croatian, Slovak labels; born as
     // Scandinavian, Polish, Czech, Finnish, Russian, Ukrainian and Greek write it.
     "do\xC4\x9Fum tarihi|sz\xC3\xBCletett|sz\xC3\xBClet\xC3\xA9si (?:d\xC3\xA1tum|id\xC5\x91)|" KB
     "sz\xC3\xBCl\\.|ng\xC3\xA0y sinh|Ng\xC3\xA0y sinh|tanggal lahir|" KB "tgl\\.? lahir|"
     "data na(?:s|\xC8\x99|\xC5\x9F)terii|datum ro\xC4\x91"
     "enja|d\xC3\xA1tum narodenia|" KB "f\xC3\xB8"
     "dt" KE "|" KB "f\xC3\xB6"
     "dd" KE "|" KB "urodzon[ya]|" KB "narozen[a\xC3\xA1]?" KE "|" KB
     "syntynyt|родился|родилась|народився|народилася|γεννήθηκε)",
     D::kKeyword, R::kKeywordValue, E::kDateOfBirth, 0, 0},
    // A post office box is where a person's mail goes: "PO Box 4521", "P.O. Box 77",
    // "Postfach 10 11 12", "Apartado 1234", "Case postale 56".
    // Where a person lives or where their parcel goes, a street line after it: "lives at
    // Družstevná 9", "your parcel to 472 Sílvia Rodovia is on its way", "ship to Průškova 0",
    // "Ship to: Jack Wulff, Severinsen Boulevard 1, Nexø".
    {KB "(?:(?:lives|living|resides|residing) at|(?:parcel|package|shipment|delivery|ship|"
        "shipped|deliver|delivered|bill|billed)[ _]to)" KB,
     D::kKeyword, R::kStreetAfter, E::kStreetAddress, 0, 0},
    {KB "(?:p\\.? ?o\\.? ?box|post[ _\\-]?office[ _\\-]?box|postfach|apartado(?: postal)?|"
        "case postale|casella postale)",
     D::kKeyword, R::kKeywordValue, E::kStreetAddress, 0, 0},
    {"(?:secret[ _\\-]?access[ _\\-]?key|aws[ _\\-]?secret(?:[ _\\-]?key)?)", D::kKeyword,
     R::kKeywordValue, E::kAwsSecretKey, 0, 0},
    {"(?:password|passwd|passphrase|" KB "pass" KE "|" KB "pin" KE "|" KB
     "pwd|secret|token|api[ _\\-]?key|apikey|access[ _\\-]?key|auth[ "
     "_\\-]?key|credential|private[ _\\-]?key|"
     // A security question's answer: the mother's maiden name most of all.
     "security[ _\\-]?answer|maiden[ _\\-]?name|"
     // Redis's config and SQL's DDL (`IDENTIFIED BY 'pw'`, `IDENTIFIED WITH plugin BY 'pw'`),
     // as query logs, processlists and pg_stat_activity show them.
     "requirepass|masterauth|identified (?:with [a-z0-9_]+ )?by)",
     D::kKeyword, R::kKeywordValue, E::kGenericSecret, 0, 0},
    {"(?:" KB "name" KE "|full[ _\\-]?name|display[ _\\-]?name|" KB "mr\\.?|" KB "mrs\\.?|" KB
     "ms\\.?|" KB "dr\\.?|" KB "prof\\.?|" KB "herr|" KB "frau|" KB "mme\\.?|madame|monsieur|"
     "patient|customer|employee|contact|user=\"|" KB "dear|" KB
     // The people a record is about under their role: "Resident: Mbali Dlamini".
     "(?:resident|tenant|passenger|applicant|claimant|policyholder|guarantor|borrower|debtor|"
     "payee|guardian|spouse|next of kin)" KE "|" KB
     "attn\\.?|holder|recipient|beneficiary|(?:approved|created|updated|escalated|reviewed|"
     "assigned|requested|submitted|signed|reported|handled|resolved|owned|opened|closed|filed|"
     "raised|logged|placed|booked|authored|written|edited|modified|uploaded|paid)[ _]by|"
     "(?:spoke|spoken|met|meeting|talked|call|chat|chatted)[ _]with|(?:assigned|reassigned|"
     "forwarded|escalated|transferred|spoke|talked|sent|ship|shipped|deliver|delivered|bill|"
     "billed|sold)[ _]to|" KB "thanks,?|" KB "regards,|" KB "sincerely,|" KB "cheers,|" KB "best,|"
     // Whom to call or write back: "call back Sanele Mfumu", "emailed Zdenka Píšová". (Who a
     // message is from, greetings and copy lines are read before a capitalised word, in
     // detector.cc: as literals here they would slow every keyword scan.)
     "(?:call|ring|phone|get)[ _]back|" KB
     "(?:phoned|e-?mailed|texted|messaged|pinged|reminded|notified|thanked|interviewed))",
     D::kKeyword, R::kPersonKeyword, E::kPersonName, 0, 0},
    // People after a label or a title in other scripts, whose names have no capitals and are
    // in no table here: Chinese, Japanese, Korean, Russian, Ukrainian, Greek, Arabic, Persian,
    // Urdu, Hebrew, Hindi, Thai, Georgian and Armenian words for name, full name, customer,
    // patient, employee, user, member, recipient,
    // contact, holder … A label must be followed by ':' or '：'; the resolver
    // (ScriptName in detector.cc) reads the name after it. (Keywords of scripts with capitals
    // are listed in both cases: Hyperscan folds ASCII only.)
    {"(?:姓名|名字|联系人|聯絡人|聯繫人|收件人|收货人|收貨人|寄件人|持卡人|负责人|負責人|"
     "申请人|申請人|投保人|被保险人|受益人|经办人|經辦人|客户|客戶|顾客|顧客|患者|病人|员工|"
     "員工|用户|用戶|会员|會員|乘客|租户|氏名|名前|担当者|宛名|受取人|契約者|申込者|社員|会員|"
     "이름|성명|성함|고객명|환자명|담당자|수신인|수령인|보호자|신청인|예금주|고객|환자|직원|회원|"
     "ФИО|Ф\\.И\\.О\\.|Имя|имя|Фамилия|фамилия|Клиент|клиент|Пациент|пациент|Сотрудник|"
     "сотрудник|Получатель|получатель|Контактное лицо|контактное лицо|Όνομα|όνομα|"
     "Ονοματεπώνυμο|ονοματεπώνυμο|Επώνυμο|επώνυμο|Πελάτης|πελάτης|Ασθενής|ασθενής|Παραλήπτης|"
     "παραλήπτης|الاسم|اسم|العميل|عميل|الزبون|المريض|مريض|الموظف|موظف|المستلم|שם מלא|שם|לקוח|"
     "לקוחה|מטופל|מטופלת|עובד|עובדת|נמען|पूरा नाम|नाम|ग्राहक|मरीज़|मरीज|रोगी|कर्मचारी|"
     "प्राप्तकर्ता|ชื่อ-นามสกุล|ชื่อ|ลูกค้า|ผู้ป่วย|พนักงาน|ผู้รับ|"
     // Persian and Urdu, Ukrainian, Georgian, Armenian.
     "نام|مشتری|بیمار|مریض|گیرنده|گاہک|ПІБ|Ім'я|Ім’я|ім'я|Прізвище|прізвище|Клієнт|клієнт|Пацієнт|"
     "пацієнт|Отримувач|отримувач|სახელი|გვარი|კლიენტი|პაციენტი|Անուն|անուն|Ազգանուն|"
     "Հաճախորդ|հաճախորդ)",
     D::kKeyword, R::kScriptName, E::kPersonName, 0, 0},
    // Titles: the name follows with no separator ("श्री राहुल शर्मा", "السيد محمد علي", "尊敬的王秀英
    // 女士"). Those of spaced scripts start a word (an ASCII byte or the window's start before
    // them: "מר" is also the end of "אמר").
    {"(?:^|[^\\x80-\\xFFA-Za-z0-9])(?:श्रीमती|सुश्री|श्री|प्रिय|السيدة|السيد|الدكتور|عزيزتي|"
     "عزيزي|מר|גב'|господин|госпожа|г-н|г-жа|Уважаемый|уважаемый|Уважаемая|уважаемая|"
     "Αγαπητέ|αγαπητέ|Αγαπητή|αγαπητή|آقای|خانم|جناب|محترمہ|Шановний|"
     "шановний|Шановна|шановна)",
     D::kKeyword, R::kScriptName, E::kPersonName, 1, 0},
    // … and people saying their own name: "我叫", "私の名前は", "제 이름은", "Меня зовут", "اسمي",
    // "שמי", "मेरा नाम", "ผมชื่อ", "اسم من" (Thai writes the name glued to it).
    {"(?:尊敬的|我叫|我的名字是|我的名字叫|私の名前は|제 이름은|Меня зовут|меня зовут|Мене звати|"
     "мене звати|اسمي|שמי|קוראים לי|मेरा नाम|ผมชื่อ|ฉันชื่อ|ดิฉันชื่อ|اسم من|نام من|میرا نام)",
     D::kKeyword, R::kScriptName, E::kPersonName, 1, 0},
    // Addresses after a label of the same languages and a colon, and after Japan's postal mark.
    {"(?:地址|住址|住所|所在地|주소|거주지|Адрес|адрес|Адреса|адреса|العنوان|عنوان|כתובת|पता|"
     "ที่อยู่|Διεύθυνση|διεύθυνση|آدرس|نشانی|پتہ|მისამართი|Հասցե|հասցե)",
     D::kKeyword, R::kScriptAddress, E::kStreetAddress, 0, 0},
    {"〒", D::kKeyword, R::kScriptAddress, E::kStreetAddress, 1, 0},
    // National identification numbers of other countries, by their names at home.
    {"(?:" KB "aadhaa?r|uidai|" KB "cpf" KE "|" KB "pesel|" KB "bsn" KE "|burgerservicenummer|"
     "sofinummer|steuer[ _\\-]?id|steueridentifikationsnummer|" KB "idnr" KE "|personnummer|" KB
     "cpr" KE "|" KB "nir" KE "|s(?:e|\\xC3\\xA9)curit(?:e|\\xC3\\xA9) sociale|" KB "dni" KE "|" KB
     "nie" KE "|" KB "nif" KE "|codice[ _]fiscale|"
     // Chile's RUT and RUN, Argentina's CUIT and CUIL, Latin America's cédula; Brazil's RG,
     // Mexico's RFC and social security number (NSS, IMSS), Spain's NUSS.
     KB "rut" KE "|" KB "cuit" KE "|" KB "cuil" KE "|c(?:e|\\xC3\\xA9)dula|" KB "rg" KE "|" KB
     "rfc" KE "|" KB "nu?ss" KE "|" KB "imss" KE "|seguridad social|"
     // A person's number by what it is ("personal identity number", "personal code"), and
     // the Baltic states' own names: isikukood, personas kods, asmens kodas.
     "personal[ _\\-]?(?:identity[ _\\-]?)?(?:number|code)|identity[ _\\-]?number|isikukood|"
     "personas kods|asmens kodas|" KB "curp|resident registration|" KB "rrn" KE
     "|national[ _\\-]?id|tax[ _\\-]?id|" KB "nric|" KB "pan" KE
     "|permanent account number|tax file number|" KB "tfn" KE "|social insurance number|"
     // Identity cards. (An EIN names a business, as public filings print it: not here.)
     "personalausweis|dow(?:o|\\xC3\\xB3)d osobisty|dowodu osobistego|" KB
     // Europe's and Asia's own names: Norway, Finland, Romania, Croatia, the former
     // Yugoslavia, Bulgaria, Switzerland, Ireland, Hong Kong, Malaysia, the UAE, Turkey.
     "f(?:\\xC3\\xB8|o)dselsnummer|henkil(?:\\xC3\\xB6|o)tunnus|" KB "cnp" KE "|" KB "oib" KE "|" KB
     "jmbg" KE "|" KB "egn" KE "|" KB "ahv" KE "|" KB "pps" KE "|" KB "hkid|mykad|"
     "emirates id|kimlik|steuernummer|" KB
     "ausweis[ _\\-]?(?:nr|nummer)|carte d'identit|documento de identidad|carta d'identit|"
     "identiteitskaart|identity card|" KB "id[ _\\-]?card" KE "|"
     "\xE8\xBA\xAB\xE4\xBB\xBD\xE8\xAF\x81|"  // 身份证
     // Other scripts' ids and the labels of their numbers: Taiwan's and Japan's (My Number),
     // Korea's RRN, Russia's internal passport, INN and SNILS, Ukraine's tax number, Saudi and
     // Gulf ids, Israel's teudat zehut, Thailand's id card, India's Aadhaar and PAN, Iran's
     // national code, Greece's AFM and AMKA.
     "身份證|身分證|身分證字號|身分證號碼|身份證號碼|身份证号码|身份证号|マイナンバー|個人番号|"
     "주민등록번호|주민번호|паспорта|паспорт|Паспорт|ИНН|СНИЛС|ІПН|"
     "РНОКПП|"
     "رقم الهوية|الهوية الوطنية|תעודת זהות|ת\\.ז\\.|מספר זהות|เลขประจำตัวประชาชน|บัตรประชาชน|"
     "आधार|पैन|کد ملی|شماره ملی|ΑΦΜ|ΑΜΚΑ|Αριθμός Ταυτότητας)",
     D::kKeyword, R::kKeywordValue, E::kNationalId, 0, 0},
    // Credentials after a label (caseless): Azure connection strings and SAS signatures, the
    // tokens of signed URLs, HTTP Authorization values; Basic (and a Docker config's "auth")
    // only when the value decodes to user:password.
    {"(?:accountkey|sharedaccesskey|sharedaccesssignature)=", D::kKeyword, R::kSecretAfter,
     E::kApiToken, 20, 512},
    {"[?&](?:sig|x-amz-signature|x-amz-security-token|x-goog-signature)=", D::kKeyword,
     R::kSecretAfter, E::kApiToken, 16, 4096},
    {"(?:\\bbearer |authorization: ?token )", D::kKeyword, R::kSecretAfter, E::kGenericSecret, 16,
     4096},
    {"(?:\\bbasic |\"auth\" ?: ?\")", D::kKeyword, R::kBasicAuth, E::kGenericSecret, 0, 0},
    // Command lines whose credential follows no option (masker/command_line.cc reads the
    // line; the prefilter hands it lines with options and Oracle logons itself): `echo
    // 'root:pw' | chpasswd`, `vault login TOKEN`, `xfreerdp /p:PW`, `wmic /password:PW`,
    // `cmdkey /pass:PW`. Measured before adding one: the names of all the tools here cost the
    // keyword stage 3x on dense text, `net[ \t]+use` alone 15% on TSV (`net` is everywhere).
    {"(?:echo[ \\t]|printf[ \\t]|(?:vault|bao)[ \\t]+login|freerdp|wmic[ \\t]|cmdkey[ \\t])",
     D::kKeyword, R::kCommandLine, E::kGenericSecret, 0, 0},
    // SQL INSERT with a column list: the column names give each value its context.
    {"insert[ \\t]+into[ \\t]+[A-Za-z0-9_.\"]+[ \\t]*\\(", D::kKeyword, R::kSqlInsert,
     E::kBuiltinCount, 0, 0},
};

#undef STREET_SUFFIX
#undef KW_END
#undef KB
#undef KE

template <size_t N>
constexpr std::span<const std::string_view> S(const std::array<std::string_view, N>& a) {
  return {a.data(), N};
}

constexpr std::array<std::string_view, 0> kNone{};
// Words before a capitalised pair that make it a person (free text, ticket and CRM notes).
constexpr std::array kNamePos{std::string_view("name"),
                              std::string_view("dear"),
                              std::string_view("thanks"),
                              std::string_view("spoke with"),
                              std::string_view("member"),
                              std::string_view("customer"),
                              std::string_view("patient"),
                              std::string_view("contact"),
                              std::string_view("per "),
                              std::string_view(" by "),
                              std::string_view("cc "),
                              std::string_view("meeting with"),
                              std::string_view("forwarded to"),
                              std::string_view("attn"),
                              std::string_view("hello"),
                              std::string_view("hi "),
                              std::string_view("signed"),
                              std::string_view("agent"),
                              std::string_view("owner"),
                              std::string_view("assignee"),
                              std::string_view("author"),
                              std::string_view("who"),
                              std::string_view("forwarding to"),
                              std::string_view("escalated to"),
                              std::string_view("reassigned to"),
                              std::string_view("spoke to"),
                              std::string_view("talked to"),
                              std::string_view("talked with"),
                              std::string_view("followed up with"),
                              std::string_view("reached out to"),
                              std::string_view("on behalf of"),
                              std::string_view("please ask"),
                              std::string_view("interview with")};
constexpr std::array kCardPos{std::string_view("card"), std::string_view("credit"),
                              std::string_view("visa"), std::string_view("mastercard"),
                              std::string_view("amex"), std::string_view("payment"),
                              std::string_view("pan"),  std::string_view("cc")};
constexpr std::array kNumNeg{std::string_view("order"),    std::string_view("invoice"),
                             std::string_view("tracking"), std::string_view("sku"),
                             std::string_view("serial"),   std::string_view("isbn"),
                             std::string_view("version"),  std::string_view("build")};
constexpr std::array kPhonePos{std::string_view("phone"),   std::string_view("tel"),
                               std::string_view("mobile"),  std::string_view("cell"),
                               std::string_view("call"),    std::string_view("fax"),
                               std::string_view("contact"), std::string_view("sms")};
constexpr std::array kSsnPos{std::string_view("ssn"), std::string_view("social security")};
constexpr std::array kItinPos{std::string_view("itin"), std::string_view("taxpayer")};
constexpr std::array kIbanPos{std::string_view("iban"), std::string_view("account"),
                              std::string_view("bank"), std::string_view("transfer")};
constexpr std::array kNhsPos{std::string_view("nhs"), std::string_view("health"),
                             std::string_view("patient")};
constexpr std::array kNinoPos{std::string_view("nino"), std::string_view("national insurance"),
                              std::string_view("ni number")};
constexpr std::array kIpPos{std::string_view("ip"),     std::string_view("addr"),
                            std::string_view("host"),   std::string_view("client"),
                            std::string_view("remote"), std::string_view("src"),
                            std::string_view("dst"),    std::string_view("from")};
constexpr std::array kIpNeg{std::string_view("version"), std::string_view("ver"),
                            std::string_view("release"), std::string_view("oid")};
constexpr std::array kMacPos{std::string_view("mac"), std::string_view("hw"),
                             std::string_view("ether"), std::string_view("device")};
constexpr std::array kSecretNeg{std::string_view("example"), std::string_view("sample"),
                                std::string_view("dummy"), std::string_view("placeholder")};
constexpr std::array kStreetPos{
    std::string_view("address"),   std::string_view("addr"),      std::string_view("street"),
    std::string_view("ship"),      std::string_view("billing"),   std::string_view("lives"),
    std::string_view("adresse"),   std::string_view("anschrift"), std::string_view("direcci"),
    std::string_view("indirizzo"), std::string_view("endere"),    std::string_view("adres"),
    std::string_view("domicil"),   std::string_view("wohnhaft"),  std::string_view("morada")};
constexpr std::array kWalletPos{std::string_view("wallet"),   std::string_view("btc"),
                                std::string_view("eth"),      std::string_view("bitcoin"),
                                std::string_view("ethereum"), std::string_view("address")};

// Indexed by Entity.
const EntityInfo kInfo[kBuiltinEntityCount] = {
    /*EMAIL*/ {0.9f, S(kNone), S(kNone)},
    /*PERSON_NAME*/ {0.7f, S(kNamePos), S(kNone)},
    /*PHONE*/ {0.7f, S(kPhonePos), S(kNumNeg)},
    /*CREDIT_CARD*/ {0.85f, S(kCardPos), S(kNumNeg)},
    /*IBAN*/ {0.95f, S(kIbanPos), S(kNone)},
    /*US_SSN*/ {0.75f, S(kSsnPos), S(kNumNeg)},
    /*US_ITIN*/ {0.7f, S(kItinPos), S(kNumNeg)},
    /*US_PASSPORT*/ {0.8f, S(kNone), S(kNone)},
    /*US_DRIVER_LICENSE*/ {0.8f, S(kNone), S(kNone)},
    /*US_BANK_ROUTING*/ {0.85f, S(kNone), S(kNone)},
    /*UK_NINO*/ {0.85f, S(kNinoPos), S(kNone)},
    /*UK_NHS*/ {0.6f, S(kNhsPos), S(kNumNeg)},
    /*US_NPI*/ {0.9f, S(kNone), S(kNone)},
    /*DATE_OF_BIRTH*/ {0.85f, S(kNone), S(kNone)},
    /*IP_ADDRESS*/ {0.8f, S(kIpPos), S(kIpNeg)},
    /*MAC_ADDRESS*/ {0.8f, S(kMacPos), S(kNone)},
    /*STREET_ADDRESS*/ {0.7f, S(kStreetPos), S(kNone)},
    /*JWT*/ {0.95f, S(kNone), S(kNone)},
    /*AWS_ACCESS_KEY*/ {0.95f, S(kNone), S(kSecretNeg)},
    /*AWS_SECRET_KEY*/ {0.9f, S(kNone), S(kSecretNeg)},
    /*GCP_API_KEY*/ {0.95f, S(kNone), S(kSecretNeg)},
    /*GITHUB_TOKEN*/ {0.95f, S(kNone), S(kSecretNeg)},
    /*SLACK_TOKEN*/ {0.95f, S(kNone), S(kSecretNeg)},
    /*STRIPE_KEY*/ {0.95f, S(kNone), S(kSecretNeg)},
    /*OPENAI_API_KEY*/ {0.95f, S(kNone), S(kSecretNeg)},
    /*PRIVATE_KEY*/ {0.99f, S(kNone), S(kNone)},
    /*PASSWORD_IN_URL*/ {0.9f, S(kNone), S(kNone)},
    /*GENERIC_SECRET*/ {0.8f, S(kNone), S(kSecretNeg)},
    /*CRYPTO_WALLET*/ {0.9f, S(kWalletPos), S(kNone)},
    /*NATIONAL_ID*/ {0.85f, S(kNone), S(kNumNeg)},
    /*API_TOKEN*/ {0.95f, S(kNone), S(kSecretNeg)},
    /*BANK_ACCOUNT*/ {0.8f, S(kNone), S(kNone)},
    /*CARD_CVV*/ {0.85f, S(kNone), S(kNone)},
};

// Most specific first: the first word found in a column name decides.
constexpr ColumnWord kColumnWords[] = {
    {"secret_access_key", E::kAwsSecretKey},
    {"aws_secret", E::kAwsSecretKey},
    {"btc_address", E::kCryptoWallet},
    {"eth_address", E::kCryptoWallet},
    {"wallet", E::kCryptoWallet},
    {"payout_address", E::kCryptoWallet},
    {"email", E::kEmail},
    {"mail", E::kEmail},
    {"first_name", E::kPersonName},
    {"last_name", E::kPersonName},
    {"full_name", E::kPersonName},
    {"firstname", E::kPersonName},
    {"lastname", E::kPersonName},
    {"surname", E::kPersonName},
    {"customer_name", E::kPersonName},
    {"given_name", E::kPersonName},
    {"family_name", E::kPersonName},
    {"middle_name", E::kPersonName},
    {"maiden_name", E::kPersonName},
    {"legal_name", E::kPersonName},
    {"fullname", E::kPersonName},
    {"display_name", E::kPersonName},
    {"contact_name", E::kPersonName},
    {"holder", E::kPersonName},
    {"phone", E::kPhone},
    {"mobile", E::kPhone},
    {"cell", E::kPhone},
    {"cellphone", E::kPhone},
    {"tel", E::kPhone},
    {"fax", E::kPhone},
    {"msisdn", E::kPhone},
    {"caller", E::kPhone},
    {"card_number", E::kCreditCard},
    {"cc_number", E::kCreditCard},
    {"pan", E::kCreditCard},
    {"iban", E::kIban},
    {"ssn", E::kUsSsn},
    {"social_security", E::kUsSsn},
    {"itin", E::kUsItin},
    {"passport", E::kUsPassport},
    {"driver_license", E::kUsDriverLicense},
    {"drivers_license", E::kUsDriverLicense},
    {"license_number", E::kUsDriverLicense},
    {"dl", E::kUsDriverLicense},
    {"license_no", E::kUsDriverLicense},
    {"licence_no", E::kUsDriverLicense},
    {"rtn", E::kUsBankRouting},
    {"routing", E::kUsBankRouting},
    {"aba", E::kUsBankRouting},
    {"nino", E::kUkNino},
    {"nhs", E::kUkNhs},
    {"npi", E::kUsNpi},
    {"bank_account", E::kBankAccount},
    {"account_number", E::kBankAccount},
    {"account_no", E::kBankAccount},
    {"acct_no", E::kBankAccount},
    {"acct_number", E::kBankAccount},
    {"cvv", E::kCardCvv},
    {"cvc", E::kCardCvv},
    {"card_security_code", E::kCardCvv},
    {"aadhaar", E::kNationalId},
    {"cpf", E::kNationalId},
    {"pesel", E::kNationalId},
    {"bsn", E::kNationalId},
    {"personnummer", E::kNationalId},
    {"national_id", E::kNationalId},
    {"nationalid", E::kNationalId},
    {"national_number", E::kNationalId},
    {"nir", E::kNationalId},
    {"dni", E::kNationalId},
    {"nie", E::kNationalId},
    {"rut", E::kNationalId},
    {"cuit", E::kNationalId},
    {"cuil", E::kNationalId},
    {"cedula", E::kNationalId},
    {"identity_number", E::kNationalId},
    {"personal_code", E::kNationalId},
    {"personal_identity_number", E::kNationalId},
    {"isikukood", E::kNationalId},
    {"curp", E::kNationalId},
    {"nric", E::kNationalId},
    {"rrn", E::kNationalId},
    {"codice_fiscale", E::kNationalId},
    {"fiscal_code", E::kNationalId},
    {"steuer_id", E::kNationalId},
    {"tax_id", E::kNationalId},
    {"id_number", E::kNationalId},
    {"dob", E::kDateOfBirth},
    {"birth", E::kDateOfBirth},
    {"dateofbirth", E::kDateOfBirth},
    {"birthdate", E::kDateOfBirth},
    {"born", E::kDateOfBirth},
    {"geburtsdatum", E::kDateOfBirth},
    {"nacimiento", E::kDateOfBirth},
    {"naissance", E::kDateOfBirth},
    {"nascita", E::kDateOfBirth},
    {"nascimento", E::kDateOfBirth},
    {"geboortedatum", E::kDateOfBirth},
    {"ip", E::kIpAddress},
    {"mac", E::kMacAddress},
    {"street", E::kStreetAddress},
    {"address_line", E::kStreetAddress},
    {"line1", E::kStreetAddress},
    {"address", E::kStreetAddress},
    {"password", E::kGenericSecret},
    {"passwd", E::kGenericSecret},
    // A stored hash of one: MySQL's mysql.user and global_priv, PostgreSQL's pg_authid, LDAP's
    // userPassword, and the short names schemas give them.
    {"authentication_string", E::kGenericSecret},
    {"rolpassword", E::kGenericSecret},
    {"userpassword", E::kGenericSecret},
    {"passwordhash", E::kGenericSecret},
    {"pwhash", E::kGenericSecret},
    {"passhash", E::kGenericSecret},
    {"pwd", E::kGenericSecret},
    {"secret", E::kGenericSecret},
    {"token", E::kGenericSecret},
    {"api_key", E::kGenericSecret},
    {"apikey", E::kGenericSecret},
    // Column names in other scripts (PostgreSQL folds only ASCII to lower case, so Cyrillic
    // and Greek are listed in both cases). Matched anywhere in the name: Chinese, Japanese
    // and Korean write no '_' between words ("客户姓名", "고객이름").
    // Column names of other languages written in Latin letters: a German shop's
    // kunden(vorname, nachname, telefon, anschrift, geburtsdatum), a French one's prenom and
    // nom_de_famille. (A plain nom, nombre, nome, naam, navn: as "name", by the table.)
    {"vorname", E::kPersonName},
    {"nachname", E::kPersonName},
    {"familienname", E::kPersonName},
    {"prenom", E::kPersonName},
    {"pr\xC3\xA9nom", E::kPersonName},
    {"nom_de_famille", E::kPersonName},
    {"apellido", E::kPersonName},
    {"apellidos", E::kPersonName},
    {"nombre_completo", E::kPersonName},
    {"cognome", E::kPersonName},
    {"nome_completo", E::kPersonName},
    {"sobrenome", E::kPersonName},
    {"voornaam", E::kPersonName},
    {"achternaam", E::kPersonName},
    {"fornavn", E::kPersonName},
    {"efternavn", E::kPersonName},
    {"etternavn", E::kPersonName},
    {"fornamn", E::kPersonName},
    {"f\xC3\xB6rnamn", E::kPersonName},
    {"efternamn", E::kPersonName},
    {"etunimi", E::kPersonName},
    {"sukunimi", E::kPersonName},
    {"imie", E::kPersonName},
    {"imi\xC4\x99", E::kPersonName},
    {"nazwisko", E::kPersonName},
    {"jmeno", E::kPersonName},
    {"prijmeni", E::kPersonName},
    {"telephone", E::kPhone},
    {"telefon", E::kPhone},
    {"telefono", E::kPhone},
    {"tel\xC3\xA9"
     "fono",
     E::kPhone},
    {"telefone", E::kPhone},
    {"t\xC3\xA9l\xC3\xA9phone", E::kPhone},
    {"handy", E::kPhone},
    {"movil", E::kPhone},
    {"m\xC3\xB3vil", E::kPhone},
    {"celular", E::kPhone},
    {"cellulare", E::kPhone},
    {"puhelin", E::kPhone},
    {"telefonnummer", E::kPhone},
    {"urodzenia", E::kDateOfBirth},
    {"narozeni", E::kDateOfBirth},
    {"dogum", E::kDateOfBirth},
    {"syntymaaika", E::kDateOfBirth},
    {"fodelsedatum", E::kDateOfBirth},
    {"f\xC3\xB6"
     "delsedatum",
     E::kDateOfBirth},
    {"fodselsdato", E::kDateOfBirth},
    {"f\xC3\xB8"
     "dselsdato",
     E::kDateOfBirth},
    {"geburtstag", E::kDateOfBirth},
    {"adresse", E::kStreetAddress},
    {"anschrift", E::kStreetAddress},
    {"strasse", E::kStreetAddress},
    {"stra\xC3\x9F"
     "e",
     E::kStreetAddress},
    {"direccion", E::kStreetAddress},
    {"direcci\xC3\xB3n", E::kStreetAddress},
    {"domicilio", E::kStreetAddress},
    {"indirizzo", E::kStreetAddress},
    {"endereco", E::kStreetAddress},
    {"endere\xC3\xA7o", E::kStreetAddress},
    {"morada", E::kStreetAddress},
    {"adres", E::kStreetAddress},
    {"adresa", E::kStreetAddress},
    {"osoite", E::kStreetAddress},
    {"身份证", E::kNationalId},
    {"身份證", E::kNationalId},
    {"マイナンバー", E::kNationalId},
    {"주민등록번호", E::kNationalId},
    {"инн", E::kNationalId},
    {"ИНН", E::kNationalId},
    {"снилс", E::kNationalId},
    {"СНИЛС", E::kNationalId},
    {"תעודת_זהות", E::kNationalId},
    {"کد_ملی", E::kNationalId},
    {"出生日期", E::kDateOfBirth},
    {"生年月日", E::kDateOfBirth},
    {"생년월일", E::kDateOfBirth},
    {"дата_рождения", E::kDateOfBirth},
    {"Дата_рождения", E::kDateOfBirth},
    {"تاريخ_الميلاد", E::kDateOfBirth},
    {"תאריך_לידה", E::kDateOfBirth},
    {"姓名", E::kPersonName},
    {"名字", E::kPersonName},
    {"联系人", E::kPersonName},
    {"聯絡人", E::kPersonName},
    {"收件人", E::kPersonName},
    {"收货人", E::kPersonName},
    {"客户名", E::kPersonName},
    {"客戶名", E::kPersonName},
    {"氏名", E::kPersonName},
    {"名前", E::kPersonName},
    {"이름", E::kPersonName},
    {"성명", E::kPersonName},
    {"고객명", E::kPersonName},
    {"фио", E::kPersonName},
    {"ФИО", E::kPersonName},
    {"имя", E::kPersonName},
    {"Имя", E::kPersonName},
    {"фамилия", E::kPersonName},
    {"Фамилия", E::kPersonName},
    {"піб", E::kPersonName},
    {"ПІБ", E::kPersonName},
    {"прізвище", E::kPersonName},
    {"Прізвище", E::kPersonName},
    {"όνομα", E::kPersonName},
    {"Όνομα", E::kPersonName},
    {"επώνυμο", E::kPersonName},
    {"Επώνυμο", E::kPersonName},
    {"ονοματεπώνυμο", E::kPersonName},
    {"الاسم", E::kPersonName},
    {"اسم", E::kPersonName},
    {"שם", E::kPersonName},
    {"नाम", E::kPersonName},
    {"ชื่อ", E::kPersonName},
    {"نام", E::kPersonName},
    {"სახელი", E::kPersonName},
    {"გვარი", E::kPersonName},
    {"անուն", E::kPersonName},
    {"Անուն", E::kPersonName},
    {"ազգանուն", E::kPersonName},
    {"电话", E::kPhone},
    {"電話", E::kPhone},
    {"手机", E::kPhone},
    {"手機", E::kPhone},
    {"携帯", E::kPhone},
    {"전화", E::kPhone},
    {"휴대폰", E::kPhone},
    {"연락처", E::kPhone},
    {"телефон", E::kPhone},
    {"Телефон", E::kPhone},
    {"τηλέφωνο", E::kPhone},
    {"Τηλέφωνο", E::kPhone},
    {"هاتف", E::kPhone},
    {"جوال", E::kPhone},
    {"טלפון", E::kPhone},
    {"फोन", E::kPhone},
    {"โทรศัพท์", E::kPhone},
    {"تلفن", E::kPhone},
    {"ტელეფონი", E::kPhone},
    {"հեռախոս", E::kPhone},
    {"地址", E::kStreetAddress},
    {"住址", E::kStreetAddress},
    {"住所", E::kStreetAddress},
    {"주소", E::kStreetAddress},
    {"адрес", E::kStreetAddress},
    {"Адрес", E::kStreetAddress},
    {"адреса", E::kStreetAddress},
    {"Адреса", E::kStreetAddress},
    {"διεύθυνση", E::kStreetAddress},
    {"Διεύθυνση", E::kStreetAddress},
    {"العنوان", E::kStreetAddress},
    {"כתובת", E::kStreetAddress},
    {"पता", E::kStreetAddress},
    {"ที่อยู่", E::kStreetAddress},
    {"آدرس", E::kStreetAddress},
    {"მისამართი", E::kStreetAddress},
    {"հասցե", E::kStreetAddress},
};

// "customer_email" holds the word "email"; "zip" does not hold "ip".
bool NameHas(std::string_view name, std::string_view word) {
  if (word.find('_') != std::string_view::npos || static_cast<unsigned char>(word[0]) >= 0x80)
    return name.find(word) != std::string_view::npos;
  size_t pos = 0;
  while ((pos = name.find(word, pos)) != std::string_view::npos) {
    bool left = pos == 0 || name[pos - 1] == '_';
    size_t end = pos + word.size();
    bool right = end == name.size() || name[end] == '_' || (name[end] >= '0' && name[end] <= '9');
    if (left && right) return true;
    ++pos;
  }
  return false;
}

constexpr std::string_view kNegativeColumnWords[] = {
    "sku",     "order_id", "order_no", "version", "hash",     "uuid",  "checksum", "sha",   "md5",
    "invoice", "tracking", "serial",   "build",   "revision", "count", "amount",   "price", "qty",
};

constexpr std::string_view kPlaceColumnWords[] = {
    "city",     "town",       "village",      "country",  "region", "county",  "district",
    "province", "prefecture", "municipality", "locality", "suburb", "commune",
};

// Tables whose rows are people: their "name" column is a person's name ("customers.name"),
// unlike "products.name". Matched as a whole word of the table name, singular or plural.
constexpr std::string_view kPeopleTables[] = {
    "customer",
    "user",
    "patient",
    "employee",
    "contact",
    "person",
    "people",
    "member",
    "client",
    "staff",
    "student",
    "applicant",
    "subscriber",
    "author",
    "driver",
    "passenger",
    "guest",
    "tenant",
    "donor",
    "candidate",
    "volunteer",
    "physician",
    "doctor",
    "nurse",
    "worker",
    "buyer",
    "seller",
    "recipient",
    "cardholder",
    "holder",
    "beneficiary",
    "borrower",
    "account_holder",
    "traveler",
    "traveller",
    "attendee",
    "participant",
    "resident",
    "citizen",
    "voter",
    "teacher",
    "parent",
    "child",
    "children",
    "owner",
    "signer",
    "agent",
    "lead",
    "prospect",
    // … in other languages (singular, and plural where it is not an added "s"): German, French,
    // Spanish, Portuguese, Italian, Dutch, Scandinavian, Finnish, Polish, Czech.
    "kunde",
    "kunden",
    "mitarbeiter",
    "patienten",
    "benutzer",
    "nutzer",
    "mitglied",
    "mitglieder",
    "utilisateur",
    "employe",
    "salarie",
    "adherent",
    "cliente",
    "usuario",
    "paciente",
    "empleado",
    "contacto",
    "contato",
    "socio",
    "utente",
    "utenti",
    "clienti",
    "dipendente",
    "dipendenti",
    "paziente",
    "pazienti",
    "contatti",
    "klant",
    "klanten",
    "medewerker",
    "medewerkers",
    "gebruiker",
    "gebruikers",
    "kunder",
    "anstalld",
    "anstallda",
    "ansatt",
    "ansatte",
    "asiakas",
    "asiakkaat",
    "potilas",
    "potilaat",
    "klient",
    "klienci",
    "pracownik",
    "pracownicy",
    "pacjent",
    "pacjenci",
    "zakaznik",
    "zakaznici",
};

}  // namespace

bool IsPeopleTable(std::string_view table) {
  char norm[128];
  std::string_view t(norm, NormalizeColumnName(table, norm, sizeof(norm)));
  size_t pos = 0;
  while (pos <= t.size()) {
    size_t end = t.find('_', pos);
    if (end == std::string_view::npos) end = t.size();
    std::string_view w = t.substr(pos, end - pos);
    if (w.size() > 3 && w.ends_with("ies")) {
      // "parties" is not a people table; plural -ies words here: none but "children" (below).
    } else if (w.size() > 1 && w.ends_with('s')) {
      w.remove_suffix(1);
    }
    for (std::string_view x : kPeopleTables)
      if (w == x || (x == "children" && t.substr(pos, end - pos) == x)) return true;
    pos = end + 1;
  }
  return false;
}

using B = TokenBody;
constexpr TokenPrefix kTokenPrefixes[] = {
    // GitLab
    {"glpat-", B::kUrlDot, 20, false},
    {"glptt-", B::kHex, 40, true},
    {"glrt-", B::kUrlDot, 20, false},
    {"gldt-", B::kUrl, 20, false},
    {"glft-", B::kUrl, 20, false},
    {"glimt-", B::kUrl, 25, false},
    {"glcbt-", B::kUrl, 20, false},
    {"glagent-", B::kUrl, 50, false},
    {"gloas-", B::kUrl, 64, false},
    {"glsoat-", B::kUrl, 20, false},
    {"GR1348941", B::kUrl, 20, false},
    // package registries: npm, PyPI, RubyGems, Clojars
    {"npm_", B::kAlnum, 36, true},
    {"pypi-AgEIcHlwaS5vcmc", B::kUrl, 50, false},
    {"rubygems_", B::kHex, 48, true},
    {"CLOJARS_", B::kLowerAlnum, 60, true},
    // AI providers: Hugging Face, Anthropic, Replicate, Groq, xAI, Perplexity, Pinecone
    {"hf_", B::kAlpha, 34, true},
    {"api_org_", B::kAlpha, 34, true},
    {"sk-ant-", B::kUrl, 80, false},
    {"r8_", B::kAlnum, 37, true},
    {"gsk_", B::kAlnum, 52, true},
    {"xai-", B::kAlnum, 80, true},
    {"pplx-", B::kAlnum, 48, true},
    {"pcsk_", B::kUrl, 40, false},
    // cloud and hosting: DigitalOcean, Heroku, Fly.io, Alibaba, Supabase, PlanetScale, Netlify,
    // Render, Databricks, Pulumi, Doppler, Vault, Scalingo, OpenShift
    {"dop_v1_", B::kHex, 64, true},
    {"doo_v1_", B::kHex, 64, true},
    {"dor_v1_", B::kHex, 64, true},
    {"HRKU-", B::kUrl, 60, false},
    {"fo1_", B::kUrl, 43, true},
    {"LTAI", B::kAlnum, 12, false},
    {"sbp_", B::kHex, 40, true},
    {"pscale_tkn_", B::kUrlEq, 32, false},
    {"pscale_pw_", B::kUrlEq, 32, false},
    {"pscale_oauth_", B::kUrlEq, 32, false},
    {"nfp_", B::kAlnum, 36, true},
    {"rnd_", B::kAlnum, 32, true},
    {"dapi", B::kHex, 32, true},
    {"pul-", B::kHex, 40, true},
    {"dp.pt.", B::kAlnum, 40, false},
    {"dp.st.", B::kAlnum, 40, false},
    {"dp.sa.", B::kAlnum, 40, false},
    {"dp.ct.", B::kAlnum, 40, false},
    {"dp.scim.", B::kAlnum, 40, false},
    {"dp.audit.", B::kAlnum, 40, false},
    {"hvs.", B::kUrl, 24, false},
    {"hvb.", B::kUrl, 24, false},
    {"hvr.", B::kUrl, 24, false},
    {"tk-us-", B::kUrl, 48, true},
    {"sha256~", B::kUrl, 43, true},
    // developer platforms: Grafana, Linear, Notion, Atlassian, Contentful, Prefect, ReadMe, Sentry,
    // New Relic, JFrog, Infracost, Typeform, frame.io, Octopus, Buildkite, Tailscale, 1Password,
    // age
    {"glc_", B::kBase64, 32, false},
    {"lin_api_", B::kAlnum, 40, true},
    {"lin_oauth_", B::kHex, 64, true},
    {"secret_", B::kAlnum, 43, true},
    {"ntn_", B::kAlnum, 46, true},
    {"ATATT3", B::kUrlEq, 150, false},
    {"CFPAT-", B::kUrl, 43, true},
    {"pnu_", B::kAlnum, 36, true},
    {"rdme_", B::kLowerAlnum, 70, true},
    {"sntrys_", B::kBase64, 50, false},
    {"sntryu_", B::kHex, 64, true},
    {"NRAK-", B::kUpperAlnum, 27, true},
    {"AKCp", B::kAlnum, 69, true},
    {"ico-", B::kAlnum, 32, true},
    {"tfp_", B::kUrlDot, 59, false},
    {"fio-u-", B::kUrlEq, 64, false},
    {"API-", B::kUpperAlnum, 26, true},
    {"bkua_", B::kHex, 40, true},
    {"tskey-api-", B::kUrl, 20, false},
    {"tskey-auth-", B::kUrl, 20, false},
    {"tskey-client-", B::kUrl, 20, false},
    {"tskey-scim-", B::kUrl, 20, false},
    {"tskey-webhook-", B::kUrl, 20, false},
    {"ops_eyJ", B::kBase64, 100, false},
    {"AGE-SECRET-KEY-1", B::kUpperAlnum, 58, true},
    // payments, commerce, messaging: Shopify, Square, Facebook, Stripe webhooks, Plaid, Shippo,
    // EasyPost, Lob, Duffel, Twilio, Mailgun, Mapbox, Dropbox, Google OAuth, Slack's rotating
    // tokens, 42, SettleMint
    {"shpat_", B::kHexAnyCase, 32, true},
    {"shpca_", B::kHexAnyCase, 32, true},
    {"shppa_", B::kHexAnyCase, 32, true},
    {"shpss_", B::kHexAnyCase, 32, true},
    {"sq0atp-", B::kUrl, 22, true},
    {"sq0csp-", B::kUrl, 43, true},
    {"EAAA", B::kUrlEq, 60, false},
    {"EAA", B::kAlnum, 100, false},
    {"whsec_", B::kBase64, 32, false},
    {"access-sandbox-", B::kHexDash, 36, true},
    {"access-development-", B::kHexDash, 36, true},
    {"access-production-", B::kHexDash, 36, true},
    {"shippo_live_", B::kHex, 40, true},
    {"shippo_test_", B::kHex, 40, true},
    {"EZAK", B::kAlnum, 54, true},
    {"EZTK", B::kAlnum, 54, true},
    {"live_", B::kHex, 35, true},
    {"test_", B::kHex, 35, true},
    {"duffel_live_", B::kUrlEq, 43, false},
    {"duffel_test_", B::kUrlEq, 43, false},
    {"SK", B::kHex, 32, true},
    {"key-", B::kHex, 32, true},
    {"sk.eyJ", B::kUrlDot, 20, false},
    {"sl.", B::kUrl, 130, false},
    {"GOCSPX-", B::kUrl, 28, true},
    {"ya29.", B::kUrlDot, 50, false},
    {"xoxe.xoxp-1-", B::kUrl, 20, false},
    {"xoxe.xoxb-1-", B::kUrl, 20, false},
    {"xoxe-", B::kUrl, 22, false},
    {"s-s4t2ud-", B::kHex, 64, true},
    {"s-s4t2af-", B::kHex, 64, true},
    {"sm_pat_", B::kLowerAlnum, 16, true},
    {"sm_aat_", B::kLowerAlnum, 16, true},
    {"sm_sat_", B::kLowerAlnum, 16, true},
};

std::span<const TokenPrefix> TokenPrefixesFrom(unsigned char c) {
  struct Index {
    std::vector<TokenPrefix> sorted;
    std::array<std::pair<uint16_t, uint16_t>, 256> range{};
  };
  static const Index index = [] {
    Index x;
    x.sorted.assign(std::begin(kTokenPrefixes), std::end(kTokenPrefixes));
    std::sort(x.sorted.begin(), x.sorted.end(), [](const TokenPrefix& a, const TokenPrefix& b) {
      if (a.prefix[0] != b.prefix[0]) return a.prefix[0] < b.prefix[0];
      return a.prefix.size() > b.prefix.size();
    });
    for (size_t i = 0; i < x.sorted.size(); ++i) {
      auto& r = x.range[static_cast<unsigned char>(x.sorted[i].prefix[0])];
      if (r.first == r.second) r.first = static_cast<uint16_t>(i);
      r.second = static_cast<uint16_t>(i + 1);
    }
    return x;
  }();
  const auto& r = index.range[c];
  return std::span<const TokenPrefix>(index.sorted).subspan(r.first, r.second - r.first);
}

bool InTokenBody(TokenBody b, unsigned char c) {
  const bool digit = c >= '0' && c <= '9', lower = c >= 'a' && c <= 'z',
             upper = c >= 'A' && c <= 'Z';
  const bool hex = digit || (c >= 'a' && c <= 'f');
  switch (b) {
    case B::kAlnum:
      return digit || lower || upper;
    case B::kUrl:
      return digit || lower || upper || c == '_' || c == '-';
    case B::kUrlEq:
      return digit || lower || upper || c == '_' || c == '-' || c == '=';
    case B::kUrlDot:
      return digit || lower || upper || c == '_' || c == '-' || c == '=' || c == '.';
    case B::kBase64:
      return digit || lower || upper || c == '+' || c == '/' || c == '=';
    case B::kHex:
      return hex;
    case B::kHexAnyCase:
      return hex || (c >= 'A' && c <= 'F');
    case B::kHexDash:
      return hex || c == '-';
    case B::kLowerAlnum:
      return digit || lower;
    case B::kUpperAlnum:
      return digit || upper;
    case B::kAlpha:
      return lower || upper;
  }
  return false;
}

std::span<const PatternSpec> Patterns() { return kPatterns; }
const EntityInfo& Info(Entity e) { return kInfo[Index(e)]; }
std::span<const ColumnWord> ColumnWords() { return kColumnWords; }
size_t NormalizeColumnName(std::string_view name, char* out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < name.size() && n < cap; ++i) {
    char c = name[i];
    bool upper = c >= 'A' && c <= 'Z';
    // camelCase -> camel_case
    if (upper && i > 0 && name[i - 1] >= 'a' && name[i - 1] <= 'z' && n + 1 < cap) out[n++] = '_';
    out[n++] = upper ? static_cast<char>(c + 32) : c;
  }
  return n;
}

std::optional<Entity> EntityForColumnName(std::string_view name) {
  for (const ColumnWord& w : kColumnWords)
    if (NameHas(name, w.word)) return w.entity;
  return std::nullopt;
}
bool ColumnNameHas(std::string_view lowercase_name, std::string_view word) {
  return NameHas(lowercase_name, word);
}
std::span<const std::string_view> NegativeColumnWords() { return kNegativeColumnWords; }
std::span<const std::string_view> PlaceColumnWords() { return kPlaceColumnWords; }

namespace {

// Keys whose value is a person's name (or a part of one) in records people store as text:
// JSON and YAML documents, XML elements, LDAP entries (`sn`, `givenName`, `cn`), FHIR
// resources (`family`, `given`), web forms. Normalized: lower case, camelCase as snake_case.
constexpr std::string_view kNameKeys[] = {
    "first_name",
    "firstname",
    "fname",
    "last_name",
    "lastname",
    "lname",
    "surname",
    "surnames",
    "given_name",
    "givenname",
    "given",
    "family_name",
    "familyname",
    "family",
    "middle_name",
    "middlename",
    "maiden_name",
    "full_name",
    "fullname",
    "forename",
    "forenames",
    "sn",
    "cn",
    "display_name",
    "legal_name",
    "name_first",
    "name_last",
    "name_given",
    "name_family",
    "first",
    "last",
    "vorname",
    "nachname",
    "nom",
    "prenom",
    "apellido",
    "apellidos",
    "cognome",
    "voornaam",
    "achternaam",
    "imie",
    "nazwisko",
    "fornavn",
    "efternavn",
    "etternavn",
    "sobrenome",
    "nome_completo",
    "nm",  // ISO 20022: a party's name (<Dbtr><Nm>)
};
constexpr std::string_view kNameKeySuffixes[] = {"_first_name", "_last_name",  "_full_name",
                                                 "_surname",    "_given_name", "_family_name",
                                                 "_firstname",  "_lastname"};
constexpr std::string_view kPhoneKeys[] = {
    "phone",      "phone_number", "phonenumber",  "telephone",     "telephone_number",
    "tel",        "mobile",       "mobile_phone", "mobile_number", "cell",
    "cell_phone", "home_phone",   "work_phone",   "fax",           "msisdn",
};

// Keys whose value is a postal address when it reads as one (EntityForFieldKey).
constexpr std::string_view kAddressKeys[] = {
    "address",  "addr",   "adresse", "anschrift", "direccion", "domicilio", "indirizzo",
    "endereco", "morada", "adres",   "adresa",    "osoite",    "adress"};

constexpr std::string_view kStreetKeys[] = {
    "street",
    "street_address",
    "streetaddress",
    "street_line1",
    "street_line2",
    "address_line1",
    "address_line2",
    "address_line_1",
    "address_line_2",
    "address1",
    "address2",
    "addr1",
    "addr2",
    "line1",
    "line2",
    "line",
    "strasse",
    "stra\xC3\x9F"
    "e",
    "street_name",
    "strt_nm",  // ISO 20022: <StrtNm>, <AdrLine>
    "adr_line",
};

}  // namespace

namespace {

// The field keys, and the words of people's roles, in one open-addressed table (FNV-1a, a
// fifth full): the field stage looks a key up at every '=' and ':' after a word in free text
// (logfmt, JSON), so most lookups end at an empty slot.
struct FieldSlot {
  std::string_view key;
  Entity entity = Entity::kEmail;
  bool field = false;      // a key whose value is `entity`
  bool last_word = false;  // … also as the last word of a longer key
  bool role = false;       // a person's role ("owner", "recipient"): kPeopleTables
  bool address = false;    // "address" and its words in other languages: EntityForFieldKey
};
constexpr size_t kFieldSlots = 512;
size_t FieldHash(std::string_view w) {
  uint32_t h = 2166136261u;
  for (unsigned char c : w) h = (h ^ c) * 16777619u;
  return h & (kFieldSlots - 1);
}
const FieldSlot* FindFieldWord(std::string_view w) {
  static const auto* const kTable = [] {
    auto* t = new std::array<FieldSlot, kFieldSlots>;
    auto slot = [&](std::string_view x) -> FieldSlot& {
      size_t i = FieldHash(x);
      while (!(*t)[i].key.empty() && (*t)[i].key != x) i = (i + 1) & (kFieldSlots - 1);
      (*t)[i].key = x;
      return (*t)[i];
    };
    auto add = [&](std::string_view x, Entity e, bool last_word) {
      FieldSlot& s = slot(x);
      if (s.field) return;
      s.entity = e;
      s.field = true;
      s.last_word = last_word;
    };
    for (std::string_view w : kNameKeys) add(w, Entity::kPersonName, false);
    for (std::string_view w : kPhoneKeys) add(w, Entity::kPhone, true);
    // FHIR's "line" alone: "command_line" is no street.
    for (std::string_view w : kStreetKeys) add(w, Entity::kStreetAddress, w != "line");
    for (std::string_view w : kPeopleTables) slot(w).role = true;
    for (std::string_view w : kAddressKeys) slot(w).address = true;
    return t;
  }();
  for (size_t i = FieldHash(w);; i = (i + 1) & (kFieldSlots - 1)) {
    const FieldSlot& s = (*kTable)[i];
    if (s.key.empty()) return nullptr;
    if (s.key == w) return &s;
  }
}

// "home_address", not "email_address" (the key's first word says which address it is).
bool PostalAddressKey(std::string_view k) {
  static constexpr std::string_view kOther[] = {
      "email",  "e",       "mail",      "ip",        "ipv4",     "ipv6",   "mac",
      "hw",     "wallet",  "bind",      "listen",    "server",   "remote", "local",
      "peer",   "host",    "proxy",     "gateway",   "contract", "token",  "btc",
      "eth",    "bitcoin", "crypto",    "web",       "url",      "node",   "client",
      "public", "private", "broadcast", "network",   "memory",   "base",   "load",
      "smtp",   "dns",     "socket",    "bluetooth", "ble",      "device", "multicast"};
  const std::string_view first = k.substr(0, k.find('_'));
  return std::find(std::begin(kOther), std::end(kOther), first) == std::end(kOther);
}

}  // namespace

std::optional<Entity> EntityForFieldKey(std::string_view k, bool* role, bool* address) {
  *role = false;
  if (address) *address = false;
  const FieldSlot* s = FindFieldWord(k);
  if (s && s->field) return s->entity;
  const size_t us = k.rfind('_');
  if (us == std::string_view::npos || us + 1 == k.size()) {
    *role = s && s->role;
    if (address) *address = s && s->address;
    return std::nullopt;
  }
  if (address && s) *address = s->address;
  const std::string_view last = k.substr(us + 1);
  s = FindFieldWord(last);
  if (s && s->field && s->last_word) return s->entity;
  *role = s && s->role;
  if (address && s && s->address && us > 0) *address = PostalAddressKey(k);
  if (last != "name" && last != "surname" && last != "firstname" && last != "lastname")
    return std::nullopt;
  for (std::string_view w : kNameKeySuffixes)
    if (k.ends_with(w)) return Entity::kPersonName;
  // "<people>_name": customer_name, patient_name, cardholder_name (not product_name).
  if (k.ends_with("_name") && IsPeopleTable(k.substr(0, k.size() - 5))) return Entity::kPersonName;
  return std::nullopt;
}

}  // namespace veil::masker::catalog
