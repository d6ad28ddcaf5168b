#include "agent/server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <filesystem>

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

Server::~Server() {
  std::error_code ec;
  for (auto& a : tcp_) a->close(ec);
  for (auto& a : unix_) a->close(ec);
  for (auto& p : unix_paths_) std::filesystem::remove(p, ec);
}

asio::io_context& Server::NextContext() {
  return *ios_[next_io_.fetch_add(1, std::memory_order_relaxed) % ios_.size()];
}

Result<std::unique_ptr<Server>> Server::Start(const config::LoadedConfig& loaded,
                                              std::span<asio::io_context* const> ios) {
  const auto& cfg = loaded.config;
  std::unique_ptr<Server> server(new Server());
  server->ios_.assign(ios.begin(), ios.end());
  asio::io_context& io = *ios[0];
  auto key = masker::MaskKey::LoadOrCreate(cfg.masking().key_file());
  if (!key.ok()) return key.error();

  auto& profiles = server->profiles_;
  for (const auto& [name, p] : cfg.masking().profiles()) {
    auto compiled = masker::MaskingProfile::Compile(p, "masking.profiles." + name, *key);
    if (auto* errs = std::get_if<std::vector<masker::MaskingProfile::CompileError>>(&compiled)) {
      std::string msg;
      for (const auto& e : *errs)
        msg += (msg.empty() ? "" : "\n") + loaded.At(e.path, e.message).ToString();
      return Error{msg};
    }
    profiles[name] = std::get<0>(compiled);
  }

  const std::filesystem::path socket_dir =
      std::filesystem::path(cfg.agent().control_socket()).parent_path();
  for (int i = 0; i < cfg.endpoints_size(); ++i) {
    const auto& e = cfg.endpoints(i);
    if (e.protocol() != config::v1::Endpoint::PROTOCOL_POSTGRES) {
      spdlog::warn("endpoint {}: protocol not served by this build; skipped", e.name());
      continue;
    }
    if (e.access() == config::v1::Endpoint::ACCESS_OBSERVE) continue;  // no listener
    auto ep = std::make_shared<PgEndpoint>();
    ep->config = e;
    auto up = SplitHostPort(e.upstream());
    if (!up.ok())
      return Error{loaded.At("endpoints[" + std::to_string(i) + "].upstream", up.error().message)
                       .ToString()};
    ep->upstream_host = up->first;
    ep->upstream_port = up->second;
    auto pit = profiles.find(e.masking());
    if (pit == profiles.end())
      return Error{"endpoint " + e.name() + ": no masking profile " + e.masking()};
    ep->profile = pit->second;
    ep->cancels = &server->cancels_;
    ep->sessions = &server->sessions_;
    for (bool read : {false, true}) {
      auto g = sql::Guardrails::Create(e.guardrails(), read);
      if (!g.ok()) return Error{"endpoint " + e.name() + ": guardrails: " + g.error().message};
      (read ? ep->guardrails_read : ep->guardrails_write) =
          std::make_shared<const sql::Guardrails>(std::move(g).value());
    }
    ep->profiles = &server->profiles_;
    if (e.access() == config::v1::Endpoint::ACCESS_GRANT) {
      if (!server->grants_) {
        std::error_code dec;
        std::filesystem::create_directories(cfg.agent().state_dir(), dec);
        auto store = grants::GrantStore::Open(cfg.grants(), server->clock_,
                                              cfg.agent().state_dir() + "/grants.db");
        if (!store.ok()) return Error{"grant store: " + store.error().message};
        server->grants_ = std::move(store).value();
      }
      ep->grants = server->grants_.get();
      ep->clock = &server->clock_;
    }
    ep->session_ids = &server->session_ids_;
    // TCP listener address (also named in the client-facing certificate).
    auto listen = SplitHostPort(e.listen());
    if (!listen.ok()) return Error{"endpoint " + e.name() + ": " + listen.error().message};

    // TLS towards clients: a leaf from the host CA in state_dir/ca/.
    if (e.tls().client() != config::v1::Tls::CLIENT_TLS_DISABLE) {
      if (!server->ca_) {
        auto ca = tls::HostCa::LoadOrCreate(cfg.agent().state_dir() + "/ca");
        if (!ca.ok()) return Error{"host CA: " + ca.error().message};
        server->ca_ = std::make_unique<tls::HostCa>(std::move(ca).value());
      }
      std::vector<std::string> dns = {"localhost"}, ips = {"127.0.0.1", "::1"};
      char host[256] = {};
      if (::gethostname(host, sizeof(host) - 1) == 0 && host[0]) dns.push_back(host);
      std::error_code aec;
      auto la = asio::ip::make_address(listen->first, aec);
      if (!aec && !la.is_unspecified() && !la.is_loopback()) ips.push_back(listen->first);
      if (aec) dns.push_back(listen->first);
      auto leaf = server->ca_->Issue(dns, ips);
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
    server->endpoints_.push_back(ep);

    std::error_code ec;
    auto addr = asio::ip::make_address(listen->first, ec);
    if (ec)
      return Error{"endpoint " + e.name() + ": listen address " + listen->first + ": " +
                   ec.message()};
    auto acc = std::make_shared<asio::ip::tcp::acceptor>(io);
    asio::ip::tcp::endpoint tep(addr, listen->second);
    acc->open(tep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(tep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Error{"endpoint " + e.name() + ": cannot listen on " + e.listen() + ": " +
                   ec.message()};
    server->tcp_.push_back(acc);
    asio::co_spawn(io, server->Accept(ep, acc), asio::detached);

    // Unix socket beside the control socket.
    std::filesystem::create_directories(socket_dir, ec);
    std::string path = (socket_dir / (".s.PGSQL." + std::to_string(listen->second))).string();
    std::filesystem::remove(path, ec);
    auto uacc = std::make_shared<asio::local::stream_protocol::acceptor>(io);
    uacc->open(asio::local::stream_protocol(), ec);
    if (!ec) uacc->bind(asio::local::stream_protocol::endpoint(path), ec);
    if (!ec) uacc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Error{"endpoint " + e.name() + ": cannot listen on " + path + ": " + ec.message()};
    ::chmod(path.c_str(), 0666);
    server->unix_.push_back(uacc);
    server->unix_paths_.push_back(path);
    asio::co_spawn(io, server->Accept(ep, uacc), asio::detached);
    spdlog::info("endpoint {}: listening on {} and {}, upstream {}", e.name(), e.listen(), path,
                 e.upstream());
  }
  // The control API, and the clock that moves grants to expired (sessions under a grant watch
  // it themselves, within a second).
  std::vector<std::string> names;
  for (const auto& e : cfg.endpoints()) names.push_back(e.name());
  auto control = ControlServer::Start(io, cfg.agent().control_socket(), server->grants_.get(),
                                      server->clock_, std::move(names), &server->sessions_);
  if (!control.ok()) return control.error();
  server->control_ = std::move(control).value();
  if (server->grants_) asio::co_spawn(io, server->ExpireGrants(), asio::detached);
  return server;
}

asio::awaitable<void> Server::ExpireGrants() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto changed = grants_->Expire(clock_.NowSeconds());
    if (changed.ok())
      for (const auto& g : *changed)
        spdlog::info("grant {} of {} is now {}", g.id, g.principal, grants::StateName(g.state));
  }
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

PeerInfo PeerOf(const asio::local::stream_protocol::socket& sock) {
  PeerInfo peer{"unix"};
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(const_cast<asio::local::stream_protocol::socket&>(sock).native_handle(),
                   SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer.uid = cred.uid;
    peer.pid = cred.pid;
  }
  return peer;
}

}  // namespace

template <typename Acceptor>
asio::awaitable<void> Server::Accept(std::shared_ptr<const PgEndpoint> ep,
                                     std::shared_ptr<Acceptor> acceptor) {
  while (acceptor->is_open()) {
    asio::io_context& home = NextContext();
    auto [ec, sock] = co_await acceptor->async_accept(home, as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    constexpr bool kTcp = std::is_same_v<Acceptor, asio::ip::tcp::acceptor>;
    std::conditional_t<kTcp, Conn::Tcp, Conn::Unix> socket(std::move(sock));
    if constexpr (kTcp) socket.set_option(asio::ip::tcp::no_delay(true), ec);
    PeerInfo peer = PeerOf(socket);
    asio::co_spawn(home, RunPgSession(ep, Conn(std::move(socket)), std::move(peer)),
                   asio::detached);
  }
}

}  // namespace veil::agent
