#include "agent/server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <filesystem>

#include "agent/events/ocsf.h"
#include "agent/peer.h"
#include "masker/strategy.h"
#include "tls/context.h"

namespace veil::agent {

using asio::experimental::as_tuple;

Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return Error{"\"" + s + "\" is not host:port"};
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(s.substr(colon + 1));
  } catch (...) {
    port = 0;
  }
  if (port <= 0 || port > 65535) return Error{"\"" + s + "\" has no valid port"};
  return std::make_pair(host, static_cast<uint16_t>(port));
}

struct Server::Listener : std::enable_shared_from_this<Listener> {
  std::shared_ptr<const Endpoint> ep;  // replaced by a reload; sessions keep their own
  std::string listen;
  std::shared_ptr<asio::ip::tcp::acceptor> tcp;
  std::shared_ptr<asio::local::stream_protocol::acceptor> unix;  // null: the protocol has none
  std::string unix_path;
  void Close() {
    std::error_code ec;
    tcp->close(ec);
    if (!unix) return;
    unix->close(ec);
    std::filesystem::remove(unix_path, ec);
  }
  // Accepts on its sockets until they close (on ios[0]).
  void Spawn(Server& server, asio::io_context& io) {
    asio::co_spawn(io, server.Accept(shared_from_this(), tcp), asio::detached);
    if (unix) asio::co_spawn(io, server.Accept(shared_from_this(), unix), asio::detached);
  }
};

struct Server::Generation {
  std::shared_ptr<const std::map<std::string, std::shared_ptr<const masker::MaskingProfile>>>
      profiles;
  std::vector<std::shared_ptr<Endpoint>> endpoints;
};

Server::~Server() {
  for (auto& [_, l] : listeners_) l->Close();
}

asio::io_context& Server::NextContext() {
  return *ios_[next_io_.fetch_add(1, std::memory_order_relaxed) % ios_.size()];
}

