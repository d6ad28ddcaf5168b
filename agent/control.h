// veild's control API on agent.control_socket (mode 0660, group veil where that group exists):
// length-prefixed veil.control.v1 messages (proto/control.proto). The caller is the unix user
// the kernel reports for the socket (SO_PEERCRED), never anything in the request. Every
// mutating call is logged with its caller (usage events come with issue 6).
//
// FinishClone waits (without blocking the socket's thread) for the run's sessions to end, up
// to kCloneSettle, before it answers; its one event is the run's clone event (CloneEvent), not
// the generic API event.
//
// WatchFlows is the one streaming call: after its first answer the connection carries one
// Response per flow change until the client closes it (or sends anything).
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/clone_runs.h"
#include "agent/columns/store.h"
#include "agent/flows.h"
#include "agent/grants/clock.h"
#include "agent/grants/store.h"
#include "agent/protocol/endpoint.h"
#include "common/result.h"
#include "proto/control.pb.h"

namespace veil::agent {

class ControlServer {
 public:
  // Listens on `path` (replacing a stale socket). `store` may be null: grant calls then fail
  // with a message saying no endpoint uses grants. `flows` may be null (agent.redirect: off):
  // flow calls then fail saying flow tracing is off. Every pointer must outlive the server.
  static Result<std::unique_ptr<ControlServer>> Start(asio::io_context& io, const std::string& path,
                                                      grants::GrantStore* store,
                                                      const grants::Clock& clock,
                                                      std::vector<std::string> endpoints,
                                                      SessionRegistry* sessions,
                                                      FlowTable* flows = nullptr);
  ~ControlServer();

  // Every call becomes a 6003 API Activity event, and every grant change a 3005 one, through
  // `emit` (the event pipeline's Emit: never blocks).
  void SetAudit(std::function<void(nlohmann::json)> emit) { audit_ = std::move(emit); }
  // The endpoint names `veilctl status` shows (a reload changes them).
  void SetEndpoints(std::vector<std::string> names) { endpoints_ = std::move(names); }
  // Fills in what each endpoint covers in the kernel for `veilctl status` (unset: redirect off).
  // Called on the control socket's thread; it must be thread-safe.
  void SetCoverage(std::function<void(control::v1::Status*)> fill) { coverage_ = std::move(fill); }
  // What ListColumns reports (null: nothing learned is kept).
  void SetColumns(ColumnStore* columns) { columns_ = columns; }
  // What FinishClone reports (null: clone runs are not tracked; FinishClone is refused).
  void SetCloneRuns(CloneRuns* runs) { clone_runs_ = runs; }

 private:
  void Audit(const std::string& request, const std::string& response,
             const grants::Principal& caller, int64_t pid);
  ControlServer(asio::io_context& io, grants::GrantStore* store, const grants::Clock& clock)
      : acceptor_(io), store_(store), clock_(clock) {}
  asio::awaitable<void> Accept();
  asio::awaitable<void> Serve(asio::local::stream_protocol::socket socket);
  std::string Handle(const std::string& request, const grants::Principal& caller);
  // Streams flow changes to `socket` until the client closes it.
  asio::awaitable<void> WatchFlows(asio::local::stream_protocol::socket socket, bool all,
                                   const grants::Principal& caller);

  asio::local::stream_protocol::acceptor acceptor_;
  std::function<void(control::v1::Status*)> coverage_;
  std::string path_;
  grants::GrantStore* store_;
  const grants::Clock& clock_;
  std::vector<std::string> endpoints_;
  SessionRegistry* sessions_ = nullptr;
  FlowTable* flows_ = nullptr;
  ColumnStore* columns_ = nullptr;
  CloneRuns* clone_runs_ = nullptr;
  std::function<void(nlohmann::json)> audit_;
};

}  // namespace veil::agent
