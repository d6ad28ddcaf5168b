#include "masker/names.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>

#include "masker/letters.h"

// The table is linked in as bytes (VEIL_NAMES_TSV is its absolute path, set by CMake).
// clang-format off
asm(".section .rodata\n"
    ".balign 8\n"
    ".global veil_names_tsv_begin\n"
    "veil_names_tsv_begin:\n"
    ".incbin \"" VEIL_NAMES_TSV "\"\n"
    ".global veil_names_tsv_end\n"
    "veil_names_tsv_end:\n"
    ".byte 0\n"
    ".previous\n");
// clang-format on
extern "C" const char veil_names_tsv_begin[];
extern "C" const char veil_names_tsv_end[];

namespace veil::masker::names {
namespace {

// Lower-cased ASCII spelling of a token into out (cap bytes); 0 if it holds anything else.
// Latin letters lose their marks and Cyrillic ones are romanised (letters.h), so "Nguyễn",
// "Ionuț" and "Анна" are looked up as "nguyen", "ionut" and "anna". *foreign: a letter beyond
// U+017F was romanised (such a token is no English word: "Thể" is not "the"); *cyrillic: one
// of them was Cyrillic.
size_t Fold(std::string_view s, char* out, size_t cap, bool* foreign = nullptr,
            bool* cyrillic = nullptr) {
  size_t n = 0;
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = u[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<unsigned char>(c + 32);
    } else if (c >= 'a' && c <= 'z') {
    } else if (c == '\'' || c == '-') {
      continue;  // O'Brien, Smith-Jones: looked up as one word
    } else if (c == 0xE2 && i + 2 < s.size() && u[i + 1] == 0x80 && u[i + 2] == 0x99) {
      i += 2;  // O’Brien
      continue;
    } else if (c >= 0x80) {
      const letters::Letter l = letters::At(u + i, s.size() - i);
      char buf[4];
      const int k = l.len ? letters::Ascii(l.cp, buf) : -1;
      if (k < 0 || n + static_cast<size_t>(k) > cap) return 0;
      if (foreign && l.cp > 0x17F) *foreign = true;
      if (cyrillic && l.script == letters::Script::kCyrillic) *cyrillic = true;
      for (int j = 0; j < k; ++j) out[n++] = buf[j];
      i += l.len - 1;
      continue;
    } else {
      return 0;
    }
    if (n == cap) return 0;
    out[n++] = static_cast<char>(c);
  }
  return n;
}

// A Cyrillic surname's ending: Russian -ов/-ев/-ин/-ский (and their feminines), Ukrainian
// -енко/-чук/-юк, Belarusian and Serbian -вич, Georgian -дзе/-швили, Armenian -ян/-янц.
bool CyrillicSurnameEnding(std::string_view t) {
  static constexpr std::string_view kEndings[] = {
      "ов",  "ова",  "ев",   "ева",  "ёв",    "ёва",  "ин",   "ина", "ын",
      "ына", "ский", "ская", "цкий", "цкая",  "ской", "енко", "чук", "юк",
      "вич", "ян",   "янц",  "дзе",  "швили", "ых",   "их"};
  for (std::string_view e : kEndings)
    if (t.size() > e.size() + 2 && t.substr(t.size() - e.size()) == e) return true;
  return false;
}

uint64_t Hash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 29;
  return h | 1;  // 0 marks an empty slot
}