// Everything a configuration's endpoints need, checked and built, without touching a socket.
Result<Server::Generation> Server::Build(const config::LoadedConfig& loaded) {
  const auto& cfg = loaded.config;
  Generation gen;
  auto profiles =
      std::make_shared<std::map<std::string, std::shared_ptr<const masker::MaskingProfile>>>();
  // A profile keeps its `fake` registry across reloads (the key cannot change without a
  // restart): a masked copy that spans a reload gives a value one surrogate, not two.
  std::map<std::string, std::shared_ptr<masker::fake::SurrogateRegistry>> registries;
  for (const auto& [name, p] : cfg.masking().profiles()) {
    auto& reg = registries[name];
    if (auto it = registries_.find(name); it != registries_.end()) reg = it->second;
    if (!reg) reg = std::make_shared<masker::fake::SurrogateRegistry>();
    auto compiled = masker::MaskingProfile::Compile(p, "masking.profiles." + name, key_, reg);
    if (auto* errs = std::get_if<std::vector<masker::MaskingProfile::CompileError>>(&compiled)) {
      std::string msg;
      for (const auto& e : *errs)
        msg += (msg.empty() ? "" : "\n") + loaded.At(e.path, e.message).ToString();
      return Error{msg};
    }
    (*profiles)[name] = std::get<0>(compiled);
  }
  gen.profiles = profiles;
  registries_ = std::move(registries);

  for (int i = 0; i < cfg.endpoints_size(); ++i) {
    const auto& e = cfg.endpoints(i);
    const Protocol* protocol = FindProtocol(e.protocol());
    if (!protocol) {
      std::string name = config::v1::Endpoint::Protocol_Name(e.protocol());  // PROTOCOL_MYSQL
      name = name.substr(name.find('_') + 1);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      // Skipping it would leave its clients going straight to the database, unmasked.
      return Error{loaded
                       .At("endpoints[" + std::to_string(i) + "].protocol",
                           "endpoint " + e.name() + ": protocol " + name +
                               " is not served by this build of veild yet; refusing to start "
                               "rather than leave it unprotected")
                       .ToString()};
    }
    if (e.access() == config::v1::Endpoint::ACCESS_OBSERVE) continue;  // no listener
    auto ep = std::make_shared<Endpoint>();
    ep->config = e;
    ep->protocol = protocol;
    auto up = SplitHostPort(e.upstream());
    if (!up.ok())
      return Error{loaded.At("endpoints[" + std::to_string(i) + "].upstream", up.error().message)
                       .ToString()};
    ep->upstream_host = up->first;
    ep->upstream_port = up->second;
    auto pit = profiles->find(e.masking());
    if (pit == profiles->end())
      return Error{"endpoint " + e.name() + ": no masking profile " + e.masking()};
    ep->profile = pit->second;
    ep->cancels = &cancels_;
    ep->sessions = &sessions_;
    ep->catalogs = std::make_shared<sql::CatalogCache>();
    for (bool read : {false, true}) {
      auto g = sql::Guardrails::Create(e.guardrails(), read);
      if (!g.ok()) return Error{"endpoint " + e.name() + ": guardrails: " + g.error().message};
      (read ? ep->guardrails_read : ep->guardrails_write) =
          std::make_shared<const sql::Guardrails>(std::move(g).value());
    }
    ep->profiles = profiles;
    if (e.access() == config::v1::Endpoint::ACCESS_GRANT) {
      if (!grants_) {
        std::error_code dec;
        std::filesystem::create_directories(cfg.agent().state_dir(), dec);
        auto store =
            grants::GrantStore::Open(cfg.grants(), clock_, cfg.agent().state_dir() + "/grants.db");
        if (!store.ok()) return Error{"grant store: " + store.error().message};
        grants_ = std::move(store).value();
      }
      ep->grants = grants_.get();
      ep->clock = &clock_;
    }
    ep->session_ids = &session_ids_;
    ep->usage = hooks_.usage;
    ep->columns = columns_.get();
    auto listen = SplitHostPort(e.listen());
    if (!listen.ok()) return Error{"endpoint " + e.name() + ": " + listen.error().message};

    // TLS towards clients: a leaf from the host CA in state_dir/ca/ (also naming the listener).
    if (e.tls().client() != config::v1::Tls::CLIENT_TLS_DISABLE) {
      if (!ca_) {
        auto ca = tls::HostCa::LoadOrCreate(agent_config_.state_dir() + "/ca");
        if (!ca.ok()) return Error{"host CA: " + ca.error().message};
        ca_ = std::make_unique<tls::HostCa>(std::move(ca).value());
      }
      std::vector<std::string> dns = {"localhost"}, ips = {"127.0.0.1", "::1"};
      char host[256] = {};
      if (::gethostname(host, sizeof(host) - 1) == 0 && host[0]) dns.push_back(host);
      std::error_code aec;
      auto la = asio::ip::make_address(listen->first, aec);
      if (!aec && !la.is_unspecified() && !la.is_loopback()) ips.push_back(listen->first);
      if (aec) dns.push_back(listen->first);
      auto leaf = ca_->Issue(dns, ips);
      if (!leaf.ok()) return Error{"endpoint " + e.name() + ": " + leaf.error().message};
      auto ctx = tls::MakeClientFacingContext(*leaf);
      if (!ctx.ok()) return Error{"endpoint " + e.name() + ": " + ctx.error().message};
      ep->client_tls = std::make_shared<asio::ssl::context>(ctx->release());
    }
    // TLS towards the upstream, per tls.upstream.
    using T = config::v1::Tls;
    const auto mode = e.tls().upstream();
    if (mode != T::UPSTREAM_TLS_DISABLE) {
      ep->upstream_verify = mode == T::UPSTREAM_TLS_REQUIRE     ? tls::UpstreamVerify::kRequire
                            : mode == T::UPSTREAM_TLS_VERIFY_CA ? tls::UpstreamVerify::kVerifyCa
                                                                : tls::UpstreamVerify::kVerifyFull;
      auto ctx = tls::MakeUpstreamContext(ep->upstream_verify, e.tls().upstream_ca());
      if (!ctx.ok())
        return Error{"endpoint " + e.name() + ": tls.upstream: " + ctx.error().message};
      ep->upstream_tls = std::make_shared<asio::ssl::context>(ctx->release());
    }
    gen.endpoints.push_back(ep);
  }
  return gen;
}

