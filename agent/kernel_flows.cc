#include "agent/kernel_flows.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <grp.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <resolv.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "agent/protocol/socket_names.h"
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

std::set<std::string> LocalAddresses() {
  std::set<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf,
                  sizeof(buf));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, buf,
                  sizeof(buf));
    } else {
      continue;
    }
    out.insert(buf);
  }
  ::freeifaddrs(list);
  return out;
}

namespace {

// The shortest TTL of `host`'s A and AAAA records, asked of the resolvers in resolv.conf;
// nullopt for a name DNS does not answer (one from /etc/hosts, or no DNS reachable): such a
// name is looked at on the periodic refresh only.
std::optional<std::chrono::seconds> DnsTtl(const std::string& host) {
  struct __res_state st {};
  if (::res_ninit(&st) != 0) return std::nullopt;
  // Runs on the io thread: one second per query at most, whatever resolv.conf says.
  st.retrans = 1;
  st.retry = 1;
  std::optional<std::chrono::seconds> best;
  for (int type : {ns_t_a, ns_t_aaaa}) {
    std::array<unsigned char, 4096> answer{};
    const int len = ::res_nquery(&st, host.c_str(), ns_c_in, type, answer.data(),
                                 static_cast<int>(answer.size()));
    if (len <= 0) continue;
    ns_msg msg;
    if (::ns_initparse(answer.data(), len, &msg) != 0) continue;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
      ns_rr rr;
      if (::ns_parserr(&msg, ns_s_an, i, &rr) != 0) break;
      if (ns_rr_type(rr) != type) continue;  // a CNAME's own TTL does not move the address
      const std::chrono::seconds ttl(ns_rr_ttl(rr));
      if (!best || ttl < *best) best = ttl;
    }
  }
  ::res_nclose(&st);
  return best;
}

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

