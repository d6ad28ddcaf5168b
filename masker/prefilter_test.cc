#include "masker/prefilter.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace veil::masker {
namespace {

// Everything a run hands on, flattened: two paths agree when these are equal.
std::vector<uint32_t> Outputs(const Prefilter& pf) {
  std::vector<uint32_t> o;
  auto mark = [&](uint32_t tag) { o.push_back(0xFFFF0000u | tag); };
  for (int s = 0; s < static_cast<int>(Stage::kCount); ++s) {
    mark(s);
    for (const Window& w : pf.windows(static_cast<Stage>(s))) o.insert(o.end(), {w.begin, w.end});
  }
  mark(10);
  for (const NumberRun& r : pf.numbers()) o.insert(o.end(), {r.begin, r.end});
  mark(11);
  for (const NumberRun& r : pf.bare_numbers()) o.insert(o.end(), {r.begin, r.end});
  for (auto [tag, v] : {std::pair{12, pf.name_starts()},
                        {13, pf.token_starts()},
                        {14, pf.encodings()},
                        {15, pf.house_numbers()},
                        {16, pf.fields()},
                        {17, pf.commands()}}) {
    mark(tag);
    o.insert(o.end(), v.begin(), v.end());
  }
  return o;
}

// Text that fires every trigger: PII of many shapes, UTF-8 of several scripts, encodings, and
// bytes that are none of these, cut at lengths that end inside a 64-byte block.
std::vector<std::string> Corpus() {
  const std::vector<std::string> pieces = {
      "Jane Doe",
      "ssn 123-45-6789",
      "+1 (415) 555-0132",
      "jane.doe@example.com",
      "4111 1111 1111 1111",
      "DE89 3704 0044 0532 0130 00",
      "221B Baker Street",
      "12 rue de la Paix",
      "Hauptstraße 5",
      "password=S3cr3t!",
      "-----BEGIN",
      "ghp_0123456789abcdefABCDEF",
      "00:1A:2B:3C:4D:5E",
      "0a-1b-2c-3d-4e-5f",
      "0001.0002.0003",
      "Иван Петров",
      "王秀英",
      "%40",
      "&#64;",
      "[at]",
      " dot ",
      "born 4 july 1976",
      "1968. március 20.",
      "\"given\":\"Ann\"",
      "<sn>Doe</sn>",
      " -pS3cr3t",
      "scott/tiger@orcl",
      "2024-01-03",
      "19.99",
      "\n",
      "\t",
      "ＡＢＣ１２３",
      "Łódź",
      "12AB34567",
      "call Ann on 5551234",
      "\xff\xfe",
      "https://x.test/a",
      "fe80::1",
      "CASPAR SMIEJA",
      "5th",
  };
  std::mt19937 rng(20261207);
  std::vector<std::string> out;
  for (int t = 0; t < 3000; ++t) {
    std::string s;
    const size_t len = rng() % 400;
    while (s.size() < len) {
      const uint32_t r = rng() % 8;
      if (r < 5) {
        s += pieces[rng() % pieces.size()];
      } else if (r == 5) {
        s += static_cast<char>(rng() % 256);  // any byte, invalid UTF-8 included
      } else {
        s += " ,;|\t"[rng() % 5];
      }
    }
    s.resize(len);
    out.push_back(std::move(s));
  }
  return out;
}

// The SIMD classifiers feed the same derivation as the table one: each path the CPU has must
// find exactly what the scalar path finds, to the byte.
TEST(PrefilterTest, EveryInstructionSetAgreesWithTheTable) {
  Prefilter scalar, simd;
  ASSERT_TRUE(scalar.UseIsa(PrefilterIsa::kScalar));
  int compared = 0;
  for (const PrefilterIsa isa : {PrefilterIsa::kAvx2, PrefilterIsa::kAvx512}) {
    if (!simd.UseIsa(isa)) continue;
    for (const std::string& text : Corpus()) {
      scalar.Run(text);
      simd.Run(text);
      ASSERT_EQ(Outputs(scalar), Outputs(simd))
          << Prefilter::IsaName(isa) << " on " << testing::PrintToString(text);
    }
    ++compared;
  }
  if (compared == 0) GTEST_SKIP() << "this CPU has no SIMD path";
}

// What a path finds is not empty on text that has PII, on the path the process uses.
TEST(PrefilterTest, FindsCandidatesOnTheDefaultPath) {
  Prefilter pf;
  const std::string text = "row 7\tJane Doe\tssn 123-45-6789\tjane.doe@example.com\n";
  pf.Run(text);
  EXPECT_FALSE(pf.windows(Stage::kLiteral).empty());  // the e-mail's '@'
  EXPECT_FALSE(pf.name_starts().empty());             // "Jane"
  bool ssn = false;
  for (const Window& w : pf.windows(Stage::kKeyword))
    ssn |= w.begin <= text.find("123") && w.end >= text.find("123") + 2;
  EXPECT_TRUE(ssn) << "the SSN's keyword window";
}

TEST(PrefilterTest, TheTablePathIsAlwaysThereAndAMissingOneIsRefused) {
  Prefilter pf;
  ASSERT_TRUE(pf.UseIsa(PrefilterIsa::kScalar));
  EXPECT_EQ(pf.isa(), PrefilterIsa::kScalar);
  EXPECT_STREQ(Prefilter::IsaName(pf.isa()), "scalar");
  if (pf.UseIsa(PrefilterIsa::kAvx512)) GTEST_SKIP() << "this CPU has every path";
  EXPECT_EQ(pf.isa(), PrefilterIsa::kScalar);  // refused: the path in use stays
}

}  // namespace
}  // namespace veil::masker
