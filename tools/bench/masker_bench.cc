// Masking throughput per core (Google Benchmark). Four corpora, built here with a fixed seed:
//
//  rows      a result set as veild sees it: 8 columns of short cells (ids, timestamps, amounts,
//            statuses, SKUs, titles, notes, contacts), about 1% of cells holding PII. Numeric
//            and timestamp columns are not text, so the row policy skips them, as veild does.
//  rows_all  the same rows with every column scanned as text (worst case).
//  dense     free text dense with PII (a finding every ~60 bytes): support tickets, logs, JSON.
//  tsv       `veilctl mask` input: 10 tab-separated cells a line, ~35% numbers, ~20% dates and
//            timestamps, ~1% PII, the rest words and codes (issue 11's measurement).
//
// Each is masked through the engine (Masker::MaskRows / MaskLines, all entities on; tsv through
// veilctl's own Process()), and the same catalog regexes are run through RE2, one pattern at a
// time as a conventional scanner does, for the baseline. Ceiling/* is Hyperscan alone with
// only the literal-anchored patterns over the whole corpus: the practical ceiling (and the
// keyword class over the whole corpus, for comparison with its windows). BM_Stage_* isolate
// the prefilter and the scan (prefilter + Hyperscan windows + resolvers), Stage_Hyperscan/*
// each Hyperscan database over its stage's windows, so that the per-stage costs in
// masker/GATES.md can be derived. bytes_per_second is what to read; CPU time is the per-core
// figure on a shared machine.
#include <benchmark/benchmark.h>
#include <hs.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/text.h"
#include "masker/catalog.h"
#include "masker/masker.h"
#include "masker/prefilter.h"
#include "tools/veilctl/offline.h"

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
  // The same cells back to back in one buffer, as veild holds a socket read's DataRows: the
  // masking benchmarks read cells from here, so that cache misses on 160,000 separately
  // allocated strings (12% of BM_Rows/64 under perf, stop 34) are not counted as the engine's.
  std::string arena;
  std::vector<std::string_view> flat;  // cells.size() * 8, row by row
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
  r.arena.reserve(r.bytes);
  for (const auto& row : r.cells)
    for (const auto& c : row) r.arena += c;
  size_t at = 0;
  for (const auto& row : r.cells)
    for (const auto& c : row) {
      r.flat.emplace_back(r.arena.data() + at, c.size());
      at += c.size();
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
      const size_t end = std::min(r + batch, rows.cells.size()) * 8;
      for (size_t k = r * 8; k < end; ++k) cells.push_back({rows.flat[k], false});
      m.MaskRows(pp, cells, &outcomes, &outs);
      for (auto o : outcomes) masked += o != ValueOutcome::kUnchanged;
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(rows.bytes));
  state.counters["masked_cells_per_pass"] = double(masked) / double(state.iterations());
}
BENCHMARK_CAPTURE(BM_Rows, rows, false)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rows, rows_all, true)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond);

// Stage: the UTF-8 check the transcoders run on every scanned cell after MaskRows (a value
// that is not UTF-8 is replaced whole: stop 44), over the same cells. Compare with BM_Rows.
void BM_Stage_ValidUtf8(benchmark::State& state) {
  static const Rows rows = MakeRows(20000);
  size_t invalid = 0;
  for (auto _ : state)
    for (std::string_view c : rows.flat) invalid += !veil::ValidUtf8(c);
  benchmark::DoNotOptimize(invalid);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(rows.bytes));
}
BENCHMARK(BM_Stage_ValidUtf8)->Unit(benchmark::kMillisecond);

// The same rows, one MaskValue call per cell instead of one scan per row.
void BM_RowsPerCell(benchmark::State& state) {
  static const Rows rows = MakeRows(20000);
  auto profile = Profile();
  Masker m(profile);
  ColumnPolicy p = profile->PolicyFor({.table = "orders", .column = "notes"});
  std::string out;
  for (auto _ : state)
    for (std::string_view c : rows.flat) benchmark::DoNotOptimize(m.MaskValue(p, c, &out));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(rows.bytes));
}
BENCHMARK(BM_RowsPerCell)->Unit(benchmark::kMillisecond);

