#include "agent/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include <exception>

namespace veil::agent {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

constexpr std::array<const char*, kSessionOutcomeCount> kOutcomeNames = {"admitted", "refused",
                                                                         "error"};
constexpr std::array<const char*, kStatementKindCount> kKindNames = {"read", "write", "ddl",
                                                                     "other"};
constexpr std::array<std::string_view, kGuardrailCount> kGuardrailNames = {
    "read-only",    "no-ddl",  "no-unbounded-write", "deny", "no-filter-on-masked",
    "side-channel", "fastpath"};
constexpr std::array<const char*, 2> kDirectionNames = {"to_upstream", "to_client"};
constexpr std::array<const char*, 4> kVerdictNames = {"redirected", "observed", "direct", "denied"};
constexpr std::array<const char*, 2> kReloadNames = {"ok", "error"};

// Where a bad name is counted instead: a form the config refuses as an endpoint name, so it
// cannot be mistaken for a real one.
constexpr char kInvalidName[] = "_invalid";
// Names beyond this many share the _invalid series: bounds the series a caller's bug can make.
constexpr size_t kMaxNames = 512;

// SPEC §3 endpoint names: [a-z0-9-], 1-63 characters. Sinks may also use '_'.
bool ValidName(std::string_view s, bool allow_underscore) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              (allow_underscore && c == '_');
    if (!ok) return false;
  }
  return true;
}

// Durations from sub-millisecond point reads to minute-long reports.
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return kBuckets;
}

// Adds what `total` grew by since the last call, as SetDroppedTotal documents.
void AddGrowth(std::atomic<uint64_t>* last, uint64_t total, prometheus::Counter* counter) {
  uint64_t before = last->exchange(total, std::memory_order_relaxed);
  uint64_t grew = total >= before ? total - before : total;
  if (grew > 0) counter->Increment(static_cast<double>(grew));
}

}  // namespace

std::optional<Guardrail> GuardrailFromName(std::string_view name) {
  for (size_t i = 0; i < kGuardrailCount; ++i) {
    if (kGuardrailNames[i] == name) return static_cast<Guardrail>(i);
  }
  return std::nullopt;
}

// --- EndpointMetrics ---

void EndpointMetrics::SessionStarted(SessionOutcome outcome) {
  sessions_[static_cast<size_t>(outcome)]->Increment();
  if (outcome == SessionOutcome::kAdmitted) active_->Increment();
}

void EndpointMetrics::SessionEnded() { active_->Decrement(); }

void EndpointMetrics::Statement(StatementKind kind, uint64_t rows, double seconds) {
  statements_[static_cast<size_t>(kind)]->Increment();
  if (rows > 0) rows_->Increment(static_cast<double>(rows));
  duration_->Observe(seconds);
}

void EndpointMetrics::StatementBlocked(Guardrail guardrail) {
  blocked_[static_cast<size_t>(guardrail)]->Increment();
}

void EndpointMetrics::Bytes(Direction direction, uint64_t n) {
  if (n > 0) bytes_[static_cast<size_t>(direction)]->Increment(static_cast<double>(n));
}

// --- EventSinkMetrics ---

void EventSinkMetrics::Written(uint64_t n) {
  if (n > 0) written_->Increment(static_cast<double>(n));
}

void EventSinkMetrics::Dropped(uint64_t n) {
  if (n > 0) dropped_->Increment(static_cast<double>(n));
}

void EventSinkMetrics::SetDroppedTotal(uint64_t total) {
  AddGrowth(&last_dropped_total_, total, dropped_);
}

// --- Metrics ---

