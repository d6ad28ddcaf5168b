#include "agent/protocol/postgres/transcoder.h"

#include <algorithm>
#include <cctype>

#include "agent/events/normalize.h"
#include "agent/protocol/postgres/encoder.h"
#include "agent/sql/identifiers.h"
#include "common/text.h"

namespace veil::agent {
namespace {

// Type OIDs (pg_type.h).
constexpr uint32_t kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21,
                   kInt4 = 23, kText = 25, kOid = 26, kTid = 27, kXid = 28, kCid = 29, kJson = 114,
                   kXml = 142, kCidr = 650, kFloat4 = 700, kFloat8 = 701, kUnknown = 705,
                   kMacaddr8 = 774, kMoney = 790, kMacaddr = 829, kInet = 869, kBpchar = 1042,
                   kVarchar = 1043, kDate = 1082, kTime = 1083, kTimestamp = 1114,
                   kTimestamptz = 1184, kInterval = 1186, kTimetz = 1266, kBit = 1560,
                   kVarbit = 1562, kNumeric = 1700, kUuid = 2950, kJsonb = 3802;

// Types whose text form cannot hold free text: not content-scanned (a name hint or a rule
// still masks them, to NULL).
bool NonText(uint32_t oid) {
  switch (oid) {
    case kBool:
    case kBytea:
    case kInt8:
    case kInt2:
    case kInt4:
    case kOid:
    case kTid:
    case kXid:
    case kCid:
    case kFloat4:
    case kFloat8:
    case kMoney:
    case kDate:
    case kTime:
    case kTimestamp:
    case kTimestamptz:
    case kInterval:
    case kTimetz:
    case kBit:
    case kVarbit:
    case kNumeric:
    case kUuid:
    case kInet:
    case kCidr:
    case kMacaddr:
    case kMacaddr8:
      return true;
    default:
      return false;
  }
}

// Types whose binary form is their text (or, for user-defined types such as citext and
// enums, may be: scanned, since an unmasked value is the worse failure).
bool BinaryIsText(uint32_t oid) {
  switch (oid) {
    case kText:
    case kVarchar:
    case kBpchar:
    case kName:
    case kUnknown:
    case kJson:
    case kXml:
    case kChar:
      return true;
    default:
      return oid >= 16384;
  }
}

// A guardrail's refusal is raised by the server from the DO block veild sent in the statement's
// place (see the session): its context ("PL/pgSQL function inline_code_block line 1 at RAISE")
// and source position name code the client never wrote. They go; the error reads as veil's own.
void DropRefusalOrigin(pg::ResponseFields* fields) {
  if (fields->sqlstate() != "42501" || !fields->message().starts_with("veil: ")) return;
  auto& all = fields->fields;
  all.erase(std::remove_if(all.begin(), all.end(),
                           [](const pg::ResponseField& f) {
                             return f.code == pg::field::kWhere || f.code == pg::field::kFile ||
                                    f.code == pg::field::kLine || f.code == pg::field::kRoutine;
                           }),
            all.end());
}

}  // namespace

PgTranscoder::Description PgTranscoder::Description::Of(const pg::RowDescription& d) {
  Description out;
  out.fields.reserve(d.fields.size());
  for (const auto& f : d.fields)
    out.fields.push_back({std::string(f.name), f.type_oid, f.format, f.table_oid, f.column_number});
  return out;
}

PgTranscoder::PgTranscoder(std::shared_ptr<const masker::MaskingProfile> profile, int32_t veil_pid,
                           std::string veil_secret)
    : profile_(profile),
      masker_(profile),
      veil_pid_(veil_pid),
      veil_secret_(std::move(veil_secret)) {}

namespace {

// How a planned column's bytes are handled, from its policy, format and type.
ColumnPlan::Kind KindFor(const masker::ColumnPolicy& policy, bool binary, uint32_t type_oid) {
  if (policy.action == masker::ColumnPolicy::Action::kPass) return ColumnPlan::Kind::kPass;
  if (!binary) return ColumnPlan::Kind::kText;
  if (type_oid == kJsonb) return ColumnPlan::Kind::kJsonbBinary;
  if (BinaryIsText(type_oid)) return ColumnPlan::Kind::kText;
  return ColumnPlan::Kind::kNullIfRule;  // binary bytes of a number or date
}

constexpr size_t kMaxCachedPolicies = 4096;

std::string Label(const SourceColumn& c) { return c.schema + "." + c.table + "." + c.column; }

// Where the column store keeps a column: a session's temporary schema is pg_temp_N only once the
// session has made it, so a CREATE TEMP TABLE is written as pg_temp and read back as pg_temp_3.
// Both are kept as pg_temp: a temporary table another session gives the same name is then
// masked too, which errs the safe way.
std::string StoreSchema(const std::string& schema) {
  return schema.starts_with("pg_temp") ? std::string("pg_temp") : schema;
}

bool CatalogSchema(std::string_view schema) {
  return schema == "pg_catalog" || schema == "information_schema";
}

}  // namespace

masker::ColumnPolicy PgTranscoder::PolicyOf(const SourceColumn& src, bool text_like) const {
  const uint64_t generation = analysis_.catalog().generation();
  if (generation != policies_generation_ || policies_.size() >= kMaxCachedPolicies) {
    policies_.clear();
    policies_generation_ = generation;
  }
  std::string key;
  key.reserve(src.schema.size() + src.table.size() + src.column.size() + 3);
  key.append(src.schema).append(1, '\0').append(src.table).append(1, '\0').append(src.column);
  key += text_like ? 't' : 'b';
  if (auto it = policies_.find(key); it != policies_.end()) return it->second;
  masker::ColumnPolicy p = FindPolicy(src, text_like);
  policies_.emplace(std::move(key), p);
  return p;
}

masker::ColumnPolicy PgTranscoder::FindPolicy(const SourceColumn& src, bool text_like) const {
  masker::ColumnPolicy p = FindNamedPolicy(src, text_like);
  if (!columns_ || src.table.empty() || CatalogSchema(src.schema) ||
      StoreSchema(src.schema) == "pg_temp")
    return p;
  // A rule that makes a column sensitive follows it through a rename made outside veild,
  // while the rule stands: the column store keeps, with the column's identity, the names such
  // a rule (or a telling name) last matched it by. An exemption (`action: pass`) does not
  // follow, and one under the new names wins.
  using A = masker::ColumnPolicy::Action;
  auto sensitive = [](const masker::ColumnPolicy& x) {
    return x.action == A::kForce || x.has_hint;
  };
  if (p.action == A::kPass) return p;
  ColumnStore::Entry* e = TrackColumn(src);
  if (sensitive(p)) {
    columns_->NoteRule(e, {endpoint_, database_, src.schema, src.table, src.column});
    return p;
  }
  const std::optional<ColumnKey> rule = columns_->RuleOf(e);
  if (!rule ||
      (rule->schema == src.schema && rule->table == src.table && rule->column == src.column))
    return p;
  masker::ColumnPolicy named =
      FindNamedPolicy({rule->schema, rule->table, rule->column}, text_like);
  return sensitive(named) ? named : p;
}

// The profile's rule for the column by its names, or its nearest ancestor's.
masker::ColumnPolicy PgTranscoder::FindNamedPolicy(const SourceColumn& src, bool text_like) const {
  using A = masker::ColumnPolicy::Action;
  masker::ColumnPolicy p = profile_->PolicyFor(
      {.schema = src.schema, .table = src.table, .column = src.column, .text_like = text_like});
  if (p.action != A::kScan || p.has_hint || src.table.empty()) return p;
  const sql::CatalogSnapshot& cat = analysis_.catalog();
  const sql::CatalogRelation* rel = cat.Find(src.schema, src.table);
  // Breadth-first up the inheritance tree, bounded (a tree is never this deep).
  std::vector<uint32_t> next = rel ? rel->parents : std::vector<uint32_t>{};
  for (int depth = 0; depth < 16 && !next.empty(); ++depth) {
    std::vector<uint32_t> up;
    for (uint32_t oid : next) {
      const sql::CatalogRelation* parent = cat.ByOid(oid);
      if (!parent) continue;
      masker::ColumnPolicy pp = profile_->PolicyFor({.schema = parent->schema,
                                                     .table = parent->name,
                                                     .column = src.column,
                                                     .text_like = text_like});
      if (pp.action != A::kScan || pp.has_hint) return pp;
      up.insert(up.end(), parent->parents.begin(), parent->parents.end());
    }
    next = std::move(up);
  }
  return p;
}

ColumnStore::Entry* PgTranscoder::TrackColumn(const SourceColumn& c) const {
  std::string schema = StoreSchema(c.schema);
  ColumnId id;
  // A temporary table is a new relation in every session: kept by name only (see StoreSchema).
  if (schema != "pg_temp" && analysis_.has_catalog())
    if (const sql::CatalogRelation* rel = analysis_.catalog().Find(c.schema, c.table))
      for (const auto& col : rel->columns)
        if (col.name == c.column) {
          id = {rel->oid, col.attnum};
          break;
        }
  return columns_->Track({endpoint_, database_, std::move(schema), c.table, c.column}, id);
}

PgTranscoder::Sensitivity PgTranscoder::SensitivityOf(const SourceColumn& src) {
  using A = masker::ColumnPolicy::Action;
  // Other sessions' statements: what their literals hold is not known, so anything computed
  // from them is replaced whole, and written elsewhere stays so.
  if (sql::IsStatementText({src.schema, src.table, src.column}))
    return {true, static_cast<uint8_t>(masker::kMaxEntities)};
  masker::ColumnPolicy p = PolicyOf(src, /*text_like=*/true);
  if (p.action == A::kPass) return {};  // `action: pass` exempts the column
  if (p.action == A::kForce || p.has_hint) return {true, p.entity};
  if (columns_) {
    auto learned = columns_->Learned(TrackColumn(src));
    if (learned) {
      const bool written = learned->source == ColumnSource::kLineage;
      const auto& det = *profile_->detector();
      for (size_t e = 0; e < masker::kMaxEntities; ++e)
        if (det.EntityName(static_cast<uint8_t>(e)) == learned->entity)
          return {true, static_cast<uint8_t>(e), written};
      // An entity this profile lacks.
      return {true, static_cast<uint8_t>(masker::kMaxEntities), written};
    }
  }
  return {};
}

void PgTranscoder::NoteWrites(const sql::StatementAnalysis& st) {
  if (!columns_) return;
  for (const auto& w : st.writes) {
    for (const auto& src : w.sources) {
      Sensitivity s = SensitivityOf({src.schema, src.table, src.column});
      if (!s.sensitive) continue;
      std::string_view entity = s.entity < masker::kMaxEntities
                                    ? profile_->detector()->EntityName(s.entity)
                                    : std::string_view("MASKED");
      columns_->MarkLineage(TrackColumn({w.column.schema, w.column.table, w.column.column}),
                            entity);
      break;
    }
  }
}

// A base column's value, unchanged: masked by content, with the column's rule, its name, or
// what was learned of it as context (SPEC §6.1: "a direct reference is masked as today").
void PgTranscoder::PlanDirect(const SourceColumn& base, bool text_like, ColumnPlan* c) {
  c->policy = PolicyOf(base, text_like);
  using A = masker::ColumnPolicy::Action;
  if (c->policy.action == A::kScan && !c->policy.has_hint && columns_) {
    Sensitivity s = SensitivityOf(base);
    if (s.sensitive && s.entity < masker::kMaxEntities) {
      c->policy.has_hint = true;
      c->policy.entity = s.entity;
      c->policy.hints.boost[s.entity] += 0.2f;
    }
  }
  c->label = Label(base);
  if (columns_ && c->policy.action == masker::ColumnPolicy::Action::kScan && !c->policy.has_hint)
    c->learn = TrackColumn(base);
}

// A value computed from sensitive columns, or one the analysis could not follow: replaced
// whole, whatever it holds (SPEC §6.1).
void PgTranscoder::PlanReplaced(const ColumnLineage& l, uint32_t type_oid, bool binary,
                                ColumnPlan* c) {
  std::vector<uint8_t> entities;
  std::string sources;
  std::optional<masker::Strategy> rule_strategy;
  for (const auto& src : l.sources) {
    Sensitivity s = SensitivityOf(src);
    if (!s.sensitive) continue;
    if (std::find(entities.begin(), entities.end(), s.entity) == entities.end())
      entities.push_back(s.entity);
    sources += (sources.empty() ? "" : ",") + Label(src);
    if (!rule_strategy) {
      rule_strategy = PolicyOf(src, /*text_like=*/true).strategy;
    }
  }
  c->by_lineage = true;
  c->label += " <- " + (sources.empty() ? std::string("unknown") : sources);
  c->entity = entities.size() == 1 ? entities[0] : static_cast<uint8_t>(masker::kMaxEntities);
  c->strategy = masker::Strategy::kRedact;
  if (c->entity < masker::kMaxEntities) {
    masker::Strategy s = rule_strategy ? *rule_strategy : profile_->StrategyFor(c->entity);
    // A derived value has no partial form (the last four of substr(card, 1, 12) are not the
    // card's last four), and FF1 would keep its shape: hash keeps joins, redact the rest.
    // fake gives the derived value a surrogate of its own (lower(email) of a masked copy
    // still joins with lower(email) of another table).
    if (s == masker::Strategy::kHash || s == masker::Strategy::kFpe)
      c->strategy = masker::Strategy::kHash;
    if (s == masker::Strategy::kFake) c->strategy = masker::Strategy::kFake;
    if (s == masker::Strategy::kNull) {
      c->kind = ColumnPlan::Kind::kNull;
      return;
    }
  }
  switch (type_oid) {
    case kText:
    case kVarchar:
    case kBpchar:
    case kName:
    case kUnknown:
      c->kind = ColumnPlan::Kind::kReplace;
      break;
    case kJson:
      c->kind = ColumnPlan::Kind::kReplaceJson;
      break;
    case kJsonb:
      c->kind = binary ? ColumnPlan::Kind::kReplaceJsonbBinary : ColumnPlan::Kind::kReplaceJson;
      break;
    default:  // numbers, dates, arrays, records, bytea, xml, user types: no token fits them
      c->kind = ColumnPlan::Kind::kNull;
  }
}

ResultPlan PgTranscoder::PlanFor(const Description& d, std::span<const int16_t> formats,
                                 const StatementLineage* lineage) {
  using K = ColumnLineage::Kind;
  const bool fits =
      lineage && lineage->analyzed && lineage->result.columns.size() == d.fields.size();
  ResultPlan plan;
  plan.columns.reserve(d.fields.size());
  for (size_t i = 0; i < d.fields.size(); ++i) {
    const auto& f = d.fields[i];
    int16_t format = f.format;
    if (formats.size() == 1) format = formats[0];
    if (formats.size() > 1 && i < formats.size()) format = formats[i];
    ColumnPlan c;
    const bool binary = format == pg::kFormatBinary;
    const bool text_like = !NonText(f.type_oid);
    const ColumnLineage* l = fits ? &lineage->result.columns[i] : nullptr;
    c.label = f.name;
    // What PostgreSQL itself reports: this column is a table's column, unchanged (the parser's
    // resorigtbl and resorigcol). A view's column is not a base column: its lineage decides.
    const sql::CatalogRelation* rel =
        f.table_oid != 0 ? analysis_.catalog().ByOid(f.table_oid) : nullptr;
    // Column number 0 is a whole-row reference (SELECT c FROM customers c): not one column.
    const sql::CatalogColumn* column = nullptr;
    if (rel && !rel->IsView() && f.column > 0)
      for (const auto& c : rel->columns)
        if (c.attnum == f.column) column = &c;
    // After code veil cannot follow wrote (DO, CALL), any table, view or setting may hold what
    // it wrote there (INSERT INTO a temporary table SELECT reverse(ssn), SET my.x): every
    // column is replaced whole but the system catalog's own tables.
    if (opaque_wrote_ && !(rel && !rel->IsView() &&
                           (rel->schema == "pg_catalog" || rel->schema == "information_schema"))) {
      PlanReplaced(l ? *l : ColumnLineage{}, f.type_oid, binary, &c);
      plan.columns.push_back(std::move(c));
      continue;
    }
    // A generated column (reverse(ssn) STORED) is reported as the table's, but holds its
    // expression's value: planned by its lineage, as the expression itself would be.
    const bool base_table =
        rel && !rel->IsView() && f.column > 0 && !(column && !column->generated.empty());
    if (base_table || (l && l->kind == K::kDirect && !l->sources.empty())) {
      SourceColumn base;
      if (base_table) {
        // The base column's own name, not the alias the result gave it.
        base = {rel->schema, rel->name, column ? column->name : f.name};
      } else {
        // UNION branches and the like: the sensitive source gives the context. Two or more
        // sensitive ones (SELECT ssn … UNION SELECT email …) have no one policy that masks
        // both as each would be masked alone (an SSN under a column rule, whatever its
        // content, scanned as an e-mail column passes where it does not look like one): the
        // values are replaced whole, as a value computed from them all would be.
        ColumnLineage several;
        several.kind = K::kDerived;
        for (const auto& s : l->sources)
          if (SensitivityOf(s).sensitive) several.sources.push_back(s);
        if (several.sources.size() > 1) {
          c.label = Label(several.sources[0]);
          PlanReplaced(several, f.type_oid, binary, &c);
          plan.columns.push_back(std::move(c));
          continue;
        }
        base = several.sources.empty() ? l->sources[0] : several.sources[0];
      }
      if (base_table && l && l->kind == K::kDerived) {
        // PostgreSQL reports a table's column, which a predicate bound to other columns
        // (sql::Analyzer::Bind: g = substr(ssn, 1, 3)::int, t.name IN (SELECT … full_name)):
        // when one of those is sensitive and this one is not masked as such itself, the
        // values that pass may be theirs, and are replaced whole as theirs.
        ColumnLineage bound;
        bound.kind = K::kDerived;
        for (const auto& s : l->sources)
          if (!(s == base) && SensitivityOf(s).sensitive) bound.sources.push_back(s);
        if (!bound.sources.empty() && !SensitivityOf(base).sensitive) {
          c.label = Label(base);
          PlanReplaced(bound, f.type_oid, binary, &c);
          plan.columns.push_back(std::move(c));
          continue;
        }
      }
      if (SensitivityOf(base).written) {
        // A column that holds values derived from a sensitive one (CREATE TABLE AS, INSERT …
        // SELECT, UPDATE … SET x = f(ssn)): whatever they look like now, they are replaced
        // whole, as the expression that made them would have been.
        ColumnLineage derived;
        derived.kind = K::kDerived;
        derived.sources = {base};
        c.label = Label(base);
        PlanReplaced(derived, f.type_oid, binary, &c);
      } else {
        PlanDirect(base, text_like, &c);
        c.kind = KindFor(c.policy, binary, f.type_oid);
        if (sql::IsStatementText({base.schema, base.table, base.column})) {
          c.statement_text = true;
          c.learn = nullptr;
          if (c.kind != ColumnPlan::Kind::kText) {  // not text after all: nothing to normalize
            c.by_lineage = true;
            c.kind = ColumnPlan::Kind::kNull;
          }
        }
      }
    } else if (l && l->kind == K::kDerived &&
               std::all_of(l->sources.begin(), l->sources.end(),
                           [&](const SourceColumn& s) { return DerivationSafe(s); })) {
      // Computed from nothing sensitive: scanned by content, as any value.
      c.policy = profile_->PolicyFor({.column = f.name, .text_like = text_like});
      c.kind = KindFor(c.policy, binary, f.type_oid);
    } else if (l) {
      PlanReplaced(*l, f.type_oid, binary, &c);
    } else if (analyzer_) {
      PlanReplaced(ColumnLineage{}, f.type_oid, binary, &c);  // no lineage: fail closed
    } else {
      // No analysis at all (codec tests): the column's own name and table as context.
      std::string_view schema, table;
      if (rel) {
        schema = rel->schema;
        table = rel->name;
      }
      c.policy = profile_->PolicyFor(
          {.schema = schema, .table = table, .column = f.name, .text_like = text_like});
      if (!table.empty()) c.label = std::string(schema) + "." + std::string(table) + "." + f.name;
      c.kind = KindFor(c.policy, binary, f.type_oid);
    }
    plan.columns.push_back(std::move(c));
  }
  return plan;
}

// The statement at the front had a column replaced by its lineage (once per column).
void PgTranscoder::NoteLineage(const ColumnPlan& plan) {
  auto& list = open_statements_.front().record.lineage_masked;
  if (std::find(list.begin(), list.end(), plan.label) == list.end()) list.push_back(plan.label);
}

// The replacement of a value whose column is replaced whole (plan.kind kReplace*).
void PgTranscoder::AppendReplacement(const ColumnPlan& plan, std::string_view value,
                                     std::string* out) {
  const bool json = plan.kind != ColumnPlan::Kind::kReplace;
  if (plan.kind == ColumnPlan::Kind::kReplaceJsonbBinary) out->push_back('\1');
  if (json) out->push_back('"');
  if (plan.entity >= masker::kMaxEntities) {
    out->append("[MASKED]");
  } else {
    std::string_view name = profile_->detector()->EntityName(plan.entity);
    if (plan.strategy == masker::Strategy::kHash || plan.strategy == masker::Strategy::kFake) {
      if (!applier_) applier_.emplace(profile_->key(), profile_->fake_options());
      replacement_.clear();
      applier_->Apply(plan.strategy, plan.entity, name, value, &replacement_);
      // hash and fake output is printable ASCII; escaped all the same
      for (char ch : replacement_) {
        if (json && (ch == '"' || ch == '\\')) out->push_back('\\');
        out->push_back(ch);
      }
    } else {
      out->push_back('[');
      out->append(name);
      out->push_back(']');
    }
  }
  if (json) out->push_back('"');
}

namespace {

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return r;
}

}  // namespace

