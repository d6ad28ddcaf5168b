// SessionAnalysis: one session's view of its statements' lineage (SPEC §6.1). It holds the
// session's catalog snapshot, analyses statement text with agent/sql/analysis (cached by the
// text with literals replaced, so a statement repeated with other values parses once), and
// keeps what statements name across the session: PREPAREd statements and DECLAREd cursors,
// so that an EXECUTE or a FETCH gets the lineage of the query behind it.
//
// The transcoder asks Lineage() for each Query's and Parse's text at its first answer, in the
// order the server runs them; that is when PREPARE, DECLARE, DEALLOCATE and CLOSE take effect
// here. The session asks Analyze() when a statement is sent, for the guardrails of the parse
// tree. Not thread-safe: one per session, on the session's thread. A miss asks the analyses of
// the process's other sessions first (same text with literals replaced, same catalog objects,
// same search path), so that a new connection does not parse its first statement again.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agent/lineage.h"
#include "agent/sql/analysis.h"
#include "agent/sql/catalog.h"

namespace veil::agent {

class SessionAnalysis {
 public:
  SessionAnalysis();

  void SetCatalog(std::shared_ptr<const sql::CatalogSnapshot> catalog);
  const sql::CatalogSnapshot& catalog() const { return *catalog_; }
  bool has_catalog() const { return catalog_->generation() != 0; }
  // The session's standard_conforming_strings (from ParameterStatus). libpg_query reads
  // strings as `on`; with `off` a backslash in a plain string changes where strings end, so
  // such a statement is not trusted (its columns are masked whole).
  void SetStandardConformingStrings(bool on) { scs_on_ = on; }

  // The analysis of `sql`, from the cache when its normalized text was seen with this catalog.
  std::shared_ptr<const sql::Analysis> Analyze(std::string_view sql);
  // The lineage the transcoder plans with, statement by statement; applies the session
  // operations the statements name.
  std::shared_ptr<const QueryLineage> Lineage(std::string_view sql);
  // A statement PREPAREd earlier in the session (null: unknown).
  const sql::StatementAnalysis* Prepared(std::string_view name) const;

  uint64_t cache_hits() const { return hits_; }
  uint64_t cache_misses() const { return misses_; }
  // Misses of this session's cache that another session's analysis answered.
  uint64_t shared_hits() const { return shared_hits_; }

 private:
  StatementLineage ToLineage(const sql::StatementAnalysis& s) const;

  std::shared_ptr<const sql::CatalogSnapshot> catalog_;
  bool scs_on_ = true;
  std::unordered_map<std::string, std::shared_ptr<const sql::Analysis>> cache_;
  struct PreparedText {
    std::shared_ptr<const sql::StatementAnalysis> analysis;
    std::string sql;  // the text that prepared it, analysed again when the catalog changes
  };
  std::map<std::string, PreparedText, std::less<>> prepared_;
  std::map<std::string, std::shared_ptr<const sql::StatementAnalysis>, std::less<>> cursors_;
  uint64_t hits_ = 0, misses_ = 0, shared_hits_ = 0;
  // The lineage of the last statement without session operations, kept for its next run
  // (pgbench and most applications repeat one statement shape).
  std::shared_ptr<const sql::Analysis> last_analysis_;
  std::shared_ptr<const QueryLineage> last_lineage_;
};

}  // namespace veil::agent
