#include "agent/events/chain.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "agent/events/checkpoint.h"
#include "agent/events/pipeline.h"
#include "agent/events/test_support.h"
#include "agent/events/verify.h"

namespace veil::events {
namespace {

using json = nlohmann::json;
using testing::ReadFile;
using testing::ReadLines;
using testing::TempDir;
using testing::WriteLines;

json Event(int i) {
  return {{"class_uid", 6005},
          {"activity_id", 4},
          {"metadata", {{"uid", "e-" + std::to_string(i)}, {"product", {{"name", "veil"}}}}},
          {"time", 1700000000000 + i},
          {"unmapped", {{"rows", i}, {"grant_id", "g-abc"}}}};
}

PipelineOptions Options(const std::string& state, uint64_t checkpoint_every = 10) {
  PipelineOptions o;
  o.state_dir = state;
  o.checkpoint_every = checkpoint_every;
  o.checkpoint_interval = std::chrono::hours(1);
  o.retry_initial = std::chrono::milliseconds(5);
  o.retry_max = std::chrono::milliseconds(20);
  return o;
}

// Writes `n` events (ids from `first`) through a pipeline with one file sink and stops it.
void WriteEvents(const std::string& dir, int first, int n, uint64_t max_size = 1 << 30,
                 uint32_t keep = 10, uint64_t checkpoint_every = 10) {
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<FileSink>(dir + "/events.jsonl", max_size, keep));
  auto p = Pipeline::Create(std::move(sinks), Options(dir + "/state", checkpoint_every));
  ASSERT_TRUE(p.ok()) << p.error().message;
  for (int i = first; i < first + n; ++i) (*p)->Emit(Event(i));
  ASSERT_TRUE((*p)->Shutdown(std::chrono::seconds(10)).ok());
}

std::unique_ptr<CheckpointVerifier> Key(const std::string& dir) {
  auto k = CheckpointVerifier::FromPemFile(dir + "/state/keys/audit.pub");
  EXPECT_TRUE(k.ok()) << k.error().message;
  return k.ok() ? std::move(*k) : nullptr;
}

VerifyReport Verify(const std::vector<std::string>& files, const CheckpointVerifier* key) {
  auto r = VerifyFiles(files, key);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : VerifyReport{};
}

// What someone without the key can do: recompute every hash from `from` on.
void Rechain(std::vector<std::string>& lines, size_t from) {
  std::string prev =
      from == 0 ? std::string(kGenesisHash)
                : json::parse(lines[from - 1])["unmapped"]["chain"]["hash"].get<std::string>();
  for (size_t i = from; i < lines.size(); ++i) {
    json rec = json::parse(lines[i]);
    rec["unmapped"]["chain"]["prev"] = prev;
    rec["unmapped"]["chain"]["hash"] = std::string(64, '0');
    prev = *RecordHash(rec);
    rec["unmapped"]["chain"]["hash"] = prev;
    lines[i] = Canonical(rec);
  }
}

TEST(Chain, StampFollowsTheSpecFormulaAndRoundTrips) {
  Chain chain;
  json rec = {{"class_uid", 6005},
              {"message", "caf\xc3\xa9 \"quoted\" \t tab \x01"},
              {"b", 2},
              {"a", {{"z", 1}, {"y", -3}}}};
  std::string line = chain.Stamp(rec);
  chain.Commit(rec);
  json parsed = json::parse(line);
  EXPECT_EQ(parsed["unmapped"]["chain"]["seq"], 1);
  EXPECT_EQ(parsed["unmapped"]["chain"]["prev"], std::string(kGenesisHash));
  // hash = hex(SHA-256(prev || dump() of the record without chain.hash)), keys sorted.
  json without = parsed;
  without["unmapped"]["chain"].erase("hash");
  std::string expect = Sha256Hex(std::string(kGenesisHash) + without.dump());
  EXPECT_EQ(parsed["unmapped"]["chain"]["hash"], expect);
  EXPECT_EQ(*RecordHash(parsed), expect);
  EXPECT_EQ(line, parsed.dump());                     // the line is the canonical form, re-parsable
  EXPECT_EQ(line.substr(0, 12), "{\"a\":{\"y\":-3");  // keys sorted, no whitespace

  json second = {{"class_uid", 6005}};
  line = chain.Stamp(second);
  chain.Commit(second);
  parsed = json::parse(line);
  EXPECT_EQ(parsed["unmapped"]["chain"]["seq"], 2);
  EXPECT_EQ(parsed["unmapped"]["chain"]["prev"], expect);
  EXPECT_EQ(chain.head().seq, 2u);
}

// Stamp serializes once and splices the hash in; the line must be exactly the canonical form,
// also when values or other keys look like the chain object.
TEST(Chain, StampedLineIsTheCanonicalFormEvenWithLookalikes) {
  Chain chain;
  for (int i = 0; i < 3; ++i) {
    json rec = {{"message", "\"chain\":{\"prev\":\"x\"} and \\\"chain\\\""},
                {"chain", {{"prev", 1}}},
                {"unmapped", {{"masked", {{"by_column", {{"chain", 3}}}}}, {"rows", i}}}};
    std::string line = chain.Stamp(rec);
    chain.Commit(rec);
    EXPECT_EQ(line, Canonical(rec));
    EXPECT_EQ(*RecordHash(json::parse(line)), rec["unmapped"]["chain"]["hash"]);
  }
}

TEST(Chain, InvalidUtf8IsReplacedNotThrown) {
  Chain chain;
  json rec = {{"message", std::string("bad \xff\xfe bytes")}};
  std::string line = chain.Stamp(rec);
  json parsed = json::parse(line);
  EXPECT_EQ(*RecordHash(parsed), parsed["unmapped"]["chain"]["hash"].get<std::string>());
}

TEST(Checkpoint, KeyCreated0600WithPublicKeyBeside) {
  TempDir d;
  auto signer = CheckpointSigner::LoadOrCreate(d.path() + "/keys");
  ASSERT_TRUE(signer.ok()) << signer.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((d.path() + "/keys/audit.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadFile(d.path() + "/keys/audit.pub"), (*signer)->public_pem());
  // A second start loads the same key.
  auto again = CheckpointSigner::LoadOrCreate(d.path() + "/keys");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->key_id(), (*signer)->key_id());
  auto verifier = CheckpointVerifier::FromPemFile(d.path() + "/keys/audit.pub");
  ASSERT_TRUE(verifier.ok());
  json rec = (*signer)->MakeRecord(ChainHead{7, std::string(64, 'a')}, 1700000000123);
  EXPECT_TRUE((*verifier)->Check(rec["unmapped"]["checkpoint"]).ok());
  rec["unmapped"]["checkpoint"]["seq"] = 8;
  EXPECT_FALSE((*verifier)->Check(rec["unmapped"]["checkpoint"]).ok());
}

TEST(Verify, IntactFileVerifiesWithSignedCheckpoints) {
  TempDir d;
  WriteEvents(d.path(), 0, 25);
  auto key = Key(d.path());
  VerifyReport r = Verify({d.path() + "/events.jsonl"}, key.get());
  EXPECT_TRUE(r.ok) << r.reason;
  // 25 events, a checkpoint after every 10 records, and a final one at shutdown.
  EXPECT_EQ(r.records, 28u);
  EXPECT_EQ(r.checkpoints, 3u);
  EXPECT_EQ(r.checkpoints_verified, 3u);
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 28u);
  EXPECT_EQ(r.unsigned_tail, 0u);
  auto lines = ReadLines(d.path() + "/events.jsonl");
  ASSERT_EQ(lines.size(), 28u);
  json cp = json::parse(lines[10]);
  EXPECT_EQ(cp["class_uid"], 1008);
  EXPECT_EQ(cp["unmapped"]["checkpoint"]["seq"], 10);
  EXPECT_EQ(cp["unmapped"]["checkpoint"]["hash"],
            json::parse(lines[9])["unmapped"]["chain"]["hash"]);
  EXPECT_EQ(json::parse(lines[0])["metadata"]["uid"], "e-0");
}

class Tamper : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteEvents(d_.path(), 0, 25);
    path_ = d_.path() + "/events.jsonl";
    lines_ = ReadLines(path_);
    key_ = Key(d_.path());
  }
  VerifyReport Check(bool with_key = true) {
    WriteLines(path_, lines_);
    return Verify({path_}, with_key ? key_.get() : nullptr);
  }
  TempDir d_;
  std::string path_;
  std::vector<std::string> lines_;
  std::unique_ptr<CheckpointVerifier> key_;
};

