#include "agent/protocol/session_support.h"

#include <spdlog/spdlog.h>

#include <asio/experimental/as_tuple.hpp>

namespace veil::agent {

Admission Admit(const Endpoint& ep, const PeerInfo& peer, uint64_t id) {
  Admission a;
  if (peer.principal)
    a.principal = *peer.principal;
  else if (peer.uid)
    a.principal = grants::FromUid(*peer.uid);
  a.display = a.principal.Display();
  if (!ep.grants) return a;
  auto grant = ep.grants->ActiveFor(a.principal, ep.config.name(), ep.clock->NowSeconds());
  if (!grant.ok()) {
    spdlog::error("session {}: grant store: {}", id, grant.error().message);
    a.refusal = "veil: the grant store is unavailable";
    return a;
  }
  if (!grant->has_value()) {
    spdlog::info("session {} on {}: refused, no active grant for {}", id, ep.config.name(),
                 a.display);
    a.refusal = grants::NoActiveGrantMessage(a.display, ep.config.name());
    a.no_grant = true;
    return a;
  }
  a.grant = **grant;
  spdlog::info("session {} on {}: {} admitted under grant {} ({}) until {}", id, ep.config.name(),
               a.display, a.grant->id, grants::AccessName(a.grant->access), a.grant->not_after);
  return a;
}

asio::awaitable<std::string> WatchGrant(const Endpoint& ep, const grants::Grant& grant,
                                        uint64_t id) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return std::string();
    if (grant.id.starts_with("standing-")) continue;  // config grants never expire
    const int64_t now = ep.clock->NowSeconds();
    std::string why;
    auto current = ep.grants->Get(grant.id);
    if (!current.ok() || current->state == grants::Grant::State::kRevoked) {
      why = "revoked";
    } else if (now >= current->not_after || current->state != grants::Grant::State::kActive) {
      why = "expired";
    }
    if (!why.empty()) {
      spdlog::info("session {} on {}: grant {} {}, session ended", id, ep.config.name(), grant.id,
                   why);
      co_return why;
    }
  }
}

std::shared_ptr<asio::steady_timer> RegisterLive(const Endpoint& ep, SessionRegistry::Info info,
                                                 const asio::any_io_executor& ex) {
  auto kill = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  if (ep.sessions)
    ep.sessions->Put(std::move(info), [kill, ex] { asio::post(ex, [kill] { kill->cancel(); }); });
  return kill;
}

void ReportStatements(const Endpoint& ep, const SessionContext& ctx,
                      std::vector<StatementRecord> statements, SessionTotals* totals) {
  for (auto& r : statements) {
    ++totals->statements;
    totals->rows += r.rows;
    totals->bytes += r.bytes;
    totals->values_masked += r.masked.values_masked;
    if (ep.usage) ep.usage->Statement(ctx, r);
  }
}

}  // namespace veil::agent