namespace {

// Whether every piece an error's texts quote ("…", "" for a quote inside) is in the statement
// (compared in lower case: PostgreSQL folds identifiers) or made of names the catalog holds
// (customers.email), and its internal query, if any, is the statement's own text.
bool QuotesOnlyKnownText(const pg::ResponseFields& fields, std::string_view statement,
                         const sql::CatalogSnapshot& catalog) {
  const std::string stmt = Lower(statement);
  auto known = [&](std::string_view piece) {
    if (piece.empty() || stmt.find(Lower(piece)) != std::string::npos) return true;
    size_t start = 0;
    while (start <= piece.size()) {
      size_t dot = piece.find('.', start);
      if (dot == std::string_view::npos) dot = piece.size();
      if (!catalog.KnowsName(piece.substr(start, dot - start))) return false;
      start = dot + 1;
    }
    return true;
  };
  std::string_view query = fields.Get(pg::field::kInternalQuery);
  if (!query.empty() && stmt.find(Lower(query)) == std::string::npos) return false;
  for (char code : {pg::field::kMessage, pg::field::kDetail, pg::field::kHint, pg::field::kWhere}) {
    std::string_view text = fields.Get(code);
    size_t i = 0;
    while ((i = text.find('"', i)) != std::string_view::npos) {
      std::string piece;
      size_t j = i + 1;
      for (; j < text.size(); ++j) {
        if (text[j] != '"') {
          piece.push_back(text[j]);
        } else if (j + 1 < text.size() && text[j + 1] == '"') {
          piece.push_back('"');
          ++j;
        } else {
          break;
        }
      }
      if (j >= text.size()) return false;  // unbalanced: not a quote PostgreSQL wrote
      if (!known(piece)) return false;
      i = j + 1;
    }
  }
  return true;
}

}  // namespace

