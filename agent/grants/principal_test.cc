#include "agent/grants/principal.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

namespace veil::grants {
namespace {

Principal Alice() {
  Principal p;
  p.user = "alice";
  p.groups = {"alice", "dev", "oncall"};
  p.unit = "etl.service";
  p.container = "3f2a9c";
  p.exe = "/usr/bin/psql";
  return p;
}

TEST(PrincipalTest, MatchesEachKind) {
  Principal p = Alice();
  EXPECT_TRUE(p.Matches("user:alice"));
  EXPECT_TRUE(p.Matches("group:dev"));
  EXPECT_TRUE(p.Matches("group:oncall"));
  EXPECT_TRUE(p.Matches("unit:etl.service"));
  EXPECT_TRUE(p.Matches("container:3f2a9c"));
  EXPECT_TRUE(p.Matches("exe:/usr/bin/psql"));
}

TEST(PrincipalTest, DoesNotMatchOthers) {
  Principal p = Alice();
  EXPECT_FALSE(p.Matches("user:bob"));
  EXPECT_FALSE(p.Matches("user:alic"));
  EXPECT_FALSE(p.Matches("user:Alice"));
  EXPECT_FALSE(p.Matches("group:dba"));
  EXPECT_FALSE(p.Matches("unit:etl"));
  EXPECT_FALSE(p.Matches("container:3f2a9"));
  EXPECT_FALSE(p.Matches("exe:/usr/bin/psql2"));
  // The kind matters: a group named like the user is not the user.
  EXPECT_FALSE(p.Matches("user:dev"));
  EXPECT_FALSE(p.Matches("group:etl.service"));
}

TEST(PrincipalTest, MalformedSpecsAndMissingAttributesNeverMatch) {
  Principal p = Alice();
  EXPECT_FALSE(p.Matches(""));
  EXPECT_FALSE(p.Matches("alice"));
  EXPECT_FALSE(p.Matches("user:"));
  EXPECT_FALSE(p.Matches("uid:1000"));
  EXPECT_FALSE(p.Matches("USER:alice"));

  Principal empty;
  EXPECT_FALSE(empty.Matches("user:"));
  EXPECT_FALSE(empty.Matches("unit:"));
  EXPECT_FALSE(empty.Matches("exe:"));
  EXPECT_FALSE(empty.Matches("group:"));
}

TEST(PrincipalTest, DisplayPrefersUser) {
  EXPECT_EQ(Alice().Display(), "user:alice");
  Principal unit;
  unit.unit = "etl.service";
  unit.exe = "/usr/bin/python3";
  EXPECT_EQ(unit.Display(), "unit:etl.service");
  Principal container;
  container.container = "3f2a9c";
  EXPECT_EQ(container.Display(), "container:3f2a9c");
  Principal exe;
  exe.exe = "/opt/agent/bin/run";
  EXPECT_EQ(exe.Display(), "exe:/opt/agent/bin/run");
  Principal nobody;
  nobody.uid = 4242;
  EXPECT_EQ(nobody.Display(), "uid:4242");
  EXPECT_EQ(Principal{}.Display(), "unknown");
}

TEST(PrincipalTest, IsPrincipalSpec) {
  EXPECT_TRUE(IsPrincipalSpec("user:alice"));
  EXPECT_TRUE(IsPrincipalSpec("group:dev"));
  EXPECT_TRUE(IsPrincipalSpec("unit:etl.service"));
  EXPECT_TRUE(IsPrincipalSpec("container:3f2a9c"));
  EXPECT_TRUE(IsPrincipalSpec("exe:/usr/bin/psql"));
  EXPECT_FALSE(IsPrincipalSpec("exe:psql"));
  EXPECT_FALSE(IsPrincipalSpec("user:"));
  EXPECT_FALSE(IsPrincipalSpec("alice"));
  EXPECT_FALSE(IsPrincipalSpec("uid:1000"));
}

TEST(PrincipalTest, FromUidOfThisProcess) {
  uid_t uid = getuid();
  Principal p = FromUid(uid);
  passwd* pw = getpwuid(uid);
  ASSERT_NE(pw, nullptr) << "this test needs a passwd entry for uid " << uid;
  EXPECT_EQ(p.user, pw->pw_name);
  EXPECT_EQ(p.Display(), std::string("user:") + pw->pw_name);
  ASSERT_TRUE(p.uid.has_value());
  EXPECT_EQ(*p.uid, uid);
  // The primary group is among the groups.
  group* gr = getgrgid(pw->pw_gid);
  ASSERT_NE(gr, nullptr);
  EXPECT_TRUE(p.Matches(std::string("group:") + gr->gr_name));
}

TEST(PrincipalTest, FromUidOfUnknownUidMatchesNothing) {
  // A uid far outside any passwd range.
  Principal p = FromUid(3999999999u);
  EXPECT_TRUE(p.user.empty());
  EXPECT_TRUE(p.groups.empty());
  EXPECT_EQ(p.Display(), "uid:3999999999");
  EXPECT_FALSE(p.Matches("user:3999999999"));
}

}  // namespace
}  // namespace veil::grants
