#include "masker/masker.h"

#include <emmintrin.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>

namespace veil::masker {

Masker::Masker(std::shared_ptr<const MaskingProfile> profile)
    : profile_(std::move(profile)),
      scanner_(profile_->detector()),
      applier_(profile_->key(), profile_->fake_options()) {
  findings_.reserve(32);
}

ValueOutcome Masker::Replace(std::string_view in, uint32_t base, std::span<const EntityMatch> f,
                             const ColumnPolicy* policy, std::string* out, MaskStats* stats) {
  const Detector& det = *profile_->detector();
  if (policy && policy->null_if_masked) {  // a number or date cannot hold "[SSN]"
    if (stats) {
      for (const EntityMatch& m : f) ++stats->per_entity[m.entity];
      ++stats->values_masked;
    }
    return ValueOutcome::kNull;
  }
  out->clear();
  uint32_t pos = 0;
  for (const EntityMatch& m : f) {
    Strategy s = policy && policy->strategy ? *policy->strategy : profile_->StrategyFor(m.entity);
    if (stats) ++stats->per_entity[m.entity];
    if (s == Strategy::kNull && policy) {
      if (stats) ++stats->values_masked;
      return ValueOutcome::kNull;
    }
    uint32_t b = m.start - base, e = m.end - base;
    out->append(in.substr(pos, b - pos));
    applier_.Apply(s, m.entity, det.EntityName(m.entity), in.substr(b, e - b), out);
    pos = e;
  }
  out->append(in.substr(pos));
  if (stats) ++stats->values_masked;
  return ValueOutcome::kMasked;
}

ValueOutcome Masker::MaskValue(const ColumnPolicy& policy, std::string_view in, std::string* out,
                               MaskStats* stats) {
  using A = ColumnPolicy::Action;
  if (policy.action == A::kPass || in.empty()) return ValueOutcome::kUnchanged;
  if (policy.action == A::kForce) {
    EntityMatch whole{0, static_cast<uint32_t>(in.size()), policy.entity, 1.0f};
    return Replace(in, 0, {&whole, 1}, &policy, out, stats);
  }
  scanner_.Scan(in, &findings_, &policy.hints);
  if (findings_.empty()) {
    if (policy.has_hint && ValueIs(static_cast<Entity>(policy.entity), in)) {
      EntityMatch whole{0, static_cast<uint32_t>(in.size()), policy.entity, 1.0f};
      return Replace(in, 0, {&whole, 1}, &policy, out, stats);
    }
    return ValueOutcome::kUnchanged;
  }
  return Replace(in, 0, findings_, &policy, out, stats);
}

void Masker::MaskRows(std::span<const ColumnPolicy* const> policies, std::span<const Cell> cells,
                      std::vector<ValueOutcome>* outcomes, std::vector<std::string>* outs,
                      MaskStats* stats) {
  const size_t ncols = policies.size();
  if (ncols == 0) return;
  using A = ColumnPolicy::Action;
  const size_t n = cells.size();
  outcomes->assign(n, ValueOutcome::kUnchanged);
  if (outs->size() < n) outs->resize(n);
  hinted_.clear();
  // The joined text and the segment lists are sized once per batch and filled through local
  // cursors: with push_back and append, every cell reloaded each vector's end pointer (the
  // bytes written may alias them), about a third of the join's time.
  size_t total = 0;
  for (const Cell& c : cells) total += c.value.size() + 1;
  if (joined_.size() < total) joined_.resize(total);
  if (segments_.size() < n) segments_.resize(n);
  if (segment_cell_.size() < n) segment_cell_.resize(n);
  char* const text = joined_.data();
  Segment* const seg0 = segments_.data();
  int* const cell_of = segment_cell_.data();
  uint32_t at = 0;
  size_t nseg = 0;
  // A running column index: no division per cell.
  for (size_t i = 0, col = 0; i < n; ++i, col = col + 1 == ncols ? 0 : col + 1) {
    const ColumnPolicy* p = policies[col];
    const Cell& cell = cells[i];
    if (!p || cell.is_null || cell.value.empty() || p->action == A::kPass) continue;
    if (p->action == A::kForce) {
      (*outcomes)[i] = MaskValue(*p, cell.value, &(*outs)[i], stats);
      continue;
    }
    const uint32_t start = at;
    std::memcpy(text + at, cell.value.data(), cell.value.size());
    at += static_cast<uint32_t>(cell.value.size());
    text[at++] = '\n';
    seg0[nseg] = {start, at - 1, &p->hints};
    cell_of[nseg] = static_cast<int>(i);
    if (p->has_hint) hinted_.push_back(static_cast<uint32_t>(nseg));
    ++nseg;
  }
  if (nseg == 0) return;
  const std::string_view joined(text, at);
  const std::span<const Segment> segments(seg0, nseg);
  scanner_.Scan(joined, segments, &findings_);
  // Findings are sorted by start and never cross a segment: each run of findings belongs to the
  // segment holding its first start (found by binary search: findings are rare).
  size_t f = 0;
  while (f < findings_.size()) {
    const uint32_t pos = findings_[f].start;
    auto it = std::upper_bound(segments.begin(), segments.end(), pos,
                               [](uint32_t x, const Segment& s) { return x < s.start; });
    const size_t s = static_cast<size_t>(it - segments.begin()) - 1;
    const Segment& sg = segments[s];
    size_t fe = f;
    while (fe < findings_.size() && findings_[fe].start < sg.end) ++fe;
    const int cell = cell_of[s];
    const ColumnPolicy* p = policies[static_cast<size_t>(cell) % ncols];
    (*outcomes)[cell] = Replace(cells[cell].value, sg.start, {findings_.data() + f, fe - f}, p,
                                &(*outs)[cell], stats);
    f = fe;
  }
  // Cells of columns whose name says what they hold, with no finding: the whole value.
  for (uint32_t s : hinted_) {
    const int cell = cell_of[s];
    if ((*outcomes)[cell] != ValueOutcome::kUnchanged) continue;
    const ColumnPolicy* p = policies[static_cast<size_t>(cell) % ncols];
    std::string_view value = cells[cell].value;
    if (ValueIs(static_cast<Entity>(p->entity), value)) {
      EntityMatch whole{0, static_cast<uint32_t>(value.size()), p->entity, 1.0f};
      (*outcomes)[cell] = Replace(value, 0, {&whole, 1}, p, &(*outs)[cell], stats);
    }
  }
}

bool Masker::MaskText(std::string_view in, std::string* out, MaskStats* stats) {
  scanner_.Scan(in, &findings_);
  if (findings_.empty()) return false;
  Replace(in, 0, findings_, nullptr, out, stats);
  return true;
}

namespace {

// Bit j: byte j of the 64 at p is a tab or a newline (SSE2, which every x86-64 has).
inline uint64_t Separators64(const char* p) {
  const __m128i tab = _mm_set1_epi8('\t'), nl = _mm_set1_epi8('\n');
  uint64_t m = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const auto b = static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, tab), _mm_cmpeq_epi8(x, nl))));
    m |= uint64_t{b} << (16 * k);
  }
  return m;
}

}  // namespace

