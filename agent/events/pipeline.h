// The event pipeline: from Emit() on the data path to every configured sink, chained, spooled
// when a sink is down, never blocking the caller and never losing an event silently.
//
//   veil::events::PipelineOptions opts;
//   opts.state_dir = cfg.config.agent().state_dir();
//   auto pipeline = veil::events::Pipeline::Create(cfg.config.events().sinks(), opts);
//   if (!pipeline.ok()) { /* startup fails with the message */ }
//   (*pipeline)->Emit(std::move(ocsf_event));         // any thread, any time
//   for (const auto& s : (*pipeline)->Stats()) ...     // veil_events_dropped_total{sink=...}
//   (*pipeline)->Shutdown(std::chrono::seconds(5));    // drain, final checkpoint, fsync
//
// How it works, per sink: Emit() copies a shared pointer to the event into a bounded queue (a
// mutex held for a push; the queue full means the event is dropped and counted) and wakes that
// sink's writer thread if it sleeps on an empty queue (while events flow the writer takes them
// every write_delay, so the data path does not pay a wake-up per statement). The writer stamps the
// chain (chain.h), writes to the sink and, once per drained batch, flushes (file: fdatasync) and
// persists the chain head.
//
// Chain: one chain per sink, assigned by the writer at write time, so each file (and each
// syslog/stdout stream) verifies on its own. On start a writer resumes from, in order: the last
// record in its spool; the last record of the sink's newest file (file sinks; a torn last line
// is cut off and reported by a gap event); state_dir/chain/<sink>.json (written after every
// batch, the only source for syslog/stdout); else a new chain (prev = 64 zeros).
//
// A sink that fails (receiver down, disk error): the writer appends the chained records to
// state_dir/spool/<sink>.jsonl (bounded by spool_max_bytes, fdatasync per batch) and retries the
// sink with exponential backoff. When a retry works it sends the spool first, in order, then the
// live events. The spool survives restarts; after a crash in the middle of sending a spool a
// file sink skips what its file already holds, other sinks may see those records twice.
//
// Loss: events dropped because a queue or spool was full are counted (Stats().dropped, for
// `veil_events_dropped_total`) and, as soon as the sink takes records again, a gap record
// (OCSF 1008 Event Log Activity, unmapped.gap = {lost, first_time, last_time, reason}) is
// written into the chain before newer events.
//
// Checkpoints: every checkpoint_every records or checkpoint_interval (whichever comes first, and
// at shutdown) the writer appends a signed checkpoint record (checkpoint.h) to its chain, key in
// state_dir/keys/audit.key.
//
// Thread-safety: Emit() and Stats() may be called from any thread, concurrently. Shutdown() once,
// from one thread; the destructor calls it if needed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/events/checkpoint.h"
#include "agent/events/record.h"
#include "agent/events/sinks.h"
#include "common/result.h"
#include "config/veil_config.pb.h"

namespace veil::events {

struct PipelineOptions {
  // Holds spool/, chain/ and keys/ (created as needed).
  std::string state_dir = "/var/lib/veil";
  // Events waiting in memory per sink before Emit() starts dropping.
  size_t queue_capacity = 8192;
  // The most bytes the on-disk spool of one sink may hold.
  uint64_t spool_max_bytes = 64ull << 20;
  // A checkpoint after this many records, or this long after the last one if records came.
  uint64_t checkpoint_every = 1000;
  std::chrono::milliseconds checkpoint_interval{std::chrono::seconds(60)};
  // Group commit: a writer flushes its sink (fdatasync for files) and persists its chain head at
  // most this often while records keep coming, and always at a checkpoint and at shutdown. A
  // crash of veild loses nothing written (the records are in the page cache); a power loss may
  // lose up to this much.
  std::chrono::milliseconds flush_interval{100};
  // While events keep coming, a writer waits this long after a batch before it takes the next
  // one (unless half the queue is full), so a busy proxy wakes it about a hundred times a
  // second, not once per statement, and each batch is one write(2). Events reach the sink this
  // much later at most. 2 ms cost the writer 8.5 us a statement at 10,000 statements/s (a
  // futex wake-up per batch, a write per 20 events); 10 ms, 5.9 us (tools/bench/proxy_stages.sh).
  std::chrono::milliseconds write_delay{10};
  // Backoff for retrying a failed sink: doubles from initial up to max.
  std::chrono::milliseconds retry_initial{200};
  std::chrono::milliseconds retry_max{std::chrono::seconds(30)};
  // Milliseconds since the epoch for checkpoint, gap and drop times; system clock by default.
  std::function<int64_t()> now_ms;
};

// What one sink has done since start. `dropped` is veil_events_dropped_total{sink=name}.
struct SinkStats {
  std::string name;
  uint64_t written = 0;      // records the sink accepted (events, gaps, checkpoints)
  uint64_t spooled = 0;      // records put in the spool (sent later)
  uint64_t dropped = 0;      // events lost: queue full or spool full
  uint64_t checkpoints = 0;  // checkpoint records chained
  uint64_t seq = 0;          // chain head
  bool healthy = true;       // false while the sink is failing and the spool is in use
};

class Pipeline {
 public:
  // One writer per configured sink (loaded config values: path, max_size, keep, address).
  // Fails when a sink cannot be built, a state folder cannot be created, or the audit key
  // cannot be loaded or created. A sink whose last record cannot be read is logged and resumed
  // from state_dir/chain/<sink>.json (the verifier reports the damaged record).
  static Result<std::unique_ptr<Pipeline>> Create(
      const google::protobuf::RepeatedPtrField<config::v1::Sink>& sinks, PipelineOptions options);
  // The same with sinks built by the caller (tests, or sinks that are not in the config).
  static Result<std::unique_ptr<Pipeline>> Create(std::vector<std::unique_ptr<Sink>> sinks,
                                                  PipelineOptions options);

  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Hands an OCSF event to every sink. Never waits on a sink: at worst the event is dropped
  // and counted. After Shutdown() events are dropped and counted.
  void Emit(nlohmann::json event);
  // The same for an event already rendered (record.h): what the statement fast path hands over,
  // so the writer only hashes and writes it.
  void Emit(Record record);

  std::vector<SinkStats> Stats() const;
  // Sum of SinkStats::dropped.
  uint64_t DroppedTotal() const;

  // Stops taking events, lets every writer drain its queue into its sink (or its spool, once
  // `deadline` has passed or while the sink is down), writes a final checkpoint, flushes and
  // joins. Returns an error naming the sinks that were left with records in their spool (they
  // are sent on the next start). Idempotent.
  Status Shutdown(std::chrono::milliseconds deadline);

  class Writer;  // one per sink; defined in pipeline.cc

 private:
  explicit Pipeline(std::vector<std::unique_ptr<Writer>> writers);
  std::vector<std::unique_ptr<Writer>> writers_;
  std::atomic<bool> stopped_{false};
};

// The OCSF-shaped record that reports `lost` events between two times (ms since the epoch).
nlohmann::json MakeGapRecord(uint64_t lost, int64_t first_ms, int64_t last_ms,
                             const std::string& sink, const std::string& reason, int64_t now_ms);

}  // namespace veil::events