// An address as text, IPv4-mapped IPv6 as IPv4; nullopt if not an address.
std::optional<asio::ip::address> ParseIp(const std::string& text) {
  std::error_code ec;
  auto a = asio::ip::make_address(text, ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

// 127.0.0.0/8, ::1, 0.0.0.0 and ::: what reaches this host from its own network namespace only.
bool IsLoopbackOrAny(const asio::ip::address& a) { return a.is_loopback() || a.is_unspecified(); }

bool SameEntry(const bpf::CoverageEntry& a, const bpf::CoverageEntry& b) {
  return a.prefix == b.prefix && a.port == b.port && a.listen_ip == b.listen_ip &&
         a.listen_port == b.listen_port && a.endpoint_id == b.endpoint_id &&
         a.observe == b.observe && a.fail_open == b.fail_open && a.loopback == b.loopback &&
         a.local == b.local && a.veild == b.veild;
}

bool SameUnix(const bpf::UnixCoverageEntry& a, const bpf::UnixCoverageEntry& b) {
  return a.name == b.name && a.redirect_path == b.redirect_path && a.endpoint_id == b.endpoint_id &&
         a.observe == b.observe && a.fail_open == b.fail_open && a.veild == b.veild;
}

std::string_view UnlistedName(config::v1::Agent::UnlistedDatabases u) {
  switch (u) {
    case config::v1::Agent::UNLISTED_DATABASES_ALLOW:
      return "allow";
    case config::v1::Agent::UNLISTED_DATABASES_DENY:
      return "deny";
    default:
      return "observe";
  }
}

// agent.direct_principals as the kernel can check them; what cannot be resolved now is a warning
// (a user created later is picked up by the next refresh).
bpf::Exemptions Exemptions(const config::v1::Agent& agent, std::vector<std::string>* warnings) {
  bpf::Exemptions ex;
  for (const std::string& spec : agent.direct_principals()) {
    const size_t colon = spec.find(':');
    if (colon == std::string::npos) continue;
    const std::string kind = spec.substr(0, colon), name = spec.substr(colon + 1);
    if (kind == "user") {
      if (const passwd* pw = ::getpwnam(name.c_str())) {
        ex.uids.push_back(pw->pw_uid);
      } else {
        warnings->push_back("direct_principals: no user " + name + " on this host");
      }
    } else if (kind == "group") {
      if (const group* gr = ::getgrnam(name.c_str())) {
        ex.gids.push_back(gr->gr_gid);
      } else {
        warnings->push_back("direct_principals: no group " + name + " on this host");
      }
    } else if (kind == "unit") {
      ex.cgroup_names.push_back(name);
    } else if (kind == "container") {
      // The scope names container runtimes give a container's cgroup under systemd.
      for (const char* prefix : {"docker-", "cri-containerd-", "crio-", "libpod-"})
        ex.cgroup_names.push_back(prefix + name + ".scope");
      ex.cgroup_names.push_back(name);
    } else if (kind == "exe") {
      struct stat st {};
      if (::stat(name.c_str(), &st) == 0) {
        ex.exes.emplace_back(st.st_dev, st.st_ino);
      } else {
        warnings->push_back("direct_principals: " + name + " does not exist");
      }
    }
  }
  return ex;
}

}  // namespace

Result<CoveragePlan> PlanCoverage(const config::v1::Config& config,
                                  const std::set<std::string>& local_addresses,
                                  const HostResolver& resolve,
                                  std::map<std::string, uint32_t>* endpoint_ids) {
  using E = config::v1::Endpoint;
  CoveragePlan plan;
  CoverageReport& report = plan.report;
  // (prefix, port) → the endpoint that has it: two endpoints cannot cover the same thing.
  std::map<std::pair<std::string, uint16_t>, std::string> claimed;
  std::set<std::string> unix_claimed;
  const std::filesystem::path socket_dir =
      std::filesystem::path(config.agent().control_socket()).parent_path();
  auto is_local = [&](const asio::ip::address& a) {
    return IsLoopbackOrAny(a) || local_addresses.count(a.to_string()) > 0;
  };
  uint32_t next_id = 1;
  for (const auto& [name, id] : *endpoint_ids) next_id = std::max(next_id, id + 1);

  for (const E& e : config.endpoints()) {
    auto [it, fresh] = endpoint_ids->emplace(e.name(), next_id);
    if (fresh) ++next_id;
    const uint32_t id = it->second;
    auto up = SplitHostPort(e.upstream());
    if (!up.ok()) return Error{"endpoint " + e.name() + ": " + up.error().message};
    const bool observe = e.access() == E::ACCESS_OBSERVE;
    std::pair<std::string, uint16_t> listen{"::", up->second};
    if (!observe) {
      auto l = SplitHostPort(e.listen());
      if (!l.ok()) return Error{"endpoint " + e.name() + ": " + l.error().message};
      listen = *l;
    }
    EndpointCoverage rep;
    rep.endpoint = e.name();
    rep.observe = observe;
    rep.port = up->second;
    rep.redirect_to = observe ? "" : e.listen();

    // The server's addresses: its upstream's, then the aliases'.
    std::vector<asio::ip::address> addrs;
    std::vector<std::string> cidrs;
    auto up_addrs = resolve(up->first);
    if (!up_addrs.ok()) return Error{"endpoint " + e.name() + ": " + up_addrs.error().message};
    for (const std::string& a : *up_addrs)
      if (auto ip = ParseIp(a)) addrs.push_back(*ip);
    for (const std::string& alias : e.aliases()) {
      if (alias.find('/') != std::string::npos) {
        cidrs.push_back(alias);
      } else if (auto ip = ParseIp(alias)) {
        addrs.push_back(*ip);
      } else if (auto r = resolve(alias); r.ok()) {
        for (const std::string& a : *r)
          if (auto ip = ParseIp(a)) addrs.push_back(*ip);
      } else {
        // A name that does not resolve here cannot be dialled here either; looked at again on
        // the next refresh.
        report.warnings.push_back("endpoint " + e.name() + ": alias " + alias + ": " +
                                  r.error().message);
      }
    }
    rep.local = std::any_of(addrs.begin(), addrs.end(), is_local);

    bpf::CoverageEntry base;
    base.port = up->second;
    base.listen_ip = listen.first;
    base.listen_port = listen.second;
    base.endpoint_id = id;
    base.observe = observe;
    base.fail_open = e.fail_mode() == E::FAIL_MODE_OPEN;
    // strict: the user named it (upstream, alias): a second endpoint with it is an error. A
    // local address an endpoint covers because its server is local goes to the first one.
    auto add = [&](const std::string& prefix, bool loopback, bool local, bool strict) -> Status {
      auto [c, inserted] = claimed.emplace(std::make_pair(prefix, base.port), e.name());
      if (!inserted) {
        if (c->second == e.name()) return {};
        if (strict) {
          return Error{"endpoint " + e.name() + ": " + prefix + " port " +
                       std::to_string(base.port) + " is already covered by endpoint " + c->second};
        }
        report.warnings.push_back("endpoint " + e.name() + ": " + prefix + " port " +
                                  std::to_string(base.port) + " stays with endpoint " + c->second);
        return {};
      }
      bpf::CoverageEntry entry = base;
      entry.prefix = prefix;
      entry.loopback = loopback;
      entry.local = local;
      plan.tcp.push_back(std::move(entry));
      rep.addresses.push_back(prefix);
      return {};
    };
    for (const auto& a : addrs) {
      if (Status s = add(a.to_string(), IsLoopbackOrAny(a), is_local(a) && !IsLoopbackOrAny(a),
                         /*strict=*/true);
          !s) {
        return s.error();
      }
    }
    for (const std::string& c : cidrs) {
      if (Status s = add(c, false, false, true); !s) return s.error();
    }
    if (rep.local) {
      for (const char* wide : {"127.0.0.0/8", "::1", "0.0.0.0", "::"})
        (void)add(wide, true, false, false);
      for (const std::string& a : local_addresses) {
        auto ip = ParseIp(a);
        if (ip && !IsLoopbackOrAny(*ip)) (void)add(ip->to_string(), false, true, false);
      }
      // A server on this host is also reachable at its unix socket: postgres's in whatever
      // folder it was created (.s.PGSQL.PORT), mysql's by the names its packages give it.
      std::vector<std::pair<std::string, std::string>> sockets;  // name, veild's socket
      if (e.protocol() == E::PROTOCOL_POSTGRES)
        sockets.emplace_back(PostgresSocketName(up->second),
                             (socket_dir / PostgresSocketName(listen.second)).string());
      if (e.protocol() == E::PROTOCOL_MYSQL)
        for (std::string_view name : kMySqlServerSocketNames)
          sockets.emplace_back(std::string(name),
                               (socket_dir / MySqlSocketName(listen.second)).string());
      for (auto& [name, redirect_path] : sockets) {
        bpf::UnixCoverageEntry u;
        u.name = name;
        u.redirect_path = redirect_path;
        u.endpoint_id = id;
        u.observe = observe;
        u.fail_open = base.fail_open;
        if (unix_claimed.insert(u.name).second) {
          rep.unix_sockets.push_back(u.name);
          rep.unix_redirect_to = observe ? "" : u.redirect_path;
          plan.unix.push_back(std::move(u));
        } else {
          report.warnings.push_back("endpoint " + e.name() + ": unix socket " + u.name +
                                    " stays with another endpoint");
        }
      }
    }
    report.endpoints.push_back(std::move(rep));
  }

  // veild's own listen addresses and sockets: a client that dials veild directly is never
  // refused or recorded as a database connect (with agent.unlisted_databases: deny and a listen
  // port that is a database port, it would be).
  for (const E& e : config.endpoints()) {
    if (e.access() == E::ACCESS_OBSERVE) continue;
    auto l = SplitHostPort(e.listen());
    if (!l.ok()) continue;
    auto ip = ParseIp(l->first);
    if (!ip) continue;
    std::vector<std::string> own;
    if (ip->is_unspecified()) {
      own = {"127.0.0.0/8", "0.0.0.0"};
      if (ip->is_v6()) own.insert(own.end(), {"::1", "::"});
      for (const std::string& a : local_addresses) {
        auto la = ParseIp(a);
        if (la && !IsLoopbackOrAny(*la) && (ip->is_v6() || la->is_v4())) own.push_back(a);
      }
    } else {
      own = {ip->to_string()};
    }
    for (const std::string& prefix : own) {
      if (!claimed.emplace(std::make_pair(prefix, l->second), "veild").second) continue;
      bpf::CoverageEntry v;
      v.prefix = prefix;
      v.port = l->second;
      v.veild = true;
      plan.tcp.push_back(std::move(v));
    }
    if (e.protocol() == E::PROTOCOL_POSTGRES || e.protocol() == E::PROTOCOL_MYSQL) {
      bpf::UnixCoverageEntry v;
      v.name = e.protocol() == E::PROTOCOL_POSTGRES ? PostgresSocketName(l->second)
                                                    : MySqlSocketName(l->second);
      v.veild = true;
      if (unix_claimed.insert(v.name).second) plan.unix.push_back(std::move(v));
    }
  }

  plan.policy.unlisted =
      config.agent().unlisted_databases() == config::v1::Agent::UNLISTED_DATABASES_DENY
          ? bpf::Unlisted::kDeny
      : config.agent().unlisted_databases() == config::v1::Agent::UNLISTED_DATABASES_ALLOW
          ? bpf::Unlisted::kAllow
          : bpf::Unlisted::kObserve;
  plan.policy.exempt = Exemptions(config.agent(), &report.warnings);
  for (const E& e : config.endpoints())
    if (auto up = SplitHostPort(e.upstream()); up.ok()) plan.policy.db_ports.push_back(up->second);
  report.unlisted = std::string(UnlistedName(config.agent().unlisted_databases()));
  report.direct_principals.assign(config.agent().direct_principals().begin(),
                                  config.agent().direct_principals().end());
  return plan;
}

KernelFlows::KernelFlows(asio::io_context& io, std::unique_ptr<bpf::FlowSource> source,
                         const grants::Clock& clock, PrincipalResolver::Options resolver)
    : source_(std::move(source)),
      resolver_(std::move(resolver)),
      table_(clock),
      events_(io),
      refresh_timer_(io),
      ifaddr_watch_(io),
      ifaddr_timer_(io) {
  if (int fd = source_->event_fd(); fd >= 0) {
    events_.assign(fd);
    WaitForEvents();
  }
}

KernelFlows::~KernelFlows() {
  std::error_code ec;
  refresh_timer_.cancel();
  ifaddr_timer_.cancel();
  ifaddr_watch_.close(ec);
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

std::string KernelFlows::EndpointName(uint32_t id) const {
  if (id == 0) return {};
  std::lock_guard lock(mu_);
  auto it = names_.find(id);
  return it == names_.end() ? std::string() : it->second;
}

void KernelFlows::OnEvent(const bpf::FlowEvent& e) {
  grants::Principal principal = resolver_.Resolve(e.process);
  std::string endpoint = EndpointName(e.endpoint_id);
  using Kind = bpf::FlowEvent::Kind;
  const bool opened =
      e.kind == Kind::kEstablished || e.kind == Kind::kDenied || e.kind == Kind::kUnix;
  if (opened && metrics_) metrics_->Flow(e.verdict);
  if (e.kind == Kind::kEstablished && e.verdict == bpf::FlowVerdict::kObserved && on_observed)
    on_observed(e.process, principal);
  if (e.verdict == bpf::FlowVerdict::kDenied && on_denied) {
    SessionContext s;
    // Refused connects have no session; the socket cookie (or inode) stands in for its id, in a
    // range of its own so it never names a proxied session.
    s.id = e.cookie | (1ull << 63);
    s.endpoint = endpoint;
    s.principal = principal;
    s.principal_display = principal.Display();
    s.pid = static_cast<int32_t>(e.process.tgid);
    s.src = e.src;
    s.dst = e.original_dst;
    if (e.kind != bpf::FlowEvent::Kind::kUnix) s.upstream = e.original_dst;
    std::string why;
    if (e.reason == bpf::FlowReason::kUnreachable) {
      why = "veil: connect to " + e.original_dst + " refused: endpoint " + endpoint +
            "'s listen address cannot be reached from the client (another network namespace, "
            "or an IPv4 socket and an IPv6 listen address)";
    } else {
      why = "veil: connect to " + e.original_dst +
            " refused: no endpoint covers it (agent.unlisted_databases: deny)";
    }
    on_denied(s, why);
  }
  table_.Apply(e, principal, std::move(endpoint));
}

Status KernelFlows::Apply(const config::v1::Config& config, bool log) {
  auto plan = PlanCoverage(config, LocalAddresses(), Resolve, &endpoint_ids_);
  if (!plan.ok()) return plan.error();
  const bool changed =
      plan->tcp.size() != last_tcp_.size() || plan->unix.size() != last_unix_.size() ||
      !std::equal(plan->tcp.begin(), plan->tcp.end(), last_tcp_.begin(), SameEntry) ||
      !std::equal(plan->unix.begin(), plan->unix.end(), last_unix_.begin(), SameUnix);
  // The policy (what is unlisted, who is exempt) before the coverage: in between, a connect to
  // an address that is about to be covered is at worst refused, never let through unrecorded.
  if (Status s = source_->SetPolicy(plan->policy); !s) return s;
  if (changed || log) {
    if (Status s = source_->SetCoverage(plan->tcp, plan->unix); !s) return s;
  }
  const bpf::UnixSupport unix = source_->unix_support();
  plan->report.unix_covered = unix.covered;
  plan->report.unix_why_not = unix.why_not;
  if (log || changed) {
    spdlog::info("flows: {} kernel coverage entries, {} unix socket names for {} endpoints",
                 plan->tcp.size(), plan->unix.size(), config.endpoints_size());
    for (const auto& w : plan->report.warnings) spdlog::warn("flows: {}", w);
  }
  last_tcp_ = std::move(plan->tcp);
  last_unix_ = std::move(plan->unix);
  std::lock_guard lock(mu_);
  names_.clear();
  for (const auto& [name, id] : endpoint_ids_) names_[id] = name;
  report_ = std::move(plan->report);
  return {};
}

Status KernelFlows::Configure(const config::v1::Config& config, std::chrono::seconds refresh) {
  if (Status s = Apply(config, /*log=*/true); !s) return s;
  config_ = config;
  refresh_ = refresh;
  const bpf::UnixSupport unix = source_->unix_support();
  if (!unix.covered) spdlog::warn("flows: unix-socket connects are NOT covered: {}", unix.why_not);
  ScheduleRefresh();
  if (!ifaddr_watch_.is_open()) WatchInterfaces();
  return {};
}

void KernelFlows::WatchInterfaces() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) {
    spdlog::warn("flows: cannot watch interface addresses ({}); they are looked at every {} s",
                 std::strerror(errno), refresh_.count());
    return;
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    spdlog::warn("flows: cannot watch interface addresses ({}); they are looked at every {} s",
                 std::strerror(errno), refresh_.count());
    ::close(fd);
    return;
  }
  ifaddr_watch_.assign(fd);
  ReadInterfaceChanges();
}

