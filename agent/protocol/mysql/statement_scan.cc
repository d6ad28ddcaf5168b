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

// MySQL's and MariaDB's reserved words (and NULL, TRUE, FALSE, UNKNOWN): never a column name
// unless quoted.
bool Reserved(std::string_view w) {
  // clang-format off
  static const std::set<std::string, std::less<>> kWords = {
      "accessible", "add", "all", "alter", "analyze", "and", "as", "asc", "asensitive", "before",
      "between", "bigint", "binary", "blob", "both", "by", "call", "cascade", "case", "change",
      "char", "character", "check", "collate", "column", "condition", "constraint", "continue",
      "convert", "create", "cross", "current_date", "current_role", "current_time",
      "current_timestamp", "current_user", "cursor", "database", "databases", "day_hour",
      "day_microsecond", "day_minute", "day_second", "dec", "decimal", "declare", "default",
      "delayed", "delete", "desc", "describe", "deterministic", "distinct", "distinctrow", "div",
      "double", "drop", "dual", "each", "else", "elseif", "enclosed", "escaped", "except",
      "exists", "exit", "explain", "false", "fetch", "float", "for", "force", "foreign", "from",
      "fulltext", "grant", "group", "having", "high_priority", "hour_microsecond", "hour_minute",
      "hour_second", "if", "ignore", "in", "index", "infile", "inner", "inout", "insensitive",
      "insert", "int", "integer", "intersect", "interval", "into", "is", "iterate", "join", "key",
      "keys", "kill", "leading", "leave", "left", "like", "limit", "linear", "lines", "load",
      "localtime", "localtimestamp", "lock", "long", "loop", "low_priority", "match", "maxvalue",
      "mediumint", "minute_microsecond", "minute_second", "mod", "modifies", "natural", "not",
      "no_write_to_binlog", "null", "numeric", "offset", "on", "optimize", "option", "optionally",
      "or", "order", "out", "outer", "outfile", "over", "partition", "precision", "primary",
      "procedure", "purge", "range", "read", "reads", "real", "recursive", "references", "regexp",
      "release", "rename", "repeat", "replace", "require", "resignal", "restrict", "return",
      "returning", "revoke", "right", "rlike", "rows", "schema", "schemas", "second_microsecond",
      "select", "sensitive", "separator", "set", "show", "signal", "smallint", "spatial",
      "specific", "sql", "sqlexception", "sqlstate", "sqlwarning", "sql_big_result",
      "sql_calc_found_rows", "sql_small_result", "ssl", "starting", "straight_join", "table",
      "terminated", "then", "tinyint", "to", "trailing", "trigger", "true", "undo", "union",
      "unique", "unknown", "unlock", "unsigned", "update", "usage", "use", "using", "utc_date",
      "utc_time", "utc_timestamp", "values", "varbinary", "varchar", "varying", "when", "where",
      "while", "window", "with", "write", "xor", "year_month", "zerofill"};
  // clang-format on
  return kWords.contains(w);
}

// Whether a quoted name reads as a plain identifier: letters, digits, `_` and `$` (and bytes of
// multi-byte characters). `reverse(ssn)`, the name MariaDB gives a derived table's unnamed
// item, is not one.
bool PlainName(std::string_view name) {
  for (unsigned char c : name)
    if (!(std::isalnum(c) || c == '_' || c == '$' || c >= 0x80)) return false;
  return !name.empty();
}