TEST_F(Tamper, EditedRecord) {
  lines_[4].replace(lines_[4].find("\"rows\":4"), 8, "\"rows\":9");
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 5u);
  EXPECT_EQ(r.line, 5u);
  EXPECT_NE(r.reason.find("edited"), std::string::npos) << r.reason;
}

TEST_F(Tamper, EditedAndRehashedRecordBreaksTheNextLink) {
  json rec = json::parse(lines_[4]);
  rec["unmapped"]["rows"] = 999;
  rec["unmapped"]["chain"]["hash"] = *RecordHash(rec);
  lines_[4] = Canonical(rec);
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 6u);
  EXPECT_NE(r.reason.find("prev does not match"), std::string::npos) << r.reason;
}

TEST_F(Tamper, EditedAndWholeChainRecomputedFailsAtTheNextCheckpoint) {
  json rec = json::parse(lines_[4]);
  rec["unmapped"]["rows"] = 999;
  lines_[4] = Canonical(rec);
  Rechain(lines_, 4);
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 11u);  // the checkpoint covering seq 10
  EXPECT_NE(r.reason.find("checkpoint"), std::string::npos) << r.reason;
}

TEST_F(Tamper, DeletedRecord) {
  lines_.erase(lines_.begin() + 4);
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 5u);
  EXPECT_NE(r.reason.find("deleted"), std::string::npos) << r.reason;
}

