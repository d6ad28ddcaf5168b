#include "agent/metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace veil::agent {
namespace {

using ::testing::HasSubstr;

// GET path over a real TCP connection to 127.0.0.1:port; returns the whole response (headers
// and body), or "" if the connection failed.
std::string HttpGet(int port, const std::string& path = "/metrics") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

struct Scrape {
  std::string headers;
  std::string body;
  // "name{a=\"x\",b=\"y\"}" (labels as served) -> value
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;  // family -> counter|gauge|histogram
};

Scrape Parse(const std::string& response) {
  Scrape s;
  size_t split = response.find("\r\n\r\n");
  s.headers = response.substr(0, split);
  s.body = split == std::string::npos ? "" : response.substr(split + 4);
  std::istringstream in(s.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      s.types[name] = type;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    s.samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return s;
}

// prometheus-cpp's Exposer always adds three families about the HTTP endpoint itself, with no
// labels but a summary's quantile. Everything else served must be veil's.
bool IsExposerOwn(const std::string& family) {
  return family == "exposer_transferred_bytes_total" || family == "exposer_scrapes_total" ||
         family == "exposer_request_latencies";
}

Scrape ScrapeOver(const Metrics& m) {
  std::string response = HttpGet(m.port());
  EXPECT_THAT(response, HasSubstr("200 OK"));
  return Parse(response);
}

std::unique_ptr<Metrics> Start(std::string_view listen = "127.0.0.1:0") {
  auto m = Metrics::Create(listen, "0.1.0-test");
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? std::move(*m) : nullptr;
}

TEST(MetricsTest, ServesCountersWithTheirLabelsOverHttp) {
  auto m = Start();
  ASSERT_NE(m, nullptr);
  ASSERT_GT(m->port(), 0);

  EndpointMetrics* orders = m->ForEndpoint("orders-db");
  EXPECT_EQ(m->ForEndpoint("orders-db"), orders);  // cached: one handle per endpoint
  orders->SessionStarted(SessionOutcome::kAdmitted);
  orders->SessionStarted(SessionOutcome::kAdmitted);
  orders->SessionStarted(SessionOutcome::kRefused);
  orders->SessionEnded();
  orders->Statement(StatementKind::kRead, 3, 0.002);
  orders->Statement(StatementKind::kRead, 5, 0.2);
  orders->Statement(StatementKind::kDdl, 0, 0.001);
  orders->StatementBlocked(Guardrail::kNoDdl);
  orders->Bytes(Direction::kToClient, 1000);
  orders->Bytes(Direction::kToUpstream, 42);
  m->ForEndpoint("billing")->SessionStarted(SessionOutcome::kError);

  Scrape s = ScrapeOver(*m);
  EXPECT_THAT(s.headers, HasSubstr("text/plain"));
  auto& v = s.samples;
  EXPECT_EQ(v["veil_sessions_active{endpoint=\"orders-db\"}"], 1);
  EXPECT_EQ(v["veil_sessions_total{endpoint=\"orders-db\",outcome=\"admitted\"}"], 2);
  EXPECT_EQ(v["veil_sessions_total{endpoint=\"orders-db\",outcome=\"refused\"}"], 1);
  EXPECT_EQ(v.count("veil_sessions_total{endpoint=\"orders-db\",outcome=\"error\"}"), 1u);
  EXPECT_EQ(v["veil_sessions_total{endpoint=\"orders-db\",outcome=\"error\"}"], 0);
  EXPECT_EQ(v["veil_sessions_total{endpoint=\"billing\",outcome=\"error\"}"], 1);
  EXPECT_EQ(v["veil_statements_total{endpoint=\"orders-db\",kind=\"read\"}"], 2);
  EXPECT_EQ(v["veil_statements_total{endpoint=\"orders-db\",kind=\"ddl\"}"], 1);
  EXPECT_EQ(v["veil_statements_total{endpoint=\"orders-db\",kind=\"write\"}"], 0);
  EXPECT_EQ(v["veil_statements_blocked_total{endpoint=\"orders-db\",guardrail=\"no-ddl\"}"], 1);
  EXPECT_EQ(v["veil_statements_blocked_total{endpoint=\"orders-db\",guardrail=\"read-only\"}"], 0);
  EXPECT_EQ(v["veil_rows_total{endpoint=\"orders-db\"}"], 8);
  EXPECT_EQ(v["veil_bytes_total{direction=\"to_client\",endpoint=\"orders-db\"}"], 1000);
  EXPECT_EQ(v["veil_bytes_total{direction=\"to_upstream\",endpoint=\"orders-db\"}"], 42);
  EXPECT_EQ(v["veil_statement_duration_seconds_count{endpoint=\"orders-db\"}"], 3);
  EXPECT_NEAR(v["veil_statement_duration_seconds_sum{endpoint=\"orders-db\"}"], 0.203, 1e-9);
  EXPECT_EQ(v["veil_statement_duration_seconds_bucket{endpoint=\"orders-db\",le=\"0.0025\"}"], 2);
  EXPECT_EQ(v["veil_statement_duration_seconds_bucket{endpoint=\"orders-db\",le=\"0.25\"}"], 3);
  EXPECT_EQ(v["veil_statement_duration_seconds_bucket{endpoint=\"orders-db\",le=\"+Inf\"}"], 3);
  EXPECT_EQ(v["veil_build_info{version=\"0.1.0-test\"}"], 1);

  EXPECT_EQ(s.types["veil_sessions_active"], "gauge");
  EXPECT_EQ(s.types["veil_sessions_total"], "counter");
  EXPECT_EQ(s.types["veil_statement_duration_seconds"], "histogram");
  EXPECT_EQ(s.types["veil_grants_active"], "gauge");
  EXPECT_EQ(s.types["veil_bpf_events_lost_total"], "counter");
}

TEST(MetricsTest, ServesEveryFamilyOfTheSpecWithPrometheusNames) {
  auto m = Start();
  ASSERT_NE(m, nullptr);
  m->ForEndpoint("orders-db");
  m->ForEventSink("file");
  Scrape s = ScrapeOver(*m);
  for (const char* family :
       {"veil_sessions_active", "veil_sessions_total", "veil_statements_total",
        "veil_statements_blocked_total", "veil_masked_values_total", "veil_rows_total",
        "veil_bytes_total", "veil_statement_duration_seconds", "veil_grants_active",
        "veil_grants_pending", "veil_flows_total", "veil_bpf_events_lost_total",
        "veil_events_written_total", "veil_events_dropped_total", "veil_config_reloads_total",
        "veil_build_info"}) {
    EXPECT_TRUE(s.types.contains(family)) << family;
  }
  const std::regex name("[a-z_]+");
  for (const auto& [family, type] : s.types) {
    EXPECT_TRUE(std::regex_match(family, name)) << family;
    if (IsExposerOwn(family)) continue;
    EXPECT_EQ(family.rfind("veil_", 0), 0u) << family;
    // Counters end in _total (Prometheus naming), and nothing else does.
    EXPECT_EQ(type == "counter", family.ends_with("_total")) << family;
  }
}

TEST(MetricsTest, EveryBuiltInEntityIsThereFromTheStart) {
  auto m = Start();
  ASSERT_NE(m, nullptr);
  std::array<uint64_t, masker::kMaxEntities> per_entity{};
  per_entity[masker::Index(masker::Entity::kEmail)] = 4;
  per_entity[masker::Index(masker::Entity::kCreditCard)] = 1;
  per_entity[masker::kFirstCustom] = 2;
  per_entity[masker::kFirstCustom + 3] = 1;
  m->CountMasked(per_entity);
  m->CountMasked(masker::Entity::kEmail, 1);

  Scrape s = ScrapeOver(*m);
  int series = 0;
  for (const auto& [key, value] : s.samples) series += key.starts_with("veil_masked_values_total{");
  EXPECT_EQ(series, static_cast<int>(masker::kBuiltinEntityCount) + 1);  // + CUSTOM
  EXPECT_EQ(s.samples["veil_masked_values_total{entity=\"EMAIL\"}"], 5);
  EXPECT_EQ(s.samples["veil_masked_values_total{entity=\"CREDIT_CARD\"}"], 1);
  EXPECT_EQ(s.samples["veil_masked_values_total{entity=\"CRYPTO_WALLET\"}"], 0);
  EXPECT_EQ(s.samples["veil_masked_values_total{entity=\"CUSTOM\"}"], 3);
}

TEST(MetricsTest, ValuesOwnedElsewhereAreSetAndRefreshedPerScrape) {
  auto m = Start();
  ASSERT_NE(m, nullptr);
  std::atomic<int> scrapes{0};
  m->OnScrape([&scrapes](Metrics& metrics) {
    int n = ++scrapes;
    metrics.SetGrants(10 * n, n);
    metrics.SetBpfEventsLostTotal(100 * n);
  });
  EventSinkMetrics* file = m->ForEventSink("file");
  file->Written(7);
  file->SetDroppedTotal(5);
  file->SetDroppedTotal(8);  // +3
  file->Dropped();           // +1
  m->Flow(bpf::FlowVerdict::kRedirected);
  m->Flow(bpf::FlowVerdict::kRedirected);
  m->Flow(bpf::FlowVerdict::kDirect);
  m->ConfigReloaded(ReloadResult::kOk);
  m->ConfigReloaded(ReloadResult::kError);
  m->ConfigReloaded(ReloadResult::kOk);

  Scrape first = ScrapeOver(*m);
  EXPECT_EQ(first.samples["veil_grants_active"], 10);
  EXPECT_EQ(first.samples["veil_grants_pending"], 1);
  EXPECT_EQ(first.samples["veil_bpf_events_lost_total"], 100);
  EXPECT_EQ(first.samples["veil_events_written_total{sink=\"file\"}"], 7);
  EXPECT_EQ(first.samples["veil_events_dropped_total{sink=\"file\"}"], 9);
  EXPECT_EQ(first.samples["veil_flows_total{verdict=\"redirected\"}"], 2);
  EXPECT_EQ(first.samples["veil_flows_total{verdict=\"direct\"}"], 1);
  EXPECT_EQ(first.samples["veil_flows_total{verdict=\"observed\"}"], 0);
  EXPECT_EQ(first.samples["veil_config_reloads_total{result=\"ok\"}"], 2);
  EXPECT_EQ(first.samples["veil_config_reloads_total{result=\"error\"}"], 1);

  Scrape second = ScrapeOver(*m);
  EXPECT_EQ(second.samples["veil_grants_active"], 20);
  EXPECT_EQ(second.samples["veil_bpf_events_lost_total"], 200);  // total 200: +100
}

TEST(MetricsTest, DropTotalsThatStartAgainCountAsNew) {
  auto m = Start("");
  ASSERT_NE(m, nullptr);
  m->SetBpfEventsLostTotal(50);
  m->SetBpfEventsLostTotal(50);  // no growth
  m->SetBpfEventsLostTotal(4);   // the owner restarted: 4 new
  EXPECT_THAT(m->Serialize(), HasSubstr("veil_bpf_events_lost_total 54\n"));
}

TEST(MetricsTest, FakeRegistryTotals) {
  auto m = Start("");
  ASSERT_NE(m, nullptr);
  m->SetFakeTotals(3, 0);
  m->SetFakeTotals(10, 2);
  std::string text = m->Serialize();
  EXPECT_THAT(text, HasSubstr("veil_fake_moved_total 10\n"));
  EXPECT_THAT(text, HasSubstr("veil_fake_unchecked_total 2\n"));
}

// No label can carry a principal, a database user, a grant id or statement text: no hook takes
// one (the API above is the proof, by its parameter types), and the one string that becomes a
// label, a name, is checked. Every label name and value served is from the closed sets.
TEST(MetricsTest, NoLabelCanCarryAPrincipalOrFreeText) {
  auto m = Start();
  ASSERT_NE(m, nullptr);
  m->ForEndpoint("orders-db")->SessionStarted(SessionOutcome::kAdmitted);
  EndpointMetrics* bad = m->ForEndpoint("user:alice");
  bad->SessionStarted(SessionOutcome::kAdmitted);
  EXPECT_EQ(m->ForEndpoint("SELECT * FROM t WHERE ssn = '123-45-6789'"), bad);
  EXPECT_EQ(m->ForEndpoint("g-ABCDEFGHIJKL"), bad);
  EXPECT_EQ(m->ForEndpoint(""), bad);
  m->ForEventSink("file /var/log/alice")->Written();

  std::string body = Parse(HttpGet(m->port())).body;
  EXPECT_THAT(body, HasSubstr("veil_sessions_total{endpoint=\"_invalid\",outcome=\"admitted\"} 1"));
  for (const char* leak : {"alice", "user:", "SELECT", "6789", "g-ABC"}) {
    EXPECT_THAT(body, ::testing::Not(HasSubstr(leak)));
  }

  const std::set<std::string> label_names = {"endpoint",  "outcome", "kind",    "guardrail",
                                             "direction", "entity",  "verdict", "sink",
                                             "result",    "version", "le"};
  const std::regex label(R"re(([a-z_]+)="([^"]*)")re");
  const std::regex value_shape(R"([A-Za-z0-9_.+\-]*)");
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::string family = line.substr(0, line.find_first_of("{ "));
    if (IsExposerOwn(family) || family.starts_with("exposer_request_latencies_")) continue;
    ASSERT_EQ(line.rfind("veil_", 0), 0u) << line;
    for (std::sregex_iterator it(line.begin(), line.end(), label), end; it != end; ++it) {
      EXPECT_TRUE(label_names.contains((*it)[1])) << line;
      EXPECT_TRUE(std::regex_match((*it)[2].str(), value_shape)) << line;
    }
  }
}

TEST(MetricsTest, TooManyNamesShareOneSeries) {
  auto m = Start("");
  ASSERT_NE(m, nullptr);
  EndpointMetrics* first = m->ForEndpoint("e-0");
  for (int i = 1; i < 600; ++i) m->ForEndpoint("e-" + std::to_string(i));
  EXPECT_EQ(m->ForEndpoint("e-0"), first);  // existing names keep their series
  EXPECT_EQ(m->ForEndpoint("e-599"), m->ForEndpoint("_invalid-anything"));
}

TEST(MetricsTest, HooksAreSafeFromManyThreads) {
  auto m = Start("");
  ASSERT_NE(m, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      EndpointMetrics* e = m->ForEndpoint("orders-db");
      for (int i = 0; i < 10000; ++i) {
        e->SessionStarted(SessionOutcome::kAdmitted);
        e->Statement(StatementKind::kWrite, 1, 0.001);
        e->SessionEnded();
        m->CountMasked(masker::Entity::kUsSsn, 1);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string text = m->Serialize();
  EXPECT_THAT(text,
              HasSubstr("veil_statements_total{endpoint=\"orders-db\",kind=\"write\"} 40000\n"));
  EXPECT_THAT(text, HasSubstr("veil_sessions_active{endpoint=\"orders-db\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("veil_masked_values_total{entity=\"US_SSN\"} 40000\n"));
  EXPECT_THAT(text, HasSubstr("veil_statement_duration_seconds_count{endpoint=\"orders-db\"} "
                              "40000\n"));
}

TEST(MetricsTest, DisabledServesNothing) {
  auto m = Start("");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->port(), 0);
  EXPECT_THAT(m->Serialize(), HasSubstr("veil_build_info{version=\"0.1.0-test\"} 1\n"));
}

TEST(MetricsTest, AnAddressInUseIsAnErrorNotAnException) {
  auto a = Start();
  ASSERT_NE(a, nullptr);
  std::string taken = "127.0.0.1:" + std::to_string(a->port());
  auto b = Metrics::Create(taken, "x");
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.error().message, HasSubstr("metrics_listen " + taken));
  // The first one still serves.
  EXPECT_THAT(HttpGet(a->port()), HasSubstr("200 OK"));
}

TEST(MetricsTest, GuardrailNamesMapToTheClosedSet) {
  EXPECT_EQ(GuardrailFromName("read-only"), Guardrail::kReadOnly);
  EXPECT_EQ(GuardrailFromName("no-ddl"), Guardrail::kNoDdl);
  EXPECT_EQ(GuardrailFromName("no-unbounded-write"), Guardrail::kNoUnboundedWrite);
  EXPECT_EQ(GuardrailFromName("deny"), Guardrail::kDeny);
  EXPECT_EQ(GuardrailFromName("max-rows"), std::nullopt);
  EXPECT_EQ(GuardrailFromName("drop table"), std::nullopt);
}

}  // namespace
}  // namespace veil::agent
