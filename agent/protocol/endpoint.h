// What the server hands a protocol's session (agent/protocol/protocol.h), whatever the protocol:
// the endpoint it was accepted on, with everything sessions of that endpoint share (profiles,
// TLS contexts, grants, guardrails, the usage sink, the column store), and what the kernel told
// of the client. Also the two registries sessions of every protocol report into: live sessions
// (`veilctl sessions`) and cancel keys.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/columns/store.h"
#include "agent/grants/clock.h"
#include "agent/grants/store.h"
#include "agent/sql/catalog.h"
#include "agent/sql/guardrails.h"
#include "agent/usage.h"
#include "config/veil_config.pb.h"
#include "masker/profile.h"
#include "tls/context.h"

namespace veil::agent {

class Protocol;

// Where a cancel carrying veil's key must go: a session hands its client veil's own key (for
// PostgreSQL, the BackendKeyData) and keeps the upstream's here.
struct CancelTarget {
  std::string host;
  uint16_t port = 0;
  int32_t pid = 0;
  std::string secret;
};

// veil's cancel keys → the upstream's. Thread-safe.
class CancelRegistry {
 public:
  void Put(int32_t pid, const std::string& secret, CancelTarget target);
  void Remove(int32_t pid, const std::string& secret);
  std::optional<CancelTarget> Find(int32_t pid, const std::string& secret) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<int32_t, std::string>, CancelTarget> targets_;
};

// Live sessions, for `veilctl sessions` and `sessions kill`. Thread-safe: sessions live on
// different threads; Kill posts to the session's own.
class SessionRegistry {
 public:
  struct Info {
    uint64_t id = 0;
    std::string endpoint, principal, peer, database_user, database, grant_id;
    int64_t started_at = 0;
  };
  void Put(Info info, std::function<void()> kill);
  void Remove(uint64_t id);
  std::vector<Info> List() const;
  bool Kill(uint64_t id);

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, std::pair<Info, std::function<void()>>> sessions_;
};

// What sessions of one endpoint share. Immutable: a reload makes new ones, and a live session
// keeps the one it started with.
struct Endpoint {
  config::v1::Endpoint config;
  const Protocol* protocol = nullptr;  // what serves its sessions (agent/protocol/protocol.h)
  std::string upstream_host;
  uint16_t upstream_port = 0;
  std::shared_ptr<const masker::MaskingProfile> profile;
  std::shared_ptr<asio::ssl::context> client_tls;    // null: clients cannot start TLS
  std::shared_ptr<asio::ssl::context> upstream_tls;  // null: plain TCP upstream
  tls::UpstreamVerify upstream_verify = tls::UpstreamVerify::kDisable;
  CancelRegistry* cancels = nullptr;
  SessionRegistry* sessions = nullptr;
  // access: grant — sessions need an active grant from here (null for open endpoints).
  grants::GrantStore* grants = nullptr;
  const grants::Clock* clock = nullptr;
  // The endpoint's guardrails, for write access and for read access (read-only added).
  std::shared_ptr<const sql::Guardrails> guardrails_write, guardrails_read;
  // Masking profiles by name, for a grant that names its own.
  std::shared_ptr<const std::map<std::string, std::shared_ptr<const masker::MaskingProfile>>>
      profiles;
  std::atomic<uint64_t>* session_ids = nullptr;
  // Usage events and metrics; may be null (tests).
  UsageSink* usage = nullptr;
  // Sensitive columns learned from traffic and writes (SPEC §6.1); may be null (tests).
  ColumnStore* columns = nullptr;
  // Catalog snapshots its PostgreSQL sessions share (per database and search path); may be
  // null (tests).
  std::shared_ptr<sql::CatalogCache> catalogs;
};

struct PeerInfo {
  std::string address;          // "127.0.0.1:51234" or "unix"
  std::optional<uint32_t> uid;  // unix socket: from SO_PEERCRED
  std::optional<int32_t> pid;
  // From the eBPF flow of this socket: the connecting process's principal (user, groups, unit,
  // container, exe) and the address it dialled. Preferred over `uid` when present.
  std::optional<grants::Principal> principal;
  std::string original_dst;
};

}  // namespace veil::agent