// What the exposer collects: the scrape callbacks first, then the registry, so refreshed
// values are in the same scrape.
class Metrics::ScrapeView : public prometheus::Collectable {
 public:
  explicit ScrapeView(Metrics* metrics) : metrics_(metrics) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    metrics_->RunScrapeCallbacks();
    return metrics_->registry_->Collect();
  }

 private:
  Metrics* metrics_;
};

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  sessions_active_ =
      &BuildGauge().Name("veil_sessions_active").Help("Proxied sessions open now.").Register(r);
  sessions_total_ = &BuildCounter()
                         .Name("veil_sessions_total")
                         .Help("Sessions by how their startup ended: admitted, refused, error.")
                         .Register(r);
  statements_total_ = &BuildCounter()
                           .Name("veil_statements_total")
                           .Help("Statements forwarded upstream, by kind.")
                           .Register(r);
  statements_blocked_ = &BuildCounter()
                             .Name("veil_statements_blocked_total")
                             .Help("Statements refused by a guardrail.")
                             .Register(r);
  rows_total_ =
      &BuildCounter().Name("veil_rows_total").Help("Result rows relayed to clients.").Register(r);
  bytes_total_ = &BuildCounter()
                      .Name("veil_bytes_total")
                      .Help("Protocol bytes relayed, by direction.")
                      .Register(r);
  statement_duration_ = &BuildHistogram()
                             .Name("veil_statement_duration_seconds")
                             .Help("Time from a statement's arrival to its completion.")
                             .Register(r);
  events_written_ = &BuildCounter()
                         .Name("veil_events_written_total")
                         .Help("Usage events written, per sink.")
                         .Register(r);
  events_dropped_ = &BuildCounter()
                         .Name("veil_events_dropped_total")
                         .Help("Usage events a sink could not take and dropped.")
                         .Register(r);

  auto& masked = BuildCounter()
                     .Name("veil_masked_values_total")
                     .Help("Values masked, per entity.")
                     .Register(r);
  for (size_t i = 0; i < masker::kBuiltinEntityCount; ++i) {
    masked_builtin_[i] = &masked.Add({{"entity", std::string(masker::kBuiltinEntityNames[i])}});
  }
  masked_custom_ = &masked.Add({{"entity", "CUSTOM"}});

  auto& flows = BuildCounter()
                    .Name("veil_flows_total")
                    .Help("Database flows seen by the eBPF layer, by verdict.")
                    .Register(r);
  for (size_t i = 0; i < flows_.size(); ++i)
    flows_[i] = &flows.Add({{"verdict", kVerdictNames[i]}});

  bpf_lost_ = &BuildCounter()
                   .Name("veil_bpf_events_lost_total")
                   .Help("Events the eBPF programs could not deliver (ring buffer full).")
                   .Register(r)
                   .Add({});
  fake_moved_ = &BuildCounter()
                     .Name("veil_fake_moved_total")
                     .Help(
                         "Values under the fake strategy whose first surrogate was another "
                         "value's, given another one so that no two values share one.")
                     .Register(r)
                     .Add({});
  fake_unchecked_ = &BuildCounter()
                         .Name("veil_fake_unchecked_total")
                         .Help(
                             "fake surrogates handed out without the uniqueness check (the "
                             "registry was full): a UNIQUE column of a masked copy may "
                             "not restore.")
                         .Register(r)
                         .Add({});
  grants_active_ = &BuildGauge()
                        .Name("veil_grants_active")
                        .Help("Grants active now (standing grants included).")
                        .Register(r)
                        .Add({});
  grants_pending_ = &BuildGauge()
                         .Name("veil_grants_pending")
                         .Help("Grant requests waiting for approval.")
                         .Register(r)
                         .Add({});
  auto& reloads = BuildCounter()
                      .Name("veil_config_reloads_total")
                      .Help("Configuration reloads (SIGHUP), by result.")
                      .Register(r);
  for (size_t i = 0; i < reloads_.size(); ++i)
    reloads_[i] = &reloads.Add({{"result", kReloadNames[i]}});
}

Result<std::unique_ptr<Metrics>> Metrics::Create(std::string_view listen,
                                                 std::string_view version) {
  std::unique_ptr<Metrics> m(new Metrics());
  BuildGauge()
      .Name("veil_build_info")
      .Help("Always 1; the labels describe the running build.")
      .Register(*m->registry_)
      .Add({{"version", std::string(version)}})
      .Set(1);
  m->view_ = std::make_shared<ScrapeView>(m.get());
  if (listen.empty()) return m;
  try {
    // civetweb: one listener thread plus one worker is plenty for a scraper or two.
    m->exposer_ = std::make_unique<prometheus::Exposer>(std::string(listen), 1);
    m->exposer_->RegisterCollectable(m->view_);
    std::vector<int> ports = m->exposer_->GetListeningPorts();
    m->port_ = ports.empty() ? 0 : ports.front();
  } catch (const std::exception& e) {
    return Error{"metrics_listen " + std::string(listen) + ": cannot serve /metrics (" + e.what() +
                 ")"};
  }
  return m;
}

Metrics::~Metrics() = default;