std::optional<uint32_t> PgTranscoder::ColumnType(const SourceColumn& c) const {
  if (const sql::CatalogRelation* rel = analysis_.catalog().Find(c.schema, c.table))
    for (const auto& col : rel->columns)
      if (col.name == c.column) return col.type_oid;
  return std::nullopt;
}

bool PgTranscoder::DerivationSafe(const SourceColumn& c) {
  if (SensitivityOf(c).sensitive) return false;
  if (!columns_ || CatalogSchema(c.schema)) return true;
  auto type = ColumnType(c);
  if (type && NonText(*type)) return true;  // numbers, dates: nothing to recognise by content
  auto content = columns_->ContentOf(TrackColumn(c));
  if (content.masked > 0) return false;  // some of its values were sensitive
  return content.sampled || content.observed >= kSampleRows;
}

std::optional<std::string> PgTranscoder::ContentSample(std::string_view sql) {
  if (!columns_ || !analyzer_ || !ready_ || sample_pending_ || !pending_.empty() ||
      tx_status_ != 'I' || !analysis_.has_catalog())
    return std::nullopt;
  auto a = analysis_.Analyze(sql);
  if (!a->parsed) return std::nullopt;
  // Table → its columns to sample, in first-seen order.
  std::vector<std::pair<const sql::CatalogRelation*, std::vector<const sql::CatalogColumn*>>>
      tables;
  auto want = [&](const sql::BaseColumn& b) {
    if (CatalogSchema(b.schema)) return;
    const sql::CatalogRelation* rel = analysis_.catalog().Find(b.schema, b.table);
    if (!rel || rel->IsView()) return;
    const sql::CatalogColumn* col = nullptr;
    for (const auto& c : rel->columns)
      if (c.name == b.column) col = &c;
    if (!col || NonText(col->type_oid)) return;
    SourceColumn src{b.schema, b.table, b.column};
    if (SensitivityOf(src).sensitive) return;  // replaced whole anyway
    ColumnStore::Entry* e = TrackColumn({b.schema, b.table, b.column});
    auto content = columns_->ContentOf(e);
    if (content.sampled || content.observed >= kSampleRows || content.masked > 0 ||
        sample_tried_.contains(e))
      return;
    auto t = std::find_if(tables.begin(), tables.end(), [&](auto& x) { return x.first == rel; });
    if (t == tables.end()) t = tables.insert(tables.end(), {rel, {}});
    if (std::find(t->second.begin(), t->second.end(), col) == t->second.end())
      t->second.push_back(col);
  };
  for (const auto& st : a->statements)
    for (const auto* s : {&st, st.inner.get()}) {
      if (!s) continue;
      for (const auto& c : s->columns)
        if (c.kind == sql::OutputColumn::Kind::kDerived)
          for (const auto& b : c.sources) want(b);
    }
  if (tables.empty()) return std::nullopt;
  std::string q;
  sample_sets_.clear();
  for (const auto& [rel, cols] : tables) {
    q += "SELECT ";
    std::vector<ColumnStore::Entry*> set;
    for (size_t i = 0; i < cols.size(); ++i) {
      q += (i ? ", " : "") + sql::QuoteIdent(cols[i]->name) + "::pg_catalog.text";
      auto* e = TrackColumn({rel->schema, rel->name, cols[i]->name});
      sample_tried_.insert(e);
      set.push_back(e);
    }
    q += " FROM " + sql::QuoteIdent(rel->schema) + "." + sql::QuoteIdent(rel->name) + " LIMIT " +
         std::to_string(kSampleRows) + ";";
    sample_sets_.push_back(std::move(set));
  }
  sample_pending_ = true;
  return q;
}

std::optional<std::string> PgTranscoder::CopyColumnLookup(const pg::Query& query) {
  // COPY <table> [ (columns) ] TO STDOUT [ … ]: only the table form needs the catalog.
  std::string q = Lower(query.sql);
  size_t i = q.find_first_not_of(" \t\r\n");
  if (i == std::string::npos || q.compare(i, 5, "copy ") != 0) return std::nullopt;
  if (q.find(" to stdout") == std::string::npos) return std::nullopt;
  i = q.find_first_not_of(" \t\r\n", i + 5);
  size_t j = i;
  while (j < q.size() && (std::isalnum(static_cast<unsigned char>(q[j])) || q[j] == '_' ||
                          q[j] == '.' || q[j] == '"'))
    ++j;
  if (j == i || q[i] == '(') return std::nullopt;  // COPY (SELECT …): rows carry no names
  std::string table(query.sql.substr(i, j - i));
  if (table.find_first_of("'$\\") != std::string::npos || tx_status_ != 'I') return std::nullopt;
  lookup_pending_ = true;
  return "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = pg_catalog.to_regclass('" +
         table + "') AND attnum > 0 AND NOT attisdropped ORDER BY attnum";
}

std::optional<std::string> PgTranscoder::TakeCatalogLookup() {
  if (!catalog_wanted_ || !(idle_boundary_ || (stale_held_ && pending_.empty())))
    return std::nullopt;
  catalog_wanted_ = false;
  stale_held_ = false;
  // A session with the same settings read the catalog within kFresh and no read since found it
  // changed: its snapshot, with no round trip.
  if (catalog_generation_ == 0 && catalog_cache_ && !catalog_check_tried_)
    if (auto fresh = catalog_cache_->FreshStart(database_, settings_)) {
      catalog_check_tried_ = true;
      fingerprint_ = std::move(fresh->fingerprint);
      verified_at_ = fresh->at;
      InstallCatalog(sql::CatalogSnapshot::Renumbered(*fresh->snapshot, ++catalog_generation_));
      return std::nullopt;
    }
  catalog_pending_ = true;
  lookup_sent_at_ = sql::CatalogCache::Clock::now();
  // The session's first lookup, when another session of its database fetched the catalog:
  // only the fingerprint and the search path (a miss fetches in full right after).
  catalog_check_ = catalog_generation_ == 0 && catalog_cache_ && !catalog_check_tried_ &&
                   catalog_cache_->Has(database_);
  if (catalog_check_) {
    catalog_check_tried_ = true;
    return sql::CatalogSnapshot::CheckQuery();
  }
  return sql::CatalogSnapshot::Query();
}

std::optional<std::string> PgTranscoder::TakeStaleCheck(const pg::FrontendMessage& next) {
  if (!catalog_cache_ || catalog_generation_ == 0 || !ready_ || !pending_.empty() ||
      catalog_pending_ || catalog_wanted_ || tx_status_ == 'E' ||
      (tx_status_ != 'I' && check_failed_))
    return std::nullopt;
  // veil's Query destroys the unnamed statement, and inside a transaction the unnamed portal:
  // only before a message that does as much, or when neither is in use.
  if (!std::holds_alternative<pg::Query>(next)) {
    if (tx_status_ != 'I') return std::nullopt;
    const auto* parse = std::get_if<pg::Parse>(&next);
    if (unnamed_statement_ && !(parse && parse->statement.empty())) return std::nullopt;
  }
  bool fresh = sql::CatalogCache::Clock::now() - verified_at_ <= sql::CatalogCache::kFresh;
  if (!fresh)  // the common case takes no lock
    if (auto at = catalog_cache_->Confirmed(database_, fingerprint_, verified_at_)) {
      verified_at_ = *at;
      fresh = true;
    }
  if (fresh) {
    // A statement that reads a relation the snapshot lacks, perhaps made by a migration a
    // moment ago: checked once, or its result would be masked whole. Once per confirmation: a
    // name no catalog holds (a typo sent again and again) is not checked each time.
    if (unknown_checked_ || !NamesUnknownRelation(next)) return std::nullopt;
    unknown_checked_ = true;
  } else {
    unknown_checked_ = false;
  }
  catalog_pending_ = true;
  catalog_check_ = true;
  stale_held_ = true;
  lookup_sent_at_ = sql::CatalogCache::Clock::now();
  return sql::CatalogSnapshot::CheckQuery();
}