// The comparisons among the tokens a filter holds, with the names of each operand. An operand
// runs from the operator over names, literals, calls, parentheses (a subquery whole) and
// arithmetic, up to what ends an operand: another comparison, AND / OR / NOT, a clause's word,
// a ',' or the parenthesis around it.
template <typename IsName, typename NameOf>
void CompareOperands(const std::vector<sql::Token>& tokens, const std::vector<size_t>& match,
                     const std::vector<bool>& in_filter, IsName&& name_token, NameOf&& name_of,
                     std::vector<StatementScan::Compare>* out) {
  auto word = [&](size_t i) {
    return tokens[i].kind == TokenKind::kWord ? Lower(tokens[i].text) : std::string();
  };
  auto op_is = [&](size_t i, std::initializer_list<std::string_view> ops) {
    if (tokens[i].kind != TokenKind::kOperator) return false;
    for (std::string_view o : ops)
      if (tokens[i].text == o) return true;
    return false;
  };
  auto is_range = [&](size_t i) {
    return op_is(i, {"<", ">", "<=", ">="}) || word(i) == "between";
  };
  auto is_compare = [&](size_t i) {
    return is_range(i) || op_is(i, {"=", "<=>", "<>", "!="}) || word(i) == "like";
  };
  // Whether token i ends an operand (it is not part of one).
  auto ends = [&](size_t i) {
    const auto& t = tokens[i];
    if (t.kind == TokenKind::kComma || t.kind == TokenKind::kSemicolon) return true;
    if (t.kind == TokenKind::kOperator)
      return op_is(i, {"=", "<", ">", "<=", ">=", "<>", "!=", "<=>", "&&", "||", "!", ":="});
    const std::string w = word(i);
    static const std::set<std::string, std::less<>> kEnd = {
        "and",    "or",     "not",    "xor",   "where", "on",   "having", "when",  "then",
        "else",   "case",   "end",    "in",    "like",  "is",   "select", "by",    "between",
        "regexp", "rlike",  "limit",  "group", "order", "join", "union",  "using", "from",
        "escape", "sounds", "exists", "all",   "any",   "some", "as",     "asc",   "desc"};
    return !w.empty() && kEnd.contains(w);
  };
  // The names of the operand that starts (dir 1) or ends (dir -1) at token k; the index of its
  // far end (k - 1 or k when it is empty, going forward).
  auto operand = [&](size_t k, int dir, std::vector<StatementScan::Operand>* names) -> size_t {
    // `seq < ANY (SELECT …)`: the subquery is the operand.
    if (dir > 0 && k < tokens.size() && (word(k) == "any" || word(k) == "all" || word(k) == "some"))
      ++k;
    size_t from = k, to = k;  // inclusive
    bool any = false;
    for (size_t i = k; i < tokens.size();) {
      if (ends(i)) break;
      size_t far = i;
      if (dir < 0 && tokens[i].kind == TokenKind::kRParen) {
        if (match[i] == tokens.size()) break;
        far = match[i];
      } else if (dir > 0 && tokens[i].kind == TokenKind::kLParen) {
        if (match[i] == tokens.size()) break;
        far = match[i];
      } else if (tokens[i].kind == TokenKind::kLParen || tokens[i].kind == TokenKind::kRParen) {
        break;  // the parenthesis around the comparison
      }
      any = true;
      from = std::min(from, std::min(i, far));
      to = std::max(to, std::max(i, far));
      if (dir < 0) {
        if (far == 0) break;
        i = far - 1;
      } else {
        i = far + 1;
      }
    }
    if (!any) return k;
    size_t sub_end = 0;  // the ')' of the subquery the scan is in, 0 when none
    for (size_t i = from; i <= to; ++i) {
      if (sub_end == 0 && tokens[i].kind == TokenKind::kLParen && i + 1 <= to &&
          word(i + 1) == "select")
        sub_end = match[i];
      if (i == sub_end) sub_end = 0;
      if (!name_token(i)) continue;
      if (i + 1 < tokens.size() &&
          (tokens[i + 1].kind == TokenKind::kDot || tokens[i + 1].kind == TokenKind::kLParen))
        continue;  // a qualifier or a call
      std::string q;
      if (i >= 2 && tokens[i - 1].kind == TokenKind::kDot && name_token(i - 2)) q = name_of(i - 2);
      names->push_back({name_of(i), std::move(q), sub_end != 0});
    }
    return dir > 0 ? to : from;
  };
  for (size_t i = 1; i + 1 < tokens.size(); ++i) {
    // GROUP BY's keys and SELECT DISTINCT's items: as many rows as their distinct values, so a
    // key that computes a sensitive value with another table's column (GROUP BY LEAST(seq,
    // …)) counts it out as a filter does. Each item is an operand of no comparison.
    const bool keys = (word(i) == "by" && word(i - 1) == "group") ||
                      (word(i) == "distinct" && word(i - 1) == "select");
    if (keys) {
      for (size_t k = i + 1; k < tokens.size();) {
        StatementScan::Compare c;
        const size_t end = operand(k, 1, &c.left);
        if (!c.left.empty()) out->push_back(std::move(c));
        if (end + 1 >= tokens.size() || tokens[end + 1].kind != TokenKind::kComma) break;
        k = end + 2;
      }
      continue;
    }
    if (!in_filter[i] || !is_compare(i)) continue;
    StatementScan::Compare c;
    c.range = is_range(i);
    operand(i - 1, -1, &c.left);
    operand(i + 1, 1, &c.right);
    if (word(i) == "between") {  // x BETWEEN a AND b: a and b on the right
      size_t k = i + 1;
      while (k < tokens.size() && word(k) != "and") {
        if (tokens[k].kind == TokenKind::kLParen && match[k] < tokens.size()) k = match[k];
        ++k;
      }
      if (k + 1 < tokens.size()) operand(k + 1, 1, &c.right);
    }
    out->push_back(std::move(c));
  }
}