// Opens an endpoint's TCP and unix listeners (not yet accepting).
Result<std::shared_ptr<Server::Listener>> Server::Listen(
    const std::shared_ptr<const Endpoint>& ep) {
  asio::io_context& io = *ios_[0];
  const auto& e = ep->config;
  auto listen = SplitHostPort(e.listen());
  if (!listen.ok()) return Error{"endpoint " + e.name() + ": " + listen.error().message};
  auto l = std::make_shared<Listener>();
  l->ep = ep;
  l->listen = e.listen();
  std::error_code ec;
  auto addr = asio::ip::make_address(listen->first, ec);
  if (ec)
    return Error{"endpoint " + e.name() + ": listen address " + listen->first + ": " +
                 ec.message()};
  l->tcp = std::make_shared<asio::ip::tcp::acceptor>(io);
  asio::ip::tcp::endpoint tep(addr, listen->second);
  l->tcp->open(tep.protocol(), ec);
  if (!ec) l->tcp->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) l->tcp->bind(tep, ec);
  if (!ec) l->tcp->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error{"endpoint " + e.name() + ": cannot listen on " + e.listen() + ": " + ec.message()};
  // Unix socket beside the control socket, under the name the protocol's clients look for.
  const std::string unix_name = ep->protocol->UnixSocketName(listen->second);
  if (unix_name.empty()) return l;
  const std::filesystem::path socket_dir =
      std::filesystem::path(agent_config_.control_socket()).parent_path();
  std::filesystem::create_directories(socket_dir, ec);
  l->unix_path = (socket_dir / unix_name).string();
  std::filesystem::remove(l->unix_path, ec);
  l->unix = std::make_shared<asio::local::stream_protocol::acceptor>(io);
  l->unix->open(asio::local::stream_protocol(), ec);
  if (!ec) l->unix->bind(asio::local::stream_protocol::endpoint(l->unix_path), ec);
  if (!ec) l->unix->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::error_code ignored;
    l->tcp->close(ignored);
    return Error{"endpoint " + e.name() + ": cannot listen on " + l->unix_path + ": " +
                 ec.message()};
  }
  ::chmod(l->unix_path.c_str(), 0666);
  return l;
}

Result<std::unique_ptr<Server>> Server::Start(const config::LoadedConfig& loaded,
                                              std::span<asio::io_context* const> ios,
                                              ServerHooks hooks) {
  const auto& cfg = loaded.config;
  std::unique_ptr<Server> server(new Server());
  server->ios_.assign(ios.begin(), ios.end());
  server->hooks_ = std::move(hooks);
  server->clone_tap_ = std::make_unique<CloneTap>(server->hooks_.usage, &server->clone_runs_);
  server->hooks_.usage = server->clone_tap_.get();
  server->agent_config_ = cfg.agent();
  server->key_file_ = cfg.masking().key_file();
  asio::io_context& io = *ios[0];
  auto key = masker::MaskKey::LoadOrCreate(cfg.masking().key_file());
  if (!key.ok()) return key.error();
  server->key_ = *key;
  {
    std::error_code dec;
    std::filesystem::create_directories(cfg.agent().state_dir(), dec);
    auto columns = ColumnStore::Open(cfg.agent().state_dir() + "/columns.db");
    if (!columns.ok()) return Error{"column store: " + columns.error().message};
    server->columns_ = std::move(columns).value();
    server->columns_->StartFlusher(std::chrono::seconds(5));
  }

  auto gen = server->Build(loaded);
  if (!gen.ok()) return gen.error();
  for (auto& ep : gen->endpoints) {
    auto l = server->Listen(ep);
    if (!l.ok()) return l.error();
    server->listeners_[ep->config.name()] = *l;
    (*l)->Spawn(*server, io);
    spdlog::info("endpoint {}: listening on {}{}{}, upstream {}", ep->config.name(),
                 ep->config.listen(), (*l)->unix ? " and " : "", (*l)->unix_path,
                 ep->config.upstream());
  }
  // grants.notify: webhooks on grant changes, each on a thread of its own.
  {
    grants::NotifierOptions options;
    options.spool_dir = cfg.agent().state_dir() + "/spool";
    auto notifier = grants::GrantNotifier::Create(cfg.grants().notify(), std::move(options));
    if (!notifier.ok()) return notifier.error();
    server->notifier_ = std::move(notifier).value();
  }
  // The control API, and the clock that moves grants to expired (sessions under a grant watch
  // it themselves, within a second).
  std::vector<std::string> names;
  for (const auto& e : cfg.endpoints()) names.push_back(e.name());
  auto control =
      ControlServer::Start(io, cfg.agent().control_socket(), server->grants_.get(), server->clock_,
                           std::move(names), &server->sessions_, server->hooks_.flows);
  if (!control.ok()) return control.error();
  server->control_ = std::move(control).value();
  server->control_->SetAudit([s = server.get()](nlohmann::json e) {
    if (e.value("class_uid", 0) == events::kClassUserAccessManagement)
      s->GrantChanged(std::move(e));
    else if (s->hooks_.events)
      s->hooks_.events->Emit(std::move(e));
  });
  server->control_->SetColumns(server->columns_.get());
  server->control_->SetCloneRuns(&server->clone_runs_);
  if (server->hooks_.coverage) server->control_->SetCoverage(server->hooks_.coverage);
  if (server->hooks_.metrics && server->grants_) {
    grants::GrantStore* store = server->grants_.get();
    server->hooks_.metrics->OnScrape([store](Metrics& m) {
      uint64_t active = 0, pending = 0;
      if (auto all = store->List(); all.ok())
        for (const auto& g : *all) {
          active += g.state == grants::Grant::State::kActive;
          pending += g.state == grants::Grant::State::kPending;
        }
      m.SetGrants(active, pending);
    });
  }
  if (server->grants_) asio::co_spawn(io, server->ExpireGrants(), asio::detached);
  return server;
}