bool PgTranscoder::NamesUnknownRelation(const pg::FrontendMessage& m) {
  std::string_view sql;
  if (auto* q = std::get_if<pg::Query>(&m)) sql = q->sql;
  if (auto* p = std::get_if<pg::Parse>(&m)) sql = p->query;
  if (sql.empty() || !analyzer_ || !analysis_.has_catalog()) return false;
  auto a = analysis_.Analyze(sql);
  for (const auto& st : a->statements)
    if (st.unknown_relation || (st.inner && st.inner->unknown_relation)) return true;
  return false;
}

void PgTranscoder::InstallCatalog(std::shared_ptr<const sql::CatalogSnapshot> snapshot) {
  analysis_.SetCatalog(std::move(snapshot));
  // Plans and lineage made before the names were known are made again.
  statement_lineage_.clear();
  for (auto* descriptions : {&statement_descriptions_, &portal_descriptions_})
    for (auto& [_, d] : *descriptions) {
      d.plan.reset();
      d.lineage.reset();
    }
}

// The answer to a lookup veil sent: consumed, never forwarded. True if `m` was part of it.
bool PgTranscoder::ConsumeLookup(const pg::BackendMessage& m) {
  if (!pending_.empty() && (pending_.front().kind == Expect::kCatalog ||
                            pending_.front().kind == Expect::kCatalogCheck)) {
    const bool check = pending_.front().kind == Expect::kCatalogCheck;
    if (auto* row = std::get_if<pg::DataRowView>(&m)) {
      sql::CatalogSnapshot::Row r;
      r.reserve(row->columns.size());
      for (const auto& c : row->columns)
        r.push_back(c.is_null ? std::nullopt : std::optional<std::string>(c.data));
      catalog_rows_.push_back(std::move(r));
    } else if (std::holds_alternative<pg::ErrorResponse>(m)) {
      catalog_failed_ = true;  // the old snapshot stays; what it lacks is masked whole
    } else if (auto* ready = std::get_if<pg::ReadyForQuery>(&m)) {
      tx_status_ = ready->transaction_status;
      pending_.pop_front();
      const bool first = catalog_generation_ == 0;
      std::shared_ptr<const sql::CatalogSnapshot> shared;
      auto fingerprint = sql::CatalogSnapshot::FingerprintOf(catalog_rows_);
      const auto path = sql::CatalogSnapshot::SearchPathOf(catalog_rows_);
      // What the lookup read, for the sessions that start or run next (a failed lookup
      // confirms nothing: the next statement asks again).
      auto confirm = [&] {
        fingerprint_ = fingerprint.value_or("");
        verified_at_ = lookup_sent_at_;
        if (catalog_cache_)
          catalog_cache_->Verified(database_, first ? settings_ : "", fingerprint_, path,
                                   lookup_sent_at_);
      };
      if (catalog_failed_) check_failed_ = true;
      if (check) {
        if (!first && !catalog_failed_ && fingerprint && *fingerprint == fingerprint_ &&
            path == analysis_.catalog().search_path()) {
          confirm();  // unchanged: the session's snapshot, its plans and lineage stand
        } else {
          if (auto base = catalog_failed_ || !fingerprint
                              ? nullptr
                              : catalog_cache_->Find(database_, path, *fingerprint))
            shared =
                sql::CatalogSnapshot::WithSearchPath(*base, catalog_rows_, ++catalog_generation_);
          // Changed, another search path, or the check failed: fetch it all.
          if (shared)
            confirm();
          else if (!catalog_failed_ || tx_status_ == 'I')  // not into an aborted transaction
            catalog_wanted_ = true;
        }
      } else if (!catalog_failed_) {
        shared = sql::CatalogSnapshot::FromRows(catalog_rows_, ++catalog_generation_);
        confirm();
        // Only a session's first fetch is shared: it ran before any statement of the client's,
        // so it holds no temporary table of this session.
        if (first && catalog_cache_ && fingerprint)
          catalog_cache_->Put(database_, *fingerprint, shared);
      }
      if (!catalog_wanted_) stale_held_ = false;
      catalog_rows_.clear();
      catalog_rows_.shrink_to_fit();
      catalog_failed_ = false;
      if (shared) InstallCatalog(std::move(shared));
    }
    return true;
  }
  if (!pending_.empty() && pending_.front().kind == Expect::kSample) {
    if (std::holds_alternative<pg::RowDescription>(m)) {  // the next table's sample
      ++sample_next_;
      sample_counts_.assign(
          sample_next_ <= sample_sets_.size() ? sample_sets_[sample_next_ - 1].size() : 0, {});
    } else if (auto* row = std::get_if<pg::DataRowView>(&m)) {
      for (size_t c = 0; c < row->columns.size() && c < sample_counts_.size(); ++c) {
        if (row->columns[c].is_null) continue;
        ++sample_counts_[c].values;
        masker_.Scan(row->columns[c].data);
        if (masker_.findings().empty()) continue;
        std::string_view entity = profile_->detector()->EntityName(masker_.findings()[0].entity);
        auto& mk = sample_counts_[c].masked;
        auto it = std::find_if(mk.begin(), mk.end(), [&](auto& x) { return x.first == entity; });
        if (it == mk.end())
          mk.emplace_back(entity, 1);
        else
          ++it->second;
      }
    } else if (std::holds_alternative<pg::CommandComplete>(m)) {
      // This table's sample is complete: what it showed is the columns' content.
      if (sample_next_ >= 1 && sample_next_ <= sample_sets_.size()) {
        const auto& set = sample_sets_[sample_next_ - 1];
        for (size_t c = 0; c < set.size() && c < sample_counts_.size(); ++c) {
          columns_->Observe(set[c], sample_counts_[c].values, sample_counts_[c].masked);
          columns_->MarkSampled(set[c]);
        }
      }
      sample_counts_.clear();
    } else if (std::holds_alternative<pg::ErrorResponse>(m)) {
      sample_counts_.clear();  // what was not sampled stays unknown: derived values masked
    } else if (auto* ready = std::get_if<pg::ReadyForQuery>(&m)) {
      tx_status_ = ready->transaction_status;
      pending_.pop_front();
      sample_sets_.clear();
      sample_counts_.clear();
    }
    return true;
  }
  if (pending_.empty() || pending_.front().kind != Expect::kLookup) return false;
  if (auto* row = std::get_if<pg::DataRowView>(&m)) {
    if (!row->columns.empty() && !row->columns[0].is_null)
      lookup_columns_.emplace_back(row->columns[0].data);
  } else if (auto* ready = std::get_if<pg::ReadyForQuery>(&m)) {
    tx_status_ = ready->transaction_status;
    pending_.pop_front();
  }
  return true;  // RowDescription, CommandComplete, ErrorResponse of the lookup: dropped
}

// A COPY OUT message: one row as PostgreSQL sends it (a CSV row may hold quoted line ends),
// read in the statement's format. A row that does not split into the plan's columns is not
// forwarded in any form: the caller ends the COPY.
PgTranscoder::CopyMasked PgTranscoder::MaskCopyData(std::string_view data, std::string* out) {
  out->clear();
  bool changed = false;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t start = pos;
    if (!SplitCopyRow(data, &pos, copy_format_, &copy_scratch_, &copy_fields_))
      return CopyMasked::kUnreadable;
    const std::string_view row = data.substr(start, pos - start);
    if (copy_header_pending_) {  // the column names the statement chose: no data
      copy_header_pending_ = false;
      out->append(row);
      continue;
    }
    if (copy_fields_.size() != copy_plan_->columns.size()) return CopyMasked::kUnreadable;
    const std::string_view last = copy_fields_.back().raw;
    const size_t fields_end = static_cast<size_t>(last.data() + last.size() - data.data());
    const size_t at = out->size();
    if (MaskCopyRow(out)) {
      changed = true;
      out->append(data.substr(fields_end, pos - fields_end));  // the line end
    } else {
      out->resize(at);
      out->append(row);
    }
  }
  return changed ? CopyMasked::kChanged : CopyMasked::kUnchanged;
}

// One row of COPY text or CSV, split into copy_fields_: each field masked with its column's
// policy and written back in the statement's format. False when no field changed.
bool PgTranscoder::MaskCopyRow(std::string* out) {
  const ResultPlan& plan = *copy_plan_;
  const sql::CopyFormat& format = copy_format_;
  batch_cells_.clear();
  batch_policies_.clear();
  for (size_t c = 0; c < copy_fields_.size(); ++c) {
    batch_cells_.push_back({copy_fields_[c].value, copy_fields_[c].null});
    const auto& cp = plan.columns[c];
    batch_policies_.push_back(cp.kind == ColumnPlan::Kind::kText ? &cp.policy : nullptr);
  }
  masker_.MaskRows(batch_policies_, batch_cells_, &outcomes_, &outs_, &stats_);
  ReplaceUnreadable(plan);
  bool changed = false;
  for (size_t c = 0; c < copy_fields_.size(); ++c) {
    if (c) out->push_back(format.delimiter);
    const CopyField& field = copy_fields_[c];
    const ColumnPlan& cp = plan.columns[c];
    // Statement text is replaced whole here: COPY's escapes would change how its literals lex.
    if (!field.null &&
        (cp.kind == ColumnPlan::Kind::kNull || cp.kind == ColumnPlan::Kind::kReplace ||
         cp.kind == ColumnPlan::Kind::kReplaceJson || cp.statement_text)) {
      changed = true;
      if (!open_statements_.empty()) {
        ++open_statements_.front().record.masked_by_column[cp.label];
        NoteLineage(cp);
      }
      if (cp.kind == ColumnPlan::Kind::kNull) {
        out->append(format.null);
        continue;
      }
      std::string token;
      ColumnPlan whole;  // statement text: the [MASKED] token, never a JSON string
      whole.kind = ColumnPlan::Kind::kReplace;
      AppendReplacement(cp.statement_text ? whole : cp, field.value, &token);
      AppendCopyValue(token, format, field.quoted, out);
      continue;
    }
    // Masked by content or by a column rule: counted per column, as a DataRow's values are.
    if ((outcomes_[c] == masker::ValueOutcome::kMasked ||
         outcomes_[c] == masker::ValueOutcome::kNull) &&
        !open_statements_.empty())
      ++open_statements_.front().record.masked_by_column[cp.label];
    if (outcomes_[c] == masker::ValueOutcome::kMasked) {
      changed = true;
      AppendCopyValue(outs_[c], format, field.quoted, out);
    } else if (outcomes_[c] == masker::ValueOutcome::kNull) {
      changed = true;
      out->append(format.null);
    } else {
      out->append(field.raw);
    }
  }
  batch_cells_.clear();
  return changed;
}

