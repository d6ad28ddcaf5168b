// The built-in entity catalog: for every entity of SPEC §6 its Hyperscan patterns, how a
// match is resolved to a whole value (resolver), its base score once the validator accepts
// it, and the context words that raise or lower that score.
//
// Patterns are written for Hyperscan without start-of-match: each has a fixed-length or
// literal-anchored core, and the resolver (detector.cc) walks from the match end to find
// the value's bounds. No pattern may match across '\n' (rows are scanned joined by '\n').
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "masker/entity.h"

namespace veil::masker::catalog {

// Which stage finds a pattern (FIELD-NOTES: split by class, one pass each). The prefilter
// (prefilter.h) gives each Hyperscan stage only its candidate windows; numbers are read by the
// number lexer in detector.cc, which implements the kNumber patterns below without Hyperscan
// (they stay here as the documented shapes, and for the RE2 baseline of the benchmark).
// Measured on the benchmark rows, whole-text scans: literal 1.1 GB/s, the old digit-shape
// database 0.36 GB/s, letter shapes 0.35 GB/s, caseless keywords 1.2 GB/s; the per-stage costs
// after the prefilter are in masker/GATES.md.
enum class DbClass : uint8_t { kLiteral, kNumber, kHexSep, kLetters, kKeyword };
// The classes compiled into Hyperscan databases, in scanning order.
inline constexpr DbClass kDbClasses[] = {DbClass::kLiteral, DbClass::kHexSep, DbClass::kLetters,
                                         DbClass::kKeyword};

// How a match end is turned into a candidate value.
enum class Resolver : uint8_t {
  kEmail,        // '@' two bytes before the end
  kFixedToken,   // fixed-length core [to-len, to), extended over token characters
  kPrivateKey,   // PEM header; the value runs to the END footer
  kUrlPassword,  // scheme://user:PASS@ — the password only
  kCardRun,      // digit groups around the match: the card number inside them
  kSsnDashed,    // ddd-dd-dddd: SSN or ITIN
  kPhone,        // formatted phone number: shape first, libphonenumber adds confidence
  kSpacedTen,    // ddd ddd dddd: NHS number or phone
  kIban,         // country code + check digits + BBAN groups
  kNino,         // UK national insurance number
  kIpv4,
  kIpv6,
  kMac,
  kStreet,         // number, capitalised words, street suffix, optional unit
  kKeywordValue,   // a context keyword; the value follows it
  kPersonKeyword,  // a name keyword (name:, Mr, patient …) followed by capitalised words
  kSqlInsert,      // INSERT INTO t (cols) VALUES (…): values checked against their column
  kSecretAfter,    // a label (webhook host, AccountKey=, Bearer): the credential after it
  kBasicAuth,      // Basic / "auth": base64 of user:password
  kUrlUser,        // scheme://KEY@ — a user part that is a key
  kCommandLine,    // a command that takes a credential: its line's commands (cli::Secrets)
  kScriptName,     // a name label (core_len 0) or title (1) of another script; the name after
  kScriptAddress,  // an address label (core_len 0) or mark (1) of another script; the address
  kStreetAfter,    // where someone lives or a parcel goes ("lives at", "ship to"): the street
};

struct PatternSpec {
  const char* regex;
  DbClass db;
  Resolver resolver;
  Entity entity;      // for kKeywordValue: the entity whose value follows the keyword
  uint16_t core_len;  // kFixedToken: length of the fixed core
  uint16_t max_len;   // kFixedToken: longest value after extension (0 = core only)
};

std::span<const PatternSpec> Patterns();

struct EntityInfo {
  float base_score;                            // score of a validated match without any context
  std::span<const std::string_view> positive;  // context words that raise the score
  std::span<const std::string_view> negative;  // words that lower it (order, sku, version …)
};

const EntityInfo& Info(Entity e);

// API_TOKEN by its provider's published prefix (the formats gitleaks and trufflehog know),
// then a body of one character class. Read in code at the prefilter's token runs rather than by
// Hyperscan: a hundred short literals in the literal database doubled its cost per byte.
enum class TokenBody : uint8_t {
  kAlnum,       // [A-Za-z0-9]
  kUrl,         // [A-Za-z0-9_-]
  kUrlEq,       // [A-Za-z0-9_=-]
  kUrlDot,      // [A-Za-z0-9_.=-]
  kBase64,      // [A-Za-z0-9+/=]
  kHex,         // [0-9a-f]
  kHexAnyCase,  // [0-9a-fA-F]
  kHexDash,     // [0-9a-f-] (a UUID)
  kLowerAlnum,  // [a-z0-9]
  kUpperAlnum,  // [A-Z0-9]
  kAlpha,       // [A-Za-z]
};
struct TokenPrefix {
  std::string_view prefix;
  TokenBody body;
  uint16_t min_len;  // of the body
  bool exact;        // the body is exactly min_len long
};
// The prefixes that start with byte c, longest first.
std::span<const TokenPrefix> TokenPrefixesFrom(unsigned char c);
// Whether c belongs to the body class b.
bool InTokenBody(TokenBody b, unsigned char c);

// Column-name words that hint at an entity (for ColumnHints): "email", "ssn", "dob" …
struct ColumnWord {
  std::string_view word;
  Entity entity;
};
std::span<const ColumnWord> ColumnWords();
// Lower-cases a column name into out, camelCase to snake_case (passportNumber ->
// passport_number); returns the length written (at most cap).
size_t NormalizeColumnName(std::string_view name, char* out, size_t cap);
// The entity a normalized column name hints at ("customer_email" -> EMAIL), if any.
std::optional<Entity> EntityForColumnName(std::string_view lowercase_name);
// Whether a snake_case column name holds `word` as a whole word ("zip" does not hold "ip").
bool ColumnNameHas(std::string_view lowercase_name, std::string_view word);
// Whether a table's rows are people ("customers", "crm_contacts", "Patient"): its plain
// "name" column then holds a person's name.
bool IsPeopleTable(std::string_view table);
// What the value of a key in a structured record holds, by the key's normalized name
// ("first_name", "given", "sn", "patient_name", "phone_number", "address_line1"): kPersonName,
// kPhone, kStreetAddress or none. Stricter than column names: a key in free text is any word
// before '=' or ':'. `role`: the key's last word is a person's role ("owner", "recipient",
// "patient": the singular words of IsPeopleTable), its value a person's name if shaped as one.
// One or two hash lookups. `address` (if asked): the key's value is a postal address when it
// reads as one ("address", "home_address", "Adresse", "indirizzo"); the key alone does not say
// so, since "address" also names e-mail, IP, MAC and wallet addresses ("email_address" is no
// postal one): the value's shape decides (detector.cc, StreetLineValue).
std::optional<Entity> EntityForFieldKey(std::string_view lowercase_key, bool* role,
                                        bool* address = nullptr);

// Column-name words that make digit-run findings unlikely (sku, order_id, version, hash …).
std::span<const std::string_view> NegativeColumnWords();
// Words of column names that say the column holds places (city, town, country …): a town
// named as people are named ("Castellar del Vallès") is no person there.
std::span<const std::string_view> PlaceColumnWords();

}  // namespace veil::masker::catalog
