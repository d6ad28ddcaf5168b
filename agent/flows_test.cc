#include "agent/flows.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace veil::agent {
namespace {

using bpf::FlowEvent;
using bpf::FlowVerdict;

FlowEvent Event(FlowEvent::Kind kind, uint64_t cookie, FlowVerdict verdict, uint64_t sent = 0,
                uint64_t received = 0) {
  FlowEvent e;
  e.kind = kind;
  e.cookie = cookie;
  e.verdict = verdict;
  e.process.pid = e.process.tgid = 1000 + static_cast<uint32_t>(cookie);
  e.process.comm = "psql";
  e.src = "127.0.0.1:" + std::to_string(40000 + cookie);
  e.original_dst = "10.0.0.5:5432";
  if (verdict == FlowVerdict::kRedirected) e.redirected_to = "127.0.0.1:15432";
  e.bytes_sent = sent;
  e.bytes_received = received;
  return e;
}

grants::Principal Alice() {
  grants::Principal p;
  p.user = "alice";
  p.exe = "/usr/bin/psql";
  return p;
}

TEST(FlowTable, OpenThenClosedWithFinalBytes) {
  grants::FakeClock clock(1'700'000'000);
  FlowTable table(clock);
  table.Apply(Event(FlowEvent::Kind::kEstablished, 1, FlowVerdict::kRedirected), Alice(),
              "orders-db");
  auto flows = table.List(false);
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].cookie, 1u);
  EXPECT_EQ(flows[0].pid, 1001u);
  EXPECT_EQ(flows[0].comm, "psql");
  EXPECT_EQ(flows[0].exe, "/usr/bin/psql");
  EXPECT_EQ(flows[0].principal, "user:alice");
  EXPECT_EQ(flows[0].src, "127.0.0.1:40001");
  EXPECT_EQ(flows[0].dst, "10.0.0.5:5432");
  EXPECT_EQ(flows[0].redirected_to, "127.0.0.1:15432");
  EXPECT_EQ(flows[0].endpoint, "orders-db");
  EXPECT_EQ(flows[0].verdict, FlowVerdict::kRedirected);
  EXPECT_TRUE(flows[0].open);
  EXPECT_EQ(flows[0].opened_at, 1'700'000'000);

  clock.Advance(7);
  // The close carries no principal of its own; the one from the open is kept.
  table.Apply(Event(FlowEvent::Kind::kClosed, 1, FlowVerdict::kRedirected, 120, 4096), {}, "");
  flows = table.List(false);
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_FALSE(flows[0].open);
  EXPECT_EQ(flows[0].closed_at, 1'700'000'007);
  EXPECT_EQ(flows[0].bytes_sent, 120u);
  EXPECT_EQ(flows[0].bytes_received, 4096u);
  EXPECT_EQ(flows[0].principal, "user:alice");
  EXPECT_EQ(flows[0].endpoint, "orders-db");
}

TEST(FlowTable, AllAddsDirectFlows) {
  grants::FakeClock clock;
  FlowTable table(clock);
  table.Apply(Event(FlowEvent::Kind::kEstablished, 1, FlowVerdict::kDirect), Alice(), "");
  table.Apply(Event(FlowEvent::Kind::kEstablished, 2, FlowVerdict::kObserved), Alice(), "audit");
  table.Apply(Event(FlowEvent::Kind::kEstablished, 3, FlowVerdict::kRedirected), Alice(), "db");
  auto configured = table.List(false);
  ASSERT_EQ(configured.size(), 2u);
  EXPECT_EQ(configured[0].cookie, 2u);
  EXPECT_EQ(configured[1].cookie, 3u);
  auto all = table.List(true);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].cookie, 1u);
  EXPECT_EQ(VerdictName(all[0].verdict), "direct");
  EXPECT_EQ(VerdictName(all[1].verdict), "observed");
  EXPECT_EQ(VerdictName(all[2].verdict), "redirected");
}

TEST(FlowTable, OpenFlowsFirstThenClosedInOpeningOrder) {
  grants::FakeClock clock;
  FlowTable table(clock);
  for (uint64_t c = 1; c <= 4; ++c)
    table.Apply(Event(FlowEvent::Kind::kEstablished, c, FlowVerdict::kRedirected), Alice(), "db");
  table.Apply(Event(FlowEvent::Kind::kClosed, 3, FlowVerdict::kRedirected), {}, "");
  table.Apply(Event(FlowEvent::Kind::kClosed, 1, FlowVerdict::kRedirected), {}, "");
  std::vector<uint64_t> order;
  for (const auto& f : table.List(false)) order.push_back(f.cookie);
  EXPECT_EQ(order, (std::vector<uint64_t>{2, 4, 1, 3}));
}

TEST(FlowTable, CloseWithoutOpenIsRecorded) {
  grants::FakeClock clock;
  FlowTable table(clock);
  table.Apply(Event(FlowEvent::Kind::kClosed, 9, FlowVerdict::kObserved, 5, 6), Alice(), "audit");
  auto flows = table.List(false);
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_FALSE(flows[0].open);
  EXPECT_EQ(flows[0].principal, "user:alice");
  EXPECT_EQ(flows[0].endpoint, "audit");
  EXPECT_EQ(flows[0].bytes_received, 6u);
}

