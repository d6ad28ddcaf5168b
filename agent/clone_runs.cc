#include "agent/clone_runs.h"

#include <algorithm>

#include "agent/usage_reporter.h"

namespace veil::agent {

std::optional<std::string> CloneRunOf(std::string_view application_name) {
  if (!application_name.starts_with(kCloneApplicationPrefix)) return std::nullopt;
  std::string_view id = application_name.substr(kCloneApplicationPrefix.size());
  if (id.size() < 16 || id.size() > 64) return std::nullopt;
  if (!std::all_of(id.begin(), id.end(),
                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
    return std::nullopt;
  return std::string(id);
}

CloneTotals& CloneRuns::At(const std::string& run) {
  auto it = runs_.find(run);
  if (it != runs_.end()) return it->second;
  while (runs_.size() >= kMaxRuns && !order_.empty()) {
    runs_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(run);
  return runs_[run];
}

void CloneRuns::Opened(const std::string& run, const SessionContext& s) {
  std::lock_guard lock(mu_);
  CloneTotals& t = At(run);
  // The first session names the run's principal and endpoint; a session of another principal
  // under the same tag is not counted (it cannot be the run's: veilctl runs as one user).
  if (t.sessions == 0) {
    t.principal = s.principal_display;
    t.endpoint = s.endpoint;
  } else if (t.principal != s.principal_display) {
    return;
  }
  ++t.sessions;
  ++t.open;
}

void CloneRuns::Statement(const std::string& run, const SessionContext& s,
                          const StatementRecord& r) {
  events::MaskedCounts counts = MaskedCountsOf(r);
  std::lock_guard lock(mu_);
  auto it = runs_.find(run);
  if (it == runs_.end() || it->second.principal != s.principal_display) return;
  CloneTotals& t = it->second;
  ++t.statements;
  t.rows += static_cast<int64_t>(r.rows);
  for (const auto& [k, n] : counts.by_entity) t.masked.by_entity[k] += n;
  for (const auto& [k, n] : counts.by_column) t.masked.by_column[k] += n;
}

void CloneRuns::Closed(const std::string& run, const SessionContext& s) {
  std::lock_guard lock(mu_);
  auto it = runs_.find(run);
  if (it != runs_.end() && it->second.principal == s.principal_display && it->second.open > 0)
    --it->second.open;
}

int CloneRuns::Open(const std::string& run) const {
  std::lock_guard lock(mu_);
  auto it = runs_.find(run);
  return it == runs_.end() ? 0 : it->second.open;
}

Result<std::optional<CloneTotals>> CloneRuns::Take(const std::string& run,
                                                   const std::string& principal) {
  std::lock_guard lock(mu_);
  auto it = runs_.find(run);
  if (it == runs_.end()) return std::optional<CloneTotals>();
  if (it->second.principal != principal)
    return Error{"clone run " + run + " belongs to another principal"};
  CloneTotals t = std::move(it->second);
  runs_.erase(it);
  order_.remove(run);
  return std::optional<CloneTotals>(std::move(t));
}

void CloneTap::SessionOpened(const SessionContext& s) {
  if (auto run = CloneRunOf(s.application_name)) runs_->Opened(*run, s);
  if (inner_) inner_->SessionOpened(s);
}

void CloneTap::SessionRefused(const SessionContext& s, std::string_view sqlstate,
                              std::string_view reason) {
  if (inner_) inner_->SessionRefused(s, sqlstate, reason);
}

void CloneTap::SessionClosed(const SessionContext& s, const SessionTotals& totals,
                             std::string_view reason) {
  if (inner_) inner_->SessionClosed(s, totals, reason);
  // After the inner sink: once a run has no open session, every statement of it is counted.
  if (auto run = CloneRunOf(s.application_name)) runs_->Closed(*run, s);
}

void CloneTap::Statement(const SessionContext& s, const StatementRecord& statement) {
  if (auto run = CloneRunOf(s.application_name)) runs_->Statement(*run, s, statement);
  if (inner_) inner_->Statement(s, statement);
}

}  // namespace veil::agent