Status Server::Reload(const config::LoadedConfig& loaded) {
  const auto& cfg = loaded.config;
  if (cfg.agent().SerializeAsString() != agent_config_.SerializeAsString() ||
      cfg.masking().key_file() != key_file_)
    spdlog::warn("reload: changes under agent: and masking.key_file take effect at restart");
  const bool had_grants = grants_ != nullptr;
  auto gen = Build(loaded);
  if (!gen.ok()) return gen.error();
  // A url_file that cannot be read fails the reload before anything changed.
  if (Status st = grants::GrantNotifier::Check(cfg.grants().notify()); !st.ok()) return st;
  // Open what is new before touching what runs: a port in use fails the reload, not the agent.
  std::map<std::string, std::shared_ptr<Listener>> opened;
  for (auto& ep : gen->endpoints) {
    auto it = listeners_.find(ep->config.name());
    if (it != listeners_.end() && it->second->listen == ep->config.listen()) continue;
    if (it != listeners_.end()) it->second->Close();  // its port may be reused by the new one
    auto l = Listen(ep);
    if (!l.ok()) {
      for (auto& [_, o] : opened) o->Close();
      // Put back a listener closed for a changed address.
      if (it != listeners_.end()) {
        if (auto again = Listen(it->second->ep); again.ok()) {
          it->second = *again;
          (*again)->Spawn(*this, *ios_[0]);
        }
      }
      return l.error();
    }
    opened[ep->config.name()] = *l;
  }
  // Commit: nothing below fails.
  if (grants_ && had_grants) grants_->ReplacePolicies(cfg.grants());
  if (Status st = notifier_->Configure(cfg.grants().notify()); !st.ok())
    spdlog::error("reload: {}", st.error().message);  // Check() passed: a spool folder error
  std::map<std::string, std::shared_ptr<Listener>> next;
  for (auto& ep : gen->endpoints) {
    const std::string& name = ep->config.name();
    if (auto o = opened.find(name); o != opened.end()) {
      next[name] = o->second;
      o->second->Spawn(*this, *ios_[0]);
      spdlog::info("reload: endpoint {} listening on {}", name, ep->config.listen());
    } else {
      auto l = listeners_.at(name);
      l->ep = ep;
      next[name] = l;
    }
  }
  for (auto& [name, l] : listeners_)
    if (!next.contains(name) || next[name] != l) {
      l->Close();
      if (!next.contains(name))
        spdlog::info("reload: endpoint {} removed; its live sessions go on", name);
    }
  listeners_ = std::move(next);
  std::vector<std::string> names;
  for (const auto& e : cfg.endpoints()) names.push_back(e.name());
  if (control_) control_->SetEndpoints(std::move(names));
  if (hooks_.metrics) hooks_.metrics->ConfigReloaded(ReloadResult::kOk);
  if (grants_ && !had_grants) asio::co_spawn(*ios_[0], ExpireGrants(), asio::detached);
  spdlog::info("reload: {} endpoints, {} masking profiles", gen->endpoints.size(),
               gen->profiles->size());
  return {};
}

