#include "agent/protocol/mysql/transcoder.h"

#include <algorithm>
#include <cctype>

#include "agent/events/normalize.h"
#include "agent/protocol/mysql/encoder.h"
#include "agent/protocol/mysql/statement_scan.h"
#include "agent/sql/identifiers.h"
#include "agent/sql/lexer.h"
#include "common/text.h"

namespace veil::agent {
namespace {

using mysql::ServerDecoder;
using State = ServerDecoder::State;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The server's own schemas: listed differently by each version, and holding no user data (but
// the catalog's names and comments, and the statistics below).
bool IsSystemSchema(const std::string& lower) {
  return lower == "information_schema" || lower == "performance_schema" || lower == "mysql" ||
         lower == "sys";
}

// Statistics tables that hold column values: MariaDB's engine-independent statistics
// (`mysql.column_stats`: min_value, max_value, histogram, filled by ANALYZE TABLE … PERSISTENT)
// and MySQL 8's histograms (`information_schema.COLUMN_STATISTICS`, its JSON holds buckets of
// values). A user with SELECT on *.* reads every column's extremes there.
// Lock tables show the index key of each locked row (`lock_data`: an index on ssn gives the SSN).
bool IsValueStatistics(std::string_view identifier) {
  return identifier == "column_stats" || identifier == "column_statistics" ||
         identifier == "innodb_locks" || identifier == "data_locks" || identifier == "lock_data";
}
bool IsStatisticsValue(const std::string& schema, const std::string& table,
                       const std::string& column) {
  const std::string s = Lower(schema), t = Lower(table), c = Lower(column);
  if (s == "mysql" && t == "column_stats")
    return c == "min_value" || c == "max_value" || c == "histogram";
  if (c == "lock_data")
    return (s == "information_schema" && t == "innodb_locks") ||
           (s == "performance_schema" && t == "data_locks");
  // Every user variable's value (MariaDB's USER_VARIABLES, also behind SHOW USER_VARIABLES;
  // MySQL's user_variables_by_thread): what a statement that read sensitive columns stored.
  if (c == "variable_value")
    return (s == "information_schema" && t == "user_variables") ||
           (s == "performance_schema" && t == "user_variables_by_thread");
  return s == "information_schema" && t == "column_statistics" && c == "histogram";
}

// What shows the text of statements other sessions sent, with whatever literals they wrote: the
// server's process list (MariaDB and MySQL), InnoDB's running transactions, performance_schema's
// statement tables and the sys views over them, the general and slow logs written to tables. A
// statement naming one is judged as one that reads a sensitive column (what it computes is replaced
// whole); the text itself comes back with its literals normalized out.
bool IsStatementTextSource(std::string_view identifier) {
  static constexpr std::string_view kNames[] = {"processlist",
                                                "x$processlist",
                                                "events_statements_current",
                                                "events_statements_history",
                                                "events_statements_history_long",
                                                "events_statements_summary_by_digest",
                                                "prepared_statements_instances",
                                                "processlist_info",
                                                "current_statement",
                                                "last_statement",
                                                "query_sample_text",
                                                "x$session",
                                                "innodb_trx",
                                                "trx_query",
                                                "general_log",
                                                "slow_log"};
  return std::find(std::begin(kNames), std::end(kNames), identifier) != std::end(kNames);
}
bool IsStatementTextColumn(const std::string& schema, const std::string& table,
                           const std::string& column) {
  const std::string s = Lower(schema), t = Lower(table), c = Lower(column);
  if (s == "information_schema")
    return (t == "processlist" && (c == "info" || c == "info_binary")) ||
           (t == "innodb_trx" && c == "trx_query");
  if (s == "mysql")  // the general and slow query logs, when written to tables
    return (t == "general_log" && c == "argument") || (t == "slow_log" && c == "sql_text");
  if (s == "performance_schema")
    return (c == "sql_text" &&
            (t.starts_with("events_statements_") || t == "prepared_statements_instances")) ||
           (t == "threads" && c == "processlist_info") ||
           (t == "events_statements_summary_by_digest" && c == "query_sample_text");
  if (s == "sys")
    return (t == "processlist" || t == "x$processlist" || t == "session" || t == "x$session") &&
           (c == "current_statement" || c == "last_statement");
  return false;
}

// Text-like for masking: what the masker may read as text. BINARY/VARBINARY/BLOB columns hold
// bytes that are very often text (and PII): they are scanned too.
bool TextLike(mysql::ColumnType t) { return mysql::IsTextLike(t); }

// The `binary` character set: bytes, not text (BLOB, VARBINARY, BINARY(16) ids).
constexpr uint16_t kBinaryCharset = 63;

// Collations of character sets that are ASCII-compatible but not UTF-8 (latin1, cp1251, gbk,
// sjis, koi8r, big5 … by MariaDB 10.11's information_schema.COLLATIONS; its NO PAD ones are
// 1024 above theirs; MySQL 8's gb18030 is 248-250). The server writes a character the set
// lacks as '?': 'Jürgen' in cp1251 is 'J?rgen', ASCII the masker reads as no name.
bool LegacyCharset(uint16_t id) {
  if (id >= 1024 && id < 2048) id = static_cast<uint16_t>(id - 1024);
  if (id >= 248 && id <= 250) return true;
  if (id >= 128) return false;
  constexpr uint64_t kLow = 0x0e3f9ff5fffdf7feull, kHigh = 0xffbf7effdull;
  return id < 64 ? ((kLow >> id) & 1) != 0 : ((kHigh >> (id - 64)) & 1) != 0;
}

// Collations of character sets that are not ASCII-compatible (ucs2, utf16, utf16le, utf32), by
// id: MariaDB 10.11's and MySQL 8's (their ids below 255 agree).
bool UnreadableCharset(uint16_t id) {
  if (id == 35 || (id >= 54 && id <= 56) || (id >= 60 && id <= 62) || id == 90) return true;
  if ((id >= 101 && id <= 124) || (id >= 128 && id <= 151) || (id >= 159 && id <= 183)) return true;
  switch (id) {  // MariaDB's ids above 255
    case 640:
    case 641:
    case 642:
    case 672:
    case 673:
    case 674:
    case 736:
    case 737:
    case 738:
    case 1059:
    case 1078:
    case 1079:
    case 1080:
    case 1084:
    case 1085:
    case 1086:
    case 1114:
    case 1125:
    case 1147:
    case 1152:
    case 1174:
    case 1184:
    case 1206:
      return true;
    default:
      return false;
  }
}

// Physical packets in `raw` (one message, as the decoder framed it).
uint8_t PacketCount(std::span<const uint8_t> raw) {
  uint8_t n = 0;
  for (size_t pos = 0; pos + 4 <= raw.size(); ++n)
    pos += 4 + (raw[pos] | (size_t{raw[pos + 1]} << 8) | (size_t{raw[pos + 2]} << 16));
  return n;
}

}  // namespace

MySqlTranscoder::MySqlTranscoder(std::shared_ptr<const masker::MaskingProfile> profile)
    : profile_(std::move(profile)), masker_(profile_), decoder_({}, State::kIdle) {}

MySqlTranscoder::Sensitivity MySqlTranscoder::ColumnSensitivity(std::string_view schema,
                                                                std::string_view table,
                                                                std::string_view column) {
  using A = masker::ColumnPolicy::Action;
  masker::ColumnPolicy p =
      profile_->PolicyFor({.schema = schema, .table = table, .column = column, .text_like = true});
  if (p.action == A::kPass) return {};
  if (p.action == A::kForce || p.has_hint) return {true, p.entity};
  if (GeneratedSensitive(schema, table, column)) return {true, masker::kMaxEntities};
  if (columns_ && !table.empty()) {
    // Kept lowercase: MySQL's names are case-insensitive where it matters (columns), and a
    // statement's identifiers are lowercased.
    auto learned =
        columns_->LearnedFor({endpoint_, database_, Lower(schema), Lower(table), Lower(column)});
    if (learned) {
      const auto& det = *profile_->detector();
      for (size_t e = 0; e < masker::kMaxEntities; ++e)
        if (det.EntityName(static_cast<uint8_t>(e)) == learned->entity)
          return {true, static_cast<uint8_t>(e)};
      return {true, static_cast<uint8_t>(masker::kMaxEntities)};
    }
    // Fewer than a classification, but some: a value derived from it may be one of them.
    if (columns_->ContentFor({endpoint_, database_, Lower(schema), Lower(table), Lower(column)})
            .masked > 0)
      return {true, static_cast<uint8_t>(masker::kMaxEntities)};
  }
  return {};
}

void MySqlTranscoder::SetViews(std::vector<ViewRow> views) {
  views_.clear();
  sensitive_cache_.clear();  // a statement naming a view is judged by its definition
  for (auto& v : views) {
    relation_names_.insert(Lower(v.name));
    views_[{Lower(v.schema), Lower(v.name)}].definition = std::move(v.definition);
  }
}

std::vector<MySqlTranscoder::ViewRow> MySqlTranscoder::ViewsOf(TextRows rows) {
  std::vector<ViewRow> views;
  for (auto& r : rows)
    if (r.size() == 3) views.push_back({std::move(r[0]), std::move(r[1]), std::move(r[2])});
  return views;
}

std::optional<std::vector<MySqlTranscoder::TableRow>> MySqlTranscoder::TablesOf(TextRows rows) {
  std::vector<TableRow> tables;
  for (auto& r : rows) {
    if (r.size() != 4) return std::nullopt;
    tables.push_back({std::move(r[0]), std::move(r[1]), std::move(r[2]), std::move(r[3])});
  }
  return tables;
}

void MySqlTranscoder::SetTables(std::vector<TableRow> tables) {
  have_tables_ = true;
  tables_.clear();
  generated_.clear();
  pair_cache_.clear();  // a generated column's sensitivity is its expression's
  sensitive_cache_.clear();
  for (auto& t : tables) {
    if (!t.column.empty()) {
      generated_[Lower(t.schema) + '\0' + Lower(t.name) + '\0' + Lower(t.column)].expression =
          std::move(t.expression);
      continue;
    }
    relation_names_.insert(Lower(t.name));
    tables_.emplace(Lower(t.schema), Lower(t.name));
  }
}

// Whether a generated column's expression reads a sensitive column of its table (or another
// generated column that does): judged once, as `SELECT <expression> FROM schema.table` is.
bool MySqlTranscoder::GeneratedSensitive(std::string_view schema, std::string_view table,
                                         std::string_view column) {
  if (generated_.empty()) return false;
  std::string key = Lower(schema);
  key.push_back('\0');
  key += Lower(table);
  key.push_back('\0');
  key += Lower(column);
  auto it = generated_.find(key);
  if (it == generated_.end()) return false;
  Generated& g = it->second;
  if (g.judged) return g.sensitive;
  if (g.judging) return true;  // a cycle the server would not allow: fail closed
  g.judging = true;
  const std::string sql = "SELECT " + g.expression + " FROM " +
                          sql::QuoteIdent(Lower(schema), '`') + "." +
                          sql::QuoteIdent(Lower(table), '`');
  const mysql::StatementScan scan = mysql::ScanStatement(sql);
  bool sensitive = scan.dynamic || CallsUnseenCode(scan);
  for (size_t i = 0; !sensitive && i < scan.identifiers.size(); ++i)
    sensitive = scan.identifiers[i] != Lower(column) &&
                ColumnSensitivity(schema, table, scan.identifiers[i]).sensitive;
  // generated_ is not rehashed while judging (no insertion): `g` is still valid.
  g.judging = false;
  g.judged = true;
  g.sensitive = sensitive;
  return sensitive;
}

// SHOW, or a read of the server's own schemas: the catalog's names, comments and definitions.
// Asked only once dynamic SQL ran (names_tainted_), which may have written them.
bool MySqlTranscoder::ReadsCatalog(const mysql::StatementScan& scan) const {
  return scan.show || IsSystemSchema(Lower(database_)) ||
         std::any_of(scan.qualifiers.begin(), scan.qualifiers.end(), IsSystemSchema);
}

// A column definition with each name that may come from a value replaced: the column by its
// position, a table by nothing. A statement veil reads takes its names from its own text or from
// a listed table's or view's catalog; dynamic SQL, and a relation the lists do not hold (a
// temporary table dynamic SQL made), from anywhere. The client's text is no proof for those: a
// comment listing every digit would let a one-digit name through.
Status MySqlTranscoder::RenameColumn(const mysql::ColumnDefinition& c, uint8_t sequence,
                                     std::vector<uint8_t>* out) {
  const Open& o = open_.front();
  const std::string schema = Lower(c.schema), org_table = Lower(c.org_table);
  const bool listed = (tables_.contains({schema, org_table}) && !own_tables_.contains(org_table)) ||
                      views_.contains({schema, org_table});
  const bool text_names_it = !o.dynamic && (c.org_table.empty() || listed || Derived(c.org_table));
  auto shown = [&](std::string_view n) {
    return n.empty() || (text_names_it && ContainsIgnoreCase(o.record.text, n));
  };
  const std::string position = "column_" + std::to_string(definitions_);
  mysql::ColumnDefinition d = c;
  if (!(listed && Lower(c.name) == Lower(c.org_name)) && !shown(c.name)) d.name = position;
  if (!listed && !shown(c.org_name)) d.org_name = position;
  if (!(listed && Lower(c.table) == org_table) && !shown(c.table)) d.table = {};
  if (!listed && !shown(c.org_table)) d.org_table = {};
  if (d == c) return {};
  uint8_t seq = sequence;
  return mysql::Encode(d, decoder_.capabilities(), &seq, out);
}

// A result column's relation that neither list holds, nor the session made: a view or table
// created after the lists were read, whose columns say nothing veil can check. The server's
// own schemas are not listed the same way by every version, and hold no user data.
bool MySqlTranscoder::UnknownRelation(const std::string& schema, const std::string& table) const {
  if (!have_tables_) return false;
  const std::string s = Lower(schema), t = Lower(table);
  if (IsSystemSchema(s)) return false;
  return !tables_.contains({s, t}) && !views_.contains({s, t}) && !own_tables_.contains(t) &&
         !tainted_tables_.contains(t);
}

// Whether the statement reads from a name no list holds, for the first time in this session.
// Its tables are only known from the filter scan, which costs more: that scan runs only when
// the statement has a name the session has not met before.
bool MySqlTranscoder::NamesUnknownRelation(std::string_view sql, const mysql::StatementScan& scan) {
  if (!have_tables_ || refreshed_for_.size() >= 256) return false;
  bool new_name = false;
  for (const auto& id : scan.identifiers)
    if (!relation_names_.contains(id) && met_names_.size() < 8192 && met_names_.insert(id).second)
      new_name = true;
  if (!new_name) return false;
  const mysql::StatementScan full = mysql::ScanStatement(sql, /*filters=*/true);
  bool unknown = false;
  for (const auto& t : full.tables) {
    if (relation_names_.contains(t) || own_tables_.contains(t) ||
        std::find(full.derived.begin(), full.derived.end(), t) != full.derived.end())
      continue;
    if (refreshed_for_.insert(t).second) unknown = true;
  }
  return unknown;
}

// Queues one of veil's own statements ahead of the command OnCommand is given: its answer
// comes first and is kept by `capture`, never shown.
MySqlTranscoder::Open& MySqlTranscoder::Inject(std::string_view sql, Open::Capture capture) {
  mysql::ComQuery q{sql, {}};
  uint8_t seq = 0;
  (void)mysql::Encode(q, decoder_.capabilities(), &seq, &injected_);
  decoder_.ExpectResponseTo(mysql::ClientMessage(q), 0);
  Open& o = open_.emplace_back();
  o.kind = Open::Kind::kInternal;
  o.capture = capture;
  o.started = std::chrono::steady_clock::now();
  return o;
}

// veil's two list statements: their answers replace the lists before the command's result is
// planned.
void MySqlTranscoder::InjectRelationQueries() {
  Inject(kViewsQuery, Open::Capture::kViews);
  Inject(kTablesQuery, Open::Capture::kTables);
}

void MySqlTranscoder::InjectSamples(const mysql::StatementScan& scan) {
  if (!columns_ || !have_tables_) return;
  // Each session reads a table's sample at most once, until one session's sample succeeded:
  // a session naming it meanwhile reads its own rather than be judged without it. Once this
  // session has sampled a table or seen it sampled, its statements ask nothing more (no lock).
  auto want = [&](const std::string& schema, const std::string& table) {
    if (samples_tried_.size() >= 1024 || !tables_.contains({schema, table})) return;
    if (!samples_tried_.insert(schema + '\0' + table).second) return;
    if (!columns_->TableSampled({endpoint_, database_, schema, table, ""}))
      InjectSample(schema, table);
  };
  const std::string db = Lower(database_);
  for (const auto& id : scan.identifiers) {
    if (!relation_names_.contains(id)) continue;  // cheap: most identifiers are columns
    want(db, id);
    for (const auto& q : scan.qualifiers)
      if (Lower(q) != db) want(Lower(q), id);
  }
}

void MySqlTranscoder::InjectSample(const std::string& schema, const std::string& table) {
  const std::string sql = "SELECT * FROM " + sql::QuoteIdent(schema, '`') + "." +
                          sql::QuoteIdent(table, '`') + " LIMIT " + std::to_string(kSampleRows);
  Open& o = Inject(sql, Open::Capture::kSample);
  o.sample_schema = schema;
  o.sample_table = table;
}

// A sample's values, per column: how many, and what the masker found in them. The statements
// queued behind it are judged again with what it taught.
void MySqlTranscoder::LearnSample(const Open& o) {
  for (size_t c = 0; c < sample_columns_.size(); ++c) {
    if (sample_columns_[c].empty()) continue;
    uint64_t values = 0;
    std::vector<std::pair<std::string_view, uint64_t>> masked;
    for (const auto& row : capture_rows_) {
      if (c >= row.size() || row[c].empty()) continue;
      ++values;
      CountFinding(row[c], &masked);
    }
    ColumnStore::Entry* e = columns_->Track(
        {endpoint_, database_, o.sample_schema, o.sample_table, sample_columns_[c]});
    columns_->Observe(e, values, masked);
    columns_->MarkSampled(e);
  }
  columns_->MarkTableSampled({endpoint_, database_, o.sample_schema, o.sample_table, ""});
  pair_cache_.clear();
  sensitive_cache_.clear();
  RejudgeQueued();
}

// Splits a canonical view definition (`select <item>,<item> from …`) into its select items and
// judges each: a qualified column passed through, or an expression.
MySqlTranscoder::View* MySqlTranscoder::FindView(const std::string& schema, const std::string& name,
                                                 int depth) {
  auto it = views_.find({Lower(schema), Lower(name)});
  if (it == views_.end()) return nullptr;
  View& v = it->second;
  if (v.analyzed || depth > 8) return &v;
  v.analyzed = true;
  if (v.definition.empty()) {  // not visible to this user: nothing known, all replaced
    v.sensitive = true;
    return &v;
  }
  v.sensitive = ReadsSensitive(v.definition);
  const mysql::StatementScan scan = mysql::ScanStatement(v.definition);
  const std::string& text = v.definition;
  sql::Lexer lex(text, sql::LexOptions{.dialect = sql::Dialect::kMySql});
  std::vector<sql::Token> item;
  int depth_paren = 0;
  bool started = false;
  auto name_of = [](const sql::Token& t) {
    std::string n(t.text);
    if (t.kind == sql::TokenKind::kQuotedIdent && n.size() >= 2) n = n.substr(1, n.size() - 2);
    return Lower(n);
  };
  auto finish = [&]() {
    if (item.empty()) return;
    // <expr> AS `alias`
    std::string alias;
    size_t expr_end = item.size();
    if (item.size() >= 3 && item[item.size() - 2].Is("as")) {
      alias = name_of(item.back());
      expr_end = item.size() - 2;
    }
    if (alias.empty()) {
      item.clear();
      return;
    }
    ViewColumn c;
    // `schema`.`table`.`column` or `table`.`column`: a base column passed through.
    const bool ident_chain = expr_end % 2 == 1 && expr_end <= 5;
    bool chain = ident_chain;
    for (size_t i = 0; chain && i < expr_end; ++i) {
      const bool want_ident = i % 2 == 0;
      const auto k = item[i].kind;
      chain = want_ident ? (k == sql::TokenKind::kQuotedIdent || k == sql::TokenKind::kWord)
                         : k == sql::TokenKind::kDot;
    }
    if (chain && expr_end >= 3) {
      c.column = name_of(item[expr_end - 1]);
      c.table = name_of(item[expr_end - 3]);
      c.schema = expr_end == 5 ? name_of(item[0]) : Lower(schema);
      const bool derived =
          std::find(scan.derived.begin(), scan.derived.end(), c.table) != scan.derived.end();
      c.kind = derived ? ViewColumn::Kind::kReplace : ViewColumn::Kind::kBase;
      if (derived && !v.sensitive) c.kind = ViewColumn::Kind::kInnocent;
    } else {
      c.kind = v.sensitive ? ViewColumn::Kind::kReplace : ViewColumn::Kind::kInnocent;
    }
    v.columns[alias] = std::move(c);
    item.clear();
  };
  for (sql::Token t = lex.Next(); t.kind != sql::TokenKind::kEnd; t = lex.Next()) {
    if (!started) {
      started = t.Is("select");
      continue;
    }
    if (t.kind == sql::TokenKind::kLParen) ++depth_paren;
    if (t.kind == sql::TokenKind::kRParen) --depth_paren;
    if (depth_paren == 0 && t.Is("from")) break;
    if (depth_paren == 0 && t.kind == sql::TokenKind::kComma) {
      finish();
      continue;
    }
    item.push_back(t);
  }
  finish();
  return &v;
}

std::optional<MySqlTranscoder::ViewColumn> MySqlTranscoder::ResolveViewColumn(
    const std::string& schema, const std::string& view, const std::string& column, int depth) {
  View* v = FindView(schema, view, depth);
  if (!v || depth > 8) return std::nullopt;
  auto it = v->columns.find(Lower(column));
  if (it == v->columns.end()) {
    if (v->sensitive) return std::nullopt;
    return ViewColumn{ViewColumn::Kind::kInnocent, {}, {}, {}};
  }
  if (it->second.kind == ViewColumn::Kind::kBase &&
      views_.contains({it->second.schema, it->second.table}))
    return ResolveViewColumn(it->second.schema, it->second.table, it->second.column, depth + 1);
  if (it->second.kind == ViewColumn::Kind::kReplace) return std::nullopt;
  return it->second;
}

void MySqlTranscoder::TaintTable(const std::string& table) {
  tainted_tables_.insert(table);
  sensitive_cache_.clear();
  if (columns_)  // other sessions read it too: the store keeps the table under column "*"
    columns_->MarkLineage(columns_->Track({endpoint_, database_, database_, table, "*"}), "MASKED");
}

bool MySqlTranscoder::TableTainted(const std::string& schema, const std::string& table) {
  if (tainted_tables_.contains(table)) return true;
  if (!columns_ || table.empty()) return false;
  auto key = schema + '\0' + table;
  if (auto it = table_cache_.find(key); it != table_cache_.end()) return it->second;
  const bool t = columns_->LearnedFor({endpoint_, database_, schema, table, "*"}).has_value();
  if (table_cache_.size() >= 4096) table_cache_.clear();
  table_cache_.emplace(std::move(key), t);
  return t;
}

bool MySqlTranscoder::CallsUnseenCode(const mysql::StatementScan& scan) const {
  for (const auto& id : scan.identifiers)
    if (functions_.contains(id)) return true;
  // schema.f(…) is a stored function; so is any name the server does not list as native (a CTE
  // or derived table with a column list, or the written table, is no call).
  if (scan.qualified_call) return true;
  // A native that returns what no text shows: a file's bytes (what SELECT reverse(ssn) … INTO
  // OUTFILE wrote), as PostgreSQL's pg_read_file is.
  if (std::find(scan.calls.begin(), scan.calls.end(), "load_file") != scan.calls.end()) return true;
  if (natives_)
    for (const std::string& c : scan.calls) {
      if (natives_->contains(c) || c == scan.write_target ||
          std::find(scan.derived.begin(), scan.derived.end(), c) != scan.derived.end())
        continue;
      return true;
    }
  return false;
}

// `column` as a column of no table and of each identifier of the statement as a table, in the
// session's database and in each schema the text qualifies a name with. A statement with new
// literals is new text, but its identifiers are the ones before: triples are cached.
bool MySqlTranscoder::NameSensitive(const mysql::StatementScan& scan, const std::string& column,
                                    const std::vector<std::string>& tables) {
  auto triple_sensitive = [&](const std::string& schema, const std::string& table) {
    pair_key_.assign(schema).push_back('\0');
    pair_key_.append(table).push_back('\0');
    pair_key_.append(column);
    if (auto it = pair_cache_.find(pair_key_); it != pair_cache_.end()) return it->second;
    const bool s = ColumnSensitivity(schema, table, column).sensitive;
    if (pair_cache_.size() >= 8192) pair_cache_.clear();
    pair_cache_.emplace(pair_key_, s);
    return s;
  };
  static const std::string kNoTable;
  auto in_schema = [&](const std::string& schema) {
    if (triple_sensitive(schema, kNoTable)) return true;
    for (const auto& table : tables)
      if (table != column && triple_sensitive(schema, table)) return true;
    return false;
  };
  if (in_schema(database_)) return true;
  for (const auto& q : scan.qualifiers)
    if (q != database_ && in_schema(q)) return true;
  return false;
}

namespace {

// The tables a filter's column may belong to: those the statement reads (every identifier when
// none was found: fail closed) and those its qualifiers name.
std::vector<std::string> FilterTables(const mysql::StatementScan& scan) {
  std::vector<std::string> t = scan.tables.empty() ? scan.identifiers : scan.tables;
  t.insert(t.end(), scan.qualifiers.begin(), scan.qualifiers.end());
  return t;
}

}  // namespace

bool MySqlTranscoder::FiltersOnSensitive(std::string_view sql) {
  const mysql::StatementScan scan = mysql::ScanStatement(sql, /*filters=*/true);
  // Code veil cannot see may filter on anything: CALL, PREPARE/EXECUTE, HANDLER … READ.
  if (scan.dynamic || scan.handler || scan.natural_join) return true;
  if (!scan.filters && !scan.set_operation && scan.computed.empty()) return false;
  if (scan.filters && CallsUnseenCode(scan)) return true;
  if (scan.filter_variables && variables_tainted_) return true;
  // Known views the statement names, by (schema, name): their columns are resolved through
  // their definitions.
  std::vector<std::pair<std::string, std::string>> views;
  bool view_sensitive = false;
  for (const auto& id : scan.identifiers) {
    View* v = FindView(database_, id);
    if (!v) continue;
    views.emplace_back(database_, id);
    if (v->sensitive) view_sensitive = true;
    for (const auto& [name, c] : v->columns)
      if (c.kind == ViewColumn::Kind::kReplace ||
          (c.kind == ViewColumn::Kind::kBase &&
           ColumnSensitivity(c.schema, c.table, c.column).sensitive))
        view_sensitive = true;
  }
  for (const auto& q : scan.qualifiers)
    for (const auto& id : scan.identifiers)
      if (q != database_ && FindView(q, id)) {
        views.emplace_back(q, id);
        view_sensitive = true;  // judged as sensitive: a qualified view is rare
      }
  // `SELECT * … ORDER BY 5`: the fifth column, whatever it holds.
  if (scan.filter_positional && scan.star) return true;
  const bool touches =
      ReadsSensitive(sql, scan) || view_sensitive || (scan.uses_variables && variables_tainted_);
  if (!touches) return false;
  // A statistics table's values are any column's (min_value LIKE '19%' answers about a dob).
  if ((std::any_of(scan.identifiers.begin(), scan.identifiers.end(), IsValueStatistics) ||
       std::any_of(scan.identifiers.begin(), scan.identifiers.end(), IsStatementTextSource)) &&
      (scan.filters || !scan.computed.empty()))
    return true;
  // What the names do not show: a select item by position, compared rows, a renamed column.
  if (scan.filter_positional || scan.set_operation || scan.filter_odd_name || scan.renames)
    return true;
  const std::vector<std::string> filter_tables = FilterTables(scan);
  auto alias = [&](const std::string& f) {
    return std::find(scan.aliases.begin(), scan.aliases.end(), f) != scan.aliases.end();
  };
  // A sensitive column by its name, or a view's column that is one or is computed from one.
  auto sensitive = [&](const std::string& f) {
    if (NameSensitive(scan, f, filter_tables)) return true;
    for (const auto& [schema, view] : views) {
      auto c = ResolveViewColumn(schema, view, f);
      if (!c || (c->kind == ViewColumn::Kind::kBase &&
                 ColumnSensitivity(c->schema, c->table, c->column).sensitive))
        return true;
    }
    return false;
  };
  // Whether a computation over a sensitive value fails (IF(ssn > '5', 1, exp(1000))) answers a
  // question as a filter does.
  for (const auto& f : scan.computed)
    if (sensitive(f)) return true;
  // Equality with a literal holds of base columns only: an alias or a view's expression may be
  // a part of a value.
  for (const auto& f : scan.compared) {
    if (alias(f)) return true;
    for (const auto& [schema, view] : views)
      if (!ResolveViewColumn(schema, view, f)) return true;
  }
  for (const auto& f : scan.filtered)
    if (alias(f) || sensitive(f)) return true;
  // A table written with values derived from sensitive columns is sensitive whole.
  if (!scan.filtered.empty())
    for (const auto& id : scan.identifiers)
      if (tainted_tables_.contains(id) || TableTainted(database_, id)) return true;
  return false;
}

// A view's column named by the statement that is, or is computed from, a sensitive column. A
// view read directly is planned by its definition whatever the statement is judged; through a
// derived table or a CTE (`SELECT d.day FROM (SELECT day FROM v) d`) its column comes back as
// the derived table's, judged by the statement as a base table's would be.
bool MySqlTranscoder::ReadsSensitiveViewColumn(const mysql::StatementScan& scan) {
  if (views_.empty()) return false;
  auto view_reads_sensitive = [&](const std::string& schema, const std::string& name) {
    View* v = FindView(schema, name);
    if (!v) return false;
    if (v->sensitive && v->columns.empty()) return true;  // nothing known of its columns
    // `*` through a derived table or a variable: every column, named by none.
    const bool unnamed =
        scan.star && (!scan.derived.empty() || scan.renames || scan.uses_variables);
    for (const auto& [column, c] : v->columns) {
      const bool named = unnamed || std::find(scan.identifiers.begin(), scan.identifiers.end(),
                                              column) != scan.identifiers.end();
      if (!named) continue;
      auto base = ResolveViewColumn(schema, name, column);
      if (!base || (base->kind == ViewColumn::Kind::kBase &&
                    ColumnSensitivity(base->schema, base->table, base->column).sensitive))
        return true;
    }
    return false;
  };
  for (const auto& id : scan.identifiers) {
    if (!relation_names_.contains(id)) continue;
    if (view_reads_sensitive(database_, id)) return true;
    for (const auto& q : scan.qualifiers)
      if (q != database_ && view_reads_sensitive(q, id)) return true;
  }
  return false;
}

bool MySqlTranscoder::SideChannel(std::string_view sql) {
  static constexpr std::string_view kRoads[] = {"sleep",        "benchmark",    "get_lock",
                                                "release_lock", "is_free_lock", "is_used_lock"};
  // Every statement is asked: the full scans only for text that names one of them, or that
  // compares by range.
  if (ContainsIgnoreCase(sql, "sleep") || ContainsIgnoreCase(sql, "benchmark") ||
      ContainsIgnoreCase(sql, "_lock")) {
    const mysql::StatementScan scan = mysql::ScanStatement(sql);
    const bool calls = std::any_of(scan.calls.begin(), scan.calls.end(), [](const std::string& c) {
      return std::find(std::begin(kRoads), std::end(kRoads), c) != std::end(kRoads);
    });
    if (calls && ReadsSensitive(sql, scan)) return true;
  }
  // A system variable set from a sensitive value: SHOW VARIABLES and information_schema's
  // SESSION_VARIABLES then show it to anyone, as no @variable they name.
  // (Scanned only for text that starts with SET, or with a comment, or holds several
  // statements.)
  const size_t lead = std::min(sql.find_first_not_of(" \t\r\n("), sql.size());
  const std::string_view rest = sql.substr(lead);
  if ((rest.size() > 3 && ContainsIgnoreCase(rest.substr(0, 3), "set")) || rest.starts_with("/*") ||
      rest.starts_with("--") || rest.starts_with("#") || sql.find(';') != std::string_view::npos) {
    const mysql::StatementScan scan = mysql::ScanStatement(sql);
    // Or from a user variable that may hold one (`SET @v = …; SET SESSION x = @v`).
    if (scan.sets_system &&
        (ReadsSensitive(sql, scan) ||
         (variables_tainted_ &&
          sql::Identifiers(sql, {.dialect = sql::Dialect::kMySql}).user_variable)))
      return true;
  }
  // Comparisons, groups and distinct rows: only in a statement that has them, and reads
  // sensitive columns.
  if (!ContainsIgnoreCase(sql, "where") && !ContainsIgnoreCase(sql, " on") &&
      !ContainsIgnoreCase(sql, "having") && !ContainsIgnoreCase(sql, "group") &&
      !ContainsIgnoreCase(sql, "distinct"))
    return false;
  if (!ReadsSensitive(sql)) return false;
  return RangeCountsOut(mysql::ScanStatement(sql, /*filters=*/true));
}

bool MySqlTranscoder::RangeCountsOut(const mysql::StatementScan& scan) {
  if (scan.compares.empty()) return false;
  const std::vector<std::string> tables = FilterTables(scan);
  // A table written with derived values holds them in every column; a select item's alias
  // (a derived table's column) may be any expression.
  const bool tainted =
      std::any_of(scan.identifiers.begin(), scan.identifiers.end(), [&](const std::string& id) {
        return tainted_tables_.contains(id) || TableTainted(database_, id);
      });
  auto sensitive = [&](const mysql::StatementScan::Operand& o) {
    const std::string& name = o.name;
    if (tainted || std::find(scan.aliases.begin(), scan.aliases.end(), name) != scan.aliases.end())
      return true;
    if (NameSensitive(scan, name, tables)) return true;
    for (const auto& id : scan.identifiers) {
      if (!FindView(database_, id)) continue;
      auto c = ResolveViewColumn(database_, id, name);
      if (c && (c->kind == ViewColumn::Kind::kReplace ||
                (c->kind == ViewColumn::Kind::kBase &&
                 ColumnSensitivity(c->schema, c->table, c->column).sensitive)))
        return true;
    }
    return false;
  };
  using Side = std::vector<mysql::StatementScan::Operand>;
  auto any_sensitive = [&](const Side& s) { return std::any_of(s.begin(), s.end(), sensitive); };
  // A side that computes a sensitive value with a column of another table: the sensitive one
  // inside a subquery and another name outside it, or two names of the statement's own level
  // that may belong to different tables (other qualifiers, or unqualified among several
  // tables). `c.created_at - c.dob` is one row's: one yes/no per row, as against a constant.
  auto mixes = [&](const Side& s) {
    for (const auto& a : s) {
      if (!sensitive(a)) continue;
      for (const auto& b : s) {
        if (b.in_subquery || sensitive(b)) continue;
        if (a.in_subquery) return true;
        const bool same = !a.qualifier.empty() && !b.qualifier.empty() ? a.qualifier == b.qualifier
                                                                       : scan.tables.size() <= 1;
        if (!same) return true;
      }
    }
    return false;
  };
  for (const auto& c : scan.compares) {
    if (mixes(c.left) || mixes(c.right)) return true;
    if (!c.range) continue;
    if (!c.right.empty() && any_sensitive(c.left)) return true;
    if (!c.left.empty() && any_sensitive(c.right)) return true;
  }
  return false;
}

bool MySqlTranscoder::ReadsSensitive(std::string_view sql) {
  return ReadsSensitive(sql, mysql::ScanStatement(sql));
}

bool MySqlTranscoder::ReadsSensitive(std::string_view sql, const mysql::StatementScan& scan) {
  std::string key(sql.size() <= 4096 ? sql : std::string_view());
  if (!key.empty())
    if (auto it = sensitive_cache_.find(key); it != sensitive_cache_.end()) return it->second;
  bool sensitive =
      scan.dynamic || CallsUnseenCode(scan) ||
      std::any_of(scan.identifiers.begin(), scan.identifiers.end(), IsValueStatistics) ||
      // (SHOW PROCESSLIST computes nothing: its Info column is planned as statement text.)
      (!scan.show &&
       std::any_of(scan.identifiers.begin(), scan.identifiers.end(), IsStatementTextSource));
  if (!sensitive && scan.identifiers.size() > 512)
    sensitive = true;  // too many to judge: fail closed
  // Columns the text does not name, in a statement that hides what it makes of them (a CTE's
  // column list renames them, a variable stores them).
  if (scan.star && (scan.renames || scan.uses_variables)) sensitive = true;
  for (const auto& id : scan.identifiers)
    if (tainted_tables_.contains(id) || TableTainted(database_, id)) sensitive = true;
  for (size_t i = 0; !sensitive && i < scan.identifiers.size(); ++i)
    sensitive = NameSensitive(scan, scan.identifiers[i], scan.identifiers);
  if (!sensitive) sensitive = ReadsSensitiveViewColumn(scan);
  if (key.size() <= 4096) {  // bulk statements are not kept: the cache stays small
    if (sensitive_cache_.size() >= 1024) sensitive_cache_.clear();
    sensitive_cache_.emplace(std::move(key), sensitive);
  }
  return sensitive;
}

void MySqlTranscoder::OnCommand(const mysql::ClientMessage& message, uint8_t last_sequence_id,
                                bool internal) {
  // A statement that reads from a relation the session does not know: the lists are read
  // again first (their answers arrive before this command's).
  std::optional<mysql::StatementScan> pre_scan;
  std::string_view text;
  if (const auto* q = std::get_if<mysql::ComQuery>(&message)) text = q->query;
  if (const auto* p = std::get_if<mysql::ComStmtPrepare>(&message)) text = p->query;
  if (!internal && !text.empty()) {
    pre_scan = mysql::ScanStatement(text);
    if (NamesUnknownRelation(text, *pre_scan)) InjectRelationQueries();
    InjectSamples(*pre_scan);
  }
  decoder_.ExpectResponseTo(message, last_sequence_id);
  if (std::holds_alternative<mysql::AuthData>(message)) return;  // COM_CHANGE_USER's exchange
  Open o;
  o.started = std::chrono::steady_clock::now();
  o.kind = internal ? Open::Kind::kInternal : Open::Kind::kOther;
  auto statement = [&](std::string_view sql) {
    mysql::StatementScan scan = pre_scan ? std::move(*pre_scan) : mysql::ScanStatement(sql);
    bool sensitive = ReadsSensitive(sql, scan);
    // Diagnostics outlive statements that raise none (SHOW WARNINGS after SELECT 1 still shows
    // the warnings of the one before): tainted once any statement read sensitive columns.
    if (scan.diagnostics && diagnostics_tainted_) sensitive = true;
    if (scan.uses_variables && variables_tainted_) sensitive = true;
    // What may put a sensitive value in a variable unseen: a statement that reads sensitive
    // columns and sets variables, dynamic SQL and procedures (their text is a string), and
    // writes (a trigger runs).
    if ((sensitive && scan.uses_variables) || scan.dynamic || scan.writes)
      variables_tainted_ = true;
    if (scan.dynamic) names_tainted_ = true;
    if (names_tainted_) o.catalog = ReadsCatalog(scan);
    o.dynamic = scan.dynamic;
    if (sensitive || scan.explain || scan.dynamic || scan.writes) diagnostics_tainted_ = true;
    // A table written with values derived from sensitive columns (CREATE TABLE … AS SELECT
    // reverse(ssn), INSERT … SELECT): its columns are replaced whole from now on.
    if (sensitive && scan.writes && scan.write_target) TaintTable(*scan.write_target);
    if (scan.creates_table && scan.write_target) own_tables_.insert(*scan.write_target);
    if (scan.use_database && *scan.use_database != database_) {
      database_ = *scan.use_database;
      pair_cache_.clear();  // rules may name the schema
      sensitive_cache_.clear();
    }
    if (scan.creates_function) {
      functions_.insert(*scan.creates_function);
      sensitive_cache_.clear();
    }
    o.derived = std::set<std::string>(scan.derived.begin(), scan.derived.end());
    o.sensitive = sensitive;
    o.uses_variables = scan.uses_variables;
    o.star = scan.star;
    o.diagnostics = scan.diagnostics;
    o.writes = scan.writes;
    auto names = [&](std::string_view id) {
      return std::find(scan.identifiers.begin(), scan.identifiers.end(), id) !=
             scan.identifiers.end();
    };
    // SHOW [FULL] PROCESSLIST, SHOW BINLOG EVENTS and SHOW RELAYLOG EVENTS (a statement-based
    // binary log holds every write as its text): their Info is statement text.
    o.shows_statements =
        scan.show && (names("processlist") || names("binlog") || names("relaylog"));
    o.shows_engine_status = scan.show && names("engine");
    o.shows_replica_status =
        scan.show && (names("slave") || names("slaves") || names("replica") || names("replicas"));
    o.record.text = std::string(sql);
  };
  if (const auto* q = std::get_if<mysql::ComQuery>(&message)) {
    statement(q->query);
    if (!internal) o.kind = Open::Kind::kStatement;
  } else if (const auto* p = std::get_if<mysql::ComStmtPrepare>(&message)) {
    statement(p->query);
    if (!internal) o.kind = Open::Kind::kPrepare;
  } else if (const auto* e = std::get_if<mysql::ComStmtExecute>(&message)) {
    auto it = prepared_texts_.find(e->statement_id);
    if (it != prepared_texts_.end()) {
      o.record.text = it->second.text;
      // Judged at prepare time, and again by what the session did since: a variable it reads
      // may have been tainted, a table it reads written with derived values.
      o.sensitive = it->second.sensitive || (it->second.uses_variables && variables_tainted_) ||
                    (it->second.diagnostics && diagnostics_tainted_) ||
                    ReadsSensitive(it->second.text);
      o.derived = it->second.derived;
      o.star = it->second.star;
      o.writes = it->second.writes;
      if (o.writes) diagnostics_tainted_ = true;
      o.statement_id = e->statement_id;
      if (names_tainted_) {
        const mysql::StatementScan sc = mysql::ScanStatement(it->second.text);
        o.catalog = ReadsCatalog(sc);
        o.dynamic = sc.dynamic;
      }
    } else {
      o.record.text = "-- COM_STMT_EXECUTE of an unknown statement";
      o.sensitive = true;  // nothing to judge it by: fail closed
    }
    if (!internal) o.kind = Open::Kind::kStatement;
  } else if (const auto* f = std::get_if<mysql::ComStmtFetch>(&message)) {
    auto it = prepared_texts_.find(f->statement_id);
    o.record.text = it != prepared_texts_.end() ? it->second.text : "-- COM_STMT_FETCH";
    o.sensitive = it == prepared_texts_.end() || it->second.sensitive ||
                  (it->second.uses_variables && variables_tainted_);
    o.statement_id = f->statement_id;
    o.fetch = true;
    if (!internal) o.kind = Open::Kind::kStatement;
  } else if (const auto* c = std::get_if<mysql::ComStmtClose>(&message)) {
    prepared_texts_.erase(c->statement_id);
    fetch_columns_.erase(c->statement_id);
    return;  // no answer
  } else if (const auto* d = std::get_if<mysql::ComInitDb>(&message)) {
    database_ = std::string(d->schema);
    pair_cache_.clear();
    sensitive_cache_.clear();
  } else if (std::holds_alternative<mysql::ComQuit>(message) ||
             std::holds_alternative<mysql::ComStmtSendLongData>(message)) {
    return;  // no answer
  } else if (std::holds_alternative<mysql::ComResetConnection>(message)) {
    prepared_texts_.clear();
    fetch_columns_.clear();
    variables_tainted_ = false;
  } else if (const auto* u = std::get_if<mysql::ComChangeUser>(&message)) {
    // A new login on the same connection: the server forgets the session's state.
    prepared_texts_.clear();
    fetch_columns_.clear();
    variables_tainted_ = false;
    if (!u->database.empty()) database_ = std::string(u->database);
    pair_cache_.clear();
    sensitive_cache_.clear();
    o.kind = Open::Kind::kChangeUser;
  }
  if (o.kind != Open::Kind::kStatement && o.kind != Open::Kind::kPrepare) o.record.text.clear();
  open_.push_back(std::move(o));
}

void MySqlTranscoder::NoteBlocked(std::string_view sql, std::string guardrail) {
  StatementRecord r;
  r.text = std::string(sql);
  r.guardrail = std::move(guardrail);
  r.sqlstate = "42000";
  completed_.push_back(std::move(r));
}

// MariaDB leaves the schema empty for an expression, and names the table it came through: a
// view's, unless the name is a derived table or CTE of the statement (whose expression the
// statement's own text shows).
// A name the statement answering now gives a derived table or CTE.
bool MySqlTranscoder::Derived(std::string_view table) const {
  return !open_.empty() && open_.front().derived.contains(Lower(table));
}

// The server names no base column for it: an expression, or a column of a derived table or
// CTE of the statement.
bool MySqlTranscoder::BaseColumnless(const Column& col) const {
  return col.org_name.empty() || col.schema.empty() || col.org_table.empty() ||
         Derived(col.org_table);
}

bool MySqlTranscoder::ViewComputed(const Column& col) const {
  return !col.org_table.empty() && col.schema.empty() && !Derived(col.org_table);
}

// A base column's value, unchanged: masked by content, with the column's rule, its name, or
// what was learned of it as context.
void MySqlTranscoder::PlanDirect(const Column& col, bool text_like, Plan* out) {
  Plan& p = *out;
  p.label = col.schema + "." + col.org_table + "." + col.org_name;
  if (IsStatementTextColumn(col.schema, col.org_table, col.org_name)) {
    PlanStatementText(col, text_like, &p);
    return;
  }
  if (IsStatisticsValue(col.schema, col.org_table, col.org_name)) {  // any column's values
    p.kind = text_like ? Plan::Kind::kReplace : Plan::Kind::kNull;
    p.label += " <- statistics";
    return;
  }
  // A generated column computed from a sensitive one (reverse(ssn)): replaced whole, as the
  // expression would be, unless a `pass` rule names it.
  // (Asked as of text: a number or date without a rule is passed, which is no `pass` rule.)
  if (GeneratedSensitive(col.schema, col.org_table, col.org_name) &&
      profile_->PolicyFor({.schema = col.schema,
                           .table = col.org_table,
                           .column = col.org_name,
                           .text_like = true})
              .action != masker::ColumnPolicy::Action::kPass) {
    p.kind = text_like ? Plan::Kind::kReplace : Plan::Kind::kNull;
    p.label += " <- generated";
    return;
  }
  p.policy = profile_->PolicyFor({.schema = col.schema,
                                  .table = col.org_table,
                                  .column = col.org_name,
                                  .text_like = text_like});
  using A = masker::ColumnPolicy::Action;
  if (p.policy.action == A::kScan && !p.policy.has_hint) {
    Sensitivity s = ColumnSensitivity(col.schema, col.org_table, col.org_name);
    if (s.sensitive && s.entity < masker::kMaxEntities) {
      p.policy.has_hint = true;
      p.policy.entity = s.entity;
      p.policy.hints.boost[s.entity] += 0.2f;
    }
    // What its values turn out to hold is learned (SPEC §6.1 "content"): a column that
    // holds card numbers under an innocent name makes reverse(card) a sensitive statement.
    if (!p.policy.has_hint && columns_ && text_like)
      p.learn = columns_->Track(
          {endpoint_, database_, Lower(col.schema), Lower(col.org_table), Lower(col.org_name)});
  }
  if (p.policy.action == A::kPass)
    p.kind = Plan::Kind::kPass;
  else if (text_like)
    p.kind = Plan::Kind::kScan;
  else
    // A number or date under a rule (or a telling name): it cannot hold a token.
    p.kind =
        (p.policy.action == A::kForce || p.policy.has_hint) ? Plan::Kind::kNull : Plan::Kind::kPass;
}

// Another session's statement: scanned by content once its literals are normalized out (a
// reversed SSN or a name the scan misses would otherwise come back as the session wrote it).
void MySqlTranscoder::PlanStatementText(const Column& col, bool text_like, Plan* p) {
  p->policy = profile_->PolicyFor({.column = col.name, .text_like = true});
  p->kind = text_like ? Plan::Kind::kScan : Plan::Kind::kNull;
  p->statement_text = text_like;
  if (!text_like) p->label += " <- statement text";
}

// A value that derives from nothing sensitive: scanned by content, its name as context.
void MySqlTranscoder::PlanByContent(const Column& col, bool text_like, Plan* p) {
  p->policy = profile_->PolicyFor({.column = col.name, .text_like = text_like});
  p->kind = text_like && p->policy.action != masker::ColumnPolicy::Action::kPass
                ? Plan::Kind::kScan
                : Plan::Kind::kPass;
}

// A `*` names every column it expands to. Through a derived table, a CTE or a set operation
// those come back computed (`SELECT * FROM (SELECT * FROM customers) d` gave dob raw: a date is
// planned by content), so a statement whose `*` brings a sensitive column by name is judged as
// one that names it.
bool MySqlTranscoder::StarExpandsToSensitive() {
  Open& o = open_.front();
  const mysql::StatementScan scan = mysql::ScanStatement(o.record.text);
  for (const auto& col : result_columns_) {
    if (!BaseColumnless(col)) continue;
    if (NameSensitive(scan, Lower(col.org_name.empty() ? col.name : col.org_name),
                      scan.identifiers))
      return true;
  }
  return false;
}

void MySqlTranscoder::PlanColumns() {
  plans_.clear();
  plans_.reserve(result_columns_.size());
  if (!open_.empty() && !open_.front().sensitive && open_.front().star &&
      StarExpandsToSensitive()) {
    open_.front().sensitive = true;
    diagnostics_tainted_ = true;
  }
  const bool sensitive = !open_.empty() && open_.front().sensitive;
  // Comments, definitions and names in the catalog, which dynamic SQL may have written.
  const bool catalog_hidden = names_tainted_ && !open_.empty() && open_.front().catalog;
  // Names or values in UTF-16/32: no rule, name or content can be judged.
  for (const auto& col : result_columns_) {
    auto nul = [](const std::string& x) { return x.find('\0') != std::string::npos; };
    if (UnreadableCharset(col.charset) || nul(col.name) || nul(col.org_name) ||
        nul(col.org_table) || nul(col.schema))
      unreadable_results_ = true;
  }
  for (const auto& col : result_columns_) {
    Plan p;
    const bool text_like = TextLike(col.type.type);
    p.json = col.json;
    if (unreadable_results_ || fetch_unknown_ || catalog_hidden) {
      // Every value replaced: a text token, anything else NULL.
      p.kind = text_like ? Plan::Kind::kReplace : Plan::Kind::kNull;
      p.label = fetch_unknown_   ? "<- cursor without definitions"
                : catalog_hidden ? "<- catalog after dynamic SQL"
                                 : "<- unreadable charset";
      plans_.push_back(std::move(p));
      continue;
    }
    // A view's column: by what its definition makes of it.
    const std::string view_schema = col.schema.empty() ? database_ : col.schema;
    if (!col.org_table.empty() && !Derived(col.org_table) && FindView(view_schema, col.org_table)) {
      auto base = ResolveViewColumn(view_schema, col.org_table,
                                    col.org_name.empty() ? col.name : col.org_name);
      if (!base) {
        p.kind = text_like ? Plan::Kind::kReplace : Plan::Kind::kNull;
        p.label = col.schema + "." + col.org_table + "." + col.org_name + " <- view";
        plans_.push_back(std::move(p));
        continue;
      }
      if (base->kind == ViewColumn::Kind::kBase) {
        Column as_base = col;
        as_base.schema = base->schema;
        as_base.org_table = base->table;
        as_base.org_name = base->column;
        PlanDirect(as_base, text_like, &p);
      } else {
        PlanByContent(col, text_like, &p);
      }
      plans_.push_back(std::move(p));
      continue;
    }
    // A relation made after the lists were read (and not found when they were read again):
    // nothing says what its columns hold.
    if (!col.schema.empty() && !col.org_table.empty() && !Derived(col.org_table) &&
        UnknownRelation(col.schema, col.org_table)) {
      p.kind = text_like ? Plan::Kind::kReplace : Plan::Kind::kNull;
      p.label = col.schema + "." + col.org_table + "." + col.org_name + " <- unknown relation";
      plans_.push_back(std::move(p));
      continue;
    }
    const bool computed = BaseColumnless(col) || TableTainted(col.schema, Lower(col.org_table));
    p.label =
        col.org_table.empty() ? col.name : col.schema + "." + col.org_table + "." + col.org_name;
    if (!open_.empty() && open_.front().shows_statements && Lower(col.name) == "info") {
      PlanStatementText(col, text_like, &p);
    } else if (!open_.empty() && open_.front().shows_engine_status && Lower(col.name) == "status") {
      // SHOW ENGINE INNODB STATUS: a report that quotes other sessions' statements (the
      // running transactions, the last deadlock) and index keys of locked rows, in prose no
      // normalizer can read as SQL: replaced whole.
      p.kind = text_like ? Plan::Kind::kReplace : Plan::Kind::kNull;
      p.label += " <- engine status";
    } else if (!open_.empty() && open_.front().shows_replica_status &&
               Lower(col.name).ends_with("_error")) {
      // SHOW SLAVE / REPLICA STATUS: Last_Error and Last_SQL_Error quote the replicated
      // statement that failed, literals and all ("Duplicate entry '…' … Query: 'INSERT …'").
      p.kind = text_like ? Plan::Kind::kReplace : Plan::Kind::kNull;
      p.label += " <- replication error";
    } else if (!computed) {
      PlanDirect(col, text_like, &p);
    } else if (sensitive || ViewComputed(col)) {
      // A view's computed column hides its expression (reverse(ssn) in the view's definition)
      // from the statement's text: replaced whole unless a `pass` rule names it.
      if (!sensitive &&
          profile_->PolicyFor(
                      {.table = col.org_table, .column = col.org_name, .text_like = text_like})
                  .action == masker::ColumnPolicy::Action::kPass) {
        p.kind = Plan::Kind::kPass;
        plans_.push_back(std::move(p));
        continue;
      }
      p.kind = text_like ? Plan::Kind::kReplace : Plan::Kind::kNull;
      p.label += " <- unknown";
    } else {
      PlanByContent(col, text_like, &p);
    }
    plans_.push_back(std::move(p));
  }
  planned_ = true;
}

void MySqlTranscoder::AppendReplacement(const Plan& plan, std::string_view value,
                                        std::string* out) {
  if (plan.json) {  // a JSON column gets a JSON string: clients parse it
    Plan inner = plan;
    inner.json = false;
    out->push_back('"');
    AppendReplacement(inner, value, out);
    out->push_back('"');
    return;
  }
  if (plan.entity >= masker::kMaxEntities) {
    out->append("[MASKED]");
    return;
  }
  std::string_view name = profile_->detector()->EntityName(plan.entity);
  if (plan.strategy == masker::Strategy::kHash) {
    if (!applier_) applier_.emplace(profile_->key(), profile_->fake_options());
    applier_->Apply(plan.strategy, plan.entity, name, value, out);
    return;
  }
  out->push_back('[');
  out->append(name);
  out->push_back(']');
}

// One result row through the plan: queued, to be masked with the other rows of this read in one
// pass (FlushRows), or forwarded at once when no column of the plan needs anything.
Status MySqlTranscoder::QueueRow(std::span<const uint8_t> raw, uint8_t first_sequence, bool binary,
                                 std::vector<uint8_t>* out) {
  const std::vector<mysql::Value>& in = binary ? std::get<mysql::BinaryRow>(message_).values
                                               : std::get<mysql::TextRow>(message_).values;
  if (!planned_) {
    PlanColumns();
    policies_.clear();
    plan_active_ = false;
    for (const Plan& p : plans_) {
      policies_.push_back(p.kind == Plan::Kind::kScan ? &p.policy : nullptr);
      plan_active_ = plan_active_ || p.kind != Plan::Kind::kPass;
    }
  }
  if (in.size() != plans_.size())
    return Error{"a result row has " + std::to_string(in.size()) + " values for " +
                 std::to_string(plans_.size()) + " columns"};
  if (!plan_active_) {
    out->insert(out->end(), raw.begin(), raw.end());
    return {};
  }
  batch_rows_.push_back({raw, first_sequence, binary, batch_values_.size()});
  for (size_t i = 0; i < in.size(); ++i) {
    batch_values_.push_back(in[i]);
    const bool scan = plans_[i].kind == Plan::Kind::kScan && !in[i].is_null;
    if (scan && plans_[i].statement_text)
      batch_values_.back().data = normalized_.emplace_back(
          events::NormalizeStatement(in[i].data, {.dialect = sql::Dialect::kMySql}));
    cells_.push_back({batch_values_.back().data, !scan});
  }
  // A row reassembled from several packets views the decoder's buffer, which the next packet
  // reuses: masked now.
  if (raw.size() >= mysql::kMaxPacketPayload) return FlushRows(out);
  return {};
}

// Masks the queued rows (one Hyperscan pass over all their text cells) and appends them, each
// rebuilt when a value changed, else as it came.
Status MySqlTranscoder::FlushRows(std::vector<uint8_t>* out) {
  if (batch_rows_.empty()) return {};
  masker::MaskStats stats;
  masker_.MaskRows(policies_, cells_, &outcomes_, &outs_, &stats);
  Status result;
  const size_t ncols = plans_.size();
  for (const BatchRow& row : batch_rows_) {
    values_.assign(batch_values_.begin() + row.start, batch_values_.begin() + row.start + ncols);
    replaced_.resize(ncols);
    bool changed = false;
    // Value i replaced whole by plan q's token.
    auto replace_whole = [&](size_t i, const Plan& q) {
      replaced_[i].clear();
      AppendReplacement(q, values_[i].data, &replaced_[i]);
      values_[i] = {replaced_[i], false};
      ++stats.values_masked;
      changed = true;
    };
    for (size_t i = 0; i < ncols; ++i) {
      const Plan& p = plans_[i];
      if (values_[i].is_null) continue;
      const size_t cell = row.start + i;
      switch (p.kind) {
        case Plan::Kind::kPass:
          break;
        case Plan::Kind::kNull:
          values_[i] = mysql::Value::Null();
          ++stats.values_masked;
          changed = true;
          break;
        case Plan::Kind::kReplace:
          replace_whole(i, p);
          break;
        case Plan::Kind::kScan:
          if (p.statement_text) changed = true;  // its literals normalized out
          // Text in a character set the masker cannot read (SET NAMES latin1, cp1251, gbk,
          // sjis: a Cyrillic name is no name to it as cp1251 bytes, and what the set lacks
          // comes as '?') is replaced whole once it holds such a byte or a '?'; ASCII is read
          // as always. Not a binary string's bytes (an image, a BINARY(16) id): never text.
          if (i < result_columns_.size() && result_columns_[i].charset != kBinaryCharset &&
              (LegacyCharset(result_columns_[i].charset)
                   ? std::any_of(values_[i].data.begin(), values_[i].data.end(),
                                 [](char c) { return c == '?' || (c & 0x80) != 0; })
                   : !ValidUtf8(values_[i].data))) {
            Plan whole;  // the [MASKED] token, a JSON string in a JSON column
            whole.json = p.json;
            replace_whole(i, whole);
            break;
          }
          if (outcomes_[cell] == masker::ValueOutcome::kMasked) {
            values_[i] = {outs_[cell], false};
            changed = true;
          } else if (outcomes_[cell] == masker::ValueOutcome::kNull) {
            values_[i] = mysql::Value::Null();
            changed = true;
          }
          break;
      }
    }
    if (!changed) {
      out->insert(out->end(), row.raw.begin(), row.raw.end());
      continue;
    }
    uint8_t seq = row.first_sequence;
    const size_t before = out->size();
    Status st = row.binary ? mysql::EncodeBinaryRow(decoder_.columns(), values_, &seq, out)
                           : mysql::EncodeTextRow(values_, &seq, out);
    // The protocol's sequence ids count packets: a row that grew past 16 MiB would need one
    // more and shift every packet after it. veil does not renumber; it ends the session instead.
    if (st.ok() && static_cast<uint8_t>(seq - row.first_sequence) != PacketCount(row.raw))
      st = Error{"a masked row no longer fits the packets of the original"};
    if (!st.ok()) {
      out->resize(before);
      result = st;
      break;
    }
  }
  if (!open_.empty()) open_.front().record.masked.Add(stats);
  stats_.Add(stats);
  Learn();
  batch_rows_.clear();
  batch_values_.clear();
  cells_.clear();
  normalized_.clear();
  return result;
}

// Scans a value and counts its first finding's entity in `masked`; false when it has none.
bool MySqlTranscoder::CountFinding(std::string_view value,
                                   std::vector<std::pair<std::string_view, uint64_t>>* masked) {
  masker_.Scan(value);
  if (masker_.findings().empty()) return false;
  std::string_view entity = profile_->detector()->EntityName(masker_.findings()[0].entity);
  auto it = std::find_if(masked->begin(), masked->end(),
                         [&](const auto& e) { return e.first == entity; });
  if (it == masked->end())
    masked->emplace_back(entity, 1);
  else
    ++it->second;
  return true;
}

// Counts, per learning column of the batch, its values and what the masked ones were.
void MySqlTranscoder::Learn() {
  const size_t ncols = plans_.size();
  bool any = false;
  for (const Plan& p : plans_) any = any || p.learn;
  if (!any || ncols == 0) return;
  struct Counts {
    uint64_t values = 0;
    std::vector<std::pair<std::string_view, uint64_t>> masked;
  };
  std::vector<Counts> counts(ncols);
  bool learned_any = false;
  for (size_t cell = 0; cell < cells_.size(); ++cell) {
    const size_t c = cell % ncols;
    if (!plans_[c].learn || cells_[cell].is_null) continue;
    ++counts[c].values;
    if (outcomes_[cell] == masker::ValueOutcome::kUnchanged) continue;
    if (CountFinding(cells_[cell].value, &counts[c].masked)) learned_any = true;
  }
  bool became_sensitive = false;
  for (size_t c = 0; c < ncols; ++c) {
    if (!plans_[c].learn) continue;
    const bool was = learned_any && columns_->Learned(plans_[c].learn).has_value();
    columns_->Observe(plans_[c].learn, counts[c].values, counts[c].masked);
    if (learned_any && !was && columns_->Learned(plans_[c].learn).has_value())
      became_sensitive = true;
  }
  if (became_sensitive) {  // statements naming it read a sensitive column now
    pair_cache_.clear();
    sensitive_cache_.clear();
  }
}

void MySqlTranscoder::MaskErr(mysql::ErrPacket* err, bool sensitive) {
  if (err->error_code == mysql::kMariaDbProgressReport) return;
  if (sensitive) {
    // Errors quote the value they are about (Truncated incorrect DOUBLE value: '…'), and a
    // value computed from a sensitive column no longer looks like one. A write's errors too:
    // a trigger SIGNALs what it read of NEW, a duplicate composite key quotes every part of
    // it ('078-05-1120-0' for UNIQUE (ssn, balance) after SET balance = 0).
    err->message = "veil: text withheld (error " + std::to_string(err->error_code) +
                   "): the statement reads sensitive columns";
    ++stats_.values_masked;
    return;
  }
  if (!ValidUtf8(err->message)) {  // in a character set the masker cannot read
    err->message =
        "veil: text withheld (error " + std::to_string(err->error_code) + "): not in UTF-8";
    ++stats_.values_masked;
    return;
  }
  std::string out;
  if (masker_.MaskText(err->message, &out, &stats_)) err->message = std::move(out);
}

// The statements queued behind the lists were judged by the lists before: a late view read
// through a derived table, or a late generated column, makes its statement sensitive only now.
void MySqlTranscoder::RejudgeQueued() {
  for (Open& next : open_) {
    if (next.sensitive || next.record.text.empty() ||
        (next.kind != Open::Kind::kStatement && next.kind != Open::Kind::kPrepare) ||
        !ReadsSensitive(next.record.text))
      continue;
    next.sensitive = true;
    diagnostics_tainted_ = true;
    if (next.uses_variables) variables_tainted_ = true;
  }
}

void MySqlTranscoder::Complete() {
  Open o = std::move(open_.front());
  open_.pop_front();
  if (o.capture != Open::Capture::kNone) {
    if (o.capture_failed) {
      // the list stays as it was; a table not sampled is judged by what reads teach
    } else if (o.capture == Open::Capture::kSample) {
      LearnSample(o);
    } else if (o.capture == Open::Capture::kViews) {
      SetViews(ViewsOf(std::move(capture_rows_)));
      RejudgeQueued();
    } else if (auto tables = TablesOf(std::move(capture_rows_))) {
      SetTables(std::move(*tables));
      RejudgeQueued();
    }
    capture_rows_.clear();
    sample_columns_.clear();
  }
  // An execute's columns, for the rows of a cursor it opened (COM_STMT_FETCH has none).
  if (o.statement_id && !o.fetch && !result_columns_.empty())
    fetch_columns_[*o.statement_id] = result_columns_;
  result_columns_.clear();
  plans_.clear();
  planned_ = false;
  rows_in_result_ = 0;
  dropping_rows_ = false;
  fetch_unknown_ = false;
  if (o.kind == Open::Kind::kStatement) {
    o.record.duration = std::chrono::steady_clock::now() - o.started;
    completed_.push_back(std::move(o.record));
  }
}

Status MySqlTranscoder::OnBackend(std::span<const uint8_t> in, size_t* consumed,
                                  std::vector<uint8_t>* out) {
  size_t pos = 0;
  *consumed = 0;
  while (pos < in.size()) {
    const State before = decoder_.state();
    const bool in_auth =
        before == State::kAuth || (!open_.empty() && open_.front().kind == Open::Kind::kChangeUser);
    size_t n = 0;
    auto r = decoder_.Decode(in.subspan(pos), &n, &message_);
    if (r.status == mysql::DecodeStatus::kNeedMoreData) break;
    if (r.status == mysql::DecodeStatus::kError) return Error{r.error};
    auto raw = in.subspan(pos, n);
    pos += n;
    *consumed = pos;
    Open* front = open_.empty() ? nullptr : &open_.front();
    const bool internal = front && front->kind == Open::Kind::kInternal;
    const size_t out_before = out->size();
    // Rows queued so far go out before anything else of the response.
    if (!std::holds_alternative<mysql::TextRow>(message_) &&
        !std::holds_alternative<mysql::BinaryRow>(message_))
      if (Status s = FlushRows(out); !s.ok()) return s;
    if (in_auth) {
      // COM_CHANGE_USER's authentication exchange, relayed as it is.
      out->insert(out->end(), raw.begin(), raw.end());
      if (decoder_.state() == State::kIdle) auth_ended_ = true;
    } else if (internal && front->capture != Open::Capture::kNone &&
               std::holds_alternative<mysql::ErrPacket>(message_)) {
      front->capture_failed = true;  // the list stays as it was
    } else if (auto* err = std::get_if<mysql::ErrPacket>(&message_)) {
      if (internal)
        return Error{"veil's own statement failed upstream: error " +
                     std::to_string(err->error_code)};
      if (front) front->record.sqlstate = err->sql_state.empty() ? "HY000" : err->sql_state;
      MaskErr(err, !front || front->sensitive || front->writes || unreadable_results_);
      uint8_t seq = r.first_sequence_id;
      if (Status s = mysql::Encode(*err, decoder_.capabilities(), &seq, out); !s.ok()) return s;
    } else if (std::holds_alternative<mysql::LocalInfileRequest>(message_)) {
      // CLIENT_LOCAL_FILES is never negotiated through veil; a server asking anyway is not
      // answered with a file.
      return Error{"the server asked for a LOCAL INFILE, which veil refuses"};
    } else if (internal) {
      // veil's own statement: its answer is not the client's (a list's rows are kept).
      // A sample's text columns (others, "": numbers and dates are not learned by content),
      // and of each value its first 4 KiB.
      if (auto* c = std::get_if<mysql::ColumnDefinition>(&message_);
          c && before == State::kColumns && front->capture == Open::Capture::kSample)
        sample_columns_.push_back(
            TextLike(c->type) ? Lower(c->org_name.empty() ? c->name : c->org_name) : "");
      if (auto* row = std::get_if<mysql::TextRow>(&message_);
          row && front->capture != Open::Capture::kNone) {
        auto& kept = capture_rows_.emplace_back();
        const size_t cap = front->capture == Open::Capture::kSample ? 4096 : std::string::npos;
        for (const auto& v : row->values) kept.emplace_back(v.data.substr(0, cap));
      }
    } else if (auto* c = std::get_if<mysql::ColumnDefinition>(&message_)) {
      if (before == State::kColumns) {
        Column col{std::string(c->schema),
                   std::string(c->table),
                   std::string(c->org_table),
                   std::string(c->name),
                   std::string(c->org_name),
                   {c->type, (c->flags & mysql::column_flag::kUnsigned) != 0},
                   c->character_set,
                   c->type == mysql::ColumnType::kJson ||
                       (c->extended_metadata &&
                        c->extended_metadata->find("json") != std::string_view::npos)};
        result_columns_.push_back(std::move(col));
        planned_ = false;
      }
      ++definitions_;
      const size_t before_rename = out->size();
      if (names_tainted_ && front) {
        if (Status s = RenameColumn(*c, r.first_sequence_id, out); !s.ok()) return s;
      }
      if (out->size() == before_rename) out->insert(out->end(), raw.begin(), raw.end());
    } else if (std::holds_alternative<mysql::ColumnCount>(message_)) {
      result_columns_.clear();
      planned_ = false;
      definitions_ = 0;
      out->insert(out->end(), raw.begin(), raw.end());
    } else if (std::holds_alternative<mysql::TextRow>(message_) ||
               std::holds_alternative<mysql::BinaryRow>(message_)) {
      if (front) ++front->record.rows;
      ++rows_in_result_;
      if (max_rows_ && rows_in_result_ > *max_rows_) {
        // The rest of the result is dropped; its end says why, numbered as this row was (the
        // client counts the packets it gets).
        if (!dropping_rows_) drop_sequence_ = r.first_sequence_id;
        dropping_rows_ = true;
      } else {
        if (front && front->fetch && result_columns_.empty() && !planned_) {
          // COM_STMT_FETCH rows: the columns its execute described; without them every value
          // is replaced.
          auto it = front->statement_id ? fetch_columns_.find(*front->statement_id)
                                        : fetch_columns_.end();
          fetch_unknown_ =
              it == fetch_columns_.end() || it->second.size() != decoder_.columns().size();
          if (!fetch_unknown_) {
            result_columns_ = it->second;
          } else {
            result_columns_.resize(decoder_.columns().size());
            for (size_t i = 0; i < result_columns_.size(); ++i)
              result_columns_[i].type = decoder_.columns()[i];
          }
        }
        if (Status s = QueueRow(raw, r.first_sequence_id,
                                std::holds_alternative<mysql::BinaryRow>(message_), out);
            !s.ok())
          return s;
      }
    } else if (auto* ok = std::get_if<mysql::StmtPrepareOk>(&message_)) {
      definitions_ = 0;
      if (front) {
        prepared_texts_[ok->statement_id] = {
            front->record.text, front->sensitive, front->derived, front->uses_variables,
            front->diagnostics, front->star,      front->writes};
        prepared_.emplace_back(ok->statement_id, ok->num_params);
      }
      out->insert(out->end(), raw.begin(), raw.end());
    } else if (dropping_rows_ && (std::holds_alternative<mysql::EofPacket>(message_) ||
                                  std::holds_alternative<mysql::OkPacket>(message_))) {
      // The end of a result cut at max-rows: an error in its place.
      uint8_t seq = drop_sequence_;
      auto err = mysql::MakeErr(
          1142, "42000",
          "veil: result cut at " + std::to_string(*max_rows_) + " rows by guardrail max-rows");
      if (Status s = mysql::Encode(err, decoder_.capabilities(), &seq, out); !s.ok()) return s;
      if (front) front->record.sqlstate = "42000";
    } else if (auto* ok = std::get_if<mysql::OkPacket>(&message_);
               ok && !ok->session_state_info.empty() && front && front->sensitive) {
      // Session state tracking reports a system variable's new value: SET max_join_size from
      // a value, by dynamic SQL, reported the value. A statement that reads sensitive columns
      // (dynamic SQL counts as one) reports the other kinds of change only (unreadable: none).
      std::vector<mysql::SessionStateChange> changes;
      (void)mysql::DecodeSessionState(ok->session_state_info, &changes);
      const size_t all = changes.size();
      std::erase_if(changes, [](const mysql::SessionStateChange& c) {
        return c.type == mysql::SessionStateChange::kSystemVariable;
      });
      if (all > 0 && changes.size() == all) {
        out->insert(out->end(), raw.begin(), raw.end());
      } else {
        std::vector<uint8_t> kept;
        mysql::EncodeSessionState(changes, &kept);
        mysql::OkPacket copy = *ok;
        copy.session_state_info = {reinterpret_cast<const char*>(kept.data()), kept.size()};
        if (kept.empty()) copy.status_flags &= ~mysql::status::kSessionStateChanged;
        uint8_t seq = r.first_sequence_id;
        if (Status s = mysql::Encode(copy, decoder_.capabilities(), &seq, out); !s.ok()) return s;
      }
    } else {
      out->insert(out->end(), raw.begin(), raw.end());
    }
    if (front) front->record.bytes += out->size() - out_before;
    if (front && decoder_.state() == State::kIdle) Complete();
  }
  // The rest of this read's rows; the response goes on in the next.
  const size_t out_before = out->size();
  if (Status s = FlushRows(out); !s.ok()) return s;
  if (!open_.empty()) open_.front().record.bytes += out->size() - out_before;
  return {};
}

}  // namespace veil::agent