// Validators: the second opinion on a Hyperscan candidate.
//
// Hyperscan finds text that has the shape of an entity (sixteen digits, something@something, a
// string starting with "AKIA"). Most such text is not the entity: order numbers, version strings,
// hashes. Each function here takes one candidate, exactly as the caller extracted it, and says
// whether it really is the entity: check digits (Luhn, mod-97, mod-11, ABA), issuer and
// country tables, base58check and bech32 checksums, EIP-55, calendar dates, and shape-plus-entropy
// tests for tokens that carry no checksum.
//
//   char buf[32];
//   size_t n = validate::StripToDigits("4111 1111-1111 1111", buf, sizeof buf);
//   if (validate::CreditCard({buf, n})) { ... }
//
// Every function is pure, thread-safe, never throws, and (apart from Phone, and the SHA-256
// call inside CryptoWallet for candidates already shaped like Bitcoin addresses) never
// allocates: they run once per candidate on the data path. Inputs are borrowed for the call only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace veil::masker::validate {

// ---- Normalisation helpers (caller supplies the buffer, usually on the stack) ----

// Copies the ASCII digits of `in` to `out`, dropping the separators people put inside numbers
// (space, tab, '-', '.', '/'). Returns the number of digits written, or 0 if `in` contains any
// other character or more than `cap` digits; 0 fails every validator below.
size_t StripToDigits(std::string_view in, char* out, size_t cap);

// Copies the letters and digits of `in` to `out` in upper case, dropping spaces and '-'.
// Returns the number of characters written, or 0 if `in` contains any other character or would
// need more than `cap` bytes. Used for IBANs ("gb82 west 1234 ...") and NINOs ("ab 12 34 56 c").
size_t CompactUpper(std::string_view in, char* out, size_t cap);
inline size_t CompactIban(std::string_view in, char* out, size_t cap) {
  return CompactUpper(in, out, cap);
}

// ---- Financial ----

// Luhn (mod 10) over a digit string of length >= 2. False on any non-digit.
bool Luhn(std::string_view digits);

enum class CardBrand {
  kVisa,
  kMastercard,
  kAmex,
  kDiscover,
  kDinersClub,
  kJcb,
  kUnionPay,
  kMaestro
};

// The brand whose issuer prefix (IIN range) matches `digits` and whose card numbers may have
// this length; nullopt otherwise. Does not check Luhn.
std::optional<CardBrand> CardBrandOf(std::string_view digits);

// Known brand + valid length for it + Luhn, and not one digit repeated.
bool CreditCard(std::string_view digits);

// `compact`: upper-case letters and digits, no spaces (see CompactIban). Checks the country code
// against the SWIFT IBAN registry (release of 2025: 89 countries) and the national IBANs outside it
// (Iran, BCEAO/BEAC countries, Morocco, …) and its fixed length, then ISO 7064 mod 97-10.
bool Iban(std::string_view compact);

// ABA routing transit number (9 digits): Federal Reserve prefix and the 3-7-1 checksum.
bool AbaRouting(std::string_view digits9);

// ---- National identifiers ----

// US Social Security Number (9 digits): SSA's never-issued areas, groups and serials, and the
// numbers made public in advertising (078-05-1120, 219-09-9999, 123-45-6789).
bool UsSsn(std::string_view digits9);

// US Individual Taxpayer Identification Number (9 digits): 9XX-[50-65|70-88|90-92|94-99]-XXXX.
bool UsItin(std::string_view digits9);

// US National Provider Identifier (10 digits): starts 1 or 2; Luhn with the 80840 prefix.
bool UsNpi(std::string_view digits10);

// UK NHS number (10 digits): mod-11 check digit.
bool UkNhs(std::string_view digits10);

// UK National Insurance number, compact ("AB123456C" or the 8-char form without the suffix);
// letters in either case. HMRC's prefix rules.
bool UkNino(std::string_view compact);

// US passport book number: 9 digits, or one letter + 8 digits (next-generation passports).
bool UsPassport(std::string_view s);