// One `fake` surrogate (masked copies, issue 17): distinct values of one entity through the
// strategy with a surrogate registry, as a masked pg_dump applies it to a column under a rule.
// A pass is 100,000 values (the second argument: 3,000,000 for a registry that outgrows the
// CPU caches, as in a large dump); the registry is new each pass (it grows as in a first dump).
void BM_Fake(benchmark::State& state) {
  const auto e = static_cast<Entity>(state.range(0));
  std::vector<std::string> values;
  for (int i = 0; i < state.range(1); ++i) {
    char b[64];
    switch (e) {
      case Entity::kEmail:
        std::snprintf(b, sizeof(b), "customer%d@acme-mail.com", i);
        break;
      case Entity::kPhone:
        std::snprintf(b, sizeof(b), "(%03d) %03d-%04d", 201 + i % 700, 200 + (i / 700) % 700,
                      i % 10000);
        break;
      case Entity::kPersonName:
        std::snprintf(b, sizeof(b), "%s %s", kWords[i % std::size(kWords)],
                      kWords[(i / std::size(kWords)) % std::size(kWords)]);
        b[0] = static_cast<char>(b[0] & ~0x20);
        break;
      default:  // US_SSN
        std::snprintf(b, sizeof(b), "%03d-%02d-%04d", 1 + i % 665, 1 + (i / 665) % 99,
                      1 + (i / 65835) % 9999);
    }
    values.emplace_back(b);
  }
  std::array<uint8_t, 32> k{};
  std::string out;
  for (auto _ : state) {
    fake::Options o;
    o.registry = std::make_shared<fake::SurrogateRegistry>();
    StrategyApplier a(MaskKey::FromBytes(k), o);
    for (const auto& v : values) {
      out.clear();
      a.Apply(Strategy::kFake, static_cast<uint8_t>(e), kBuiltinEntityNames[Index(e)], v, &out);
      benchmark::DoNotOptimize(out);
    }
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(values.size()));
  state.SetLabel(std::string(kBuiltinEntityNames[Index(e)]));
}
BENCHMARK(BM_Fake)
    ->Args({static_cast<int>(Entity::kEmail), 100000})
    ->Args({static_cast<int>(Entity::kPhone), 100000})
    ->Args({static_cast<int>(Entity::kPersonName), 100000})
    ->Args({static_cast<int>(Entity::kUsSsn), 100000})
    ->Args({static_cast<int>(Entity::kEmail), 3000000})
    ->Args({static_cast<int>(Entity::kUsSsn), 3000000})
    ->Unit(benchmark::kMillisecond);

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

// The rows joined as MaskRows joins a batch of 64 (cells separated by '\n'), with segments.
struct Joined {
  std::vector<std::string> batches;
  std::vector<std::vector<Segment>> segments;
  size_t bytes = 0;  // cell bytes, as BM_Rows counts them
};
const Joined& JoinedRows() {
  static const Joined j = [] {
    Rows rows = MakeRows(20000);
    Joined out;
    std::string b;
    std::vector<Segment> seg;
    for (size_t r = 0; r < rows.cells.size(); ++r) {
      for (const auto& c : rows.cells[r]) {
        uint32_t start = static_cast<uint32_t>(b.size());
        b += c;
        seg.push_back({start, static_cast<uint32_t>(b.size()), nullptr});
        b += '\n';
        out.bytes += c.size();
      }
      if ((r + 1) % 64 == 0 || r + 1 == rows.cells.size()) {
        out.batches.push_back(std::move(b));
        out.segments.push_back(std::move(seg));
        b.clear();
        seg.clear();
      }
    }
    return out;
  }();
  return j;
}

// Stage: the SIMD prefilter alone over the rows_all batches, with each classifier the CPU has
// (0 scalar, 1 AVX2, 2 AVX-512BW).
void BM_Stage_Prefilter(benchmark::State& state) {
  const Joined& j = JoinedRows();
  Prefilter pf;
  if (!pf.UseIsa(static_cast<PrefilterIsa>(state.range(0)))) {
    state.SkipWithError("this CPU lacks the instructions");
    return;
  }
  for (auto _ : state)
    for (const auto& b : j.batches) pf.Run(b);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(j.bytes));
  state.SetLabel(Prefilter::IsaName(pf.isa()));
  // What the prefilter hands on per pass: the work of the stages after it.
  size_t numbers = 0, names = 0, tokens = 0, houses = 0, encodings = 0;
  for (const auto& b : j.batches) {
    pf.Run(b);
    numbers += pf.numbers().size();
    names += pf.name_starts().size();
    tokens += pf.token_starts().size();
    houses += pf.house_numbers().size();
    encodings += pf.encodings().size();
  }
  state.counters["numbers"] = double(numbers);
  state.counters["names"] = double(names);
  state.counters["tokens"] = double(tokens);
  state.counters["houses"] = double(houses);
  state.counters["encodings"] = double(encodings);
}
BENCHMARK(BM_Stage_Prefilter)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);

// Stage: Scanner::Scan (prefilter, Hyperscan over windows, number lexer, names, resolvers).
void BM_Stage_Scan(benchmark::State& state) {
  const Joined& j = JoinedRows();
  Scanner sc(Profile()->detector());
  std::vector<EntityMatch> found;
  for (auto _ : state)
    for (size_t i = 0; i < j.batches.size(); ++i) sc.Scan(j.batches[i], j.segments[i], &found);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(j.bytes));
}
BENCHMARK(BM_Stage_Scan)->Unit(benchmark::kMillisecond);

