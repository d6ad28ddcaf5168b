#include "config/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace veil::config {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::SizeIs;
using v1::MaskingProfile;

std::vector<std::string> Errors(std::string_view yaml) {
  LoadResult r = LoadString(yaml, "veil.yaml");
  std::vector<std::string> out;
  if (auto* diags = std::get_if<std::vector<Diagnostic>>(&r)) {
    for (const auto& d : *diags) out.push_back(d.ToString());
  }
  return out;
}

LoadedConfig MustLoad(const LoadResult& r) {
  if (const auto* diags = std::get_if<std::vector<Diagnostic>>(&r)) {
    for (const auto& d : *diags) ADD_FAILURE() << d.ToString();
    return LoadedConfig{};
  }
  return std::get<LoadedConfig>(r);
}

// One endpoint, lines 1-5; cases append to it.
constexpr char kEndpoint[] =
    "endpoints:\n"
    "  - name: orders-db\n"
    "    protocol: postgres\n"
    "    upstream: 10.0.0.5:5432\n"
    "    listen: 127.0.0.1:15432\n";

TEST(LoaderExample, SpecExampleLoadsWithItsValues) {
  LoadedConfig c = MustLoad(LoadFile(VEIL_CONFIG_EXAMPLES "/veil.yaml"));
  const v1::Config& cfg = c.config;

  EXPECT_EQ(cfg.agent().state_dir(), "/var/lib/veil");
  EXPECT_EQ(cfg.agent().control_socket(), "/run/veil/veil.sock");
  EXPECT_EQ(cfg.agent().metrics_listen(), "127.0.0.1:9464");
  EXPECT_EQ(cfg.agent().redirect(), v1::Agent::REDIRECT_EBPF);

  ASSERT_EQ(cfg.endpoints_size(), 1);
  const v1::Endpoint& ep = cfg.endpoints(0);
  EXPECT_EQ(ep.name(), "orders-db");
  EXPECT_EQ(ep.protocol(), v1::Endpoint::PROTOCOL_POSTGRES);
  EXPECT_EQ(ep.upstream(), "10.0.0.5:5432");
  EXPECT_EQ(ep.listen(), "127.0.0.1:15432");
  EXPECT_EQ(ep.access(), v1::Endpoint::ACCESS_GRANT);
  EXPECT_EQ(ep.fail_mode(), v1::Endpoint::FAIL_MODE_CLOSED);
  EXPECT_EQ(ep.tls().client(), v1::Tls::CLIENT_TLS_PREFER);
  EXPECT_EQ(ep.tls().upstream(), v1::Tls::UPSTREAM_TLS_VERIFY_FULL);
  EXPECT_EQ(ep.tls().upstream_ca(), "/etc/veil/db-ca.pem");
  EXPECT_EQ(ep.masking(), "default");
  ASSERT_EQ(ep.guardrails_size(), 3);
  EXPECT_EQ(ep.guardrails(0).builtin(), v1::Guardrail::BUILTIN_READ_ONLY);
  EXPECT_EQ(ep.guardrails(1).builtin(), v1::Guardrail::BUILTIN_NO_DDL);
  EXPECT_EQ(ep.guardrails(2).builtin(), v1::Guardrail::BUILTIN_NO_UNBOUNDED_WRITE);

  EXPECT_EQ(cfg.masking().key_file(), "/var/lib/veil/keys/mask.key");
  ASSERT_EQ(cfg.masking().profiles().size(), 1u);
  const MaskingProfile& p = cfg.masking().profiles().at("default");
  EXPECT_THAT(p.entities(), ElementsAre("all"));
  EXPECT_EQ(p.strategies().size(), 3u);
  EXPECT_EQ(p.strategies().at("EMAIL"), MaskingProfile::STRATEGY_HASH);
  EXPECT_EQ(p.strategies().at("CREDIT_CARD"), MaskingProfile::STRATEGY_PARTIAL);
  EXPECT_EQ(p.strategies().at("default"), MaskingProfile::STRATEGY_REDACT);
  ASSERT_EQ(p.columns_size(), 3);
  EXPECT_EQ(p.columns(0).match(), "*.ssn");
  EXPECT_EQ(p.columns(0).entity(), "US_SSN");
  EXPECT_EQ(p.columns(0).action(), v1::ColumnRule::ACTION_MASK);
  EXPECT_EQ(p.columns(1).match(), "*.notes");
  EXPECT_TRUE(p.columns(1).scan());
  EXPECT_EQ(p.columns(2).match(), "audit.*");
  EXPECT_EQ(p.columns(2).action(), v1::ColumnRule::ACTION_PASS);
  EXPECT_FALSE(p.columns(2).scan());

  ASSERT_EQ(cfg.grants().policies_size(), 1);
  const v1::Policy& pol = cfg.grants().policies(0);
  EXPECT_THAT(pol.endpoints(), ElementsAre("orders-db"));
  EXPECT_THAT(pol.requesters(), ElementsAre("group:dev"));
  EXPECT_THAT(pol.approvers(), ElementsAre("group:dba"));
  EXPECT_EQ(pol.approvals(), 1u);
  EXPECT_EQ(pol.max_ttl().seconds(), 4 * 3600);
  EXPECT_THAT(pol.auto_approve(), ElementsAre("group:oncall"));
  EXPECT_EQ(pol.pending_ttl().seconds(), 3600);  // default
  ASSERT_EQ(cfg.grants().standing_size(), 1);
  const v1::StandingGrant& sg = cfg.grants().standing(0);
  EXPECT_EQ(sg.principal(), "unit:etl.service");
  EXPECT_THAT(sg.endpoints(), ElementsAre("orders-db"));
  EXPECT_EQ(sg.access(), v1::StandingGrant::ACCESS_READ);
  EXPECT_EQ(sg.masking(), "default");

  ASSERT_EQ(cfg.events().sinks_size(), 2);
  EXPECT_EQ(cfg.events().sinks(0).type(), v1::Sink::TYPE_FILE);
  EXPECT_EQ(cfg.events().sinks(0).path(), "/var/log/veil/events.jsonl");
  EXPECT_EQ(cfg.events().sinks(0).max_size(), 100u * 1024 * 1024);
  EXPECT_EQ(cfg.events().sinks(0).keep(), 10u);
  EXPECT_EQ(cfg.events().sinks(1).type(), v1::Sink::TYPE_SYSLOG);
  EXPECT_EQ(cfg.events().sinks(1).address(), "unix:///dev/log");

  // Positions are 1-based and point at the value.
  auto pos = c.positions.Find("endpoints[0].upstream");
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ(pos->line, 10);
  EXPECT_EQ(pos->col, 15);
  pos = c.positions.Find("masking.profiles.default.strategies.EMAIL");
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ(pos->line, 25);
  EXPECT_EQ(pos->col, 27);
  EXPECT_EQ(c.At("masking.profiles.default.entities[0]", "unknown entity").ToString(),
            std::string(VEIL_CONFIG_EXAMPLES) + "/veil.yaml:24:17: unknown entity");
}

