// veild: the veil host agent. It serves PostgreSQL endpoints as a masking proxy, admits
// sessions under grants, and reloads its configuration on SIGHUP.
//
//   veild --config /etc/veil/veil.yaml
//   veild --check-config FILE         # validate only; exit 0 or print file:line:col errors
//   veild --prepare-bpf-pin-dir veil  # as root: the pin dir for a veild run as user veil
//   veild --remove-bpf                # as root: detach the redirect and delete its pins
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <ctime>
#include <thread>

#include "agent/bpf/runtime.h"
#include "agent/bpf/tls_tracer.h"
#include "agent/events/pipeline.h"
#include "agent/kernel_flows.h"
#include "agent/metrics.h"
#include "agent/server.h"
#include "agent/tls_observation.h"
#include "agent/usage_reporter.h"
#include "common/thread_name.h"
#include "config/loader.h"
#include "masker/profile.h"

int main(int argc, char** argv) {
  CLI::App app{"veild: just-in-time, masked database access"};
  std::string config_path = "/etc/veil/veil.yaml";
  std::string check_path;
  app.add_option("--config", config_path, "configuration file");
  app.add_option("--check-config", check_path, "validate a configuration file and exit");
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  app.add_option("--threads", threads, "worker threads (default: one per CPU)")
      ->check(CLI::Range(1u, 1024u));
  std::string pin_dir = "/sys/fs/bpf/veil";
  app.add_option("--bpf-pin-dir", pin_dir, "where the eBPF links and maps are pinned");
  bool remove_bpf = false;
  app.add_flag("--remove-bpf", remove_bpf,
               "detach veil's eBPF programs and delete their pins, then exit (uninstall; "
               "protected endpoints become reachable directly)");
  std::string prepare_for;
  app.add_option("--prepare-bpf-pin-dir", prepare_for,
                 "as root, before veild starts as USER: mount bpffs at /sys/fs/bpf if missing, "
                 "create the pin dir and give it to USER, then exit (veil.service runs this)")
      ->type_name("USER");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (remove_bpf) {
    if (auto st = veil::agent::bpf::FlowLayer::RemoveAll(pin_dir); !st.ok()) {
      std::fprintf(stderr, "veild: %s\n", st.error().message.c_str());
      return 1;
    }
    std::printf("veild: removed the eBPF programs and pins under %s\n", pin_dir.c_str());
    return 0;
  }
  if (!prepare_for.empty()) {
    const passwd* pw = getpwnam(prepare_for.c_str());
    if (pw == nullptr) {
      std::fprintf(stderr, "veild: no user %s\n", prepare_for.c_str());
      return 1;
    }
    if (auto st = veil::agent::bpf::FlowLayer::PreparePinDir(pin_dir, pw->pw_uid, pw->pw_gid);
        !st.ok()) {
      std::fprintf(stderr, "veild: %s\n", st.error().message.c_str());
      return 1;
    }
    std::printf("veild: %s is ready for user %s\n", pin_dir.c_str(), prepare_for.c_str());
    return 0;
  }
  const std::string& path = check_path.empty() ? config_path : check_path;
  auto loaded = veil::config::LoadFile(path);
  if (auto* diags = std::get_if<std::vector<veil::config::Diagnostic>>(&loaded)) {
    for (const auto& d : *diags) std::fprintf(stderr, "%s\n", d.ToString().c_str());
    return 1;
  }
  const auto& cfg = std::get<veil::config::LoadedConfig>(loaded);
  if (!check_path.empty()) {
    // Also what only the engine knows: entity names, custom patterns that must compile.
    std::array<uint8_t, veil::masker::MaskKey::kSize> throwaway{};
    auto key = veil::masker::MaskKey::FromBytes(throwaway);
    int bad = 0;
    for (const auto& [name, profile] : cfg.config.masking().profiles()) {
      auto compiled =
          veil::masker::MaskingProfile::Compile(profile, "masking.profiles." + name, key);
      if (auto* errs =
              std::get_if<std::vector<veil::masker::MaskingProfile::CompileError>>(&compiled)) {
        for (const auto& e : *errs)
          std::fprintf(stderr, "%s\n", cfg.At(e.path, e.message).ToString().c_str());
        ++bad;
      }
    }
    if (bad) return 1;
    std::printf("%s: ok\n", path.c_str());
    return 0;
  }

  // One io_context per thread, each run by exactly one thread (no strands, no locks).
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<asio::io_context*> io_ptrs;
  for (unsigned i = 0; i < threads; ++i) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    io_ptrs.push_back(ios.back().get());
  }
  // Signal handlers before anything can be reached from outside: once a listener is open, an
  // SRE's `systemctl reload` (SIGHUP) or stop may come at once, and without a handler SIGHUP's
  // default action would end veild. signal_set queues what arrives before its async_wait.
  asio::signal_set signals(*ios[0], SIGINT, SIGTERM);
  asio::signal_set hup(*ios[0], SIGHUP);
  // The eBPF flow layer first: the redirect must be in place (or adopted from the pins of an
  // earlier run) before the listeners accept. A missing privilege stops startup with its fix.
  veil::grants::SystemClock clock;
  std::unique_ptr<veil::agent::KernelFlows> flows;
  std::unique_ptr<veil::agent::TlsObservation> observation;
  veil::agent::ServerHooks hooks;
  // Metrics and usage events first: sessions report to them from their first byte.
  auto metrics = veil::agent::Metrics::Create(cfg.config.agent().metrics_listen(), VEIL_VERSION);
  if (!metrics.ok()) {
    std::fprintf(stderr, "veild: metrics: %s\n", metrics.error().message.c_str());
    return 1;
  }
  veil::events::PipelineOptions event_options;
  event_options.state_dir = cfg.config.agent().state_dir();
  auto pipeline = veil::events::Pipeline::Create(cfg.config.events().sinks(), event_options);
  if (!pipeline.ok()) {
    std::fprintf(stderr, "veild: events: %s\n", pipeline.error().message.c_str());
    return 1;
  }
  veil::agent::UsageReporter usage(pipeline->get(), metrics->get());
  hooks.usage = &usage;
  hooks.events = pipeline->get();
  hooks.metrics = metrics->get();
  if (cfg.config.agent().redirect() == veil::config::v1::Agent::REDIRECT_EBPF) {
    auto sink = std::make_shared<veil::agent::KernelFlows*>(nullptr);
    veil::agent::bpf::FlowLayer::Options options;
    options.pin_dir = pin_dir;
    // Database ports whose every connect is a flow: the built-in list and each endpoint's.
    for (const auto& e : cfg.config.endpoints())
      if (auto hp = veil::agent::SplitHostPort(e.upstream()); hp.ok())
        options.extra_db_ports.push_back(hp->second);
    options.on_event = [sink](const veil::agent::bpf::FlowEvent& e) {
      if (*sink) (*sink)->OnEvent(e);
    };
    // Under veil.service veild has a cgroup of its own: exempt it too (with the tgid and mark).
    if (auto own = veil::agent::OwnServiceCgroup()) options.own_cgroup_id = *own;
    auto layer = veil::agent::bpf::FlowLayer::Open(std::move(options));
    if (!layer.ok()) {
      std::fprintf(stderr, "veild: %s\n(or set agent.redirect: off to run without eBPF)\n",
                   layer.error().message.c_str());
      return 1;
    }
    spdlog::info("veild: eBPF flow layer {} under {}",
                 (*layer)->adopted() ? "adopted from pins" : "attached", pin_dir);
    flows = std::make_unique<veil::agent::KernelFlows>(*ios[0], std::move(layer).value(), clock);
    *sink = flows.get();
    flows->SetMetrics(metrics->get());
    if (auto st = flows->Configure(cfg.config); !st.ok()) {
      std::fprintf(stderr, "veild: %s\n", st.error().message.c_str());
      return 1;
    }
    hooks.attribute = [f = flows.get()](const asio::ip::tcp::endpoint& remote,
                                        veil::agent::PeerInfo* peer) {
      f->Attribute(remote, peer);
    };
    hooks.attribute_unix = [f = flows.get()](int fd, veil::agent::PeerInfo* peer) {
      f->AttributeUnix(fd, peer);
    };
    hooks.flows = &flows->table();
    flows->on_denied = [&usage](const veil::agent::SessionContext& s, const std::string& why) {
      usage.ConnectDenied(s, why);
    };
    hooks.coverage = [f = flows.get()](veil::control::v1::Status* st) {
      const veil::agent::CoverageReport r = f->Coverage();
      st->set_redirect("ebpf");
      st->set_unix_sockets_covered(r.unix_covered);
      st->set_unix_sockets_why_not(r.unix_why_not);
      st->set_unlisted_databases(r.unlisted);
      for (const auto& p : r.direct_principals) st->add_direct_principals(p);
      for (const auto& w : r.warnings) st->add_coverage_warnings(w);
      for (const auto& e : r.endpoints) {
        auto* c = st->add_coverage();
        c->set_endpoint(e.endpoint);
        c->set_port(e.port);
        for (const auto& a : e.addresses) c->add_addresses(a);
        for (const auto& u : e.unix_sockets) c->add_unix_sockets(u);
        c->set_local(e.local);
        c->set_observe(e.observe);
        c->set_redirect_to(e.redirect_to);
        c->set_unix_redirect_to(e.unix_redirect_to);
      }
    };
    // observe endpoints: their clients' TLS plaintext, decoded into usage events.
    std::map<std::string, std::string> observed;
    for (const auto& e : cfg.config.endpoints())
      if (e.access() == veil::config::v1::Endpoint::ACCESS_OBSERVE)
        observed[veil::agent::CanonicalAddress(e.upstream())] = e.name();
    if (!observed.empty()) {
      auto target = std::make_shared<veil::agent::TlsObservation*>(nullptr);
      auto libs = veil::agent::bpf::FindLibssl();
      if (!libs.ok()) {
        std::fprintf(stderr, "veild: observe endpoints: %s\n", libs.error().message.c_str());
        return 1;
      }
      auto tracer = veil::agent::bpf::TlsTracer::Start(
          {.libssl_paths = *libs}, veil::agent::TlsObservation::Forwarder(target));
      if (!tracer.ok()) {
        std::fprintf(stderr, "veild: observe endpoints: %s\n", tracer.error().message.c_str());
        return 1;
      }
      observation = std::make_unique<veil::agent::TlsObservation>(std::move(tracer).value(),
                                                                  std::move(observed), &usage);
      *target = observation.get();
      flows->on_observed = [o = observation.get()](const veil::agent::bpf::FlowProcess& p,
                                                   const veil::grants::Principal& who) {
        o->Watch(p, who);
      };
      spdlog::info("veild: TLS plaintext tracing for observe endpoints on {}",
                   fmt::join(*libs, ", "));
    }
  }
  auto server = veil::agent::Server::Start(cfg, io_ptrs, hooks);
  if (server.ok()) {
    // Values other components own are read when Prometheus asks.
    (*metrics)->OnScrape(
        [&, written = std::map<std::string, uint64_t>()](veil::agent::Metrics& m) mutable {
          // The label is the sink's type ("file", "syslog", "stdout"), numbered from the second
          // of a type on: a path or address is not a label value.
          std::map<std::string, int> of_type;
          for (const auto& s : (*pipeline)->Stats()) {
            std::string label = s.name.substr(0, s.name.find('-'));
            if (int n = ++of_type[label]; n > 1) label += "-" + std::to_string(n);
            auto* sink = m.ForEventSink(label);
            sink->SetDroppedTotal(s.dropped);
            uint64_t& last = written[s.name];
            if (s.written > last) sink->Written(s.written - last);
            last = s.written;
          }
          if (flows) m.SetBpfEventsLostTotal(flows->lost_events());
          m.SetFakeTotals(veil::masker::fake::TotalMoved(), veil::masker::fake::TotalUnchecked());
        });
  }
  if (!server.ok()) {
    std::fprintf(stderr, "veild: %s\n", server.error().message.c_str());
    return 1;
  }
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& io : ios) guards.push_back(asio::make_work_guard(*io));
  signals.async_wait([&](const std::error_code&, int sig) {
    spdlog::info("veild: signal {}, stopping", sig);
    sd_notify(0, "STOPPING=1");
    if (flows) {
      if (auto st = flows->Shutdown(); !st.ok())
        spdlog::error("veild: eBPF shutdown: {}", st.error().message);
    }
    for (auto& io : ios) io->stop();
  });
  // SIGHUP: reload endpoints, policies and profiles; a bad file keeps the running config.
  std::function<void(const std::error_code&, int)> on_hup = [&](const std::error_code& ec, int) {
    if (ec) return;
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
               static_cast<unsigned long long>(now.tv_sec) * 1000000ULL + now.tv_nsec / 1000);
    auto next = veil::config::LoadFile(config_path);
    if (auto* diags = std::get_if<std::vector<veil::config::Diagnostic>>(&next)) {
      for (const auto& d : *diags) spdlog::error("reload refused: {}", d.ToString());
      spdlog::error("reload refused: {} has errors; the running configuration stays", config_path);
      (*metrics)->ConfigReloaded(veil::agent::ReloadResult::kError);
    } else if (auto st = (*server)->Reload(std::get<veil::config::LoadedConfig>(next)); !st.ok()) {
      spdlog::error("reload refused: {}; the running configuration stays", st.error().message);
      (*metrics)->ConfigReloaded(veil::agent::ReloadResult::kError);
    } else {
      if (flows) {
        if (auto st = flows->Configure(std::get<veil::config::LoadedConfig>(next).config); !st.ok())
          spdlog::error("reload: kernel redirect set not updated: {}", st.error().message);
      }
      spdlog::info("reload: {} applied", config_path);
    }
    sd_notify(0, "READY=1");
    hup.async_wait(on_hup);
  };
  hup.async_wait(on_hup);
  // systemd: READY once listening, WATCHDOG from the event loop (a stuck loop gets restarted).
  sd_notifyf(0, "READY=1\nSTATUS=serving %d endpoints", cfg.config.endpoints_size());
  uint64_t watchdog_usec = 0;
  asio::steady_timer watchdog(*ios[0]);
  std::function<void(const std::error_code&)> feed = [&](const std::error_code& ec) {
    if (ec) return;
    sd_notify(0, "WATCHDOG=1");
    watchdog.expires_after(std::chrono::microseconds(watchdog_usec / 2));
    watchdog.async_wait(feed);
  };
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) feed({});
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back([&, i] {
      veil::NameThisThread("veild-io" + std::to_string(i));
      ios[i]->run();
    });
  spdlog::info("veild: serving with {} threads", threads);
  ios[0]->run();
  for (auto& t : pool) t.join();
  server->reset();      // listeners closed; no session reports any more
  observation.reset();  // its poller thread reports through `usage`
  if (auto st = (*pipeline)->Shutdown(std::chrono::seconds(5)); !st.ok())
    spdlog::warn("veild: events: {}", st.error().message);
  return 0;
}
