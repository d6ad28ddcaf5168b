#include "masker/names.h"

#include <gtest/gtest.h>

namespace veil::masker::names {
namespace {

TEST(Names, TableIsLinkedAndFolds) {
  EXPECT_GT(TableSize(), 100000u);
  EXPECT_EQ(Lookup("Jane").given, 3);
  EXPECT_GE(Lookup("SMITH").surname, 3);
  EXPECT_TRUE(Lookup("will").word);
  EXPECT_GE(Lookup("Müller").surname, 1);  // folded to "muller"
  EXPECT_FALSE(Lookup("Zzyzxq").known());
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
  EXPECT_LT(Score({"New", "York"}), 0.5f);
}

}  // namespace
}  // namespace veil::masker::names