// Words that end or fill capitalised runs that are not people: organisations, places,
// calendar words, and the business vocabulary of ticket and CRM text. Lower case, folded.
// clang-format off
constexpr std::string_view kNonName[] = {
    // organisations
    "llc", "inc", "ltd", "plc", "gmbh", "corp", "corporation", "co", "company", "group", "sons",
    "partners", "associates", "holdings", "industries", "enterprises", "solutions", "systems",
    "services", "technologies", "labs", "bank", "trust", "fund", "foundation", "university",
    "college", "school", "academy", "institute", "hospital", "clinic", "center", "centre",
    "department", "team", "office", "agency", "council", "ministry", "committee", "board",
    "club", "society", "church", "store", "shop", "market", "cafe", "restaurant", "hotel",
    "airlines", "airways", "motors", "pharma", "media", "studios", "records", "press",
    // places
    "street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive",
    "court", "way", "place", "square", "plaza", "park", "parkway", "highway", "bridge",
    "county", "city", "town", "village", "island", "islands", "beach", "lake", "river",
    "mountain", "valley", "hills", "heights", "springs", "falls", "harbor", "harbour", "port",
    "bay", "creek", "forest", "gardens", "north", "south", "east", "west", "new", "san", "santa",
    "saint", "fort", "mount", "upper", "lower", "greater", "district", "province", "state",
    "states", "kingdom", "republic", "airport", "station", "terminal", "building", "tower",
    "hall", "house", "suite", "floor", "unit", "apt", "shire",
    // calendar
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "september", "october", "november", "december", "christmas",
    "easter", "thanksgiving", "today", "tomorrow", "yesterday",
    // their abbreviations that are nobody's name ("Date: Tue Mar 5"; not Jan, Jun, Sun, Mar,
    // Thu, which are)
    "tue", "wed", "fri", "feb", "apr", "aug", "sept", "oct", "nov",
    // business and UI words
    "customer", "customers", "client", "support", "sales", "success", "account", "accounts",
    "manager", "management", "director", "engineer", "engineering", "developer", "analyst",
    "specialist", "coordinator", "administrator", "assistant", "associate", "consultant",
    "officer", "executive", "representative", "agent", "architect", "designer", "planner",
    "strategist", "supervisor", "technician", "orchestrator", "producer", "liaison",
    "senior", "junior", "lead", "chief", "head", "principal", "global", "national",
    "regional", "central", "international", "internal", "legacy", "dynamic", "future",
    "corporate", "product", "products", "order", "orders", "invoice", "payment", "policy",
    "privacy", "terms", "service", "review", "release", "notes", "report", "summary",
    "update", "status", "ticket", "issue", "request", "refund", "shipping", "delivery",
    "business", "quarterly", "annual", "monthly", "weekly", "daily", "general", "availability",
    "agreement", "level", "score", "promoter", "purchase", "black", "year", "day", "week",
    "please", "thanks", "thank", "hello", "regards", "best", "kind", "note", "fyi", "the",
    "and", "for", "with", "from", "this", "that", "your", "our", "my", "of", "in", "on", "at",
    "to", "by", "is", "it", "we", "you", "he", "she", "they", "all", "any", "no", "not",
    "api", "app", "web", "data", "email", "phone", "mobile", "address", "user", "admin",
    // what pays, builds and sends ("paid by Credit Card", "opened by Jenkins CI", "Message from
    // Google Cloud Platform")
    "card", "credit", "debit", "bot", "ci", "platform", "cloud", "actions", "pipeline",
    "workflow", "overflow", "merge",
    // software a role names ("Applicant Tracking System", "Customer Portal")
    "system", "systems", "tracking", "portal", "software", "database", "dashboard", "module",
    "login", "error", "warning", "info", "debug", "test", "demo", "sample", "example",
    "handcrafted", "handmade", "rustic", "ergonomic", "refined", "sleek", "gorgeous",
    "intelligent", "incredible", "fantastic", "practical", "licensed", "unbranded", "generic",
    "tasty", "awesome", "small", "bespoke", "modern", "recycled", "electronic", "luxurious",
    "elegant", "oriental", "soft", "fresh", "frozen", "granite", "steel", "wooden", "concrete",
    "plastic", "cotton", "rubber", "metal", "bronze", "marble", "silk", "chair", "car",
    "computer", "keyboard", "mouse", "bike", "ball", "gloves", "pants", "shirt", "table",
    "shoes", "hat", "towels", "soap", "tuna", "chicken", "fish", "cheese", "bacon", "pizza",
    "salad", "sausages", "chips", "human", "identity", "research", "quality", "security",
    "optimization", "integration", "interactions", "implementation", "operations",
    "infrastructure", "marketing", "markets", "mobility", "metrics", "paradigm", "program",
    "response", "tactics", "usability", "communications", "creative", "factors", "functionality",
    "intranet", "web", "brand", "branding", "group", "division", "applications", "accountability",
    // SQL's DDL as SHOW CREATE TABLE and dumps write it ("ENGINE=InnoDB DEFAULT CHARSET=…"
    // beside a phone in the table's COMMENT is no contact's name)
    "default", "charset", "collate", "engine", "innodb", "myisam", "comment", "constraint",
    "references", "unsigned", "varchar", "primary",
};

