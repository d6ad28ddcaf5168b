#include "masker/fake_registry.h"

#include <functional>

namespace veil::masker::fake {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr size_t kInitialSlots = 1024;  // per shard, allocated on first use

std::atomic<uint64_t> total_moved{0}, total_unchecked{0};

}  // namespace

uint64_t SurrogateFingerprint(uint8_t entity, std::string_view surrogate) {
  return Mix(std::hash<std::string_view>{}(surrogate) ^ (uint64_t{entity} << 56));
}

uint64_t OriginalFingerprint(const std::array<uint8_t, 32>& mac) {
  uint64_t w = 0;
  for (int b = 0; b < 8; ++b) w = (w << 8) | mac[b];
  return w;
}

SurrogateRegistry::SurrogateRegistry(size_t max_slots)
    : max_slots_per_shard_(std::max(kInitialSlots, max_slots / kShards)) {}

bool SurrogateRegistry::Grow(Shard& s) {
  size_t n = s.slots.empty() ? kInitialSlots : s.slots.size() * 2;
  if (n > max_slots_per_shard_) return false;
  std::vector<uint64_t> old = std::move(s.slots);
  s.slots.assign(n, 0);
  const size_t mask = n - 1;
  for (uint64_t e : old) {
    if (e == 0) continue;
    // The index was derived from the surrogate fingerprint's low bits, which the slot does not
    // keep; re-derive it from what it does keep (high 32 bits), as lookups do.
    size_t i = Mix(e >> 32) & mask;
    while (s.slots[i] != 0) i = (i + 1) & mask;
    s.slots[i] = e;
  }
  return true;
}

SurrogateRegistry::Claim SurrogateRegistry::TryClaim(uint64_t surrogate_fp, uint64_t original_fp) {
  Shard& s = shards_[surrogate_fp >> 60];
  // The slot keeps 32 bits of each fingerprint (never 0: the tag's low bit is set).
  const uint64_t tag = (surrogate_fp >> 28) | 1;  // 32 bits below the shard's 4
  const uint64_t entry = ((tag & 0xffffffffULL) << 32) | (original_fp & 0xffffffffULL);
  std::lock_guard lock(s.mu);
  if ((s.used + 1) * 4 > s.slots.size() * 3 && !Grow(s)) {
    // Full: still answer for surrogates already tracked, so moved originals stay moved.
    if (s.slots.empty()) return Claim::kFull;
  }
  const size_t mask = s.slots.size() - 1;
  for (size_t i = Mix(entry >> 32) & mask;; i = (i + 1) & mask) {
    uint64_t e = s.slots[i];
    if (e == 0) {
      if ((s.used + 1) * 4 > s.slots.size() * 3) return Claim::kFull;
      s.slots[i] = entry;
      ++s.used;
      return Claim::kNew;
    }
    if ((e >> 32) == (entry >> 32))
      return (e & 0xffffffffULL) == (entry & 0xffffffffULL) ? Claim::kMine : Claim::kTaken;
  }
}

void SurrogateRegistry::CountMoved() {
  moved_.fetch_add(1, std::memory_order_relaxed);
  total_moved.fetch_add(1, std::memory_order_relaxed);
}

void SurrogateRegistry::CountUnchecked() {
  unchecked_.fetch_add(1, std::memory_order_relaxed);
  total_unchecked.fetch_add(1, std::memory_order_relaxed);
}

uint64_t TotalMoved() { return total_moved.load(std::memory_order_relaxed); }
uint64_t TotalUnchecked() { return total_unchecked.load(std::memory_order_relaxed); }

uint64_t SurrogateRegistry::size() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.used;
  }
  return n;
}

}  // namespace veil::masker::fake
