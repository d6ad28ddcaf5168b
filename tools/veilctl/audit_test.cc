#include "tools/veilctl/audit.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "agent/events/pipeline.h"
#include "agent/events/test_support.h"

namespace veil::veilctl {
namespace {

using events::testing::ReadFile;
using events::testing::ReadLines;
using events::testing::TempDir;
using events::testing::WriteLines;

struct Outcome {
  int rc;
  std::string out;
  std::string err;
};

Outcome Verify(AuditVerifyArgs args) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  int rc = AuditVerify(args, out, err);
  auto slurp = [](std::FILE* f) {
    std::string s;
    std::rewind(f);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) s.append(buf, n);
    std::fclose(f);
    return s;
  };
  return {rc, slurp(out), slurp(err)};
}

class AuditVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::unique_ptr<events::Sink>> sinks;
    sinks.push_back(std::make_unique<events::FileSink>(file(), 1 << 20, 3));
    events::PipelineOptions o;
    o.state_dir = d_.path() + "/state";
    o.checkpoint_every = 5;
    auto p = events::Pipeline::Create(std::move(sinks), o);
    ASSERT_TRUE(p.ok()) << p.error().message;
    for (int i = 0; i < 12; ++i)
      (*p)->Emit({{"class_uid", 6005}, {"metadata", {{"uid", "e-" + std::to_string(i)}}}});
    ASSERT_TRUE((*p)->Shutdown(std::chrono::seconds(10)).ok());
  }
  std::string file() const { return d_.path() + "/events.jsonl"; }
  std::string key() const { return d_.path() + "/state/keys/audit.pub"; }
  TempDir d_;
};

TEST_F(AuditVerifyTest, OkWithCounts) {
  Outcome r = Verify({.files = {file()}, .key = key()});
  EXPECT_EQ(r.rc, 0) << r.err;
  // 12 events + checkpoints after 5 and 10 + the final one.
  EXPECT_EQ(r.out, "ok: 15 records in 1 file (seq 1..15), 3 checkpoints verified\n");
}

TEST_F(AuditVerifyTest, NoKeyChecksTheChainAndSaysSignaturesWereNotChecked) {
  Outcome r = Verify({.files = {file()}, .default_key = d_.path() + "/absent.pub"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("0 checkpoints verified"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 checkpoint signatures not checked"), std::string::npos) << r.out;
}

TEST_F(AuditVerifyTest, DeletedRecordExitsOneWithTheFirstBadSeq) {
  auto lines = ReadLines(file());
  lines.erase(lines.begin() + 2);
  WriteLines(file(), lines);
  Outcome r = Verify({.files = {file()}, .key = key()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out.rfind("FAIL: seq 3: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(file() + ":3"), std::string::npos) << r.out;
}

TEST_F(AuditVerifyTest, JsonOutput) {
  Outcome ok = Verify({.files = {file()}, .key = key(), .output = "json"});
  EXPECT_EQ(ok.rc, 0);
  auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["records"], 15);
  EXPECT_EQ(j["checkpoints_verified"], 3);
  EXPECT_FALSE(j.contains("bad_seq"));

  auto lines = ReadLines(file());
  lines[6].replace(lines[6].find("e-5"), 3, "e-9");
  WriteLines(file(), lines);
  Outcome bad = Verify({.files = {file()}, .key = key(), .output = "json"});
  EXPECT_EQ(bad.rc, 1);
  j = nlohmann::json::parse(bad.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["bad_seq"], 7);
  EXPECT_EQ(j["line"], 7);
  EXPECT_NE(j["reason"].get<std::string>().find("edited"), std::string::npos);
}

TEST_F(AuditVerifyTest, UnreadableFileOrKeyExitsOne) {
  Outcome r = Verify({.files = {d_.path() + "/nope.jsonl"}});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("nope.jsonl"), std::string::npos);
  r = Verify({.files = {file()}, .key = file()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("--key"), std::string::npos);
}

#ifdef VEILCTL_BIN
TEST_F(AuditVerifyTest, TheCommandLine) {
  std::string cmd = std::string(VEILCTL_BIN) + " -o json audit verify " + file() + " --key " +
                    key() + " > " + d_.path() + "/out.txt";
  int status = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(nlohmann::json::parse(ReadFile(d_.path() + "/out.txt"))["records"], 15);
  auto lines = ReadLines(file());
  std::swap(lines[3], lines[4]);
  WriteLines(file(), lines);
  cmd = std::string(VEILCTL_BIN) + " audit verify " + file() + " --key " + key() + " > " +
        d_.path() + "/out.txt";
  status = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_EQ(ReadFile(d_.path() + "/out.txt").rfind("FAIL: seq 4: ", 0), 0u);
}
#endif

}  // namespace
}  // namespace veil::veilctl
