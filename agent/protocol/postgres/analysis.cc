#include "agent/protocol/postgres/analysis.h"

#include <cstdint>
#include <mutex>

#include "agent/events/normalize.h"
#include "agent/sql/lexer.h"

namespace veil::agent {
namespace {

constexpr size_t kCacheEntries = 512;
// Longer statements are analysed every time rather than keyed by a truncated text.
constexpr size_t kMaxKeyBytes = 256 * 1024;

ColumnLineage::Kind KindOf(sql::OutputColumn::Kind k) {
  switch (k) {
    case sql::OutputColumn::Kind::kDirect:
      return ColumnLineage::Kind::kDirect;
    case sql::OutputColumn::Kind::kDerived:
      return ColumnLineage::Kind::kDerived;
    default:
      return ColumnLineage::Kind::kUnknown;
  }
}

SourceColumn Source(const sql::BaseColumn& c) { return {c.schema, c.table, c.column}; }

// Whether the text holds a backslash in a plain '...' string, or names the setting that
// decides how such a string is read.
bool ReadingMayDiffer(std::string_view sql, bool scs_on) {
  if (sql.find('\\') == std::string_view::npos) return false;
  sql::Lexer lex(sql);
  while (lex.Next().kind != sql::TokenKind::kEnd) {
  }
  if (!lex.saw_backslash_in_string()) return false;
  if (!scs_on) return true;
  for (size_t i = 0; i + 27 <= sql.size(); ++i) {
    size_t j = 0;
    static constexpr std::string_view kName = "standard_conforming_strings";
    while (j < kName.size() && (sql[i + j] | 0x20) == kName[j]) ++j;
    if (j == kName.size()) return true;
  }
  return false;
}

bool HoldsCopy(const sql::Analysis& a) {
  for (const auto& s : a.statements)
    if (s.copy) return true;
  return false;
}

}  // namespace

SessionAnalysis::SessionAnalysis() : catalog_(sql::CatalogSnapshot::Empty()) {}

namespace {

// Analyses shared by every session of the process. sql::Analyze reads the statement's text
// (its literals decide nothing: the per-session cache rests on that too), the catalog's
// objects and the search path, and nothing else; the key holds all three. An entry holds its
// objects weakly: once that catalog is gone its entries answer for none other, even one built
// at the same address.
class Shared {
 public:
  static constexpr size_t kMaxEntries = 4096;
  std::shared_ptr<const sql::Analysis> Find(const std::shared_ptr<const void>& objects,
                                            const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.objects.lock() != objects) return nullptr;
    return it->second.analysis;
  }
  void Put(const std::shared_ptr<const void>& objects, std::string key,
           std::shared_ptr<const sql::Analysis> analysis) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[std::move(key)] = {objects, std::move(analysis)};
  }