// The filter part of a scan (StatementScan::filters and below), from one reading's tokens
// (`match`: each parenthesis's partner, ScanReading's). Each parenthesis level has a clause: the
// select list, a filter, or something else (FROM, SET, INTO …); a level opened inside a filter
// is all filter.
void ScanFilters(const std::vector<sql::Token>& tokens, const std::vector<size_t>& match,
                 StatementScan* out) {
  StatementScan& scan = *out;
  enum class Clause : uint8_t { kOther, kSelectList, kFilter };
  struct Level {
    Clause clause = Clause::kOther;
    bool inherited = false;    // opened inside a filter: everything here filters
    bool by_list = false;      // in the items of ORDER BY / GROUP BY
    bool tables = false;       // in FROM / JOIN / UPDATE / INTO: names here are tables
    bool column_list = false;  // INSERT INTO t (a, b): the written columns
  };
  std::vector<Level> levels(1);
  auto lower = [&](size_t i) {
    return i < tokens.size() && tokens[i].kind == TokenKind::kWord ? Lower(tokens[i].text)
                                                                   : std::string();
  };
  auto add = [](std::vector<std::string>* v, std::string s) {
    if (!s.empty() && std::find(v->begin(), v->end(), s) == v->end()) v->push_back(std::move(s));
  };
  auto name_token = [&](size_t i) {
    return i < tokens.size() && ((tokens[i].kind == TokenKind::kWord && !Reserved(lower(i))) ||
                                 tokens[i].kind == TokenKind::kQuotedIdent);
  };
  // A name token's name: lowercase, unquoted.
  auto name_of = [&](size_t i) {
    return tokens[i].kind == TokenKind::kQuotedIdent ? Unquote(tokens[i].text) : lower(i);
  };
  // The first token of the name chain a.b.c that ends at i.
  auto chain_start = [&](size_t i) {
    while (
        i >= 2 && tokens[i - 1].kind == TokenKind::kDot &&
        (tokens[i - 2].kind == TokenKind::kWord || tokens[i - 2].kind == TokenKind::kQuotedIdent))
      i -= 2;
    return i;
  };
  // Around `column = 'literal'`: what may stand before and after it for the comparison to be a
  // whole operand of AND / OR / NOT, a parenthesis or a clause.
  auto bound_before = [&](size_t i) {  // i: the first token of the comparison
    if (i == 0) return false;
    const auto& t = tokens[i - 1];
    if (t.kind == TokenKind::kLParen || t.kind == TokenKind::kComma) return true;
    const std::string w = lower(i - 1);
    return w == "where" || w == "and" || w == "or" || w == "not" || w == "on" || w == "having" ||
           w == "set";
  };
  auto bound_after = [&](size_t i) {  // i: the token after the comparison
    if (i >= tokens.size()) return true;
    const auto& t = tokens[i];
    if (t.kind == TokenKind::kRParen || t.kind == TokenKind::kSemicolon ||
        t.kind == TokenKind::kComma)
      return true;
    static const std::set<std::string, std::less<>> kAfter = {
        "and",       "or",     "group",   "having",        "order", "limit", "union",    "except",
        "intersect", "window", "into",    "for",           "lock",  "join",  "inner",    "left",
        "right",     "cross",  "natural", "straight_join", "where", "on",    "procedure"};
    return kAfter.contains(lower(i));
  };
  auto is_eq = [&](size_t i) {
    return i < tokens.size() && tokens[i].kind == TokenKind::kOperator &&
           (tokens[i].text == "=" || tokens[i].text == "<=>");
  };
  auto is_literal = [&](size_t i) {
    return i < tokens.size() && tokens[i].kind == TokenKind::kString &&
           !(tokens[i].form == sql::StringForm::kPlain && tokens[i].text.front() == '"');
  };
  // Tokens compared for equality with a string literal: skipped.
  std::vector<bool> equality(tokens.size(), false);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!is_eq(i) || i == 0 || i + 1 >= tokens.size()) continue;
    // column = 'x'
    if (name_token(i - 1) && is_literal(i + 1) && bound_before(chain_start(i - 1)) &&
        bound_after(i + 2)) {
      for (size_t k = chain_start(i - 1); k <= i + 1; ++k) equality[k] = true;
      continue;
    }
    // 'x' = column (a.b.c)
    if (is_literal(i - 1) && name_token(i + 1) && bound_before(i - 1)) {
      size_t end = i + 1;
      while (end + 2 < tokens.size() && tokens[end + 1].kind == TokenKind::kDot &&
             name_token(end + 2))
        end += 2;
      if (bound_after(end + 1))
        for (size_t k = i - 1; k <= end; ++k) equality[k] = true;
    }
  }
  std::vector<bool> in_filter(tokens.size(), false);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    Level& level = levels.back();
    in_filter[i] = level.clause == Clause::kFilter;
    if (t.kind == TokenKind::kSemicolon) {
      levels.assign(1, Level{});
      continue;
    }
    if (t.kind == TokenKind::kLParen) {
      Level inner;
      // A window's specification filters (PARTITION BY, ORDER BY): OVER ( … ), AS ( … ) of
      // WINDOW w AS ( … ).
      const std::string before = i > 0 ? lower(i - 1) : std::string();
      if (level.clause == Clause::kFilter || before == "over") {
        inner.clause = Clause::kFilter;
        inner.inherited = true;
        scan.filters = true;
      }
      // FROM (a JOIN b): tables inside too; INSERT INTO t (a, b): columns, not tables.
      inner.tables =
          level.tables && (before == "from" || before == "join" || before == "straight_join" ||
                           (i > 0 && (tokens[i - 1].kind == TokenKind::kComma ||
                                      tokens[i - 1].kind == TokenKind::kLParen)));
      // INSERT INTO t (a, b), REPLACE t (a): the columns written, not values computed.
      if (i >= 2 && name_token(i - 1)) {
        const std::string w2 = lower(chain_start(i - 1) - 1);
        inner.column_list = w2 == "into" || w2 == "insert" || w2 == "replace" || w2 == "ignore";
      }
      levels.push_back(inner);
      continue;
    }
    if (t.kind == TokenKind::kRParen) {
      if (levels.size() > 1) levels.pop_back();
      continue;
    }
    const std::string w = lower(i);
    if (!w.empty()) {  // tables are tables at any level, inside a filter too
      static const std::set<std::string, std::less<>> kTables = {"from", "join", "straight_join",
                                                                 "into", "update"};
      static const std::set<std::string, std::less<>> kNotTables = {
          "select", "where", "having", "on",        "using",    "group",     "order",
          "limit",  "set",   "values", "union",     "except",   "intersect", "window",
          "for",    "lock",  "offset", "procedure", "returning"};
      if (kTables.contains(w)) level.tables = true;
      if (kNotTables.contains(w)) level.tables = false;
    }
    if (!level.inherited && !w.empty()) {
      if (w == "select") {
        level.clause = Clause::kSelectList;
        level.by_list = false;
      } else if (w == "where" || w == "having" || w == "on" || w == "using" || w == "limit" ||
                 w == "offset" || w == "window") {
        level.clause = Clause::kFilter;
        level.by_list = false;
        scan.filters = true;
      } else if ((w == "order" || w == "group") && lower(i + 1) == "by") {
        level.clause = Clause::kFilter;
        scan.filters = true;
      } else if (w == "partition" && lower(i + 1) == "by") {
        level.clause = Clause::kFilter;
        scan.filters = true;
      } else if (w == "from" || w == "into" || w == "set" || w == "values" || w == "join" ||
                 w == "straight_join" || w == "union" || w == "except" || w == "intersect") {
        level.clause = Clause::kOther;
        level.by_list = false;
      }
    }
    if (w == "natural") scan.natural_join = true;
    if (w == "union" || w == "except" || w == "intersect") scan.set_operation = true;
    if (w == "by" && i > 0 && (lower(i - 1) == "order" || lower(i - 1) == "group"))
      level.by_list = true;
    else if (!w.empty() && Reserved(w) && w != "asc" && w != "desc" && w != "with")
      level.by_list = false;
    if (i == 0 || (i > 0 && tokens[i - 1].kind == TokenKind::kSemicolon))
      if (w == "handler") scan.handler = true;

    // A table: a name after FROM, JOIN, UPDATE, INTO, or after ',' or '(' among them.
    if (level.tables && name_token(i) && i > 0 &&
        (tokens[i - 1].kind == TokenKind::kComma || tokens[i - 1].kind == TokenKind::kLParen ||
         (tokens[i - 1].kind == TokenKind::kWord && Reserved(lower(i - 1))))) {
      size_t last = i;
      if (i + 2 < tokens.size() && tokens[i + 1].kind == TokenKind::kDot && name_token(i + 2))
        last = i + 2;
      if (last + 1 >= tokens.size() || tokens[last + 1].kind != TokenKind::kLParen)
        add(&scan.tables, name_of(last));
    }
    // A name that is no bare select item, count argument, table or written column: something
    // computes on it (a function's argument, an operand, a CASE's condition).
    if (level.clause != Clause::kFilter && !level.tables && !level.column_list && !equality[i] &&
        name_token(i) &&
        (i + 1 >= tokens.size() ||
         (tokens[i + 1].kind != TokenKind::kDot && tokens[i + 1].kind != TokenKind::kLParen))) {
      const size_t first = chain_start(i);
      const std::string prev = first > 0 ? lower(first - 1) : std::string();
      const bool after_item_start =
          first > 0 && (tokens[first - 1].kind == TokenKind::kComma || prev == "select" ||
                        prev == "distinct" || prev == "distinctrow" || prev == "all");
      // Words that continue an expression after a name (`ssn IS NULL`, `a DIV 2`); any other
      // reserved word ends the item (FROM, AS, ORDER …).
      static const std::set<std::string, std::less<>> kOperatorWords = {
          "is",  "in",  "like", "regexp", "rlike", "between", "not",
          "div", "mod", "and",  "or",     "xor",   "collate"};
      const std::string next = lower(i + 1);
      const bool before_item_end =
          i + 1 >= tokens.size() || tokens[i + 1].kind == TokenKind::kComma ||
          tokens[i + 1].kind == TokenKind::kSemicolon || tokens[i + 1].kind == TokenKind::kRParen ||
          tokens[i + 1].kind == TokenKind::kString || name_token(i + 1) ||
          (!next.empty() && Reserved(next) && !kOperatorWords.contains(next));
      const bool bare = level.clause == Clause::kSelectList && after_item_start && before_item_end;
      // count(x), count(DISTINCT x)
      size_t open_at = first > 0 && prev == "distinct" ? first - 1 : first;
      const bool counted = open_at >= 2 && tokens[open_at - 1].kind == TokenKind::kLParen &&
                           lower(open_at - 2) == "count" && i + 1 < tokens.size() &&
                           tokens[i + 1].kind == TokenKind::kRParen;
      if (!bare && !counted) add(&scan.computed, name_of(i));
    }
    if (level.clause == Clause::kSelectList && !level.inherited) {
      // `expr AS name`, `expr name`, `expr 'name'`.
      const bool name_like = name_token(i) || t.kind == TokenKind::kString;
      if (name_like && i > 0) {
        const auto& p = tokens[i - 1];
        const std::string pw = lower(i - 1);
        const bool after_as = pw == "as";
        const bool after_expr = p.kind == TokenKind::kRParen || p.kind == TokenKind::kNumber ||
                                p.kind == TokenKind::kString || p.kind == TokenKind::kQuotedIdent ||
                                (p.kind == TokenKind::kWord && !Reserved(pw) && pw != "as");
        if (after_as || after_expr) {
          if (t.kind == TokenKind::kString && t.Body().find('\\') != std::string_view::npos)
            scan.filter_odd_name = true;
          add(&scan.aliases, t.kind == TokenKind::kString ? Unquote(t.text) : name_of(i));
        }
      }
      continue;
    }
    if (level.clause != Clause::kFilter) continue;
    if (equality[i]) {
      // Equality with a literal: allowed of a base column, not of an alias or a view's
      // expression (`k = '5'` where k is substr(ssn, 1, 1)), which the caller tells apart.
      if (name_token(i) && (i + 1 >= tokens.size() || tokens[i + 1].kind != TokenKind::kDot)) {
        const std::string name = name_of(i);
        if (!PlainName(name)) scan.filter_odd_name = true;
        add(&scan.compared, name);
      }
      continue;
    }
    if (t.kind == TokenKind::kVariable) scan.filter_variables = true;
    if (t.kind == TokenKind::kNumber && level.by_list && i > 0 &&
        (tokens[i - 1].kind == TokenKind::kComma || lower(i - 1) == "by"))
      scan.filter_positional = true;
    if (!name_token(i)) continue;
    if (i + 1 < tokens.size() &&
        (tokens[i + 1].kind == TokenKind::kDot || tokens[i + 1].kind == TokenKind::kLParen))
      continue;  // a qualifier or a call
    const std::string name = name_of(i);
    if (!PlainName(name)) scan.filter_odd_name = true;  // only a quoted name can be odd
    add(&scan.filtered, name);
  }
  CompareOperands(tokens, match, in_filter, name_token, name_of, &scan.compares);
}