Status PgTranscoder::RefuseCopy(std::string_view why, std::vector<uint8_t>* out) {
  dropping_copy_ = true;
  in_copy_out_ = false;
  copy_plan_.reset();
  lookup_columns_.clear();
  return pg::Encode(pg::MakeError(pg::Severity::kError, "0A000", std::string(why)), out);
}

void PgTranscoder::OnFrontend(const pg::FrontendMessage& message) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, pg::Query>) {
          if (catalog_pending_) {  // the Query TakeCatalogLookup returned
            catalog_pending_ = false;
            pending_.push_back({catalog_check_ ? Expect::kCatalogCheck : Expect::kCatalog, {}});
            return;
          }
          if (lookup_pending_) {  // the Query CopyColumnLookup returned, sent by the session
            lookup_pending_ = false;
            lookup_columns_.clear();
            pending_.push_back({Expect::kLookup, {}});
            return;
          }
          if (sample_pending_) {  // the Query ContentSample returned
            sample_pending_ = false;
            sample_next_ = 0;
            pending_.push_back({Expect::kSample, {}});
            return;
          }
          pending_.push_back({Expect::kQuery, std::string(m.sql)});
          unnamed_statement_ = false;  // a Query destroys it
          if (blocked_) {
            OpenStatementFor(OpenStatement::Kind::kSimple, std::move(blocked_->first),
                             std::move(blocked_->second));
            blocked_.reset();
          } else {
            OpenStatementFor(OpenStatement::Kind::kSimple, std::string(m.sql), {});
          }
        } else if constexpr (std::is_same_v<T, pg::Parse>) {
          pending_.push_back({Expect::kParse, std::string(m.statement)});
          if (m.statement.empty()) unnamed_statement_ = true;
          statement_lineage_.erase(std::string(m.statement));
          auto& text = statement_texts_[std::string(m.statement)];
          if (blocked_) {
            text = {std::move(blocked_->first), std::move(blocked_->second)};
            blocked_.reset();
          } else {
            text = {std::string(m.query), {}};
          }
        } else if constexpr (std::is_same_v<T, pg::Bind>) {
          portals_[std::string(m.portal)] = {std::string(m.statement), m.result_formats};
          portal_descriptions_.erase(std::string(m.portal));
          pending_.push_back({Expect::kBind, std::string(m.portal)});
        } else if constexpr (std::is_same_v<T, pg::Describe>) {
          pending_.push_back(
              {m.target == 'S' ? Expect::kDescribeStatement : Expect::kDescribePortal,
               std::string(m.name)});
        } else if constexpr (std::is_same_v<T, pg::Execute>) {
          pending_.push_back({Expect::kExecute, std::string(m.portal)});
          StatementText text;
          if (auto p = portals_.find(m.portal); p != portals_.end()) {
            if (auto t = statement_texts_.find(p->second.statement); t != statement_texts_.end())
              text = t->second;
          }
          OpenStatementFor(OpenStatement::Kind::kExecute, std::move(text.text),
                           std::move(text.guardrail));
        } else if constexpr (std::is_same_v<T, pg::Close>) {
          if (m.target == 'S') {
            statement_descriptions_.erase(std::string(m.name));
            statement_texts_.erase(std::string(m.name));
            statement_lineage_.erase(std::string(m.name));
          } else {
            portals_.erase(std::string(m.name));
            portal_descriptions_.erase(std::string(m.name));
          }
          pending_.push_back({Expect::kClose, std::string(m.name)});
        } else if constexpr (std::is_same_v<T, pg::Sync>) {
          pending_.push_back({Expect::kSync, {}});
          OpenStatementFor(OpenStatement::Kind::kSync, {}, {});
        } else if constexpr (std::is_same_v<T, pg::FunctionCall>) {
          pending_.push_back({Expect::kFunctionCall, std::to_string(m.function_oid)});
        }
      },
      message);
}

void PgTranscoder::OpenStatementFor(OpenStatement::Kind kind, std::string text,
                                    std::string guardrail) {
  OpenStatement o{kind, {}, std::chrono::steady_clock::now(), stats_, rows_sent_, BytesSent()};
  o.record.text = std::move(text);
  o.record.guardrail = std::move(guardrail);
  open_statements_.push_back(std::move(o));
}

// The statement at the front has all its results: its counters are the session's since it began.
void PgTranscoder::CompleteFront() {
  OpenStatement& o = open_statements_.front();
  StatementRecord& r = o.record;
  r.rows = rows_sent_ - o.rows_base;
  r.bytes = BytesSent() - o.bytes_base;
  for (size_t i = 0; i < r.masked.per_entity.size(); ++i)
    r.masked.per_entity[i] = stats_.per_entity[i] - o.masked_base.per_entity[i];
  r.masked.values_masked = stats_.values_masked - o.masked_base.values_masked;
  r.duration = std::chrono::steady_clock::now() - o.started;
  completed_.push_back(std::move(r));
  open_statements_.pop_front();
  RebaseFront();
}

// Pipelined statements were opened when sent; their counters start when the one before ends.
void PgTranscoder::RebaseFront() {
  if (open_statements_.empty()) return;
  OpenStatement& o = open_statements_.front();
  o.masked_base = stats_;
  o.rows_base = rows_sent_;
  o.bytes_base = BytesSent();
  o.started = std::chrono::steady_clock::now();
}

void PgTranscoder::PopUntilSync() {
  // After an error in the extended protocol the server skips to the next Sync.
  while (!pending_.empty() && pending_.front().kind != Expect::kSync &&
         pending_.front().kind != Expect::kQuery)
    pending_.pop_front();
}

const ResultPlan& PgTranscoder::CachedPlan(Description& d, std::span<const int16_t> formats) {
  if (!d.plan ||
      !std::equal(d.plan_formats.begin(), d.plan_formats.end(), formats.begin(), formats.end())) {
    if (!d.lineage && analyzer_ && d.statement) d.lineage = StatementLineageOf(*d.statement);
    d.plan = PlanFor(d, formats, d.lineage && !d.lineage->empty() ? &d.lineage->front() : nullptr);
    d.plan_formats.assign(formats.begin(), formats.end());
  }
  return *d.plan;
}

// The statement of the Query at the head of pending_ that the server is answering now.
const StatementLineage* PgTranscoder::CurrentQueryStatement() {
  if (!analyzer_ || pending_.empty() || pending_.front().kind != Expect::kQuery) return nullptr;
  if (!query_lineage_) query_lineage_ = analyzer_(pending_.front().name);
  if (!query_lineage_ || query_statement_ >= query_lineage_->size()) return nullptr;
  return &(*query_lineage_)[query_statement_];
}

// A prepared statement's lineage, analysed the first time it is needed (its Parse was answered
// by then, so a catalog lookup sent before it has been consumed).
std::shared_ptr<const QueryLineage> PgTranscoder::StatementLineageOf(const std::string& statement) {
  if (!analyzer_) return nullptr;
  if (auto it = statement_lineage_.find(statement); it != statement_lineage_.end())
    return it->second;
  auto text = statement_texts_.find(statement);
  if (text == statement_texts_.end()) return nullptr;
  auto l = analyzer_(text->second.text);
  statement_lineage_[statement] = l;
  return l;
}

// The lineage of the statement answering now: a Query's current statement, or an Execute's
// prepared statement; null when not known.
const StatementLineage* PgTranscoder::AnsweringLineage() {
  if (pending_.empty()) return nullptr;
  const Pending& p = pending_.front();
  if (p.kind == Expect::kQuery) return CurrentQueryStatement();
  std::string statement;
  if (p.kind == Expect::kDescribeStatement) {
    statement = p.name;
  } else if (p.kind == Expect::kExecute || p.kind == Expect::kDescribePortal) {
    auto it = portals_.find(p.name);
    if (it == portals_.end()) return nullptr;
    statement = it->second.statement;
  } else {
    return nullptr;
  }
  auto l = StatementLineageOf(statement);
  return l && !l->empty() ? &l->front() : nullptr;  // statement_lineage_ keeps it
}

// Whether the statement answering now counts rows of a cursor that code veil cannot follow
// opened, in a session where such code ran: its rows (even NULL) and its tag give a count that
// may be a value, so it is answered with an error instead.
bool PgTranscoder::CountsUnseenCursor() {
  const StatementLineage* l = opaque_ran_ ? AnsweringLineage() : nullptr;
  return l && l->unknown_cursor;
}

// The plan for DataRows arriving now: the simple query's RowDescription, or the portal of the
// Execute at the head of the queue (its Describe, or its statement's with Bind's formats).
const ResultPlan* PgTranscoder::PlanForRows() {
  if (!pending_.empty() && pending_.front().kind == Expect::kExecute) {
    if (execute_plan_) return &*execute_plan_;
    const std::string& portal = pending_.front().name;
    if (auto it = portal_descriptions_.find(portal); it != portal_descriptions_.end()) {
      execute_plan_ = CachedPlan(it->second, {});
      return &*execute_plan_;
    }
    if (auto p = portals_.find(portal); p != portals_.end()) {
      if (auto s = statement_descriptions_.find(p->second.statement);
          s != statement_descriptions_.end()) {
        execute_plan_ = CachedPlan(s->second, p->second.result_formats);
        return &*execute_plan_;
      }
    }
    return nullptr;
  }
  return query_plan_ ? &*query_plan_ : nullptr;
}

// Whether the statement now answering reads a sensitive column (or could not be analysed).
bool PgTranscoder::StatementReadsSensitive() {
  if (!analyzer_) return false;
  const StatementLineage* l = nullptr;
  std::shared_ptr<const QueryLineage> keep;
  if (!pending_.empty() && pending_.front().kind == Expect::kExecute) {
    if (auto p = portals_.find(pending_.front().name); p != portals_.end())
      keep = StatementLineageOf(p->second.statement);
    if (keep && !keep->empty()) l = &keep->front();
  } else if (!pending_.empty() && pending_.front().kind == Expect::kQuery) {
    l = CurrentQueryStatement();
  } else {
    return false;  // an answer to Parse, Bind, or the session itself: no data read yet
  }
  if (!l || !l->analyzed || l->opaque) return true;
  for (const auto& c : l->reads)
    if (SensitivityOf(c).sensitive) return true;
  for (const auto& col : l->result.columns)
    if (col.kind == ColumnLineage::Kind::kUnknown) return true;
  return false;
}

