// What the sessions of every protocol do the same way: the read buffer of a pump, admission
// under a grant (SPEC §4: the kernel-derived principal needs an active grant for the endpoint),
// and the watch that ends a session when its grant ends.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/grants/grant.h"
#include "agent/protocol/endpoint.h"
#include "agent/statement_record.h"
#include "agent/usage.h"

namespace veil::agent {

// A growable read buffer: bytes [0, size) are unconsumed input.
struct InBuffer {
  static constexpr size_t kInitial = 64 * 1024;
  std::vector<uint8_t> data = std::vector<uint8_t>(kInitial);
  size_t size = 0;
  std::span<const uint8_t> filled() const { return {data.data(), size}; }
  std::span<uint8_t> free_space() {
    if (size == data.size()) data.resize(data.size() * 2);  // a frame larger than the buffer
    return {data.data() + size, data.size() - size};
  }
  void Consume(size_t n) {
    std::memmove(data.data(), data.data() + n, size - n);
    size -= n;
    // Give back memory a huge frame needed once.
    if (size < kInitial && data.size() > 4 * kInitial) {
      data.resize(kInitial);
      data.shrink_to_fit();
    }
  }
};

// The outcome of admitting a client on an endpoint.
struct Admission {
  grants::Principal principal;  // from the kernel: the eBPF flow, or the peer's uid
  std::string display;          // principal.Display()
  std::optional<grants::Grant> grant;
  // Refused: why, for the client (empty: admitted). `no_grant`: refused for want of a grant
  // (the protocol's "access denied" with the request hint), else the grant store failed.
  std::string refusal;
  bool no_grant = false;
};
// access: grant — the principal needs an active grant for this endpoint; the database user the
// client names plays no part. Open endpoints admit everyone.
Admission Admit(const Endpoint& endpoint, const PeerInfo& peer, uint64_t session_id);

// Returns when the grant ends (at not_after, or within a second of a revoke) with "expired" or
// "revoked", or with "" when the wait is cancelled. Standing grants from the configuration never
// end here.
asio::awaitable<std::string> WatchGrant(const Endpoint& endpoint, const grants::Grant& grant,
                                        uint64_t session_id);

// Registers a live session for `veilctl sessions` (when the endpoint keeps a registry) and
// returns its kill switch: a timer on the session's executor that `sessions kill` cancels.
std::shared_ptr<asio::steady_timer> RegisterLive(const Endpoint& endpoint,
                                                 SessionRegistry::Info info,
                                                 const asio::any_io_executor& executor);

// Adds finished statements to the session's totals and reports each (events, metrics).
void ReportStatements(const Endpoint& endpoint, const SessionContext& context,
                      std::vector<StatementRecord> statements, SessionTotals* totals);

}  // namespace veil::agent