TEST(LoaderExample, MinimalGetsEveryDefault) {
  LoadedConfig c = MustLoad(LoadFile(VEIL_CONFIG_EXAMPLES "/minimal.yaml"));
  const v1::Config& cfg = c.config;
  EXPECT_EQ(cfg.agent().state_dir(), "/var/lib/veil");
  EXPECT_EQ(cfg.agent().control_socket(), "/run/veil/veil.sock");
  EXPECT_EQ(cfg.agent().metrics_listen(), "127.0.0.1:9464");
  EXPECT_EQ(cfg.agent().redirect(), v1::Agent::REDIRECT_EBPF);
  ASSERT_EQ(cfg.endpoints_size(), 1);
  const v1::Endpoint& ep = cfg.endpoints(0);
  EXPECT_EQ(ep.access(), v1::Endpoint::ACCESS_GRANT);
  EXPECT_EQ(ep.fail_mode(), v1::Endpoint::FAIL_MODE_CLOSED);
  EXPECT_EQ(ep.tls().client(), v1::Tls::CLIENT_TLS_PREFER);
  EXPECT_EQ(ep.tls().upstream(), v1::Tls::UPSTREAM_TLS_VERIFY_FULL);
  EXPECT_EQ(ep.masking(), "default");
  EXPECT_EQ(ep.guardrails_size(), 0);
  EXPECT_EQ(cfg.masking().key_file(), "/var/lib/veil/keys/mask.key");
  ASSERT_TRUE(cfg.masking().profiles().contains("default"));
  const MaskingProfile& p = cfg.masking().profiles().at("default");
  EXPECT_THAT(p.entities(), ElementsAre("all"));
  EXPECT_EQ(p.strategies().size(), 1u);
  EXPECT_EQ(p.strategies().at("default"), MaskingProfile::STRATEGY_REDACT);
  EXPECT_DOUBLE_EQ(p.min_score(), 0.5);
  EXPECT_EQ(p.date_shift_days(), 30u);
  ASSERT_EQ(cfg.events().sinks_size(), 1);
  EXPECT_EQ(cfg.events().sinks(0).type(), v1::Sink::TYPE_FILE);
  EXPECT_EQ(cfg.events().sinks(0).path(), "/var/log/veil/events.jsonl");
  EXPECT_EQ(cfg.events().sinks(0).max_size(), 100u << 20);
  EXPECT_EQ(cfg.events().sinks(0).keep(), 10u);
  EXPECT_EQ(cfg.events().sinks(0).format(), v1::Sink::FORMAT_OCSF_JSON);
  EXPECT_EQ(cfg.grants().policies_size(), 0);
  EXPECT_FALSE(c.positions.Find("agent.state_dir").has_value());  // defaults have no position
}

TEST(LoaderDefaults, EmptyFileIsAllDefaults) {
  LoadedConfig c = MustLoad(LoadString("", "empty.yaml"));
  EXPECT_EQ(c.config.endpoints_size(), 0);
  EXPECT_EQ(c.config.agent().state_dir(), "/var/lib/veil");
  EXPECT_TRUE(c.config.masking().profiles().contains("default"));
  EXPECT_EQ(c.config.events().sinks_size(), 1);
}