void PgTranscoder::MaskResponse(pg::ResponseFields* fields, bool notice) {
  // Texts that can echo data: message, detail, hint, context, internal query.
  static constexpr char kTextFields[] = {pg::field::kMessage, pg::field::kDetail, pg::field::kHint,
                                         pg::field::kWhere, pg::field::kInternalQuery};
  // Errors about values (class 22 data exception, 23 integrity violation), raised by code
  // (P0: PL/pgSQL RAISE, XX internal) and notices quote the value they are about, and a value
  // computed from a sensitive column (reverse(email)::int) no longer looks like one: under a
  // statement that reads sensitive columns they keep their SQLSTATE and lose their texts.
  std::string_view state = fields->Get(pg::field::kSqlState);
  const bool data_class = notice || state.starts_with("22") || state.starts_with("23") ||
                          state.starts_with("P0") || state.starts_with("XX");
  const bool reads_sensitive = StatementReadsSensitive();
  // Any other error quotes names, and a name can be a value too: full_name::regclass says
  // relation "Margaret Okonkwo" does not exist, reverse(ssn)::regtype quotes the reversed
  // number, a query_to_xml built from a column names it in its QUERY. Such texts pass only
  // when everything they quote is the statement's own text or a name the catalog holds.
  const bool foreign_quotes =
      reads_sensitive && !data_class &&
      !QuotesOnlyKnownText(*fields,
                           open_statements_.empty() ? "" : open_statements_.front().record.text,
                           analysis_.catalog());
  if ((data_class && reads_sensitive) || foreign_quotes) {
    std::string code(state.empty() ? "00000" : state);
    auto& all = fields->fields;
    all.erase(std::remove_if(all.begin(), all.end(),
                             [](const pg::ResponseField& f) {
                               return f.code == pg::field::kInternalPosition ||
                                      (f.code != pg::field::kMessage &&
                                       std::find(std::begin(kTextFields), std::end(kTextFields),
                                                 f.code) != std::end(kTextFields));
                             }),
              all.end());
    fields->Set(pg::field::kMessage, "veil: text withheld (SQLSTATE " + code +
                                         "): the statement reads sensitive columns");
    ++stats_.values_masked;
    return;
  }
  // Integrity errors quote rows and keys the statement did not name: "Failing row contains
  // (…)" lists every column of the row it wrote (UPDATE … SET balance = -1 shows the row's
  // SSN), "Key (ssn)=(…) is duplicated" a key already stored (CREATE UNIQUE INDEX). Their
  // detail is withheld when the relation they name has a sensitive column, or none is named.
  if (!notice && state.starts_with("23") && !fields->Get(pg::field::kDetail).empty() &&
      RelationMayHoldSensitive(fields->Get(pg::field::kSchemaName),
                               fields->Get(pg::field::kTableName))) {
    fields->Set(pg::field::kDetail,
                "veil: detail withheld: it quotes values of a relation with sensitive columns");
    ++stats_.values_masked;
  }
  std::string out;
  for (char code : kTextFields) {
    std::string_view v = fields->Get(code);
    if (v.empty()) continue;
    if (!ValidUtf8(v)) {
      fields->Set(code, "[MASKED]");
      ++stats_.values_masked;
    } else if (masker_.MaskText(v, &out, &stats_)) {
      fields->Set(code, out);
    }
  }
}

bool PgTranscoder::RelationMayHoldSensitive(std::string_view schema, std::string_view table) {
  const sql::CatalogRelation* rel =
      table.empty() ? nullptr : analysis_.catalog().Find(schema, table);
  if (!rel) return true;  // not named, or not known: fail closed
  for (const auto& c : rel->columns)
    if (SensitivityOf({rel->schema, rel->name, c.name}).sensitive) return true;
  return false;
}

// A scanned value that is not UTF-8 (a client encoding veil cannot read, set in the exchange
// that is still answering; bytes stored in a SQL_ASCII database) is replaced whole: the masker
// could not have read the personal data in it.
void PgTranscoder::ReplaceUnreadable(const ResultPlan& plan) {
  const size_t ncols = batch_policies_.size();
  for (size_t i = 0; i < batch_cells_.size() && ncols; ++i) {
    const auto& cell = batch_cells_[i];
    if (cell.is_null || !batch_policies_[i % ncols] || ValidUtf8(cell.value)) continue;
    // The [MASKED] token; in binary jsonb a JSON string (its version byte is added after).
    ColumnPlan whole;
    whole.kind = plan.columns[i % ncols].kind == ColumnPlan::Kind::kJsonbBinary
                     ? ColumnPlan::Kind::kReplaceJson
                     : ColumnPlan::Kind::kReplace;
    outcomes_[i] = masker::ValueOutcome::kMasked;
    outs_[i].clear();
    AppendReplacement(whole, cell.value, &outs_[i]);
    ++stats_.values_masked;
  }
}

// Masks the batch of DataRows collected so far and appends them, rebuilt, to *out.
Status PgTranscoder::FlushRows(std::vector<uint8_t>* out) {
  if (batch_cells_.empty()) return {};
  const size_t ncols = batch_policies_.size();
  masker_.MaskRows(batch_policies_, batch_cells_, &outcomes_, &outs_, &stats_);
  ReplaceUnreadable(*batch_plan_);
  const size_t rows = ncols ? batch_cells_.size() / ncols : 0;
  for (size_t r = 0; r < rows; ++r) {
    row_values_.clear();
    for (size_t c = 0; c < ncols; ++c) {
      const size_t i = r * ncols + c;
      const auto& cell = batch_cells_[i];
      const ColumnPlan& plan = batch_plan_->columns[c];
      pg::ColumnValue v{cell.value, cell.is_null};
      if (plan.kind == ColumnPlan::Kind::kJsonbBinary && !cell.is_null) {
        v.data = std::string_view(cell.value.data() - 1, cell.value.size() + 1);
      }
      // Binary numbers and dates under a rule or a telling name, and values derived from a
      // sensitive column that no token fits: NULL, bytes unseen.
      const bool nulled =
          outcomes_[i] == masker::ValueOutcome::kNull ||
          ((plan.kind == ColumnPlan::Kind::kNullIfRule || plan.kind == ColumnPlan::Kind::kNull) &&
           !cell.is_null);
      const bool replaced = !cell.is_null && (plan.kind == ColumnPlan::Kind::kReplace ||
                                              plan.kind == ColumnPlan::Kind::kReplaceJson ||
                                              plan.kind == ColumnPlan::Kind::kReplaceJsonbBinary);
      if ((nulled || replaced || outcomes_[i] == masker::ValueOutcome::kMasked) &&
          !open_statements_.empty()) {
        ++open_statements_.front().record.masked_by_column[plan.label];
        if (plan.by_lineage) NoteLineage(plan);
      }
      if (nulled) {
        v = {{}, true};
      } else if (replaced) {
        outs_[i].clear();
        AppendReplacement(plan, cell.value, &outs_[i]);
        v = {outs_[i], false};
      } else if (outcomes_[i] == masker::ValueOutcome::kMasked) {
        if (plan.kind == ColumnPlan::Kind::kJsonbBinary) outs_[i].insert(outs_[i].begin(), '\1');
        v = {outs_[i], false};
      }
      row_values_.push_back(v);
    }
    if (auto st = pg::EncodeDataRow(row_values_, out); !st.ok()) return st;
  }
  Learn(rows);
  batch_cells_.clear();
  normalized_cells_.clear();
  batch_plan_ = nullptr;
  return {};
}

// Content learning: for the batch's base columns not yet known to be sensitive, how many
// values they carried and which entities the masked ones were. A masked value is scanned once
// more to name its entity; masked values are the rare ones.
void PgTranscoder::Learn(size_t rows) {
  const size_t ncols = batch_policies_.size();
  bool any = false;
  for (const auto& c : batch_plan_->columns) any = any || c.learn;
  if (!any || ncols == 0) return;
  learning_.assign(ncols, {});
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < ncols; ++c) {
      const ColumnPlan& plan = batch_plan_->columns[c];
      const size_t i = r * ncols + c;
      if (!plan.learn || batch_cells_[i].is_null) continue;
      ++learning_[c].values;
      if (outcomes_[i] == masker::ValueOutcome::kUnchanged) continue;
      masker_.Scan(batch_cells_[i].value);
      if (masker_.findings().empty()) continue;
      std::string_view entity = profile_->detector()->EntityName(masker_.findings()[0].entity);
      auto& m = learning_[c].masked;
      auto it = std::find_if(m.begin(), m.end(), [&](const auto& e) { return e.first == entity; });
      if (it == m.end())
        m.emplace_back(entity, 1);
      else
        ++it->second;
    }
  for (size_t c = 0; c < ncols; ++c)
    if (batch_plan_->columns[c].learn)
      columns_->Observe(batch_plan_->columns[c].learn, learning_[c].values, learning_[c].masked);
}

Status PgTranscoder::OnBackend(std::span<const uint8_t> in, size_t* consumed,
                               std::vector<uint8_t>* out) {
  out_ = out;
  out_start_ = out->size();
  Status st = TranscodeFrames(in, consumed, out);
  bytes_sent_ += out->size() - out_start_;
  out_ = nullptr;
  return st;
}

namespace {

// Large-object functions of the fast-path protocol whose result is a descriptor, offset,
// count or OID (pg_proc OIDs, fixed since PostgreSQL 7): lo_open, lo_close, lo_creat,
// lo_create, lo_unlink, lo_lseek, lo_lseek64, lo_tell, lo_tell64, lo_truncate, lo_truncate64,
// lowrite (the number of bytes written).
bool FastPathResultIsMetadata(std::string_view oid) {
  static constexpr std::string_view kMetadata[] = {"952",  "953", "957",  "715",  "964",  "956",
                                                   "3170", "958", "3171", "1004", "3172", "955"};
  return std::find(std::begin(kMetadata), std::end(kMetadata), oid) != std::end(kMetadata);
}

constexpr std::string_view kLoRead = "954";  // loread(fd, len) -> bytea

}  // namespace

bool FastPathLargeObjectRead(uint32_t function_oid) {
  // lo_open, lo_close, loread, lo_lseek, lo_lseek64, lo_tell, lo_tell64.
  static constexpr uint32_t kRead[] = {952, 953, 954, 956, 3170, 958, 3171};
  return std::find(std::begin(kRead), std::end(kRead), function_oid) != std::end(kRead);
}