asio::awaitable<void> Server::ExpireGrants() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto changed = grants_->Expire(clock_.NowSeconds());
    if (changed.ok())
      for (const auto& g : *changed) {
        spdlog::info("grant {} of {} is now {}", g.id, g.principal, grants::StateName(g.state));
        GrantChanged(events::GrantEvent(clock_.NowSeconds() * 1000, g,
                                        events::GrantChange::kExpired, nullptr));
      }
  }
}

void Server::GrantChanged(nlohmann::json event) {
  if (notifier_) notifier_->Notify(event);  // queues; never waits on a webhook
  if (hooks_.events) hooks_.events->Emit(std::move(event));
}

namespace {

PeerInfo PeerOf(const asio::ip::tcp::socket& sock) {
  std::error_code ec, lec;
  auto remote = sock.remote_endpoint(ec);
  auto local = sock.local_endpoint(lec);
  PeerInfo peer{ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port())};
  // A client on this host: its uid from the kernel's socket table.
  if (!ec && !lec && remote.address().is_loopback())
    if (auto uid = LocalTcpPeerUid(remote, local)) peer.uid = *uid;
  return peer;
}

// A unix-socket client: uid and pid from the kernel (SO_PEERCRED), and from the pid its unit or
// container (cgroup) and executable, as for a flow the eBPF layer recorded.
PeerInfo PeerOf(const asio::local::stream_protocol::socket& sock, PrincipalResolver& resolver) {
  PeerInfo peer{"unix"};
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(const_cast<asio::local::stream_protocol::socket&>(sock).native_handle(),
                   SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer.uid = cred.uid;
    peer.pid = cred.pid;
    // The pid could be reused once the client exits: hold the process by a pidfd (Linux 6.5+)
    // while /proc is read, and use what was read only if that process is still alive then.
    constexpr int kSoPeerPidfd = 77;  // SO_PEERPIDFD, newer than this glibc's headers
    int pidfd = -1;
    socklen_t plen = sizeof(pidfd);
    const int fd = const_cast<asio::local::stream_protocol::socket&>(sock).native_handle();
    const bool pinned = ::getsockopt(fd, SOL_SOCKET, kSoPeerPidfd, &pidfd, &plen) == 0;
    auto process = resolver.ProcessOf(cred.pid, cred.uid, cred.gid);
    bool alive = true;
    if (pinned) {
      alive = ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0;
      ::close(pidfd);
    }
    if (process && alive) peer.principal = resolver.Resolve(*process);
  }
  return peer;
}

}  // namespace

template <typename Acceptor>
asio::awaitable<void> Server::Accept(std::shared_ptr<Listener> listener,
                                     std::shared_ptr<Acceptor> acceptor) {
  while (acceptor->is_open()) {
    asio::io_context& home = NextContext();
    auto [ec, sock] = co_await acceptor->async_accept(home, as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      continue;
    }
    constexpr bool kTcp = std::is_same_v<Acceptor, asio::ip::tcp::acceptor>;
    std::conditional_t<kTcp, Conn::Tcp, Conn::Unix> socket(std::move(sock));
    if constexpr (kTcp) socket.set_option(asio::ip::tcp::no_delay(true), ec);
    PeerInfo peer;
    if constexpr (kTcp)
      peer = PeerOf(socket);
    else
      peer = PeerOf(socket, resolver_);
    if constexpr (kTcp) {
      std::error_code rec;
      auto remote = socket.remote_endpoint(rec);
      if (!rec && hooks_.attribute) hooks_.attribute(remote, &peer);
    } else {
      if (hooks_.attribute_unix) hooks_.attribute_unix(socket.native_handle(), &peer);
    }
    const std::shared_ptr<const Endpoint> ep = listener->ep;
    asio::co_spawn(home, ep->protocol->Serve(ep, Conn(std::move(socket)), std::move(peer)),
                   asio::detached);
  }
}

}  // namespace veil::agent
