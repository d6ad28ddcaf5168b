#include "masker/names.h"

#include <gtest/gtest.h>

#include <string>

#include "masker/letters.h"

namespace veil::masker::names {
namespace {

TEST(Names, TableIsLinkedAndFolds) {
  EXPECT_GT(TableSize(), 100000u);
  EXPECT_EQ(Lookup("Jane").given, 3);
  EXPECT_GE(Lookup("SMITH").surname, 3);
  EXPECT_TRUE(Lookup("will").word);
  EXPECT_GE(Lookup("Müller").surname, 1);  // folded to "muller"
  EXPECT_FALSE(Lookup("Zzyzxq").known());
  EXPECT_GE(Lookup("Nguyễn").surname, 1);    // Vietnamese marks folded: "nguyen"
  EXPECT_GE(Lookup("Анна").given, 1);        // romanised: "anna"
  EXPECT_FALSE(Lookup("Thể").word);          // spelled "the", but no English word
  EXPECT_EQ(Lookup("Шевченко").surname, 2);  // a surname by its ending
  EXPECT_FALSE(Lookup("").known());
}

float Score(std::initializer_list<std::string_view> words, RunForm f = RunForm::kFirstLast) {
  std::vector<Token> t;
  for (auto w : words) t.push_back({w, w.size() <= 2 && w.back() == '.', false});
  return ScoreRun(t, f);
}

TEST(Names, ScoresRuns) {
  EXPECT_GE(Score({"Jane", "Doe"}), 0.5f);
  EXPECT_GE(Score({"John", "Roe"}), 0.5f);
  EXPECT_GE(Score({"Lola", "Rippin"}), 0.5f);
  EXPECT_GE(Score({"Rippin", "Lola"}, RunForm::kLastFirst), 0.5f);
  EXPECT_GE(Score({"J.", "Smith"}), 0.5f);
  EXPECT_LT(Score({"Granite", "Chair"}), 0.5f);
  EXPECT_LT(Score({"Kuhn", "LLC"}), 0.5f);
  EXPECT_LT(Score({"Customer", "Success"}), 0.5f);
  // Family name first, romanised: context may carry it, alone it is no name.
  for (auto [family, given] : {std::pair{"Zhang", "Wei"}, {"Liu", "Yang"}}) {
    EXPECT_GE(Score({family, given}), 0.38f) << family;
    EXPECT_LT(Score({family, given}), 0.5f) << family;
  }
  EXPECT_LT(Score({"New", "York"}), 0.5f);
}

}  // namespace
}  // namespace veil::masker::names

namespace veil::masker::letters {
namespace {

Letter Of(std::string_view s) {
  return At(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}
std::string Spelled(std::string_view s) {
  char out[4];
  const int n = Ascii(Of(s).cp, out);
  return n < 0 ? "?" : std::string(out, n);
}

TEST(Letters, CapitalsAndScripts) {
  EXPECT_TRUE(Of("Ư").upper);  // U+01AF
  EXPECT_FALSE(Of("ư").upper);
  EXPECT_TRUE(Of("Ș").upper);
  EXPECT_TRUE(Of("Ấ").upper);  // U+1EA4
  EXPECT_FALSE(Of("ấ").upper);
  EXPECT_TRUE(Of("Я").upper);
  EXPECT_FALSE(Of("я").upper);
  EXPECT_TRUE(Of("Ё").upper);
  EXPECT_TRUE(Of("Ω").upper);
  EXPECT_FALSE(Of("ω").upper);
  EXPECT_TRUE(Of("Ա").upper);
  EXPECT_EQ(Of("Я").script, Script::kCyrillic);
  EXPECT_EQ(Of("王").script, Script::kOther);
  EXPECT_EQ(Of("ก").script, Script::kOther);
  EXPECT_EQ(Of("ა").script, Script::kOther);
  EXPECT_EQ(Of("王").len, 3);
  // No letters: punctuation, symbols, emoji, a cut sequence.
  EXPECT_EQ(Of("—").len, 0);
  EXPECT_EQ(Of("’").len, 0);
  EXPECT_EQ(Of("×").len, 0);
  EXPECT_EQ(Of("😀").len, 0);
  EXPECT_EQ(Of("\xD0").len, 0);
  EXPECT_EQ(Of("\xE4\xB8").len, 0);
}

TEST(Letters, AsciiSpelling) {
  EXPECT_EQ(Spelled("ễ"), "e");
  EXPECT_EQ(Spelled("Đ"), "d");
  EXPECT_EQ(Spelled("ț"), "t");
  EXPECT_EQ(Spelled("ơ"), "o");
  EXPECT_EQ(Spelled("Щ"), "shch");
  EXPECT_EQ(Spelled("я"), "ya");
  EXPECT_EQ(Spelled("ь"), "");
  EXPECT_EQ(Spelled("ω"), "?");  // Greek names are not in the table
}

}  // namespace
}  // namespace veil::masker::letters
