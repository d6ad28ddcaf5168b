// Masking throughput per core (Google Benchmark). Three corpora, built here with a fixed seed:
//
//  rows      a result set as veild sees it: 8 columns of short cells (ids, timestamps, amounts,
//            statuses, SKUs, titles, notes, contacts), about 1% of cells holding PII. Numeric
//            and timestamp columns are not text, so the row policy skips them, as veild does.
//  rows_all  the same rows with every column scanned as text (worst case).
//  dense     free text dense with PII (a finding every ~60 bytes): support tickets, logs, JSON.
//
// Each is masked through the engine (Masker::MaskRow / MaskText, all entities on), and the
// same catalog regexes are run through RE2, one pattern at a time as a conventional scanner
// does, for the baseline. bytes_per_second is what to read.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "masker/catalog.h"
#include "masker/masker.h"

#ifdef VEIL_HAVE_RE2
#include <re2/re2.h>
#endif

namespace veil::masker {
namespace {

constexpr const char* kPii[] = {"bob.smith@example.com",
                                "4111 1111 1111 1111",
                                "+44 20 7946 0958",
                                "536-22-1234",
                                "DE89 3704 0044 0532 0130 00",
                                "(650) 253-0000",
                                "203.0.113.7",
                                "AKIAZ3MRQXRTVL4GX7PQ",
                                "ghp_9JQNtFMgBAIw9vxZYn6gV9LkJu7FNDnT2ZSK",
                                "alice+news@mail.example.org",
                                "5555555555554444",
                                "AB 12 34 56 C"};
constexpr const char* kWords[] = {"order",     "shipped",   "blue",   "widget",   "large",
                                  "customer",  "requested", "refund", "delivery", "delayed",
                                  "warehouse", "priority",  "the",    "and",      "for",
                                  "with",      "account",   "note"};

struct Rows {
  std::vector<std::vector<std::string>> cells;
  size_t bytes = 0;
};

Rows MakeRows(size_t n) {
  std::mt19937 rng(42);
  auto pick = [&](auto& arr) { return std::string(arr[rng() % std::size(arr)]); };
  auto words = [&](int k) {
    std::string s;
    for (int i = 0; i < k; ++i) s += (i ? " " : "") + pick(kWords);
    return s;
  };
  Rows r;
  const char* statuses[] = {"active", "pending", "closed", "refunded"};
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::string> row;
    row.push_back(std::to_string(1000000 + rng() % 9000000));                          // id
    row.push_back("2024-05-" + std::to_string(10 + rng() % 18) + " 12:03:44.123+00");  // ts
    row.push_back(std::to_string(rng() % 100000) + "." + std::to_string(10 + rng() % 90));
    row.push_back(statuses[rng() % 4]);
    row.push_back("SKU-" + std::to_string(10000 + rng() % 89999) + "-XL");
    row.push_back(words(3));
    row.push_back(words(6 + rng() % 6));
    row.push_back(words(2));
    // ~1% of all cells hold PII: in the notes or contact column.
    for (int c : {6, 7})
      if (rng() % 100 < 4) row[c] += " " + pick(kPii);
    for (auto& c : row) r.bytes += c.size();
    r.cells.push_back(std::move(row));
  }
  return r;
}

std::string MakeDense(size_t target) {
  std::mt19937 rng(7);
  auto pick = [&](auto& arr) { return std::string(arr[rng() % std::size(arr)]); };
  std::string s;
  while (s.size() < target) {
    switch (rng() % 3) {
      case 0:
        s += "Customer " + pick(kWords) + " wrote from " + pick(kPii) + " about " + pick(kWords) +
             ", call " + pick(kPii) + ".\n";
        break;
      case 1:
        s += "2024-05-01T12:03:44.123Z INFO user=" + pick(kPii) + " ip=203.0.113." +
             std::to_string(rng() % 250) + " card=" + pick(kPii) + "\n";
        break;
      default:
        s += "{\"email\":\"" + pick(kPii) + "\",\"note\":\"" + pick(kWords) + " " + pick(kWords) +
             "\",\"ref\":\"" + pick(kPii) + "\"}\n";
    }
  }
  return s;
}

std::shared_ptr<const MaskingProfile> Profile() {
  std::array<uint8_t, 32> k{};
  return MaskingProfile::Default(MaskKey::FromBytes(k));
}

// Rows are masked in batches, as veild masks the DataRows of one socket read together.
void BM_Rows(benchmark::State& state, bool all_text) {
  static const Rows rows = MakeRows(20000);
  const size_t batch = static_cast<size_t>(state.range(0));
  auto profile = Profile();
  Masker m(profile);
  const char* names[] = {"id",  "created_at", "amount", "status",
                         "sku", "title",      "notes",  "contact"};
  const bool text[] = {false, false, false, true, true, true, true, true};
  std::vector<ColumnPolicy> pol;
  for (int i = 0; i < 8; ++i)
    pol.push_back(profile->PolicyFor(
        {.table = "orders", .column = names[i], .text_like = all_text || text[i]}));
  std::vector<const ColumnPolicy*> pp;
  for (auto& p : pol) pp.push_back(&p);
  std::vector<Masker::Cell> cells;
  std::vector<ValueOutcome> outcomes;
  std::vector<std::string> outs;
  uint64_t masked = 0;
  for (auto _ : state) {
    for (size_t r = 0; r < rows.cells.size(); r += batch) {
      cells.clear();
      for (size_t k = r; k < std::min(r + batch, rows.cells.size()); ++k)
        for (const auto& c : rows.cells[k]) cells.push_back({c, false});
      m.MaskRows(pp, cells, &outcomes, &outs);
      for (auto o : outcomes) masked += o != ValueOutcome::kUnchanged;
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(rows.bytes));
  state.counters["masked_cells_per_pass"] = double(masked) / double(state.iterations());
}
BENCHMARK_CAPTURE(BM_Rows, rows, false)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rows, rows_all, true)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond);

