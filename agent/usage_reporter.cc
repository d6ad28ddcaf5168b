#include "agent/usage_reporter.h"

#include <openssl/rand.h>

#include <chrono>

#include "agent/events/normalize.h"
#include "agent/events/ocsf.h"
#include "agent/server.h"
#include "masker/entity.h"

namespace veil::agent {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

events::NetAddress Address(const std::string& host_port) {
  if (host_port.empty() || host_port == "unix") return {host_port, 0};
  auto hp = SplitHostPort(host_port);
  if (!hp.ok()) return {host_port, 0};
  return {hp->first, hp->second};
}

StatementKind KindFromName(std::string_view name) {
  if (name == "read") return StatementKind::kRead;
  if (name == "write") return StatementKind::kWrite;
  if (name == "ddl") return StatementKind::kDdl;
  return StatementKind::kOther;
}

}  // namespace

events::MaskedCounts MaskedCountsOf(const StatementRecord& r) {
  events::MaskedCounts m;
  for (size_t i = 0; i < r.masked.per_entity.size(); ++i) {
    if (r.masked.per_entity[i] == 0) continue;
    std::string name = i < masker::kBuiltinEntityCount ? std::string(masker::kBuiltinEntityNames[i])
                                                       : std::string("CUSTOM");
    m.by_entity[name] += static_cast<int64_t>(r.masked.per_entity[i]);
  }
  for (const auto& [column, n] : r.masked_by_column)
    m.by_column[column.empty() ? "?" : column] += static_cast<int64_t>(n);
  return m;
}

UsageReporter::UsageReporter(events::Pipeline* pipeline, Metrics* metrics)
    : pipeline_(pipeline), metrics_(metrics) {
  unsigned char b[4] = {};
  RAND_bytes(b, sizeof(b));
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : b) {
    boot_id_.push_back(kHex[c >> 4]);
    boot_id_.push_back(kHex[c & 15]);
  }
}

std::string UsageReporter::CorrelationId(uint64_t session_id) const {
  return boot_id_ + "-" + std::to_string(session_id);
}

events::SessionInfo UsageReporter::Info(const SessionContext& s) const {
  events::SessionInfo i;
  i.session_id = CorrelationId(s.id);
  i.principal = s.principal;
  i.pid = s.pid.value_or(0);
  i.client = Address(s.src);
  i.server = Address(s.upstream);
  i.endpoint = s.endpoint;
  i.database = s.database;
  i.database_type = s.database_type;
  i.database_user = s.database_user;
  i.grant_id = s.grant_id;
  i.application_name = s.application_name;
  return i;
}

void UsageReporter::SessionOpened(const SessionContext& s) {
  if (metrics_) metrics_->ForEndpoint(s.endpoint)->SessionStarted(SessionOutcome::kAdmitted);
  if (pipeline_)
    pipeline_->Emit(events::SessionEvent(NowMs(), Info(s), events::SessionPhase::kOpen));
}

void UsageReporter::SessionRefused(const SessionContext& s, std::string_view sqlstate,
                                   std::string_view reason) {
  const bool refused = sqlstate.starts_with("28");
  if (metrics_)
    metrics_->ForEndpoint(s.endpoint)
        ->SessionStarted(refused ? SessionOutcome::kRefused : SessionOutcome::kError);
  if (!pipeline_) return;
  events::SessionTotals t;
  t.sqlstate = std::string(sqlstate);
  t.close_reason = std::string(reason);
  pipeline_->Emit(events::SessionEvent(NowMs(), Info(s), events::SessionPhase::kRefused, t));
}

void UsageReporter::ConnectDenied(const SessionContext& s, std::string_view reason) {
  if (!pipeline_) return;
  events::SessionTotals t;
  t.sqlstate = "EPERM";
  t.close_reason = std::string(reason);
  pipeline_->Emit(events::SessionEvent(NowMs(), Info(s), events::SessionPhase::kRefused, t));
}

void UsageReporter::SessionClosed(const SessionContext& s, const SessionTotals& totals,
                                  std::string_view reason) {
  if (metrics_) metrics_->ForEndpoint(s.endpoint)->SessionEnded();
  if (!pipeline_) return;
  events::SessionTotals t;
  t.statements = static_cast<int64_t>(totals.statements);
  t.rows = static_cast<int64_t>(totals.rows);
  t.bytes = static_cast<int64_t>(totals.bytes);
  t.close_reason = std::string(reason);
  pipeline_->Emit(events::SessionEvent(NowMs(), Info(s), events::SessionPhase::kClose, t));
}

void UsageReporter::Statement(const SessionContext& s, const StatementRecord& r) {
  // Normalized text, uid and kind, once per distinct text (the event builder finds them again).
  events::StatementInfo st;
  st.sql = r.text;
  st.dialect = s.database_type == "MySQL" ? sql::Dialect::kMySql : sql::Dialect::kPostgres;
  // The builder takes this digest as it is: it must come from st's own lex options.
  const events::StatementDigest& digest = events::DigestStatement(r.text, st.lex_options());
  const std::string_view kind_name = digest.kind;
  const StatementKind kind = KindFromName(kind_name);
  const double seconds = std::chrono::duration<double>(r.duration).count();
  if (metrics_) {
    EndpointMetrics* m = metrics_->ForEndpoint(s.endpoint);
    if (!r.guardrail.empty()) {
      if (auto g = GuardrailFromName(r.guardrail)) m->StatementBlocked(*g);
    } else {
      m->Statement(kind, r.rows, seconds);
    }
    m->Bytes(Direction::kToClient, r.bytes);
    metrics_->CountMasked(r.masked.per_entity);
  }
  if (!pipeline_) return;
  st.kind = std::string(kind_name);
  st.command_tag = r.command_tag;
  st.rows = static_cast<int64_t>(r.rows);
  st.bytes = static_cast<int64_t>(r.bytes);
  st.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.duration).count();
  st.masked = MaskedCountsOf(r);
  st.guardrail = r.guardrail;
  st.sqlstate = r.sqlstate;
  st.lineage_masked = r.lineage_masked;
  st.digest = &digest;
  if (!s.event_template) s.event_template = std::make_shared<events::QueryEventTemplate>(Info(s));
  pipeline_->Emit(s.event_template->Build(NowMs(), st));
}

}  // namespace veil::agent
