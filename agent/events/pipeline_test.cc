#include "agent/events/pipeline.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "agent/events/test_support.h"
#include "agent/events/verify.h"

namespace veil::events {
namespace {

using json = nlohmann::json;
using testing::MemorySink;
using testing::MemorySinkState;
using testing::ReadLines;
using testing::TempDir;
using testing::WaitFor;
using testing::WriteLines;

json Event(int i) {
  return {{"class_uid", 6005},
          {"activity_id", 4},
          {"metadata", {{"uid", "e-" + std::to_string(i)}}},
          {"unmapped", {{"rows", i}}}};
}

PipelineOptions Options(const std::string& state) {
  PipelineOptions o;
  o.state_dir = state;
  o.checkpoint_every = 1000000;  // only the final checkpoint, unless a test wants more
  o.checkpoint_interval = std::chrono::hours(1);
  o.retry_initial = std::chrono::milliseconds(5);
  o.retry_max = std::chrono::milliseconds(20);
  return o;
}

std::unique_ptr<Pipeline> MakePipeline(std::shared_ptr<MemorySinkState> state,
                                       const PipelineOptions& opts) {
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<MemorySink>(state));
  auto p = Pipeline::Create(std::move(sinks), opts);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.ok() ? std::move(*p) : nullptr;
}

// What a receiver got, by kind: "e-N" for events, "gap:N" for gap records, "cp" for checkpoints.
std::vector<std::string> Kinds(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) {
    json j = json::parse(l);
    if (j["unmapped"].contains("gap"))
      out.push_back("gap:" + std::to_string(j["unmapped"]["gap"]["lost"].get<uint64_t>()));
    else if (j["unmapped"].contains("checkpoint"))
      out.push_back("cp");
    else
      out.push_back(j["metadata"]["uid"].get<std::string>());
  }
  return out;
}

std::vector<std::string> Ids(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("e-" + std::to_string(i));
  return out;
}

// The lines a receiver got verify as one chain (with the pipeline's key).
void ExpectChainVerifies(const std::vector<std::string>& lines, const std::string& state_dir,
                         uint64_t lost = 0) {
  const std::string file = state_dir + "/received.jsonl";
  WriteLines(file, lines);
  auto key = CheckpointVerifier::FromPemFile(state_dir + "/keys/audit.pub");
  ASSERT_TRUE(key.ok());
  auto r = VerifyFiles({file}, key->get());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << "seq " << r->bad_seq << ": " << r->reason;
  EXPECT_EQ(r->records, lines.size());
  EXPECT_EQ(r->events_lost, lost);
}

TEST(Pipeline, EmitNeverWaitsOnABlockedSinkAndCountsWhatItDrops) {
  TempDir d;
  auto state = std::make_shared<MemorySinkState>();
  state->SetBlocked(true);  // a receiver that never reads
  PipelineOptions opts = Options(d.path());
  opts.queue_capacity = 16;
  auto p = MakePipeline(state, opts);
  p->Emit(Event(0));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lk(state->mu);
    return state->writes_waiting == 1;  // the writer is stuck inside the sink
  }));
  // If Emit waited on the sink this loop would never end (the test would hang, not pass).
  for (int i = 1; i <= 100; ++i) p->Emit(Event(i));
  EXPECT_EQ(p->DroppedTotal(), 84u);  // 16 fit in the queue
  ASSERT_EQ(p->Stats().size(), 1u);
  EXPECT_EQ(p->Stats()[0].dropped, 84u);
  EXPECT_EQ(p->Stats()[0].name, "memory");
  state->SetBlocked(false);
  ASSERT_TRUE(p->Shutdown(std::chrono::seconds(10)).ok());

  std::vector<std::string> expect = Ids(0, 17);
  expect.push_back("gap:84");  // after the events that were queued before the drops
  expect.push_back("cp");
  auto lines = state->Lines();
  EXPECT_EQ(Kinds(lines), expect);
  json gap = json::parse(lines[17]);
  EXPECT_EQ(gap["class_uid"], 1008);
  EXPECT_EQ(gap["unmapped"]["gap"]["reason"], "queue full");
  EXPECT_LE(gap["unmapped"]["gap"]["first_time"], gap["unmapped"]["gap"]["last_time"]);
  ExpectChainVerifies(lines, d.path(), 84);
}

