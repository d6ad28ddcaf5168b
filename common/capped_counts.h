// Counts by name, capped for a bounded message: the `limit` largest kept, the rest summed under
// `rest`. `veilctl clone` and veild exchange rows per table and masked values per column over
// the control socket, whose messages are at most 1 MiB; a database with tens of thousands of
// tables must still fit.
//
//   auto rows = CappedCounts(rows_by_table, 4096, "(other tables)");
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace veil {

template <typename Count>
std::map<std::string, Count> CappedCounts(const std::map<std::string, Count>& counts, size_t limit,
                                          const std::string& rest) {
  if (counts.size() <= limit) return counts;
  std::vector<std::pair<std::string, Count>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::map<std::string, Count> out(sorted.begin(), sorted.begin() + (limit - 1));
  Count others{};
  for (size_t i = limit - 1; i < sorted.size(); ++i) others += sorted[i].second;
  out[rest] += others;
  return out;
}

}  // namespace veil
