// Sorting the engine's nearly sorted lists (windows, hits, candidates), which arrive in text
// order but for a few neighbours: by insertion, linear in practice. A budget of moves keeps
// input that is not nearly sorted at O(n log n): past it, std::sort takes over.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>

namespace veil::masker {

template <typename It, typename Less>
void SortNearlySorted(It first, It last, Less less) {
  size_t budget = 8 * static_cast<size_t>(last - first) + 64;
  if (first == last) return;
  for (It i = first + 1; i != last; ++i) {
    if (!less(*i, *(i - 1))) continue;
    auto v = std::move(*i);
    It k = i;
    do {
      *k = std::move(*(k - 1));
      --k;
      if (--budget == 0) {
        *k = std::move(v);
        std::sort(first, last, less);
        return;
      }
    } while (k != first && less(v, *(k - 1)));
    *k = std::move(v);
  }
}

// Sorts v whose runs [0, ends[0]), [ends[0], ends[1]), … are each nearly sorted (and the last
// run ends at v.size()), then merges the runs.
template <typename Vec, typename Less>
void SortRuns(Vec& v, std::span<const size_t> ends, Less less) {
  size_t begin = 0;
  for (size_t e : ends) {
    if (e == begin) continue;
    SortNearlySorted(v.begin() + begin, v.begin() + e, less);
    // Merged only where the runs interleave (a merge allocates its buffer).
    if (begin > 0 && less(v[begin], v[begin - 1]))
      std::inplace_merge(v.begin(), v.begin() + begin, v.begin() + e, less);
    begin = e;
  }
}

}  // namespace veil::masker
