// The `fake` strategy's surrogates: realistic, valid-looking values in reserved or never-issued
// ranges, derived deterministically from the keyed HMAC the `hash` strategy computes.
//
// The same value and key give the same surrogate in every table, session and run (so foreign
// keys, joins and distinct counts survive a masked copy); another key gives other surrogates.
// A surrogate is never longer than the value it replaces, except where the entity's smallest
// valid form is longer (an email shorter than 17 bytes, see MinEmailLength).
//
//   PERSON_NAME  names from masker/data/names.tsv (SSA given names, Census surnames), each word
//                of about the original word's length, in its case ("Jane Smith" -> "Rosa Kent",
//                "SMITH, JANE" -> "HALE, EDNA"); titles, particles and initials' shape kept
//   EMAIL        first.last1234@example.com|org|net (reserved domains, RFC 2606)
//   PHONE        NANP numbers NXX-555-0100..0199 (reserved for fiction), separators, parentheses
//                and the +1 / 1 prefix as written; an original whose draws keep colliding
//                moves to other 555 lines (kPhoneNarrowAttempts)
//   CREDIT_CARD  Luhn-valid, the issuer's prefix (IIN class) and length kept, grouping kept
//   US_SSN       area 900-999 (never issued), groups outside the ITIN ranges, format kept
//   IBAN         same country and length, letters and digits where they were, valid mod-97
//   DATE_OF_BIRTH shifted by 1..N days either way (N = the profile's date_shift_days), format
//                kept (ISO, US and European numeric forms, month names)
//
// Anything else (and a value of these entities in a form not recognised) is not handled here:
// Surrogate returns false and the caller falls back to the `hash` strategy's output.
//
//   std::array<uint8_t, 32> mac = HMAC(key, "EMAIL" || 0 || value);
//   std::string out;
//   if (!fake::Surrogate(Entity::kEmail, value, mac, {}, &out)) HashStrategy(...);
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "masker/entity.h"
#include "masker/fake_registry.h"

namespace veil::masker::fake {

struct Options {
  // Dates move by 1..date_shift_days days, earlier or later (never 0: the value changes).
  uint32_t date_shift_days = 30;
  // Taken surrogates, shared by every session of a profile (fake_registry.h); null: none kept,
  // so two originals may share a surrogate.
  std::shared_ptr<SurrogateRegistry> registry;
};

// How many draws an original gets before it keeps a taken surrogate (counted unchecked).
inline constexpr uint32_t kMaxAttempts = 24;
// Phones draw from the fictional 555-01XX lines for their first attempts, then from every
// 555-XXXX line but 555-1212 (555 line numbers are not assigned to subscribers).
inline constexpr uint32_t kPhoneNarrowAttempts = 3;

// The shortest email surrogate ("j1234@example.com").
inline constexpr size_t kMinEmailLength = 17;

// Appends the surrogate of `value` (an `entity`) to *out and returns true; returns false and
// leaves *out untouched when the entity has no realistic form here or the value is not in a
// form this module reads. `attempt` is the draw (0 first; later draws come with their own MAC).
bool Surrogate(Entity entity, std::string_view value, const std::array<uint8_t, 32>& mac,
               const Options& options, std::string* out, uint32_t attempt = 0);

// Checks used by tests and by the surrogate builders themselves.
bool LuhnValid(std::string_view digits);
bool IbanValid(std::string_view iban);  // ignores spaces; mod-97 == 1

}  // namespace veil::masker::fake
