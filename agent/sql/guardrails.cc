#include "agent/sql/guardrails.h"

#include <hs.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <map>

#include "agent/sql/lexer.h"

namespace veil::sql {

struct Guardrails::DenyDb {
  hs_database_t* db = nullptr;
  uint64_t generation = 0;        // tells a thread's scratch whether it fits this database
  std::vector<int> config_index;  // per deny pattern (the Hyperscan id)
  ~DenyDb() { hs_free_database(db); }
};

namespace {

std::atomic<uint64_t> next_generation{1};

// One Hyperscan scratch per thread, grown to fit every database the thread has scanned with.
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  uint64_t fitted = 0;  // generation of the last database it was checked against
  ~ThreadScratch() { hs_free_scratch(scratch); }
};

hs_scratch_t* ScratchFor(const hs_database_t* db, uint64_t generation) {
  thread_local ThreadScratch ts;
  if (ts.fitted != generation) {
    if (hs_alloc_scratch(db, &ts.scratch) != HS_SUCCESS) return nullptr;
    ts.fitted = generation;
  }
  return ts.scratch;
}

int OnDenyMatch(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  int* first = static_cast<int*>(ctx);
  *first = std::min(*first, static_cast<int>(id));
  return 0;
}

bool ViolatesReadOnly(const StatementInfo& s) { return s.writes || s.ddl || s.sets_read_only_off; }

}  // namespace

std::string Violation::Message() const {
  std::string m = "veil: statement blocked by guardrail ";
  m += guardrail;
  if (deny_index >= 0) m += " #" + std::to_string(deny_index + 1);
  return m;
}

Result<Guardrails> Guardrails::Create(
    const google::protobuf::RepeatedPtrField<config::v1::Guardrail>& guardrails, bool read_access) {
  using config::v1::Guardrail;
  Guardrails g;
  g.read_grant_ = read_access;
  std::vector<const char*> patterns;
  std::vector<int> config_index;
  for (int i = 0; i < guardrails.size(); ++i) {
    const Guardrail& gr = guardrails[i];
    switch (gr.kind_case()) {
      case Guardrail::kBuiltin:
        switch (gr.builtin()) {
          case Guardrail::BUILTIN_READ_ONLY:
            g.builtins_.push_back({Rule::kReadOnly, i});
            break;
          case Guardrail::BUILTIN_NO_DDL:
            g.builtins_.push_back({Rule::kNoDdl, i});
            break;
          case Guardrail::BUILTIN_NO_UNBOUNDED_WRITE:
            g.builtins_.push_back({Rule::kNoUnboundedWrite, i});
            break;
          case Guardrail::BUILTIN_NO_FILTER_ON_MASKED:
            g.builtins_.push_back({Rule::kNoFilterOnMasked, i});
            break;
          default:
            return Error{"guardrail " + std::to_string(i) + ": unknown built-in guardrail"};
        }
        break;
      case Guardrail::kMaxRows:
        if (gr.max_rows() == 0) return Error{"guardrail " + std::to_string(i) + ": max-rows 0"};
        g.max_rows_ = std::min(g.max_rows_.value_or(UINT64_MAX), gr.max_rows());
        break;
      case Guardrail::kDeny:
        patterns.push_back(gr.deny().c_str());
        config_index.push_back(i);
        break;
      default:
        return Error{"guardrail " + std::to_string(i) + ": empty"};
    }
  }
  if (!patterns.empty()) {
    if (hs_valid_platform() != HS_SUCCESS)
      return Error{"this CPU lacks the SSSE3 instructions that Hyperscan needs"};
    auto deny = std::make_shared<DenyDb>();
    std::vector<unsigned> flags(patterns.size(), HS_FLAG_CASELESS | HS_FLAG_DOTALL |
                                                     HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY);
    std::vector<unsigned> ids(patterns.size());
    for (size_t k = 0; k < ids.size(); ++k) ids[k] = static_cast<unsigned>(k);
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(patterns.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(patterns.size()), HS_MODE_BLOCK, nullptr, &deny->db,
                         &err) != HS_SUCCESS) {
      std::string msg = "deny pattern";
      if (err && err->expression >= 0)
        msg += " " + std::string(patterns[err->expression]) + " (guardrail " +
               std::to_string(config_index[err->expression]) + ")";
      msg += " does not compile: ";
      msg += err ? err->message : "?";
      hs_free_compile_error(err);
      return Error{msg};
    }
    deny->generation = next_generation.fetch_add(1);
    deny->config_index = std::move(config_index);
    g.deny_ = std::move(deny);
  }
  return g;
}

