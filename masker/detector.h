// Detection of sensitive values in text: the Hyperscan side of the masking engine.
//
// A Detector is compiled once per masking profile (which entities are on, custom regex
// entities) and is immutable and shareable across threads. Each thread scans through its own
// Scanner, which owns the Hyperscan scratch and reusable buffers, so a scan allocates nothing
// once warmed up.
//
// Patterns follow FIELD-NOTES: databases split by class (literal-anchored, digit shapes,
// context keywords), no start-of-match tracking, fixed-length cores that C++ resolvers extend
// to the whole value and check with the entity's validator (validators.h). Context words near
// a candidate and the column it sits in move its score.
//
//   auto det = Detector::Create({});            // all built-in entities
//   Scanner scanner(*det);
//   std::vector<EntityMatch> found;
//   scanner.Scan("mail bob@example.com", &found);   // {5, 20, EMAIL, 0.9}
#pragma once

#include <bitset>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "masker/entity.h"

struct hs_database;
struct hs_scratch;

namespace veil::masker {

class Prefilter;

// One finding: bytes [start, end) of the scanned text hold entity `entity`.
struct EntityMatch {
  uint32_t start = 0;
  uint32_t end = 0;
  uint8_t entity = 0;  // Entity value, or a custom id >= kFirstCustom
  float score = 0;
  bool operator==(const EntityMatch&) const = default;
};

// Score changes that a column's context (its name, type, table) applies to findings in it.
struct ColumnHints {
  std::array<float, kMaxEntities> boost{};  // added to the score of findings of that entity
};

struct CustomEntitySpec {
  std::string name;                  // UPPER_SNAKE, not a built-in name
  std::string pattern;               // Hyperscan/PCRE syntax; the whole match is the value
  std::vector<std::string> context;  // words that raise the score when near
  float score = 0.8f;
};

// Whether a whole value (a cell, or a value in an INSERT) is `entity`, by its validator; used
// when a column's name says what its values are. Names, addresses and secrets have no
// validator: any non-blank value of such a column counts.
bool ValueIs(Entity entity, std::string_view value);

class Detector {
 public:
  struct Options {
    std::bitset<kMaxEntities> enabled = AllBuiltins();
    std::vector<CustomEntitySpec> custom;
    float min_score = 0.5f;
    static std::bitset<kMaxEntities> AllBuiltins();
  };

  // Compiles the Hyperscan databases; an error names the pattern that failed.
  static Result<std::shared_ptr<const Detector>> Create(Options options);
  ~Detector();

  std::string_view EntityName(uint8_t id) const;
  // Id of a built-in or custom entity name, or -1.
  int EntityId(std::string_view name) const;
  const Options& options() const { return options_; }

 private:
  friend class Scanner;
  struct Db;
  Detector() = default;
  Options options_;
  std::vector<std::unique_ptr<Db>> dbs_;
  // Hyperscan scratch space of Scanners that ended, for the next to reuse: allocating one fitted
  // to every database costs tens of microseconds, paid per session before (a new connection's
  // masker). Any thread may take one; none is used by two at once.
  hs_scratch* TakeScratch() const;
  void ReturnScratch(hs_scratch* scratch) const;
  static constexpr size_t kMaxSpareScratch = 64;
  mutable std::mutex scratch_mu_;
  mutable std::vector<hs_scratch*> spare_scratch_;
};

// A region of the scanned text with its column's hints, for scanning a whole row in one call
// (cells joined by '\n', which no pattern crosses).
struct Segment {
  uint32_t start = 0;
  uint32_t end = 0;
  const ColumnHints* hints = nullptr;  // may be null
};

// Per-thread scanning state. Not thread-safe; cheap to keep one per worker thread.
class Scanner {
 public:
  explicit Scanner(std::shared_ptr<const Detector> detector);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Replaces *out with the findings in text: sorted by start, non-overlapping, each with a
  // score >= min_score. Text longer than 4 GiB is not supported.
  void Scan(std::string_view text, std::vector<EntityMatch>* out,
            const ColumnHints* hints = nullptr);
  // Same, with per-segment hints; findings never cross a segment.
  void Scan(std::string_view text, std::span<const Segment> segments,
            std::vector<EntityMatch>* out);

  const Detector& detector() const { return *detector_; }

  struct RawHit {
    uint32_t pattern;
    uint32_t to;
  };

 private:
  std::shared_ptr<const Detector> detector_;
  hs_scratch* scratch_ = nullptr;
  std::vector<RawHit> hits_;
  std::vector<uint64_t> order_;
  std::unique_ptr<Prefilter> prefilter_;
  std::vector<EntityMatch> candidates_;
  // Text that is encoded (%40, &#64;, [at]): decoded, scanned again, findings mapped back.
  void ScanOnce(std::string_view text, std::span<const Segment> segments,
                std::vector<EntityMatch>* out);
  // Names that only context keeps, in a value holding a contact's other data: kept.
  void ContactNames(std::span<const Segment> segments);
  std::vector<uint8_t> contact_segs_;
  std::vector<uint32_t> street_ends_;
  // Numbers in a contact's line: phones (after ScanOnce's overlaps).
  void ContactPhones(std::string_view text, std::span<const Segment> segments,
                     std::vector<EntityMatch>* out);
  // Streets in a contact's CSV line: the cell that reads as a street line.
  void ContactStreets(std::string_view text, std::span<const Segment> segments,
                      std::vector<EntityMatch>* out);
  void ScanDecoded(std::string_view text, std::span<const Segment> segments,
                   std::vector<EntityMatch>* out);
  std::string decoded_, pass_, next_, token_text_, token_chars_;
  std::vector<uint32_t> from_, to_, pass_from_, pass_to_, next_from_, next_to_;
  std::vector<Segment> decoded_segments_;
  std::vector<EntityMatch> decoded_out_;
};

}  // namespace veil::masker