void KernelFlows::ReadInterfaceChanges() {
  ifaddr_watch_.async_read_some(asio::buffer(ifaddr_buf_), [this](std::error_code ec, size_t) {
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) return;
    if (ec && ec != asio::error::no_buffer_space) {
      spdlog::warn("flows: interface address watch: {}; addresses are looked at every {} s",
                   ec.message(), refresh_.count());
      return;
    }
    // Any address notification, or an overrun (ENOBUFS: some were lost), means the
    // host's addresses may have changed: plan again from getifaddrs() shortly.
    if (!ifaddr_pending_) {
      ifaddr_pending_ = true;
      ifaddr_timer_.expires_after(std::chrono::milliseconds(100));
      ifaddr_timer_.async_wait([this](std::error_code tec) {
        ifaddr_pending_ = false;
        if (tec) return;
        if (Status s = Apply(config_, /*log=*/false); !s)
          spdlog::warn("flows: coverage after an address change: {}; the previous stays",
                       s.error().message);
      });
    }
    ReadInterfaceChanges();
  });
}

// When to look again: every `refresh`, sooner when a host name's DNS TTL is shorter (never
// more often than once a second).
std::chrono::seconds KernelFlows::NextRefresh() const {
  std::chrono::seconds next = refresh_;
  auto consider = [&](const std::string& host) {
    std::error_code ec;
    (void)asio::ip::make_address(host, ec);
    if (!ec || host.find('/') != std::string::npos) return;  // an address or a CIDR
    if (auto ttl = DnsTtl(host)) next = std::min(next, std::max(*ttl, std::chrono::seconds(1)));
  };
  for (const auto& e : config_.endpoints()) {
    if (auto up = SplitHostPort(e.upstream()); up.ok()) consider(up->first);
    for (const std::string& alias : e.aliases()) consider(alias);
  }
  return next;
}

