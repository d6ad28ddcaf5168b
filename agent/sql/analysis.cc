#include "agent/sql/analysis.h"

#include <pg_query.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "agent/sql/identifiers.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "pg_query.pb.h"

namespace veil::sql {
namespace {

using pg_query::CopyStmt;
using pg_query::DefElem;
using pg_query::Node;
using Kind = OutputColumn::Kind;

// ---- function classes --------------------------------------------------------------------

// Builtins that run SQL given as text, reach other databases, or read files or large objects:
// what they return cannot be followed.
const std::set<std::string, std::less<>> kOpaqueBuiltins = {
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "table_to_xml",
    "table_to_xmlschema",
    "table_to_xml_and_xmlschema",
    "schema_to_xml",
    "schema_to_xmlschema",
    "schema_to_xml_and_xmlschema",
    "database_to_xml",
    "database_to_xmlschema",
    "database_to_xml_and_xmlschema",
    "dblink",
    "dblink_get_result",
    "dblink_fetch",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "lo_get",
    "loread",
    "lo_export",
    "pg_stat_file",
    "ts_stat",
    "xpath_table",
    "crosstab",
    "pg_logical_slot_get_changes",
    "pg_logical_slot_peek_changes",
    "pg_logical_slot_get_binary_changes",
    "pg_logical_slot_peek_binary_changes",
    "current_setting",  // a value a previous set_config() stored
    // The statement text of other sessions (pg_stat_activity's source), literals and all.
    "pg_stat_get_activity",
    "pg_stat_get_backend_activity",
};

// Builtins with side effects or side channels: a value passed to them leaves by another road
// than the result (a setting, a sequence, a notification, a lock others can see, a file,
// timing). The proxy refuses a statement that passes a sensitive column's value to one.
const std::set<std::string, std::less<>> kSideEffectBuiltins = {
    "set_config",
    "setval",
    "pg_notify",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "pg_advisory_unlock",
    "pg_advisory_unlock_shared",
    "lo_from_bytea",
    "lo_put",
    "lowrite",
    "lo_import",
    "lo_create",
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "dblink_exec",
    "dblink_send_query",
    "pg_logical_emit_message",
    "pg_file_write",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_log_backend_memory_contexts",
    "txid_current",
    "pg_current_xact_id",
};

// Statistics catalogs that hold column values (most common values, histogram bounds).
const std::set<std::string, std::less<>> kDataCatalogs = {
    "pg_statistic",          "pg_stats",      "pg_stats_ext", "pg_stats_ext_exprs",
    "pg_statistic_ext_data", "pg_largeobject"};

// The system columns every stored relation has besides its own (PostgreSQL 15; oid is an
// ordinary column since 12).
const std::set<std::string, std::less<>> kSystemColumns = {"tableoid", "ctid", "xmin",
                                                           "cmin",     "xmax", "cmax"};

// Functions whose number of result rows is their arguments' value: a count of those rows (or
// the client counting them) would carry a sensitive argument out as a number. Refused with
// a sensitive argument, as the side-effect builtins are; LIMIT and OFFSET are alike.
const std::set<std::string, std::less<>> kCardinalityBuiltins = {"generate_series",
                                                                 "generate_subscripts"};

// Functions whose output's size is an argument: repeat('x', n), lpad(s, n), rpad(s, n),
// array_fill(v, dims). Harmless as values (a derived value is masked), but a set-returning
// function over their output makes as many rows as the size says.
const std::set<std::string, std::less<>> kSizeBuiltins = {"repeat", "lpad", "rpad", "array_fill"};

// Set-returning functions of a key and a value column.
const std::set<std::string, std::less<>> kPairSrfs = {"json_each", "jsonb_each", "json_each_text",
                                                      "jsonb_each_text"};

// Set-returning functions of one result column, by name.
const std::set<std::string, std::less<>> kScalarSrfs = {"generate_series",
                                                        "generate_subscripts",
                                                        "regexp_split_to_table",
                                                        "string_to_table",
                                                        "regexp_matches",
                                                        "json_array_elements",
                                                        "json_array_elements_text",
                                                        "jsonb_array_elements",
                                                        "jsonb_array_elements_text",
                                                        "json_object_keys",
                                                        "jsonb_object_keys",
                                                        "jsonb_path_query",
                                                        "pg_listening_channels",
                                                        "unnest"};

// ---- lineage values ----------------------------------------------------------------------

struct Lin {
  Kind kind = Kind::kDerived;
  std::vector<BaseColumn> sources;  // sorted, unique
  std::string why;
  // The FROM items' columns (Col::id) the value is computed from, through every subquery
  // level: what a predicate binds (Analyzer::Bind), resolved when a result is produced.
  std::vector<int> deps;  // sorted, unique

  static Lin Const() { return {}; }
  static Lin Unknown(std::string why, std::vector<BaseColumn> sources = {}) {
    Lin l{Kind::kUnknown, std::move(sources), std::move(why)};
    l.Normalize();
    return l;
  }
  static Lin Direct(BaseColumn c) { return {Kind::kDirect, {std::move(c)}, {}}; }