 private:
  struct Entry {
    std::weak_ptr<const void> objects;
    std::shared_ptr<const sql::Analysis> analysis;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

Shared& SharedAnalyses() {
  static Shared* shared = new Shared;  // never destroyed: sessions may outlive main's statics
  return *shared;
}

std::string SharedKey(const sql::CatalogSnapshot& catalog, const std::string& key) {
  std::string k = std::to_string(reinterpret_cast<uintptr_t>(catalog.objects().get()));
  for (const auto& nsp : catalog.search_path()) k.append(1, '\0').append(nsp);
  return k.append(2, '\0').append(key);
}

}  // namespace

void SessionAnalysis::SetCatalog(std::shared_ptr<const sql::CatalogSnapshot> catalog) {
  catalog_ = std::move(catalog);
  cache_.clear();  // names may resolve differently now
  last_analysis_.reset();
  last_lineage_.reset();
  // PostgreSQL plans a PREPAREd statement again when what it reads changed (a view replaced
  // since): its lineage is made again too, from the text that prepared it.
  for (auto& [name, p] : prepared_) {
    std::shared_ptr<const sql::StatementAnalysis> inner;
    const auto a = Analyze(p.sql);
    for (const auto& s : a->statements)
      if (s.op == sql::StatementAnalysis::Op::kPrepare && s.name == name) inner = s.inner;
    // Not found again (it cannot be read now): no lineage, every column masked whole.
    p.analysis = inner ? inner : std::make_shared<const sql::StatementAnalysis>();
  }
}

std::shared_ptr<const sql::Analysis> SessionAnalysis::Analyze(std::string_view sql) {
  if (ReadingMayDiffer(sql, scs_on_)) {
    auto a = std::make_shared<sql::Analysis>();
    a->error = "a backslash in a string under standard_conforming_strings off";
    return a;
  }
  // The key is the statement's normalized text. Normalizing at most triples a text's length
  // (invalid UTF-8), so a short one is never cut in the digest, whose text the statement's usage
  // event needs anyway: the guardrails, the lineage, the content sample and the event then share
  // one lexing of the statement (the digest keeps it per thread, keyed by the raw text).
  std::string key;
  if (sql.size() * 3 + events::kTruncationMarker.size() < events::kMaxNormalizedStatementBytes)
    key = events::DigestStatement(sql, sql::LexOptions{}).text;
  else if (sql.size() <= kMaxKeyBytes)
    key = events::NormalizeStatement(sql, {.max_bytes = kMaxKeyBytes * 2});
  if (!key.empty()) {
    // COPY's options are literals the normalized text does not keep (DELIMITER '-'), and
    // they decide how its rows are read: a COPY is analysed every time.
    if (auto it = cache_.find(key); it != cache_.end() && !HoldsCopy(*it->second)) {
      ++hits_;
      return it->second;
    }
  }
  ++misses_;
  std::shared_ptr<const sql::Analysis> a;
  std::string shared_key;
  if (!key.empty()) {
    shared_key = SharedKey(*catalog_, key);
    a = SharedAnalyses().Find(catalog_->objects(), shared_key);
    if (a && HoldsCopy(*a)) a.reset();
    if (a) ++shared_hits_;
  }
  if (!a) {
    a = std::make_shared<const sql::Analysis>(sql::Analyze(sql, *catalog_));
    if (!shared_key.empty()) SharedAnalyses().Put(catalog_->objects(), std::move(shared_key), a);
  }
  if (!key.empty()) {
    if (cache_.size() >= kCacheEntries) cache_.clear();
    cache_.emplace(std::move(key), a);
  }
  return a;
}

StatementLineage SessionAnalysis::ToLineage(const sql::StatementAnalysis& s) const {
  StatementLineage l;
  l.analyzed = s.ok && s.columns_known;
  for (const auto& c : s.columns) {
    ColumnLineage cl{KindOf(c.kind), {}};
    for (const auto& src : c.sources) cl.sources.push_back(Source(src));
    l.result.columns.push_back(std::move(cl));
  }
  for (const auto& r : s.reads) l.reads.push_back(Source(r));
  l.opaque = s.unknown_function;
  l.opaque_writes = s.unknown_function && s.writes_data;
  l.creates_code = s.creates_code;
  l.refresh_catalog = s.ddl || s.sets_search_path;
  l.copy = s.copy;
  return l;
}

std::shared_ptr<const QueryLineage> SessionAnalysis::Lineage(std::string_view sql) {
  auto analysis = Analyze(sql);
  // Statements that name no session state have the same lineage every time.
  if (analysis == last_analysis_ && last_lineage_) return last_lineage_;
  auto out = std::make_shared<QueryLineage>();
  if (!analysis->parsed) return out;  // no statement known: every result is masked whole
  using Op = sql::StatementAnalysis::Op;
  bool stateless = true;
  for (const auto& s : analysis->statements) stateless = stateless && s.op == Op::kNone;
  for (const auto& s : analysis->statements) {
    switch (s.op) {
      case Op::kPrepare:
        if (s.inner) prepared_[s.name] = {s.inner, std::string(sql)};
        out->push_back(ToLineage(s));
        break;
      case Op::kExecute: {
        auto it = prepared_.find(s.name);
        StatementLineage l =
            it != prepared_.end() ? ToLineage(*it->second.analysis) : StatementLineage{};
        l.refresh_catalog = l.refresh_catalog || s.ddl;
        out->push_back(std::move(l));
        break;
      }
      case Op::kDeallocate:
        if (s.name.empty())
          prepared_.clear();
        else
          prepared_.erase(s.name);
        out->push_back(ToLineage(s));
        break;
      case Op::kDeclare:
        if (s.inner) cursors_[s.name] = s.inner;
        out->push_back(ToLineage(s));
        break;
      case Op::kFetch: {
        auto it = cursors_.find(s.name);
        out->push_back(it != cursors_.end() ? ToLineage(*it->second) : StatementLineage{});
        out->back().unknown_cursor = it == cursors_.end();
        break;
      }
      case Op::kMove:
        out->push_back(ToLineage(s));
        out->back().unknown_cursor = !cursors_.contains(s.name);
        break;
      case Op::kClose:
        if (s.name.empty())
          cursors_.clear();
        else
          cursors_.erase(s.name);
        out->push_back(ToLineage(s));
        break;
      case Op::kDiscardAll:
        prepared_.clear();
        cursors_.clear();
        out->push_back(ToLineage(s));
        break;
      default:
        out->push_back(ToLineage(s));
    }
  }
  if (stateless) {
    last_analysis_ = analysis;
    last_lineage_ = out;
  }
  return out;
}

const sql::StatementAnalysis* SessionAnalysis::Prepared(std::string_view name) const {
  auto it = prepared_.find(name);
  return it == prepared_.end() ? nullptr : it->second.analysis.get();
}

}  // namespace veil::agent