EndpointMetrics* Metrics::ForEndpoint(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  if (!ValidName(endpoint, /*allow_underscore=*/false) || endpoints_.size() >= kMaxNames) {
    if (!endpoints_.contains(endpoint)) endpoint = kInvalidName;
  }
  if (auto it = endpoints_.find(endpoint); it != endpoints_.end()) return it->second.get();
  std::unique_ptr<EndpointMetrics> e(new EndpointMetrics());
  const std::string name(endpoint);
  e->active_ = &sessions_active_->Add({{"endpoint", name}});
  for (size_t i = 0; i < kSessionOutcomeCount; ++i) {
    e->sessions_[i] = &sessions_total_->Add({{"endpoint", name}, {"outcome", kOutcomeNames[i]}});
  }
  for (size_t i = 0; i < kStatementKindCount; ++i) {
    e->statements_[i] = &statements_total_->Add({{"endpoint", name}, {"kind", kKindNames[i]}});
  }
  for (size_t i = 0; i < kGuardrailCount; ++i) {
    e->blocked_[i] = &statements_blocked_->Add(
        {{"endpoint", name}, {"guardrail", std::string(kGuardrailNames[i])}});
  }
  e->rows_ = &rows_total_->Add({{"endpoint", name}});
  for (size_t i = 0; i < e->bytes_.size(); ++i) {
    e->bytes_[i] = &bytes_total_->Add({{"endpoint", name}, {"direction", kDirectionNames[i]}});
  }
  e->duration_ = &statement_duration_->Add({{"endpoint", name}}, DurationBuckets());
  return endpoints_.emplace(name, std::move(e)).first->second.get();
}

EventSinkMetrics* Metrics::ForEventSink(std::string_view sink) {
  std::lock_guard lock(mu_);
  if (!ValidName(sink, /*allow_underscore=*/true) || sinks_.size() >= kMaxNames) {
    if (!sinks_.contains(sink)) sink = kInvalidName;
  }
  if (auto it = sinks_.find(sink); it != sinks_.end()) return it->second.get();
  std::unique_ptr<EventSinkMetrics> s(new EventSinkMetrics());
  const std::string name(sink);
  s->written_ = &events_written_->Add({{"sink", name}});
  s->dropped_ = &events_dropped_->Add({{"sink", name}});
  return sinks_.emplace(name, std::move(s)).first->second.get();
}

void Metrics::CountMasked(std::span<const uint64_t> per_entity) {
  uint64_t custom = 0;
  for (size_t i = 0; i < per_entity.size(); ++i) {
    if (per_entity[i] == 0) continue;
    if (i < masker::kBuiltinEntityCount) {
      masked_builtin_[i]->Increment(static_cast<double>(per_entity[i]));
    } else if (i >= masker::kFirstCustom) {
      custom += per_entity[i];
    }
  }
  if (custom > 0) masked_custom_->Increment(static_cast<double>(custom));
}

void Metrics::CountMasked(masker::Entity entity, uint64_t n) {
  size_t i = masker::Index(entity);
  if (n == 0 || i >= masker::kBuiltinEntityCount) return;
  masked_builtin_[i]->Increment(static_cast<double>(n));
}

void Metrics::Flow(bpf::FlowVerdict verdict) {
  size_t i = static_cast<size_t>(verdict);
  if (i < flows_.size()) flows_[i]->Increment();
}

void Metrics::SetBpfEventsLostTotal(uint64_t total) {
  AddGrowth(&last_bpf_lost_total_, total, bpf_lost_);
}

void Metrics::BpfEventsLost(uint64_t n) {
  if (n > 0) bpf_lost_->Increment(static_cast<double>(n));
}

void Metrics::SetGrants(uint64_t active, uint64_t pending) {
  grants_active_->Set(static_cast<double>(active));
  grants_pending_->Set(static_cast<double>(pending));
}

void Metrics::SetFakeTotals(uint64_t moved, uint64_t unchecked) {
  AddGrowth(&last_fake_moved_, moved, fake_moved_);
  AddGrowth(&last_fake_unchecked_, unchecked, fake_unchecked_);
}

void Metrics::ConfigReloaded(ReloadResult result) {
  reloads_[static_cast<size_t>(result)]->Increment();
}

void Metrics::OnScrape(std::function<void(Metrics&)> refresh) {
  std::lock_guard lock(mu_);
  scrape_callbacks_.push_back(std::move(refresh));
}

void Metrics::RunScrapeCallbacks() {
  std::vector<std::function<void(Metrics&)>> callbacks;
  {
    std::lock_guard lock(mu_);
    callbacks = scrape_callbacks_;
  }
  for (auto& f : callbacks) f(*this);
}

std::string Metrics::Serialize() {
  return prometheus::TextSerializer().Serialize(view_->Collect());
}

}  // namespace veil::agent
