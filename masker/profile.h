// A compiled masking profile (SPEC §3 `masking.profiles.NAME`, §6): which entities are
// detected, the strategy for each, column rules, custom regex entities, and the key.
//
// Compiled once at config load (or reload) and shared read-only by every session; a result
// set asks it once per column for a ColumnPolicy, then masks values with a per-thread Masker
// (masker.h).
//
//   auto p = MaskingProfile::Compile(cfg.masking().profiles().at("default"),
//                                    "masking.profiles.default", key);
//   ColumnPolicy col = profile->PolicyFor({.table = "users", .column = "email"});
//
// Column context: the column's name hints at its entity ("customer_email", "dob"); for a plain
// "name" column the table decides (customers.name, patients.name: PERSON_NAME; products.name:
// content detection only); id-like names (sku, order_id, version) lower digit findings.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "masker/detector.h"
#include "masker/strategy.h"

namespace veil::config::v1 {
class MaskingProfile;
}

namespace veil::masker {

// What is known about a result column.
struct ColumnContext {
  std::string_view schema;  // may be empty
  std::string_view table;   // may be empty (computed column, unresolved)
  std::string_view column;
  bool text_like = true;  // false for numbers, dates, …: never content-scanned
};

struct ColumnPolicy {
  enum class Action : uint8_t {
    kScan,   // detect entities in the value's content
    kPass,   // leave the column alone (a `pass` rule, or a non-text type without a rule)
    kForce,  // the whole value is `entity` (a rule with `entity:`)
  };
  Action action = Action::kScan;
  uint8_t entity = 0;                // kForce: the entity; kScan: the column-name hint if has_hint
  bool has_hint = false;             // kScan: the column's name says which entity its values are
  std::optional<Strategy> strategy;  // a rule's own strategy
  bool null_if_masked = false;       // a non-text column: a masked value becomes NULL
  ColumnHints hints;                 // score changes for findings in this column
};

class MaskingProfile {
 public:
  // An error at a config path (for config::LoadedConfig::At), e.g.
  // {"masking.profiles.default.entities[2]", "unknown entity \"EMIAL\""}.
  struct CompileError {
    std::string path;
    std::string message;
  };
  using CompileResult =
      std::variant<std::shared_ptr<const MaskingProfile>, std::vector<CompileError>>;

  // `registry`: the `fake` strategy's taken surrogates (masker/fake_registry.h) to keep using,
  // e.g. the same profile's before a reload; a new one if null.
  static CompileResult Compile(const config::v1::MaskingProfile& cfg, std::string path,
                               std::shared_ptr<const MaskKey> key,
                               std::shared_ptr<fake::SurrogateRegistry> registry = nullptr);
  // Every built-in entity, redact for all: the profile when no configuration is given.
  static std::shared_ptr<const MaskingProfile> Default(std::shared_ptr<const MaskKey> key);

  // Computed once per result column.
  ColumnPolicy PolicyFor(const ColumnContext& column) const;
  Strategy StrategyFor(uint8_t entity) const { return strategies_[entity]; }

  const std::shared_ptr<const Detector>& detector() const { return detector_; }
  const std::shared_ptr<const MaskKey>& key() const { return key_; }
  const fake::Options& fake_options() const { return fake_; }

 private:
  struct Rule {
    std::string glob;
    ColumnPolicy::Action action;
    int entity = -1;
    bool scan = false;
    std::optional<Strategy> strategy;
  };
  MaskingProfile() = default;
  std::shared_ptr<const Detector> detector_;
  std::shared_ptr<const MaskKey> key_;
  fake::Options fake_;
  std::array<Strategy, kMaxEntities> strategies_{};
  std::vector<Rule> rules_;
};

}  // namespace veil::masker