TEST(FlowTable, ClosedFlowsAreBoundedByCountAndAge) {
  grants::FakeClock clock;
  FlowTable table(clock, {.max_closed = 3, .closed_ttl_seconds = 60, .max_live = 2});
  for (uint64_t c = 1; c <= 5; ++c) {
    table.Apply(Event(FlowEvent::Kind::kEstablished, c, FlowVerdict::kRedirected), Alice(), "db");
    table.Apply(Event(FlowEvent::Kind::kClosed, c, FlowVerdict::kRedirected), {}, "");
  }
  std::vector<uint64_t> order;
  for (const auto& f : table.List(true)) order.push_back(f.cookie);
  EXPECT_EQ(order, (std::vector<uint64_t>{3, 4, 5}));
  clock.Advance(61);
  EXPECT_TRUE(table.List(true).empty());

  // Live flows are capped too (a lost close must not keep a flow forever): oldest goes first.
  for (uint64_t c = 10; c <= 12; ++c)
    table.Apply(Event(FlowEvent::Kind::kEstablished, c, FlowVerdict::kRedirected), Alice(), "db");
  order.clear();
  for (const auto& f : table.List(true)) order.push_back(f.cookie);
  EXPECT_EQ(order, (std::vector<uint64_t>{11, 12}));
}

TEST(FlowTable, WatchGetsEachChangeFilteredLikeList) {
  grants::FakeClock clock;
  FlowTable table(clock);
  int wakes_all = 0, wakes_configured = 0;
  auto all = table.Watch(true, 16, [&] { ++wakes_all; });
  auto configured = table.Watch(false, 16, [&] { ++wakes_configured; });
  table.Apply(Event(FlowEvent::Kind::kEstablished, 1, FlowVerdict::kDirect), Alice(), "");
  table.Apply(Event(FlowEvent::Kind::kEstablished, 2, FlowVerdict::kRedirected), Alice(), "db");
  table.Apply(Event(FlowEvent::Kind::kClosed, 2, FlowVerdict::kRedirected, 10, 20), {}, "");
  // Woken once per empty → non-empty transition, not per change.
  EXPECT_EQ(wakes_all, 1);
  EXPECT_EQ(wakes_configured, 1);

  auto b = all->Take();
  ASSERT_EQ(b.changes.size(), 3u);
  EXPECT_EQ(b.lost, 0u);
  EXPECT_EQ(b.changes[0].cookie, 1u);
  EXPECT_TRUE(b.changes[1].open);
  EXPECT_FALSE(b.changes[2].open);
  EXPECT_EQ(b.changes[2].bytes_received, 20u);

  b = configured->Take();
  ASSERT_EQ(b.changes.size(), 2u);
  EXPECT_EQ(b.changes[0].cookie, 2u);
  EXPECT_TRUE(configured->Take().changes.empty());

  // Dropping a subscription ends it.
  EXPECT_EQ(table.WatcherCount(), 2u);
  configured.reset();
  EXPECT_EQ(table.WatcherCount(), 1u);
  table.Apply(Event(FlowEvent::Kind::kEstablished, 3, FlowVerdict::kRedirected), Alice(), "db");
  EXPECT_EQ(wakes_configured, 1);
  EXPECT_EQ(wakes_all, 2);
}

TEST(FlowTable, ASlowWatcherLosesTheOldestAndIsToldHowMany) {
  grants::FakeClock clock;
  FlowTable table(clock);
  auto slow = table.Watch(true, 2, nullptr);
  for (uint64_t c = 1; c <= 5; ++c)
    table.Apply(Event(FlowEvent::Kind::kEstablished, c, FlowVerdict::kRedirected), Alice(), "db");
  auto b = slow->Take();
  EXPECT_EQ(b.lost, 3u);
  ASSERT_EQ(b.changes.size(), 2u);
  EXPECT_EQ(b.changes[0].cookie, 4u);
  EXPECT_EQ(b.changes[1].cookie, 5u);
  // The count is per Take.
  table.Apply(Event(FlowEvent::Kind::kClosed, 5, FlowVerdict::kRedirected), {}, "");
  b = slow->Take();
  EXPECT_EQ(b.lost, 0u);
  EXPECT_EQ(b.changes.size(), 1u);
}

TEST(FlowTable, ConcurrentApplyListAndWatch) {
  grants::SystemClock clock;
  FlowTable table(clock, {.max_closed = 100000});
  std::atomic<uint64_t> seen{0};
  auto watch = table.Watch(true, 1 << 20, nullptr);
  std::vector<std::thread> writers;
  for (uint64_t t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (uint64_t i = 0; i < 2000; ++i) {
        uint64_t cookie = t * 1'000'000 + i;
        table.Apply(Event(FlowEvent::Kind::kEstablished, cookie, FlowVerdict::kRedirected), Alice(),
                    "db");
        table.Apply(Event(FlowEvent::Kind::kClosed, cookie, FlowVerdict::kRedirected, 1, 1), {},
                    "");
      }
    });
  }
  std::thread reader([&] {
    for (int i = 0; i < 200; ++i) seen += watch->Take().changes.size(), (void)table.List(true);
  });
  for (auto& w : writers) w.join();
  reader.join();
  seen += watch->Take().changes.size();
  EXPECT_EQ(seen.load(), 4u * 2000 * 2);
  EXPECT_EQ(table.List(true).size(), 4u * 2000);
}

}  // namespace
}  // namespace veil::agent