std::optional<Violation> Guardrails::NoFilterOnMasked() const {
  for (const Builtin& b : builtins_)
    if (b.rule == Rule::kNoFilterOnMasked) return Violation{"no-filter-on-masked", b.index, -1, {}};
  return std::nullopt;
}

bool Guardrails::read_only() const {
  if (read_grant_) return true;
  for (const Builtin& b : builtins_)
    if (b.rule == Rule::kReadOnly) return true;
  return false;
}

std::optional<Violation> Guardrails::CheckStatement(const StatementInfo& s,
                                                    LexOptions options) const {
  if (read_grant_ && ViolatesReadOnly(s)) return Violation{"read-only", -1, -1, s.text};
  std::optional<Violation> found;
  for (const Builtin& b : builtins_) {
    if (b.rule == Rule::kReadOnly && ViolatesReadOnly(s)) {
      found = Violation{"read-only", b.index, -1, s.text};
    } else if (b.rule == Rule::kNoDdl && s.ddl) {
      found = Violation{"no-ddl", b.index, -1, s.text};
    } else if (b.rule == Rule::kNoUnboundedWrite && s.unbounded_write) {
      found = Violation{"no-unbounded-write", b.index, -1, s.text};
    }
    if (found) break;
  }
  if (deny_) {
    int first = INT_MAX;
    hs_scratch_t* scratch = ScratchFor(deny_->db, deny_->generation);
    auto scan = [&](std::string_view text) {
      hs_error_t rc = scratch == nullptr
                          ? HS_NOMEM
                          : hs_scan(deny_->db, text.data(), static_cast<unsigned>(text.size()), 0,
                                    scratch, OnDenyMatch, &first);
      if (rc != HS_SUCCESS) first = 0;  // cannot tell: refuse rather than let it through
    };
    scan(s.text);
    thread_local std::string canonical;
    for (bool compact : {false, true}) {
      Canonical(s.text, options, s.text_in_conditional_comment, compact, &canonical);
      if (canonical != s.text) scan(canonical);
    }
    if (first != INT_MAX && (!found || deny_->config_index[first] < found->index))
      found = Violation{"deny", deny_->config_index[first], first, s.text};
  }
  return found;
}

// The statement as its tokens: comments and runs of space gone, quoted identifiers without
// their quotes (strings keep theirs: a deny pattern may name one). Spaced: one space between
// any two tokens (`drop table`, `select * from`); compact: a space only where two words would
// otherwise run together (`pg_read_file('x')`).
void Guardrails::Canonical(std::string_view text, LexOptions options, bool in_conditional_comment,
                           bool compact, std::string* out) {
  out->clear();
  Lexer lex(text, options, 0, in_conditional_comment);
  bool last_wordlike = false;
  for (Token t = lex.Next(); t.kind != TokenKind::kEnd; t = lex.Next()) {
    const bool wordlike = t.kind == TokenKind::kWord || t.kind == TokenKind::kQuotedIdent ||
                          t.kind == TokenKind::kNumber || t.kind == TokenKind::kString ||
                          t.kind == TokenKind::kParam;
    if (!out->empty() && (!compact || (wordlike && last_wordlike))) out->push_back(' ');
    if (t.kind == TokenKind::kQuotedIdent && t.form == StringForm::kNone)
      out->append(t.Body());
    else
      out->append(t.text);
    last_wordlike = wordlike;
  }
}