TEST(LoaderDefaults, KeyFileFollowsStateDirAndPolicyDefaults) {
  LoadedConfig c = MustLoad(LoadString(std::string(kEndpoint) +
                                           "agent: {state_dir: /srv/veil/, metrics_listen: \"\"}\n"
                                           "grants:\n"
                                           "  policies:\n"
                                           "    - {endpoints: [orders-db], requesters: [user:bob],"
                                           " approvers: [group:dba]}\n",
                                       "veil.yaml"));
  EXPECT_EQ(c.config.masking().key_file(), "/srv/veil/keys/mask.key");
  EXPECT_EQ(c.config.agent().metrics_listen(), "");  // "" disables, and is not replaced
  const v1::Policy& p = c.config.grants().policies(0);
  EXPECT_EQ(p.approvals(), 1u);
  EXPECT_EQ(p.max_ttl().seconds(), 8 * 3600);
  EXPECT_EQ(p.pending_ttl().seconds(), 3600);
}

TEST(LoaderValues, FakeStrategyWhereverStrategiesAre) {
  LoadedConfig c =
      MustLoad(LoadString("masking:\n"
                          "  profiles:\n"
                          "    sandbox:\n"
                          "      strategies: {EMAIL: fake, PERSON_NAME: fake, default: fake}\n"
                          "      date_shift_days: 90\n"
                          "      custom:\n"
                          "        - {name: ACME_ID, pattern: \"ACME-[0-9]{6}\", strategy: fake}\n"
                          "      columns:\n"
                          "        - {match: \"*.dob\", entity: DATE_OF_BIRTH, strategy: fake}\n",
                          "veil.yaml"));
  const MaskingProfile& p = c.config.masking().profiles().at("sandbox");
  EXPECT_EQ(p.strategies().at("EMAIL"), MaskingProfile::STRATEGY_FAKE);
  EXPECT_EQ(p.strategies().at("PERSON_NAME"), MaskingProfile::STRATEGY_FAKE);
  EXPECT_EQ(p.strategies().at("default"), MaskingProfile::STRATEGY_FAKE);
  EXPECT_EQ(p.custom(0).strategy(), MaskingProfile::STRATEGY_FAKE);
  EXPECT_EQ(p.columns(0).strategy(), MaskingProfile::STRATEGY_FAKE);
  EXPECT_EQ(p.date_shift_days(), 90u);
}

TEST(LoaderValues, GrantNotifyTargets) {
  LoadedConfig c = MustLoad(
      LoadString("grants:\n"
                 "  notify:\n"
                 "    - {type: slack, url: \"https://hooks.slack.com/services/T0/B0/XXXX\"}\n"
                 "    - type: json\n"
                 "      url_file: /etc/veil/webhook.url\n"
                 "      events: [requested, approved]\n"
                 "      timeout: 2s\n"
                 "      ca_file: /etc/veil/hook-ca.pem\n"
                 "    - {type: json, url: \"http://[::1]:8080/veil\", events: revoked}\n",
                 "veil.yaml"));
  const auto& n = c.config.grants().notify();
  ASSERT_EQ(n.size(), 3);
  EXPECT_EQ(n[0].type(), v1::Notify::TYPE_SLACK);
  EXPECT_EQ(n[0].url(), "https://hooks.slack.com/services/T0/B0/XXXX");
  // Every change by default, 5s per attempt.
  EXPECT_THAT(n[0].events(), ElementsAre(v1::Notify::EVENT_REQUESTED, v1::Notify::EVENT_ISSUED,
                                         v1::Notify::EVENT_APPROVED, v1::Notify::EVENT_DENIED,
                                         v1::Notify::EVENT_EXPIRED, v1::Notify::EVENT_REVOKED));
  EXPECT_EQ(n[0].timeout().seconds(), 5);
  EXPECT_EQ(n[1].type(), v1::Notify::TYPE_JSON);
  EXPECT_EQ(n[1].url_file(), "/etc/veil/webhook.url");
  EXPECT_THAT(n[1].events(), ElementsAre(v1::Notify::EVENT_REQUESTED, v1::Notify::EVENT_APPROVED));
  EXPECT_EQ(n[1].timeout().seconds(), 2);
  EXPECT_EQ(n[1].ca_file(), "/etc/veil/hook-ca.pem");
  EXPECT_THAT(n[2].events(), ElementsAre(v1::Notify::EVENT_REVOKED));
}