TEST(Pipeline, ADownSinkIsSpooledAndGetsEverythingInOrderWhenItComesBack) {
  TempDir d;
  auto state = std::make_shared<MemorySinkState>();
  state->SetUp(false);
  auto p = MakePipeline(state, Options(d.path()));
  for (int i = 0; i < 30; ++i) p->Emit(Event(i));
  ASSERT_TRUE(WaitFor([&] { return p->Stats()[0].spooled == 30; }));
  EXPECT_FALSE(p->Stats()[0].healthy);
  EXPECT_EQ(ReadLines(d.path() + "/spool/memory.jsonl").size(), 30u);
  EXPECT_TRUE(state->Lines().empty());

  state->SetUp(true);
  ASSERT_TRUE(WaitFor([&] { return state->Lines().size() == 30; }));
  for (int i = 30; i < 40; ++i) p->Emit(Event(i));
  ASSERT_TRUE(p->Shutdown(std::chrono::seconds(10)).ok());
  EXPECT_EQ(p->DroppedTotal(), 0u);
  std::vector<std::string> expect = Ids(0, 40);
  expect.push_back("cp");
  EXPECT_EQ(Kinds(state->Lines()), expect);
  EXPECT_EQ(std::filesystem::file_size(d.path() + "/spool/memory.jsonl"), 0u);
  ExpectChainVerifies(state->Lines(), d.path());
}

TEST(Pipeline, AFullSpoolDropsCountsAndAGapRecordFollows) {
  TempDir d;
  auto state = std::make_shared<MemorySinkState>();
  state->SetUp(false);
  PipelineOptions opts = Options(d.path());
  opts.spool_max_bytes = 2500;  // room for a handful of records
  auto p = MakePipeline(state, opts);
  for (int i = 0; i < 30; ++i) p->Emit(Event(i));
  ASSERT_TRUE(WaitFor([&] {
    auto s = p->Stats()[0];
    return s.spooled + s.dropped == 30;
  }));
  const uint64_t spooled = p->Stats()[0].spooled;
  const uint64_t dropped = p->DroppedTotal();
  EXPECT_GT(spooled, 0u);
  EXPECT_GT(dropped, 0u);

  state->SetUp(true);
  ASSERT_TRUE(WaitFor([&] { return state->Lines().size() == spooled + 1; }));
  for (int i = 30; i < 35; ++i) p->Emit(Event(i));
  ASSERT_TRUE(p->Shutdown(std::chrono::seconds(10)).ok());

  std::vector<std::string> expect = Ids(0, static_cast<int>(spooled));
  expect.push_back("gap:" + std::to_string(dropped));
  for (auto& id : Ids(30, 35)) expect.push_back(id);
  expect.push_back("cp");
  EXPECT_EQ(Kinds(state->Lines()), expect);
  json gap = json::parse(state->Lines()[spooled]);
  EXPECT_EQ(gap["unmapped"]["gap"]["reason"], "spool full");
  ExpectChainVerifies(state->Lines(), d.path(), dropped);
}