// One catalog database class compiled alone, with a scratch and a counting callback.
struct ClassDb {
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  size_t patterns = 0;
  size_t hits = 0;

  explicit ClassDb(catalog::DbClass cls) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (const auto& ps : catalog::Patterns()) {
      if (ps.db != cls) continue;
      exprs.push_back(ps.regex);
      flags.push_back(cls == catalog::DbClass::kKeyword ? HS_FLAG_CASELESS : 0);
      ids.push_back(static_cast<unsigned>(ids.size()));
    }
    patterns = exprs.size();
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                         &err) != HS_SUCCESS) {
      hs_free_compile_error(err);
      db = nullptr;
      return;
    }
    hs_alloc_scratch(db, &scratch);
  }
  ~ClassDb() {
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
  void Scan(const char* p, size_t n) {
    hs_scan(
        db, p, static_cast<unsigned>(n), 0, scratch,
        [](unsigned, unsigned long long, unsigned long long, unsigned, void* c) {
          ++*static_cast<size_t*>(c);
          return 0;
        },
        &hits);
  }
};

// veilctl mask over TSV: 10 cells a line, ~35% numbers, ~20% dates, ~1% PII.
std::string MakeTsv(size_t target) {
  std::mt19937 rng(11);
  auto R = [&](unsigned m) { return static_cast<unsigned>(rng() % m); };
  auto pick = [&](auto& arr) { return std::string(arr[rng() % std::size(arr)]); };
  std::string s;
  char buf[64];
  while (s.size() < target) {
    for (int c = 0; c < 10; ++c) {
      if (c) s += '\t';
      unsigned r = R(100);
      if (r < 1) {
        s += pick(kPii);
      } else if (r < 36) {
        if (R(2))
          std::snprintf(buf, sizeof(buf), "%u", R(10000000));
        else
          std::snprintf(buf, sizeof(buf), "%u.%02u", R(100000), R(100));
        s += buf;
      } else if (r < 56) {
        std::snprintf(buf, sizeof(buf), "2024-%02u-%02u %02u:%02u:%02u", 1 + R(12), 1 + R(28),
                      R(24), R(60), R(60));
        s += buf;
      } else if (r < 66) {
        std::snprintf(buf, sizeof(buf), "SKU-%05u-%s", R(100000), R(2) ? "XL" : "BLU");
        s += buf;
      } else {
        s += pick(kWords);
        if (R(2)) s += " " + pick(kWords);
      }
    }
    s += '\n';
  }
  return s;
}

// A corpus of lines cut into 64 KiB blocks of whole lines, as BM_Dense and veilctl mask it.
std::vector<std::string_view> LineBlocks(const std::string& text) {
  std::vector<std::string_view> blocks;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = std::min(text.size(), pos + (64 << 10));
    end = text.rfind('\n', end - 1) + 1;
    blocks.emplace_back(text.data() + pos, end - pos);
    pos = end;
  }
  return blocks;
}

std::vector<std::string_view> DenseBlocks() {
  static const std::string text = MakeDense(4 << 20);
  return LineBlocks(text);
}

enum class Corpus { kRows, kDense, kTsv };

std::vector<std::string_view> Blocks(Corpus c) {
  if (c == Corpus::kDense) return DenseBlocks();
  if (c == Corpus::kTsv) {
    static const std::string text = MakeTsv(4 << 20);
    return LineBlocks(text);
  }
  std::vector<std::string_view> blocks;
  for (const auto& b : JoinedRows().batches) blocks.emplace_back(b);
  return blocks;
}

// Ceiling: Hyperscan with one class of catalog patterns over whole blocks. The literal-anchored
// class is the practical ceiling; the keyword class shows what its windows save.
void Ceiling(benchmark::State& state, Corpus corpus, catalog::DbClass cls) {
  const auto blocks = Blocks(corpus);
  ClassDb db(cls);
  if (!db.db) return state.SkipWithError("patterns do not compile");
  size_t bytes = 0;
  for (auto b : blocks) bytes += b.size();
  for (auto _ : state)
    for (auto b : blocks) db.Scan(b.data(), b.size());
  state.SetBytesProcessed(int64_t(state.iterations()) *
                          int64_t(corpus == Corpus::kRows ? JoinedRows().bytes : bytes));
  state.counters["patterns"] = double(db.patterns);
}
#define VEIL_CEILING(name, corpus, cls)                                   \
  BENCHMARK_CAPTURE(Ceiling, name, Corpus::corpus, catalog::DbClass::cls) \
      ->Unit(benchmark::kMillisecond)