// US driver's licence: one of the common state shapes (letter+7, letter+8, letter+11,
// letter+12, 2 letters+6, 7, 8 or 9 digits; '-' and ' ' separators ignored; not one digit
// repeated). Deliberately permissive: column context decides the rest.
bool UsDriverLicense(std::string_view s);

// ---- National identification numbers elsewhere (NATIONAL_ID) ----
// Each takes the value without its separators. Checksums are gates where the scheme has one.

bool InAadhaar(std::string_view digits12);  // first digit 2-9, Verhoeff check digit
bool BrCpf(std::string_view digits11);      // two mod-11 check digits; not one digit repeated
bool CnResidentId(std::string_view s18);    // region, birth date, ISO 7064 MOD 11-2 ('X' = 10)
bool FrNir(std::string_view digits15);      // sex, birth month, key = 97 - number mod 97
bool PlPesel(std::string_view digits11);    // birth date (century in the month), weights 1379
bool NlBsn(std::string_view digits9);       // the 11-test
bool DeTaxId(std::string_view digits11);    // ISO 7064 MOD 11,10; one digit twice or thrice
bool SePersonnummer(std::string_view digits10or12);  // birth date, Luhn over the last ten
bool KrRrn(std::string_view digits13);               // birth date and the century/sex digit
bool KrRrnCheck(std::string_view digits13);  // the check digit of numbers issued before 2020
// South Africa's identity number: 13 digits, YYMMDD first, citizenship 0 or 1 in the 11th,
// Luhn over all.
bool ZaId(std::string_view digits);
bool EsDniNie(std::string_view s9);       // 8 digits or X/Y/Z + 7, then the mod-23 letter
bool ItFiscalCode(std::string_view s16);  // shape (month letter, day) and the check letter
bool InPan(std::string_view s10);         // AAAAA9999A, fourth letter a holder type
bool SgNric(std::string_view s9);         // S/T/F/G/M, 7 digits, the weighted check letter
// Any of the above that takes a value of this length and shape.
bool NationalId(std::string_view s);

// ---- Contact and network ----

// Pragmatic RFC 5321/5322 address: dot-atom local part (1-64), a DNS name of at least two
// labels with an alphabetic (or xn--) TLD, 254 characters at most. No quoted local parts, no
// IP-literal domains.
bool Email(std::string_view s);

// Parses with libphonenumber (`default_region` for numbers without a '+' country code) and asks
// IsValidNumber; 7 to 15 digits. Allocates: libphonenumber works on std::string.
bool Phone(std::string_view text, std::string_view default_region = "US");

// Whether `cc` is an assigned country calling code (1-999; libphonenumber's table, read once).
bool CountryCallingCode(int cc);

// Dotted-quad IPv4; leading zeros ("01.02.03.04", octal to some parsers) are rejected.
bool IpV4(std::string_view s);
bool IpV6(std::string_view s);

// "00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E" (one separator throughout) or Cisco "001a.2b3c.4d5e";
// not all zeros, not broadcast.
bool MacAddress(std::string_view s);

// ---- Dates ----

struct Date {
  int year;
  int month;  // 1-12
  int day;    // 1-31
  friend bool operator==(const Date&, const Date&) = default;
};

// Parses "1984-01-05", "01/05/1984" (US month first; the day-first reading is used when only
// it is a real date), "05.01.1984", "Jan 5, 1984", "5 January 1984", "January 5, 1984" (also
// "Jan 5 1984", "5 Jan 1984", "Sept" and the like) into a real calendar date, years 1000-9999.
std::optional<Date> ParseDate(std::string_view text);

// The month a word names (1-12), 0 if none: "Jan", "Sept", "january" in any case, and the whole
// names in French, German, Spanish, Italian, Portuguese and Dutch ("juillet", "März").
int MonthOf(std::string_view word);

inline constexpr int kMinBirthYear = 1900;
inline constexpr int kMaxBirthYear = 2025;

