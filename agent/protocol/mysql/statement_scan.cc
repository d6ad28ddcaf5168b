#include "agent/protocol/mysql/statement_scan.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "agent/sql/lexer.h"

namespace veil::mysql {
namespace {

using sql::TokenKind;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A quoted identifier's name: the quotes removed, a doubled quote made one.
std::string Unquote(std::string_view text) {
  if (text.size() < 2) return std::string(text);
  const char q = text.front();
  std::string out;
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    out.push_back(text[i]);
    if (text[i] == q && i + 2 < text.size() && text[i + 1] == q) ++i;
  }
  return Lower(out);
}

// Words before `(` that are never a stored function's call: reserved words, and the functions
// and types the grammar parses itself, which win over a stored function of the same name when
// called unqualified (tested against MariaDB 10.11: `reverse('abc')`, `` `reverse`('abc') `` and
// `reverse ('abc')` call the native one when test.reverse exists; only test.reverse(…) calls the
// stored one). Everything else before `(` is checked against the server's own list.
bool GrammarWord(const std::string& w) {
  // Each is reserved, or is a native the grammar parses itself. Words MariaDB 10.11 lets a
  // stored function be called by (checked one by one: against, columns, escape, hash, list,
  // mode, nested, of, path, returns, share, than, the geometry constructors at some arities,
  // inet4, inet6, json_table) are not here: before `(` they count as calls, except in the
  // partition clauses PartitionWord() knows.
  static const std::set<std::string, std::less<>> kWords = {
      // Expression and statement syntax.
      "add", "all", "and", "any", "as", "between", "by", "case", "check", "default", "distinct",
      "distinctrow", "div", "dual", "else", "except", "exists", "for", "from", "having", "if", "in",
      "index", "intersect", "interval", "into", "is", "join", "key", "like", "limit", "linear",
      "lock", "match", "not", "on", "or", "over", "partition", "primary", "foreign", "range",
      "recursive", "references", "regexp", "return", "rlike", "row", "rows", "select", "set",
      "some", "table", "then", "union", "unique", "using", "value", "values", "when", "where",
      "window", "with", "xor",
      // Functions the grammar spells itself (not in information_schema.SQL_FUNCTIONS).
      "ascii", "avg", "cast", "char", "charset", "coalesce", "collation", "column_add",
      "column_create", "column_delete", "column_get", "contains", "convert", "current_date",
      "current_role", "current_time", "current_timestamp", "current_user", "database", "date",
      "date_add", "date_sub", "day", "extract", "format", "get_format", "hour", "insert",
      "last_value", "lastval", "left", "localtime", "localtimestamp", "microsecond", "minute",
      "mod", "month", "nextval", "now", "old_password", "password", "position", "quarter", "repeat",
      "replace", "reverse", "right", "row_count", "row_number", "second", "setval", "substring",
      "sysdate", "time", "timestamp", "timestampadd", "timestampdiff", "trim", "truncate", "user",
      "utc_date", "utc_time", "utc_timestamp", "week", "weight_string", "year",
      // Types (CAST(x AS DECIMAL(10, 2)), column definitions).
      "bigint", "binary", "bit", "blob", "dec", "decimal", "double", "enum", "fixed", "float",
      "int", "integer", "json", "mediumint", "nchar", "numeric", "real", "signed", "smallint",
      "text", "tinyint", "unsigned", "uuid", "varbinary", "varchar", "datetime"};
  return kWords.contains(w);
}

// PARTITION BY [LINEAR] HASH (…), BY LIST [COLUMNS] (…), BY RANGE COLUMNS (…), VALUES LESS
// THAN (…): no call (a partition expression may not call a stored function).
bool PartitionWord(const std::string& w, const std::string& prev, const std::string& prev2) {
  const bool by_partition = prev2 == "partition" || prev2 == "subpartition";
  if (w == "than") return prev == "less";
  if (w == "hash" || w == "list")
    return (prev == "by" && by_partition) || (w == "hash" && prev == "linear" && prev2 == "by");
  if (w == "columns") return (prev == "range" || prev == "list") && prev2 == "by";
  return false;
}

// Words after which a name and `(` are a table and its column list, not a call.
bool NamesTableBefore(const std::string& w) {
  static const std::set<std::string, std::less<>> kWords = {
      "into",          "table",      "insert", "replace", "ignore",     "delayed",  "low_priority",
      "high_priority", "references", "index",  "key",     "unique",     "view",     "trigger",
      "procedure",     "function",   "exists", "for",     "constraint", "fulltext", "spatial"};
  return kWords.contains(w);
}

// One reading of `text` into `scan` (which gathers what every reading finds).
void ScanReading(std::string_view text, sql::LexOptions options, StatementScan* out,
                 bool* saw_backslash, bool* saw_conditional) {
  StatementScan& scan = *out;
  sql::Lexer lex(text, options);
  std::vector<sql::Token> tokens;
  for (sql::Token t = lex.Next(); t.kind != TokenKind::kEnd; t = lex.Next()) {
    // A "double-quoted" string is an identifier under ANSI_QUOTES: counted as one either way.
    if (t.kind == TokenKind::kString && t.form == sql::StringForm::kPlain && t.text.front() == '"')
      t.kind = TokenKind::kQuotedIdent;
    tokens.push_back(t);
  }
  if (saw_backslash) *saw_backslash = lex.saw_backslash_in_string();
  if (saw_conditional) *saw_conditional = lex.saw_conditional_comment();
  // The ')' matching each '(' (tokens.size() when unmatched).
  std::vector<size_t> match(tokens.size(), tokens.size()), open;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind == TokenKind::kLParen) open.push_back(i);
    if (tokens[i].kind == TokenKind::kRParen && !open.empty()) {
      match[open.back()] = i;
      open.pop_back();
    }
  }
  auto word = [&](size_t i) -> std::string {
    if (i >= tokens.size()) return {};
    const auto& t = tokens[i];
    if (t.kind == TokenKind::kWord) return Lower(t.text);
    if (t.kind == TokenKind::kQuotedIdent) return Unquote(t.text);
    return {};
  };
  auto add = [](std::vector<std::string>* v, std::string s) {
    if (!s.empty() && std::find(v->begin(), v->end(), s) == v->end()) v->push_back(std::move(s));
  };
  // The first words of each statement (a ';' starts the next).
  bool first = true;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    if (t.kind == TokenKind::kSemicolon) {
      first = true;
      continue;
    }
    if (t.kind == TokenKind::kVariable) {
      // @@system variables hold data too: SET @@session.max_join_size = (SELECT …).
      scan.uses_variables = true;
      first = false;
      continue;
    }
    std::string w = word(i);
    if (t.kind == TokenKind::kOperator && t.text == "*" && i > 0) {
      const std::string prev = word(i - 1);
      if (tokens[i - 1].kind == TokenKind::kDot || tokens[i - 1].kind == TokenKind::kComma ||
          prev == "select" || prev == "distinct" || prev == "all" || prev == "distinctrow" ||
          prev.starts_with("sql_") || prev == "straight_join" || prev == "high_priority")
        scan.star = true;
    }
    if (!w.empty() && i + 1 < tokens.size() && tokens[i + 1].kind == TokenKind::kDot)
      add(&scan.qualifiers, w);
    if (w == "procedure" && !first) scan.dynamic = true;  // SELECT … PROCEDURE ANALYSE()
    if (first) {
      first = false;
      static const std::set<std::string> kWrites = {
          "insert", "update", "delete",   "replace", "load", "create",  "alter",
          "drop",   "rename", "truncate", "call",    "do",   "handler", "lock"};
      if (kWrites.contains(w)) scan.writes = true;
      if (w == "set") scan.sets = scan.uses_variables = true;
      if (w == "explain" || w == "describe" || w == "desc" || w == "analyze") scan.explain = true;
      if (!scan.write_target) {
        // The table named after the statement's leading words.
        size_t k = i + 1;
        auto skip = [&](std::initializer_list<const char*> words) {
          for (bool again = true; again;) {
            again = false;
            for (const char* x : words)
              if (word(k) == x) {
                ++k;
                again = true;
              }
          }
        };
        bool target = false;
        if (w == "create") {
          skip({"or", "replace", "temporary"});
          if (word(k) == "table") {
            ++k;
            skip({"if", "not", "exists"});
            target = true;
          }
        } else if (w == "insert" || w == "replace") {
          skip({"low_priority", "delayed", "high_priority", "ignore", "into"});
          target = true;
        } else if (w == "update") {
          skip({"low_priority", "ignore"});
          target = true;
        }
        if (target && k + 2 < tokens.size() && tokens[k + 1].kind == TokenKind::kDot) k += 2;
        if (target && !word(k).empty()) scan.write_target = word(k);
      }
      if (w == "call" || w == "execute" || w == "prepare") scan.dynamic = true;
      if (w == "show") {
        std::string next = word(i + 1);
        if (next == "warnings" || next == "errors" || next == "count") scan.diagnostics = true;
      }
      if (w == "get") scan.diagnostics = true;  // GET [CURRENT|STACKED] DIAGNOSTICS
      if (w == "use" && !word(i + 1).empty() && !scan.use_database) scan.use_database = word(i + 1);
      if (w == "create") {
        // The name after FUNCTION (skipping IF NOT EXISTS and a schema qualifier).
        // Within CREATE [OR REPLACE] [DEFINER = user@host] [AGGREGATE] FUNCTION: no parenthesis.
        for (size_t j = i + 1;
             j < tokens.size() && j < i + 12 && tokens[j].kind != TokenKind::kSemicolon &&
             tokens[j].kind != TokenKind::kLParen;
             ++j) {
          if (word(j) != "function") continue;
          size_t k = j + 1;
          if (word(k) == "if") k += 3;
          if (k + 2 < tokens.size() && tokens[k + 1].kind == TokenKind::kDot) k += 2;
          if (!word(k).empty()) scan.creates_function = word(k);
          break;
        }
      }
    }
    if (w.empty()) continue;
    add(&scan.identifiers, w);
    if (i + 1 < tokens.size() && tokens[i + 1].kind == TokenKind::kLParen) {
      const bool qualified = i >= 2 && tokens[i - 1].kind == TokenKind::kDot;
      const size_t lead = qualified ? i - 2 : i;  // the first token of the (qualified) name
      if (lead == 0 || !NamesTableBefore(word(lead - 1))) {
        if (qualified)
          scan.qualified_call = true;
        else if (!GrammarWord(w) && !PartitionWord(w, i >= 1 ? word(i - 1) : std::string(),
                                                   i >= 2 ? word(i - 2) : std::string()))
          add(&scan.calls, w);
      }
    }
    // `) alias` / `) AS alias`: a derived table.
    if (i > 0 && tokens[i - 1].kind == TokenKind::kRParen && w != "as" && w != "union" &&
        w != "on" && w != "where" && w != "from" && w != "join")
      add(&scan.derived, w);
    if (w == "as" && i > 0 && tokens[i - 1].kind == TokenKind::kRParen)
      add(&scan.derived, word(i + 1));
    // `name AS (` or `name (a, b) AS (`: a CTE.
    if (i + 2 < tokens.size() && word(i + 1) == "as" && tokens[i + 2].kind == TokenKind::kLParen)
      add(&scan.derived, w);
    if (i + 1 < tokens.size() && tokens[i + 1].kind == TokenKind::kLParen) {
      const size_t j = match[i + 1];  // name (cols) AS (
      if (j + 2 < tokens.size() && word(j + 1) == "as" &&
          tokens[j + 2].kind == TokenKind::kLParen) {
        add(&scan.derived, w);
        scan.renames = true;
      }
      // (SELECT …) [AS] alias (cols)
      if (i > 0 && (tokens[i - 1].kind == TokenKind::kRParen ||
                    (word(i - 1) == "as" && i > 1 && tokens[i - 2].kind == TokenKind::kRParen)))
        scan.renames = true;
    }
  }
}

}  // namespace

StatementScan ScanStatement(std::string_view text) {
  // Every reading the server may use (sql_mode's NO_BACKSLASH_ESCAPES and ANSI_QUOTES, a
  // multi-byte client charset, whether conditional comments run): an identifier or an alias
  // that is code in any of them counts.
  StatementScan scan;
  const sql::LexOptions options{.dialect = sql::Dialect::kMySql};
  bool saw_backslash = false, saw_conditional = false;
  ScanReading(text, options, &scan, &saw_backslash, &saw_conditional);
  for (const sql::LexOptions& other : sql::OtherReadings(options, saw_backslash, saw_conditional))
    ScanReading(text, other, &scan, nullptr, nullptr);
  return scan;
}

}  // namespace veil::mysql
