// Masking values with a compiled profile: the per-thread entry point of the engine.
//
// A Masker is cheap to keep one per worker thread (it owns the Hyperscan scratch, OpenSSL
// contexts and reusable buffers). The value call allocates nothing when nothing is found,
// which is the common case for a row stream; the row call scans every text cell of a row in
// one Hyperscan pass (cells joined by '\n').
//
//   Masker m(profile);
//   std::string out;
//   if (m.MaskValue(policy, cell, &out) == ValueOutcome::kMasked) send(out); else send(cell);
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "masker/detector.h"
#include "masker/profile.h"
#include "masker/strategy.h"

namespace veil::masker {

enum class ValueOutcome : uint8_t {
  kUnchanged,  // *out untouched: send the original
  kMasked,     // *out holds the replacement
  kNull,       // the value must become NULL (a `null` strategy hit it)
};

// Counts of masked values, per entity id.
struct MaskStats {
  std::array<uint64_t, kMaxEntities> per_entity{};
  uint64_t values_masked = 0;
  void Add(const MaskStats& o) {
    for (size_t i = 0; i < kMaxEntities; ++i) per_entity[i] += o.per_entity[i];
    values_masked += o.values_masked;
  }
};

class Masker {
 public:
  explicit Masker(std::shared_ptr<const MaskingProfile> profile);

  // Masks one value of a column with `policy`.
  ValueOutcome MaskValue(const ColumnPolicy& policy, std::string_view in, std::string* out,
                         MaskStats* stats = nullptr);

  struct Cell {
    std::string_view value;
    bool is_null = false;
  };
  // Masks rows of one result set: cells holds whole rows one after the other, so cell i has
  // policies[i % policies.size()] (a null policy or a NULL cell is skipped). All text cells of
  // the batch are scanned in one Hyperscan pass: batching the rows a socket read delivered
  // removes the per-call cost that dominates short rows. outcomes and outs are resized to
  // cells.size(); outs[i] is meaningful when outcomes[i] is kMasked.
  void MaskRows(std::span<const ColumnPolicy* const> policies, std::span<const Cell> cells,
                std::vector<ValueOutcome>* outcomes, std::vector<std::string>* outs,
                MaskStats* stats = nullptr);
  // One row: MaskRows with cells.size() == policies.size().
  void MaskRow(std::span<const ColumnPolicy* const> policies, std::span<const Cell> cells,
               std::vector<ValueOutcome>* outcomes, std::vector<std::string>* outs,
               MaskStats* stats = nullptr) {
    MaskRows(policies, cells, outcomes, outs, stats);
  }

  // Free text (veilctl mask): findings replaced by their strategies' output, in place of
  // the value; `null` removes it. Returns false (and leaves *out untouched) if nothing found.
  bool MaskText(std::string_view in, std::string* out, MaskStats* stats = nullptr);

  // Text made of lines (veilctl, logs, TSV): findings never cross a '\n' or a '\t' (the cells
  // of a line are segments, as the cells of a row are in MaskRows), and the whole block is
  // scanned in one pass. MaskLines returns false (*out untouched) if nothing was found.
  // `key_open` (a file read block by block): a private key's lines between its header and its
  // footer are key material whole, across blocks; *key_open says whether a header's key is
  // still open at the block's end (in: at its start). Without it, no line but the header's is.
  bool MaskLines(std::string_view block, std::string* out, MaskStats* stats = nullptr,
                 bool* key_open = nullptr);
  void ScanLines(std::string_view block, bool* key_open = nullptr);

  // Findings of the last MaskText/MaskLines/Scan/ScanLines call, offsets into its input.
  std::span<const EntityMatch> findings() const { return findings_; }
  void Scan(std::string_view in) { scanner_.Scan(in, &findings_); }

  const MaskingProfile& profile() const { return *profile_; }

 private:
  // Rebuilds [from, to) of `in` with findings [fb, fe) replaced; returns kNull if a null
  // strategy hit.
  ValueOutcome Replace(std::string_view in, uint32_t base, std::span<const EntityMatch> f,
                       const ColumnPolicy* policy, std::string* out, MaskStats* stats);

  void KeyLines(std::string_view block, bool* key_open);

  std::shared_ptr<const MaskingProfile> profile_;
  Scanner scanner_;
  StrategyApplier applier_;
  std::vector<EntityMatch> findings_;
  std::string joined_;
  std::vector<Segment> segments_;
  std::vector<int> segment_cell_;
  std::vector<uint32_t> hinted_;  // segments of columns with a name hint
};

}  // namespace veil::masker
