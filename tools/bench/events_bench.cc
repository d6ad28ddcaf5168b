// What a usage event costs: building one OCSF statement event (normalization included), chaining
// it, and the pipeline's sustained rate into a file sink (one writer thread, group commit).
//   build/tools/bench/events_bench
#include <benchmark/benchmark.h>

#include <filesystem>

#include "agent/events/chain.h"
#include "agent/events/normalize.h"
#include "agent/events/ocsf.h"
#include "agent/events/pipeline.h"
#include "agent/events/sinks.h"
#include "agent/sql/classifier.h"
#include "agent/sql/guardrails.h"

namespace {

using veil::events::Chain;

veil::events::SessionInfo Session() {
  veil::events::SessionInfo s;
  s.session_id = "0a1b2c3d-42";
  s.principal.user = "alice";
  s.principal.groups = {"alice", "dev"};
  s.principal.exe = "/usr/bin/psql";
  s.principal.uid = 1001;
  s.pid = 48213;
  s.client = {"127.0.0.1", 51544};
  s.server = {"10.0.0.5", 5432};
  s.endpoint = "orders-db";
  s.database = "orders";
  s.database_user = "app";
  s.grant_id = "g-k3p9x2m4q7ta";
  return s;
}

veil::events::StatementInfo Statement() {
  veil::events::StatementInfo st;
  st.sql = "SELECT id, name, email FROM customers WHERE email = 'alice@example.com' AND id > 42";
  st.kind = "read";
  st.command_tag = "SELECT 1";
  st.rows = 1;
  st.bytes = 180;
  st.duration_ms = 1;
  st.masked.by_entity = {{"EMAIL", 1}, {"PERSON_NAME", 1}};
  st.masked.by_column = {{"public.customers.email", 1}, {"public.customers.name", 1}};
  return st;
}

nlohmann::json Event() { return veil::events::QueryEvent(1795839787763, Session(), Statement()); }

void BM_BuildQueryEvent(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Event());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildQueryEvent);

// What veild does per statement: the session's part rendered once, the statement's merged in.
void BM_BuildQueryRecord(benchmark::State& state) {
  const veil::events::QueryEventTemplate tmpl(Session());
  const veil::events::StatementInfo st = Statement();
  for (auto _ : state) benchmark::DoNotOptimize(tmpl.Build(1795839787763, st));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildQueryRecord);

// The same with new literal text every time (pgbench -S over the simple protocol): the
// normalization runs for every statement.
void BM_BuildQueryRecordNewText(benchmark::State& state) {
  const veil::events::QueryEventTemplate tmpl(Session());
  veil::events::StatementInfo st = Statement();
  std::vector<std::string> texts;
  for (int i = 0; i < 4096; ++i)
    texts.push_back("SELECT abalance FROM pgbench_accounts WHERE aid = " +
                    std::to_string(i * 7919));
  size_t i = 0;
  for (auto _ : state) {
    st.sql = texts[i++ % texts.size()];
    benchmark::DoNotOptimize(tmpl.Build(1795839787763, st));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildQueryRecordNewText);

// The statement kind (read/write/ddl) the usage reporter puts in each event.
void BM_ClassifyStatement(benchmark::State& state) {
  const std::string sql = "SELECT abalance FROM pgbench_accounts WHERE aid = 12345";
  for (auto _ : state) benchmark::DoNotOptimize(veil::sql::Classify(sql));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClassifyStatement);

// The per-statement checks a session makes, PostgreSQL (0) against MySQL (1), for a plain
// statement and one with a backslash in a string (every other reading checked too).
const char* const kCheckedStatements[] = {
    "SELECT abalance FROM pgbench_accounts WHERE aid = 12345 AND note = 'x'",
    "SELECT abalance FROM pgbench_accounts WHERE aid = 12345 AND note = 'it\\'s'",
};
veil::sql::LexOptions Dialect(int64_t mysql) {
  return {.dialect = mysql ? veil::sql::Dialect::kMySql : veil::sql::Dialect::kPostgres};
}

void BM_GuardrailsCheck(benchmark::State& state) {
  google::protobuf::RepeatedPtrField<veil::config::v1::Guardrail> list;
  list.Add()->set_deny("pg_sleep|sleep\\(");
  auto g = veil::sql::Guardrails::Create(list, /*read_access=*/true);
  const std::string sql = kCheckedStatements[state.range(1)];
  const veil::sql::LexOptions options = Dialect(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(g->Check(sql, options));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GuardrailsCheck)->ArgsProduct({{0, 1}, {0, 1}});

void BM_NormalizeStatement(benchmark::State& state) {
  const std::string sql = kCheckedStatements[state.range(1)];
  veil::events::NormalizeOptions options;
  options.dialect = Dialect(state.range(0)).dialect;
  for (auto _ : state) benchmark::DoNotOptimize(veil::events::NormalizeStatement(sql, options));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NormalizeStatement)->ArgsProduct({{0, 1}, {0, 1}});

void BM_ChainStamp(benchmark::State& state) {
  Chain chain;
  const nlohmann::json event = Event();
  for (auto _ : state) {
    nlohmann::json rec = event;
    benchmark::DoNotOptimize(chain.Stamp(rec));
    chain.Commit(rec);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChainStamp);

// The writer's path: hash and line from the rendered record, no parse, no serialization.
void BM_ChainStampRecord(benchmark::State& state) {
  Chain chain;
  const veil::events::Record rec = veil::events::ToRecord(Event());
  std::string line;
  for (auto _ : state) {
    line.clear();
    chain.Commit(chain.Stamp(rec, &line));
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChainStampRecord);

// Emit() of prebuilt events until the file sink has written them all.
void BM_PipelineToFile(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "veil-events-bench";
  const veil::events::Record event = veil::events::ToRecord(Event());
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto sink = std::make_unique<veil::events::FileSink>((dir / "events.jsonl").string(),
                                                         uint64_t{1} << 30, 2);
    std::vector<std::unique_ptr<veil::events::Sink>> sinks;
    sinks.push_back(std::move(sink));
    veil::events::PipelineOptions o;
    o.state_dir = dir.string();
    o.queue_capacity = 1 << 20;
    auto p = veil::events::Pipeline::Create(std::move(sinks), o);
    state.ResumeTiming();
    for (int i = 0; i < state.range(0); ++i) (*p)->Emit(event);
    (void)(*p)->Shutdown(std::chrono::seconds(60));
    state.PauseTiming();
    if ((*p)->DroppedTotal() != 0) state.SkipWithError("events dropped");
    p->reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_PipelineToFile)->Arg(20000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