// ParseDate and a year in [kMinBirthYear, max_year].
bool DateOfBirth(std::string_view text, int max_year = kMaxBirthYear);

// ---- Secrets and tokens ----

// Shannon entropy of the byte distribution, in bits per character (0 for empty input).
double ShannonEntropy(std::string_view s);

// Generic "this value looks like a credential" test for values found next to keys such as
// password= or api_key:. False for short values, UUIDs, hex digests, placeholders and
// stop-words; otherwise entropy >= min_entropy with at least two character classes.
bool LooksLikeSecret(std::string_view value, double min_entropy);

// A value that its label already calls a credential (`Bearer …`, `AccountKey=…`, a webhook's
// path, a URL's key user): not a placeholder, two character classes, entropy >= 3. Unlike
// LooksLikeSecret, hex digests and UUIDs pass: after such a label they are the key.
bool LooksLikeCredential(std::string_view value);

// The value of a password label (`password=`, `PGPASSWORD=`, `"passwd": "…"`): the password
// however weak (`hunter2`, `Welcome1`, `changeme`), unless a template, a reference, a masked
// value or a word saying what happened to it (`expired`, `required`, `[FILTERED]`).
bool Password(std::string_view value);

// HTTP Basic credentials: standard base64 that decodes to printable "user:password" with a
// non-empty password.
bool BasicCredentials(std::string_view b64);

// Decodes base64 (the standard alphabet; the URL-safe one too if `url_safe`), with no
// padding, byte by byte into `byte(unsigned char)`, which returns false to stop. False if a
// character is not of the alphabet or `byte` stopped.
template <typename F>
bool Base64Bytes(std::string_view b64, bool url_safe, F&& byte) {
  uint32_t acc = 0;
  int bits = 0;
  for (const char c : b64) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || (url_safe && c == '-'))
      v = 62;
    else if (c == '/' || (url_safe && c == '_'))
      v = 63;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (!byte(static_cast<unsigned char>((acc >> bits) & 0xFF))) return false;
    }
  }
  return true;
}

// AKIA/ASIA/... + 16 base32 characters, and not AWS's documentation example.
bool AwsAccessKey(std::string_view s);
// 40 characters of [A-Za-z0-9/+] with lower, upper and digit, entropy >= 4.0, no "EXAMPLE".
bool AwsSecretKey(std::string_view s);
// "AIza" + 35 characters of [A-Za-z0-9_-].
bool GcpApiKey(std::string_view s);
// ghp_/gho_/ghu_/ghs_/ghr_ + 36 alnum, or github_pat_ + 82 [A-Za-z0-9_]; entropy >= 3.0.
bool GithubToken(std::string_view s);
// xoxa-/xoxb-/xoxp-/xoxo-/xoxs-/xoxr-/xapp- (and rotating xoxe.) + dash-separated alnum groups.
bool SlackToken(std::string_view s);
// sk_live_/sk_test_/rk_live_/rk_test_ + at least 24 alnum (publishable pk_ keys are not secret).
bool StripeKey(std::string_view s);
// sk-proj-/sk-svcacct-/sk-admin- + >= 40 [A-Za-z0-9_-], or legacy sk- + 20 + "T3BlbkFJ" + 20.
bool OpenAiKey(std::string_view s);

// Three base64url segments; the header decodes to a JSON object naming "alg", the payload to a
// JSON object. The signature may be empty (alg "none"). Decodes on the fly; no buffer.
bool Jwt(std::string_view token);

// Bitcoin base58check P2PKH ('1') / P2SH ('3'), Bitcoin bech32 / bech32m segwit ("bc1"), or
// Ethereum "0x" + 40 hex (mixed case must satisfy EIP-55).
bool CryptoWallet(std::string_view s);

// Keccak-256 as Ethereum uses it (original Keccak padding, not FIPS 202 SHA3-256).
// Exposed for tests and for callers that need EIP-55 formatting.
void Keccak256(std::string_view data, uint8_t out[32]);

}  // namespace veil::masker::validate
