#include "agent/sql/classifier.h"

#include <array>

namespace veil::sql {
namespace {

using Kind = StatementInfo::Kind;

// Built-in and common-extension functions that change data, stored state, locks or other
// sessions. A call of any other function counts as a read: without the catalog, a
// user-defined function's side effects cannot be known here.
constexpr std::string_view kSideEffectFunctions[] = {
    // sequences
    "nextval",
    "setval",
    // large objects
    "lo_import",
    "lo_export",
    "lo_create",
    "lo_creat",
    "lo_unlink",
    "lo_put",
    "lo_from_bytea",
    "lo_truncate",
    "lo_truncate64",
    "lowrite",
    // other sessions and the server
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_switch_xlog",
    "pg_create_restore_point",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_promote",
    "pg_wal_replay_pause",
    "pg_wal_replay_resume",
    "pg_log_backend_memory_contexts",
    "pg_notify",
    "pg_import_system_collations",
    "pg_nextoid",
    // replication slots and origins
    "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot",
    "pg_drop_replication_slot",
    "pg_copy_physical_replication_slot",
    "pg_copy_logical_replication_slot",
    "pg_replication_slot_advance",
    "pg_logical_slot_get_changes",
    "pg_logical_slot_get_binary_changes",
    "pg_logical_emit_message",
    "pg_replication_origin_create",
    "pg_replication_origin_drop",
    "pg_replication_origin_advance",
    "pg_replication_origin_session_setup",
    "pg_replication_origin_xact_setup",
    "pg_sync_replication_slots",
    // index and statistics maintenance
    "brin_summarize_new_values",
    "brin_summarize_range",
    "brin_desummarize_range",
    "gin_clean_pending_list",
    "pg_restore_relation_stats",
    "pg_restore_attribute_stats",
    "pg_clear_relation_stats",
    "pg_clear_attribute_stats",
    // extensions: adminpack, dblink, pg_stat_statements, pg_visibility, pg_background
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_file_sync",
    "dblink",
    "dblink_exec",
    "dblink_send_query",
    "dblink_open",
    "dblink_fetch",
    "pg_stat_statements_reset",
    "pg_truncate_visibility_map",
    "pg_background_launch",
};
// Families: advisory locks (pg_advisory_lock, pg_try_advisory_xact_lock_shared, ...) and
// statistics resets (pg_stat_reset, pg_stat_reset_shared, ...).
constexpr std::string_view kSideEffectPrefixes[] = {"pg_advisory_", "pg_try_advisory_",
                                                    "pg_stat_reset"};

bool StartsWithLower(std::string_view s, std::string_view lower) {
  return s.size() >= lower.size() && EqualsLower(s.substr(0, lower.size()), lower);
}

bool ContainsLower(std::string_view s, std::string_view lower) {
  for (size_t i = 0; i + lower.size() <= s.size(); ++i)
    if (EqualsLower(s.substr(i, lower.size()), lower)) return true;
  return false;
}

// Whether `name` (case-folded if `fold`, as an unquoted name is) is a side-effect function.
bool IsSideEffectFunction(std::string_view name, bool fold) {
  auto eq = [&](std::string_view known) { return fold ? EqualsLower(name, known) : name == known; };
  for (std::string_view f : kSideEffectFunctions)
    if (eq(f)) return true;
  for (std::string_view p : kSideEffectPrefixes)
    if (fold ? StartsWithLower(name, p) : name.substr(0, p.size()) == p) return true;
  return false;
}

// Whether a call's name token may name a function that `match` accepts; U&"..." names are
// not decoded here and so may name anything.
enum class NameMatch { kNo, kYes, kUnknown };
NameMatch CallName(const Token& t, bool (*match)(std::string_view, bool)) {
  if (t.kind == TokenKind::kWord) return match(t.text, true) ? NameMatch::kYes : NameMatch::kNo;
  if (t.kind != TokenKind::kQuotedIdent) return NameMatch::kNo;
  if (t.form == StringForm::kUnicode) return NameMatch::kUnknown;
  return match(t.Body(), false) ? NameMatch::kYes : NameMatch::kNo;
}

bool IsSetConfig(std::string_view name, bool fold) {
  return fold ? EqualsLower(name, "set_config") : name == "set_config";
}

// The two settings that make a session or transaction read-only.
bool IsReadOnlySetting(const Token& t) {
  std::string_view name;
  if (t.kind == TokenKind::kWord) {
    name = t.text;
  } else if (t.kind == TokenKind::kQuotedIdent) {
    if (t.form == StringForm::kUnicode) return true;  // cannot decode: assume the worst
    name = t.Body();  // setting names are case-insensitive even when quoted
  } else {
    return false;
  }
  return EqualsLower(name, "default_transaction_read_only") ||
         EqualsLower(name, "transaction_read_only");
}

// Spellings the server's boolean parser reads as true (it accepts unique prefixes).
bool IsTrueText(std::string_view v) {
  for (std::string_view s : {"on", "true", "tru", "tr", "t", "yes", "ye", "y", "1"})
    if (EqualsLower(v, s)) return true;
  return false;
}

// A literal that certainly means true: a word, number or plain/dollar string. Strings with a
// backslash are refused: with standard_conforming_strings off they mean something else.
bool IsTrueLiteral(const Token& t) {
  switch (t.kind) {
    case TokenKind::kWord:
    case TokenKind::kNumber:
      return IsTrueText(t.text);
    case TokenKind::kString:
      if (t.form != StringForm::kPlain && t.form != StringForm::kDollar) return false;
      if (t.Body().find('\\') != std::string_view::npos) return false;
      return IsTrueText(t.Body());
    default:
      return false;
  }
}

// A cursor over the tokens of [begin, end) of the input.
class Cursor {
 public:
  Cursor(std::string_view sql, size_t begin, size_t end, LexOptions options,
         bool in_conditional_comment = false)
      : lex_(sql.substr(0, end), options, begin, in_conditional_comment) {
    tok_ = lex_.Next();
  }
  const Token& tok() const { return tok_; }
  bool done() const { return tok_.kind == TokenKind::kEnd; }
  void Advance() { tok_ = lex_.Next(); }
  // Advances past the current token if it is the word `lower`.
  bool Accept(std::string_view lower) {
    if (!tok_.Is(lower)) return false;
    Advance();
    return true;
  }

