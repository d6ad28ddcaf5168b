// The flow table behind `veilctl flows` (SPEC §7): every database TCP flow the eBPF layer reports,
// with the principal behind it, while it is open and for a while after it closes.
//
//   FlowTable table(clock);
//   // on each bpf::FlowEvent, with the principal (PrincipalResolver) and the endpoint it hit:
//   table.Apply(event, resolver.Resolve(event.process), "orders-db");
//   for (const FlowRecord& f : table.List(/*all=*/false)) ...   // redirected + observed only
//
//   auto watch = table.Watch(/*all=*/true, 1024, [&] { /* post a wake-up to the reader */ });
//   FlowSubscription::Batch b = watch->Take();   // changes since the last Take, and how many
//                                                // were dropped because the reader was slow
//
// Live flows are keyed by socket cookie. Closed flows are kept for `closed_ttl_seconds` and at
// most `max_closed` of them; live flows are capped at `max_live` (a close the ring buffer lost
// would otherwise keep one forever): past it the oldest live flow is dropped.
//
// Thread-safety: all methods may be called from any thread. Apply() comes from the eBPF event
// thread, List() and Watch() from control-API connections. A subscription's wake callback runs
// on the thread calling Apply(), with no lock held; it must not block (post to an executor).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/bpf/flow_event.h"
#include "agent/grants/clock.h"
#include "agent/grants/principal.h"

namespace veil::agent {

struct FlowRecord {
  uint64_t cookie = 0;
  uint32_t pid = 0;  // the process (tgid) that called connect()
  std::string comm;
  std::string exe;        // empty if it could not be read safely (see PrincipalResolver)
  std::string principal;  // grants::Principal::Display()
  std::string src;
  std::string dst;            // what the client dialled
  std::string redirected_to;  // veild's listen address when redirected
  std::string endpoint;       // the configured endpoint; empty for a direct flow
  bpf::FlowVerdict verdict = bpf::FlowVerdict::kDirect;
  uint64_t bytes_sent = 0;      // client → server; final once closed
  uint64_t bytes_received = 0;  // server → client
  int64_t opened_at = 0;        // unix seconds, when veild learned of the flow
  int64_t closed_at = 0;        // unix seconds; 0 while open
  bool open = true;
};

// "redirected", "observed", "direct", "denied".
std::string_view VerdictName(bpf::FlowVerdict verdict);

// One reader's queue of flow changes (a copy of the flow after each change). Bounded: when full
// the oldest change is dropped and counted. Dropping the subscription ends it.
class FlowSubscription {
 public:
  struct Batch {
    std::vector<FlowRecord> changes;  // oldest first
    uint64_t lost = 0;                // changes dropped since the previous Take()
  };
  Batch Take();

 private:
  friend class FlowTable;
  FlowSubscription(bool all, size_t capacity, std::function<void()> wake)
      : all_(all), capacity_(capacity == 0 ? 1 : capacity), wake_(std::move(wake)) {}
  // Queues a change; true if the queue was empty before (the reader needs a wake-up).
  bool Push(const FlowRecord& r);

  const bool all_;
  const size_t capacity_;
  const std::function<void()> wake_;
  std::mutex mu_;
  std::deque<FlowRecord> queue_;
  uint64_t lost_ = 0;
};

class FlowTable {
 public:
  struct Options {
    size_t max_closed = 1024;
    int64_t closed_ttl_seconds = 300;
    size_t max_live = 65536;
  };

  // `clock` must outlive the table.
  explicit FlowTable(const grants::Clock& clock) : FlowTable(clock, Options{}) {}
  FlowTable(const grants::Clock& clock, Options options) : clock_(clock), options_(options) {}

  // Records an event. On kEstablished the flow is opened with `principal` and `endpoint`; on
  // kClosed its final byte counts are set and it moves to the closed list (a close whose open was
  // never seen is recorded as opened and closed now, with `principal` and `endpoint`).
  void Apply(const bpf::FlowEvent& event, const grants::Principal& principal, std::string endpoint);

  // Open flows, then recently closed ones, each in the order they were opened. Without `all`
  // only flows to configured endpoints (redirected, observed).
  std::vector<FlowRecord> List(bool all) const;

  // Subscribes to changes (opened, closed) from now on; without `all` only flows to configured
  // endpoints. `wake` is called when a change lands in an empty queue. The table keeps only a
  // weak reference: the subscription ends when the caller drops it.
  std::shared_ptr<FlowSubscription> Watch(bool all, size_t capacity, std::function<void()> wake);

  // Subscriptions still held by someone.
  size_t WatcherCount() const;

 private:
  struct Entry {
    uint64_t seq;  // order of opening
    FlowRecord record;
  };
  void PruneLocked(int64_t now);
  // Queues `r` for every live subscriber that wants it; returns the wakes to call unlocked.
  std::vector<std::function<void()>> PublishLocked(const FlowRecord& r);

  const grants::Clock& clock_;
  const Options options_;
  mutable std::mutex mu_;
  uint64_t next_seq_ = 0;
  std::unordered_map<uint64_t, Entry> live_;  // by cookie
  std::deque<Entry> closed_;                  // in closing order
  std::vector<std::weak_ptr<FlowSubscription>> subscribers_;
};

}  // namespace veil::agent