TEST(Pipeline, TheSpoolSurvivesARestartAndTheChainContinues) {
  TempDir d;
  auto state = std::make_shared<MemorySinkState>();
  state->SetUp(false);
  {
    auto p = MakePipeline(state, Options(d.path()));
    for (int i = 0; i < 5; ++i) p->Emit(Event(i));
    Status st = p->Shutdown(std::chrono::seconds(10));
    EXPECT_FALSE(st.ok());  // names the sink left with a spool
    EXPECT_NE(st.error().message.find("memory"), std::string::npos);
  }
  state->SetUp(true);
  auto p = MakePipeline(state, Options(d.path()));
  ASSERT_TRUE(WaitFor([&] { return state->Lines().size() == 6; }));  // 5 + the final checkpoint
  for (int i = 5; i < 8; ++i) p->Emit(Event(i));
  ASSERT_TRUE(p->Shutdown(std::chrono::seconds(10)).ok());
  std::vector<std::string> expect = Ids(0, 5);
  expect.push_back("cp");
  for (auto& id : Ids(5, 8)) expect.push_back(id);
  expect.push_back("cp");
  EXPECT_EQ(Kinds(state->Lines()), expect);
  ExpectChainVerifies(state->Lines(), d.path());
}

TEST(Pipeline, CheckpointsEveryNRecords) {
  TempDir d;
  auto state = std::make_shared<MemorySinkState>();
  PipelineOptions opts = Options(d.path());
  opts.checkpoint_every = 4;
  auto p = MakePipeline(state, opts);
  for (int i = 0; i < 10; ++i) p->Emit(Event(i));
  ASSERT_TRUE(p->Shutdown(std::chrono::seconds(10)).ok());
  std::vector<std::string> expect = Ids(0, 4);
  expect.push_back("cp");
  for (auto& id : Ids(4, 8)) expect.push_back(id);
  expect.push_back("cp");
  for (auto& id : Ids(8, 10)) expect.push_back(id);
  expect.push_back("cp");
  EXPECT_EQ(Kinds(state->Lines()), expect);
  EXPECT_EQ(p->Stats()[0].checkpoints, 3u);
  ExpectChainVerifies(state->Lines(), d.path());
}

TEST(Pipeline, CheckpointsAfterTheIntervalWhenRecordsCame) {
  TempDir d;
  auto state = std::make_shared<MemorySinkState>();
  PipelineOptions opts = Options(d.path());
  opts.checkpoint_interval = std::chrono::milliseconds(20);
  auto p = MakePipeline(state, opts);
  p->Emit(Event(0));
  ASSERT_TRUE(WaitFor([&] { return p->Stats()[0].checkpoints == 1; }));
  EXPECT_EQ(Kinds(state->Lines()), (std::vector<std::string>{"e-0", "cp"}));
  ASSERT_TRUE(p->Shutdown(std::chrono::seconds(10)).ok());
  EXPECT_EQ(p->Stats()[0].checkpoints, 1u);  // nothing new since: no further checkpoint
}

