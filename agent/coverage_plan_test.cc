// PlanCoverage: what an endpoint covers in the kernel (issue 16), without the kernel. The eBPF
// side is exercised in tests/integration/test_bpf_coverage.py; here the plan's rules: a local
// server covers every local address and its unix socket, a remote one only its own addresses
// and aliases, two endpoints cannot both name an address, veild's own listen port is never
// refused, and the unlisted policy with its exemptions.
#include <gtest/gtest.h>

#include <algorithm>

#include "agent/kernel_flows.h"

namespace veil::agent {
namespace {

using config::v1::Agent;
using config::v1::Config;
using config::v1::Endpoint;

Endpoint* AddEndpoint(Config* c, const std::string& name, const std::string& upstream,
                      const std::string& listen) {
  Endpoint* e = c->add_endpoints();
  e->set_name(name);
  e->set_protocol(Endpoint::PROTOCOL_POSTGRES);
  e->set_upstream(upstream);
  e->set_listen(listen);
  return e;
}

// A resolver over a fixed table: names that are not in it do not resolve.
HostResolver Table(std::map<std::string, std::vector<std::string>> t) {
  return [t = std::move(t)](const std::string& host) -> Result<std::vector<std::string>> {
    if (auto it = t.find(host); it != t.end()) return it->second;
    if (host.find_first_not_of("0123456789.:abcdef") == std::string::npos)
      return std::vector<std::string>{host};
    return Error{"cannot resolve " + host};
  };
}

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

const bpf::CoverageEntry* Entry(const CoveragePlan& p, const std::string& prefix, uint16_t port) {
  for (const auto& e : p.tcp)
    if (e.prefix == prefix && e.port == port) return &e;
  return nullptr;
}

const std::set<std::string> kHost = {"127.0.0.1", "::1", "10.0.0.5", "fe80::1"};

TEST(PlanCoverage, ALocalServerCoversEveryLocalAddressAndItsUnixSocket) {
  Config c;
  c.mutable_agent()->set_control_socket("/run/veil/veil.sock");
  AddEndpoint(&c, "shop", "localhost:5432", "127.0.0.1:6432");
  std::map<std::string, uint32_t> ids;
  auto plan = PlanCoverage(c, kHost, Table({{"localhost", {"127.0.0.1", "::1"}}}), &ids);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->report.endpoints.size(), 1u);
  const EndpointCoverage& rep = plan->report.endpoints[0];
  EXPECT_TRUE(rep.local);
  for (const char* a : {"127.0.0.1", "::1", "127.0.0.0/8", "0.0.0.0", "::", "10.0.0.5", "fe80::1"})
    EXPECT_TRUE(Has(rep.addresses, a)) << a;
  const bpf::CoverageEntry* wide = Entry(*plan, "127.0.0.0/8", 5432);
  ASSERT_NE(wide, nullptr);
  EXPECT_EQ(wide->listen_ip, "127.0.0.1");
  EXPECT_EQ(wide->listen_port, 6432);
  EXPECT_TRUE(wide->loopback);
  const bpf::CoverageEntry* iface = Entry(*plan, "10.0.0.5", 5432);
  ASSERT_NE(iface, nullptr);
  EXPECT_TRUE(iface->local);  // reachable from other network namespaces
  EXPECT_FALSE(iface->loopback);
  ASSERT_EQ(rep.unix_sockets, std::vector<std::string>{".s.PGSQL.5432"});
  EXPECT_EQ(rep.unix_redirect_to, "/run/veil/.s.PGSQL.6432");
  // veild's own listen port and socket: never refused or recorded.
  const bpf::CoverageEntry* own = Entry(*plan, "127.0.0.1", 6432);
  ASSERT_NE(own, nullptr);
  EXPECT_TRUE(own->veild);
  EXPECT_TRUE(std::any_of(plan->unix.begin(), plan->unix.end(),
                          [](const auto& u) { return u.name == ".s.PGSQL.6432" && u.veild; }));
  EXPECT_EQ(ids.at("shop"), 1u);
}

TEST(PlanCoverage, ARemoteServerCoversItsAddressesAliasesAndCidrsOnly) {
  Config c;
  Endpoint* e = AddEndpoint(&c, "orders", "db.internal:5432", "127.0.0.1:6432");
  e->add_aliases("orders-replica.internal");
  e->add_aliases("10.9.0.0/16");
  e->add_aliases("2001:db8::7");
  e->add_aliases("gone.internal");
  std::map<std::string, uint32_t> ids;
  auto plan = PlanCoverage(
      c, kHost,
      Table({{"db.internal", {"10.1.2.3"}}, {"orders-replica.internal", {"10.1.2.4", "fd00::4"}}}),
      &ids);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  const EndpointCoverage& rep = plan->report.endpoints[0];
  EXPECT_FALSE(rep.local);
  EXPECT_EQ(rep.addresses, (std::vector<std::string>{"10.1.2.3", "10.1.2.4", "fd00::4",
                                                     "2001:db8::7", "10.9.0.0/16"}));
  EXPECT_TRUE(rep.unix_sockets.empty());
  EXPECT_EQ(Entry(*plan, "127.0.0.0/8", 5432), nullptr);
  EXPECT_EQ(Entry(*plan, "10.0.0.5", 5432), nullptr);
  // An alias that does not resolve is a warning, not an error: looked at again later.
  ASSERT_EQ(plan->report.warnings.size(), 1u);
  EXPECT_NE(plan->report.warnings[0].find("gone.internal"), std::string::npos);
}

TEST(PlanCoverage, TwoEndpointsNamingOneAddressIsAnError) {
  Config c;
  AddEndpoint(&c, "a", "10.1.2.3:5432", "127.0.0.1:6432");
  Endpoint* b = AddEndpoint(&c, "b", "db-b.internal:5432", "127.0.0.1:6433");
  b->add_aliases("10.1.2.3");
  std::map<std::string, uint32_t> ids;
  auto plan = PlanCoverage(c, kHost, Table({{"db-b.internal", {"10.1.2.9"}}}), &ids);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("already covered by endpoint a"), std::string::npos)
      << plan.error().message;
}