// The legal forms that end a firm's name (IsLegalForm).
constexpr std::string_view kLegalForms[] = {
    "inc", "corp", "corporation", "co", "company", "llc", "ltd", "plc", "gmbh", "ag", "sa",
    "srl", "bv", "nv", "group", "holdings", "bancorp", "bancshares", "industries",
    "enterprises", "limited", "incorporated", "cos", "bros",
};

constexpr std::string_view kTitles[] = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "madam", "dame", "lord",
    "lady", "dear", "hi", "hello", "hey", "attn", "herr", "frau", "sr", "sra", "srta", "mme",
    "mlle", "m", "sig", "sig.ra", "pan", "pani", "rev", "fr", "capt", "col", "gen", "sgt",
    // Czech and Slovak academic titles, written before the name (JUDr. Jan Novák, Ing. Petr
    // Svoboda), and degrees after it
    "judr", "mudr", "mvdr", "phdr", "rndr", "paeddr", "thdr", "mgr", "ing", "bc", "doc", "phd",
};
// clang-format on

constexpr uint8_t kNonNameBit = 32, kTitleBit = 64, kLegalFormBit = 128;

// Open addressing: 2^18 slots for ~116k names (load under one half).
class Table {
 public:
  Table() {
    keys_ = std::make_unique<uint64_t[]>(kSlots);
    vals_ = std::make_unique<uint8_t[]>(kSlots);
    std::string_view all(veil_names_tsv_begin, veil_names_tsv_end - veil_names_tsv_begin);
    size_t pos = 0;
    while (pos < all.size()) {
      size_t nl = all.find('\n', pos);
      if (nl == std::string_view::npos) nl = all.size();
      std::string_view line = all.substr(pos, nl - pos);
      pos = nl + 1;
      size_t tab = line.find('\t');
      if (tab == std::string_view::npos) continue;
      std::string_view name = line.substr(0, tab), flags = line.substr(tab + 1);
      uint8_t v = 0;
      for (size_t i = 0; i < flags.size(); ++i) {
        char f = flags[i];
        int level = i + 1 < flags.size() ? flags[i + 1] - '0' : 0;
        if (f == 'g' && level >= 1 && level <= 3) v |= static_cast<uint8_t>(level);
        if (f == 's' && level >= 1 && level <= 3) v |= static_cast<uint8_t>(level << 2);
        if (f == 'w') v |= 16;
      }
      Insert(Hash(name), v);
      ++size_;
    }
    for (std::string_view w : kNonName) Insert(Hash(w), Find(Hash(w)) | kNonNameBit);
    for (std::string_view w : kTitles) Insert(Hash(w), Find(Hash(w)) | kTitleBit);
    for (std::string_view w : kLegalForms) Insert(Hash(w), Find(Hash(w)) | kLegalFormBit);
  }
  uint8_t Find(uint64_t h) const {
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      if (keys_[i] == h) return vals_[i];
      if (keys_[i] == 0) return 0;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kSlots = 1 << 18;
  void Insert(uint64_t h, uint8_t v) {
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      if (keys_[i] == 0 || keys_[i] == h) {
        keys_[i] = h;
        vals_[i] = v;
        return;
      }
    }
  }
  std::unique_ptr<uint64_t[]> keys_;
  std::unique_ptr<uint8_t[]> vals_;
  size_t size_ = 0;
};