VEIL_CEILING(rows, kRows, kLiteral);
VEIL_CEILING(dense, kDense, kLiteral);
VEIL_CEILING(tsv, kTsv, kLiteral);
VEIL_CEILING(keyword_rows, kRows, kKeyword);
VEIL_CEILING(keyword_dense, kDense, kKeyword);
VEIL_CEILING(keyword_tsv, kTsv, kKeyword);
#undef VEIL_CEILING

// Stage: one Hyperscan database over the windows the prefilter gives its stage (windows
// computed outside the timing): what each database costs inside Scanner::Scan. A call costs
// a few hundred ns before it reads a byte, so scans_per_pass matters as much as covered_pct.
void Stage_Hyperscan(benchmark::State& state, Corpus corpus, catalog::DbClass cls, Stage stage) {
  const auto blocks = Blocks(corpus);
  Prefilter pf;
  std::vector<std::vector<Window>> windows;
  size_t covered = 0, total = 0;
  for (auto b : blocks) {
    pf.Run(b);
    windows.emplace_back(pf.windows(stage).begin(), pf.windows(stage).end());
    for (const Window& w : windows.back()) covered += w.end - w.begin;
    total += b.size();
  }
  ClassDb db(cls);
  if (!db.db) return state.SkipWithError("patterns do not compile");
  size_t calls = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < blocks.size(); ++i)
      for (const Window& w : windows[i]) db.Scan(blocks[i].data() + w.begin, w.end - w.begin);
    for (const auto& ws : windows) calls += ws.size();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) *
                          int64_t(corpus == Corpus::kRows ? JoinedRows().bytes : total));
  state.counters["covered_pct"] = 100.0 * double(covered) / double(total);
  state.counters["scans_per_pass"] = double(calls) / double(state.iterations());
  state.counters["hits_per_pass"] = double(db.hits) / double(state.iterations());
}
#define VEIL_STAGE_HS(name, corpus, stage)                                                        \
  BENCHMARK_CAPTURE(Stage_Hyperscan, name, Corpus::corpus, catalog::DbClass::stage, Stage::stage) \
      ->Unit(benchmark::kMillisecond)
VEIL_STAGE_HS(rows_literal, kRows, kLiteral);
VEIL_STAGE_HS(rows_keyword, kRows, kKeyword);
VEIL_STAGE_HS(rows_letters, kRows, kLetters);
VEIL_STAGE_HS(rows_hexsep, kRows, kHexSep);
VEIL_STAGE_HS(dense_literal, kDense, kLiteral);
VEIL_STAGE_HS(dense_keyword, kDense, kKeyword);
VEIL_STAGE_HS(dense_letters, kDense, kLetters);
VEIL_STAGE_HS(dense_hexsep, kDense, kHexSep);
VEIL_STAGE_HS(tsv_literal, kTsv, kLiteral);
VEIL_STAGE_HS(tsv_keyword, kTsv, kKeyword);
VEIL_STAGE_HS(tsv_letters, kTsv, kLetters);
VEIL_STAGE_HS(tsv_hexsep, kTsv, kHexSep);
#undef VEIL_STAGE_HS

// The TSV path by stage, over 4 MiB of TSV in veilctl's 64 KiB slices: the prefilter alone,
// Masker::ScanLines (cells split at tabs, then Scanner::Scan) and MaskLines (with replacing);
// BM_VeilctlMask adds reading and writing.
void Tsv_Stage(benchmark::State& state, int stage) {
  const auto blocks = Blocks(Corpus::kTsv);
  size_t bytes = 0;
  for (auto b : blocks) bytes += b.size();
  Prefilter pf;
  Masker m(Profile());
  std::string out;
  for (auto _ : state) {
    for (auto b : blocks) {
      if (stage == 0) {
        pf.Run(b);
      } else if (stage == 1) {
        m.ScanLines(b);
      } else {
        m.MaskLines(b, &out);
      }
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK_CAPTURE(Tsv_Stage, prefilter, 0)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Tsv_Stage, scan_lines, 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Tsv_Stage, mask_lines, 2)->Unit(benchmark::kMillisecond);

void BM_VeilctlMask(benchmark::State& state) {
  static const std::string tsv = MakeTsv(32 << 20);
  Masker m(Profile());
  std::FILE* out = std::fopen("/dev/null", "w");
  for (auto _ : state) {
    std::FILE* in = fmemopen(const_cast<char*>(tsv.data()), tsv.size(), "r");
    auto st = veilctl::Process(veilctl::Mode::kMask, m, in, out, "");
    std::fclose(in);
    if (!st.ok()) state.SkipWithError("veilctl mask failed");
  }
  std::fclose(out);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(tsv.size()));
}
BENCHMARK(BM_VeilctlMask)->Unit(benchmark::kMillisecond);

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