// The same rows, one MaskValue call per cell instead of one scan per row.
void BM_RowsPerCell(benchmark::State& state) {
  static const Rows rows = MakeRows(20000);
  auto profile = Profile();
  Masker m(profile);
  ColumnPolicy p = profile->PolicyFor({.table = "orders", .column = "notes"});
  std::string out;
  for (auto _ : state)
    for (const auto& row : rows.cells)
      for (const auto& c : row) benchmark::DoNotOptimize(m.MaskValue(p, c, &out));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(rows.bytes));
}
BENCHMARK(BM_RowsPerCell)->Unit(benchmark::kMillisecond);

// veilctl mask: blocks of whole lines (here 64 KiB) in one pass each.
void BM_Dense(benchmark::State& state) {
  static const std::string text = MakeDense(4 << 20);
  Masker m(Profile());
  std::string out;
  size_t findings = 0;
  for (auto _ : state) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = std::min(text.size(), pos + (64 << 10));
      end = text.rfind('\n', end - 1) + 1;
      if (m.MaskLines(std::string_view(text.data() + pos, end - pos), &out))
        findings += m.findings().size();
      pos = end;
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["findings_per_KB"] =
      double(findings) / double(state.iterations()) / (double(text.size()) / 1024);
}
BENCHMARK(BM_Dense)->Unit(benchmark::kMillisecond);

#ifdef VEIL_HAVE_RE2
// Baseline: every catalog regex through RE2, one after the other, finding all matches.
std::vector<std::unique_ptr<RE2>> Re2Patterns() {
  std::vector<std::unique_ptr<RE2>> res;
  for (const auto& ps : catalog::Patterns()) {
    std::string p = std::string("(") + ps.regex + ")";  // FindAndConsume captures the match
    if (ps.db == catalog::DbClass::kKeyword) p = "(?i)" + p;
    auto re = std::make_unique<RE2>(p, RE2::Quiet);
    if (re->ok()) res.push_back(std::move(re));
  }
  return res;
}

size_t Re2ScanAll(const std::vector<std::unique_ptr<RE2>>& res, std::string_view text) {
  size_t n = 0;
  for (const auto& re : res) {
    re2::StringPiece in(text.data(), text.size());
    re2::StringPiece m;
    while (RE2::FindAndConsume(&in, *re, &m) || false) {
      ++n;
      if (m.empty()) break;
    }
  }
  return n;
}

void BM_Re2Rows(benchmark::State& state) {
  static const Rows rows = MakeRows(20000);
  auto res = Re2Patterns();
  state.counters["patterns"] = double(res.size());
  for (auto _ : state)
    for (const auto& row : rows.cells)
      for (const auto& c : row) benchmark::DoNotOptimize(Re2ScanAll(res, c));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(rows.bytes));
}
BENCHMARK(BM_Re2Rows)->Unit(benchmark::kMillisecond);

void BM_Re2Dense(benchmark::State& state) {
  static const std::string text = MakeDense(4 << 20);
  auto res = Re2Patterns();
  size_t matches = 0;
  for (auto _ : state) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      matches += Re2ScanAll(res, std::string_view(text.data() + pos, nl - pos));
      pos = nl + 1;
    }
  }
  state.counters["matches_per_KB"] =
      double(matches) / double(state.iterations()) / (double(text.size()) / 1024);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_Re2Dense)->Unit(benchmark::kMillisecond);
#endif

}  // namespace
}  // namespace veil::masker

BENCHMARK_MAIN();