const Table& GetTable() {
  static const Table* t = new Table();  // never destroyed: scanner threads may outlive main
  return *t;
}

uint8_t Flags(std::string_view token) {
  char low[24];
  bool foreign = false;
  size_t n = Fold(token, low, sizeof(low), &foreign);
  if (n == 0 || foreign) return 0;
  // Folded, a short word with marks can spell an English one: "Tô", a Vietnamese family name,
  // is not "to"; "Café" is still "cafe".
  if (n <= 3 && n != token.size()) return 0;
  return GetTable().Find(Hash(std::string_view(low, n)));
}

float GivenWeight(uint8_t g) { return g == 3 ? 0.3f : g == 2 ? 0.25f : g == 1 ? 0.15f : 0.0f; }
float SurnameWeight(uint8_t s) { return s == 3 ? 0.3f : s == 2 ? 0.25f : s == 1 ? 0.2f : 0.0f; }

}  // namespace

TokenInfo Lookup(std::string_view token) {
  char low[24];
  bool foreign = false, cyrillic = false;
  size_t n = Fold(token, low, sizeof(low), &foreign, &cyrillic);
  if (n < 2) return CyrillicSurnameEnding(token) ? TokenInfo{0, 2, false} : TokenInfo{};
  uint8_t v = GetTable().Find(Hash(std::string_view(low, n))) & 31;
  TokenInfo t{static_cast<uint8_t>(v & 3), static_cast<uint8_t>((v >> 2) & 3), (v & 16) != 0};
  // Romanised, a Russian or Vietnamese word can spell an English one ("Модест", "Thể"): not
  // a word here.
  if (foreign) t.word = false;
  if (cyrillic) {
    // Surnames are shaped by their endings (Петров, Иванова, Достоевский, Шевченко, Абрамович),
    // rarely found in an American table; the patronymic is part of the name.
    if (t.surname == 0 && CyrillicSurnameEnding(token)) t.surname = 2;
  }
  return t;
}

size_t TableSize() { return GetTable().size(); }

std::string_view RawTable() {
  return {veil_names_tsv_begin, static_cast<size_t>(veil_names_tsv_end - veil_names_tsv_begin)};
}

TokenInfo LookupGiven(std::string_view token) {
  TokenInfo t = Lookup(token);
  if (t.known() || t.word) return t;
  const size_t dash = token.find('-');
  if (dash == std::string_view::npos || dash < 2) return t;
  t = Lookup(token.substr(0, dash));
  t.surname = 0;  // "Smith-Jones" is no given name
  return t.given ? t : TokenInfo{};
}

bool IsNonNameWord(std::string_view token) { return (Flags(token) & kNonNameBit) != 0; }

bool WordSurname(std::string_view given, std::string_view word) {
  if (given.size() < 2 || given.back() == '.') return false;
  return Lookup(word).surname == 3 && LookupGiven(given).given >= 2;
}
bool IsTitle(std::string_view token) { return (Flags(token) & kTitleBit) != 0; }

bool IsLegalForm(std::string_view token) {
  while (!token.empty() && (token.back() == '.' || token.back() == ',')) token.remove_suffix(1);
  return (Flags(token) & kLegalFormBit) != 0;
}