void KernelFlows::ScheduleRefresh() {
  if (refresh_.count() <= 0) return;
  const std::chrono::seconds next = NextRefresh();
  if (next != last_next_refresh_) {
    spdlog::info("flows: addresses and host names are looked at again every {} s{}", next.count(),
                 next < refresh_ ? " (a host name's DNS TTL)" : "");
    last_next_refresh_ = next;
  }
  refresh_timer_.expires_after(next);
  refresh_timer_.async_wait([this](std::error_code ec) {
    if (ec) return;
    if (Status s = Apply(config_, /*log=*/false); !s)
      spdlog::warn("flows: coverage refresh: {}; the previous coverage stays", s.error().message);
    ScheduleRefresh();
  });
}

CoverageReport KernelFlows::Coverage() const {
  std::lock_guard lock(mu_);
  return report_;
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

void KernelFlows::AttributeUnix(int fd, PeerInfo* peer) {
  const uint64_t inode = UnixPeerInode(fd);
  if (inode == 0) return;
  auto flow = source_->LookupUnix(inode);
  if (!flow || flow->verdict != bpf::FlowVerdict::kRedirected) return;
  peer->principal = resolver_.Resolve(flow->process);
  peer->pid = static_cast<int32_t>(flow->process.tgid);
  peer->uid = flow->process.uid;
  peer->original_dst = flow->original_dst;
}

uint64_t UnixPeerInode(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return 0;
  int nl = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return 0;
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = ~0u;
  msg.req.udiag_ino = static_cast<uint32_t>(st.st_ino);
  msg.req.udiag_show = UDIAG_SHOW_PEER;
  msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0u;  // INET_DIAG_NOCOOKIE
  uint64_t peer = 0;
  if (::send(nl, &msg, sizeof(msg), 0) == static_cast<ssize_t>(sizeof(msg))) {
    alignas(nlmsghdr) char buf[8192];
    ssize_t n = ::recv(nl, buf, sizeof(buf), 0);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); n > 0 && NLMSG_OK(h, n);
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) break;
      auto* m = static_cast<unix_diag_msg*>(NLMSG_DATA(h));
      int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
      for (auto* a = reinterpret_cast<rtattr*>(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t))
          peer = *static_cast<uint32_t*>(RTA_DATA(a));
      }
    }
  }
  ::close(nl);
  return peer;
}

}  // namespace veil::agent