TEST(LoaderValues, FormsTheSpecAllows) {
  LoadedConfig c = MustLoad(LoadString(
      std::string(kEndpoint) +
          "    guardrails: [no-ddl, {max-rows: 1000}, {max_rows: 5}, {deny: "
          "\"(?i)drop\\\\s+table\"}]\n"
          "  - {name: v6, protocol: mysql, upstream: \"[::1]:3306\", listen: \"[::1]:13306\",\n"
          "     access: observe, fail_mode: open, tls: {client: require, upstream: disable}}\n"
          "masking:\n"
          "  profiles:\n"
          "    strict:\n"
          "      entities: [EMAIL, US_SSN, ACME_ID]\n"
          "      strategies: {EMAIL: null, US_SSN: \"null\", default: fpe}\n"
          "      min_score: 0.7\n"
          "      custom:\n"
          "        - {name: ACME_ID, pattern: \"ACME-[0-9]{6}\", context: [acme, customer],"
          " score: 0.9, strategy: hash}\n"
          "      columns:\n"
          "        - {match: \"billing.cards.number\", entity: CREDIT_CARD, strategy: partial}\n"
          "grants:\n"
          "  policies:\n"
          "    - endpoints: [orders-db, v6]\n"
          "      requesters: [\"user:alice\", \"exe:/usr/bin/psql\", \"container:0123456789ab\"]\n"
          "      auto_approve: [unit:ci-runner@1.service]\n"
          "      max_ttl: 1h30m\n"
          "      pending_ttl: 1d\n"
          "events:\n"
          "  sinks:\n"
          "    - {type: file, path: /tmp/e.jsonl, max_size: 1GB}\n"
          "    - {type: syslog, address: \"udp://[::1]:514\"}\n"
          "    - {type: stdout}\n",
      "veil.yaml"));
  const v1::Config& cfg = c.config;
  ASSERT_EQ(cfg.endpoints_size(), 2);
  const auto& g = cfg.endpoints(0).guardrails();
  ASSERT_EQ(g.size(), 4);
  EXPECT_EQ(g[0].builtin(), v1::Guardrail::BUILTIN_NO_DDL);
  EXPECT_EQ(g[1].kind_case(), v1::Guardrail::kMaxRows);
  EXPECT_EQ(g[1].max_rows(), 1000u);
  EXPECT_EQ(g[2].max_rows(), 5u);
  EXPECT_EQ(g[3].deny(), "(?i)drop\\s+table");
  const v1::Endpoint& v6 = cfg.endpoints(1);
  EXPECT_EQ(v6.protocol(), v1::Endpoint::PROTOCOL_MYSQL);
  EXPECT_EQ(v6.access(), v1::Endpoint::ACCESS_OBSERVE);
  EXPECT_EQ(v6.fail_mode(), v1::Endpoint::FAIL_MODE_OPEN);
  EXPECT_EQ(v6.tls().client(), v1::Tls::CLIENT_TLS_REQUIRE);
  EXPECT_EQ(v6.tls().upstream(), v1::Tls::UPSTREAM_TLS_DISABLE);

  ASSERT_EQ(cfg.masking().profiles().size(), 2u);  // strict + the implicit default
  const MaskingProfile& p = cfg.masking().profiles().at("strict");
  EXPECT_THAT(p.entities(), ElementsAre("EMAIL", "US_SSN", "ACME_ID"));
  EXPECT_EQ(p.strategies().at("EMAIL"), MaskingProfile::STRATEGY_NULL);   // unquoted null
  EXPECT_EQ(p.strategies().at("US_SSN"), MaskingProfile::STRATEGY_NULL);  // "null"
  EXPECT_EQ(p.strategies().at("default"), MaskingProfile::STRATEGY_FPE);
  EXPECT_DOUBLE_EQ(p.min_score(), 0.7);
  ASSERT_EQ(p.custom_size(), 1);
  EXPECT_EQ(p.custom(0).name(), "ACME_ID");
  EXPECT_EQ(p.custom(0).pattern(), "ACME-[0-9]{6}");
  EXPECT_THAT(p.custom(0).context(), ElementsAre("acme", "customer"));
  EXPECT_DOUBLE_EQ(p.custom(0).score(), 0.9);
  EXPECT_EQ(p.custom(0).strategy(), MaskingProfile::STRATEGY_HASH);
  EXPECT_EQ(p.columns(0).strategy(), MaskingProfile::STRATEGY_PARTIAL);
  EXPECT_THAT(cfg.masking().profiles().at("default").entities(), ElementsAre("all"));

  const v1::Policy& pol = cfg.grants().policies(0);
  EXPECT_EQ(pol.max_ttl().seconds(), 5400);
  EXPECT_EQ(pol.pending_ttl().seconds(), 86400);
  EXPECT_EQ(pol.approvals(), 0u);  // auto_approve only

  ASSERT_EQ(cfg.events().sinks_size(), 3);
  EXPECT_EQ(cfg.events().sinks(0).max_size(), 1000000000u);
  EXPECT_EQ(cfg.events().sinks(0).keep(), 10u);
  EXPECT_EQ(cfg.events().sinks(1).address(), "udp://[::1]:514");
  EXPECT_EQ(cfg.events().sinks(2).type(), v1::Sink::TYPE_STDOUT);
  EXPECT_EQ(cfg.events().sinks(2).path(), "");

  EXPECT_EQ(c.At("masking.profiles.strict.entities[2]", "unknown entity ACME_ID").ToString(),
            "veil.yaml:12:33: unknown entity ACME_ID");
  // A path that was defaulted reports at its nearest enclosing value.
  EXPECT_EQ(c.At("endpoints[0].tls.client", "x").ToString(), "veil.yaml:2:5: x");
}

