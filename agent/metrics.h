// veild's Prometheus metrics (SPEC §9): one Metrics object owns the registry, every metric
// family, and the HTTP exposer that serves them in the text format at /metrics on
// `agent.metrics_listen`.
//
// Label values come only from closed sets — enums below, endpoint names from the config, sink
// names chosen by the events code, built-in entity names — and the API has no parameter that
// could carry a principal, a database user, a grant id or statement text, so none of those can
// ever become a label (they would also make the number of series unbounded).
//
// The data path calls the hooks per session and per statement. They must be cheap: a Prometheus
// `Family::Add` takes the family's lock and hashes the label set, so every series is created
// once and its Counter/Gauge pointer cached. A session takes its endpoint's handle once at
// start (`ForEndpoint`) and keeps the pointer; after that a hook is one atomic add (counters,
// gauges) or one uncontended-per-endpoint mutex (the duration histogram, prometheus-cpp's own).
//
//   auto metrics = Metrics::Create(cfg.agent().metrics_listen(), VEIL_VERSION);
//   if (!metrics.ok()) fail fast: metrics.error().message;
//   EndpointMetrics* m = (*metrics)->ForEndpoint("orders-db");  // at session start
//   m->SessionStarted(SessionOutcome::kAdmitted);
//   m->Statement(StatementKind::kRead, rows, seconds);
//   m->SessionEnded();
//   (*metrics)->CountMasked(stats.per_entity);
//   (*metrics)->OnScrape([&store](Metrics& m) { m.SetGrants(store.Active(), store.Pending()); });
//
// Thread-safety: every method may be called from any thread. Pointers returned by
// ForEndpoint / ForEventSink stay valid for the Metrics object's life. Scrape callbacks run on
// the exposer's HTTP thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/bpf/flow_event.h"
#include "common/result.h"
#include "masker/entity.h"

namespace prometheus {
class Exposer;
}

namespace veil::agent {

// veil_sessions_total{outcome}.
enum class SessionOutcome : uint8_t { kAdmitted, kRefused, kError };
inline constexpr size_t kSessionOutcomeCount = 3;

// veil_statements_total{kind}; transaction control and SET count as kOther.
enum class StatementKind : uint8_t { kRead, kWrite, kDdl, kOther };
inline constexpr size_t kStatementKindCount = 4;

// veil_statements_blocked_total{guardrail}: the guardrail names of SPEC §3 (`deny` for any
// deny pattern; which pattern is not a label).
enum class Guardrail : uint8_t {
  kReadOnly,
  kNoDdl,
  kNoUnboundedWrite,
  kDeny,
  kNoFilterOnMasked,
  kSideChannel,  // a sensitive column's value passed to a function with side effects
};
inline constexpr size_t kGuardrailCount = 7;
// "read-only" → kReadOnly, ...; nullopt for anything else (sql::Violation::guardrail maps).
std::optional<Guardrail> GuardrailFromName(std::string_view name);

// veil_bytes_total{direction}: "to_upstream" (client → database) and "to_client".
enum class Direction : uint8_t { kToUpstream, kToClient };

// veil_config_reloads_total{result}: "ok" or "error" (the running configuration was kept).
enum class ReloadResult : uint8_t { kOk, kError };

// One endpoint's series, created together by Metrics::ForEndpoint. All hooks are lock-free
// except Statement(), which observes the duration histogram under its own mutex.
class EndpointMetrics {
 public:
  // A session ended its startup: admitted (and now active), refused (no grant, bad startup),
  // or failed on veil's side. Only kAdmitted raises veil_sessions_active.
  void SessionStarted(SessionOutcome outcome);
  // An admitted session ended; lowers veil_sessions_active.
  void SessionEnded();
  // A statement veil forwarded and whose result it relayed: `rows` result rows, `seconds`
  // from the statement's arrival to its completion.
  void Statement(StatementKind kind, uint64_t rows, double seconds);
  void StatementBlocked(Guardrail guardrail);
  void Bytes(Direction direction, uint64_t n);

 private:
  friend class Metrics;
  EndpointMetrics() = default;

  prometheus::Gauge* active_ = nullptr;
  std::array<prometheus::Counter*, kSessionOutcomeCount> sessions_{};
  std::array<prometheus::Counter*, kStatementKindCount> statements_{};
  std::array<prometheus::Counter*, kGuardrailCount> blocked_{};
  prometheus::Counter* rows_ = nullptr;
  std::array<prometheus::Counter*, 2> bytes_{};
  prometheus::Histogram* duration_ = nullptr;
};

// One event sink's series (veil_events_written_total / veil_events_dropped_total{sink}).
class EventSinkMetrics {
 public:
  void Written(uint64_t n = 1);
  void Dropped(uint64_t n = 1);
  // For a sink that keeps its own monotonic drop count: adds what grew since the last call.
  // A total lower than the last one (the owner started counting again) is all new.
  void SetDroppedTotal(uint64_t total);

 private:
  friend class Metrics;
  EventSinkMetrics() = default;