TEST(Pipeline, ADamagedLastRecordDoesNotStopTheStartAndIsReported) {
  TempDir d;
  config::v1::Sink cfg;
  cfg.set_type(config::v1::Sink::TYPE_FILE);
  cfg.set_path(d.path() + "/events.jsonl");
  cfg.set_max_size(1 << 20);
  cfg.set_keep(2);
  google::protobuf::RepeatedPtrField<config::v1::Sink> sinks;
  *sinks.Add() = cfg;
  {
    auto p = Pipeline::Create(sinks, Options(d.path() + "/state"));
    ASSERT_TRUE(p.ok());
    for (int i = 0; i < 3; ++i) (*p)->Emit(Event(i));
  }
  auto lines = ReadLines(d.path() + "/events.jsonl");
  lines.back() = "{\"not\":\"a record\"}";
  WriteLines(d.path() + "/events.jsonl", lines);
  auto p = Pipeline::Create(sinks, Options(d.path() + "/state"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  (*p)->Emit(Event(3));
  ASSERT_TRUE((*p)->Shutdown(std::chrono::seconds(10)).ok());
  auto r = VerifyFiles({d.path() + "/events.jsonl"}, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->bad_seq, 4u);
  EXPECT_EQ(r->line, 4u);
}

TEST(Pipeline, ManyThreadsEmitAndEveryEventArrivesOnce) {
  TempDir d;
  auto state = std::make_shared<MemorySinkState>();
  PipelineOptions opts = Options(d.path());
  opts.queue_capacity = 100000;
  auto p = MakePipeline(state, opts);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) p->Emit(Event(t * 1000 + i));
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(p->Shutdown(std::chrono::seconds(10)).ok());
  auto kinds = Kinds(state->Lines());
  ASSERT_EQ(kinds.size(), 2001u);
  std::set<std::string> unique(kinds.begin(), kinds.end() - 1);
  EXPECT_EQ(unique.size(), 2000u);
  ExpectChainVerifies(state->Lines(), d.path());
}

// A real syslog receiver over TCP that is absent at first: Emit returns, events are spooled,
// and they all arrive in order once it listens.
TEST(Pipeline, TcpSyslogReceiverThatComesBackGetsTheSpoolInOrder) {
  TempDir d;
  // Find a free port, then leave it closed: connections are refused.
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(probe);

  config::v1::Sink cfg;
  cfg.set_type(config::v1::Sink::TYPE_SYSLOG);
  cfg.set_address("tcp://127.0.0.1:" + std::to_string(ntohs(sa.sin_port)));
  google::protobuf::RepeatedPtrField<config::v1::Sink> sinks;
  *sinks.Add() = cfg;
  auto created = Pipeline::Create(sinks, Options(d.path()));
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto& p = *created;
  for (int i = 0; i < 20; ++i) p->Emit(Event(i));
  ASSERT_TRUE(WaitFor([&] { return p->Stats()[0].spooled == 20; }));

  Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  Fd conn(::accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(conn.valid());
  timeval tv{10, 0};
  ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (int i = 20; i < 25; ++i) p->Emit(Event(i));
  ASSERT_TRUE(p->Shutdown(std::chrono::seconds(10)).ok());
  p.reset();  // closes the connection: the receiver reads to its end

  std::string stream;
  char buf[65536];
  for (ssize_t n; (n = ::recv(conn.get(), buf, sizeof(buf), 0)) > 0;) stream.append(buf, n);
  std::vector<std::string> lines;
  while (!stream.empty()) {
    size_t sp = stream.find(' ');
    ASSERT_NE(sp, std::string::npos);
    size_t n = std::stoul(stream.substr(0, sp));
    std::string frame = stream.substr(sp + 1, n);
    stream.erase(0, sp + 1 + n);
    size_t json_at = frame.find(" - {");
    ASSERT_NE(json_at, std::string::npos) << frame;
    lines.push_back(frame.substr(json_at + 3));
  }
  std::vector<std::string> expect = Ids(0, 25);
  expect.push_back("cp");
  EXPECT_EQ(Kinds(lines), expect);
  ExpectChainVerifies(lines, d.path());
}

TEST(Pipeline, FileSinkFromConfigUsesTheLoadedValues) {
  TempDir d;
  config::v1::Sink cfg;
  cfg.set_type(config::v1::Sink::TYPE_FILE);
  cfg.set_path(d.path() + "/events.jsonl");
  cfg.set_max_size(1000);
  cfg.set_keep(1);
  google::protobuf::RepeatedPtrField<config::v1::Sink> sinks;
  *sinks.Add() = cfg;
  auto p = Pipeline::Create(sinks, Options(d.path() + "/state"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  for (int i = 0; i < 40; ++i) (*p)->Emit(Event(i));
  ASSERT_TRUE((*p)->Shutdown(std::chrono::seconds(10)).ok());
  EXPECT_TRUE(std::filesystem::exists(d.path() + "/events.jsonl.1"));
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/events.jsonl.2"));
  EXPECT_LE(std::filesystem::file_size(d.path() + "/events.jsonl"), 1000u);
  EXPECT_EQ((*p)->Stats()[0].name,
            "file-" + std::string(d.path().substr(1)).replace(3, 1, "-") + "-events.jsonl");
}

}  // namespace
}  // namespace veil::events
