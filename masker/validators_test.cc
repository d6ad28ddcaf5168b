#include "masker/validators.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

// Counts C++ heap allocations so that the hot-path promise in validators.h is tested.
static std::atomic<int> g_allocations{0};
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace veil::masker::validate {
namespace {

std::string Digits(std::string_view in) {
  char buf[64];
  return std::string(buf, StripToDigits(in, buf, sizeof buf));
}

std::string Compact(std::string_view in) {
  char buf[64];
  return std::string(buf, CompactUpper(in, buf, sizeof buf));
}

std::string Hex(const uint8_t* p, size_t n) {
  std::string out;
  char b[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02x", p[i]);
    out += b;
  }
  return out;
}

// ---- Helpers ----

TEST(StripToDigits, DropsSeparatorsOnly) {
  EXPECT_EQ(Digits("4111 1111-1111.1111"), "4111111111111111");
  EXPECT_EQ(Digits("078/05/1120"), "078051120");
  EXPECT_EQ(Digits("4111x1111"), "");  // a letter means this is not a number
  EXPECT_EQ(Digits(""), "");
}

TEST(StripToDigits, ReturnsZeroWhenBufferTooSmall) {
  char buf[4];
  EXPECT_EQ(StripToDigits("12345", buf, sizeof buf), 0u);
  EXPECT_EQ(StripToDigits("12-34", buf, sizeof buf), 4u);
}

TEST(CompactUpper, UppercasesAndDropsSpacesAndDashes) {
  EXPECT_EQ(Compact("gb82 west 1234-5698 7654 32"), "GB82WEST12345698765432");
  EXPECT_EQ(Compact("ab 12 34 56 c"), "AB123456C");
  EXPECT_EQ(Compact("GB82/WEST"), "");
  char buf[4];
  EXPECT_EQ(CompactIban("GB82W", buf, sizeof buf), 0u);
}

// ---- Financial ----

// Published or computed examples of each scheme; one digit changed fails each checksum.
TEST(NationalIds, ChecksumsAndShapes) {
  EXPECT_TRUE(InAadhaar("234567890124"));
  EXPECT_FALSE(InAadhaar("234567890125"));
  EXPECT_FALSE(InAadhaar("134567890124"));  // never starts with 0 or 1
  EXPECT_TRUE(BrCpf("52998224725"));
  EXPECT_FALSE(BrCpf("52998224726"));
  EXPECT_FALSE(BrCpf("11111111111"));
  EXPECT_TRUE(CnResidentId("11010519491231002X"));
  EXPECT_TRUE(CnResidentId("11010519491231002x"));
  EXPECT_FALSE(CnResidentId("110105194912310021"));
  EXPECT_FALSE(CnResidentId("11010519491331002X"));  // month 13
  EXPECT_TRUE(FrNir("184127645108946"));
  EXPECT_FALSE(FrNir("184127645108947"));
  EXPECT_TRUE(PlPesel("44051401359"));
  EXPECT_FALSE(PlPesel("44051401358"));
  EXPECT_TRUE(NlBsn("111222333"));
  EXPECT_FALSE(NlBsn("111222334"));
  EXPECT_TRUE(DeTaxId("65929970489"));
  EXPECT_FALSE(DeTaxId("65929970488"));
  EXPECT_FALSE(DeTaxId("12345678903"));  // no digit repeated
  EXPECT_TRUE(SePersonnummer("8112189876"));
  EXPECT_TRUE(SePersonnummer("198112189876"));
  EXPECT_FALSE(SePersonnummer("8112189877"));
  EXPECT_TRUE(KrRrn("9001011234567"));
  EXPECT_FALSE(KrRrn("9013011234567"));
  EXPECT_TRUE(KrRrnCheck("9001011234568"));
  EXPECT_FALSE(KrRrnCheck("9001011234567"));
  EXPECT_TRUE(EsDniNie("12345678Z"));
  EXPECT_TRUE(EsDniNie("X1234567L"));
  EXPECT_FALSE(EsDniNie("12345678A"));
  EXPECT_TRUE(ItFiscalCode("RSSMRA85T10A562S"));
  EXPECT_FALSE(ItFiscalCode("RSSMRA85T10A562T"));
  EXPECT_TRUE(SgNric("S1234567D"));
  EXPECT_TRUE(SgNric("T1234567J"));
  EXPECT_FALSE(SgNric("S1234567A"));
  EXPECT_TRUE(InPan("ABCPE1234F"));
  EXPECT_FALSE(InPan("ABCXE1234F"));  // X is no holder type
  EXPECT_TRUE(NationalId("52998224725"));
  EXPECT_FALSE(NationalId("52998224726"));
}

TEST(CountryCallingCode, AssignedCodesOnly) {
  for (int cc : {1, 7, 33, 39, 44, 55, 86, 221, 358, 880})
    EXPECT_TRUE(CountryCallingCode(cc)) << cc;
  for (int cc : {0, 28, 83, 999, 1000, -1}) EXPECT_FALSE(CountryCallingCode(cc)) << cc;
}

TEST(Luhn, KnownValues) {
  EXPECT_TRUE(Luhn("4111111111111111"));
  EXPECT_TRUE(Luhn("79927398713"));
  EXPECT_FALSE(Luhn("4111111111111112"));
  EXPECT_FALSE(Luhn("79927398710"));
  EXPECT_FALSE(Luhn("0"));
  EXPECT_FALSE(Luhn(""));
  EXPECT_FALSE(Luhn("4111-1111"));
}

TEST(CardBrandOf, IssuerRanges) {
  EXPECT_EQ(CardBrandOf("4111111111111111"), CardBrand::kVisa);
  EXPECT_EQ(CardBrandOf("4222222222222"), CardBrand::kVisa);  // 13-digit Visa
  EXPECT_EQ(CardBrandOf("5555555555554444"), CardBrand::kMastercard);
  EXPECT_EQ(CardBrandOf("2223003122003222"), CardBrand::kMastercard);
  EXPECT_EQ(CardBrandOf("2720990000000000"), CardBrand::kMastercard);
  EXPECT_EQ(CardBrandOf("378282246310005"), CardBrand::kAmex);
  EXPECT_EQ(CardBrandOf("341111111111111"), CardBrand::kAmex);
  EXPECT_EQ(CardBrandOf("6011111111111117"), CardBrand::kDiscover);
  EXPECT_EQ(CardBrandOf("6445644564456445"), CardBrand::kDiscover);
  EXPECT_EQ(CardBrandOf("6221260000000000"), CardBrand::kDiscover);
  EXPECT_EQ(CardBrandOf("3530111333300000"), CardBrand::kJcb);
  EXPECT_EQ(CardBrandOf("30569309025904"), CardBrand::kDinersClub);
  EXPECT_EQ(CardBrandOf("36227206271667"), CardBrand::kDinersClub);
  EXPECT_EQ(CardBrandOf("6200000000000005"), CardBrand::kUnionPay);
  EXPECT_EQ(CardBrandOf("6759649826438453"), CardBrand::kMaestro);
  EXPECT_EQ(CardBrandOf("501800000009"), CardBrand::kMaestro);
}

TEST(CardBrandOf, RejectsUnknownPrefixAndWrongLength) {
  EXPECT_EQ(CardBrandOf("2220990000000000"), std::nullopt);  // just below Mastercard 2221
  EXPECT_EQ(CardBrandOf("2721000000000000"), std::nullopt);  // just above 2720
  EXPECT_EQ(CardBrandOf("1234567812345670"), std::nullopt);
  EXPECT_EQ(CardBrandOf("411111111111111"), std::nullopt);    // Visa is 13/16/19
  EXPECT_EQ(CardBrandOf("37828224631000"), std::nullopt);     // Amex is 15
  EXPECT_EQ(CardBrandOf("55555555555544440"), std::nullopt);  // Mastercard is 16
  EXPECT_EQ(CardBrandOf("41111111111"), std::nullopt);
  EXPECT_EQ(CardBrandOf("41111111111111111111"), std::nullopt);
  EXPECT_EQ(CardBrandOf("4111 1111 1111 1111"), std::nullopt);
}

TEST(CreditCard, PublicTestNumbers) {
  for (const char* n : {"4111111111111111", "5555555555554444", "2223003122003222",
                        "378282246310005", "6011111111111117", "3530111333300000", "30569309025904",
                        "6200000000000005", "6759649826438453"}) {
    EXPECT_TRUE(CreditCard(n)) << n;
  }
  EXPECT_TRUE(CreditCard(Digits("4111 1111 1111 1111")));
}

TEST(CreditCard, RejectsBadChecksumBrandOrRepeats) {
  EXPECT_FALSE(CreditCard("4111111111111112"));  // one digit changed
  EXPECT_FALSE(CreditCard("5555555555554445"));
  EXPECT_FALSE(CreditCard("378282246310006"));
  EXPECT_FALSE(CreditCard("1111111111111117"));  // Luhn-valid, no such issuer
  EXPECT_FALSE(CreditCard("5555555555555555"));  // one digit repeated
  EXPECT_FALSE(CreditCard(""));
}

TEST(Iban, RegistryExamples) {
  for (const char* s :
       {"GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
        "NL91ABNA0417164300", "BE68539007547034", "NO9386011117947",
        "MT84MALT011000012345MTLCAST001S", "CH9300762011623852957"}) {
    EXPECT_TRUE(Iban(s)) << s;
  }
  EXPECT_TRUE(Iban(Compact("gb82 west 1234 5698 7654 32")));
}

TEST(Iban, RejectsBadChecksumLengthCountryOrCase) {
  EXPECT_FALSE(Iban("GB82WEST12345698765433"));   // last digit changed
  EXPECT_FALSE(Iban("GB28WEST12345698765432"));   // check digits swapped
  EXPECT_FALSE(Iban("GB82WEST1234569876543"));    // GB is 22
  EXPECT_FALSE(Iban("DE8937040044053201300"));    // DE is 22
  EXPECT_FALSE(Iban("US82WEST12345698765432"));   // no IBANs in the US
  EXPECT_FALSE(Iban("gb82WEST12345698765432"));   // compact form is upper case
  EXPECT_FALSE(Iban("GB82 WEST12345698765432"));  // not compact
  EXPECT_FALSE(Iban("GBX2WEST12345698765432"));
  EXPECT_FALSE(Iban(""));
}

TEST(AbaRouting, KnownRoutingNumbers) {
  EXPECT_TRUE(AbaRouting("011000015"));  // Federal Reserve Bank of Boston
  EXPECT_TRUE(AbaRouting("021000021"));  // JPMorgan Chase, New York
  EXPECT_TRUE(AbaRouting("322271627"));  // Chase, California (thrift range 32)
}

TEST(AbaRouting, RejectsBadChecksumPrefixOrZero) {
  EXPECT_FALSE(AbaRouting("011000016"));
  EXPECT_FALSE(AbaRouting("021000012"));
  EXPECT_FALSE(AbaRouting("000000000"));
  EXPECT_FALSE(AbaRouting("131000005"));  // checksum fine, 13 is no Fed routing symbol
  EXPECT_FALSE(AbaRouting("01100001"));
  EXPECT_FALSE(AbaRouting("01100001a"));
}

// ---- National identifiers ----

TEST(UsSsn, AcceptsIssuableNumbers) {
  EXPECT_TRUE(UsSsn("536227183"));
  EXPECT_TRUE(UsSsn("001010001"));
  EXPECT_TRUE(UsSsn("899999999"));
  EXPECT_TRUE(UsSsn(Digits("665-12-3456")));
}

TEST(UsSsn, RejectsNeverIssuedAndPublishedNumbers) {
  EXPECT_FALSE(UsSsn("000123456"));
  EXPECT_FALSE(UsSsn("666123456"));
  EXPECT_FALSE(UsSsn("900123456"));
  EXPECT_FALSE(UsSsn("999123456"));
  EXPECT_FALSE(UsSsn("536007183"));  // group 00
  EXPECT_FALSE(UsSsn("536220000"));  // serial 0000
  EXPECT_FALSE(UsSsn("078051120"));
  EXPECT_FALSE(UsSsn("219099999"));
  EXPECT_FALSE(UsSsn("123456789"));
  EXPECT_FALSE(UsSsn("53622718"));
  EXPECT_FALSE(UsSsn("5362271834"));
}

TEST(UsItin, GroupRanges) {
  for (const char* s : {"912501234", "912651234", "912701234", "912881234", "912901234",
                        "912921234", "912941234", "912991234"}) {
    EXPECT_TRUE(UsItin(s)) << s;
  }
  for (const char* s : {"912491234", "912661234", "912691234", "912891234", "912931234",
                        "812701234", "91270123", "9127012345"}) {
    EXPECT_FALSE(UsItin(s)) << s;
  }
}

TEST(UsNpi, CmsExample) {
  EXPECT_TRUE(UsNpi("1245319599"));
  EXPECT_FALSE(UsNpi("1245319598"));  // check digit changed
  EXPECT_FALSE(UsNpi("1245319959"));  // two digits transposed
  EXPECT_FALSE(UsNpi("3245319599"));  // must start 1 or 2
  EXPECT_FALSE(UsNpi("124531959"));
}

TEST(UkNhs, Mod11CheckDigit) {
  EXPECT_TRUE(UkNhs("9434765919"));
  EXPECT_TRUE(UkNhs(Digits("943 476 5919")));
  EXPECT_FALSE(UkNhs("9434765918"));
  EXPECT_FALSE(UkNhs("9434765929"));
  EXPECT_FALSE(UkNhs("0000000000"));  // mod-11 valid, but not a number anyone holds
  EXPECT_FALSE(UkNhs("1111111111"));
  EXPECT_FALSE(UkNhs("943476591"));
  // 123456789x: weighted sum 210, remainder 1, check 10: no valid check digit exists.
  for (char c = '0'; c <= '9'; ++c) EXPECT_FALSE(UkNhs(std::string("123456789") + c));
}

TEST(UkNino, HmrcRules) {
  EXPECT_TRUE(UkNino("AB123456C"));
  EXPECT_TRUE(UkNino("AB123456"));  // suffix omitted
  EXPECT_TRUE(UkNino("ab123456d"));
  EXPECT_TRUE(UkNino(Compact("AB 12 34 56 C")));
  EXPECT_FALSE(UkNino("DA123456C"));  // first letter D
  EXPECT_FALSE(UkNino("QA123456C"));
  EXPECT_FALSE(UkNino("AO123456C"));  // second letter O
  EXPECT_FALSE(UkNino("AV123456C"));
  for (const char* p : {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}) {
    EXPECT_FALSE(UkNino(std::string(p) + "123456C")) << p;
  }
  EXPECT_FALSE(UkNino("AB123456E"));  // suffix A-D only
  EXPECT_FALSE(UkNino("AB12345C"));
  EXPECT_FALSE(UkNino("A1123456C"));
}

TEST(UsPassport, Shapes) {
  EXPECT_TRUE(UsPassport("340020013"));
  EXPECT_TRUE(UsPassport("A12345678"));
  EXPECT_FALSE(UsPassport("000000000"));
  EXPECT_FALSE(UsPassport("111111111"));
  EXPECT_FALSE(UsPassport("A00000000"));
  EXPECT_FALSE(UsPassport("AB1234567"));
  EXPECT_FALSE(UsPassport("12345678"));
  EXPECT_FALSE(UsPassport("1234567890"));
}

TEST(UsDriverLicense, StateShapes) {
  for (const char* s :
       {"A1234567", "D12345678", "S123456789012", "A12345678901", "AB123456", "1234567", "12345678",
        "123456789", "S123-4567-8901", "A1234", "12345678901234", "S530-4127-8842-01", "ABC123456",
        "123AB4567", "12ABC34567", "AB123456C", "1234567A"}) {
    EXPECT_TRUE(UsDriverLicense(s)) << s;
  }
  for (const char* s : {"1234", "ABCDEFGH", "ABC12345", "1234A567", "00000000", "A0000000",
                        "A1234567-", "A12_34567", "ABCD1234", "A1B2C3D4", "123456789012345"}) {
    EXPECT_FALSE(UsDriverLicense(s)) << s;
  }
}

// ---- Contact and network ----

TEST(Email, Valid) {
  for (const char* s :
       {"alice@example.com", "first.last+tag@mail.example.co.uk", "o'brien@example.ie", "x@a-b.io",
        "user_1!#$%&*=?^`{|}~@example.museum", "a@xn--bcher-kva.xn--p1ai",
        "j\xC3\xBCrgen.m\xC3\xBCller@stra\xC3\x9F"
        "e.de",  // jürgen.müller@straße.de
        "b\xC3\xBC"
        "cher@\xE4\xBE\x8B\xE3\x81\x88.jp",  // bücher@例え.jp
        "user@\xD0\xBF\xD1\x80\xD0\xB8\xD0\xBC\xD0\xB5\xD1\x80.\xD1\x80\xD1\x84"}) {  // пример.рф
    EXPECT_TRUE(Email(s)) << s;
  }
  EXPECT_TRUE(Email(std::string(64, 'a') + "@example.com"));
}

TEST(Email, Invalid) {
  for (const char* s :
       {"plainaddress", "@example.com", "alice@", "alice@localhost", ".alice@example.com",
        "alice.@example.com", "al..ice@example.com", "alice@-example.com", "alice@example-.com",
        "alice@example..com", "alice@example.c", "alice@example.c0m", "alice@192.168.0.1",
        "ali ce@example.com", "a@b@example.com", "alice@exa_mple.com",
        "alice@example.abcdefghijklmnopqrstuvwxy"}) {
    EXPECT_FALSE(Email(s)) << s;
  }
  EXPECT_FALSE(Email(std::string(65, 'a') + "@example.com"));
  EXPECT_FALSE(Email("a@" + std::string(64, 'b') + ".com"));
  std::string long_domain;
  for (int i = 0; i < 5; ++i) long_domain += std::string(50, 'd') + ".";
  EXPECT_FALSE(Email("a@" + long_domain + "com"));  // 258 > 254
}

TEST(Phone, ValidNumbers) {
  EXPECT_TRUE(Phone("+1 650-253-0000"));
  EXPECT_TRUE(Phone("(650) 253-0000"));
  EXPECT_TRUE(Phone("+44 20 7946 0958"));
  EXPECT_TRUE(Phone("020 7946 0958", "GB"));
  EXPECT_TRUE(Phone("+33 1 42 68 53 00"));
  // 555-0100..0199 are reserved for fiction, but libphonenumber 8.12 treats them as valid
  // New York numbers; masking them anyway is the safe side.
  EXPECT_TRUE(Phone("(212) 555-0100"));
}

TEST(Phone, InvalidNumbers) {
  EXPECT_FALSE(Phone("+1 150-253-0000"));  // NANP area codes never start with 1
  EXPECT_FALSE(Phone("(650) 053-0000"));   // nor exchanges with 0
  EXPECT_FALSE(Phone("123456"));           // too few digits
  EXPECT_FALSE(Phone("+1234567890123456"));
  EXPECT_FALSE(Phone("not a phone"));
  EXPECT_FALSE(Phone("020 7946 0958", "US"));
  EXPECT_FALSE(Phone("+1 (555) 123-4567"));  // 555 is not an assigned area code
}

TEST(IpV4, DottedQuad) {
  EXPECT_TRUE(IpV4("192.168.0.1"));
  EXPECT_TRUE(IpV4("8.8.8.8"));
  EXPECT_TRUE(IpV4("10.0.0.0"));
  EXPECT_TRUE(IpV4("255.255.255.255"));
  EXPECT_FALSE(IpV4("01.02.03.04"));
  EXPECT_FALSE(IpV4("192.168.00.1"));
  EXPECT_FALSE(IpV4("256.1.1.1"));
  EXPECT_FALSE(IpV4("1.2.3"));
  EXPECT_FALSE(IpV4("1.2.3.4.5"));
  EXPECT_FALSE(IpV4("1.2.3.4 "));
  EXPECT_FALSE(IpV4("1234.1.1.1"));
  EXPECT_FALSE(IpV4("192.168.0.1000000"));
}

TEST(IpV6, ViaInetPton) {
  EXPECT_TRUE(IpV6("2001:db8::1"));
  EXPECT_TRUE(IpV6("fe80::1ff:fe23:4567:890a"));
  EXPECT_TRUE(IpV6("2001:0db8:85a3:0000:0000:8a2e:0370:7334"));
  EXPECT_TRUE(IpV6("::ffff:192.0.2.128"));
  EXPECT_FALSE(IpV6("2001:db8::1::2"));
  EXPECT_FALSE(IpV6("2001:db8:g::1"));
  EXPECT_FALSE(IpV6("12345::1"));
  EXPECT_FALSE(IpV6("192.168.0.1"));
  EXPECT_FALSE(IpV6(std::string(46, ':')));
}

TEST(MacAddress, Forms) {
  EXPECT_TRUE(MacAddress("00:1a:2b:3c:4d:5e"));
  EXPECT_TRUE(MacAddress("00-1A-2B-3C-4D-5E"));
  EXPECT_TRUE(MacAddress("001a.2b3c.4d5e"));
  EXPECT_FALSE(MacAddress("00:1a-2b:3c:4d:5e"));  // mixed separators
  EXPECT_FALSE(MacAddress("00:1a:2b:3c:4d:5g"));
  EXPECT_FALSE(MacAddress("00:1a:2b:3c:4d"));
  EXPECT_FALSE(MacAddress("001a:2b3c:4d5e"));
  EXPECT_FALSE(MacAddress("00:00:00:00:00:00"));
  EXPECT_FALSE(MacAddress("ff:ff:ff:ff:ff:ff"));
  EXPECT_FALSE(MacAddress("FFFF.FFFF.FFFF"));
  EXPECT_FALSE(MacAddress("001a2b3c4d5e"));
}

// ---- Dates ----

TEST(ParseDate, Forms) {
  EXPECT_EQ(ParseDate("1984-01-05"), (Date{1984, 1, 5}));
  EXPECT_EQ(ParseDate("01/05/1984"), (Date{1984, 1, 5}));    // US reading first
  EXPECT_EQ(ParseDate("25/12/1984"), (Date{1984, 12, 25}));  // only day-first is a date
  EXPECT_EQ(ParseDate("1/5/1984"), (Date{1984, 1, 5}));
  EXPECT_EQ(ParseDate("19840105"), (Date{1984, 1, 5}));  // YYYYMMDD
  EXPECT_EQ(ParseDate("19841305"), std::nullopt);
  EXPECT_EQ(ParseDate("05.01.1984"), (Date{1984, 1, 5}));  // dots are day-first
  EXPECT_EQ(ParseDate("Jan 5, 1984"), (Date{1984, 1, 5}));
  EXPECT_EQ(ParseDate("Jan 5 1984"), (Date{1984, 1, 5}));
  EXPECT_EQ(ParseDate("5 January 1984"), (Date{1984, 1, 5}));
  // Month names of other languages, whole: French, German (a dot after the day), Spanish.
  EXPECT_EQ(ParseDate("5 janvier 1984"), (Date{1984, 1, 5}));
  EXPECT_EQ(ParseDate("5. M\xC3\xA4rz 1984"), (Date{1984, 3, 5}));
  EXPECT_EQ(ParseDate("5 de marzo de 1984"), (Date{1984, 3, 5}));
  EXPECT_EQ(ParseDate("5 d\xC3\xA9"
                      "cembre 1984"),
            (Date{1984, 12, 5}));
  // … and as the rest of CLDR's locales write a date, long and abbreviated (the forms of
  // Intl.DateTimeFormat's "long" and "medium" styles).
  const std::pair<const char*, Date> cldr[] = {{"5 janv. 1984", {1984, 1, 5}},
                                               {"12 marca 1985", {1985, 3, 12}},
                                               {"18 sie 1968", {1968, 8, 18}},
                                               {"12. března 1985", {1985, 3, 12}},
                                               {"12. ožujka 1985", {1985, 3, 12}},
                                               {"11. pro 1934", {1934, 12, 11}},
                                               {"1985. március 12.", {1985, 3, 12}},
                                               {"1964. máj. 4.", {1964, 5, 4}},
                                               {"28 Eki 1954", {1954, 10, 28}},
                                               {"12. maaliskuuta 1985", {1985, 3, 12}},
                                               {"12 марта 1985", {1985, 3, 12}},
                                               {"25 мар. 1973", {1973, 3, 25}},
                                               {"12 березня 1985", {1985, 3, 12}},
                                               {"12 Μαρτίου 1985", {1985, 3, 12}},
                                               {"12 مارس 1985", {1985, 3, 12}},
                                               {"16\u200f/12\u200f/1930", {1930, 12, 16}},
                                               {"12 Maret 1985", {1985, 3, 12}},
                                               {"25 tháng 3, 1947", {1947, 3, 25}},
                                               {"12 tháng 3 năm 1985", {1985, 3, 12}},
                                               {"4. 7. 1999", {1999, 7, 4}},
                                               {"21. 4. 1968.", {1968, 4, 21}},
                                               {"1949. 11. 8.", {1949, 11, 8}},
                                               {"3 de out. de 1943", {1943, 10, 3}},
                                               {"12 de març del 1985", {1985, 3, 12}},
                                               {"12 במרץ 1985", {1985, 3, 12}},
                                               {"13 जन॰ 1955", {1955, 1, 13}},
                                               {"1960. gada 25. februāris", {1960, 2, 25}},
                                               {"1977 m. kovo 9 d.", {1977, 3, 9}},
                                               {"8 ნოემბერი, 1937", {1937, 11, 8}},
                                               {"16 օգոստոսի, 1973", {1973, 8, 16}}};
  for (const auto& [text, date] : cldr) EXPECT_EQ(ParseDate(text), date) << text;
  EXPECT_EQ(ParseDate("5 janv 1984 x"), std::nullopt);
  EXPECT_EQ(ParseDate("12 sierpień 1985"), std::nullopt);  // nominative: no date writes it
  EXPECT_EQ(ParseDate("January 5, 1984"), (Date{1984, 1, 5}));
  EXPECT_EQ(ParseDate("Sept. 30th, 1984"), (Date{1984, 9, 30}));
  EXPECT_EQ(ParseDate("1st MAR 1984"), (Date{1984, 3, 1}));
  EXPECT_EQ(ParseDate("  December 31, 1999 "), (Date{1999, 12, 31}));
}

TEST(ParseDate, CalendarAndLeapYears) {
  EXPECT_EQ(ParseDate("2000-02-29"), (Date{2000, 2, 29}));  // divisible by 400
  EXPECT_EQ(ParseDate("1984-02-29"), (Date{1984, 2, 29}));
  EXPECT_EQ(ParseDate("1900-02-29"), std::nullopt);  // divisible by 100
  EXPECT_EQ(ParseDate("1985-02-29"), std::nullopt);
  EXPECT_EQ(ParseDate("1984-04-31"), std::nullopt);
  EXPECT_EQ(ParseDate("1984-13-01"), std::nullopt);
  EXPECT_EQ(ParseDate("1984-00-10"), std::nullopt);
  EXPECT_EQ(ParseDate("31/31/1984"), std::nullopt);  // neither reading
  EXPECT_EQ(ParseDate("Feb 30, 1984"), std::nullopt);
}

TEST(ParseDate, RejectsOtherText) {
  for (const char* s : {"1984-1-5x", "1984-01/05", "84-01-05", "01/05/84", "Foo 5, 1984",
                        "Ja 5, 1984", "Janu 5, 1984", "5 January", "1.2.3.4", "2001:db8::1",
                        "32 Jan 1984", "Jan 5, 19845", "v1.2.1984"}) {
    EXPECT_EQ(ParseDate(s), std::nullopt) << s;
  }
}

TEST(DateOfBirth, YearRange) {
  EXPECT_TRUE(DateOfBirth("1984-01-05"));
  EXPECT_TRUE(DateOfBirth("1900-01-01"));
  EXPECT_TRUE(DateOfBirth("12/31/2025"));
  EXPECT_FALSE(DateOfBirth("1899-12-31"));
  EXPECT_FALSE(DateOfBirth("2026-01-01"));
  EXPECT_TRUE(DateOfBirth("2026-01-01", 2026));
  EXPECT_FALSE(DateOfBirth("1984-02-30"));
}

// ---- Secrets and tokens ----

TEST(ShannonEntropy, Values) {
  EXPECT_DOUBLE_EQ(ShannonEntropy(""), 0.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abab"), 1.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abcdefgh"), 3.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("0123456789abcdef"), 4.0);
}

TEST(LooksLikeSecret, RandomCredentials) {
  EXPECT_TRUE(LooksLikeSecret("hh2FDEEtfjgVvVqE1SkHbn88HxjSI6bW", 3.5));
  EXPECT_TRUE(LooksLikeSecret("Tr0ub4dor&3", 3.0));
  EXPECT_TRUE(LooksLikeSecret("kX9#mQ2$vL", 3.0));
}

TEST(LooksLikeCredential, AfterALabelDigestsAndUuidsAreKeys) {
  EXPECT_TRUE(LooksLikeCredential("d41d8cd98f00b204e9800998ecf8427e"));  // Sentry's DSN key
  EXPECT_TRUE(LooksLikeCredential("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(LooksLikeCredential("${API_TOKEN}"));
  EXPECT_FALSE(LooksLikeCredential("xxxxxxxxxxxxxxxxxxxx"));
  EXPECT_FALSE(LooksLikeCredential("expiredexpired"));  // one class
}

TEST(BasicCredentials, DecodesToUserColonPassword) {
  EXPECT_TRUE(BasicCredentials("dXNlcjpwYXNz"));  // user:pass
  EXPECT_TRUE(BasicCredentials("bG85dTg3bWg6UnNGM1hROXBYNllhc3U="));
  EXPECT_FALSE(BasicCredentials("dXNlcm5hbWU="));  // "username": no ':'
  EXPECT_FALSE(BasicCredentials("dXNlcjo="));      // "user:": no password
  EXPECT_FALSE(BasicCredentials("idea"));          // not printable once decoded
  EXPECT_FALSE(BasicCredentials("not base64!"));
}

TEST(Password, WeakPasswordsAreStillPasswords) {
  for (const char* s : {"hunter2", "changeme", "password", "Welcome1", "Password123!", "1234",
                        "Tr0ub4dor&3", "secret"}) {
    EXPECT_TRUE(Password(s)) << s;
  }
  for (const char* s :
       {"${DB_PASSWORD}", "<your-password>", "********", "xxxxxxxx", "null", "[FILTERED]",
        "expired", "Required", "example", "ab", "$PGPASSWORD", "{{ vault.db }}"}) {
    EXPECT_FALSE(Password(s)) << s;
  }
}

TEST(LooksLikeSecret, RejectsIdentifiersPlaceholdersAndLowEntropy) {
  EXPECT_FALSE(LooksLikeSecret("aB3$xY", 2.0));                                // too short
  EXPECT_FALSE(LooksLikeSecret("123e4567-e89b-12d3-a456-426614174000", 3.0));  // UUID
  EXPECT_FALSE(LooksLikeSecret("d41d8cd98f00b204e9800998ecf8427e", 3.0));      // MD5
  EXPECT_FALSE(LooksLikeSecret("da39a3ee5e6b4b0d3255bfef95601890afd80709", 3.0));
  EXPECT_FALSE(
      LooksLikeSecret("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 3.0));
  for (const char* s : {"xxxxXXXX1234", "********12ab", "your_api_key_1", "<api-key-1A>",
                        "${DB_PASSWORD}", "{{ vault.key }}1", "%s%s%s%s12", "REDACTED1234",
                        "placeholder1A", "Null_Value_1", "None_9Value", "True_Value_1",
                        "FALSE_value_1", "[FILTERED]", "example_api_key", "Sample-Token-Here"}) {
    EXPECT_FALSE(LooksLikeSecret(s, 2.0)) << s;
  }
  // A documentation word beside digits is a credential's own word: what its label says it is.
  for (const char* s : {"MyEXAMPLEkey9", "ChangeMe123!", "Password123!", "mySecret99",
                        "dummy_Key9x", "sample-Key9x", "Test123Key!"}) {
    EXPECT_TRUE(LooksLikeSecret(s, 2.0)) << s;
  }
  EXPECT_FALSE(LooksLikeSecret("qwertyuiopasdfgh", 2.0));  // one class
  EXPECT_FALSE(LooksLikeSecret("12345678901234", 2.0));
  EXPECT_FALSE(LooksLikeSecret("aaaaaaaa11111111", 3.0));  // two classes, entropy 1.0
}

TEST(AwsAccessKey, Shapes) {
  EXPECT_TRUE(AwsAccessKey("AKIAYOJFLJOOA7LQSAJ2"));
  EXPECT_TRUE(AwsAccessKey("ASIAYOJFLJOOA7LQSAJ2"));
  // AWS's documentation example, and digits outside base32 as scanners and people write them.
  EXPECT_TRUE(AwsAccessKey("AKIAIOSFODNN7EXAMPLE"));
  EXPECT_TRUE(AwsAccessKey("AKIA2E0A8F3B244C9986"));
  EXPECT_FALSE(AwsAccessKey("AKIAYOJFLJOOa7LQSAJ2"));
  EXPECT_FALSE(AwsAccessKey("AXXAYOJFLJOOA7LQSAJ2"));
  EXPECT_FALSE(AwsAccessKey("AKIAYOJFLJOOA7LQSAJ"));
  EXPECT_FALSE(AwsAccessKey("AKIAYOJFLJOOA7LQSAJ22"));
}

TEST(AwsSecretKey, Shapes) {
  EXPECT_TRUE(AwsSecretKey("PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA+"));
  EXPECT_TRUE(AwsSecretKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));   // AWS docs example
  EXPECT_FALSE(AwsSecretKey("PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA"));   // 39
  EXPECT_FALSE(AwsSecretKey("PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA-"));  // '-'
  EXPECT_FALSE(AwsSecretKey("da39a3ee5e6b4b0d3255bfef95601890afd80709"));  // SHA-1 hex
  EXPECT_FALSE(AwsSecretKey("PTYGJMUHBEL31IEL2HPCHYGCFRL1SPNXNYVMIHA+"));  // no lower case
  EXPECT_FALSE(AwsSecretKey("aA1aA1aA1aA1aA1aA1aA1aA1aA1aA1aA1aA1aA1a"));  // entropy 1.6
}

TEST(GcpApiKey, Shapes) {
  EXPECT_TRUE(GcpApiKey("AIzaVOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU8"));
  EXPECT_FALSE(GcpApiKey("AIzaVOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU"));
  EXPECT_FALSE(GcpApiKey("AIzbVOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU8"));
  EXPECT_FALSE(GcpApiKey("AIzaVOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGS.8"));
}

TEST(GithubToken, Shapes) {
  EXPECT_TRUE(GithubToken("ghp_RIBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj"));
  EXPECT_TRUE(GithubToken("ghs_RIBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj"));
  EXPECT_TRUE(GithubToken(
      "github_pat_7FAc9QeWJKY40uvSwMFLZDe1f8rESQedUStPKR0CsTy4Qwb8DwkNhFdnXsiVpzz63FfkCzJr4i0B3"
      "JrTAw"));
  EXPECT_FALSE(GithubToken("ghx_RIBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj"));
  EXPECT_FALSE(GithubToken("ghp_RIBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWv"));
  EXPECT_FALSE(GithubToken("ghp_RIBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkW_j"));
  EXPECT_FALSE(GithubToken("ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));  // entropy 0
}

TEST(SlackToken, Shapes) {
  EXPECT_TRUE(SlackToken("xoxb-123456789012-1234567890123-jJJibaZUPgHV7iB3m03nbqns"));
  EXPECT_TRUE(SlackToken("xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123"));
  EXPECT_TRUE(SlackToken("xapp-1-A0123456789-1234567890123-0123456789abcdef"));
  EXPECT_FALSE(SlackToken("xoxz-123456789012-1234567890123-jJJibaZUPgHV7iB3m03nbqns"));
  EXPECT_FALSE(SlackToken("xoxb-1234"));  // too short
  EXPECT_FALSE(SlackToken("xoxb-123456789012--1234567890123"));
  EXPECT_FALSE(SlackToken("xoxb-123456789012-1234567890123-"));
  EXPECT_FALSE(SlackToken("xoxb-abcdefghijklmnopqrstuvwxyz"));  // one group
  EXPECT_FALSE(SlackToken("xoxb-123456789012_1234567890123"));
}

TEST(StripeKey, Shapes) {
  EXPECT_TRUE(StripeKey("sk_live_QL05HA064GiIjHGb3CXlMaXZ"));
  EXPECT_TRUE(StripeKey("rk_test_QL05HA064GiIjHGb3CXlMaXZQL05HA064GiIjHGb3CXlMaXZ"));
  EXPECT_FALSE(StripeKey("pk_live_QL05HA064GiIjHGb3CXlMaXZ"));  // publishable
  EXPECT_FALSE(StripeKey("sk_live_QL05HA064GiIjHGb3CXlMaX"));   // 23
  EXPECT_FALSE(StripeKey("sk_live_QL05HA064GiIjHGb3CXlMa-Z"));
}

TEST(OpenAiKey, Shapes) {
  EXPECT_TRUE(OpenAiKey("sk-proj-MlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8zRA9a9SkpXz9w3QlY7Zkuvqdt7s8S"));
  EXPECT_TRUE(OpenAiKey("sk-svcacct-MlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8zRA9a9Skp"));
  EXPECT_TRUE(OpenAiKey("sk-admin-MlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8zRA9a9Skp"));
  EXPECT_TRUE(OpenAiKey("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"));
  EXPECT_FALSE(OpenAiKey("sk-proj-MlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8zRA9a"));  // 36 after prefix
  EXPECT_FALSE(OpenAiKey("sk-proj-MlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8zRA9a9Skp.Xz9w3QlY"));
  EXPECT_FALSE(OpenAiKey("sk-jJJibaZUPgHV7iB3m03nT3BlbkFxbqnsGpWLuqIA1id6Vw5D"));
  EXPECT_FALSE(OpenAiKey("sk-jJJibaZUPgHV7iB3m03nbqnsGpWLuqIA1id6Vw5DjJJibaZU"));
}

TEST(Jwt, Tokens) {
  EXPECT_TRUE(
      Jwt("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
          "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"));
  EXPECT_TRUE(Jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."));  // alg none, unsigned
  // Leading whitespace in the header JSON; "alg" after another key.
  EXPECT_TRUE(Jwt("ICB7ImFsZyI6IlJTMjU2Iiwia2lkIjoiazEifQ.eyJzdWIiOiIxIn0.c2ln"));
}

TEST(Jwt, RejectsNonTokens) {
  EXPECT_FALSE(Jwt("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2ln"));  // header without "alg"
  EXPECT_FALSE(Jwt("eyJhbGciOiJub25lIn0.WyJ4Il0.c2ln"));         // payload is an array
  EXPECT_FALSE(Jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0"));      // two segments
  EXPECT_FALSE(Jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.c2ln.c2ln"));
  EXPECT_FALSE(Jwt("eyJhbGciOiJub25lIn0=.eyJzdWIiOiIxIn0.c2ln"));  // padding
  EXPECT_FALSE(Jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.c2l+"));   // base64, not base64url
  EXPECT_FALSE(Jwt("www.example.com"));
  EXPECT_FALSE(Jwt("a.b.c"));
}

TEST(Keccak256, KnownDigests) {
  uint8_t h[32];
  Keccak256("", h);
  EXPECT_EQ(Hex(h, 32), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  Keccak256("abc", h);
  EXPECT_EQ(Hex(h, 32), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  // 136 bytes: exactly one rate block, so the padding goes into a second block.
  Keccak256(std::string(136, 'a'), h);
  std::string one_block = Hex(h, 32);
  Keccak256(std::string(135, 'a'), h);
  EXPECT_NE(Hex(h, 32), one_block);
}

TEST(CryptoWallet, Bitcoin) {
  EXPECT_TRUE(CryptoWallet("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"));
  EXPECT_TRUE(CryptoWallet("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
  EXPECT_TRUE(CryptoWallet("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));  // genesis block
  EXPECT_TRUE(CryptoWallet("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"));
  EXPECT_TRUE(CryptoWallet("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"));  // BIP-173
  EXPECT_TRUE(CryptoWallet(
      "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"));  // BIP-350 taproot

  EXPECT_FALSE(CryptoWallet("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"));  // checksum
  EXPECT_FALSE(CryptoWallet("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVNO"));  // 'O' not base58
  EXPECT_FALSE(CryptoWallet("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz"));
  EXPECT_FALSE(CryptoWallet("2J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
  EXPECT_FALSE(CryptoWallet("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr"));
  EXPECT_FALSE(CryptoWallet("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzWf5mdq"));  // mixed case
  EXPECT_FALSE(CryptoWallet("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh"));  // v0 + bech32m
  EXPECT_FALSE(CryptoWallet("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"));  // testnet
  EXPECT_FALSE(CryptoWallet("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mbq"));
}

TEST(CryptoWallet, EthereumEip55) {
  for (const char* s :
       {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0xde709f2102306220921060314715629080e2fb77"}) {
    EXPECT_TRUE(CryptoWallet(s)) << s;
  }
  EXPECT_FALSE(CryptoWallet("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"));  // case flipped
  EXPECT_FALSE(CryptoWallet("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
  EXPECT_FALSE(CryptoWallet("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe"));  // 39 hex
  EXPECT_FALSE(CryptoWallet("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg"));
  EXPECT_FALSE(CryptoWallet("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
}

TEST(HotPath, DoesNotAllocate) {
  char buf[40];
  // One-time initialisation (libphonenumber's metadata, the NANP area-code table, the month
  // names' hash table) allocates; do it before counting, as a long-running agent has.
  EXPECT_TRUE(Phone("+1 212-555-0100"));
  EXPECT_EQ(MonthOf("marca"), 3);
  int before = g_allocations.load();
  bool all = true;
  all &= CreditCard({buf, StripToDigits("4111 1111 1111 1111", buf, sizeof buf)});
  all &= Iban({buf, CompactIban("GB82 WEST 1234 5698 7654 32", buf, sizeof buf)});
  all &= UsSsn("536227183") && UsItin("912701234") && UsNpi("1245319599") && UkNhs("9434765919") &&
         UkNino("AB123456C") && AbaRouting("011000015");
  all &= UsPassport("A12345678") && UsDriverLicense("A1234567");
  all &= Email("alice@example.com") && IpV4("192.168.0.1") && IpV6("2001:db8::1") &&
         MacAddress("00:1a:2b:3c:4d:5e");
  all &= DateOfBirth("January 5, 1984") && DateOfBirth("05.01.1984");
  all &= LooksLikeSecret("hh2FDEEtfjgVvVqE1SkHbn88HxjSI6bW", 3.5) &&
         AwsAccessKey("AKIAYOJFLJOOA7LQSAJ2") &&
         AwsSecretKey("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") &&
         GcpApiKey("AIzaVOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtGSU8") &&
         GithubToken("ghp_RIBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj") &&
         SlackToken("xoxb-123456789012-1234567890123-jJJibaZUPgHV7iB3m03nbqns") &&
         StripeKey("sk_live_QL05HA064GiIjHGb3CXlMaXZ") &&
         OpenAiKey("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");
  all &=
      Jwt("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
          "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U");
  all &= CryptoWallet("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") &&
         CryptoWallet("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
  EXPECT_TRUE(all);
  EXPECT_EQ(g_allocations.load() - before, 0);
  // North American numbers take the table path and allocate nothing either.
  EXPECT_TRUE(Phone("+1 650-253-0000"));
  EXPECT_EQ(g_allocations.load() - before, 0);
  // The counter works: other countries go through libphonenumber, which allocates (a number
  // no other test uses, so the per-thread answer cache cannot serve it).
  EXPECT_TRUE(Phone("+61 2 9374 4000"));
  EXPECT_GT(g_allocations.load() - before, 0);
}

}  // namespace
}  // namespace veil::masker::validate