  void Normalize() {
    std::sort(sources.begin(), sources.end());
    sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  }
  // Computed from this and `o`: derived, or unknown if either is.
  void Absorb(const Lin& o) {
    sources.insert(sources.end(), o.sources.begin(), o.sources.end());
    deps.insert(deps.end(), o.deps.begin(), o.deps.end());
    Normalize();
    if (o.kind == Kind::kUnknown && kind != Kind::kUnknown) {
      kind = Kind::kUnknown;
      why = o.why;
    } else if (kind == Kind::kDirect) {
      kind = Kind::kDerived;
    }
  }
  Lin Derived() const {
    Lin l = *this;
    if (l.kind == Kind::kDirect) l.kind = Kind::kDerived;
    return l;
  }
  // One column of a UNION: direct if both branches are.
  static Lin Union(const Lin& a, const Lin& b) {
    Lin l = a;
    l.sources.insert(l.sources.end(), b.sources.begin(), b.sources.end());
    l.deps.insert(l.deps.end(), b.deps.begin(), b.deps.end());
    l.Normalize();
    if (a.kind == Kind::kUnknown || b.kind == Kind::kUnknown) {
      l.kind = Kind::kUnknown;
      l.why = a.kind == Kind::kUnknown ? a.why : b.why;
    } else if (a.kind == Kind::kDirect && b.kind == Kind::kDirect) {
      l.kind = Kind::kDirect;
    } else {
      l.kind = Kind::kDerived;
    }
    return l;
  }
};

// Identifies a column of a FROM item across the copies a scope makes of it (an item's
// columns, the `*` list, a join's alias): copies keep it, every new column gets a new one.
int NextColId() {
  thread_local int next = 0;
  return ++next;
}

struct Col {
  std::string name;
  Lin lin;
  int id = NextColId();
};

// A FROM item visible to column references.
struct Item {
  std::string name;    // alias, or the relation's name
  std::string schema;  // a relation's schema (for schema.table.column), else empty
  std::vector<Col> cols;
  bool shape_known = true;  // false: unknown relation or function: any column name resolves
  Lin any;                  // the lineage of a reference to it when !shape_known
  bool stored = false;      // a stored relation: it has system columns (tableoid, ctid, xmin…)
};

struct CteDef {
  std::vector<Col> cols;
  bool shape_known = true;
  Lin any;
};

struct Scope {
  std::vector<Item> items;
  std::vector<Col> star;  // what `*` expands to, in order (joins merge USING columns)
  const Scope* parent = nullptr;
  // CTEs visible here (inner WITH shadows outer), innermost last.
  std::vector<std::map<std::string, CteDef>> ctes;
};

std::string Str(const Node& n) { return n.has_string() ? n.string().sval() : std::string(); }

// A COPY option's value as PostgreSQL's defGetString/defGetBoolean read it; false when the
// node is of a kind they would refuse.
bool OptionString(const DefElem& d, std::string* out) {
  if (!d.has_arg()) return false;
  const Node& a = d.arg();
  if (a.has_string())
    *out = a.string().sval();
  else if (a.has_integer())
    *out = std::to_string(a.integer().ival());
  else if (a.has_boolean())
    *out = a.boolean().boolval() ? "true" : "false";
  else
    return false;
  return true;
}

bool OptionBool(const DefElem& d, bool* out) {
  if (!d.has_arg()) {
    *out = true;
    return true;
  }
  std::string v;
  if (!OptionString(d, &v)) return false;
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "true" || v == "on" || v == "1") {
    *out = true;
    return true;
  }
  if (v == "false" || v == "off" || v == "0") {
    *out = false;
    return true;
  }
  return false;  // "match" is COPY FROM's
}

// COPY … TO's format from its options, PostgreSQL's defaults filled in (ProcessCopyOptions).
CopyFormat CopyFormatOf(const CopyStmt& s) {
  CopyFormat f;
  std::optional<char> delimiter, quote, escape;
  std::optional<std::string> null;
  auto one_byte = [&](const DefElem& d, std::optional<char>* out) {
    std::string v;
    if (OptionString(d, &v) && v.size() == 1)
      *out = v[0];
    else
      f.understood = false;
  };
  for (const Node& n : s.options()) {
    if (!n.has_def_elem()) {
      f.understood = false;
      continue;
    }
    const DefElem& d = n.def_elem();
    const std::string& name = d.defname();
    std::string v;
    if (name == "format") {
      if (!OptionString(d, &v))
        f.understood = false;
      else if (v == "text")
        f.kind = CopyFormat::Kind::kText;
      else if (v == "csv")
        f.kind = CopyFormat::Kind::kCsv;
      else if (v == "binary")
        f.kind = CopyFormat::Kind::kBinary;
      else
        f.understood = false;
    } else if (name == "delimiter") {
      one_byte(d, &delimiter);
    } else if (name == "quote") {
      one_byte(d, &quote);
    } else if (name == "escape") {
      one_byte(d, &escape);
    } else if (name == "null") {
      if (OptionString(d, &v))
        null = v;
      else
        f.understood = false;
    } else if (name == "header") {
      if (!OptionBool(d, &f.header)) f.understood = false;
    } else if (name == "force_quote") {
      f.force_quote = true;  // a column list or *: quoting only, read either way
    } else if (name == "encoding") {
      // Encodings whose multi-byte characters may hold a delimiter's or a backslash's byte
      // (SJIS, BIG5, GBK, UHC, GB18030, JOHAB) would be split where the client does not.
      std::string e;
      if (OptionString(d, &v))
        for (char c : v)
          if (std::isalnum(static_cast<unsigned char>(c)))
            e.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      static constexpr std::string_view kAsciiSafe[] = {
          "utf8",   "unicode", "sqlascii", "latin", "iso8859", "win125", "win866",
          "win874", "cp125",   "cp866",    "koi8",  "euc",     "mule"};
      f.understood =
          f.understood && std::any_of(std::begin(kAsciiSafe), std::end(kAsciiSafe),
                                      [&](std::string_view p) { return e.starts_with(p); });
    } else if (name != "force_not_null" && name != "force_null" && name != "freeze" &&
               name != "default") {
      f.understood = false;  // one PostgreSQL 15 would refuse, or a later one's
    }
  }
  const bool csv = f.kind == CopyFormat::Kind::kCsv;
  f.delimiter = delimiter.value_or(csv ? ',' : '\t');
  f.null = null.value_or(csv ? "" : "\\N");
  f.quote = quote.value_or('"');
  f.escape = escape.value_or(f.quote);
  // The delimiter cannot be a line end, a backslash or appear in the null string; COPY
  // refuses those itself, so such a statement returns no data. Refuse them here too.
  if (f.delimiter == '\n' || f.delimiter == '\r' || f.delimiter == '\\' ||
      f.null.find(f.delimiter) != std::string::npos || (csv && f.delimiter == f.quote) ||
      (!csv && (f.delimiter == '\0' ||
                std::strchr("\\.abcdefghijklmnopqrstuvwxyz0123456789", f.delimiter))))
    f.understood = false;
  return f;
}

std::string FuncName(const google::protobuf::RepeatedPtrField<Node>& names, std::string* schema) {
  std::string name;
  for (int i = 0; i < names.size(); ++i) {
    if (i + 1 == names.size())
      name = Str(names[i]);
    else if (schema)
      *schema = Str(names[i]);
  }
  return name;
}

// Calls `visit` on `m` and, unless it answers true (handled), on every message under it.
void VisitMessages(const google::protobuf::Message& m,
                   const std::function<bool(const google::protobuf::Message&)>& visit) {
  if (visit(m)) return;
  const auto* refl = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  refl->ListFields(m, &fields);
  for (const auto* fd : fields) {
    if (fd->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (fd->is_repeated()) {
      for (int i = 0; i < refl->FieldSize(m, fd); ++i)
        VisitMessages(refl->GetRepeatedMessage(m, fd, i), visit);
    } else {
      VisitMessages(refl->GetMessage(m, fd), visit);
    }
  }
}

bool IsConstant(const Node& n) {
  if (n.has_a_const() || n.has_param_ref()) return true;
  if (n.has_type_cast()) return IsConstant(n.type_cast().arg());
  return false;
}

// ---- the analyzer --------------------------------------------------------------------------

class Analyzer {
 public:
  Analyzer(const CatalogSnapshot& catalog, StatementAnalysis* out) : cat_(catalog), out_(out) {}

  void Statement(const Node& stmt);

 private:
  // Queries.
  std::vector<Col> Select(const pg_query::SelectStmt& s, const Scope* parent,
                          const std::vector<std::map<std::string, CteDef>>& ctes, bool* known);
  void With(const pg_query::WithClause& w, const Scope* parent, Scope* scope);
  void FromItem(const Node& n, Scope* scope, std::vector<Col>* star);
  void RangeVarItem(const pg_query::RangeVar& rv, Scope* scope, std::vector<Col>* star);
  std::vector<Col> ViewColumns(const CatalogRelation& rel);
  Lin GeneratedColumn(const CatalogRelation& rel, const CatalogColumn& col);
  std::optional<std::vector<Col>> SelectText(const std::string& sql);
  std::vector<Col> TargetList(const google::protobuf::RepeatedPtrField<Node>& targets,
                              const Scope& scope, bool* known);
  // Expressions.
  Lin Expr(const Node& n, const Scope& scope);  // ExprNode, noting what computes on columns
  Lin ExprNode(const Node& n, const Scope& scope);
  bool Computes(const Node& n, const Lin& l) const;
  Lin Func(const pg_query::FuncCall& f, const Scope& scope);
  Lin SubLinkLin(const pg_query::SubLink& s, const Scope& scope);
  Lin ColumnRef(const pg_query::ColumnRef& c, const Scope& scope);
  Lin Generic(const google::protobuf::Message& m, const Scope& scope, std::string why);
  void ReadsEveryColumnOfNamedRelations(const google::protobuf::Message& m);
  void WholeRowsSeen(const pg_query::RangeVar& target);
  void Moved(const pg_query::RangeVar& rv, const std::string& new_schema,
             const std::string& new_table, const std::string& old_column,
             const std::string& new_column);
  Lin WholeRow(const Item& item);
  void Read(const Lin& l) { reads_.insert(reads_.end(), l.sources.begin(), l.sources.end()); }
  // Clauses that choose, order or group rows.
  void Filter(const Node& n, const Scope& scope);
  void FilterAll(const google::protobuf::RepeatedPtrField<Node>& list, const Scope& scope) {
    for (const auto& n : list) Filter(n, scope);
  }
  void Sort(const google::protobuf::RepeatedPtrField<Node>& sorts, const Scope& scope,
            const std::vector<Col>& outputs);
  // LIMIT and OFFSET: how many rows the client sees is their value (kCardinalityBuiltins).
  void RowCount(const Node& n, const Scope& scope) {
    Lin l = Expr(n, scope);
    NoteFilter(l, false);
    out_->side_effect_args.insert(out_->side_effect_args.end(), l.sources.begin(), l.sources.end());
  }
  void RangeAgainstColumns(const pg_query::A_Expr& e, const Scope& scope);
  void MixedAgainstColumns(const Node& n, const Lin* whole, const Scope& scope);
  static size_t ItemsOf(const std::vector<int>& deps, const Scope& scope);
  void NoteFilter(const Lin& l, bool equality) {
    for (const auto& c : l.sources) filters_.push_back({c, equality});
  }
  // Binding. A predicate that compares columns with an expression (g = substr(ssn, 1, 3)::int,
  // v IN (SELECT split_part(full_name, ' ', 1) …), t.name LIKE c.full_name) makes the rows that
  // pass carry values equal or matching to it: each column it references is *bound* to every
  // source of the predicate, and a reference to a bound column derives from them as well.
  // Bindings are transitive (a.x = b.y AND b.y = f(ssn)): a union-find over column ids.
  int Root(int id) {
    auto it = bind_parent_.find(id);
    if (it == bind_parent_.end()) return id;
    if (it->second == id) return id;
    int r = Root(it->second);
    bind_parent_[id] = r;
    return r;
  }
  void Bind(const std::vector<int>& ids, const Lin& predicate) {
    if (ids.empty()) return;
    int root = Root(ids[0]);
    bind_parent_.emplace(root, root);
    for (size_t i = 1; i < ids.size(); ++i) {
      int r = Root(ids[i]);
      if (r == root) continue;
      bind_parent_[r] = root;
      auto it = bind_sources_.find(r);
      if (it != bind_sources_.end()) {
        auto moved = std::move(it->second);
        bind_sources_.erase(it);
        bind_sources_[root].insert(bind_sources_[root].end(), moved.begin(), moved.end());
      }
    }
    auto& g = bind_sources_[root];
    g.insert(g.end(), predicate.sources.begin(), predicate.sources.end());
    std::sort(g.begin(), g.end());
    g.erase(std::unique(g.begin(), g.end()), g.end());
  }
  // A value as it leaves (a result column, a write): derived as well from what the columns it
  // is computed from were bound to, beyond its own sources.
  Lin Resolve(const Lin& l) {
    if (bind_parent_.empty()) return l;
    Lin more;
    for (int d : l.deps) {
      if (!bind_parent_.contains(d)) continue;
      auto it = bind_sources_.find(Root(d));
      if (it == bind_sources_.end()) continue;
      for (const auto& b : it->second)
        if (!std::binary_search(l.sources.begin(), l.sources.end(), b)) more.sources.push_back(b);
    }
    if (more.sources.empty()) return l;
    more.Normalize();
    Lin out = l;
    out.Absorb(more);
    return out;
  }
  // A column of `*` or `t.*`: a result column of its own, computed from (and read from) `c`.
  Col Expanded(const Col& c) {
    Col b = c;
    b.id = NextColId();
    b.lin.deps.push_back(c.id);
    b.lin.Normalize();
    Read(b.lin);
    return b;
  }
  // A predicate (or a sort key): binds every column it is computed from to all it reads.
  void BindPredicate(const Lin& l) { Bind(l.deps, l); }
  std::vector<OutputColumn> ToOutputs(const std::vector<Col>& cols) {
    std::vector<OutputColumn> out;
    out.reserve(cols.size());
    for (const auto& c : cols) {
      Lin l = Resolve(c.lin);
      out.push_back({c.name, l.kind, l.sources, l.why});
    }
    return out;
  }
  // Writes.
  void WriteTo(const BaseColumn& target, const Lin& v) {
    const Lin value = Resolve(v);
    out_->writes.push_back({target, value.sources, value.kind == Kind::kUnknown});
  }
  Item TargetItem(const pg_query::RangeVar& rv);
  std::string CreationSchema(const pg_query::RangeVar& rel) const;

  std::string ColumnName(const Node& val) const;
  bool SameText(const Lin& arg, const pg_query::TypeName& type) const;

  const CatalogSnapshot& cat_;
  StatementAnalysis* out_;
  bool sleeps_ = false;  // calls pg_sleep*: Func
  // Sources that set a size (kSizeBuiltins' size arguments), in evaluation order: Func.
  std::vector<BaseColumn> sized_;
  std::vector<BaseColumn> reads_;
  std::vector<BaseColumn> computed_;  // StatementAnalysis::computed
  std::vector<FilterUse> filters_;
  std::map<int, int> bind_parent_;
  std::map<int, std::vector<BaseColumn>> bind_sources_;  // by root
  std::set<uint32_t> views_open_;                        // views being expanded (cycle guard)
  std::set<uint32_t> generated_open_;  // tables whose generated columns are being traced
  int depth_ = 0;
};

Item Analyzer::TargetItem(const pg_query::RangeVar& rv) {
  Scope tmp;
  std::vector<Col> star;
  RangeVarItem(rv, &tmp, &star);
  return tmp.items.empty() ? Item{} : tmp.items.front();
}

std::vector<Col> Analyzer::ViewColumns(const CatalogRelation& rel) {
  std::vector<Col> cols;
  auto unknown = [&](const std::string& why) {
    for (const auto& c : rel.columns) cols.push_back({c.name, Lin::Unknown(why)});
    return cols;
  };
  if (rel.IsSystem()) {
    // PostgreSQL's own views: no definition fetched, nothing of a user's in them, except the
    // statistics views (handled by the caller) and the text of statements other sessions sent,
    // literals and all: a column of its own, which the proxy reads with literals normalized
    // out and masks whole in anything computed from it (IsStatementText).
    for (const auto& c : rel.columns)
      cols.push_back({c.name, IsStatementText({rel.schema, rel.name, c.name})
                                  ? Lin::Direct({rel.schema, rel.name, c.name})
                                  : Lin::Const()});
    return cols;
  }
  if (rel.view_definition.empty() || views_open_.contains(rel.oid) || depth_ > 32)
    return unknown("view " + rel.schema + "." + rel.name + " without a definition");
  views_open_.insert(rel.oid);
  auto body = SelectText(rel.view_definition);
  views_open_.erase(rel.oid);
  if (!body || body->size() != rel.columns.size())
    return unknown("view " + rel.schema + "." + rel.name + " not analysed");
  for (size_t i = 0; i < body->size(); ++i) cols.push_back({rel.columns[i].name, (*body)[i].lin});
  return cols;
}

// The result columns of a SELECT given as text (a view's definition, a generated column's
// expression), one level deeper; none when it does not parse as one SELECT or is not known.
std::optional<std::vector<Col>> Analyzer::SelectText(const std::string& sql) {
  PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql.c_str());
  pg_query::ParseResult tree;
  const bool parsed =
      !r.error && tree.ParseFromArray(r.parse_tree.data, static_cast<int>(r.parse_tree.len));
  pg_query_free_protobuf_parse_result(r);
  if (!parsed || tree.stmts_size() != 1 || !tree.stmts(0).stmt().has_select_stmt())
    return std::nullopt;
  ++depth_;
  bool known = true;
  std::vector<Col> body = Select(tree.stmts(0).stmt().select_stmt(), nullptr, {}, &known);
  --depth_;
  if (!known) return std::nullopt;
  return body;
}

// A generated column (`r text GENERATED ALWAYS AS (reverse(ssn)) STORED`) is stored, but its
// value is its expression's over the row: traced as `SELECT <expression> FROM the table`, so
// reverse(ssn) is derived from ssn as it would be in a view.
Lin Analyzer::GeneratedColumn(const CatalogRelation& rel, const CatalogColumn& col) {
  const std::string label = "generated column " + rel.schema + "." + rel.name + "." + col.name;
  if (generated_open_.contains(rel.oid) || depth_ > 32) return Lin::Unknown(label);
  generated_open_.insert(rel.oid);
  const size_t reads = reads_.size();  // read when a statement uses the column, not here
  auto body = SelectText("SELECT (" + col.generated + ") FROM ONLY " + QuoteIdent(rel.schema) +
                         "." + QuoteIdent(rel.name));
  reads_.resize(reads);
  generated_open_.erase(rel.oid);
  if (!body || body->size() != 1) return Lin::Unknown(label + " not analysed");
  const std::vector<Col>& cols = *body;
  Lin lin = cols[0].lin.Derived();
  lin.deps.clear();  // the expression's own FROM item, not the statement's
  return lin;
}

void Analyzer::RangeVarItem(const pg_query::RangeVar& rv, Scope* scope, std::vector<Col>* star) {
  Item item;
  item.name = rv.has_alias() ? rv.alias().aliasname() : rv.relname();
  // A CTE of that name, innermost first (only for an unqualified name).
  const CteDef* cte = nullptr;
  if (rv.schemaname().empty())
    for (const Scope* s = scope; s && !cte; s = s->parent)
      for (auto it = s->ctes.rbegin(); it != s->ctes.rend() && !cte; ++it)
        if (auto c = it->find(rv.relname()); c != it->end()) cte = &c->second;
  if (cte) {
    item.cols = cte->cols;
    item.shape_known = cte->shape_known;
    item.any = cte->any;
  } else if (const CatalogRelation* rel = cat_.Find(rv.schemaname(), rv.relname())) {
    item.schema = rel->schema;
    if (rel->schema == "pg_catalog" && kDataCatalogs.contains(rel->name)) {
      for (const auto& c : rel->columns)
        item.cols.push_back({c.name, Lin::Unknown("statistics catalog " + rel->name)});
    } else if (rel->IsView()) {
      item.cols = ViewColumns(*rel);
    } else {
      item.stored = true;
      for (const auto& c : rel->columns)
        item.cols.push_back({c.name, c.generated.empty()
                                         ? Lin::Direct({rel->schema, rel->name, c.name})
                                         : GeneratedColumn(*rel, c)});
    }
  } else {
    item.shape_known = false;
    out_->unknown_relation = true;
    item.any = Lin::Unknown("unknown relation " +
                            (rv.schemaname().empty() ? "" : rv.schemaname() + ".") + rv.relname());
  }
  if (rv.has_alias())
    for (int i = 0; i < rv.alias().colnames_size() && i < static_cast<int>(item.cols.size()); ++i)
      item.cols[i].name = Str(rv.alias().colnames(i));
  star->insert(star->end(), item.cols.begin(), item.cols.end());
  scope->items.push_back(std::move(item));
}

// Where CREATE puts a relation named without a schema: the first schema of the search path
// (pg_temp for a temporary one).
std::string Analyzer::CreationSchema(const pg_query::RangeVar& rel) const {
  if (!rel.schemaname().empty()) return rel.schemaname();
  for (const auto& nsp : cat_.search_path()) {
    const bool temp = nsp.starts_with("pg_temp");
    if (rel.relpersistence() == "t" ? temp : (!temp && nsp != "pg_catalog")) return nsp;
  }
  return rel.relpersistence() == "t" ? "pg_temp" : "public";
}

void Analyzer::FromItem(const Node& n, Scope* scope, std::vector<Col>* star) {
  if (n.has_range_var()) {
    RangeVarItem(n.range_var(), scope, star);
    return;
  }
  if (n.has_range_subselect()) {
    const auto& rs = n.range_subselect();
    Item item;
    item.name = rs.has_alias() ? rs.alias().aliasname() : "";
    bool known = true;
    if (rs.subquery().has_select_stmt()) {
      // Non-lateral subqueries cannot see their siblings; seeing them is only a superset.
      item.cols = Select(rs.subquery().select_stmt(), scope, {}, &known);
    } else {
      known = false;
    }
    if (!known) {
      item.shape_known = false;
      item.any = Lin::Unknown("subquery not analysed");
    }
    if (rs.has_alias())
      for (int i = 0; i < rs.alias().colnames_size() && i < static_cast<int>(item.cols.size()); ++i)
        item.cols[i].name = Str(rs.alias().colnames(i));
    star->insert(star->end(), item.cols.begin(), item.cols.end());
    scope->items.push_back(std::move(item));
    return;
  }
  if (n.has_range_function()) {
    const auto& rf = n.range_function();
    Item item;
    item.name = rf.has_alias() ? rf.alias().aliasname() : "";
    bool shape = true;
    for (const auto& entry : rf.functions()) {
      // Each entry: List(function call, column definition list or empty).
      if (!entry.has_list() || entry.list().items_size() == 0) {
        shape = false;
        continue;
      }
      const Node& call = entry.list().items(0);
      Lin l = Expr(call, *scope).Derived();
      int ncols = -1;
      std::string fname;
      if (call.has_func_call()) fname = FuncName(call.func_call().funcname(), nullptr);
      const Node* defs = entry.list().items_size() > 1 ? &entry.list().items(1) : nullptr;
      std::vector<std::string> names;
      if (defs && defs->has_list() && defs->list().items_size() > 0) {
        for (const auto& d : defs->list().items())
          names.push_back(d.has_column_def() ? d.column_def().colname() : "?column?");
      } else if (rf.coldeflist_size() > 0) {
        for (const auto& d : rf.coldeflist())
          names.push_back(d.has_column_def() ? d.column_def().colname() : "?column?");
      } else if (fname == "unnest" && call.has_func_call()) {
        ncols = std::max(1, call.func_call().args_size());
      } else if (kScalarSrfs.contains(fname)) {
        ncols = 1;
      } else if (kPairSrfs.contains(fname)) {
        names = {"key", "value"};
      } else if (l.kind != Kind::kUnknown && !cat_.IsUserFunction(fname) && call.has_func_call()) {
        ncols = 1;  // a scalar builtin in FROM: one column named after the function
      }
      if (names.empty() && ncols > 0)
        for (int i = 0; i < ncols; ++i)
          names.push_back(ncols == 1 ? (item.name.empty() ? fname : item.name) : fname);
      if (names.empty()) {
        shape = false;
        item.any.Absorb(l);
        if (item.any.kind != Kind::kUnknown)
          item.any = Lin::Unknown("function " + fname, l.sources);
        continue;
      }
      for (auto& name : names) item.cols.push_back({name, l});
    }
    if (rf.ordinality()) item.cols.push_back({"ordinality", Lin::Const()});
    if (rf.has_alias())
      for (int i = 0; i < rf.alias().colnames_size() && i < static_cast<int>(item.cols.size()); ++i)
        item.cols[i].name = Str(rf.alias().colnames(i));
    item.shape_known = shape;
    star->insert(star->end(), item.cols.begin(), item.cols.end());
    scope->items.push_back(std::move(item));
    return;
  }
  if (n.has_join_expr()) {
    const auto& j = n.join_expr();
    std::vector<Col> left, right;
    const size_t first = scope->items.size();
    FromItem(j.larg(), scope, &left);
    const size_t mid = scope->items.size();
    FromItem(j.rarg(), scope, &right);
    std::vector<std::string> using_cols;
    for (const auto& u : j.using_clause()) using_cols.push_back(Str(u));
    if (j.is_natural())
      for (const auto& l : left)
        for (const auto& r : right)
          if (l.name == r.name) using_cols.push_back(l.name);
    std::vector<Col> merged;
    for (const auto& name : using_cols) {
      auto li =
          std::find_if(left.begin(), left.end(), [&](const Col& c) { return c.name == name; });
      auto ri =
          std::find_if(right.begin(), right.end(), [&](const Col& c) { return c.name == name; });
      Lin l = li != left.end() ? li->lin : Lin::Unknown("join column " + name);
      Lin r = ri != right.end() ? ri->lin : Lin::Unknown("join column " + name);
      NoteFilter(l, false);
      NoteFilter(r, false);
      Read(l);
      Read(r);
      if (li != left.end() && ri != right.end()) {
        Lin both = Lin::Union(l, r);
        both.deps.push_back(li->id);
        both.deps.push_back(ri->id);
        both.Normalize();
        BindPredicate(both);
      }
      merged.push_back({name, Lin::Union(l, r)});
      if (li != left.end()) left.erase(li);
      if (ri != right.end()) right.erase(ri);
    }
    if (j.has_quals()) Filter(j.quals(), *scope);
    std::vector<Col> all = merged;
    all.insert(all.end(), left.begin(), left.end());
    all.insert(all.end(), right.begin(), right.end());
    if (!merged.empty()) {
      // Unqualified references to a merged column resolve to the merge.
      Item m;
      m.cols = merged;
      scope->items.insert(scope->items.begin() + static_cast<long>(first), std::move(m));
    }
    (void)mid;
    if (j.has_alias()) {
      Item a;
      a.name = j.alias().aliasname();
      a.cols = all;
      for (int i = 0; i < j.alias().colnames_size() && i < static_cast<int>(a.cols.size()); ++i)
        a.cols[i].name = Str(j.alias().colnames(i));
      scope->items.push_back(std::move(a));
    }
    star->insert(star->end(), all.begin(), all.end());
    return;
  }
  if (n.has_range_table_sample()) {
    FromItem(n.range_table_sample().relation(), scope, star);
    for (const auto& a : n.range_table_sample().args()) Filter(a, *scope);
    return;
  }
  if (n.has_range_table_func()) {
    const auto& t = n.range_table_func();
    Lin l = Expr(t.docexpr(), *scope).Derived();
    l.Absorb(Expr(t.rowexpr(), *scope));
    Item item;
    item.name = t.has_alias() ? t.alias().aliasname() : "xmltable";
    for (const auto& c : t.columns()) {
      if (!c.has_range_table_func_col()) continue;
      Lin cl = l;
      if (c.range_table_func_col().has_colexpr())
        cl.Absorb(Expr(c.range_table_func_col().colexpr(), *scope));
      item.cols.push_back({c.range_table_func_col().colname(), cl});
    }
    star->insert(star->end(), item.cols.begin(), item.cols.end());
    scope->items.push_back(std::move(item));
    return;
  }
  // Anything else in FROM: a relation of unknown shape, derived from what it references.
  Item item;
  item.shape_known = false;
  item.any = Generic(n, *scope, "FROM item not analysed");
  scope->items.push_back(std::move(item));
}

void Analyzer::With(const pg_query::WithClause& w, const Scope* parent, Scope* scope) {
  scope->ctes.emplace_back();
  for (const auto& node : w.ctes()) {
    if (!node.has_common_table_expr()) continue;
    const auto& cte = node.common_table_expr();
    CteDef def;
    const bool select = cte.ctequery().has_select_stmt();
    if (!select) {
      // A data-modifying CTE: INSERT/UPDATE/DELETE … RETURNING.
      out_->writes_data = true;
      StatementAnalysis inner;
      Analyzer sub(cat_, &inner);
      sub.Statement(cte.ctequery());
      sleeps_ = sleeps_ || sub.sleeps_;
      out_->writes.insert(out_->writes.end(), inner.writes.begin(), inner.writes.end());
      out_->side_effect_args.insert(out_->side_effect_args.end(), inner.side_effect_args.begin(),
                                    inner.side_effect_args.end());
      reads_.insert(reads_.end(), inner.reads.begin(), inner.reads.end());
      computed_.insert(computed_.end(), inner.computed.begin(), inner.computed.end());
      filters_.insert(filters_.end(), inner.filters.begin(), inner.filters.end());
      if (inner.ok && inner.columns_known) {
        for (const auto& c : inner.columns)
          def.cols.push_back({c.name, Lin{c.kind, c.sources, c.why}});
      } else {
        def.shape_known = false;
        def.any = Lin::Unknown("data-modifying CTE " + cte.ctename());
      }
    } else {
      const auto& q = cte.ctequery().select_stmt();
      bool known = true;
      const bool recursive = w.recursive() && q.op() == pg_query::SETOP_UNION;
      if (recursive) {
        // The non-recursive term first, then the recursive term with the CTE bound to what
        // was found so far, until its lineage stops growing.
        std::vector<Col> cols = Select(q.larg(), parent, scope->ctes, &known);
        for (int i = 0; i < cte.aliascolnames_size() && i < static_cast<int>(cols.size()); ++i)
          cols[i].name = Str(cte.aliascolnames(i));
        for (int round = 0; round < 8 && known; ++round) {
          scope->ctes.back()[cte.ctename()] = CteDef{cols, true, {}};
          std::vector<Col> next = Select(q.rarg(), parent, scope->ctes, &known);
          if (!known || next.size() != cols.size()) {
            known = false;
            break;
          }
          bool grew = false;
          for (size_t i = 0; i < cols.size(); ++i) {
            Lin u = Lin::Union(cols[i].lin, next[i].lin);
            if (u.sources != cols[i].lin.sources || u.kind != cols[i].lin.kind) grew = true;
            cols[i].lin = u;
          }
          if (!grew) break;
          if (round == 7) known = false;
        }
        def.cols = cols;
      } else {
        def.cols = Select(q, parent, scope->ctes, &known);
      }
      if (!known) {
        def.shape_known = false;
        def.any = Lin::Unknown("CTE " + cte.ctename() + " not analysed");
      }
    }
    for (int i = 0; i < cte.aliascolnames_size() && i < static_cast<int>(def.cols.size()); ++i)
      def.cols[i].name = Str(cte.aliascolnames(i));
    scope->ctes.back()[cte.ctename()] = std::move(def);
  }
}

std::vector<Col> Analyzer::Select(const pg_query::SelectStmt& s, const Scope* parent,
                                  const std::vector<std::map<std::string, CteDef>>& ctes,
                                  bool* known) {
  if (++depth_ > 64) {
    --depth_;
    *known = false;
    return {};
  }
  Scope scope;
  scope.parent = parent;
  scope.ctes = ctes;
  if (s.has_with_clause()) With(s.with_clause(), parent, &scope);
  std::vector<Col> out;
  if (s.op() != pg_query::SETOP_NONE && s.op() != pg_query::SET_OPERATION_UNDEFINED) {
    bool lk = true, rk = true;
    Scope inner = scope;  // the WITH of this level is visible to both branches
    std::vector<Col> l = Select(s.larg(), &inner, {}, &lk);
    std::vector<Col> r = Select(s.rarg(), &inner, {}, &rk);
    if (!lk || !rk || l.size() != r.size()) {
      *known = false;
    } else {
      for (size_t i = 0; i < l.size(); ++i)
        out.push_back({l[i].name, Lin::Union(l[i].lin, r[i].lin)});
    }
    Sort(s.sort_clause(), scope, out);
    if (s.has_limit_count()) RowCount(s.limit_count(), scope);
    if (s.has_limit_offset()) RowCount(s.limit_offset(), scope);
    --depth_;
    return out;
  }
  if (s.values_lists_size() > 0) {
    for (const auto& row : s.values_lists()) {
      if (!row.has_list()) continue;
      const auto& items = row.list().items();
      if (out.empty())
        for (int i = 0; i < items.size(); ++i)
          out.push_back({"column" + std::to_string(i + 1), Lin::Const()});
      for (int i = 0; i < items.size() && i < static_cast<int>(out.size()); ++i) {
        Lin l = Expr(items[i], scope);
        out[i].lin.Absorb(l);
      }
    }
    Sort(s.sort_clause(), scope, out);
    --depth_;
    return out;
  }
  for (const auto& f : s.from_clause()) FromItem(f, &scope, &scope.star);
  if (s.has_where_clause()) Filter(s.where_clause(), scope);
  // HAVING binds what it compares (see Bind) before the result columns are read; so does an
  // ORDER BY, GROUP BY or DISTINCT ON expression: ORDER BY abs(g - f(ssn)) LIMIT 1 returns the
  // g nearest the value, min(g) … GROUP BY g = f(ssn) the value itself.
  if (s.has_having_clause()) Filter(s.having_clause(), scope);
  std::vector<const Node*> keys;
  for (const auto* list : {&s.sort_clause(), &s.group_clause(), &s.distinct_clause()})
    for (const auto& k : *list) keys.push_back(&k);
  for (const Node* key : keys) {
    const Node& e = key->has_sort_by() ? key->sort_by().node() : *key;
    if (e.node_case() == Node::NODE_NOT_SET) continue;
    if (e.has_a_const() || e.has_column_ref()) continue;  // a position, or one name
    const Lin l = Expr(e, scope);
    // A GROUP BY or DISTINCT ON key that computes a value with another item's column makes as
    // many groups, of such sizes, as the value says: GROUP BY g < v gives count(*) 536 and
    // 464, GROUP BY least(g, v) 537 groups. (ORDER BY only orders: the key binds, as above.)
    if (!key->has_sort_by()) MixedAgainstColumns(e, &l, scope);
    BindPredicate(l);
  }
  // SELECT DISTINCT least(g, v): as many rows as the value says.
  if (s.distinct_clause_size() == 1 && s.distinct_clause(0).node_case() == Node::NODE_NOT_SET)
    for (const auto& t : s.target_list())
      if (t.has_res_target() && t.res_target().has_val()) {
        const Node& v = t.res_target().val();
        if (v.has_column_ref() || v.has_a_const()) continue;
        MixedAgainstColumns(v, nullptr, scope);
      }
  out = TargetList(s.target_list(), scope, known);
  // GROUP BY and DISTINCT ON take positions and output names as ORDER BY does.
  Sort(s.group_clause(), scope, out);
  google::protobuf::RepeatedPtrField<Node> distinct;
  for (const auto& d : s.distinct_clause())
    if (d.node_case() != Node::NODE_NOT_SET) *distinct.Add() = d;
  Sort(distinct, scope, out);
  for (const auto& w : s.window_clause())
    if (w.has_window_def()) {
      if (w.window_def().has_start_offset()) RowCount(w.window_def().start_offset(), scope);
      if (w.window_def().has_end_offset()) RowCount(w.window_def().end_offset(), scope);
      FilterAll(w.window_def().partition_clause(), scope);
      Sort(w.window_def().order_clause(), scope, out);
    }
  Sort(s.sort_clause(), scope, out);
  if (s.has_limit_count()) RowCount(s.limit_count(), scope);
  if (s.has_limit_offset()) RowCount(s.limit_offset(), scope);
  if (s.locking_clause_size() > 0) out_->writes_data = true;
  if (s.has_into_clause()) {
    out_->writes_data = true;
    out_->ddl = true;
    const auto& rel = s.into_clause().rel();
    const std::string schema = CreationSchema(rel);
    for (size_t i = 0; i < out.size(); ++i) {
      std::string name = i < static_cast<size_t>(s.into_clause().col_names_size())
                             ? Str(s.into_clause().col_names(static_cast<int>(i)))
                             : out[i].name;
      WriteTo({schema, rel.relname(), name}, out[i].lin);
    }
  }
  --depth_;
  return out;
}

std::vector<Col> Analyzer::TargetList(const google::protobuf::RepeatedPtrField<Node>& targets,
                                      const Scope& scope, bool* known) {
  std::vector<Col> out;
  for (const auto& t : targets) {
    if (!t.has_res_target()) continue;
    const auto& rt = t.res_target();
    const Node& val = rt.val();
    // `*` and `t.*`.
    if (val.has_column_ref() && val.column_ref().fields_size() > 0 &&
        val.column_ref().fields(val.column_ref().fields_size() - 1).has_a_star()) {
      const auto& fields = val.column_ref().fields();
      if (fields.size() == 1) {
        for (const auto& item : scope.items)
          if (!item.shape_known) *known = false;
        for (const auto& c : scope.star) out.push_back(Expanded(c));
      } else {
        const std::string name = Str(fields[fields.size() - 2]);
        const Item* found = nullptr;
        for (const Scope* s = &scope; s && !found; s = s->parent)
          for (const auto& item : s->items)
            if (item.name == name) {
              found = &item;
              break;
            }
        if (!found || !found->shape_known) {
          *known = false;
          continue;
        }
        for (const auto& c : found->cols) out.push_back(Expanded(c));
      }
      continue;
    }
    Lin l = Expr(val, scope);
    out.push_back({rt.name().empty() ? ColumnName(val) : rt.name(), l});
  }
  return out;
}

// A cast that changes a text-like column's type but not its text (payload::text, a driver's
// email::varchar): the value is still the column's own, masked as a direct reference.
bool Analyzer::SameText(const Lin& arg, const pg_query::TypeName& type) const {
  static const std::set<std::string, std::less<>> kTextTypes = {"text", "varchar", "json", "jsonb"};
  static const std::set<uint32_t> kTextOids = {25, 1043, 114, 3802};  // text varchar json jsonb
  if (arg.kind != Kind::kDirect || arg.sources.size() != 1 || type.typmods_size() > 0 ||
      type.array_bounds_size() > 0 || type.names_size() == 0)
    return false;
  const std::string name = Str(type.names(type.names_size() - 1));
  if (type.names_size() > 1 && Str(type.names(0)) != "pg_catalog") return false;
  if (!kTextTypes.contains(name) && name != "character varying") return false;
  const auto& src = arg.sources[0];
  const CatalogRelation* rel = cat_.Find(src.schema, src.table);
  if (!rel) return false;
  for (const auto& c : rel->columns)
    if (c.name == src.column) return kTextOids.contains(c.type_oid);
  return false;
}

std::string Analyzer::ColumnName(const Node& v) const {
  if (v.has_column_ref()) {
    const auto& f = v.column_ref().fields();
    return f.empty() ? "?column?" : Str(f[f.size() - 1]);
  }
  if (v.has_func_call()) return FuncName(v.func_call().funcname(), nullptr);
  if (v.has_type_cast()) {
    const Node& a = v.type_cast().arg();
    if (a.has_column_ref() || a.has_func_call()) return ColumnName(a);
    const auto& names = v.type_cast().type_name().names();
    return names.empty() ? "?column?" : Str(names[names.size() - 1]);
  }
  if (v.has_collate_clause()) return ColumnName(v.collate_clause().arg());
  if (v.has_case_expr()) return "case";
  if (v.has_a_array_expr()) return "array";
  if (v.has_row_expr()) return "row";
  if (v.has_coalesce_expr()) return "coalesce";
  if (v.has_min_max_expr())
    return v.min_max_expr().op() == pg_query::IS_GREATEST ? "greatest" : "least";
  if (v.has_sub_link()) {
    if (v.sub_link().sub_link_type() == pg_query::EXISTS_SUBLINK) return "exists";
    if (v.sub_link().sub_link_type() == pg_query::ARRAY_SUBLINK) return "array";
  }
  if (v.has_a_indirection()) return ColumnName(v.a_indirection().arg());
  return "?column?";
}

Lin Analyzer::WholeRow(const Item& item) {
  if (!item.shape_known) return item.any;
  Lin l;
  for (const auto& c : item.cols) {
    Lin cl = c.lin;
    cl.deps.push_back(c.id);
    l.Absorb(cl);
  }
  return l.Derived();
}

Lin Analyzer::ColumnRef(const pg_query::ColumnRef& c, const Scope& scope) {
  const auto& f = c.fields();
  if (f.empty()) return Lin::Unknown("empty column reference");
  if (f[f.size() - 1].has_a_star()) {
    // t.* inside an expression (row_to_json(t.*)): the whole row.
    if (f.size() == 1) {
      Lin l;
      for (const auto& item : scope.items) l.Absorb(WholeRow(item));
      Read(l);
      return l.Derived();
    }
    const std::string t = Str(f[f.size() - 2]);
    for (const Scope* s = &scope; s; s = s->parent)
      for (const auto& item : s->items)
        if (item.name == t) {
          Lin l = WholeRow(item);
          Read(l);
          return l;
        }
    return Lin::Unknown("unknown relation " + t);
  }
  const std::string col = Str(f[f.size() - 1]);
  std::string table = f.size() >= 2 ? Str(f[f.size() - 2]) : "";
  std::string schema = f.size() >= 3 ? Str(f[f.size() - 3]) : "";
  for (const Scope* s = &scope; s; s = s->parent) {
    std::optional<Lin> hit;
    for (const auto& item : s->items) {
      if (!table.empty() && item.name != table) continue;
      if (!schema.empty() && !item.schema.empty() && item.schema != schema) continue;
      if (!item.shape_known) {  // any name may be a column of an unknown relation
        hit = hit ? Lin::Union(*hit, item.any) : item.any;
        continue;
      }
      for (const auto& colinfo : item.cols)
        if (colinfo.name == col) {
          Lin l = colinfo.lin;
          l.deps.push_back(colinfo.id);
          l.Normalize();
          hit = hit ? Lin::Union(*hit, l) : l;
          break;
        }
    }
    if (hit) {
      Read(*hit);
      return *hit;
    }
    // A system column (pg_dump reads tableoid of every catalog it dumps): where the row is
    // stored and by which transaction, never a value of it.
    if (kSystemColumns.contains(col))
      for (const auto& item : s->items)
        if (item.stored && (table.empty() || item.name == table)) return Lin::Const();
    // A whole-row reference by the item's name (SELECT c FROM customers c).
    if (table.empty()) {
      for (const auto& item : s->items)
        if (item.name == col) {
          Lin l = WholeRow(item);
          Read(l);
          return l;
        }
    }
  }
  return Lin::Unknown("unresolved column " + (table.empty() ? "" : table + ".") + col);
}

Lin Analyzer::Func(const pg_query::FuncCall& f, const Scope& scope) {
  std::string schema;
  const std::string name = FuncName(f.funcname(), &schema);
  Lin l;
  // Aggregate ORDER BY and FILTER, and a window's PARTITION BY and ORDER BY, shape the result.
  for (const auto& o : f.agg_order())
    if (o.has_sort_by()) l.Absorb(Expr(o.sort_by().node(), scope));
  if (f.has_agg_filter()) {
    Filter(f.agg_filter(), scope);
  }
  if (f.has_over()) {
    // ROWS BETWEEN CURRENT ROW AND n FOLLOWING: count(*) over the frame is n + 1.
    if (f.over().has_start_offset()) RowCount(f.over().start_offset(), scope);
    if (f.over().has_end_offset()) RowCount(f.over().end_offset(), scope);
    for (const auto& p : f.over().partition_clause()) {
      Lin pl = Expr(p, scope);
      NoteFilter(pl, false);
      l.Absorb(pl);
    }
    for (const auto& o : f.over().order_clause())
      if (o.has_sort_by()) {
        Lin ol = Expr(o.sort_by().node(), scope);
        NoteFilter(ol, false);
        l.Absorb(ol);
      }
  }
  const bool builtin = schema == "pg_catalog" || (schema.empty() && !cat_.IsUserFunction(name));
  // count(*), count(x), count(DISTINCT x) of a bare column: a number that holds no value.
  if (builtin && name == "count" && !f.has_over() &&
      (f.agg_star() ||
       (f.args_size() == 1 && f.args(0).has_column_ref() &&
        !f.args(0).column_ref().fields(f.args(0).column_ref().fields_size() - 1).has_a_star()))) {
    if (f.args_size() == 1) Read(Expr(f.args(0), scope));
    return l.Derived();  // nothing, or what an ORDER BY inside it read
  }
  Lin args;
  const size_t sized_before = sized_.size();
  for (int i = 0; i < f.args_size(); ++i) {
    Lin a = Expr(f.args(i), scope);
    // The size argument of repeat, lpad, rpad (the second) and array_fill (its dimensions).
    if (i == 1 && kSizeBuiltins.contains(name))
      sized_.insert(sized_.end(), a.sources.begin(), a.sources.end());
    args.Absorb(a);
  }
  l.Absorb(args);
  // unnest(array_fill(1, ARRAY[v])), regexp_split_to_table(repeat('x,', v), ','): as many
  // rows as a value said, as generate_series(1, v) makes (kCardinalityBuiltins).
  if (sized_.size() > sized_before && (kScalarSrfs.contains(name) || kPairSrfs.contains(name)))
    out_->side_effect_args.insert(out_->side_effect_args.end(), sized_.begin() + sized_before,
                                  sized_.end());
  if (!builtin) {
    out_->unknown_function = true;
    return Lin::Unknown("function " + (schema.empty() ? "" : schema + ".") + name, l.sources);
  }
  if (kOpaqueBuiltins.contains(name)) {
    out_->unknown_function = true;
    return Lin::Unknown("function " + name, l.sources);
  }
  if (kSideEffectBuiltins.contains(name) || kCardinalityBuiltins.contains(name))
    out_->side_effect_args.insert(out_->side_effect_args.end(), args.sources.begin(),
                                  args.sources.end());
  // A sleep answers with time whatever decides whether it runs: CASE WHEN substr(ssn, 1, 1) =
  // '5' THEN pg_sleep(1) END (sqlmap's time-based template). Every column the statement reads
  // counts as its argument.
  if (name.starts_with("pg_sleep")) sleeps_ = true;
  return l.Derived();
}

Lin Analyzer::SubLinkLin(const pg_query::SubLink& s, const Scope& scope) {
  Lin l;
  if (s.has_testexpr()) l.Absorb(Expr(s.testexpr(), scope));
  if (!s.subselect().has_select_stmt()) return Generic(s, scope, "sublink not analysed");
  // What the sub-select's WHERE and joins read decides which rows it yields: an EXISTS or IN
  // built on it derives from them as well.
  const size_t reads_before = reads_.size();
  bool known = true;
  std::vector<Col> cols = Select(s.subselect().select_stmt(), &scope, {}, &known);
  if (!known) return Lin::Unknown("sub-select not analysed", l.sources);
  for (const auto& c : cols) l.Absorb(c.lin);
  if (s.sub_link_type() != pg_query::EXPR_SUBLINK && s.sub_link_type() != pg_query::ARRAY_SUBLINK) {
    Lin chosen;
    chosen.sources.assign(reads_.begin() + static_cast<long>(reads_before), reads_.end());
    chosen.Normalize();
    l.Absorb(chosen);
  }
  return l.Derived();
}

// The rows a write touches are seen whole by the table's constraints and triggers, and what
// they raise quotes them ("Failing row contains (…)", a trigger's RAISE NOTICE '%', NEW): a
// write reads every column of its target.
// ALTER TABLE … RENAME [COLUMN], RENAME TO, SET SCHEMA (and ALTER SCHEMA … RENAME, for every
// relation of the schema): a column's values take a new name.
// Reported as a write of the old column into the new one, so that what was learned of it (a
// temp table's column that received reversed SSNs) moves with its values. Where the catalog
// does not know the relation yet, every schema of the search path is a candidate (a write to
// one that holds nothing sensitive marks nothing); a whole table is moved column by column, so
// it must be known. Empty new_schema/new_table/new_column: unchanged; empty old_column: all.
void Analyzer::Moved(const pg_query::RangeVar& rv, const std::string& new_schema,
                     const std::string& new_table, const std::string& old_column,
                     const std::string& new_column) {
  std::vector<std::string> schemas;
  std::vector<std::string> columns;
  if (const CatalogRelation* rel = cat_.Find(rv.schemaname(), rv.relname())) {
    schemas.push_back(rel->schema);
    for (const auto& c : rel->columns) columns.push_back(c.name);
  } else if (!rv.schemaname().empty()) {
    schemas.push_back(rv.schemaname());
  } else {
    schemas = cat_.search_path();
  }
  if (!old_column.empty()) columns = {old_column};
  for (const auto& schema : schemas)
    for (const auto& c : columns)
      WriteTo({new_schema.empty() ? schema : new_schema,
               new_table.empty() ? rv.relname() : new_table, new_column.empty() ? c : new_column},
              Lin::Direct({schema, rv.relname(), c}));
}

void Analyzer::WholeRowsSeen(const pg_query::RangeVar& target) {
  ReadsEveryColumnOfNamedRelations(target);
}

void Analyzer::ReadsEveryColumnOfNamedRelations(const google::protobuf::Message& m) {
  VisitMessages(m, [&](const google::protobuf::Message& msg) {
    const auto* rv = dynamic_cast<const pg_query::RangeVar*>(&msg);
    if (!rv) return false;
    if (const CatalogRelation* rel = cat_.Find(rv->schemaname(), rv->relname()))
      for (const auto& c : rel->columns) reads_.push_back({rel->schema, rel->name, c.name});
    return true;
  });
}

// Anything this analysis does not handle: every column reference found under it, unknown.
Lin Analyzer::Generic(const google::protobuf::Message& m, const Scope& scope, std::string why) {
  Lin l = Lin::Unknown(std::move(why));
  VisitMessages(m, [&](const google::protobuf::Message& msg) {
    const auto* node = dynamic_cast<const Node*>(&msg);
    if (node && node->has_column_ref()) {
      Lin c = ColumnRef(node->column_ref(), scope);
      l.sources.insert(l.sources.end(), c.sources.begin(), c.sources.end());
      return true;
    }
    if (node && node->has_select_stmt()) {
      bool known = true;
      for (const auto& c : Select(node->select_stmt(), &scope, {}, &known))
        l.sources.insert(l.sources.end(), c.lin.sources.begin(), c.lin.sources.end());
      return true;
    }
    return false;
  });
  l.Normalize();
  Read(l);
  return l;
}

Lin Analyzer::Expr(const Node& n, const Scope& scope) {
  Lin l = ExprNode(n, scope);
  if (!l.sources.empty() && Computes(n, l))
    computed_.insert(computed_.end(), l.sources.begin(), l.sources.end());
  return l;
}

// Whether node `n`, whose value is `l`, computes on its sources: a function, an arithmetic
// operator, CASE, COALESCE, NULLIF, a cast that changes the value, a column of a derived table,
// CTE or view that is no bare base column. Not: a bare column, a comparison (=, <, LIKE, IN,
// BETWEEN, IS DISTINCT FROM), AND/OR/NOT, IS [NOT] NULL, a row or list, a subquery (whose own
// expressions are judged where they stand).
bool Analyzer::Computes(const Node& n, const Lin& l) const {
  switch (n.node_case()) {
    case Node::kColumnRef:
    case Node::kTypeCast:
      return l.kind != Kind::kDirect;
    case Node::kCollateClause:
    case Node::kNamedArgExpr:
    case Node::kBoolExpr:
    case Node::kNullTest:
    case Node::kBooleanTest:
    case Node::kRowExpr:
    case Node::kList:
    case Node::kSubLink:
      return false;
    case Node::kAExpr: {
      const auto& e = n.a_expr();
      switch (e.kind()) {
        case pg_query::AEXPR_IN:
        case pg_query::AEXPR_LIKE:
        case pg_query::AEXPR_ILIKE:
        case pg_query::AEXPR_SIMILAR:
        case pg_query::AEXPR_BETWEEN:
        case pg_query::AEXPR_NOT_BETWEEN:
        case pg_query::AEXPR_BETWEEN_SYM:
        case pg_query::AEXPR_NOT_BETWEEN_SYM:
        case pg_query::AEXPR_DISTINCT:
        case pg_query::AEXPR_NOT_DISTINCT:
          return false;
        case pg_query::AEXPR_OP:
        case pg_query::AEXPR_OP_ANY:
        case pg_query::AEXPR_OP_ALL: {
          static const std::set<std::string, std::less<>> kCompare = {
              "=", "<>", "!=", "<", ">", "<=", ">=", "~~", "~~*", "!~~", "!~~*"};
          const auto& names = e.name();
          return names.empty() || !kCompare.contains(Str(names[names.size() - 1]));
        }
        default:
          return true;  // NULLIF and what else may compute
      }
    }
    default:
      return true;
  }
}

Lin Analyzer::ExprNode(const Node& n, const Scope& scope) {
  switch (n.node_case()) {
    case Node::NODE_NOT_SET:
    case Node::kAConst:
    case Node::kParamRef:
    case Node::kSqlvalueFunction:
    case Node::kSetToDefault:
    case Node::kInteger:
    case Node::kFloat:
    case Node::kString:
    case Node::kBoolean:
    case Node::kBitString:
      return Lin::Const();
    case Node::kColumnRef:
      return ColumnRef(n.column_ref(), scope);
    case Node::kTypeCast: {
      Lin arg = Expr(n.type_cast().arg(), scope);
      const auto& names = n.type_cast().type_name().names();
      const std::string type = names.empty() ? std::string() : Str(names[names.size() - 1]);
      if (!type.empty() && cat_.IsUserCastTarget(type)) {
        // The cast (or the domain's CHECK) runs code veil cannot follow, as a user function.
        out_->unknown_function = true;
        return Lin::Unknown("cast to " + type, arg.sources);
      }
      return SameText(arg, n.type_cast().type_name()) ? arg : arg.Derived();
    }
    case Node::kCollateClause:
      return Expr(n.collate_clause().arg(), scope);  // the same value, compared differently
    case Node::kNamedArgExpr:
      return Expr(n.named_arg_expr().arg(), scope);
    case Node::kFuncCall:
      return Func(n.func_call(), scope);
    case Node::kAExpr: {
      Lin l = Expr(n.a_expr().lexpr(), scope).Derived();
      l.Absorb(Expr(n.a_expr().rexpr(), scope));
      const auto& names = n.a_expr().name();
      const std::string op = names.empty() ? std::string() : Str(names[names.size() - 1]);
      const bool qualified_builtin = names.size() == 2 && Str(names[0]) == "pg_catalog";
      if (!op.empty() && !qualified_builtin && cat_.IsUserOperator(op)) {
        // An application's operator runs its function: it may read any table and RAISE what it
        // read, or return it, as an opaque function may.
        out_->unknown_function = true;
        return Lin::Unknown("operator " + op, l.sources);
      }
      return l.Derived();
    }
    case Node::kBoolExpr: {
      Lin l;
      for (const auto& a : n.bool_expr().args()) l.Absorb(Expr(a, scope));
      return l.Derived();
    }
    case Node::kNullTest:
      return Expr(n.null_test().arg(), scope).Derived();
    case Node::kBooleanTest:
      return Expr(n.boolean_test().arg(), scope).Derived();
    case Node::kCaseExpr: {
      const auto& c = n.case_expr();
      Lin l = Expr(c.arg(), scope).Derived();
      for (const auto& w : c.args()) l.Absorb(Expr(w, scope));
      l.Absorb(Expr(c.defresult(), scope));
      return l.Derived();
    }
    case Node::kCaseWhen: {
      Lin l = Expr(n.case_when().expr(), scope).Derived();
      l.Absorb(Expr(n.case_when().result(), scope));
      return l.Derived();
    }
    case Node::kCoalesceExpr: {
      Lin l;
      for (const auto& a : n.coalesce_expr().args()) l.Absorb(Expr(a, scope));
      return l.Derived();
    }
    case Node::kMinMaxExpr: {
      Lin l;
      for (const auto& a : n.min_max_expr().args()) l.Absorb(Expr(a, scope));
      return l.Derived();
    }
    case Node::kRowExpr: {
      Lin l;
      for (const auto& a : n.row_expr().args()) l.Absorb(Expr(a, scope));
      return l.Derived();
    }
    case Node::kAArrayExpr: {
      Lin l;
      for (const auto& a : n.a_array_expr().elements()) l.Absorb(Expr(a, scope));
      return l.Derived();
    }
    case Node::kList: {
      Lin l;
      for (const auto& a : n.list().items()) l.Absorb(Expr(a, scope));
      return l.Derived();
    }
    case Node::kAIndirection: {
      Lin l = Expr(n.a_indirection().arg(), scope).Derived();
      for (const auto& i : n.a_indirection().indirection()) {
        if (i.has_a_indices()) {
          l.Absorb(Expr(i.a_indices().lidx(), scope));
          l.Absorb(Expr(i.a_indices().uidx(), scope));
        }
      }
      return l.Derived();
    }
    case Node::kSubLink:
      return SubLinkLin(n.sub_link(), scope);
    case Node::kGroupingFunc: {
      Lin l;
      for (const auto& a : n.grouping_func().args()) l.Absorb(Expr(a, scope));
      return l.Derived();
    }
    case Node::kXmlExpr: {
      Lin l;
      for (const auto& a : n.xml_expr().args()) l.Absorb(Expr(a, scope));
      for (const auto& a : n.xml_expr().named_args()) l.Absorb(Expr(a, scope));
      return l.Derived();
    }
    case Node::kXmlSerialize:
      return Expr(n.xml_serialize().expr(), scope).Derived();
    case Node::kResTarget:
      return Expr(n.res_target().val(), scope);
    case Node::kMultiAssignRef:
      return Expr(n.multi_assign_ref().source(), scope).Derived();
    case Node::kSortBy:
      return Expr(n.sort_by().node(), scope);
    default:
      return Generic(n, scope, "expression not analysed");
  }
}

void Analyzer::Filter(const Node& n, const Scope& scope) {
  if (n.has_bool_expr() && n.bool_expr().boolop() == pg_query::AND_EXPR) {
    for (const auto& a : n.bool_expr().args()) Filter(a, scope);
    return;
  }
  if (n.has_a_expr()) {
    const auto& e = n.a_expr();
    std::string op;
    if (e.name_size() == 1) op = Str(e.name(0));
    const Node* col = nullptr;
    const Node* other = nullptr;
    if (e.kind() == pg_query::AEXPR_OP && op == "=") {
      if (e.lexpr().has_column_ref() && IsConstant(e.rexpr())) {
        col = &e.lexpr();
        other = &e.rexpr();
      } else if (e.rexpr().has_column_ref() && IsConstant(e.lexpr())) {
        col = &e.rexpr();
        other = &e.lexpr();
      }
    } else if (e.kind() == pg_query::AEXPR_IN && op == "=" && e.lexpr().has_column_ref() &&
               e.rexpr().has_list()) {
      bool all_const = true;
      for (const auto& i : e.rexpr().list().items()) all_const = all_const && IsConstant(i);
      if (all_const) col = &e.lexpr();
    }
    if (col) {
      // Against literals: the column's rows are chosen by what it is computed from (a
      // subquery's d = 0, where d = g - f(ssn), binds g).
      Lin l = Expr(*col, scope);
      if (other) (void)Expr(*other, scope);
      BindPredicate(l);
      NoteFilter(l, l.kind == Kind::kDirect);
      return;
    }
  }
  if (n.has_a_expr()) RangeAgainstColumns(n.a_expr(), scope);
  Lin l = Expr(n, scope);
  MixedAgainstColumns(n, &l, scope);
  BindPredicate(l);
  NoteFilter(l, false);
}

// How many FROM items the columns `deps` belong to, in `scope` and the scopes around it; the
// columns of none (a sub-select's own) count as one item more.
size_t Analyzer::ItemsOf(const std::vector<int>& deps, const Scope& scope) {
  std::vector<const Item*> items;
  bool elsewhere = false;
  for (int d : deps) {
    const Item* owner = nullptr;
    for (const Scope* s = &scope; s && !owner; s = s->parent)
      for (const Item& it : s->items) {
        for (const Col& c : it.cols)
          if (c.id == d) owner = &it;
        if (owner) break;
      }
    if (!owner)
      elsewhere = true;
    else if (std::find(items.begin(), items.end(), owner) == items.end())
      items.push_back(owner);
  }
  return items.size() + (elsewhere ? 1 : 0);
}

// A predicate that computes one value from a value and a column of another FROM item (or a
// sub-select) is a threshold over that column as much as a range comparison is: over
// generate_series(0, 999) g, `g - (SELECT substr(ssn, 1, 3)::int …) < 0`, `sign(g - v) = -1`,
// `least(g, v) = g`, `CASE WHEN g < v THEN true END`, `int4range(0, v) @> g` each pass 536
// rows, the value. What stays open: equality of two sides that each come from one item (a
// join, a lookup: one row per match), a predicate over one item's row (`c.created_at - c.dob >
// interval '18 years'`: one yes/no per row, as a filter against a constant), and EXISTS / IN /
// ANY over a sub-select, whose own filters are judged where they stand; AND, OR and NOT are
// judged by their operands. Reported as a row count's arguments are (side_effect_args): a
// sensitive source refuses the statement. `whole`: n's lineage when the caller has it.
void Analyzer::MixedAgainstColumns(const Node& n, const Lin* whole, const Scope& scope) {
  // A part's sources and columns are among the whole's: when the whole mixes nothing, no part
  // does, and its sides need no second reading.
  if (whole && (whole->sources.empty() || ItemsOf(whole->deps, scope) < 2)) return;
  // EXISTS, IN, = ANY: the sub-select's own filters are judged where they stand. A range
  // against ANY or ALL of it (g < ANY (SELECT substr(ssn, 1, 3)::int …)) ranks as `<` does.
  if (n.has_sub_link() && n.sub_link().sub_link_type() != pg_query::EXPR_SUBLINK) {
    const auto& sl = n.sub_link();
    const std::string op = sl.oper_name_size() == 1 ? Str(sl.oper_name(0)) : std::string();
    const bool ranks = (sl.sub_link_type() == pg_query::ANY_SUBLINK ||
                        sl.sub_link_type() == pg_query::ALL_SUBLINK) &&
                       !op.empty() && op != "=" && op != "<>";
    if (!ranks) return;
  }
  auto report = [&](const Lin& l) {
    if (!l.sources.empty() && ItemsOf(l.deps, scope) >= 2)
      out_->side_effect_args.insert(out_->side_effect_args.end(), l.sources.begin(),
                                    l.sources.end());
  };
  // AND, OR, NOT: each operand is a predicate of its own (NOT (g <> v) is an equality).
  if (n.has_bool_expr()) {
    for (const auto& a : n.bool_expr().args()) MixedAgainstColumns(a, nullptr, scope);
    return;
  }
  // Equality, inequality and pattern matches pass one row per match, or all but the matches:
  // each side is judged alone (`c.full_name LIKE v || '%'` over a list of guesses binds v).
  if (n.has_a_expr()) {
    const auto& e = n.a_expr();
    const std::string op = e.name_size() == 1 ? Str(e.name(0)) : std::string();
    const auto k = e.kind();
    const bool any_all =
        k == pg_query::AEXPR_OP || k == pg_query::AEXPR_OP_ANY || k == pg_query::AEXPR_OP_ALL;
    if ((any_all && (op == "=" || op == "<>")) || k == pg_query::AEXPR_NOT_DISTINCT ||
        k == pg_query::AEXPR_DISTINCT || k == pg_query::AEXPR_IN || k == pg_query::AEXPR_LIKE ||
        k == pg_query::AEXPR_ILIKE || k == pg_query::AEXPR_SIMILAR) {
      report(Expr(e.lexpr(), scope));
      if (e.rexpr().has_list())
        for (const auto& x : e.rexpr().list().items()) report(Expr(x, scope));
      else
        report(Expr(e.rexpr(), scope));
      return;
    }
  }
  report(whole ? *whole : Expr(n, scope));
}

// A range comparison of a value with another column (g < substr(ssn, 1, 3)::int over
// generate_series(0, 999), c2.ssn < c.ssn, a recursive CTE's n < (SELECT … ssn …)) ranks the
// value against that column's values: in one statement, how many rows pass (a count(*), a
// correlated count, the CTE's length) is the value itself, 536, for every row at once. Against
// constants it is one yes/no per statement, as any filter. Both sides' sources are reported
// where a row count's are (side_effect_args): a sensitive one refuses the statement.
void Analyzer::RangeAgainstColumns(const pg_query::A_Expr& e, const Scope& scope) {
  const std::string op = e.name_size() == 1 ? Str(e.name(0)) : std::string();
  const bool between =
      e.kind() == pg_query::AEXPR_BETWEEN || e.kind() == pg_query::AEXPR_NOT_BETWEEN ||
      e.kind() == pg_query::AEXPR_BETWEEN_SYM || e.kind() == pg_query::AEXPR_NOT_BETWEEN_SYM;
  const bool range =
      e.kind() == pg_query::AEXPR_OP && (op == "<" || op == ">" || op == "<=" || op == ">=");
  if (!between && !range) return;
  std::vector<Lin> sides{Expr(e.lexpr(), scope)};
  if (between && e.rexpr().has_list())
    for (const auto& b : e.rexpr().list().items()) sides.push_back(Expr(b, scope));
  else
    sides.push_back(Expr(e.rexpr(), scope));
  for (size_t i = 0; i < sides.size(); ++i) {
    bool other_varies = false;
    for (size_t j = 0; j < sides.size(); ++j)
      other_varies = other_varies || (j != i && !sides[j].deps.empty());
    if (other_varies)
      out_->side_effect_args.insert(out_->side_effect_args.end(), sides[i].sources.begin(),
                                    sides[i].sources.end());
  }
}

void Analyzer::Sort(const google::protobuf::RepeatedPtrField<Node>& sorts, const Scope& scope,
                    const std::vector<Col>& outputs) {
  for (const auto& s : sorts) {
    const Node& e = s.has_sort_by() ? s.sort_by().node() : s;
    // ORDER BY 2: the position is a literal, and literals must not change an analysis (it is
    // cached by the text with literals replaced), so every result column counts as used.
    if (e.has_a_const()) {
      for (const auto& o : outputs) NoteFilter(o.lin, false);
      continue;
    }
    if (e.has_column_ref() && e.column_ref().fields_size() == 1) {
      // A bare name may be a result column or an input column (ORDER BY prefers the first,
      // GROUP BY the second): both count.
      const std::string name = Str(e.column_ref().fields(0));
      for (const auto& o : outputs)
        if (o.name == name) NoteFilter(o.lin, false);
    }
    NoteFilter(Expr(e, scope), false);
  }
}

// ---- statements ----------------------------------------------------------------------------

void Analyzer::Statement(const Node& stmt) {
  out_->ok = true;
  const auto* desc = stmt.GetDescriptor()->FindFieldByNumber(static_cast<int>(stmt.node_case()));
  out_->node = desc ? desc->message_type()->name() : "";
  Scope empty;
  switch (stmt.node_case()) {
    case Node::kSelectStmt: {
      bool known = true;
      auto cols = Select(stmt.select_stmt(), nullptr, {}, &known);
      out_->returns_rows = !stmt.select_stmt().has_into_clause();
      out_->columns_known = out_->columns_known && known;
      out_->columns = ToOutputs(cols);
      break;
    }
    case Node::kInsertStmt: {
      const auto& s = stmt.insert_stmt();
      out_->writes_data = true;
      WholeRowsSeen(s.relation());
      Scope scope;
      if (s.has_with_clause()) With(s.with_clause(), nullptr, &scope);
      Item target = TargetItem(s.relation());
      std::vector<std::string> cols;
      for (const auto& c : s.cols())
        if (c.has_res_target()) cols.push_back(c.res_target().name());
      if (cols.empty())
        for (const auto& c : target.cols) cols.push_back(c.name);
      std::vector<Lin> values(cols.size());
      if (s.select_stmt().has_select_stmt()) {
        bool known = true;
        auto src = Select(s.select_stmt().select_stmt(), &scope, scope.ctes, &known);
        for (size_t i = 0; i < values.size(); ++i)
          values[i] = known && i < src.size() ? src[i].lin : Lin::Unknown("INSERT source");
      }
      const std::string schema =
          target.schema.empty() ? CreationSchema(s.relation()) : target.schema;
      const std::string table = s.relation().relname();
      for (size_t i = 0; i < cols.size(); ++i) WriteTo({schema, table, cols[i]}, values[i]);
      Scope ret;
      ret.items.push_back(target);
      ret.star = target.cols;
      if (s.has_on_conflict_clause()) {
        Scope conflict = ret;
        Item excluded = target;
        excluded.name = "excluded";
        conflict.items.push_back(excluded);
        for (const auto& t : s.on_conflict_clause().target_list())
          if (t.has_res_target())
            WriteTo({schema, table, t.res_target().name()}, Expr(t.res_target().val(), conflict));
        if (s.on_conflict_clause().has_where_clause())
          Filter(s.on_conflict_clause().where_clause(), conflict);
      }
      if (s.returning_list_size() > 0) {
        bool known = target.shape_known;
        out_->returns_rows = true;
        out_->columns = ToOutputs(TargetList(s.returning_list(), ret, &known));
        out_->columns_known = known;
      }
      break;
    }
    case Node::kUpdateStmt: {
      const auto& s = stmt.update_stmt();
      out_->writes_data = true;
      WholeRowsSeen(s.relation());
      Scope scope;
      if (s.has_with_clause()) With(s.with_clause(), nullptr, &scope);
      RangeVarItem(s.relation(), &scope, &scope.star);
      const Item target = scope.items.back();
      const std::string schema =
          target.schema.empty() ? CreationSchema(s.relation()) : target.schema;
      for (const auto& f : s.from_clause()) FromItem(f, &scope, &scope.star);
      if (s.has_where_clause()) Filter(s.where_clause(), scope);
      for (const auto& t : s.target_list())
        if (t.has_res_target())
          WriteTo({schema, s.relation().relname(), t.res_target().name()},
                  Expr(t.res_target().val(), scope));
      if (s.returning_list_size() > 0) {
        bool known = true;
        out_->returns_rows = true;
        out_->columns = ToOutputs(TargetList(s.returning_list(), scope, &known));
        out_->columns_known = known;
      }
      break;
    }
    case Node::kDeleteStmt: {
      const auto& s = stmt.delete_stmt();
      out_->writes_data = true;
      WholeRowsSeen(s.relation());
      Scope scope;
      if (s.has_with_clause()) With(s.with_clause(), nullptr, &scope);
      RangeVarItem(s.relation(), &scope, &scope.star);
      for (const auto& f : s.using_clause()) FromItem(f, &scope, &scope.star);
      if (s.has_where_clause()) Filter(s.where_clause(), scope);
      if (s.returning_list_size() > 0) {
        bool known = true;
        out_->returns_rows = true;
        out_->columns = ToOutputs(TargetList(s.returning_list(), scope, &known));
        out_->columns_known = known;
      }
      break;
    }
    case Node::kMergeStmt: {
      const auto& s = stmt.merge_stmt();
      out_->writes_data = true;
      WholeRowsSeen(s.relation());
      Scope scope;
      if (s.has_with_clause()) With(s.with_clause(), nullptr, &scope);
      RangeVarItem(s.relation(), &scope, &scope.star);
      const Item target = scope.items.back();
      FromItem(s.source_relation(), &scope, &scope.star);
      Filter(s.join_condition(), scope);
      for (const auto& w : s.merge_when_clauses()) {
        if (!w.has_merge_when_clause()) continue;
        const auto& c = w.merge_when_clause();
        if (c.has_condition()) Filter(c.condition(), scope);
        std::vector<std::string> cols;
        for (const auto& t : c.target_list())
          if (t.has_res_target()) cols.push_back(t.res_target().name());
        if (c.command_type() == pg_query::CMD_UPDATE) {
          for (const auto& t : c.target_list())
            if (t.has_res_target())
              WriteTo({target.schema, s.relation().relname(), t.res_target().name()},
                      Expr(t.res_target().val(), scope));
        } else if (c.command_type() == pg_query::CMD_INSERT) {
          if (cols.empty())
            for (const auto& tc : target.cols) cols.push_back(tc.name);
          for (int i = 0; i < c.values_size() && i < static_cast<int>(cols.size()); ++i)
            WriteTo({target.schema, s.relation().relname(), cols[i]}, Expr(c.values(i), scope));
        }
      }
      break;
    }
    case Node::kCreateTableAsStmt: {
      const auto& s = stmt.create_table_as_stmt();
      out_->writes_data = true;
      out_->ddl = true;
      if (s.query().has_select_stmt()) {
        bool known = true;
        auto cols = Select(s.query().select_stmt(), nullptr, {}, &known);
        const auto& rel = s.into().rel();
        for (size_t i = 0; i < cols.size(); ++i) {
          std::string name = i < static_cast<size_t>(s.into().col_names_size())
                                 ? Str(s.into().col_names(static_cast<int>(i)))
                                 : cols[i].name;
          WriteTo({CreationSchema(rel), rel.relname(), name},
                  known ? cols[i].lin : Lin::Unknown("CREATE TABLE AS source"));
        }
      } else if (s.query().has_execute_stmt()) {
        out_->op = StatementAnalysis::Op::kExecute;  // CREATE TABLE AS EXECUTE p
        out_->name = s.query().execute_stmt().name();
      }
      break;
    }
    case Node::kCopyStmt: {
      const auto& s = stmt.copy_stmt();
      if (s.is_from()) {
        out_->writes_data = true;
        if (s.has_relation()) WholeRowsSeen(s.relation());
        break;
      }
      out_->returns_rows = true;  // COPY data, column by column
      if (s.filename().empty() && !s.is_program()) out_->copy = CopyFormatOf(s);
      if (s.has_query() && s.query().has_select_stmt()) {
        bool known = true;
        out_->columns = ToOutputs(Select(s.query().select_stmt(), nullptr, {}, &known));
        out_->columns_known = known;
      } else if (s.has_query()) {
        // COPY (INSERT … RETURNING) TO
        StatementAnalysis inner;
        Analyzer sub(cat_, &inner);
        sub.Statement(s.query());
        out_->writes_data = out_->writes_data || inner.writes_data;
        out_->columns = inner.columns;
        out_->columns_known = inner.ok && inner.columns_known;
        out_->writes = inner.writes;
        computed_.insert(computed_.end(), inner.computed.begin(), inner.computed.end());
      } else if (s.has_relation()) {
        Scope scope;
        RangeVarItem(s.relation(), &scope, &scope.star);
        const Item& item = scope.items.back();
        if (!item.shape_known) out_->columns_known = false;
        if (s.attlist_size() == 0) {
          for (const auto& c : item.cols) {
            Read(c.lin);
            out_->columns.push_back({c.name, c.lin.kind, c.lin.sources, c.lin.why});
          }
        } else {
          for (const auto& a : s.attlist()) {
            const std::string name = Str(a);
            auto it = std::find_if(item.cols.begin(), item.cols.end(),
                                   [&](const Col& c) { return c.name == name; });
            Lin l = it != item.cols.end() ? it->lin
                    : item.shape_known    ? Lin::Unknown("unknown column " + name)
                                          : item.any;
            Read(l);
            out_->columns.push_back({name, l.kind, l.sources, l.why});
          }
        }
        if (s.has_where_clause()) Filter(s.where_clause(), scope);
      }
      break;
    }
    case Node::kExplainStmt: {
      // The plan is text about the statement, not its data; EXPLAIN ANALYZE runs it, so its
      // writes, filters and side effects count.
      StatementAnalysis inner;
      Analyzer sub(cat_, &inner);
      sub.Statement(stmt.explain_stmt().query());
      sleeps_ = sleeps_ || sub.sleeps_;
      out_->writes_data = inner.writes_data;
      out_->ddl = inner.ddl;
      out_->writes = inner.writes;
      out_->filters = inner.filters;
      out_->side_effect_args = inner.side_effect_args;
      reads_.insert(reads_.end(), inner.reads.begin(), inner.reads.end());
      computed_.insert(computed_.end(), inner.computed.begin(), inner.computed.end());
      out_->returns_rows = true;
      out_->columns = {{"QUERY PLAN", Kind::kDerived, {}, {}}};
      break;
    }
    case Node::kVariableShowStmt:
      out_->returns_rows = true;
      if (stmt.variable_show_stmt().name() == "all")
        out_->columns = {{"name", Kind::kDerived, {}, {}},
                         {"setting", Kind::kDerived, {}, {}},
                         {"description", Kind::kDerived, {}, {}}};
      else
        out_->columns = {{stmt.variable_show_stmt().name(), Kind::kDerived, {}, {}}};
      break;
    case Node::kVariableSetStmt:
      out_->sets_search_path = stmt.variable_set_stmt().name() == "search_path" ||
                               stmt.variable_set_stmt().name().empty();  // RESET ALL
      break;
    case Node::kPrepareStmt: {
      out_->op = StatementAnalysis::Op::kPrepare;
      out_->name = stmt.prepare_stmt().name();
      auto inner = std::make_shared<StatementAnalysis>();
      Analyzer sub(cat_, inner.get());
      sub.Statement(stmt.prepare_stmt().query());
      out_->writes_data = inner->writes_data;  // not run yet, but its class is the EXECUTE's
      out_->inner = std::move(inner);
      break;
    }
    case Node::kExecuteStmt:
      out_->op = StatementAnalysis::Op::kExecute;
      out_->name = stmt.execute_stmt().name();
      for (const auto& p : stmt.execute_stmt().params()) NoteFilter(Expr(p, empty), false);
      break;
    case Node::kDeallocateStmt:
      out_->op = StatementAnalysis::Op::kDeallocate;
      out_->name = stmt.deallocate_stmt().name();
      break;
    case Node::kDeclareCursorStmt: {
      out_->op = StatementAnalysis::Op::kDeclare;
      out_->name = stmt.declare_cursor_stmt().portalname();
      auto inner = std::make_shared<StatementAnalysis>();
      Analyzer sub(cat_, inner.get());
      sub.Statement(stmt.declare_cursor_stmt().query());
      out_->writes_data = inner->writes_data;
      reads_.insert(reads_.end(), inner->reads.begin(), inner->reads.end());
      computed_.insert(computed_.end(), inner->computed.begin(), inner->computed.end());
      out_->inner = std::move(inner);
      break;
    }
    case Node::kFetchStmt:
      out_->op =
          stmt.fetch_stmt().ismove() ? StatementAnalysis::Op::kMove : StatementAnalysis::Op::kFetch;
      out_->name = stmt.fetch_stmt().portalname();
      out_->returns_rows = !stmt.fetch_stmt().ismove();
      break;
    case Node::kClosePortalStmt:
      out_->op = StatementAnalysis::Op::kClose;
      out_->name = stmt.close_portal_stmt().portalname();
      break;
    case Node::kDiscardStmt:
      out_->op = StatementAnalysis::Op::kDiscardAll;
      break;
    case Node::kCallStmt:
      // OUT parameters come back as a row whose shape the catalog does not give: unknown.
      out_->writes_data = true;
      out_->unknown_function = true;
      out_->returns_rows = true;
      out_->columns_known = false;
      break;
    case Node::kDoStmt:
      out_->writes_data = true;
      out_->unknown_function = true;
      break;
    case Node::kTransactionStmt:
    case Node::kListenStmt:
    case Node::kUnlistenStmt:
    case Node::kCheckPointStmt:
    case Node::kLoadStmt:
    case Node::kNotifyStmt:
    case Node::kVacuumStmt:
    case Node::kClusterStmt:
    case Node::kReindexStmt:
    case Node::kLockStmt:
    case Node::kConstraintsSetStmt:
      break;  // the lexer classifier knows these; no rows, no lineage
    case Node::kRenameStmt:
    case Node::kAlterObjectSchemaStmt: {
      using pg_query::ObjectType;
      auto relation_like = [](ObjectType t) {
        return t == ObjectType::OBJECT_TABLE || t == ObjectType::OBJECT_MATVIEW ||
               t == ObjectType::OBJECT_FOREIGN_TABLE;
      };
      if (stmt.has_rename_stmt() && stmt.rename_stmt().rename_type() == ObjectType::OBJECT_SCHEMA) {
        const auto& r = stmt.rename_stmt();
        for (const CatalogRelation* rel : cat_.InSchema(r.subname()))
          for (const auto& c : rel->columns)
            WriteTo({r.newname(), rel->name, c.name},
                    Lin::Direct({rel->schema, rel->name, c.name}));
      } else if (stmt.has_rename_stmt()) {
        const auto& r = stmt.rename_stmt();
        if (r.has_relation() && r.rename_type() == ObjectType::OBJECT_COLUMN &&
            relation_like(r.relation_type()))
          Moved(r.relation(), "", "", r.subname(), r.newname());
        else if (r.has_relation() && relation_like(r.rename_type()))
          Moved(r.relation(), "", r.newname(), "", "");
      } else {
        const auto& a = stmt.alter_object_schema_stmt();
        if (a.has_relation() && relation_like(a.object_type()))
          Moved(a.relation(), a.newschema(), "", "", "");
      }
    }
      [[fallthrough]];
    default:
      // Every other utility statement changes the schema, roles or settings of objects. One
      // that names a table may evaluate expressions over every row of it (ALTER … TYPE int
      // USING reverse(ssn)::int, CREATE INDEX ON t ((ssn::int)), a generated column, a unique
      // index over duplicates): an error it raises can quote any column's value, so it reads
      // them all.
      out_->ddl = true;
      out_->writes_data = true;
      out_->creates_code = stmt.node_case() == Node::kCreateFunctionStmt;
      ReadsEveryColumnOfNamedRelations(stmt);
      break;
  }
  std::sort(reads_.begin(), reads_.end());
  reads_.erase(std::unique(reads_.begin(), reads_.end()), reads_.end());
  out_->reads.insert(out_->reads.end(), reads_.begin(), reads_.end());
  std::sort(out_->reads.begin(), out_->reads.end());
  out_->reads.erase(std::unique(out_->reads.begin(), out_->reads.end()), out_->reads.end());
  if (sleeps_)
    out_->side_effect_args.insert(out_->side_effect_args.end(), out_->reads.begin(),
                                  out_->reads.end());
  out_->filters.insert(out_->filters.end(), filters_.begin(), filters_.end());
  out_->computed.insert(out_->computed.end(), computed_.begin(), computed_.end());
  std::sort(out_->computed.begin(), out_->computed.end());
  out_->computed.erase(std::unique(out_->computed.begin(), out_->computed.end()),
                       out_->computed.end());
  std::sort(out_->side_effect_args.begin(), out_->side_effect_args.end());
  out_->side_effect_args.erase(
      std::unique(out_->side_effect_args.begin(), out_->side_effect_args.end()),
      out_->side_effect_args.end());
}

}  // namespace

bool IsStatementText(const BaseColumn& column) {
  return column.schema == "pg_catalog" && column.table == "pg_stat_activity" &&
         column.column == "query";
}

Analysis Analyze(std::string_view sql, const CatalogSnapshot& catalog) {
  Analysis a;
  std::string text(sql);  // libpg_query wants a NUL-terminated string
  PgQueryProtobufParseResult r = pg_query_parse_protobuf(text.c_str());
  if (r.error) {
    a.error = r.error->message ? r.error->message : "parse error";
    pg_query_free_protobuf_parse_result(r);
    return a;
  }
  pg_query::ParseResult tree;
  const bool ok = tree.ParseFromArray(r.parse_tree.data, static_cast<int>(r.parse_tree.len));
  pg_query_free_protobuf_parse_result(r);
  if (!ok) {
    a.error = "parse tree could not be read";
    return a;
  }
  a.parsed = true;
  for (const auto& raw : tree.stmts()) {
    StatementAnalysis s;
    Analyzer(catalog, &s).Statement(raw.stmt());
    // An implicit cast through a user function needs no text of its own to run.
    if (catalog.HasImplicitUserCasts()) s.unknown_function = true;
    a.statements.push_back(std::move(s));
  }
  return a;
}

}  // namespace veil::sql