 private:
  Lexer lex_;
  Token tok_;
};

// What the tokens of a query or DML statement do, wherever they sit in it.
struct BodyFacts {
  bool dml = false;        // an INSERT/UPDATE/DELETE/MERGE runs (the statement or a CTE)
  bool unbounded = false;  // an UPDATE/DELETE of them has no WHERE at its own level
  bool locks = false;      // FOR [NO KEY] UPDATE / FOR [KEY] SHARE
  bool select_into = false;
  bool side_effects = false;        // calls a known side-effect function
  bool read_only_off_call = false;  // set_config() that may turn read-only off
};

BodyFacts ScanBody(std::string_view sql, size_t begin, size_t end, LexOptions options) {
  BodyFacts f;
  Cursor cur(sql, begin, end, options);
  const bool with = cur.tok().Is("with");
  Token prev;  // kEnd before the first token
  int depth = 0;
  // UPDATE/DELETE statements still open, innermost last, each waiting for its WHERE.
  struct Pending {
    int depth;
    bool bounded;
  };
  std::array<Pending, 16> pending;
  size_t npending = 0;
  // set_config(name, value, ...): 0 none, 1 name, 2 after name, 3 value, 4 after value.
  int set_config = 0;
  bool set_config_read_only = false;  // the name names a read-only setting
  for (; !cur.done(); prev = cur.tok(), cur.Advance()) {
    const Token& t = cur.tok();
    switch (set_config) {
      case 1:
        if ((t.kind == TokenKind::kString &&
             (t.form == StringForm::kPlain || t.form == StringForm::kDollar) &&
             t.Body().find('\\') == std::string_view::npos)) {
          set_config_read_only = ContainsLower(t.Body(), "read_only");
          set_config = 2;
        } else {
          f.read_only_off_call = true;  // a computed name could be anything
          set_config = 0;
        }
        break;
      case 2:  // 'x' || 'y' or 'x'::text could be anything
        if (t.kind != TokenKind::kComma) f.read_only_off_call = true;
        set_config = t.kind == TokenKind::kComma && set_config_read_only ? 3 : 0;
        break;
      case 3:
        set_config = IsTrueLiteral(t) ? 4 : 0;
        if (!set_config) f.read_only_off_call = true;
        break;
      case 4:
        if (t.kind != TokenKind::kComma && t.kind != TokenKind::kRParen)
          f.read_only_off_call = true;
        set_config = 0;
        break;
      default:
        break;
    }
    switch (t.kind) {
      case TokenKind::kLParen:
        if (prev.kind == TokenKind::kWord || prev.kind == TokenKind::kQuotedIdent) {
          if (CallName(prev, IsSideEffectFunction) != NameMatch::kNo) f.side_effects = true;
          NameMatch sc = CallName(prev, IsSetConfig);
          if (sc == NameMatch::kYes) set_config = 1;
          if (sc == NameMatch::kUnknown) f.read_only_off_call = true;
        }
        ++depth;
        break;
      case TokenKind::kRParen:
        while (npending > 0 && pending[npending - 1].depth >= depth) {
          if (!pending[npending - 1].bounded) f.unbounded = true;
          --npending;
        }
        if (depth > 0) --depth;
        break;
      case TokenKind::kWord: {
        bool update = t.Is("update"), del = t.Is("delete");
        if ((update || t.Is("share")) && (prev.Is("for") || prev.Is("key"))) {
          f.locks = true;
          break;
        }
        if (update || del || t.Is("insert") || t.Is("merge")) {
          bool starts = prev.kind == TokenKind::kEnd || prev.kind == TokenKind::kLParen ||
                        prev.kind == TokenKind::kRParen ||
                        (with && depth == 0 && !prev.Is("do") && !prev.Is("then") &&
                         prev.kind != TokenKind::kDot);
          if (!starts) break;
          f.dml = true;
          if (update || del) {
            if (npending == pending.size()) {
              f.unbounded = true;  // absurd nesting: assume the worst
            } else {
              pending[npending++] = {depth, false};
            }
          }
        } else if (t.Is("where")) {
          if (npending > 0 && pending[npending - 1].depth == depth)
            pending[npending - 1].bounded = true;
        } else if (t.Is("into")) {
          if (!prev.Is("insert") && !prev.Is("merge")) f.select_into = true;
        }
        break;
      }
      default:
        break;
    }
  }
  if (set_config != 0) f.read_only_off_call = true;  // cut short
  while (npending > 0) {
    if (!pending[npending - 1].bounded) f.unbounded = true;
    --npending;
  }
  return f;
}

// Whether the rest of the statement contains READ WRITE (transaction modes).
bool HasReadWrite(Cursor& cur) {
  Token prev;
  for (; !cur.done(); prev = cur.tok(), cur.Advance())
    if (cur.tok().Is("write") && prev.Is("read")) return true;
  return false;
}

// Whether the rest of the statement names one of the read-only settings, or RESET ALL.
bool MentionsReadOnlySetting(Cursor& cur) {
  Token prev;
  for (; !cur.done(); prev = cur.tok(), cur.Advance()) {
    if (IsReadOnlySetting(cur.tok())) return true;
    if (cur.tok().Is("all") && prev.Is("reset")) return true;
  }
  return false;
}

// SET ...: whether it may turn read-only off. `cur` is just past SET.
bool SetTurnsReadOnlyOff(Cursor& cur) {
  if (!cur.Accept("session")) cur.Accept("local");
  if (cur.tok().Is("characteristics") || cur.tok().Is("transaction")) return HasReadWrite(cur);
  if (!IsReadOnlySetting(cur.tok())) return false;
  cur.Advance();
  if (cur.tok().kind == TokenKind::kDot) return false;  // a custom setting a.b
  if (cur.tok().Is("to") || (cur.tok().kind == TokenKind::kOperator && cur.tok().text == "="))
    cur.Advance();
  if (cur.done() || !IsTrueLiteral(cur.tok())) return true;
  cur.Advance();
  return !cur.done();  // a list, or something else we do not understand
}

void SetFacts(StatementInfo* info, const BodyFacts& f) {
  info->writes = f.dml || f.locks || f.select_into || f.side_effects;
  info->ddl = f.select_into;
  info->unbounded_write = f.unbounded;
  info->sets_read_only_off = f.read_only_off_call;
  info->kind = info->ddl ? Kind::kDdl : info->writes ? Kind::kWrite : Kind::kRead;
}

void Write(StatementInfo* info, Kind kind = Kind::kWrite) {
  info->kind = kind;
  info->writes = true;
}

bool OneOf(const Token& t, std::initializer_list<std::string_view> words) {
  for (std::string_view w : words)
    if (t.Is(w)) return true;
  return false;
}

// EXPLAIN [ANALYZE] [VERBOSE] stmt | EXPLAIN (option [value], ...) stmt. `cur` is just past
// EXPLAIN; returns whether ANALYZE is on and leaves `cur` at the explained statement.
bool ParseExplainOptions(Cursor& cur) {
  bool analyze = false;
  if (cur.tok().kind == TokenKind::kLParen) {
    int depth = 0;
    while (!cur.done()) {
      const Token t = cur.tok();
      cur.Advance();
      if (t.kind == TokenKind::kLParen) ++depth;
      if (t.kind == TokenKind::kRParen && --depth == 0) break;
      if (depth == 1 && (t.Is("analyze") || t.Is("analyse"))) {
        // ANALYZE alone, or followed by anything but a false literal, means on.
        const Token& v = cur.tok();
        bool off = false;
        std::string_view text =
            v.kind == TokenKind::kString && v.form == StringForm::kPlain ? v.Body() : v.text;
        if (v.kind == TokenKind::kWord || v.kind == TokenKind::kNumber ||
            (v.kind == TokenKind::kString && v.form == StringForm::kPlain)) {
          for (std::string_view s :
               {"off", "false", "0", "no", "of", "f", "fa", "fal", "fals", "n"})
            if (EqualsLower(text, s)) off = true;
        }
        if (!off) analyze = true;
      }
    }
    return analyze;
  }
  for (;;) {
    if (cur.Accept("analyze") || cur.Accept("analyse")) {
      analyze = true;
    } else if (!cur.Accept("verbose")) {
      return analyze;
    }
  }
}

// EXPLAIN and PREPARE classify the statement they hold; a statement can hold only one, so
// anything deeper is hostile input, refused as an unknown write rather than recursed into.
constexpr int kMaxNesting = 4;

StatementInfo ClassifyMySql(std::string_view sql, size_t begin, size_t end, LexOptions options,
                            int nesting, bool in_conditional_comment);

StatementInfo ClassifyAt(std::string_view sql, size_t begin, size_t end, LexOptions options,
                         int nesting, bool in_conditional_comment) {
  if (options.dialect == Dialect::kMySql)
    return ClassifyMySql(sql, begin, end, options, nesting, in_conditional_comment);
  StatementInfo info;
  Cursor cur(sql, begin, end, options);
  if (cur.done()) return info;
  const size_t first_pos = cur.tok().pos;
  info.text = sql.substr(first_pos, end - first_pos);
  if (nesting > kMaxNesting) {
    Write(&info, Kind::kOther);
    return info;
  }
  bool paren = false;
  while (cur.tok().kind == TokenKind::kLParen) {
    paren = true;
    cur.Advance();
  }
  const Token w = cur.tok();
  if (w.kind == TokenKind::kWord) info.first_keyword = w.keyword.empty() ? w.text : w.keyword;
  cur.Advance();

  if (paren || OneOf(w, {"select", "with", "values", "table"})) {
    SetFacts(&info, ScanBody(sql, first_pos, end, options));
  } else if (OneOf(w, {"insert", "update", "delete", "merge"})) {
    BodyFacts f = ScanBody(sql, first_pos, end, options);
    f.select_into = false;  // INSERT INTO / MERGE INTO
    SetFacts(&info, f);
    Write(&info);
  } else if (w.Is("truncate")) {
    Write(&info);
    info.unbounded_write = true;
  } else if (w.Is("copy")) {
    // COPY t [(cols)] FROM ... writes; COPY t|(query) TO STDOUT reads; TO 'file' and
    // TO PROGRAM act on the server, so they count as writes.
    SetFacts(&info, ScanBody(sql, first_pos, end, options));
    int depth = 0;
    bool read = false, found = false;
    for (; !cur.done() && !found; cur.Advance()) {
      const Token& t = cur.tok();
      if (t.kind == TokenKind::kLParen) ++depth;
      if (t.kind == TokenKind::kRParen) --depth;
      if (depth != 0) continue;
      if (t.Is("from")) {
        found = true;
      } else if (t.Is("to")) {
        found = true;
        cur.Advance();
        read = cur.tok().Is("stdout");
      }
    }
    if (!read) Write(&info);
  } else if (w.Is("explain")) {
    bool analyze = ParseExplainOptions(cur);
    if (cur.done()) {
      info.kind = Kind::kRead;
    } else if (analyze) {
      StatementInfo inner = ClassifyAt(sql, cur.tok().pos, end, options, nesting + 1, false);
      info.kind = inner.kind;
      info.writes = inner.writes;
      info.ddl = inner.ddl;
      info.unbounded_write = inner.unbounded_write;
      info.sets_read_only_off = inner.sets_read_only_off;
    } else {
      info.kind = Kind::kRead;
    }
  } else if (w.Is("prepare")) {
    if (cur.tok().Is("transaction")) {
      info.kind = Kind::kTransaction;
    } else {
      // PREPARE name [(types)] AS statement: what matters is the statement.
      int depth = 0;
      for (; !cur.done(); cur.Advance()) {
        const Token& t = cur.tok();
        if (t.kind == TokenKind::kLParen) ++depth;
        if (t.kind == TokenKind::kRParen) --depth;
        if (depth == 0 && t.Is("as")) break;
      }
      if (!cur.done()) cur.Advance();
      if (cur.done()) {
        Write(&info, Kind::kOther);
      } else {
        StatementInfo inner = ClassifyAt(sql, cur.tok().pos, end, options, nesting + 1, false);
        info.kind = inner.kind;
        info.writes = inner.writes;
        info.ddl = inner.ddl;
        info.unbounded_write = inner.unbounded_write;
        info.sets_read_only_off = inner.sets_read_only_off;
      }
    }
  } else if (OneOf(w, {"do", "call", "execute"})) {
    Write(&info);
  } else if (w.Is("declare")) {
    SetFacts(&info, ScanBody(sql, first_pos, end, options));
  } else if (w.Is("create")) {
    info.kind = Kind::kDdl;
    info.ddl = true;
    // CREATE TABLE ... AS query and CREATE MATERIALIZED VIEW also fill a table.
    bool view = false, materialized = false;
    int depth = 0;
    for (; !cur.done(); cur.Advance()) {
      const Token& t = cur.tok();
      if (t.kind == TokenKind::kLParen) ++depth;
      if (t.kind == TokenKind::kRParen) --depth;
      if (depth != 0) continue;
      if (t.Is("view")) view = true;
      if (t.Is("materialized")) materialized = true;
      if (t.Is("as")) {
        cur.Advance();
        const Token& n = cur.tok();
        if ((!view || materialized) && (n.kind == TokenKind::kLParen ||
                                        OneOf(n, {"select", "with", "values", "table", "execute"})))
          info.writes = true;
        break;
      }
    }
  } else if (w.Is("alter")) {
    info.kind = Kind::kDdl;
    info.ddl = true;
    info.sets_read_only_off = MentionsReadOnlySetting(cur);  // ALTER ROLE|DATABASE ... SET
  } else if (OneOf(w, {"drop", "grant", "revoke", "comment", "security", "import", "reassign"})) {
    info.kind = Kind::kDdl;
    info.ddl = true;
  } else if (w.Is("refresh")) {
    Write(&info);
  } else if (OneOf(w, {"vacuum", "analyze", "analyse", "cluster", "reindex", "checkpoint", "load",
                       "notify", "lock"})) {
    Write(&info, Kind::kOther);
  } else if (OneOf(w, {"show", "fetch", "move"})) {
    info.kind = Kind::kRead;
  } else if (OneOf(w, {"listen", "unlisten", "close", "deallocate"})) {
    info.kind = Kind::kOther;
  } else if (w.Is("discard")) {
    info.kind = Kind::kOther;
    info.sets_read_only_off = cur.tok().Is("all");  // DISCARD ALL includes RESET ALL
  } else if (w.Is("set")) {
    info.kind = Kind::kSet;
    info.sets_read_only_off = SetTurnsReadOnlyOff(cur);
  } else if (w.Is("reset")) {
    info.kind = Kind::kSet;
    info.sets_read_only_off = cur.tok().Is("all") || IsReadOnlySetting(cur.tok());
  } else if (OneOf(w, {"begin", "start"})) {
    info.kind = Kind::kTransaction;
    info.sets_read_only_off = HasReadWrite(cur);
  } else if (OneOf(w, {"commit", "end", "rollback", "abort", "savepoint", "release"})) {
    info.kind = Kind::kTransaction;
  } else {
    Write(&info, Kind::kOther);  // not understood: assume the worst
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// MySQL and MariaDB.
//
// Decisions worth knowing (besides those in classifier.h that apply to both):
//   - SELECT ... FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE lock rows: writes.
//   - SELECT ... INTO OUTFILE / DUMPFILE writes a file on the server: a write. INTO @var reads.
//   - DO, HANDLER, USE, HELP, SHOW, DESCRIBE are reads. DO evaluates expressions as SELECT does;
//     the known side-effect functions (kMySqlSideEffectFunctions) make it, or a SELECT, a write.
//   - EXPLAIN / DESCRIBE of a statement is a read; EXPLAIN ANALYZE and MariaDB's ANALYZE stmt run
//     it and take its class; ANALYZE TABLE, OPTIMIZE, REPAIR, CHECK are kOther writes.
//   - CALL, LOAD, PREPARE, EXECUTE (the statement is not known here), XA, LOCK TABLES, FLUSH,
//     KILL, INSTALL, RESET, PURGE, START REPLICA, BEGIN NOT ATOMIC, ... are writes.
//   - SET GLOBAL / PERSIST / PERSIST_ONLY (or @@global.x) change the server: writes.
//   - UPDATE/DELETE without WHERE at their own level are unbounded, multi-table forms included
//     (ON and LIMIT do not bound them); INSERT ... ON DUPLICATE KEY UPDATE is no UPDATE.
//   - A SET that assigns a system variable whose name holds `read_only` (tx_read_only,
//     transaction_read_only, read_only, super_read_only, @@session.x ...) anything but a true
//     literal, or that says READ WRITE, turns read-only off. In SET STATEMENT ... FOR, any
//     assignment to such a variable does.

constexpr std::string_view kMySqlSideEffectFunctions[] = {
    "get_lock",
    "release_lock",
    "release_all_locks",
    "nextval",
    "setval",
    "sys_exec",
    "sys_eval",
    "service_get_write_locks",
    "service_get_read_locks",
    "service_release_locks",
    "set_firewall_mode",
};
// Families of plugin functions that change server state.
constexpr std::string_view kMySqlSideEffectPrefixes[] = {
    "keyring_key_",
    "audit_log_",
    "version_tokens_",
    "group_replication_",
    "asynchronous_connection_failover_",
    "mysql_firewall_",
    "firewall_",
};

bool IsMySqlSideEffectFunction(std::string_view name, bool) {
  // Function names are case-insensitive in MySQL, quoted or not.
  for (std::string_view f : kMySqlSideEffectFunctions)
    if (EqualsLower(name, f)) return true;
  for (std::string_view p : kMySqlSideEffectPrefixes)
    if (StartsWithLower(name, p)) return true;
  return false;
}

struct MySqlBodyFacts {
  bool dml = false;
  bool unbounded = false;
  bool locks = false;
  bool into_file = false;
  bool side_effects = false;
};

MySqlBodyFacts ScanMySqlBody(std::string_view sql, size_t begin, size_t end, LexOptions options,
                             bool in_conditional_comment) {
  MySqlBodyFacts f;
  Cursor cur(sql, begin, end, options, in_conditional_comment);
  const bool with = cur.tok().Is("with");
  Token prev;
  int depth = 0;
  struct Pending {
    int depth;
    bool bounded;
  };
  std::array<Pending, 16> pending;
  size_t npending = 0;
  for (; !cur.done(); prev = cur.tok(), cur.Advance()) {
    const Token& t = cur.tok();
    switch (t.kind) {
      case TokenKind::kLParen:
        if ((prev.kind == TokenKind::kWord || prev.kind == TokenKind::kQuotedIdent) &&
            IsMySqlSideEffectFunction(prev.kind == TokenKind::kWord ? prev.text : prev.Body(),
                                      true))
          f.side_effects = true;
        ++depth;
        break;
      case TokenKind::kRParen:
        while (npending > 0 && pending[npending - 1].depth >= depth) {
          if (!pending[npending - 1].bounded) f.unbounded = true;
          --npending;
        }
        if (depth > 0) --depth;
        break;
      case TokenKind::kWord: {
        const bool update = t.Is("update"), del = t.Is("delete");
        if ((update && prev.Is("for")) || (t.Is("share") && (prev.Is("for") || prev.Is("in")))) {
          f.locks = true;
        } else if (update || del || t.Is("insert") || t.Is("replace")) {
          if (update && prev.Is("key")) break;  // ON DUPLICATE KEY UPDATE
          // A statement starts here: at the start, or after WITH's common table expressions.
          // Elsewhere these words are function names (INSERT(), REPLACE()) or identifiers.
          const bool starts = prev.kind == TokenKind::kEnd ||
                              (with && depth == 0 && prev.kind == TokenKind::kRParen);
          if (!starts) break;
          f.dml = true;
          if (update || del) {
            if (npending == pending.size()) {
              f.unbounded = true;
            } else {
              pending[npending++] = {depth, false};
            }
          }
        } else if (t.Is("where")) {
          if (npending > 0 && pending[npending - 1].depth == depth)
            pending[npending - 1].bounded = true;
        } else if ((t.Is("outfile") || t.Is("dumpfile")) && prev.Is("into")) {
          f.into_file = true;
        } else if (t.Is("value") && prev.Is("next")) {
          f.side_effects = true;  // MariaDB: NEXT VALUE FOR sequence
        }
        break;
      }
      default:
        break;
    }
  }
  while (npending > 0) {
    if (!pending[npending - 1].bounded) f.unbounded = true;
    --npending;
  }
  return f;
}

void SetMySqlFacts(StatementInfo* info, const MySqlBodyFacts& f) {
  info->writes = f.dml || f.locks || f.into_file || f.side_effects;
  info->unbounded_write = f.unbounded;
  info->kind = info->writes ? Kind::kWrite : Kind::kRead;
}

// MySQL's boolean system variables take ON, TRUE, 1 (or 'ON', '1') for true.
bool IsMySqlTrueLiteral(const Token& t) {
  std::string_view v;
  if (t.kind == TokenKind::kWord || t.kind == TokenKind::kNumber) {
    v = t.text;
  } else if (t.kind == TokenKind::kString && t.form == StringForm::kPlain && t.terminated) {
    v = t.Body();
    if (v.find('\\') != std::string_view::npos) return false;
  } else {
    return false;
  }
  return EqualsLower(v, "on") || EqualsLower(v, "true") || v == "1";
}

struct MySqlSetFacts {
  bool read_only_off = false;
  bool global = false;
};

// The assignments of a SET (or of SET STATEMENT, which ends at FOR: `cur` is left there).
// `cur` is just past SET / SET STATEMENT.
MySqlSetFacts ScanMySqlSet(Cursor& cur, bool statement) {
  MySqlSetFacts f;
  enum class Phase { kTarget, kName, kValue } phase = Phase::kTarget;
  bool read_only_target = false;
  int values = 0;
  bool value_true = false;
  int depth = 0;
  auto end_item = [&] {
    if (read_only_target && (statement || phase != Phase::kValue || values != 1 || !value_true))
      f.read_only_off = true;
    phase = Phase::kTarget;
    read_only_target = false;
    values = 0;
    value_true = false;
  };
  auto names_read_only = [](const Token& t) {
    switch (t.kind) {
      case TokenKind::kWord:
      case TokenKind::kVariable:
        return ContainsLower(t.text, "read_only");
      case TokenKind::kQuotedIdent:
      case TokenKind::kString:
        return ContainsLower(t.Body(), "read_only");
      default:
        return false;
    }
  };
  for (; !cur.done(); cur.Advance()) {
    const Token& t = cur.tok();
    if (depth == 0 && t.kind == TokenKind::kComma) {
      end_item();
      continue;
    }
    if (statement && depth == 0 && t.Is("for")) break;
    if (t.kind == TokenKind::kLParen) ++depth;
    if (t.kind == TokenKind::kRParen && depth > 0) --depth;
    switch (phase) {
      case Phase::kTarget:
        if (t.Is("global") || t.Is("persist") || t.Is("persist_only")) {
          f.global = true;
          break;
        }
        if (t.Is("session") || t.Is("local")) break;
        phase = Phase::kName;
        if (t.kind == TokenKind::kVariable) {
          if (t.text.substr(0, 2) != "@@") break;  // a user variable
          if (StartsWithLower(t.text, "@@global") || StartsWithLower(t.text, "@@persist"))
            f.global = true;
        }
        read_only_target = names_read_only(t);
        break;
      case Phase::kName:
        if (t.kind == TokenKind::kOperator && (t.text == "=" || t.text == ":=")) {
          phase = Phase::kValue;
        } else if (names_read_only(t)) {
          read_only_target = true;  // a.b names, or something unexpected
        }
        break;
      case Phase::kValue:
        ++values;
        value_true = values == 1 && IsMySqlTrueLiteral(t);
        break;
    }
  }
  end_item();
  return f;
}

void CopyClass(StatementInfo* info, const StatementInfo& inner) {
  info->kind = inner.kind;
  info->writes = inner.writes;
  info->ddl = inner.ddl;
  info->unbounded_write = inner.unbounded_write;
  info->sets_read_only_off = inner.sets_read_only_off;
}

bool StartsMySqlStatement(const Token& t) {
  return t.kind == TokenKind::kLParen ||
         OneOf(t, {"select", "with", "table", "values", "insert", "replace", "update", "delete"});
}

StatementInfo ClassifyMySql(std::string_view sql, size_t begin, size_t end, LexOptions options,
                            int nesting, bool in_conditional_comment) {
  StatementInfo info;
  Cursor cur(sql, begin, end, options, in_conditional_comment);
  if (cur.done()) return info;
  const size_t first_pos = cur.tok().pos;
  const bool first_cc = cur.tok().in_conditional_comment;
  info.text = sql.substr(first_pos, end - first_pos);
  info.text_in_conditional_comment = first_cc;
  if (nesting > kMaxNesting) {
    Write(&info, Kind::kOther);
    return info;
  }
  bool paren = false;
  while (cur.tok().kind == TokenKind::kLParen) {
    paren = true;
    cur.Advance();
  }
  const Token w = cur.tok();
  if (w.kind == TokenKind::kWord) info.first_keyword = w.keyword.empty() ? w.text : w.keyword;
  cur.Advance();
  auto body = [&] { return ScanMySqlBody(sql, first_pos, end, options, first_cc); };
  // The statement that EXPLAIN ANALYZE or ANALYZE runs: the first statement word after its
  // options; `cur` is past EXPLAIN / ANALYZE.
  auto inner = [&](bool* found) {
    *found = false;
    for (; !cur.done(); cur.Advance()) {
      if (StartsMySqlStatement(cur.tok())) {
        *found = true;
        return ClassifyMySql(sql, cur.tok().pos, end, options, nesting + 1,
                             cur.tok().in_conditional_comment);
      }
    }
    return StatementInfo{};
  };

  if (paren || OneOf(w, {"select", "with", "values", "table", "do"})) {
    SetMySqlFacts(&info, body());
  } else if (OneOf(w, {"insert", "replace", "update", "delete"})) {
    SetMySqlFacts(&info, body());
    Write(&info);
  } else if (w.Is("truncate")) {
    Write(&info);
    info.unbounded_write = true;
  } else if (OneOf(w, {"load", "call"})) {
    Write(&info);
  } else if (OneOf(w, {"explain", "describe", "desc"})) {
    // EXPLAIN [ANALYZE] [FORMAT = x] [INTO @v] stmt; EXPLAIN t [col]; EXPLAIN FOR CONNECTION n.
    bool analyze = false;
    for (; !cur.done() && !StartsMySqlStatement(cur.tok()); cur.Advance())
      if (cur.tok().Is("analyze")) analyze = true;
    info.kind = Kind::kRead;
    if (analyze) {
      bool found = false;
      StatementInfo in = inner(&found);
      if (found)
        CopyClass(&info, in);
      else
        Write(&info, Kind::kOther);
    }
  } else if (w.Is("analyze")) {
    // MariaDB: ANALYZE [FORMAT=JSON] stmt runs stmt; ANALYZE TABLE updates statistics.
    if (OneOf(cur.tok(), {"table", "tables", "no_write_to_binlog", "local"})) {
      Write(&info, Kind::kOther);
    } else {
      bool found = false;
      StatementInfo in = inner(&found);
      if (found)
        CopyClass(&info, in);
      else
        Write(&info, Kind::kOther);
    }
  } else if (OneOf(w, {"show", "help", "use", "handler", "checksum"}) ||
             (w.Is("get") && cur.tok().Is("diagnostics"))) {
    info.kind = Kind::kRead;
  } else if (w.Is("create")) {
    info.kind = Kind::kDdl;
    info.ddl = true;
    // CREATE TABLE ... [AS] SELECT | TABLE t | VALUES fills the table it creates; the bodies of
    // views, routines, triggers and events are not run by CREATE.
    bool table = false;
    int depth = 0;
    for (; !cur.done(); cur.Advance()) {
      const Token& t = cur.tok();
      if (t.kind == TokenKind::kLParen) ++depth;
      if (t.kind == TokenKind::kRParen) --depth;
      if (!table && OneOf(t, {"view", "procedure", "function", "trigger", "event"})) break;
      if (t.Is("select") || (table && depth == 0 && OneOf(t, {"table", "values"}))) {
        info.writes = true;
        break;
      }
      if (t.Is("table")) table = true;
    }
  } else if (w.Is("drop") && cur.tok().Is("prepare")) {
    info.kind = Kind::kOther;  // DROP PREPARE = DEALLOCATE PREPARE
  } else if (OneOf(w, {"alter", "drop", "rename", "grant", "revoke"})) {
    info.kind = Kind::kDdl;
    info.ddl = true;
  } else if (w.Is("deallocate") || w.Is("unlock") || w.Is("signal") || w.Is("resignal")) {
    info.kind = Kind::kOther;
  } else if (w.Is("set")) {
    info.kind = Kind::kSet;
    if (OneOf(cur.tok(), {"password", "default"})) {
      // SET PASSWORD, SET DEFAULT ROLE: account management.
      info.kind = Kind::kDdl;
      info.ddl = true;
    } else if (cur.tok().Is("statement")) {
      cur.Advance();
      MySqlSetFacts f = ScanMySqlSet(cur, true);
      if (!cur.tok().Is("for")) {
        Write(&info, Kind::kOther);
      } else {
        cur.Advance();
        if (cur.done()) {
          Write(&info, Kind::kOther);
        } else {
          CopyClass(&info, ClassifyMySql(sql, cur.tok().pos, end, options, nesting + 1,
                                         cur.tok().in_conditional_comment));
        }
      }
      if (f.read_only_off) info.sets_read_only_off = true;
    } else {
      MySqlSetFacts f = ScanMySqlSet(cur, false);
      Cursor again(sql, first_pos, end, options, first_cc);
      info.sets_read_only_off = f.read_only_off || HasReadWrite(again);
      if (f.global) info.writes = true;
    }
  } else if (w.Is("start")) {
    if (cur.tok().Is("transaction")) {
      info.kind = Kind::kTransaction;
      info.sets_read_only_off = HasReadWrite(cur);
    } else {
      Write(&info, Kind::kOther);  // START REPLICA / SLAVE / GROUP_REPLICATION
    }
  } else if (w.Is("begin")) {
    if (cur.done() || cur.tok().Is("work")) {
      info.kind = Kind::kTransaction;
    } else {
      // MariaDB: BEGIN NOT ATOMIC stmt; ... END runs statements; the first one is in this
      // piece of text (a ';' ends it), the others are statements of their own.
      Write(&info, Kind::kOther);
      cur.Accept("not");
      cur.Accept("atomic");
      if (!cur.done()) {
        StatementInfo in = ClassifyMySql(sql, cur.tok().pos, end, options, nesting + 1,
                                         cur.tok().in_conditional_comment);
        info.ddl = in.ddl;
        info.unbounded_write = in.unbounded_write;
        info.sets_read_only_off = in.sets_read_only_off;
      }
    }
  } else if (OneOf(w, {"commit", "rollback", "savepoint", "release"})) {
    info.kind = Kind::kTransaction;
  } else {
    Write(&info, Kind::kOther);  // not understood: assume the worst
  }
  return info;
}

}  // namespace

StatementInfo ClassifyStatement(std::string_view sql, size_t begin, size_t end, LexOptions options,
                                bool in_conditional_comment) {
  return ClassifyAt(sql, begin, end, options, 0, in_conditional_comment);
}

StatementReader::StatementReader(std::string_view sql, LexOptions options)
    : sql_(sql), options_(options), lexer_(sql, options) {}

bool StatementReader::Next(StatementInfo* out) {
  for (;;) {
    Token t = lexer_.Next();
    if (t.kind == TokenKind::kEnd) return false;
    if (t.kind == TokenKind::kSemicolon) continue;  // empty statement
    const size_t begin = t.pos;
    size_t end = t.end();
    for (Token u = lexer_.Next(); u.kind != TokenKind::kEnd && u.kind != TokenKind::kSemicolon;
         u = lexer_.Next())
      end = u.end();
    *out = ClassifyStatement(sql_, begin, end, options_, t.in_conditional_comment);
    return true;
  }
}

std::vector<StatementInfo> Classify(std::string_view sql, LexOptions options) {
  std::vector<StatementInfo> out;
  StatementReader reader(sql, options);
  StatementInfo info;
  while (reader.Next(&info)) out.push_back(info);
  return out;
}

}  // namespace veil::sql