struct BadCase {
  const char* what;
  std::string yaml;
  std::vector<std::string> errors;
};

std::ostream& operator<<(std::ostream& os, const BadCase& c) { return os << c.what; }

class LoaderBadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(LoaderBadConfig, ReportsExactly) {
  EXPECT_THAT(Errors(GetParam().yaml), ElementsAreArray(GetParam().errors)) << GetParam().yaml;
}

std::string E(std::string extra) { return kEndpoint + extra; }

const BadCase kBadCases[] = {
    {"unknown key with suggestion",
     "endpoints:\n"
     "  - name: orders-db\n"
     "    protocol: postgres\n"
     "    upstrem: 10.0.0.5:5432\n"
     "    listen: 127.0.0.1:15432\n",
     {"veil.yaml:2:5: missing required key \"upstream\" in endpoints[0]",
      "veil.yaml:4:5: unknown key \"upstrem\" in endpoints[0] (did you mean \"upstream\"?)"}},
    {"unknown top-level key",
     "agnet: {}\n",
     {"veil.yaml:1:1: unknown key \"agnet\" at top level (did you mean \"agent\"?)"}},
    {"unknown key without a near match",
     E("    colour: blue\n"),
     {"veil.yaml:6:5: unknown key \"colour\" in endpoints[0]"}},
    {"bad enum value",
     E("    access: grnt\n"),
     {"veil.yaml:6:13: access: \"grnt\" is not one of grant, open, observe (did you mean "
      "\"grant\"?)"}},
    {"UNSPECIFIED is not a value",
     E("    fail_mode: unspecified\n"),
     {"veil.yaml:6:16: fail_mode: \"unspecified\" is not one of closed, open"}},
    {"map where a list is expected",
     "endpoints: {name: x}\n",
     {"veil.yaml:1:12: endpoints: expected a list, got a map"}},
    {"list where a map is expected",
     "agent: [a, b]\n",
     {"veil.yaml:1:8: agent: expected a map, got a list"}},
    {"string for a number",
     E("grants:\n  policies:\n    - {endpoints: [orders-db], requesters: [user:a], approvers: "
       "[user:b], approvals: one}\n"),
     {"veil.yaml:8:86: approvals: expected an integer, got \"one\""}},
    {"quoted number",
     E("events:\n  sinks: [{type: file, keep: \"10\"}]\n"),
     {"veil.yaml:7:30: keep: expected an integer, got the quoted string \"10\""}},
    {"negative number",
     E("events:\n  sinks: [{type: file, keep: -1}]\n"),
     {"veil.yaml:7:30: keep: must not be negative, got -1"}},
    {"bool",
     "masking:\n  profiles:\n    p: {columns: [{match: \"*.a\", scan: yes}]}\n",
     {"veil.yaml:3:40: scan: expected true or false, got \"yes\""}},
    {"bad duration",
     E("grants:\n  policies:\n    - endpoints: [orders-db]\n      auto_approve: [user:a]\n"
       "      max_ttl: 4hours\n"),
     {"veil.yaml:10:16: max_ttl: \"4hours\" is not a duration (expected e.g. 90s, 30m, 4h, "
      "1h30m, 1d)"}},
    {"zero duration",
     E("grants:\n  policies:\n    - endpoints: [orders-db]\n      auto_approve: [user:a]\n"
       "      pending_ttl: 0s\n"),
     {"veil.yaml:10:20: pending_ttl: the duration must be positive"}},
    {"bad size",
     E("events:\n  sinks: [{type: file, max_size: 100 mb}]\n"),
     {"veil.yaml:7:34: max_size: \"100 mb\" is not a byte size (expected e.g. 512, 64KiB, "
      "100MiB, 1GB)"}},
    {"host without port",
     "endpoints:\n  - {name: a, protocol: postgres, upstream: 10.0.0.5, "
     "listen: 127.0.0.1:1}\n",
     {"veil.yaml:2:45: upstream: \"10.0.0.5\" is not a host:port (missing \":port\")"}},
    {"port out of range",
     "endpoints:\n  - {name: a, protocol: postgres, upstream: db:70000, listen: 127.0.0.1:1}\n",
     {"veil.yaml:2:45: upstream: \"db:70000\" is not a host:port (port must be 1-65535)"}},
    {"IPv6 without brackets",
     "endpoints:\n  - {name: a, protocol: postgres, upstream: \"::1:5432\", listen: "
     "127.0.0.1:1}\n",
     {"veil.yaml:2:45: upstream: \"::1:5432\" is not a host:port (write an IPv6 address in "
      "brackets, e.g. [::1]:5432)"}},
    {"bad IPv4",
     "agent: {metrics_listen: 300.1.1.1:9464}\n",
     {"veil.yaml:1:25: metrics_listen: \"300.1.1.1:9464\" is not a host:port (bad IPv4 "
      "address)"}},
    {"bad principal",
     E("grants:\n  policies:\n    - endpoints: [orders-db]\n      requesters: [grp:dev]\n"
       "      auto_approve: [user:a]\n"),
     {"veil.yaml:9:20: requesters[0]: \"grp:dev\" is not a principal (expected user:NAME, "
      "group:NAME, unit:NAME.service, container:ID or exe:/abs/path)"}},
    {"unit principal without .service",
     E("grants:\n  standing:\n    - {principal: \"unit:etl\", endpoints: [orders-db]}\n"),
     {"veil.yaml:8:19: principal: \"unit:etl\" is not a principal (expected "
      "unit:NAME.service)"}},
    {"duplicate endpoint name",
     E("  - {name: orders-db, protocol: postgres, upstream: 10.0.0.6:5432, listen: "
       "127.0.0.1:15433}\n"),
     {"veil.yaml:6:12: name: duplicate endpoint name \"orders-db\" (first in endpoints[0], "
      "line 2)"}},
    {"duplicate listen address",
     E("  - {name: b, protocol: postgres, upstream: 10.0.0.6:5432, listen: "
       "127.0.0.1:15432}\n"),
     {"veil.yaml:6:68: listen: duplicate listen address \"127.0.0.1:15432\" (first in "
      "endpoints[0], line 5)"}},
    {"bad endpoint name",
     "endpoints:\n  - {name: Orders_DB, protocol: postgres, upstream: a:1, listen: b:2}\n",
     {"veil.yaml:2:12: name: \"Orders_DB\" is not a valid name (use a-z, 0-9 and '-', at most "
      "63 characters)"}},
    {"missing profile reference",
     E("    masking: strcit\nmasking: {profiles: {strict: {}}}\n"),
     {"veil.yaml:6:14: masking: masking profile \"strcit\" does not exist (did you mean "
      "\"strict\"?)"}},
    {"policy references a missing endpoint",
     E("grants:\n  policies:\n    - endpoints: [ordres-db]\n      auto_approve: [user:a]\n"),
     {"veil.yaml:8:19: endpoints[0]: endpoint \"ordres-db\" does not exist (did you mean "
      "\"orders-db\"?)"}},
    {"standing grant references a missing profile",
     E("grants:\n  standing:\n    - {principal: \"user:etl\", endpoints: [orders-db], masking: "
       "pii}\n"),
     {"veil.yaml:8:64: masking: masking profile \"pii\" does not exist"}},
    {"approvals 0 with approvers",
     E("grants:\n  policies:\n    - {endpoints: [orders-db], requesters: [user:a], approvers: "
       "[user:b], approvals: 0}\n"),
     {"veil.yaml:8:86: approvals: must be at least 1 when approvers are given"}},
    {"YAML syntax error",
     "endpoints:\n  - name: [a, b\n",
     {"veil.yaml:3:1: invalid YAML: end of sequence flow not found"}},
    {"duplicate YAML key",
     "agent:\n  redirect: off\n  redirect: ebpf\n",
     {"veil.yaml:3:3: duplicate key \"redirect\" in agent"}},
    {"bad guardrail with suggestion",
     E("    guardrails: [read-only, no-dll]\n"),
     {"veil.yaml:6:29: guardrails[1]: \"no-dll\" is not one of read-only, no-ddl, "
      "no-unbounded-write, no-filter-on-masked (did you mean \"no-ddl\"?)"}},
    {"guardrail max-rows below 1",
     E("    guardrails: [{max-rows: 0}]\n"),
     {"veil.yaml:6:29: max-rows: must be at least 1, got 0"}},
    {"guardrail with two kinds",
     E("    guardrails: [{max-rows: 5, deny: x}]\n"),
     {"veil.yaml:6:32: \"deny\" cannot be combined with \"max-rows\" in "
      "endpoints[0].guardrails[0]"}},
    {"guardrail bad regex",
     E("    guardrails: [{deny: \"drop (table\"}]\n"),
     {"veil.yaml:6:25: deny: bad regex \"drop (table\": Missing close parenthesis for group "
      "started at index 5."}},
    {"unknown strategy",
     "masking:\n  profiles:\n    default:\n      strategies: {EMAIL: mask}\n",
     {"veil.yaml:4:27: strategies.EMAIL: \"mask\" is not one of redact, partial, hash, fpe, null, "
      "fake"}},
    {"lower-case entity key",
     "masking:\n  profiles:\n    default:\n      strategies: {email: hash}\n",
     {"veil.yaml:4:20: strategies: \"email\" is not an entity name (UPPER_SNAKE, e.g. EMAIL) or "
      "\"default\""}},
    {"all combined with entities",
     "masking:\n  profiles:\n    default:\n      entities: [EMAIL, all]\n",
     {"veil.yaml:4:25: entities: \"all\" cannot be combined with other entity names"}},
    {"date_shift_days of 0 (a fake date must move)",
     "masking:\n  profiles:\n    default: {date_shift_days: 0}\n",
     {"veil.yaml:3:32: date_shift_days: must be at least 1, got 0"}},
    {"min_score above 1",
     "masking:\n  profiles:\n    default: {min_score: 1.5}\n",
     {"veil.yaml:3:26: min_score: must be at most 1, got 1.5"}},
    {"custom entity name not UPPER_SNAKE",
     "masking:\n  profiles:\n    default:\n      custom: [{name: acme_id, pattern: x}]\n",
     {"veil.yaml:4:23: name: \"acme_id\" is not an entity name (UPPER_SNAKE, e.g. EMAIL, "
      "US_SSN)"}},
    {"pass rule with an entity",
     "masking:\n  profiles:\n    default:\n      columns: [{match: a.b, action: pass, entity: "
     "EMAIL}]\n",
     {"veil.yaml:4:38: action: pass cannot be combined with entity, scan or strategy"}},
    {"missing required key",
     "endpoints:\n  - {name: a, upstream: h:1, listen: h:2}\n",
     {"veil.yaml:2:5: missing required key \"protocol\" in endpoints[0]"}},
    {"listen missing on a grant endpoint",
     "endpoints:\n  - {name: a, protocol: postgres, upstream: h:1}\n"
     "  - {name: b, protocol: postgres, upstream: h:2, access: observe}\n",
     {"veil.yaml:2:5: missing required key \"listen\" in endpoints[0] (only access: observe "
      "needs no listen address)"}},
    {"relative path",
     "agent:\n  state_dir: var/lib/veil\n",
     {"veil.yaml:2:14: state_dir: \"var/lib/veil\" is not an absolute path"}},
    {"path on a syslog sink",
     "events:\n  sinks: [{type: syslog, path: /var/log/x}]\n",
     {"veil.yaml:2:32: path: only applies to a file sink, not syslog"}},
    {"bad syslog address",
     "events:\n  sinks: [{type: syslog, address: /dev/log}]\n",
     {"veil.yaml:2:35: address: \"/dev/log\" is not a syslog address (expected unix:///dev/log, "
      "udp://HOST:PORT or tcp://HOST:PORT)"}},
    {"top level not a map", "- a\n- b\n", {"veil.yaml:1:1: top level: expected a map, got a list"}},
    {"two documents",
     "agent: {}\n---\nagent: {}\n",
     {"veil.yaml:3:1: only one YAML document is allowed"}},
    {"required key given as null",
     "endpoints:\n  - {name: a, protocol: , upstream: h:1, listen: h:2}\n",
     {"veil.yaml:2:25: protocol: a value is required"}},
    {"notify without a url",
     "grants:\n  notify:\n    - {type: slack}\n",
     {"veil.yaml:3:7: notify[0]: give the webhook's url (or url_file, a file holding it)"}},
    {"notify with url and url_file",
     "grants:\n  notify:\n    - {type: json, url: \"http://h/x\", url_file: /etc/veil/hook}\n",
     {"veil.yaml:3:49: url_file: give url or url_file, not both"}},
    {"notify url not http (and never echoed: it holds the secret)",
     "grants:\n  notify:\n    - {type: slack, url: \"ftp://hooks.example/T0/B0/s3cret\"}\n",
     {"veil.yaml:3:26: url: must start with http:// or https://"}},
    {"notify url with credentials",
     "grants:\n  notify:\n    - {type: json, url: \"https://u:p@hooks.example/x\"}\n",
     {"veil.yaml:3:25: url: must not carry user:password@ (put a token in the path or query)"}},
    {"notify url with a bad port",
     "grants:\n  notify:\n    - {type: json, url: \"http://127.0.0.1:0/x\"}\n",
     {"veil.yaml:3:25: url: has a bad port (1-65535)"}},
    {"notify unknown event, with suggestion",
     "grants:\n  notify:\n    - {type: json, url: \"http://h/x\", events: [aproved]}\n",
     {"veil.yaml:3:48: events[0]: \"aproved\" is not one of requested, issued, approved, "
      "denied, expired, revoked (did you mean \"approved\"?)"}},
    {"notify event twice",
     "grants:\n  notify:\n    - {type: json, url: \"http://h/x\", events: [revoked, revoked]}\n",
     {"veil.yaml:3:57: events: \"revoked\" is listed twice"}},
    {"notify timeout out of range",
     "grants:\n  notify:\n    - {type: json, url: \"http://h/x\", timeout: 5m}\n",
     {"veil.yaml:3:48: timeout: must be between 100ms and 60s"}},
    {"notify twice to the same webhook",
     "grants:\n  notify:\n    - {type: json, url: \"http://h/x\"}\n"
     "    - {type: json, url: \"http://h/x\"}\n",
     {"veil.yaml:4:25: url: the same webhook as grants.notify[0]"}},
    {"notify ca_file on plain http",
     "grants:\n  notify:\n    - {type: json, url: \"http://h/x\", ca_file: /etc/ca.pem}\n",
     {"veil.yaml:3:48: ca_file: only applies to an https:// url"}},
    {"notify type missing",
     "grants:\n  notify:\n    - {url: \"http://h/x\"}\n",
     {"veil.yaml:3:7: missing required key \"type\" in grants.notify[0]"}},
};

