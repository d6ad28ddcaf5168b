#include "agent/tls_observation.h"

#include <spdlog/spdlog.h>

#include "agent/kernel_flows.h"
#include "common/thread_name.h"

namespace veil::agent {
namespace {

std::vector<std::string> Keys(const std::map<std::string, std::string>& m) {
  std::vector<std::string> out;
  for (const auto& [k, _] : m) out.push_back(k);
  return out;
}

}  // namespace

TlsObservation::TlsObservation(std::unique_ptr<bpf::TlsChunkSource> source,
                               std::map<std::string, std::string> endpoints, UsageSink* usage)
    : source_(std::move(source)),
      endpoints_(std::move(endpoints)),
      usage_(usage),
      observer_({.endpoints = Keys(endpoints_)},
                [this](const bpf::ObservedStatement& s) { OnStatement(s); }) {
  poller_ = std::thread([this] {
    NameThisThread("veil-tls");
    while (!stop_.load()) {
      auto n = source_->Poll(100);
      if (!n.ok()) {
        spdlog::warn("observe: TLS tracer: {}", n.error().message);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
}

TlsObservation::~TlsObservation() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
}

bpf::TlsChunkCallback TlsObservation::Forwarder(std::shared_ptr<TlsObservation*> target) {
  return [target](const bpf::TlsChunk& c) {
    if (*target) (*target)->OnChunk(c);
  };
}

void TlsObservation::Watch(const bpf::FlowProcess& process, const grants::Principal& principal) {
  {
    std::lock_guard lock(mu_);
    auto [it, added] = watched_.try_emplace(process.tgid, principal, next_id_);
    if (!added) return;
    ++next_id_;
  }
  if (auto st = source_->Watch(process.tgid); !st.ok())
    spdlog::warn("observe: cannot trace pid {}: {}", process.tgid, st.error().message);
  else
    spdlog::info("observe: tracing TLS of pid {} ({})", process.tgid, principal.Display());
}

void TlsObservation::OnChunk(const bpf::TlsChunk& chunk) { observer_.OnChunk(chunk); }

void TlsObservation::OnStatement(const bpf::ObservedStatement& s) {
  statements_.fetch_add(1);
  if (!usage_) return;
  SessionContext ctx;
  {
    std::lock_guard lock(mu_);
    if (auto it = watched_.find(s.tgid); it != watched_.end()) {
      ctx.principal = it->second.first;
      ctx.id = it->second.second;
    }
  }
  if (ctx.principal.user.empty() && !ctx.principal.uid) ctx.principal = grants::FromUid(s.uid);
  ctx.principal_display = ctx.principal.Display();
  ctx.pid = static_cast<int32_t>(s.tgid);
  auto ep = endpoints_.find(CanonicalAddress(s.remote));
  ctx.endpoint = ep == endpoints_.end() ? "" : ep->second;
  ctx.upstream = s.remote;
  ctx.dst = s.remote;
  ctx.database_user = s.user;
  ctx.database = s.database;
  StatementRecord r;
  r.text = s.statement;
  r.command_tag = s.command_tag;
  r.rows = s.rows;
  r.sqlstate = s.sqlstate;
  usage_->Statement(ctx, r);
}

}  // namespace veil::agent
