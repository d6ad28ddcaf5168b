#include "agent/kernel_flows.h"

#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "agent/server.h"

namespace veil::agent {

std::string CanonicalAddress(const std::string& host_port) {
  auto hp = SplitHostPort(host_port);
  if (!hp.ok()) return host_port;
  std::error_code ec;
  auto a = asio::ip::make_address(hp->first, ec);
  if (ec) return host_port;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(hp->second)
                   : a.to_string() + ":" + std::to_string(hp->second);
}

std::optional<uint64_t> OwnServiceCgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("0::/")) continue;
    std::string path = line.substr(3);
    if (!path.ends_with(".service")) return std::nullopt;
    auto root = bpf::CgroupV2Root();
    if (!root.ok()) return std::nullopt;
    // Exempting a cgroup exempts every process in it: only when veild is alone there.
    std::ifstream procs(*root + path + "/cgroup.procs");
    std::string pid;
    while (procs >> pid)
      if (pid != std::to_string(::getpid())) return std::nullopt;
    auto id = bpf::CgroupIdOf(*root + path);
    if (!id.ok()) return std::nullopt;
    return *id;
  }
  return std::nullopt;
}

namespace {

// Every address `host` resolves to (numeric hosts as they are).
Result<std::vector<std::string>> Resolve(const std::string& host) {
  std::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  if (!ec) return std::vector<std::string>{a.to_string()};
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0)
    return Error{"cannot resolve " + host + ": " + ::gai_strerror(rc)};
  std::vector<std::string> out;
  for (addrinfo* p = res; p; p = p->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* src =
        p->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
    if (::inet_ntop(p->ai_family, src, buf, sizeof(buf)) &&
        std::find(out.begin(), out.end(), buf) == out.end())
      out.emplace_back(buf);
  }
  ::freeaddrinfo(res);
  return out;
}

}  // namespace

KernelFlows::KernelFlows(asio::io_context& io, std::unique_ptr<bpf::FlowSource> source,
                         const grants::Clock& clock, PrincipalResolver::Options resolver)
    : source_(std::move(source)), resolver_(std::move(resolver)), table_(clock), events_(io) {
  if (int fd = source_->event_fd(); fd >= 0) {
    events_.assign(fd);
    WaitForEvents();
  }
}

KernelFlows::~KernelFlows() {
  std::error_code ec;
  events_.cancel(ec);
  if (events_.is_open()) (void)events_.release();  // the fd belongs to the flow source
}

void KernelFlows::WaitForEvents() {
  events_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
    if (ec) return;
    auto n = source_->Poll(0);
    if (!n.ok()) spdlog::warn("flows: ring buffer: {}", n.error().message);
    WaitForEvents();
  });
}

void KernelFlows::OnEvent(const bpf::FlowEvent& e) {
  grants::Principal principal = resolver_.Resolve(e.process);
  if (e.kind == bpf::FlowEvent::Kind::kEstablished) {
    if (metrics_) metrics_->Flow(e.verdict);
    if (e.verdict == bpf::FlowVerdict::kObserved && on_observed) on_observed(e.process, principal);
  }
  table_.Apply(e, principal, EndpointOf(e.original_dst));
}

std::string KernelFlows::EndpointOf(const std::string& address) const {
  auto it = endpoint_by_address_.find(CanonicalAddress(address));
  return it == endpoint_by_address_.end() ? std::string() : it->second;
}

Status KernelFlows::Configure(const config::v1::Config& config) {
  std::vector<bpf::RedirectEndpoint> set;
  std::map<std::string, std::string> names;
  for (const auto& e : config.endpoints()) {
    using E = config::v1::Endpoint;
    auto up = SplitHostPort(e.upstream());
    if (!up.ok()) return Error{"endpoint " + e.name() + ": " + up.error().message};
    auto addrs = Resolve(up->first);
    if (!addrs.ok()) return Error{"endpoint " + e.name() + ": " + addrs.error().message};
    const bool observe = e.access() == E::ACCESS_OBSERVE;
    std::pair<std::string, uint16_t> listen{up->first, up->second};
    if (!observe) {
      auto l = SplitHostPort(e.listen());
      if (!l.ok()) return Error{"endpoint " + e.name() + ": " + l.error().message};
      listen = *l;
    }
    for (const auto& a : *addrs) {
      bpf::RedirectEndpoint r;
      r.upstream_ip = a;
      r.upstream_port = up->second;
      r.listen_ip = observe ? a : listen.first;
      r.listen_port = listen.second;
      r.observe = observe;
      r.fail_open = e.fail_mode() == E::FAIL_MODE_OPEN;
      // An IPv6 upstream can only be redirected to an IPv6 listen address.
      std::error_code ec;
      auto ua = asio::ip::make_address(a, ec);
      auto la = asio::ip::make_address(r.listen_ip, ec);
      if (!ec && ua.is_v6() && !ua.to_v6().is_v4_mapped() && la.is_v4()) {
        spdlog::warn(
            "endpoint {}: upstream address {} is IPv6 but listen {} is IPv4; connects "
            "to it are not redirected (use an IPv6 listen address)",
            e.name(), a, e.listen());
        continue;
      }
      set.push_back(std::move(r));
      names[CanonicalAddress((ua.is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(up->second))] =
          e.name();
    }
  }
  if (auto st = source_->SetEndpoints(set); !st.ok()) return st;
  endpoint_by_address_ = std::move(names);
  spdlog::info("flows: {} kernel redirect entries for {} endpoints", set.size(),
               config.endpoints_size());
  return {};
}

void KernelFlows::Attribute(const asio::ip::tcp::endpoint& remote, PeerInfo* peer) {
  auto ip = remote.address();
  if (ip.is_v6() && ip.to_v6().is_v4_mapped())
    ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  auto flow = source_->LookupAccepted(ip.to_string(), remote.port());
  if (!flow) return;
  peer->principal = resolver_.Resolve(flow->process);
  peer->pid = static_cast<int32_t>(flow->process.tgid);
  peer->uid = flow->process.uid;
  peer->original_dst = flow->original_dst;
}

}  // namespace veil::agent