INSTANTIATE_TEST_SUITE_P(Table, LoaderBadConfig, ::testing::ValuesIn(kBadCases));

TEST(LoaderErrors, ReportsEveryErrorAtOnce) {
  std::vector<std::string> errors = Errors(
      "agent:\n"
      "  redirect: sometimes\n"
      "endpoints:\n"
      "  - name: a\n"
      "    protocol: oracle\n"
      "    upstream: h\n"
      "    listen: 127.0.0.1:1\n"
      "    masking: nope\n"
      "events:\n"
      "  sinks: [{type: file, max_size: lots}]\n");
  EXPECT_THAT(errors,
              ElementsAre("veil.yaml:2:13: redirect: \"sometimes\" is not one of ebpf, off",
                          "veil.yaml:5:15: protocol: \"oracle\" is not one of postgres, mysql",
                          "veil.yaml:6:15: upstream: \"h\" is not a host:port (missing \":port\")",
                          "veil.yaml:8:14: masking: masking profile \"nope\" does not exist",
                          "veil.yaml:10:34: max_size: \"lots\" is not a byte size (expected e.g. "
                          "512, 64KiB, 100MiB, 1GB)"));
}

TEST(LoaderValues, CoverageKeys) {
  LoadedConfig c = MustLoad(
      LoadString("agent:\n"
                 "  unlisted_databases: deny\n"
                 "  direct_principals: [user:postgres, unit:postgresql.service]\n" +
                     std::string(kEndpoint) +
                     "    aliases: [db-alias, 10.0.0.6, \"fd00::5\", 10.1.0.0/16, \"fd00::/64\"]\n",
                 "veil.yaml"));
  EXPECT_EQ(c.config.agent().unlisted_databases(), v1::Agent::UNLISTED_DATABASES_DENY);
  EXPECT_THAT(c.config.agent().direct_principals(),
              ElementsAre("user:postgres", "unit:postgresql.service"));
  EXPECT_THAT(c.config.endpoints(0).aliases(),
              ElementsAre("db-alias", "10.0.0.6", "fd00::5", "10.1.0.0/16", "fd00::/64"));
  LoadedConfig d = MustLoad(LoadString(kEndpoint, "veil.yaml"));
  EXPECT_EQ(d.config.agent().unlisted_databases(), v1::Agent::UNLISTED_DATABASES_OBSERVE);
}

