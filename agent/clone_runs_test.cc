#include "agent/clone_runs.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/capped_counts.h"

namespace veil::agent {
namespace {

constexpr char kRun[] = "0123456789abcdef0123456789abcdef";

// Records what reaches the inner sink, to check the tap forwards everything.
struct Recorder final : UsageSink {
  std::vector<std::string> calls;
  void SessionOpened(const SessionContext&) override { calls.push_back("open"); }
  void SessionRefused(const SessionContext&, std::string_view, std::string_view) override {
    calls.push_back("refused");
  }
  void SessionClosed(const SessionContext&, const SessionTotals&, std::string_view) override {
    calls.push_back("close");
  }
  void Statement(const SessionContext&, const StatementRecord&) override {
    calls.push_back("statement");
  }
};

SessionContext Session(std::string app, std::string principal = "user:alice") {
  SessionContext s;
  s.endpoint = "prod";
  s.principal_display = std::move(principal);
  s.application_name = std::move(app);
  return s;
}

StatementRecord Copy(uint64_t emails, uint64_t rows) {
  StatementRecord r;
  r.text = "COPY public.customers (id, email) TO stdout;";
  r.rows = rows;
  r.masked_by_column["public.customers.email"] = emails;
  r.masked.per_entity[0] = emails;
  return r;
}

TEST(CloneRunsTest, RunIdOnlyFromTheVeilCloneTag) {
  EXPECT_EQ(CloneRunOf(std::string("veil-clone:") + kRun), kRun);
  EXPECT_FALSE(CloneRunOf(kRun));
  EXPECT_FALSE(CloneRunOf("veil-clone:"));
  EXPECT_FALSE(CloneRunOf("veil-clone:0123"));                      // too short to be unguessable
  EXPECT_FALSE(CloneRunOf("veil-clone:0123456789ABCDEF01234567"));  // lower-case hex only
  EXPECT_FALSE(CloneRunOf("pg_dump"));
}

TEST(CloneRunsTest, CountsTheRunsSessionsAndForwardsEveryCall) {
  Recorder inner;
  CloneRuns runs;
  CloneTap tap(&inner, &runs);
  const SessionContext a = Session(std::string("veil-clone:") + kRun);
  const SessionContext other = Session("psql");
  tap.SessionOpened(a);
  tap.SessionOpened(other);
  tap.Statement(a, Copy(3, 10));
  tap.Statement(a, Copy(2, 5));
  tap.Statement(other, Copy(7, 7));  // not the run's
  EXPECT_EQ(runs.Open(kRun), 1);
  tap.SessionClosed(a, {}, "closed");
  tap.SessionClosed(other, {}, "closed");
  EXPECT_EQ(runs.Open(kRun), 0);
  EXPECT_EQ(inner.calls.size(), 7u);

  auto t = runs.Take(kRun, "user:alice");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->has_value());
  const CloneTotals& got = **t;
  EXPECT_EQ(got.masked.by_column.at("public.customers.email"), 5);
  EXPECT_EQ(got.statements, 2);
  EXPECT_EQ(got.rows, 15);
  EXPECT_EQ(got.sessions, 1);
  EXPECT_EQ(got.endpoint, "prod");
  // Taken once: the run is gone.
  auto again = runs.Take(kRun, "user:alice");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST(CloneRunsTest, AnotherPrincipalNeitherAddsToNorTakesTheRun) {
  CloneRuns runs;
  CloneTap tap(nullptr, &runs);  // no inner sink: still counted
  const std::string app = std::string("veil-clone:") + kRun;
  tap.SessionOpened(Session(app));
  tap.SessionOpened(Session(app, "user:mallory"));
  tap.Statement(Session(app, "user:mallory"), Copy(100, 100));
  tap.Statement(Session(app), Copy(1, 1));
  EXPECT_FALSE(runs.Take(kRun, "user:mallory").ok());
  auto t = runs.Take(kRun, "user:alice");
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->masked.by_column.at("public.customers.email"), 1);
  EXPECT_EQ((*t)->sessions, 1);
}

TEST(CloneRunsTest, KeepsAtMostMaxRunsDroppingTheOldest) {
  CloneRuns runs;
  CloneTap tap(nullptr, &runs);
  auto id = [](size_t i) {
    std::string s = std::to_string(i);
    return std::string(32 - s.size(), '0') + s;
  };
  for (size_t i = 0; i <= CloneRuns::kMaxRuns; ++i)
    tap.SessionOpened(Session("veil-clone:" + id(i)));
  auto first = runs.Take(id(0), "user:alice");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());  // dropped
  auto last = runs.Take(id(CloneRuns::kMaxRuns), "user:alice");
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->has_value());
}

// FinishClone's answer is one bounded control message, however many columns were masked.
TEST(CloneRunsTest, CountsAreCappedKeepingTheLargest) {
  std::map<std::string, int64_t> counts = {{"a", 5}, {"b", 1}, {"c", 9}, {"d", 2}};
  EXPECT_EQ(CappedCounts(counts, 4, "(other)"), counts);
  const std::map<std::string, int64_t> capped = {{"c", 9}, {"a", 5}, {"(other)", 3}};
  EXPECT_EQ(CappedCounts(counts, 3, "(other)"), capped);
}

}  // namespace
}  // namespace veil::agent