namespace {

// Does any token hold a byte beyond ASCII (a letter with a mark, here)?
bool Accented(std::span<const Token> t) {
  for (const Token& k : t)
    for (char c : k.text)
      if (static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}

}  // namespace

float ScoreRun(std::span<const Token> t, RunForm form) {
  if (t.size() < 2 || t.size() > 5) return 0;
  // Which token is the given name and which the surname.
  const Token& given = form == RunForm::kLastFirst ? t.back() : t.front();
  const Token& sur = form == RunForm::kLastFirst ? t.front() : t.back();
  if (sur.initial || sur.particle || given.particle) return 0;
  TokenInfo g = given.initial ? TokenInfo{} : LookupGiven(given.text);
  TokenInfo s = Lookup(sur.text);
  // WordSurname, from the lookups the score needs anyway.
  const bool word_surname = !given.initial && s.surname == 3 && g.given >= 2;
  for (const Token& k : t)
    if (!k.initial && !k.particle && IsNonNameWord(k.text) && !(word_surname && &k == &sur))
      return 0;
  float score = 0.3f;
  bool context_only = false;
  if (given.initial) {
    // "J. Smith": a real surname that is not also a common word. A surname no table knows
    // ("J. R. R. Tolkien", "M. Okonkwo"): after two initials or more, a name; after one, only
    // context keeps it ("S. Korea" is a place).
    size_t initials = 0;
    while (initials < t.size() && t[initials].initial) ++initials;
    const bool unknown = !s.known() && !s.word;
    if (!unknown && (s.surname == 0 || (s.word && s.surname < 3))) return 0;
    if (unknown && initials < 2) context_only = true;
    score += 0.1f;
  } else if (g.given) {
    score += GivenWeight(g.given);
    if (g.word) score -= g.given == 3 ? 0.05f : 0.15f;
    if (g.surname > g.given) score -= 0.05f;  // "Johnson Smith" is less likely a first name
  } else if (g.surname == 0 && !g.word) {
    score += 0.05f;  // an unknown capitalised word: a name from elsewhere, maybe
  } else if (g.surname == 1 && !g.word) {
    // A rare American surname is often a given name elsewhere (Morten, Sipho, Petre): no
    // better than unknown, and only context can carry it.
  } else if (g.surname >= 2 && !g.word && !s.known() && !s.word) {
    // An American surname before a word no table knows: many are given names in Europe
    // (Albrecht Šimánek, Fedor Hlinka). No better than unknown; only context carries it.
  } else if (g.surname >= 1 && !g.word && t.size() >= 3 && Accented(t)) {
    // Family name first, as Vietnamese and Hungarian write it (Đinh Hương Dương, Nagy Éva
    // Katalin): three or more words, letters beyond ASCII. Only context carries it.
    context_only = true;
  } else if (t.size() == 2 && g.surname >= 1 && !g.word && s.given > 0 && !s.word &&
             form == RunForm::kFirstLast) {
    // Family name first, as Chinese and Korean names are written in Latin letters ("Zhang
    // Wei", "Liu Yang", "Park Jiwoo"): a known surname that is no given name, then a known
    // given name. Only context carries it ("Please ask Zhang Wei").
    context_only = true;
  } else if (CyrillicSurnameEnding(given.text) && s.given > 0) {
    // Family name first, as Russian lists write it ("Попов Дмитрий", "Захаров Арсений
    // Борисович"): a surname by its ending, then a known given name.
    score += 0.2f;
  } else {
    return 0;  // a surname or a word in the given-name place
  }
  if (s.surname) {
    score += SurnameWeight(s.surname);
    if (s.word) score -= s.surname == 3 ? 0.1f : 0.2f;
  } else if (s.given && !s.word) {
    score += 0.1f;  // "Jordan Taylor"-style: given names are used as surnames too
  } else if (!s.known() && !s.word) {
    score += 0.12f;
  } else {
    score -= 0.15f;  // a common word
  }
  // Middle tokens: initials, particles and names keep the run; anything else weakens it.
  for (size_t i = 1; i + 1 < t.size(); ++i) {
    const Token& m = t[i];
    if (m.initial || m.particle) continue;
    TokenInfo mi = Lookup(m.text);
    if (mi.word && !mi.given && !mi.surname) score -= 0.15f;
  }
  if (form == RunForm::kAllCaps) {  // acronyms and shouting are common: both names must be known
    if (!(g.given >= 2 || (g.given >= 1 && s.known()))) return 0;
    score -= 0.1f;
  }
  if (form == RunForm::kLastFirst && (!g.given || !s.surname)) score -= 0.1f;
  if (context_only) score = std::min(score, 0.42f);
  if (word_surname && IsNonNameWord(sur.text)) score = std::min(score, 0.45f);
  return score < 0 ? 0 : score > 1 ? 1 : score;
}

}  // namespace veil::masker::names
