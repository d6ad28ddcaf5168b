#include "agent/grants/grant.h"

#include <gtest/gtest.h>

namespace veil::grants {
namespace {

TEST(GrantIdTest, WellFormed) {
  for (int i = 0; i < 100; ++i) {
    auto id = NewGrantId();
    ASSERT_TRUE(id.ok()) << id.error().message;
    EXPECT_TRUE(IsGrantId(*id)) << *id;
    ASSERT_EQ(id->size(), 14u);
    EXPECT_EQ(id->substr(0, 2), "g-");
    for (char c : id->substr(2)) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << *id;
    }
  }
}

TEST(GrantIdTest, IsGrantIdRejects) {
  EXPECT_FALSE(IsGrantId(""));
  EXPECT_FALSE(IsGrantId("g-abcdefghijk"));    // 11
  EXPECT_FALSE(IsGrantId("g-abcdefghijklm"));  // 13
  EXPECT_FALSE(IsGrantId("g-abcdefghijk1"));   // 1 is not base32
  EXPECT_FALSE(IsGrantId("g-ABCDEFGHIJKL"));
  EXPECT_FALSE(IsGrantId("x-abcdefghijkl"));
  EXPECT_TRUE(IsGrantId("g-abcdefghij27"));
}

TEST(GrantTest, NamesRoundTrip) {
  for (auto s : {Grant::State::kPending, Grant::State::kActive, Grant::State::kExpired,
                 Grant::State::kRevoked, Grant::State::kDenied}) {
    EXPECT_EQ(ParseState(StateName(s)), s);
  }
  EXPECT_EQ(ParseAccess("read"), Grant::Access::kRead);
  EXPECT_EQ(ParseAccess("write"), Grant::Access::kWrite);
  EXPECT_EQ(ParseAccess("admin"), std::nullopt);
  EXPECT_EQ(ParseState("approved"), std::nullopt);
}

TEST(GrantTest, AdmitsHalfOpenWindow) {
  Grant g;
  g.state = Grant::State::kActive;
  g.not_before = 100;
  g.not_after = 200;
  EXPECT_FALSE(g.AdmitsAt(99));
  EXPECT_TRUE(g.AdmitsAt(100));
  EXPECT_TRUE(g.AdmitsAt(199));
  EXPECT_FALSE(g.AdmitsAt(200));
  g.state = Grant::State::kRevoked;
  EXPECT_FALSE(g.AdmitsAt(150));
}

TEST(GrantTest, FormatDuration) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(90), "1m30s");
  EXPECT_EQ(FormatDuration(3600), "1h");
  EXPECT_EQ(FormatDuration(5400), "1h30m");
  EXPECT_EQ(FormatDuration(4 * 3600), "4h");
  EXPECT_EQ(FormatDuration(86400), "1d");
  EXPECT_EQ(FormatDuration(86400 + 3600), "25h");
}

TEST(GrantTest, NoActiveGrantTexts) {
  EXPECT_EQ(NoActiveGrantMessage("user:alice", "orders-db"),
            "veil: no active grant for user:alice on orders-db");
  EXPECT_EQ(NoActiveGrantHint("orders-db"),
            "veilctl grants request orders-db --ttl 1h --reason \"...\"");
}

}  // namespace
}  // namespace veil::grants
