#include "agent/control.h"

#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <filesystem>

#include "agent/events/ocsf.h"
#include "common/capped_counts.h"
#include "proto/control.pb.h"

namespace veil::agent {
namespace {

using asio::experimental::as_tuple;
namespace cv1 = control::v1;

constexpr uint32_t kMaxMessage = 1 << 20;
// How long FinishClone waits for the run's sessions to report their last statements: pg_dump
// has exited when veilctl asks, so its session is closing already.
constexpr auto kCloneSettle = std::chrono::seconds(10);

void ToProto(const grants::Grant& g, cv1::Grant* out) {
  out->set_id(g.id);
  out->set_principal(g.principal);
  for (const auto& e : g.endpoints) out->add_endpoints(e);
  out->set_access(std::string(grants::AccessName(g.access)));
  out->set_masking(g.masking);
  out->set_requested_at(g.requested_at);
  out->set_not_before(g.not_before);
  out->set_not_after(g.not_after);
  out->set_reason(g.reason);
  out->set_requester(g.requester);
  for (const auto& a : g.approvers) out->add_approvers(a);
  out->set_state(std::string(grants::StateName(g.state)));
}

void ToProto(const FlowRecord& f, cv1::Flow* out) {
  out->set_cookie(f.cookie);
  out->set_pid(f.pid);
  out->set_comm(f.comm);
  out->set_exe(f.exe);
  out->set_principal(f.principal);
  out->set_src(f.src);
  out->set_dst(f.dst);
  out->set_redirected_to(f.redirected_to);
  out->set_endpoint(f.endpoint);
  out->set_verdict(std::string(VerdictName(f.verdict)));
  out->set_bytes_sent(f.bytes_sent);
  out->set_bytes_received(f.bytes_received);
  out->set_opened_at(f.opened_at);
  out->set_closed_at(f.closed_at);
  out->set_open(f.open);
}

constexpr char kFlowsOff[] = "flow tracing is off (agent.redirect: off)";
// A watcher that falls this far behind loses its oldest changes (and is told how many).
constexpr size_t kWatchQueue = 4096;

asio::awaitable<bool> WriteMessage(asio::local::stream_protocol::socket& socket,
                                   const std::string& reply) {
  uint32_t rs = static_cast<uint32_t>(reply.size());
  uint8_t rh[4] = {uint8_t(rs >> 24), uint8_t(rs >> 16), uint8_t(rs >> 8), uint8_t(rs)};
  std::array<asio::const_buffer, 2> bufs = {asio::buffer(rh), asio::buffer(reply)};
  auto [ec, n] = co_await asio::async_write(socket, bufs, as_tuple(asio::use_awaitable));
  co_return !ec;
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::Start(
    asio::io_context& io, const std::string& path, grants::GrantStore* store,
    const grants::Clock& clock, std::vector<std::string> endpoints, SessionRegistry* sessions,
    FlowTable* flows) {
  std::unique_ptr<ControlServer> s(new ControlServer(io, store, clock));
  s->endpoints_ = std::move(endpoints);
  s->sessions_ = sessions;
  s->flows_ = flows;
  s->path_ = path;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::filesystem::remove(path, ec);
  s->acceptor_.open(asio::local::stream_protocol(), ec);
  if (!ec) s->acceptor_.bind(asio::local::stream_protocol::endpoint(path), ec);
  if (!ec) s->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{"control socket " + path + ": " + ec.message()};
  // 0660 and group veil: operators in group veil may call it; nobody else.
  if (struct group* g = ::getgrnam("veil")) (void)::chown(path.c_str(), -1, g->gr_gid);
  ::chmod(path.c_str(), 0660);
  asio::co_spawn(io, s->Accept(), asio::detached);
  return s;
}

ControlServer::~ControlServer() {
  std::error_code ec;
  acceptor_.close(ec);
  std::filesystem::remove(path_, ec);
}

asio::awaitable<void> ControlServer::Accept() {
  while (acceptor_.is_open()) {
    auto [ec, sock] = co_await acceptor_.async_accept(as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(acceptor_.get_executor(), Serve(std::move(sock)), asio::detached);
  }
}

asio::awaitable<void> ControlServer::Serve(asio::local::stream_protocol::socket socket) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) co_return;
  const grants::Principal caller = grants::FromUid(cred.uid);
  while (true) {
    uint8_t head[4];
    auto [ec, n] =
        co_await asio::async_read(socket, asio::buffer(head), as_tuple(asio::use_awaitable));
    if (ec) co_return;
    uint32_t size =
        (uint32_t{head[0]} << 24) | (uint32_t{head[1]} << 16) | (uint32_t{head[2]} << 8) | head[3];
    if (size > kMaxMessage) co_return;
    std::string body(size, '\0');
    auto [ec2, n2] =
        co_await asio::async_read(socket, asio::buffer(body), as_tuple(asio::use_awaitable));
    if (ec2) co_return;
    if (cv1::Request req; req.ParseFromString(body)) {
      if (req.has_watch_flows()) {
        co_await WatchFlows(std::move(socket), req.watch_flows().all(), caller);
        co_return;
      }
      if (req.has_finish_clone() && clone_runs_) {
        asio::steady_timer wait(socket.get_executor());
        const auto deadline = std::chrono::steady_clock::now() + kCloneSettle;
        while (clone_runs_->Open(req.finish_clone().run_id()) > 0 &&
               std::chrono::steady_clock::now() < deadline) {
          wait.expires_after(std::chrono::milliseconds(20));
          co_await wait.async_wait(as_tuple(asio::use_awaitable));
        }
      }
    }
    std::string response = Handle(body, caller);
    if (audit_) Audit(body, response, caller, cred.pid);
    if (!co_await WriteMessage(socket, response)) co_return;
  }
}

asio::awaitable<void> ControlServer::WatchFlows(asio::local::stream_protocol::socket socket,
                                                bool all, const grants::Principal& caller) {
  cv1::Response resp;
  resp.set_caller(caller.Display());
  if (!flows_) {
    resp.set_ok(false);
    resp.set_error(kFlowsOff);
    co_await WriteMessage(socket, resp.SerializeAsString());
    co_return;
  }
  // The socket is shared with the reader below, which may still be pending when this returns.
  auto sock = std::make_shared<asio::local::stream_protocol::socket>(std::move(socket));
  auto executor = sock->get_executor();
  // Woken (from the eBPF thread, through a post) when a change lands in an empty queue, and by
  // the reader when the client goes away. Every wait is preceded by a Take(), so a wake that
  // arrives while a write is in flight is not lost: its change is taken on the next turn.
  auto wakeup =
      std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  auto gone = std::make_shared<bool>(false);
  auto sub = flows_->Watch(all, kWatchQueue, [executor, wakeup] {
    asio::post(executor, [wakeup] { wakeup->cancel(); });
  });
  asio::co_spawn(
      executor,
      [sock, wakeup, gone]() -> asio::awaitable<void> {
        char byte;
        co_await sock->async_read_some(asio::buffer(&byte, 1), as_tuple(asio::use_awaitable));
        *gone = true;
        wakeup->cancel();
      },
      asio::detached);
  spdlog::debug("control: flows watch by {}", caller.Display());
  resp.set_ok(true);
  bool ok = co_await WriteMessage(*sock, resp.SerializeAsString());
  while (ok && !*gone) {
    FlowSubscription::Batch batch = sub->Take();
    if (batch.changes.empty()) {
      wakeup->expires_at(asio::steady_timer::time_point::max());
      co_await wakeup->async_wait(as_tuple(asio::use_awaitable));
      continue;
    }
    if (batch.lost > 0)
      spdlog::warn("control: flows watch by {} fell behind; {} changes dropped", caller.Display(),
                   batch.lost);
    for (size_t i = 0; ok && i < batch.changes.size(); ++i) {
      cv1::Response change;
      change.set_ok(true);
      if (i == 0) change.set_flows_lost(batch.lost);
      ToProto(batch.changes[i], change.add_flows());
      ok = co_await WriteMessage(*sock, change.SerializeAsString());
    }
  }
  std::error_code ec;
  sock->shutdown(asio::socket_base::shutdown_both, ec);
  sock->close(ec);
}

void ControlServer::Audit(const std::string& body, const std::string& response,
                          const grants::Principal& caller, int64_t pid) {
  cv1::Request req;
  cv1::Response resp;
  if (!req.ParseFromString(body) || !resp.ParseFromString(response)) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  events::ApiCall call;
  std::optional<events::GrantChange> change;
  std::string grant_id;
  switch (req.call_case()) {
    case cv1::Request::kStatus:
      call.operation = "status";
      break;
    case cv1::Request::kListGrants:
      call.operation = "grants.list";
      break;
    case cv1::Request::kRequestGrant:
      call.operation = "grants.request";
      call.resource_type = "grant";
      if (resp.grants_size() == 1)
        change = resp.grants(0).state() == "active" ? events::GrantChange::kIssued
                                                    : events::GrantChange::kRequested;
      break;
    case cv1::Request::kApproveGrant:
      call.operation = "grants.approve";
      call.resource_type = "grant";
      call.resource_uid = req.approve_grant().id();
      change = events::GrantChange::kApproved;
      break;
    case cv1::Request::kDenyGrant:
      call.operation = "grants.deny";
      call.resource_type = "grant";
      call.resource_uid = req.deny_grant().id();
      change = events::GrantChange::kDenied;
      break;
    case cv1::Request::kRevokeGrant:
      call.operation = "grants.revoke";
      call.resource_type = "grant";
      call.resource_uid = req.revoke_grant().id();
      change = events::GrantChange::kRevoked;
      break;
    case cv1::Request::kListSessions:
      call.operation = "sessions.list";
      break;
    case cv1::Request::kKillSession:
      call.operation = "sessions.kill";
      call.resource_type = "session";
      call.resource_uid = std::to_string(req.kill_session().id());
      break;
    case cv1::Request::kListFlows:
      call.operation = "flows.list";
      break;
    case cv1::Request::kListColumns:
      call.operation = "columns.list";
      call.resource_type = "endpoint";
      call.resource_uid = req.list_columns().endpoint();
      break;
    case cv1::Request::kFinishClone: {
      // The run's one event: the call and what the run did, together.
      const auto& f = req.finish_clone();
      events::CloneRun run;
      run.call.operation = "clone";
      run.call.activity = events::ApiActivityFor("clone");
      run.call.caller = caller;
      run.call.pid = pid;
      run.call.socket_path = path_;
      run.call.ok = resp.ok() && f.ok();
      run.call.error = !resp.ok() ? resp.error() : f.failure().substr(0, 256);
      run.run_id = f.run_id();
      run.endpoint = f.endpoint();
      run.database = f.database();
      run.target = f.target();
      for (const auto& [table, n] : f.rows_by_table())
        run.rows_by_table[table] = static_cast<int64_t>(n);
      for (const auto& [column, n] : resp.clone().masked_by_column())
        run.masked.by_column[column] = static_cast<int64_t>(n);
      for (const auto& [entity, n] : resp.clone().masked_by_entity())
        run.masked.by_entity[entity] = static_cast<int64_t>(n);
      run.statements = static_cast<int64_t>(resp.clone().statements());
      run.sessions = static_cast<int64_t>(resp.clone().sessions());
      run.duration_ms = static_cast<int64_t>(f.duration_ms());
      audit_(events::CloneEvent(now, run));
      return;
    }
    default:
      call.operation = "unknown";
      break;
  }
  if (resp.grants_size() == 1 && call.resource_type == "grant") grant_id = resp.grants(0).id();
  if (call.resource_uid.empty()) call.resource_uid = grant_id;
  call.activity = events::ApiActivityFor(call.operation);
  call.caller = caller;
  call.pid = pid;
  call.ok = resp.ok();
  call.error = resp.error();
  call.socket_path = path_;
  audit_(events::ApiEvent(now, call));
  if (change && resp.ok() && store_ && !grant_id.empty()) {
    if (auto g = store_->Get(grant_id); g.ok()) {
      // An auto-approved request is issued by veil itself, not by the requester.
      const bool by_veil = *change == events::GrantChange::kIssued;
      audit_(events::GrantEvent(now, *g, *change, by_veil ? nullptr : &caller, by_veil ? 0 : pid));
    }
  }
}

std::string ControlServer::Handle(const std::string& body, const grants::Principal& caller) {
  cv1::Request req;
  cv1::Response resp;
  resp.set_caller(caller.Display());
  auto fail = [&](const std::string& why) {
    resp.set_ok(false);
    resp.set_error(why);
    return resp.SerializeAsString();
  };
  if (!req.ParseFromString(body)) return fail("malformed request");
  if (req.has_status()) {
    resp.set_ok(true);
    auto* st = resp.mutable_status();
    st->set_version("0.1.0");
    for (const auto& e : endpoints_) st->add_endpoints(e);
    if (coverage_) {
      coverage_(st);
    } else {
      st->set_redirect("off");
    }
    if (store_) {
      if (auto all = store_->List(); all.ok()) {
        for (const auto& g : *all) {
          if (g.state == grants::Grant::State::kActive)
            st->set_grants_active(st->grants_active() + 1);
          if (g.state == grants::Grant::State::kPending)
            st->set_grants_pending(st->grants_pending() + 1);
        }
      }
    }
    return resp.SerializeAsString();
  }
  if (req.has_list_sessions()) {
    resp.set_ok(true);
    for (const auto& i : sessions_->List()) {
      auto* s = resp.add_sessions();
      s->set_id(i.id);
      s->set_endpoint(i.endpoint);
      s->set_principal(i.principal);
      s->set_peer(i.peer);
      s->set_database_user(i.database_user);
      s->set_database(i.database);
      s->set_grant_id(i.grant_id);
      s->set_started_at(i.started_at);
    }
    return resp.SerializeAsString();
  }
  if (req.has_list_flows()) {
    if (!flows_) return fail(kFlowsOff);
    resp.set_ok(true);
    for (const FlowRecord& f : flows_->List(req.list_flows().all())) ToProto(f, resp.add_flows());
    return resp.SerializeAsString();
  }
  if (req.has_list_columns()) {
    const auto& r = req.list_columns();
    if (std::find(endpoints_.begin(), endpoints_.end(), r.endpoint()) == endpoints_.end())
      return fail("no endpoint " + r.endpoint());
    resp.set_ok(true);
    if (!columns_) return resp.SerializeAsString();
    for (const auto& [key, c, sensitive] : columns_->List(r.endpoint())) {
      if (!sensitive && !r.all()) continue;
      auto* col = resp.add_columns();
      col->set_database(key.database);
      col->set_schema(key.schema);
      col->set_table(key.table);
      col->set_column(key.column);
      if (sensitive) {
        col->set_entity(c.entity);
        col->set_source(std::string(ColumnSourceName(c.source)));
      }
      col->set_confidence(c.confidence);
      col->set_observed(c.observed);
      col->set_masked(c.masked);
    }
    return resp.SerializeAsString();
  }
  if (req.has_finish_clone()) {
    const auto& f = req.finish_clone();
    if (!clone_runs_) return fail("clone runs are not tracked by this agent");
    if (std::find(endpoints_.begin(), endpoints_.end(), f.endpoint()) == endpoints_.end())
      return fail("no endpoint " + f.endpoint());
    const bool complete = clone_runs_->Open(f.run_id()) == 0;
    auto totals = clone_runs_->Take(f.run_id(), caller.Display());
    if (!totals.ok()) return fail(totals.error().message);
    resp.set_ok(true);
    auto* summary = resp.mutable_clone();
    summary->set_complete(complete);
    if (*totals) {
      const CloneTotals& t = **totals;
      if (t.endpoint != f.endpoint())
        return fail("clone run " + f.run_id() + " read " + t.endpoint + ", not " + f.endpoint());
      // Bounded: the answer is one control message (1 MiB at most).
      for (const auto& [column, n] : CappedCounts(t.masked.by_column, 4096, "(other columns)"))
        (*summary->mutable_masked_by_column())[column] = static_cast<uint64_t>(n);
      for (const auto& [entity, n] : t.masked.by_entity)
        (*summary->mutable_masked_by_entity())[entity] = static_cast<uint64_t>(n);
      summary->set_statements(static_cast<uint64_t>(t.statements));
      summary->set_sessions(static_cast<uint64_t>(t.sessions));
      summary->set_rows(static_cast<uint64_t>(t.rows));
    }
    spdlog::info("control: clone run {} on {} finished by {} ({})", f.run_id(), f.endpoint(),
                 caller.Display(), f.ok() ? "ok" : "failed");
    return resp.SerializeAsString();
  }
  if (req.has_kill_session()) {
    if (!sessions_->Kill(req.kill_session().id()))
      return fail("no live session " + std::to_string(req.kill_session().id()));
    spdlog::info("control: session {} killed by {}", req.kill_session().id(), caller.Display());
    resp.set_ok(true);
    return resp.SerializeAsString();
  }
  if (!store_) return fail("no endpoint uses grants (access: grant)");
  auto done = [&](const Result<grants::Grant>& r, std::string_view what) {
    if (!r.ok()) {
      spdlog::info("control: {} by {} refused: {}", what, caller.Display(), r.error().message);
      return fail(r.error().message);
    }
    spdlog::info("control: {} {} by {}", what, r->id, caller.Display());
    resp.set_ok(true);
    ToProto(*r, resp.add_grants());
    return resp.SerializeAsString();
  };
  if (req.has_list_grants()) {
    std::optional<grants::Grant::State> state;
    if (!req.list_grants().state().empty()) {
      state = grants::ParseState(req.list_grants().state());
      if (!state) return fail("unknown state \"" + req.list_grants().state() + "\"");
    }
    auto all = store_->List(state);
    if (!all.ok()) return fail(all.error().message);
    resp.set_ok(true);
    for (const auto& g : *all) ToProto(g, resp.add_grants());
    return resp.SerializeAsString();
  }
  if (req.has_request_grant()) {
    const auto& r = req.request_grant();
    auto access = grants::ParseAccess(r.access().empty() ? "read" : r.access());
    if (!access) return fail("access must be read or write");
    return done(store_->Request(caller.Display(), {r.endpoint()}, *access,
                                std::chrono::seconds(r.ttl_seconds()), r.reason(), caller),
                "grant request");
  }
  if (req.has_approve_grant())
    return done(store_->Approve(req.approve_grant().id(), caller), "approve");
  if (req.has_deny_grant()) return done(store_->Deny(req.deny_grant().id(), caller), "deny");
  if (req.has_revoke_grant())
    return done(store_->Revoke(req.revoke_grant().id(), caller), "revoke");
  return fail("unknown call");
}

}  // namespace veil::agent
