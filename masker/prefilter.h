// The SIMD prefilter of the detector: which few bytes of a batch deserve a closer look.
//
// One pass classifies every byte of the scanned text into bitmasks (64 bytes per word:
// digits, upper, lower, space, '.', '-', ':', '@', '_', '(' or '+', '=', '/', ',', '\n',
// UTF-8 lead bytes), with AVX-512BW or AVX2 where the CPU has it and a table otherwise. From the
// masks, word-at-a-time bit arithmetic derives the candidate windows of each later stage:
//
//   literal   '@', "://", "::", "-----", and token runs of 14+ [A-Za-z0-9_-] (keys, JWTs, wallets)
//   numbers   runs of digits joined by single separators with 6+ digits (4+ with three dots),
//             and '(' or '+' before a digit: the number lexer (detector.cc) reads these
//   hexsep    colon chains (MAC, full IPv6), MAC dashes every third byte, Cisco dotted MACs
//   keyword   a value (4+ digits, a capitalised word, '=', ':', '(', a word of a script without
//             capitals after a space) with 2+ letters before it
//             on its line: the window runs back 56 bytes, where the context keyword must be
//   letters   a house number before a capitalised word (street lines), token runs of 26+
//   names     capitalised word starts (ASCII or a Latin UTF-8 capital)
//   fields    '=', ':' or '>' after a key: structured records (JSON, XML, YAML, LDIF, forms)
//
// Rows of short cells are mostly numbers, dates and lower-case words: none of them opens a
// window, so Hyperscan and the resolvers see a small fraction of the bytes.
//
//   Prefilter pf;
//   pf.Run(text);    // VEIL_PREFILTER_ISA=scalar|avx2 in the environment caps the path
//   for (const Window& w : pf.windows(Stage::kLiteral)) hs_scan(db, text + w.begin, …);
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace veil::masker {

enum class Stage : uint8_t { kLiteral, kHexSep, kKeyword, kLetters, kCount };

// The instructions that classify the bytes, in the order of what they need.
enum class PrefilterIsa : uint8_t { kScalar, kAvx2, kAvx512 };

struct Window {
  uint32_t begin;
  uint32_t end;
};

// A run of digits joined by separators, or a '(' / '+' before a digit.
struct NumberRun {
  uint32_t begin;  // first byte (a digit, '(' or '+')
  uint32_t end;    // one past the last byte of the run
};

struct Triggers;  // prefilter.cc

struct Blk;  // prefilter.cc

struct RunMasks;  // prefilter.cc

class Prefilter {
 public:
  Prefilter();
  // Classifies `text` and derives every stage's windows. Text of at most 4 GiB.
  void Run(std::string_view text);

  // Windows of a Hyperscan stage, sorted, merged where closer than kMergeGap bytes.
  std::span<const Window> windows(Stage s) const { return windows_[static_cast<int>(s)]; }
  std::span<const NumberRun> numbers() const { return numbers_; }
  std::span<const uint32_t> name_starts() const { return name_starts_; }
  // Where each token run of 14+ [A-Za-z0-9_-] starts: API tokens by prefix are read there.
  std::span<const uint32_t> token_starts() const { return token_starts_; }
  // Where encoded text may start ('%' before two hex digits, "&#", "&amp;", "[at]", "(dot)"),
  // in text order: the detector decodes the segments that hold one and scans them again.
  std::span<const uint32_t> encodings() const { return encodings_; }
  // Digit runs that may be house numbers of streets other countries write: after a word and a
  // space ("Hauptstraße 5"), or before a space and a lower-case word ("12 rue de la Paix").
  std::span<const uint32_t> house_numbers() const { return house_numbers_; }
  // Runs of 9-12 digits, bare or joined ("3574945899", "06-1-129-4465"): ids on their own,
  // phones beside a contact's other data (the detector decides).
  std::span<const NumberRun> bare_numbers() const { return bare_numbers_; }
  // '=', ':' or '>' one to three bytes after a letter: where a key may end and its value begin
  // ("first_name=Ann", "\"family\":\"Doe\"", "<LastName>Doe", "sn: Doe"). The detector reads
  // the key and keeps the values of keys that name a person, a phone or a street.
  std::span<const uint32_t> fields() const { return fields_; }
  // Where a command line may hold a credential: an option after a blank (" -pS3cr3t",
  // " --db-password"), an '@' after a '/' in its word ("scott/tiger@orcl"). The detector reads
  // the line's commands (masker/command_line.h).
  std::span<const uint32_t> commands() const { return commands_; }

  // Which code path classifies the bytes: the best the CPU has, capped by VEIL_PREFILTER_ISA.
  PrefilterIsa isa() const { return isa_; }
  static const char* IsaName(PrefilterIsa isa);
  // Another path, for tests and benchmarks; false (and no change) when the CPU lacks it.
  bool UseIsa(PrefilterIsa isa);

  static constexpr uint32_t kMergeGap = 96;

 private:
  void RunAvx512(std::string_view text);
  void RunAvx2(std::string_view text);
  void RunPortable(std::string_view text);
  template <typename Classify>
  void RunStreaming(std::string_view text, Classify&& classify_block);
  void Handle(std::string_view text, size_t w, const Triggers& tr, const RunMasks& rm,
              const uint64_t* LU, const uint64_t* NL);

  // Letter and newline masks of every word, a zero word before the text's: keyword windows
  // look back.
  std::vector<uint64_t> letters_, newlines_;
  std::vector<Window> windows_[static_cast<int>(Stage::kCount)];
  std::vector<NumberRun> numbers_;
  std::vector<uint32_t> name_starts_;
  std::vector<uint32_t> token_starts_;
  std::vector<uint32_t> encodings_;
  std::vector<uint32_t> house_numbers_;
  std::vector<NumberRun> bare_numbers_;
  std::vector<uint32_t> fields_;
  std::vector<uint32_t> commands_;
  PrefilterIsa isa_;
};

}  // namespace veil::masker