TEST_F(Tamper, ReorderedRecords) {
  std::swap(lines_[4], lines_[5]);
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 5u);
  EXPECT_NE(r.reason.find("reordered"), std::string::npos) << r.reason;
}

TEST_F(Tamper, TruncatedLastLine) {
  lines_.back().resize(lines_.back().size() / 2);
  WriteLines(path_, lines_);
  std::string all = ReadFile(path_);
  all.pop_back();  // no newline after the torn record
  std::ofstream(path_, std::ios::binary | std::ios::trunc) << all;
  auto r = VerifyFiles({path_}, key_.get());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->bad_seq, 28u);
  EXPECT_NE(r->reason.find("truncated"), std::string::npos) << r->reason;
}

TEST_F(Tamper, MissingTailIsReportedAsUnsigned) {
  lines_.resize(lines_.size() - 1);  // the final checkpoint cut off
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.unsigned_tail, 5u);
}

TEST_F(Tamper, InsertedCopyOfARecord) {
  lines_.insert(lines_.begin() + 5, lines_[4]);
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 5u);
  EXPECT_EQ(r.line, 6u);
  EXPECT_NE(r.reason.find("inserted"), std::string::npos) << r.reason;
}

TEST_F(Tamper, InsertedForgedRecordWithAValidHash) {
  // A forger who knows the format chains a record onto seq 5.
  auto head = HeadOfLine(lines_[4]);
  ASSERT_TRUE(head.ok());
  Chain chain(*head);
  json forged = Event(1000);
  lines_.insert(lines_.begin() + 5, chain.Stamp(forged));
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 6u);
  EXPECT_EQ(r.line, 7u);  // the genuine seq 6 now follows a seq 6
  EXPECT_NE(r.reason.find("inserted"), std::string::npos) << r.reason;
}

TEST_F(Tamper, BadCheckpointSignature) {
  // The final checkpoint (seq 28): nothing after it whose links would also change.
  json cp = json::parse(lines_.back());
  std::string sig = cp["unmapped"]["checkpoint"]["signature"];
  sig[0] = sig[0] == 'a' ? 'b' : 'a';
  cp["unmapped"]["checkpoint"]["signature"] = sig;
  lines_.back() = Canonical(cp);
  Rechain(lines_, lines_.size() - 1);
  VerifyReport without_key = Check(/*with_key=*/false);
  EXPECT_TRUE(without_key.ok) << without_key.reason;  // hashes alone cannot tell
  EXPECT_EQ(without_key.checkpoints_verified, 0u);
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 28u);
  EXPECT_NE(r.reason.find("signature"), std::string::npos) << r.reason;
}

