#include "agent/grants/notifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "agent/events/ocsf.h"
#include "agent/grants/grant.h"
#include "agent/grants/principal.h"

namespace veil::grants {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kReason[] = "INC-4812: refund check for margaret.okonkwo@gmail.com";

Grant MakeGrant(Grant::State state) {
  Grant g;
  g.id = "g-abcdefghijkl";
  g.principal = "user:alice";
  g.endpoints = {"shop-db"};
  g.access = Grant::Access::kRead;
  g.requested_at = 1'700'000'000;
  g.reason = kReason;
  g.requester = "user:alice";
  g.state = state;
  g.ttl = 3600;
  if (state == Grant::State::kActive) {
    g.not_before = 1'700'000'100;
    g.not_after = 1'700'003'700;
    g.approvers = {"user:bob"};
  }
  return g;
}

Json Event(Grant::State state, events::GrantChange change, const char* actor = "bob") {
  Principal who;
  if (actor) who.user = actor;
  return events::GrantEvent(1'700'000'100'000, MakeGrant(state), change, actor ? &who : nullptr);
}

TEST(NoticeText, RequestNamesTheCommandsAndNeverTheReason) {
  Json e = Event(Grant::State::kPending, events::GrantChange::kRequested, "alice");
  std::string text = NoticeText(e);
  EXPECT_EQ(text,
            "veil: *user:alice* requests *read* access to *shop-db* for 1h (grant "
            "`g-abcdefghijkl`, pending).\nApprove with `veilctl grants approve g-abcdefghijkl` or "
            "deny with `veilctl grants deny g-abcdefghijkl`; the reason is shown by `veilctl "
            "grants list --state pending`.");
  for (const std::string& body : {SlackBody(e), JsonBody(e)}) {
    EXPECT_THAT(body, Not(HasSubstr("INC-4812")));
    EXPECT_THAT(body, Not(HasSubstr("margaret")));
  }
}

TEST(NoticeText, EachChange) {
  EXPECT_EQ(NoticeText(Event(Grant::State::kActive, events::GrantChange::kApproved)),
            "veil: Grant `g-abcdefghijkl` (*read* access to *shop-db* for *user:alice*) approved "
            "by user:bob; active until 2023-11-14T23:15:00Z.");
  EXPECT_EQ(NoticeText(Event(Grant::State::kRevoked, events::GrantChange::kRevoked)),
            "veil: Grant `g-abcdefghijkl` (*read* access to *shop-db* for *user:alice*) was "
            "revoked by user:bob; its sessions ended.");
  EXPECT_EQ(NoticeText(Event(Grant::State::kDenied, events::GrantChange::kDenied)),
            "veil: Request `g-abcdefghijkl` (*read* access to *shop-db* for *user:alice*) was "
            "denied by user:bob.");
  EXPECT_EQ(NoticeText(Event(Grant::State::kExpired, events::GrantChange::kExpired, nullptr)),
            "veil: Grant `g-abcdefghijkl` (*read* access to *shop-db* for *user:alice*) expired; "
            "its sessions ended.");
  EXPECT_EQ(NoticeText(Event(Grant::State::kDenied, events::GrantChange::kExpired, nullptr)),
            "veil: Request `g-abcdefghijkl` (*read* access to *shop-db* for *user:alice*) ran out "
            "before anyone approved it.");
}

TEST(Bodies, SlackIsTextAndJsonCarriesTheOcsfEvent) {
  Json e = Event(Grant::State::kActive, events::GrantChange::kApproved);
  Json slack = Json::parse(SlackBody(e));
  EXPECT_EQ(slack.size(), 1u);
  EXPECT_TRUE(slack["text"].is_string());
  Json body = Json::parse(JsonBody(e));
  EXPECT_EQ(body["source"], "veil");
  EXPECT_EQ(body["event"], "approved");
  EXPECT_EQ(body["actor"], "user:bob");
  EXPECT_EQ(body["grant"]["id"], "g-abcdefghijkl");
  EXPECT_EQ(body["grant"]["state"], "active");
  EXPECT_EQ(body["grant"]["not_after"], 1'700'003'700);
  EXPECT_EQ(body["grant"]["ttl_seconds"], 3600);
  EXPECT_EQ(body["grant"]["approvers"], Json::array({"user:bob"}));
  EXPECT_EQ(body["ocsf"]["class_uid"], 3005);
  EXPECT_EQ(body["ocsf"]["unmapped"]["grant_id"], "g-abcdefghijkl");
  EXPECT_FALSE(body["grant"].contains("reason"));
}

TEST(UrlOrigin, KeepsSchemeAndHostOnly) {
  EXPECT_EQ(UrlOrigin("https://hooks.slack.com/services/T0/B0/s3cret"), "https://hooks.slack.com");
  EXPECT_EQ(UrlOrigin("http://127.0.0.1:8080/hook?token=x"), "http://127.0.0.1:8080");
  EXPECT_EQ(UrlOrigin("http://u:p@h:1/x"), "http://h:1");
}

// A receiver the test controls: it answers with `status` and records what it got.
struct FakeReceiver {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> bodies;  // delivered (2xx) only
  std::atomic<int> attempts{0};
  std::atomic<int> status{200};

  Poster poster() {
    return [this](const std::string& url, const std::string& body, std::chrono::milliseconds,
                  const std::string&) {
      EXPECT_EQ(url, "http://127.0.0.1:9/hook");
      ++attempts;
      int s = status.load();
      if (s == 0) return Delivery{false, true, "Couldn't connect to server"};
      if (s >= 200 && s < 300) {
        std::lock_guard l(mu);
        bodies.push_back(body);
        cv.notify_all();
        return Delivery{true, false, "HTTP 200"};
      }
      return Delivery{false, s >= 500 || s == 429, "HTTP " + std::to_string(s)};
    };
  }
  bool WaitFor(size_t n, std::chrono::milliseconds within = 5s) {
    std::unique_lock l(mu);
    return cv.wait_for(l, within, [&] { return bodies.size() >= n; });
  }
};

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("veil-notifier-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  google::protobuf::RepeatedPtrField<config::v1::Notify> Targets(
      config::v1::Notify::Type type, std::vector<config::v1::Notify::Event> events = {}) {
    google::protobuf::RepeatedPtrField<config::v1::Notify> out;
    auto* n = out.Add();
    n->set_type(type);
    n->set_url("http://127.0.0.1:9/hook");
    n->mutable_timeout()->set_seconds(1);
    if (events.empty())
      for (int e = 1; e <= 6; ++e) n->add_events(static_cast<config::v1::Notify::Event>(e));
    for (auto e : events) n->add_events(e);
    return out;
  }

  NotifierOptions Options(FakeReceiver& r) {
    NotifierOptions o;
    o.spool_dir = dir_.string();
    o.retry_initial = 20ms;
    o.retry_max = 100ms;
    o.post = r.poster();
    return o;
  }

  std::filesystem::path dir_;
};

TEST_F(NotifierTest, DeliversOnlyTheChangesATargetWants) {
  FakeReceiver r;
  auto n = GrantNotifier::Create(
      Targets(config::v1::Notify::TYPE_SLACK,
              {config::v1::Notify::EVENT_REQUESTED, config::v1::Notify::EVENT_REVOKED}),
      Options(r));
  ASSERT_TRUE(n.ok()) << n.error().message;
  (*n)->Notify(Event(Grant::State::kPending, events::GrantChange::kRequested, "alice"));
  (*n)->Notify(Event(Grant::State::kActive, events::GrantChange::kApproved));
  (*n)->Notify(Event(Grant::State::kRevoked, events::GrantChange::kRevoked));
  (*n)->Notify(Json{{"class_uid", 6005}});  // not a grant event
  ASSERT_TRUE(r.WaitFor(2));
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(r.bodies.size(), 2u);
  EXPECT_THAT(r.bodies[0], HasSubstr("requests *read* access"));
  EXPECT_THAT(r.bodies[1], HasSubstr("was revoked by user:bob"));
  EXPECT_EQ((*n)->Stats().at(0).delivered, 2u);
}

TEST_F(NotifierTest, RetriesInOrderWhileTheReceiverIsDownAndSpools) {
  FakeReceiver r;
  r.status = 0;  // down
  auto n = GrantNotifier::Create(Targets(config::v1::Notify::TYPE_JSON), Options(r));
  ASSERT_TRUE(n.ok());
  (*n)->Notify(Event(Grant::State::kPending, events::GrantChange::kRequested, "alice"));
  (*n)->Notify(Event(Grant::State::kActive, events::GrantChange::kApproved));
  // The backlog reaches the disk while the receiver is down.
  bool spooled = false;
  for (int i = 0; i < 200 && !spooled; ++i) {
    std::this_thread::sleep_for(10ms);
    for (const auto& f : std::filesystem::directory_iterator(dir_)) {
      std::ifstream in(f.path());
      std::string all((std::istreambuf_iterator<char>(in)), {});
      spooled = f.path().filename().string().starts_with("notify-json-") &&
                std::count(all.begin(), all.end(), '\n') == 2;
    }
  }
  EXPECT_TRUE(spooled);
  for (int i = 0; i < 200 && r.attempts.load() < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(r.attempts.load(), 3);  // retried, the same notice each time
  EXPECT_FALSE((*n)->Stats().at(0).healthy);
  r.status = 503;  // up but failing: still retried
  std::this_thread::sleep_for(150ms);
  r.status = 204;
  ASSERT_TRUE(r.WaitFor(2));
  EXPECT_EQ(Json::parse(r.bodies[0])["event"], "requested");
  EXPECT_EQ(Json::parse(r.bodies[1])["event"], "approved");
  // Delivered: the spool is gone.
  for (int i = 0; i < 100 && !std::filesystem::is_empty(dir_); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
  EXPECT_TRUE((*n)->Stats().at(0).healthy);
}

TEST_F(NotifierTest, ASpoolSurvivesARestart) {
  {
    FakeReceiver down;
    down.status = 0;
    auto n = GrantNotifier::Create(Targets(config::v1::Notify::TYPE_JSON), Options(down));
    ASSERT_TRUE(n.ok());
    (*n)->Notify(Event(Grant::State::kRevoked, events::GrantChange::kRevoked));
    for (int i = 0; i < 100 && down.attempts.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  }  // veild stops with the notice undelivered
  FakeReceiver up;
  auto n = GrantNotifier::Create(Targets(config::v1::Notify::TYPE_JSON), Options(up));
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(up.WaitFor(1));
  EXPECT_EQ(Json::parse(up.bodies[0])["event"], "revoked");
}

TEST_F(NotifierTest, APermanentRefusalIsDroppedNotRetriedForever) {
  FakeReceiver r;
  r.status = 404;
  auto n = GrantNotifier::Create(Targets(config::v1::Notify::TYPE_SLACK), Options(r));
  ASSERT_TRUE(n.ok());
  (*n)->Notify(Event(Grant::State::kRevoked, events::GrantChange::kRevoked));
  for (int i = 0; i < 100 && (*n)->Stats().at(0).refused == 0; ++i)
    std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(r.attempts.load(), 1);
  EXPECT_EQ((*n)->Stats().at(0).refused, 1u);
  EXPECT_EQ((*n)->Stats().at(0).backlog, 0u);
}

TEST_F(NotifierTest, AFullBacklogDropsTheOldest) {
  FakeReceiver r;
  r.status = 0;
  NotifierOptions o = Options(r);
  o.queue_capacity = 2;
  o.retry_initial = 10s;  // no retry during the test
  auto n = GrantNotifier::Create(Targets(config::v1::Notify::TYPE_JSON), o);
  ASSERT_TRUE(n.ok());
  (*n)->Notify(Event(Grant::State::kPending, events::GrantChange::kRequested, "alice"));
  for (int i = 0; i < 100 && r.attempts.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  (*n)->Notify(Event(Grant::State::kActive, events::GrantChange::kApproved));
  (*n)->Notify(Event(Grant::State::kRevoked, events::GrantChange::kRevoked));
  auto st = (*n)->Stats().at(0);
  EXPECT_EQ(st.dropped, 1u);
  EXPECT_EQ(st.backlog, 2u);
}

TEST_F(NotifierTest, NotifyNeverWaitsForASlowReceiver) {
  std::atomic<bool> release{false};
  NotifierOptions o;
  o.spool_dir = dir_.string();
  o.post = [&](const std::string&, const std::string&, std::chrono::milliseconds,
               const std::string&) {
    while (!release) std::this_thread::sleep_for(1ms);
    return Delivery{true, false, "HTTP 200"};
  };
  auto n = GrantNotifier::Create(Targets(config::v1::Notify::TYPE_JSON), o);
  ASSERT_TRUE(n.ok());
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i)
    (*n)->Notify(Event(Grant::State::kRevoked, events::GrantChange::kRevoked));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  release = true;
}

TEST_F(NotifierTest, UrlFileHoldsTheSecret) {
  std::filesystem::create_directories(dir_);
  const auto file = dir_ / "hook.url";
  std::ofstream(file) << "http://127.0.0.1:9/hook\n";
  google::protobuf::RepeatedPtrField<config::v1::Notify> targets;
  auto* t = targets.Add();
  t->set_type(config::v1::Notify::TYPE_JSON);
  t->set_url_file(file.string());
  t->add_events(config::v1::Notify::EVENT_REVOKED);
  FakeReceiver r;
  auto n = GrantNotifier::Create(targets, Options(r));
  ASSERT_TRUE(n.ok()) << n.error().message;
  (*n)->Notify(Event(Grant::State::kRevoked, events::GrantChange::kRevoked));
  EXPECT_TRUE(r.WaitFor(1));

  t->set_url_file((dir_ / "missing").string());
  auto bad = GrantNotifier::Create(targets, Options(r));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("cannot read url_file"));
}

}  // namespace
}  // namespace veil::grants