TEST(LoaderErrors, CoverageKeys) {
  EXPECT_THAT(Errors(std::string(kEndpoint) +
                     "    aliases: [db-alias, 10.0.0.0/33, \"fd00::/129\", \"bad host\", 1.2.3]\n"),
              ElementsAre("veil.yaml:6:25: aliases[1]: \"10.0.0.0/33\" is not a CIDR (the prefix "
                          "length must be 0-32)",
                          "veil.yaml:6:38: aliases[2]: \"fd00::/129\" is not a CIDR (the prefix "
                          "length must be 0-128)",
                          "veil.yaml:6:52: aliases[3]: \"bad host\" is not a host name, address "
                          "or CIDR (e.g. db-alias, 10.0.0.6, 10.0.0.0/24, fd00::/64)",
                          "veil.yaml:6:64: aliases[4]: \"1.2.3\" is not a host name, address "
                          "or CIDR (e.g. db-alias, 10.0.0.6, 10.0.0.0/24, fd00::/64)"));
  EXPECT_THAT(Errors("agent:\n  unlisted_databases: block\n"
                     "  direct_principals: [postgres]\n"),
              ElementsAre("veil.yaml:2:23: unlisted_databases: \"block\" is not one of allow, "
                          "observe, deny",
                          "veil.yaml:3:23: direct_principals[0]: \"postgres\" is not a principal "
                          "(expected user:NAME, group:NAME, unit:NAME.service, container:ID or "
                          "exe:/abs/path)"));
}

TEST(LoaderErrors, MissingFile) {
  LoadResult r = LoadFile("/nonexistent/veil.yaml");
  ASSERT_TRUE(std::holds_alternative<std::vector<Diagnostic>>(r));
  EXPECT_EQ(std::get<1>(r).at(0).ToString(),
            "/nonexistent/veil.yaml: cannot read: No such file or directory");
}

TEST(SourceMapTest, FindNearestWalksUp) {
  SourceMap m;
  m.Add("endpoints", {1, 12});
  m.Add("endpoints[0]", {2, 5});
  EXPECT_EQ(m.FindNearest("endpoints[0].tls.client")->line, 2);
  EXPECT_EQ(m.FindNearest("endpoints[3]")->col, 12);
  EXPECT_FALSE(m.FindNearest("agent.redirect").has_value());
  EXPECT_FALSE(m.Find("endpoints[0].tls").has_value());
}

}  // namespace
}  // namespace veil::config