void Masker::ScanLines(std::string_view block, bool* key_open) {
  // Lines, and the tab-separated cells of a line, are segments: as in a result row, no finding
  // crosses a field separator. Cells are short: separators are found 64 bytes at a time, not
  // with a memchr per cell.
  segments_.clear();
  const char* p = block.data();
  const auto n = static_cast<uint32_t>(block.size());
  uint32_t cell = 0;
  auto cut = [&](uint32_t end) {
    if (end > cell) segments_.push_back({cell, end, nullptr});
    cell = end + 1;
  };
  uint32_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (uint64_t m = Separators64(p + i); m; m &= m - 1)
      cut(i + static_cast<uint32_t>(std::countr_zero(m)));
  for (; i < n; ++i)
    if (p[i] == '\t' || p[i] == '\n') cut(i);
  cut(n);
  if (segments_.empty()) {
    findings_.clear();
  } else {
    scanner_.Scan(block, segments_, &findings_);
  }
  if (key_open) KeyLines(block, key_open);
}

// A PEM private key written over lines ("-----BEGIN OPENSSH PRIVATE KEY-----", base64 lines,
// "-----END …-----"): the header's finding runs to its line's end; each line after it is key
// material up to and including the footer, and is found whole (what else was found there goes).
void Masker::KeyLines(std::string_view block, bool* key_open) {
  const auto key = static_cast<uint8_t>(Entity::kPrivateKey);
  const float score = 1.0f;
  bool open = *key_open;
  if (!open && std::none_of(findings_.begin(), findings_.end(),
                            [&](const EntityMatch& m) { return m.entity == key; }))
    return;
  std::vector<EntityMatch> lines;
  size_t f = 0;  // findings_ are in text order
  for (size_t pos = 0; pos < block.size();) {
    const size_t nl = block.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? block.size() : nl;
    if (open) {
      const std::string_view line = block.substr(pos, end - pos);
      size_t e = end;
      if (const size_t footer = line.find("-----END"); footer != std::string_view::npos) {
        const size_t close = line.find("-----", footer + 8);
        e = close == std::string_view::npos ? end : pos + close + 5;
        open = false;
      }
      if (e > pos)
        lines.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(e), key, score});
    } else {
      for (; f < findings_.size() && findings_[f].start < end; ++f)
        if (findings_[f].entity == key && findings_[f].end == end) open = true;
    }
    pos = end + 1;
  }
  *key_open = open;
  if (lines.empty()) return;
  // Drop what was found inside the key's lines, then merge in text order.
  std::vector<EntityMatch> kept;
  size_t k = 0;
  for (const EntityMatch& m : findings_) {
    while (k < lines.size() && lines[k].end <= m.start) ++k;
    if (k < lines.size() && m.end > lines[k].start) continue;
    kept.push_back(m);
  }
  findings_.clear();
  std::merge(kept.begin(), kept.end(), lines.begin(), lines.end(), std::back_inserter(findings_),
             [](const EntityMatch& a, const EntityMatch& b) { return a.start < b.start; });
}

bool Masker::MaskLines(std::string_view block, std::string* out, MaskStats* stats, bool* key_open) {
  ScanLines(block, key_open);
  if (findings_.empty()) return false;
  Replace(block, 0, findings_, nullptr, out, stats);
  return true;
}

}  // namespace veil::masker