TEST(PlanCoverage, EndpointIdsStayStableAcrossReloads) {
  Config c;
  AddEndpoint(&c, "a", "10.1.2.3:5432", "127.0.0.1:6432");
  AddEndpoint(&c, "b", "10.1.2.4:5432", "127.0.0.1:6433");
  std::map<std::string, uint32_t> ids;
  ASSERT_TRUE(PlanCoverage(c, kHost, Table({}), &ids).ok());
  Config reloaded;
  AddEndpoint(&reloaded, "b", "10.1.2.4:5432", "127.0.0.1:6433");
  AddEndpoint(&reloaded, "c", "10.1.2.5:5432", "127.0.0.1:6434");
  auto plan = PlanCoverage(reloaded, kHost, Table({}), &ids);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(ids.at("a"), 1u);
  EXPECT_EQ(ids.at("b"), 2u);
  EXPECT_EQ(ids.at("c"), 3u);
  EXPECT_EQ(Entry(*plan, "10.1.2.4", 5432)->endpoint_id, 2u);
}

TEST(PlanCoverage, UnlistedPolicyAndExemptions) {
  Config c;
  c.mutable_agent()->set_unlisted_databases(Agent::UNLISTED_DATABASES_DENY);
  c.mutable_agent()->add_direct_principals("user:root");
  c.mutable_agent()->add_direct_principals("unit:postgresql.service");
  c.mutable_agent()->add_direct_principals("container:abc123");
  c.mutable_agent()->add_direct_principals("user:no-such-user-veil");
  AddEndpoint(&c, "a", "10.1.2.3:15432", "127.0.0.1:6432");
  std::map<std::string, uint32_t> ids;
  auto plan = PlanCoverage(c, kHost, Table({}), &ids);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->policy.unlisted, bpf::Unlisted::kDeny);
  EXPECT_EQ(plan->report.unlisted, "deny");
  EXPECT_TRUE(Has(std::vector<std::string>(plan->report.direct_principals.begin(),
                                           plan->report.direct_principals.end()),
                  "unit:postgresql.service"));
  EXPECT_EQ(plan->policy.exempt.uids, std::vector<uint32_t>{0});
  EXPECT_TRUE(Has(plan->policy.exempt.cgroup_names, "postgresql.service"));
  EXPECT_TRUE(Has(plan->policy.exempt.cgroup_names, "docker-abc123.scope"));
  // Every endpoint's port is a database port for the unlisted policy.
  EXPECT_NE(std::find(plan->policy.db_ports.begin(), plan->policy.db_ports.end(), 15432),
            plan->policy.db_ports.end());
  EXPECT_TRUE(std::any_of(
      plan->report.warnings.begin(), plan->report.warnings.end(),
      [](const std::string& w) { return w.find("no-such-user-veil") != std::string::npos; }));
}

}  // namespace
}  // namespace veil::agent