void PgTranscoder::OpaqueRan(const StatementLineage& l) {
  if (l.creates_code) code_created_ = true;
  if (!l.opaque) return;
  opaque_ran_ = opaque_since_ready_ = true;
  // A function the session created (CREATE FUNCTION pg_temp.f() … INSERT …) may write as a DO
  // block does; one it did not create is the database's own code.
  if (!(l.opaque_writes || code_created_) || opaque_wrote_) return;
  opaque_wrote_ = true;
  // Plans made before (a statement described, then executed after the DO) are made again.
  for (auto& [name, d] : statement_descriptions_) d.plan.reset();
  for (auto& [name, d] : portal_descriptions_) d.plan.reset();
  execute_plan_.reset();
}

// Whether the statement answering now runs code veil cannot follow.
bool PgTranscoder::AnsweringOpaque() {
  const StatementLineage* l = AnsweringLineage();
  return l && l->opaque;
}

// A cursor that code veil cannot follow opened (a DO block's `OPEN c FOR EXECUTE format('SELECT
// 1 AS %I', ssn)`) is described by that code: its names, and the tables and columns it says
// they come from, may be values. Once such code ran, such a cursor's description goes out with
// every field renamed by its position (column_N) and tied to no table. Its rows never do
// (CountsUnseenCursor). False: nothing to rename.
bool PgTranscoder::RenameFields(const pg::RowDescription& m, std::vector<uint8_t>* out) {
  if (!CountsUnseenCursor()) return false;
  pg::RowDescription d = m;
  std::vector<std::string> names(d.fields.size());
  for (size_t i = 0; i < d.fields.size(); ++i) {
    names[i] = "column_" + std::to_string(i + 1);
    d.fields[i].name = names[i];
    d.fields[i].table_oid = 0;
    d.fields[i].column_number = 0;
  }
  (void)pg::Encode(d, out);
  return true;
}

