// What a usage event costs: building one OCSF statement event (normalization included), chaining
// it, and the pipeline's sustained rate into a file sink (one writer thread, group commit).
//   build/tools/bench/events_bench
#include <benchmark/benchmark.h>

#include <filesystem>

#include "agent/events/chain.h"
#include "agent/events/ocsf.h"
#include "agent/events/pipeline.h"
#include "agent/events/sinks.h"

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

nlohmann::json Event() {
  veil::events::StatementInfo st;
  st.sql = "SELECT id, name, email FROM customers WHERE email = 'alice@example.com' AND id > 42";
  st.kind = "read";
  st.command_tag = "SELECT 1";
  st.rows = 1;
  st.bytes = 180;
  st.duration_ms = 1;
  st.masked.by_entity = {{"EMAIL", 1}, {"PERSON_NAME", 1}};
  st.masked.by_column = {{"public.customers.email", 1}, {"public.customers.name", 1}};
  return veil::events::QueryEvent(1795839787763, Session(), st);
}

void BM_BuildQueryEvent(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Event());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildQueryEvent);

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

// Emit() of prebuilt events until the file sink has written them all.
void BM_PipelineToFile(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "veil-events-bench";
  const nlohmann::json event = Event();
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