  prometheus::Counter* written_ = nullptr;
  prometheus::Counter* dropped_ = nullptr;
  std::atomic<uint64_t> last_dropped_total_{0};
};

class Metrics {
 public:
  // Builds every metric family and, unless `listen` is empty, serves them over HTTP at
  // http://listen/metrics. `listen` is host:port as the config loader validated it
  // ("127.0.0.1:9464", "[::1]:9464"); port 0 lets the kernel choose (see port()). `version`
  // becomes veil_build_info{version}. Fails with a message (nothing bound) if the address
  // cannot be bound. Startup code: may allocate, never throws.
  static Result<std::unique_ptr<Metrics>> Create(std::string_view listen, std::string_view version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The TCP port the exposer listens on; 0 when metrics are disabled.
  int port() const { return port_; }

  // The handle of an endpoint's series, created on first use. `endpoint` must be an endpoint
  // name as SPEC §3 allows ([a-z0-9-], 1-63 characters); anything else returns a shared
  // handle whose series carry endpoint="_invalid", so a caller's mistake can neither leak a
  // value into a label nor grow the series without bound (the 513th name and later go there
  // too). Takes a lock: call it once per
  // session (or per endpoint at startup and reload), not per statement.
  EndpointMetrics* ForEndpoint(std::string_view endpoint);
  // Same for an event sink name ([a-z0-9_-], 1-63 characters, e.g. "file", "syslog").
  EventSinkMetrics* ForEventSink(std::string_view sink);

  // veil_masked_values_total{entity}: adds per_entity[id] for every entity id (a MaskStats'
  // per_entity array). Built-in entities count under their names; custom entities of a
  // profile (ids from masker::kFirstCustom) count under entity="CUSTOM", since their ids are
  // per profile. Lock-free.
  void CountMasked(std::span<const uint64_t> per_entity);
  void CountMasked(masker::Entity entity, uint64_t n);

  // veil_flows_total{verdict}: verdict="redirected" | "observed" | "direct" | "denied".
  void Flow(bpf::FlowVerdict verdict);
  // veil_bpf_events_lost_total, from the bpf runtime's own monotonic drop count (as
  // EventSinkMetrics::SetDroppedTotal), or by increment.
  void SetBpfEventsLostTotal(uint64_t total);
  void BpfEventsLost(uint64_t n);
  // veil_grants_active and veil_grants_pending.
  void SetGrants(uint64_t active, uint64_t pending);
  // veil_fake_moved_total and veil_fake_unchecked_total, from the process-wide totals of the
  // `fake` strategy's surrogate registries (masker/fake_registry.h).
  void SetFakeTotals(uint64_t moved, uint64_t unchecked);
  void ConfigReloaded(ReloadResult result);

  // Runs `refresh` at the start of every scrape, before the registry is collected, so values
  // another component owns (grant counts in the store, drop counters in the kernel) are read
  // when asked for rather than polled. Runs on the exposer's thread; must be thread-safe and
  // quick. Callbacks cannot be removed: register only what lives as long as this object.
  void OnScrape(std::function<void(Metrics&)> refresh);

  // The text format of everything, exactly as /metrics serves it (runs the scrape callbacks).
  std::string Serialize();

 private:
  class ScrapeView;
  Metrics();

  void RunScrapeCallbacks();

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* sessions_active_;
  prometheus::Family<prometheus::Counter>* sessions_total_;
  prometheus::Family<prometheus::Counter>* statements_total_;
  prometheus::Family<prometheus::Counter>* statements_blocked_;
  prometheus::Family<prometheus::Counter>* rows_total_;
  prometheus::Family<prometheus::Counter>* bytes_total_;
  prometheus::Family<prometheus::Histogram>* statement_duration_;
  prometheus::Family<prometheus::Counter>* events_written_;
  prometheus::Family<prometheus::Counter>* events_dropped_;

  std::array<prometheus::Counter*, masker::kBuiltinEntityCount> masked_builtin_{};
  prometheus::Counter* masked_custom_ = nullptr;
  std::array<prometheus::Counter*, 4> flows_{};
  prometheus::Counter* bpf_lost_ = nullptr;
  std::atomic<uint64_t> last_bpf_lost_total_{0};
  prometheus::Counter* fake_moved_ = nullptr;
  prometheus::Counter* fake_unchecked_ = nullptr;
  std::atomic<uint64_t> last_fake_moved_{0}, last_fake_unchecked_{0};
  prometheus::Gauge* grants_active_ = nullptr;
  prometheus::Gauge* grants_pending_ = nullptr;
  std::array<prometheus::Counter*, 2> reloads_{};

  std::mutex mu_;  // guards the maps below and scrape_callbacks_
  std::map<std::string, std::unique_ptr<EndpointMetrics>, std::less<>> endpoints_;
  std::map<std::string, std::unique_ptr<EventSinkMetrics>, std::less<>> sinks_;
  std::vector<std::function<void(Metrics&)>> scrape_callbacks_;

  // Declared last: destroyed first, so no scrape runs while the rest is torn down.
  std::shared_ptr<ScrapeView> view_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace veil::agent
