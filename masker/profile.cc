#include "masker/profile.h"

#include <fnmatch.h>

#include <string>

#include "config/veil_config.pb.h"
#include "masker/catalog.h"

namespace veil::masker {
namespace {

using PbProfile = config::v1::MaskingProfile;

std::optional<Strategy> FromPb(PbProfile::Strategy s) {
  switch (s) {
    case PbProfile::STRATEGY_REDACT:
      return Strategy::kRedact;
    case PbProfile::STRATEGY_PARTIAL:
      return Strategy::kPartial;
    case PbProfile::STRATEGY_HASH:
      return Strategy::kHash;
    case PbProfile::STRATEGY_FPE:
      return Strategy::kFpe;
    case PbProfile::STRATEGY_NULL:
      return Strategy::kNull;
    case PbProfile::STRATEGY_FAKE:
      return Strategy::kFake;
    default:
      return std::nullopt;
  }
}

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return r;
}

}  // namespace

MaskingProfile::CompileResult MaskingProfile::Compile(
    const PbProfile& cfg, std::string path, std::shared_ptr<const MaskKey> key,
    std::shared_ptr<fake::SurrogateRegistry> registry) {
  std::vector<CompileError> errors;
  Detector::Options opts;
  opts.min_score = cfg.min_score() > 0 ? static_cast<float>(cfg.min_score()) : 0.5f;
  std::vector<std::string> custom_names;
  for (int i = 0; i < cfg.custom_size(); ++i) {
    const auto& c = cfg.custom(i);
    if (BuiltinEntityFromName(c.name())) {
      errors.push_back({path + ".custom[" + std::to_string(i) + "].name",
                        "\"" + c.name() + "\" is a built-in entity"});
      continue;
    }
    opts.custom.push_back({c.name(), c.pattern(), {}, c.score() > 0 ? float(c.score()) : 0.8f});
    for (const auto& w : c.context()) opts.custom.back().context.push_back(Lower(w));
  }
  auto id_of = [&](std::string_view name) -> int {
    if (auto b = BuiltinEntityFromName(name)) return static_cast<int>(*b);
    for (size_t i = 0; i < opts.custom.size(); ++i)
      if (opts.custom[i].name == name) return static_cast<int>(kFirstCustom + i);
    return -1;
  };

  // entities: "all" or a list.
  bool all = cfg.entities_size() == 0;
  std::bitset<kMaxEntities> enabled;
  for (int i = 0; i < cfg.entities_size(); ++i) {
    const std::string& n = cfg.entities(i);
    if (n == "all") {
      all = true;
      continue;
    }
    int id = id_of(n);
    if (id < 0 || id >= static_cast<int>(kBuiltinEntityCount)) {
      if (id < 0)
        errors.push_back(
            {path + ".entities[" + std::to_string(i) + "]", "unknown entity \"" + n + "\""});
      continue;
    }
    enabled.set(id);
  }
  opts.enabled = all ? Detector::Options::AllBuiltins() : enabled;
  for (size_t i = 0; i < opts.custom.size(); ++i) opts.enabled.set(kFirstCustom + i);

  std::shared_ptr<MaskingProfile> p(new MaskingProfile());
  p->key_ = std::move(key);
  if (cfg.date_shift_days() > 0) p->fake_.date_shift_days = cfg.date_shift_days();
  p->fake_.registry = registry ? std::move(registry) : std::make_shared<fake::SurrogateRegistry>();
  Strategy def = Strategy::kRedact;
  if (auto it = cfg.strategies().find("default"); it != cfg.strategies().end())
    if (auto s = FromPb(it->second)) def = *s;
  p->strategies_.fill(def);
  for (const auto& [name, s] : cfg.strategies()) {
    if (name == "default") continue;
    int id = id_of(name);
    if (id < 0) {
      errors.push_back({path + ".strategies." + name, "unknown entity \"" + name + "\""});
      continue;
    }
    if (auto st = FromPb(s)) p->strategies_[id] = *st;
  }
  for (int i = 0; i < cfg.custom_size(); ++i) {
    int id = id_of(cfg.custom(i).name());
    if (id >= 0)
      if (auto st = FromPb(cfg.custom(i).strategy())) p->strategies_[id] = *st;
  }
  for (int i = 0; i < cfg.columns_size(); ++i) {
    const auto& c = cfg.columns(i);
    Rule r;
    r.glob = c.match();
    r.scan = c.scan();
    r.strategy = FromPb(c.strategy());
    if (c.action() == config::v1::ColumnRule::ACTION_PASS) {
      r.action = ColumnPolicy::Action::kPass;
    } else if (!c.entity().empty()) {
      r.entity = id_of(c.entity());
      if (r.entity < 0) {
        errors.push_back({path + ".columns[" + std::to_string(i) + "].entity",
                          "unknown entity \"" + c.entity() + "\""});
        continue;
      }
      r.action = ColumnPolicy::Action::kForce;
    } else {
      r.action = ColumnPolicy::Action::kScan;
    }
    p->rules_.push_back(std::move(r));
  }
  if (!errors.empty()) return errors;
  auto det = Detector::Create(std::move(opts));
  if (!det.ok()) return std::vector<CompileError>{{path + ".custom", det.error().message}};
  p->detector_ = std::move(det).value();
  return std::shared_ptr<const MaskingProfile>(std::move(p));
}