TEST_F(Tamper, CheckpointFromAnotherKey) {
  TempDir other;
  auto signer = CheckpointSigner::LoadOrCreate(other.path() + "/keys");
  ASSERT_TRUE(signer.ok());
  auto head = HeadOfLine(lines_[9]);
  ASSERT_TRUE(head.ok());
  Chain chain(*head);
  json cp = (*signer)->MakeRecord(*head, 1700000000000);
  lines_[10] = chain.Stamp(cp);
  Rechain(lines_, 11);
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 11u);
  EXPECT_NE(r.reason.find("key"), std::string::npos) << r.reason;
}

std::vector<std::string> RotatedFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().starts_with("events.jsonl")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Rotation, RotatedFilesVerifyInAnyOrder) {
  TempDir d;
  WriteEvents(d.path(), 0, 60, /*max_size=*/2000, /*keep=*/50);
  auto files = RotatedFiles(d.path());
  ASSERT_GT(files.size(), 3u);
  auto key = Key(d.path());
  // 60 events and a checkpoint after every 10 (none left for shutdown).
  VerifyReport r = Verify(files, key.get());
  EXPECT_TRUE(r.ok) << r.reason << " at " << r.file;
  EXPECT_EQ(r.records, 66u);
  EXPECT_EQ(r.files, files.size());
  EXPECT_EQ(r.checkpoints_verified, 6u);
  std::mt19937 rng(42);
  for (int i = 0; i < 5; ++i) {
    std::shuffle(files.begin(), files.end(), rng);
    r = Verify(files, key.get());
    EXPECT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.records, 66u);
  }
  // Every file after the first starts where the previous ended.
  for (const auto& f : files) EXPECT_LE(std::filesystem::file_size(f), 2000u) << f;
}

TEST(Rotation, AMissingMiddleFileIsReported) {
  TempDir d;
  WriteEvents(d.path(), 0, 60, /*max_size=*/2000, /*keep=*/50);
  std::vector<std::string> files = {d.path() + "/events.jsonl", d.path() + "/events.jsonl.1",
                                    d.path() + "/events.jsonl.3"};
  auto second = ReadLines(d.path() + "/events.jsonl.2");
  VerifyReport r = Verify(files, Key(d.path()).get());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, HeadOfLine(second.front())->seq);
  EXPECT_NE(r.reason.find("deleted"), std::string::npos) << r.reason;
}

TEST(Restart, ANewPipelineContinuesTheChain) {
  TempDir d;
  WriteEvents(d.path(), 0, 7);
  auto first = ReadLines(d.path() + "/events.jsonl");
  WriteEvents(d.path(), 100, 7);
  auto all = ReadLines(d.path() + "/events.jsonl");
  ASSERT_EQ(all.size(), first.size() + 8);  // 7 events + a final checkpoint each run
  json next = json::parse(all[first.size()]);
  json last = json::parse(first.back());
  EXPECT_EQ(next["unmapped"]["chain"]["seq"].get<uint64_t>(),
            last["unmapped"]["chain"]["seq"].get<uint64_t>() + 1);
  EXPECT_EQ(next["unmapped"]["chain"]["prev"], last["unmapped"]["chain"]["hash"]);
  EXPECT_EQ(next["metadata"]["uid"], "e-100");
  VerifyReport r = Verify({d.path() + "/events.jsonl"}, Key(d.path()).get());
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.records, 16u);
}

TEST(Restart, ContinuesAcrossRotationAndCutsATornTail) {
  TempDir d;
  WriteEvents(d.path(), 0, 30, /*max_size=*/2000, /*keep=*/50);
  // A crash in the middle of a write left half a record.
  std::ofstream(d.path() + "/events.jsonl", std::ios::binary | std::ios::app)
      << "{\"class_uid\":60";
  WriteEvents(d.path(), 100, 30, /*max_size=*/2000, /*keep=*/50);
  auto files = RotatedFiles(d.path());
  VerifyReport r = Verify(files, Key(d.path()).get());
  EXPECT_TRUE(r.ok) << r.reason << " at " << r.file << ":" << r.line;
  EXPECT_EQ(r.gaps, 1u);  // the torn record is reported, not silently dropped
  EXPECT_EQ(r.events_lost, 1u);
}

}  // namespace
}  // namespace veil::events