Status PgTranscoder::TranscodeFrames(std::span<const uint8_t> in, size_t* consumed,
                                     std::vector<uint8_t>* out) {
  *consumed = 0;
  // Every message not appended before the next non-DataRow frame breaks the row batch.
  bool suppress = false;
  auto forward = [&](size_t b, size_t n) {
    if (suppress) return;
    out->insert(out->end(), in.begin() + b, in.begin() + b + n);
  };
  while (*consumed < in.size()) {
    size_t n = 0;
    auto r = decoder_.Decode(in.subspan(*consumed), &n, &message_);
    if (r.status == pg::DecodeStatus::kNeedMoreData) break;
    if (r.status == pg::DecodeStatus::kError) return Error{r.error};
    const size_t at = *consumed;
    *consumed += n;

    if (ConsumeLookup(message_)) continue;
    idle_boundary_ = false;
    // The first answer to a Query: analyse all its statements now, in order, even those that
    // return no rows (a PREPARE or DECLARE named here is used by a later statement).
    if (analyzer_ && !query_lineage_ && !pending_.empty() &&
        pending_.front().kind == Expect::kQuery)
      query_lineage_ = analyzer_(pending_.front().name);
    if (dropping_copy_) {  // the rest of a refused binary COPY, up to its CommandComplete
      if (std::holds_alternative<pg::CommandComplete>(message_) ||
          std::holds_alternative<pg::ErrorResponse>(message_))
        dropping_copy_ = false;
      if (!std::holds_alternative<pg::ReadyForQuery>(message_)) continue;
    }
    suppress = false;  // set: this frame updates state but is not forwarded
    if (dropping_rows_) {
      if (std::holds_alternative<pg::DataRowView>(message_)) continue;
      if (std::holds_alternative<pg::CommandComplete>(message_) ||
          std::holds_alternative<pg::PortalSuspended>(message_) ||
          std::holds_alternative<pg::ErrorResponse>(message_)) {
        dropping_rows_ = false;
        suppress = true;
      }
    }
    // Judged at a result's first row (the rest follow it) or at MOVE's tag; never per row.
    const bool unseen_count =
        opaque_ran_ &&
        ((std::holds_alternative<pg::DataRowView>(message_) && rows_in_result_ == 0) ||
         (std::holds_alternative<pg::CommandComplete>(message_) &&
          std::get<pg::CommandComplete>(message_).tag.starts_with("MOVE "))) &&
        CountsUnseenCursor();
    if (unseen_count) {
      if (auto st = FlushRows(out); !st.ok()) return st;
      auto st = pg::Encode(pg::MakeError(pg::Severity::kError, "42501",
                                         "veil: rows of a cursor opened by code veil cannot "
                                         "follow (DO, a function) are not returned"),
                           out);
      if (!st.ok()) return st;
      if (std::holds_alternative<pg::DataRowView>(message_)) {
        dropping_rows_ = true;  // the rest, up to the CommandComplete
        continue;
      }
      suppress = true;  // MOVE's tag: state is kept, the count is not sent
    }
    if (auto* row = std::get_if<pg::DataRowView>(&message_)) {
      if (max_rows_ && rows_in_result_ >= *max_rows_) {
        if (auto st = FlushRows(out); !st.ok()) return st;
        auto st = pg::Encode(pg::MakeError(pg::Severity::kError, "42501",
                                           "veil: result ended by guardrail max-rows after " +
                                               std::to_string(*max_rows_) + " rows"),
                             out);
        if (!st.ok()) return st;
        dropping_rows_ = true;
        continue;
      }
      ++rows_in_result_;
      ++rows_sent_;
      const ResultPlan* plan = PlanForRows();
      if (batch_plan_ && plan != batch_plan_) {
        if (auto st = FlushRows(out); !st.ok()) return st;
      }
      if (!plan || plan->columns.size() != row->columns.size()) {
        // Rows without a known description: every column scanned as text. Never unmasked.
        // With lineage, what is derived or unknown becomes NULL: its type is not known, so no
        // token can be trusted to fit it.
        if (!fallback_plan_ || fallback_plan_->columns.size() != row->columns.size() || analyzer_) {
          Description d;
          d.fields.resize(row->columns.size());
          for (auto& f : d.fields) f.type_oid = kText;
          std::shared_ptr<const QueryLineage> keep;
          const StatementLineage* l = nullptr;
          if (!pending_.empty() && pending_.front().kind == Expect::kExecute) {
            if (auto p = portals_.find(pending_.front().name); p != portals_.end())
              keep = StatementLineageOf(p->second.statement);
            if (keep && !keep->empty()) l = &keep->front();
          } else {
            l = CurrentQueryStatement();
          }
          fallback_plan_ = PlanFor(d, {}, l);
          for (auto& c : fallback_plan_->columns)
            if (c.by_lineage) c.kind = ColumnPlan::Kind::kNull;
        }
        plan = &*fallback_plan_;
      }
      if (!batch_plan_) {
        batch_plan_ = plan;
        batch_policies_.clear();
        for (const auto& c : plan->columns)
          batch_policies_.push_back(c.kind == ColumnPlan::Kind::kText ||
                                            c.kind == ColumnPlan::Kind::kJsonbBinary
                                        ? &c.policy
                                        : nullptr);
      }
      for (size_t c = 0; c < row->columns.size(); ++c) {
        const auto& v = row->columns[c];
        const ColumnPlan& cp = plan->columns[c];
        masker::Masker::Cell cell{v.data, v.is_null};
        if (cp.statement_text && cp.kind == ColumnPlan::Kind::kText && !v.is_null) {
          // Read both ways whatever the other session's standard_conforming_strings was.
          cell.value = normalized_cells_.emplace_back(events::NormalizeStatement(v.data));
          if (cell.value != v.data && !open_statements_.empty())
            ++open_statements_.front().record.masked_by_column[cp.label];
        }
        if ((cp.kind == ColumnPlan::Kind::kJsonbBinary ||
             cp.kind == ColumnPlan::Kind::kReplaceJsonbBinary) &&
            !v.is_null) {
          if (v.data.empty() || v.data[0] != 1) return Error{"jsonb value with an unknown version"};
          cell.value = v.data.substr(1);
        }
        batch_cells_.push_back(cell);
      }
      if (batch_cells_.size() >= 64 * std::max<size_t>(1, plan->columns.size())) {
        if (auto st = FlushRows(out); !st.ok()) return st;
      }
      continue;
    }
    if (auto st = FlushRows(out); !st.ok()) return st;

    Status status;
    std::visit(
        [&](auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, pg::RowDescription>) {
            rows_in_result_ = 0;
            Description d = Description::Of(m);
            for (const auto& f : d.fields)
              if (f.table_oid != 0 && !analysis_.catalog().ByOid(f.table_oid))
                catalog_wanted_ = true;
            const bool renamed = opaque_ran_ && !suppress && RenameFields(m, out);
            if (!pending_.empty() && pending_.front().kind == Expect::kDescribeStatement) {
              d.statement = pending_.front().name;
              statement_descriptions_[pending_.front().name] = std::move(d);
              pending_.pop_front();
            } else if (!pending_.empty() && pending_.front().kind == Expect::kDescribePortal) {
              // pgjdbc describes the portal once, then re-binds the statement without any
              // Describe: keep the columns for the statement too, formats left to each Bind.
              if (auto p = portals_.find(pending_.front().name); p != portals_.end()) {
                d.statement = p->second.statement;
                Description statement = d;
                for (auto& f : statement.fields) f.format = pg::kFormatText;
                statement_descriptions_[p->second.statement] = std::move(statement);
              }
              portal_descriptions_[pending_.front().name] = std::move(d);
              pending_.pop_front();
            } else {
              query_plan_ = PlanFor(d, {}, CurrentQueryStatement());
            }
            if (!renamed) forward(at, n);
          } else if constexpr (std::is_same_v<T, pg::NoData>) {
            if (!pending_.empty() && (pending_.front().kind == Expect::kDescribeStatement ||
                                      pending_.front().kind == Expect::kDescribePortal))
              pending_.pop_front();
            forward(at, n);
          } else if constexpr (std::is_same_v<T, pg::ParseComplete> ||
                               std::is_same_v<T, pg::BindComplete> ||
                               std::is_same_v<T, pg::CloseComplete>) {
            // A parsed statement is analysed now, in the order the server runs things: a
            // DECLARE or PREPARE in it names what a later statement uses.
            if constexpr (std::is_same_v<T, pg::ParseComplete>)
              if (!pending_.empty() && pending_.front().kind == Expect::kParse)
                (void)StatementLineageOf(pending_.front().name);
            if (!pending_.empty()) pending_.pop_front();
            forward(at, n);
          } else if constexpr (std::is_same_v<T, pg::CommandComplete> ||
                               std::is_same_v<T, pg::EmptyQueryResponse> ||
                               std::is_same_v<T, pg::PortalSuspended>) {
            if (!pending_.empty() && pending_.front().kind == Expect::kExecute) {
              if (auto p = portals_.find(pending_.front().name); p != portals_.end())
                if (auto l = StatementLineageOf(p->second.statement); l && !l->empty()) {
                  if (l->front().refresh_catalog) catalog_wanted_ = true;
                  OpaqueRan(l->front());
                }
              pending_.pop_front();
            } else if (!pending_.empty() && pending_.front().kind == Expect::kFunctionCall) {
              pending_.pop_front();
            } else if (!pending_.empty() && pending_.front().kind == Expect::kQuery &&
                       !std::is_same_v<T, pg::PortalSuspended>) {
              // DDL or SET search_path: names may mean something else from now on.
              if (const StatementLineage* l = CurrentQueryStatement()) {
                if (l->refresh_catalog) catalog_wanted_ = true;
                OpaqueRan(*l);  // DO, CALL, …
              }
              ++query_statement_;  // the next statement of the Query answers next
            }
            fallback_plan_.reset();
            if (!open_statements_.empty() &&
                open_statements_.front().kind != OpenStatement::Kind::kSync) {
              if constexpr (std::is_same_v<T, pg::CommandComplete>)
                open_statements_.front().record.command_tag = std::string(m.tag);
              if (open_statements_.front().kind == OpenStatement::Kind::kExecute) CompleteFront();
            }
            execute_plan_.reset();
            query_plan_.reset();
            in_copy_out_ = false;
            if (!std::is_same_v<T, pg::PortalSuspended>) rows_in_result_ = 0;
            forward(at, n);
          } else if constexpr (std::is_same_v<T, pg::ReadyForQuery>) {
            opaque_since_ready_ = false;
            while (!pending_.empty() && pending_.front().kind != Expect::kSync &&
                   pending_.front().kind != Expect::kQuery)
              pending_.pop_front();
            if (!pending_.empty()) pending_.pop_front();
            query_lineage_.reset();
            query_statement_ = 0;
            // A simple query ends here; Executes an error made the server skip end unrecorded.
            while (!open_statements_.empty()) {
              auto kind = open_statements_.front().kind;
              if (kind == OpenStatement::Kind::kSimple) {
                CompleteFront();
                break;
              }
              open_statements_.pop_front();
              RebaseFront();
              if (kind == OpenStatement::Kind::kSync) break;
            }
            query_plan_.reset();
            execute_plan_.reset();
            in_copy_out_ = false;
            copy_plan_.reset();
            tx_status_ = m.transaction_status;
            if (!ready_) catalog_wanted_ = true;  // first idle moment: learn the tables
            idle_boundary_ = pending_.empty() && tx_status_ == 'I';
            ready_ = true;
            forward(at, n);
          } else if constexpr (std::is_same_v<T, pg::CopyOutResponse> ||
                               std::is_same_v<T, pg::CopyBothResponse>) {
            // How the rows are written: the statement's COPY options. Known from its text
            // alone; without them (no analysis of it) veil cannot tell its fields apart.
            const StatementLineage* lineage = analyzer_ ? AnsweringLineage() : nullptr;
            copy_format_ = lineage && lineage->copy ? *lineage->copy : sql::CopyFormat{};
            if (m.format != pg::kFormatText ||
                copy_format_.kind == sql::CopyFormat::Kind::kBinary) {
              // Binary COPY has no text to mask and veil does not know its column types:
              // the client gets an error for its statement instead of the data.
              status = RefuseCopy(
                  "veil: binary COPY cannot be masked; use COPY … TO STDOUT in text or CSV "
                  "format",
                  out);
              return;
            }
            if (analyzer_ && (!lineage || !lineage->copy || !copy_format_.understood)) {
              status = RefuseCopy(
                  "veil: COPY options veil cannot read; use COPY … TO STDOUT with FORMAT text "
                  "or csv and one-byte DELIMITER, QUOTE and ESCAPE",
                  out);
              return;
            }
            copy_header_pending_ = copy_format_.header;
            in_copy_out_ = true;
            // Column context for the lines: the statement's lineage, else the names a lookup
            // found, if they fit.
            if (analyzer_) {
              Description d;
              d.fields.resize(m.column_formats.size());
              const bool fits =
                  lineage && lineage->analyzed && lineage->result.columns.size() == d.fields.size();
              for (size_t c = 0; c < d.fields.size(); ++c) {
                d.fields[c].type_oid = kText;
                if (lookup_columns_.size() == d.fields.size())
                  d.fields[c].name = lookup_columns_[c];
                // A base column's own type, so that a masked date or number is written as
                // \N, as a SELECT gets NULL, and a dump of it restores.
                if (fits) {
                  const ColumnLineage& l = lineage->result.columns[c];
                  if (l.kind == ColumnLineage::Kind::kDirect && l.sources.size() == 1)
                    if (auto type = ColumnType(l.sources[0])) d.fields[c].type_oid = *type;
                }
              }
              copy_plan_ = PlanFor(d, {}, lineage);
            } else if (!lookup_columns_.empty() &&
                       lookup_columns_.size() == m.column_formats.size() &&
                       m.format == pg::kFormatText) {
              Description d;
              for (const auto& name : lookup_columns_) d.fields.push_back({name, kText, 0});
              copy_plan_ = PlanFor(d, {});
            }
            lookup_columns_.clear();
            forward(at, n);
          } else if constexpr (std::is_same_v<T, pg::CopyData>) {
            // COPY TO STDOUT: a row per message, masked field by field with its column's
            // policy; without a plan (no analysis and no column names), masked as text.
            bool changed = false;
            if (in_copy_out_ && copy_plan_) {
              switch (MaskCopyData(m.data, &copy_masked_)) {
                case CopyMasked::kUnreadable:
                  status = RefuseCopy(
                      "veil: a COPY row does not split into its statement's columns; the rest "
                      "of the data is not sent",
                      out);
                  return;
                case CopyMasked::kChanged:
                  changed = true;
                  break;
                case CopyMasked::kUnchanged:
                  break;
              }
            } else if (in_copy_out_) {
              if (!ValidUtf8(m.data)) {
                status = RefuseCopy("veil: COPY data that is not UTF-8 cannot be masked", out);
                return;
              }
              changed = masker_.MaskLines(m.data, &copy_masked_, &stats_);
            }
            if (changed) {
              status = pg::AppendMessage('d', copy_masked_, out);
            } else {
              forward(at, n);
            }
          } else if constexpr (std::is_same_v<T, pg::ErrorResponse>) {
            if (!open_statements_.empty() && !open_statements_.front().record.guardrail.empty())
              DropRefusalOrigin(&m);
            MaskResponse(&m, /*notice=*/false);
            if (!suppress) status = pg::Encode(m, out);
            if (!open_statements_.empty() &&
                open_statements_.front().kind != OpenStatement::Kind::kSync) {
              open_statements_.front().record.sqlstate = std::string(m.Get(pg::field::kSqlState));
              if (open_statements_.front().kind == OpenStatement::Kind::kExecute) CompleteFront();
            }
            rows_in_result_ = 0;
            if (!pending_.empty() && pending_.front().kind != Expect::kQuery) PopUntilSync();
            execute_plan_.reset();
            in_copy_out_ = false;
          } else if constexpr (std::is_same_v<T, pg::NoticeResponse>) {
            MaskResponse(&m, /*notice=*/true);
            status = pg::Encode(m, out);
          } else if constexpr (std::is_same_v<T, pg::NotificationResponse>) {
            std::string masked;
            if (!ValidUtf8(m.payload)) masked = "[MASKED]";
            if (!masked.empty() || masker_.MaskText(m.payload, &masked, &stats_)) {
              pg::NotificationResponse copy = m;
              copy.payload = masked;
              status = pg::Encode(copy, out);
            } else {
              forward(at, n);
            }
          } else if constexpr (std::is_same_v<T, pg::Authentication>) {
            if (m.type == pg::AuthenticationType::kSasl) {
              // Channel binding cannot cross a TLS-terminating proxy: offer only SCRAM-SHA-256.
              pg::Authentication copy = m;
              std::erase(copy.sasl_mechanisms, std::string_view("SCRAM-SHA-256-PLUS"));
              status = pg::Encode(copy, out);
            } else {
              forward(at, n);
            }
          } else if constexpr (std::is_same_v<T, pg::ParameterStatus>) {
            if (m.name == "standard_conforming_strings")
              analysis_.SetStandardConformingStrings(m.value == "on");
            if (m.name == "client_encoding" && m.value != "UTF8" && m.value != "SQL_ASCII") {
              unreadable_encoding_ = std::string(m.value);
              return;  // not forwarded: the session ends
            }
            // A setting changed by code veil cannot follow (a DO block's SET application_name
            // = <an SSN>) is not reported: the client keeps the value it had. PostgreSQL
            // reports changes when the exchange ends, after the statement's CommandComplete.
            if (!opaque_since_ready_ && !AnsweringOpaque()) forward(at, n);
          } else if constexpr (std::is_same_v<T, pg::BackendKeyData>) {
            upstream_key_.emplace(m.process_id, std::string(m.secret_key));
            pg::BackendKeyData veil{veil_pid_, veil_secret_};
            status = pg::Encode(veil, out);
          } else if constexpr (std::is_same_v<T, pg::FunctionCallResponse>) {
            // The fast-path protocol (libpq's PQfn): what large objects are read with
            // (lo_read, so pg_dump's large objects). Its result is no column veild can trace,
            // so only the large-object calls that answer a descriptor, an offset, a count or
            // an OID pass; loread comes back empty (the object reads as ended: pg_dump
            // completes and restores it empty) and any other function's result is NULL.
            std::string oid;
            if (!pending_.empty() && pending_.front().kind == Expect::kFunctionCall) {
              oid = std::move(pending_.front().name);
              pending_.pop_front();
            }
            if (m.result.is_null || FastPathResultIsMetadata(oid)) {
              forward(at, n);
            } else {
              pg::FunctionCallResponse withheld;
              if (oid != kLoRead) withheld.result = pg::ColumnValue::Null();
              status = pg::Encode(withheld, out);
            }
          } else {
            forward(at, n);
          }
        },
        message_);
    if (!status.ok()) return status;
  }
  return FlushRows(out);
}

}  // namespace veil::agent