std::shared_ptr<const MaskingProfile> MaskingProfile::Default(std::shared_ptr<const MaskKey> key) {
  PbProfile cfg;
  auto r = Compile(cfg, "masking.profiles.default", std::move(key));
  // The built-in catalog always compiles; a failure here is a broken build.
  if (!std::holds_alternative<std::shared_ptr<const MaskingProfile>>(r)) std::abort();
  return std::get<0>(r);
}

ColumnPolicy MaskingProfile::PolicyFor(const ColumnContext& col) const {
  ColumnPolicy policy;
  bool matched_scan_rule = false;
  std::string table_col = std::string(col.table) + "." + std::string(col.column);
  std::string full = col.schema.empty() ? table_col : std::string(col.schema) + "." + table_col;
  std::string schema_table = std::string(col.schema) + "." + std::string(col.table);
  for (const Rule& r : rules_) {
    // [schema.]table.column; a two-part glob also matches schema.table (every column), so
    // "audit.*" covers a table named audit and the tables of a schema named audit.
    size_t dots = std::count(r.glob.begin(), r.glob.end(), '.');
    bool match = fnmatch(r.glob.c_str(), (dots >= 2 ? full : table_col).c_str(), 0) == 0;
    if (!match && dots == 1 && !col.schema.empty())
      match = fnmatch(r.glob.c_str(), schema_table.c_str(), 0) == 0;
    if (!match) continue;
    policy.action = r.action;
    policy.strategy = r.strategy;
    if (r.action == ColumnPolicy::Action::kForce) policy.entity = static_cast<uint8_t>(r.entity);
    policy.null_if_masked = !col.text_like;
    if (r.action != ColumnPolicy::Action::kScan) return policy;
    matched_scan_rule = true;  // a scan rule: scan even a non-text column's text form
    break;
  }
  policy.null_if_masked = !col.text_like;
  // Column name as context: raises its entity, lowers digit entities in id-like columns.
  char norm[128];
  std::string_view name(norm, catalog::NormalizeColumnName(col.column, norm, sizeof(norm)));
  if (auto e = catalog::EntityForColumnName(name);
      e && detector_->options().enabled.test(Index(*e))) {
    policy.has_hint = true;
    policy.entity = static_cast<uint8_t>(*e);
    policy.hints.boost[Index(*e)] += 0.2f;
  }
  // The table says what a plain "name" column holds: customers.name is a person's name,
  // products.name is not (and is left to content detection).
  // So does "name" in other languages: nom, nombre, nome, naam, navn, namn, nimi.
  if (!policy.has_hint &&
      (name == "name" || name == "display" || name == "full" || name == "nom" || name == "nombre" ||
       name == "nome" || name == "naam" || name == "navn" || name == "namn" || name == "nimi") &&
      catalog::IsPeopleTable(col.table) &&
      detector_->options().enabled.test(Index(Entity::kPersonName))) {
    policy.has_hint = true;
    policy.entity = static_cast<uint8_t>(Entity::kPersonName);
    policy.hints.boost[Index(Entity::kPersonName)] += 0.2f;
  }
  // A non-text column (numbers, dates, inet) is not content-scanned: only a rule or a name
  // that says what its values are (a bigint "phone", a date "dob") can mask it, to NULL.
  if (!col.text_like && policy.action == ColumnPolicy::Action::kScan && !policy.has_hint &&
      !matched_scan_rule)
    policy.action = ColumnPolicy::Action::kPass;
  for (std::string_view w : catalog::PlaceColumnWords()) {
    if (!catalog::ColumnNameHas(name, w)) continue;
    policy.hints.boost[Index(Entity::kPersonName)] -= 0.5f;
    break;
  }
  for (std::string_view w : catalog::NegativeColumnWords()) {
    if (!catalog::ColumnNameHas(name, w)) continue;
    for (Entity e : {Entity::kPhone, Entity::kCreditCard, Entity::kUsSsn, Entity::kUkNhs,
                     Entity::kIpAddress, Entity::kUsItin})
      policy.hints.boost[Index(e)] -= 0.3f;
    break;
  }
  return policy;
}

}  // namespace veil::masker