// Whether a SET statement among `tokens` assigns a system variable: each assignment's target
// at the statement's own level (after SET or a ',') is `@@name`, `GLOBAL`/`SESSION`/`LOCAL`/
// `PERSIST` and a name, or a bare name before `=` or `:=` (`@name` is a user variable; SET
// NAMES, CHARACTER SET, PASSWORD, ROLE, TRANSACTION and STATEMENT … FOR are other statements).
bool SetsSystemVariable(const std::vector<sql::Token>& tokens, const std::vector<size_t>& match) {
  bool first = true, target = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const sql::Token& t = tokens[i];
    if (t.kind == TokenKind::kSemicolon) {
      first = true;
      target = false;
      continue;
    }
    if (first) {
      first = false;
      target = t.Is("set");
      continue;
    }
    if (!target) {
      if (t.kind == TokenKind::kLParen && match[i] < tokens.size()) i = match[i];
      if (t.kind == TokenKind::kComma) target = true;
      continue;
    }
    target = false;
    if (t.kind == TokenKind::kVariable) {
      if (t.text.starts_with("@@")) return true;
      continue;
    }
    if (t.kind != TokenKind::kWord && t.kind != TokenKind::kQuotedIdent) continue;
    if (t.Is("global") || t.Is("session") || t.Is("local") || t.Is("persist") ||
        t.Is("persist_only"))
      return true;
    if (t.Is("names") || t.Is("character") || t.Is("charset") || t.Is("password") || t.Is("role") ||
        t.Is("transaction") || t.Is("statement") || t.Is("default"))
      return false;
    const sql::Token* next = i + 1 < tokens.size() ? &tokens[i + 1] : nullptr;
    if (next && next->kind == TokenKind::kOperator && (next->text == "=" || next->text == ":="))
      return true;
  }
  return false;
}

