#include "tools/veilctl/clone_stream.h"

#include <cstring>

namespace veil::veilctl {

std::optional<std::string> CopyHeaderTable(std::string_view line) {
  constexpr std::string_view kStart = "COPY ", kEnd = " FROM stdin;";
  if (!line.starts_with(kStart) || !line.ends_with(kEnd)) return std::nullopt;
  std::string_view rest = line.substr(kStart.size(), line.size() - kStart.size() - kEnd.size());
  // The qualified name: identifiers, double-quoted ones may hold spaces, dots, parentheses
  // and doubled quotes; it ends at the column list's " (" or at the end.
  size_t i = 0;
  bool quoted = false;
  for (; i < rest.size(); ++i) {
    const char c = rest[i];
    if (c == '"') {
      if (quoted && i + 1 < rest.size() && rest[i + 1] == '"') {
        ++i;
        continue;
      }
      quoted = !quoted;
      continue;
    }
    if (!quoted && c == ' ') break;
  }
  if (quoted || i == 0) return std::nullopt;
  std::string_view name = rest.substr(0, i), cols = rest.substr(i);
  if (!cols.empty() && !(cols.starts_with(" (") && cols.ends_with(")"))) return std::nullopt;
  return std::string(name);
}

void DumpStreamCounter::Line(std::string_view line) {
  if (in_copy_) {
    if (line == "\\.") {
      tables_.back().complete = true;
      in_copy_ = false;
      return;
    }
    ++tables_.back().rows;
    ++rows_;
    return;
  }
  // Longer than a header may be, however the stream was cut: not one.
  if (line.size() > kMaxHeader) return;
  if (auto table = CopyHeaderTable(line)) {
    tables_.push_back({std::move(*table), 0, false});
    in_copy_ = true;
  }
}

void DumpStreamCounter::Feed(std::string_view chunk) {
  while (!chunk.empty()) {
    const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
    if (nl == nullptr) {
      // Keep the start of the line only: a header is at most kMaxHeader long, and in a block
      // only `\.` matters (its length tells it apart).
      if (partial_.size() < kMaxHeader + 1)
        partial_.append(chunk.substr(0, kMaxHeader + 1 - partial_.size()));
      partial_size_ += chunk.size();
      return;
    }
    const size_t len = static_cast<const char*>(nl) - chunk.data();
    if (partial_size_ == 0) {
      Line(chunk.substr(0, len));
    } else {
      if (partial_.size() < kMaxHeader + 1)
        partial_.append(chunk.substr(0, std::min(len, kMaxHeader + 1 - partial_.size())));
      partial_size_ += len;
      EndPartial();
    }
    chunk.remove_prefix(len + 1);
  }
}

void DumpStreamCounter::EndPartial() {
  // Too long to be a header or a terminator: a data line in a block, nothing outside one.
  if (partial_size_ > kMaxHeader)
    Line(in_copy_ ? std::string_view("data") : std::string_view());
  else
    Line(partial_);
  partial_.clear();
  partial_size_ = 0;
}

void DumpStreamCounter::Finish() {
  if (partial_size_ > 0) EndPartial();
}

}  // namespace veil::veilctl
