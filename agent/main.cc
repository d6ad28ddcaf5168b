// veild: the veil host agent. It serves PostgreSQL endpoints as a masking proxy, admits
// sessions under grants, and reloads its configuration on SIGHUP.
//
//   veild --config /etc/veil/veil.yaml
//   veild --check-config FILE        # validate only; exit 0 or print file:line:col errors
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <ctime>
#include <thread>

#include "agent/server.h"
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
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
  auto server = veil::agent::Server::Start(cfg, io_ptrs);
  if (!server.ok()) {
    std::fprintf(stderr, "veild: %s\n", server.error().message.c_str());
    return 1;
  }
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& io : ios) guards.push_back(asio::make_work_guard(*io));
  asio::signal_set signals(*ios[0], SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int sig) {
    spdlog::info("veild: signal {}, stopping", sig);
    sd_notify(0, "STOPPING=1");
    for (auto& io : ios) io->stop();
  });
  // SIGHUP: reload endpoints, policies and profiles; a bad file keeps the running config.
  asio::signal_set hup(*ios[0], SIGHUP);
  std::function<void(const std::error_code&, int)> on_hup = [&](const std::error_code& ec, int) {
    if (ec) return;
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
               static_cast<unsigned long long>(now.tv_sec) * 1000000ULL + now.tv_nsec / 1000);
    auto next = veil::config::LoadFile(config_path);
    if (auto* diags = std::get_if<std::vector<veil::config::Diagnostic>>(&next)) {
      for (const auto& d : *diags) spdlog::error("reload refused: {}", d.ToString());
      spdlog::error("reload refused: {} has errors; the running configuration stays",
                    config_path);
    } else if (auto st = (*server)->Reload(std::get<veil::config::LoadedConfig>(next));
               !st.ok()) {
      spdlog::error("reload refused: {}; the running configuration stays", st.error().message);
    } else {
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
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&, i] { ios[i]->run(); });
  spdlog::info("veild: serving with {} threads", threads);
  ios[0]->run();
  for (auto& t : pool) t.join();
  return 0;
}