// One reading of `text` into `scan` (which gathers what every reading finds).
void ScanReading(std::string_view text, sql::LexOptions options, bool filters, StatementScan* out,
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
  // The ')' matching each '(' and the '(' of each ')' (tokens.size() when unmatched).
  std::vector<size_t> match(tokens.size(), tokens.size()), open;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind == TokenKind::kLParen) open.push_back(i);
    if (tokens[i].kind == TokenKind::kRParen && !open.empty()) {
      match[open.back()] = i;
      match[i] = open.back();
      open.pop_back();
    }
  }
  if (filters) ScanFilters(tokens, match, &scan);
  if (SetsSystemVariable(tokens, match)) scan.sets_system = true;
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
    // MariaDB's information_schema.USER_VARIABLES and SHOW USER_VARIABLES, MySQL's
    // performance_schema.user_variables_by_thread: every user variable's value, unnamed.
    if (w == "user_variables" || w == "user_variables_by_thread") scan.uses_variables = true;
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
      // Not LOCK TABLES: it fires no trigger and writes nothing, and every mariadb-dump and
      // mysqldump runs it before reading @@collation_database (which a write would taint).
      static const std::set<std::string> kWrites = {
          "insert", "update", "delete",   "replace", "load", "create", "alter",
          "drop",   "rename", "truncate", "call",    "do",   "handler"};
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
            scan.creates_table = true;
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
        scan.show = true;
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

StatementScan ScanStatement(std::string_view text, bool filters) {
  // Every reading the server may use (sql_mode's NO_BACKSLASH_ESCAPES and ANSI_QUOTES, a
  // multi-byte client charset, whether conditional comments run): an identifier or an alias
  // that is code in any of them counts.
  StatementScan scan;
  const sql::LexOptions options{.dialect = sql::Dialect::kMySql};
  bool saw_backslash = false, saw_conditional = false;
  ScanReading(text, options, filters, &scan, &saw_backslash, &saw_conditional);
  for (const sql::LexOptions& other : sql::OtherReadings(options, saw_backslash, saw_conditional))
    ScanReading(text, other, filters, &scan, nullptr, nullptr);
  return scan;
}

}  // namespace veil::mysql