std::optional<Violation> Guardrails::CheckTree(
    const Analysis& analysis,
    const std::function<const StatementAnalysis*(std::string_view name)>& prepared,
    const std::function<bool(const BaseColumn&)>& sensitive) const {
  const bool ro = read_only();
  bool no_ddl = false, no_filter = false;
  int ro_index = read_grant_ ? -1 : INT_MAX, ddl_index = INT_MAX, filter_index = INT_MAX;
  for (const Builtin& b : builtins_) {
    if (b.rule == Rule::kReadOnly) ro_index = std::min(ro_index, b.index);
    if (b.rule == Rule::kNoDdl) {
      no_ddl = true;
      ddl_index = std::min(ddl_index, b.index);
    }
    if (b.rule == Rule::kNoFilterOnMasked) {
      no_filter = true;
      filter_index = std::min(filter_index, b.index);
    }
  }
  if (!ro && !no_ddl && !no_filter) return std::nullopt;
  if (!analysis.parsed) {
    if (no_filter) return Violation{"no-filter-on-masked", filter_index, -1, {}};
    return std::nullopt;
  }
  // PREPAREs of this very string count for its later EXECUTEs.
  std::map<std::string, const StatementAnalysis*, std::less<>> local;
  for (const StatementAnalysis& st : analysis.statements) {
    const StatementAnalysis* eff = &st;
    if (st.op == StatementAnalysis::Op::kPrepare && st.inner) {
      local[st.name] = st.inner.get();
      continue;  // preparing runs nothing; its EXECUTE is checked
    }
    if (st.op == StatementAnalysis::Op::kExecute) {
      auto it = local.find(st.name);
      eff = it != local.end() ? it->second : prepared ? prepared(st.name) : nullptr;
    }
    const bool writes = eff ? eff->writes_data : true;  // an unknown prepared statement: a write
    const bool ddl = eff && eff->ddl;
    if (ro && (writes || ddl)) return Violation{"read-only", ro_index, -1, {}};
    if (no_ddl && ddl) return Violation{"no-ddl", ddl_index, -1, {}};
    if (no_filter) {
      if (!eff || !eff->ok) return Violation{"no-filter-on-masked", filter_index, -1, {}};
      for (const FilterUse& f : eff->filters)
        if (!f.equality && sensitive && sensitive(f.column))
          return Violation{"no-filter-on-masked", filter_index, -1, {}};
      // Whether a computation over a sensitive value fails (a division taken on one branch of
      // a CASE) answers a question as a filter does: computing on one is refused too, and so is
      // a result column computed from one (a view's, through SELECT *).
      for (const BaseColumn& c : eff->computed)
        if (sensitive && sensitive(c))
          return Violation{"no-filter-on-masked", filter_index, -1, {}};
      for (const OutputColumn& o : eff->columns)
        if (o.kind != OutputColumn::Kind::kDirect)
          for (const BaseColumn& c : o.sources)
            if (sensitive && sensitive(c))
              return Violation{"no-filter-on-masked", filter_index, -1, {}};
    }
  }
  return std::nullopt;
}

std::optional<Violation> Guardrails::CheckAll(std::string_view sql, LexOptions options,
                                              bool* saw_backslash, bool* saw_conditional) const {
  StatementReader reader(sql, options);
  StatementInfo info;
  while (reader.Next(&info))
    if (auto v = CheckStatement(info, options)) return v;
  if (saw_backslash) *saw_backslash = reader.saw_backslash_in_string();
  if (saw_conditional) *saw_conditional = reader.saw_conditional_comment();
  return std::nullopt;
}

std::optional<Violation> Guardrails::Check(std::string_view sql) const { return Check(sql, {}); }

std::optional<Violation> Guardrails::Check(std::string_view sql, LexOptions options) const {
  if (!read_grant_ && builtins_.empty() && !deny_) return std::nullopt;
  bool saw_backslash = false, saw_conditional = false;
  if (auto v = CheckAll(sql, options, &saw_backslash, &saw_conditional)) return v;
  if (options.dialect == Dialect::kPostgres) {
    // A backslash in a plain string splits the text differently if the session has turned
    // standard_conforming_strings off; the statement must pass under both readings. (Read with
    // the setting off, a backslash is an escape and the lexer does not report it.)
    if (!options.standard_conforming_strings)
      saw_backslash = sql.find('\\') != std::string_view::npos;
    if (!saw_backslash) return std::nullopt;
    options.standard_conforming_strings = !options.standard_conforming_strings;
    return CheckAll(sql, options, nullptr, nullptr);
  }
  // MySQL: every other reading the server may use must pass too.
  for (const LexOptions& other : OtherReadings(options, saw_backslash, saw_conditional))
    if (auto v = CheckAll(sql, other, nullptr, nullptr)) return v;
  return std::nullopt;
}

}  // namespace veil::sql
