// Which `fake` surrogates are taken, and by which original: what keeps a UNIQUE column unique
// in a masked copy.
//
// A surrogate is drawn from a space far smaller than the originals' (about 79,000 fictional
// 555-01XX numbers per format; names within two letters of the original's length), so two
// distinct originals can draw the same one, and a UNIQUE constraint on a phone, SSN or name
// column fails the restore. The registry is shared by every session of a profile: the first
// original to draw a surrogate keeps it; a later, different original that draws a taken one
// draws again (attempt 1, 2, … from a MAC of the value and the attempt) until it finds a free
// one or its own. Entries are never removed, so an original seen again walks the same attempts
// to the surrogate it claimed: it gets one surrogate for the registry's life, in every table
// and session (foreign keys between PII columns still hold), and no two originals share one. Which
// of two colliding originals moves depends on which was seen first, so it is deterministic for a
// given database and dump order.
//
// Memory: 8 bytes per slot (32 bits of the surrogate's fingerprint, 32 of the original's),
// kept at most 3/4 full, in 16 shards with a lock each. At `max_slots` the registry is full:
// new surrogates are handed out unchecked and counted (unchecked()). A false "taken" (two
// surrogates whose fingerprints agree) only costs one more attempt.
//
//   auto reg = std::make_shared<fake::SurrogateRegistry>();
//   switch (reg->TryClaim(SurrogateFingerprint(entity, s), OriginalFingerprint(mac))) { … }
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace veil::masker::fake {

class SurrogateRegistry {
 public:
  // 2^24 slots of 8 bytes: at most 128 MiB, about 12.5 million distinct surrogates.
  static constexpr size_t kDefaultMaxSlots = size_t{1} << 24;
  explicit SurrogateRegistry(size_t max_slots = kDefaultMaxSlots);

  enum class Claim : uint8_t {
    kNew,    // was free, now this original's
    kMine,   // already this original's
    kTaken,  // another original's: draw again
    kFull,   // the registry cannot track more: use it unchecked
  };
  Claim TryClaim(uint64_t surrogate_fp, uint64_t original_fp);

  // Counters: surrogates tracked, originals that had to move, surrogates handed out unchecked
  // (the registry was full, or every attempt was taken).
  uint64_t size() const;
  uint64_t moved() const { return moved_.load(std::memory_order_relaxed); }
  uint64_t unchecked() const { return unchecked_.load(std::memory_order_relaxed); }
  void CountMoved();
  void CountUnchecked();

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::vector<uint64_t> slots;  // 0 = empty; else (surrogate fp high 32 << 32) | original 32
    size_t used = 0;
  };
  bool Grow(Shard& s);

  size_t max_slots_per_shard_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> moved_{0};
  std::atomic<uint64_t> unchecked_{0};
};

// Fingerprints: a surrogate's (with its entity, so equal text of two entities is two entries)
// and an original's, from the first bytes of its HMAC.
uint64_t SurrogateFingerprint(uint8_t entity, std::string_view surrogate);

// Totals over every registry of the process (veild exports them as veil_fake_moved_total and
// veil_fake_unchecked_total): originals that moved, surrogates handed out unchecked.
uint64_t TotalMoved();
uint64_t TotalUnchecked();
uint64_t OriginalFingerprint(const std::array<uint8_t, 32>& mac);

}  // namespace veil::masker::fake
