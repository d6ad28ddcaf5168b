// Person names: the frequency table behind PERSON_NAME and the scorer that reads it.
//
// The table (masker/data/names.tsv, built by masker/data/build_names.py from public-domain US
// Census 1990 surnames and SSA given names, with SCOWL's common English words marked) is
// linked into the binary and loaded into an open-addressing hash table on first use. A token is
// looked up ASCII-folded and lower-cased ("Müller" -> "muller", "ŁUKASZ" -> "lukasz").
//
// The scorer judges a run of capitalised words found in text ("Lola Rippin", "Rippin, Lola",
// "J. Smith", "LOLA RIPPIN"): a known given name first, a surname or an unknown, non-word
// capitalised word last; common English words, place and organisation words lower the score.
// See masker/GATES.md for where it sits among the other signals.
//
//   names::TokenInfo t = names::Lookup("Jane");   // {given=3, surname=1, word=false}
//   float s = names::ScoreRun(tokens);            // >= 0.5: a person's name
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace veil::masker::names {

struct TokenInfo {
  uint8_t given = 0;    // 0 not a given name; 1 rare, 2 common, 3 very common
  uint8_t surname = 0;  // 0 not a surname; 1 rare, 2 common, 3 very common
  bool word = false;    // also a common lower-case English word ("will", "rose", "long")
  bool known() const { return given || surname; }
};

// The token as it is written (UTF-8, any case); letters outside Latin-1/Latin Extended-A, or
// a token longer than 24 bytes, find nothing.
TokenInfo Lookup(std::string_view token);

// A token in a given name's place: Lookup, or, when the whole is unknown, the first part of a
// hyphenated name ("Jean-Baptiste", "Anna-Lena").
TokenInfo LookupGiven(std::string_view token);

// Number of entries in the linked table (for tests).
size_t TableSize();

// The linked table as it is in masker/data/names.tsv (`token<TAB>flags` lines): the `fake`
// strategy draws its surrogate names from it.
std::string_view RawTable();

// One capitalised token of a run, as the detector split it.
struct Token {
  std::string_view text;
  bool initial = false;   // "J." or "J"
  bool particle = false;  // van, de, da, di, del, von, der, le, la, dos, bin, al …
};

enum class RunForm : uint8_t {
  kFirstLast,  // Given [Middle|M.] Surname
  kLastFirst,  // Surname, Given
  kAllCaps,    // GIVEN SURNAME
};

// Score in [0, 1] of a run being one person's name (tokens in text order, 2 to 5 of them;
// particles only inside). Context (keywords, columns) is added by the caller.
float ScoreRun(std::span<const Token> tokens, RunForm form);

// Words that say the capitalised run is not a person: organisation and place words (LLC, Inc,
// Group, Street, County …), weekdays and months, UI and business words (Team, Order, Policy …).
bool IsNonNameWord(std::string_view token);
// A very common surname that is also a place or title word, after a common given name ("Troy
// Hall", "Warren Lord", "Marie Ball"): it stays in the run, scored so that only context (a
// name keyword, "spoke with", a sign-off) keeps it ("Warren Hall" is also a building).
bool WordSurname(std::string_view given, std::string_view word);

// Titles and salutations that introduce a name (Mr, Mrs, Ms, Dr, Prof, Dear, Hi, Hello, Attn,
// Sir, Madam …): a run that starts with one is scored from the next token, with a bonus.
bool IsTitle(std::string_view token);
// The legal form that ends a firm's name ("Inc", "Corp.", "LLC", "Company", "Holdings"): the
// capitalised words before it are the firm ("Pitney Bowes Inc."), not a person.
bool IsLegalForm(std::string_view token);

}  // namespace veil::masker::names
