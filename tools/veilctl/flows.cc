#include "tools/veilctl/flows.h"

#include <cstdio>

#include "tools/veilctl/agent_client.h"

namespace veil::veilctl {
namespace {

namespace cv1 = control::v1;

std::string Or(const std::string& s, const char* fallback) { return s.empty() ? fallback : s; }

int PrintList(const cv1::Response& resp, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : resp.flows()) out.push_back(FlowJson(f));
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::fputs(FlowTableHeader().c_str(), stdout);
  for (const auto& f : resp.flows()) std::fputs(FlowTableRow(f).c_str(), stdout);
  return 0;
}

}  // namespace

nlohmann::json FlowJson(const cv1::Flow& f) {
  return {{"cookie", f.cookie()},
          {"pid", f.pid()},
          {"comm", f.comm()},
          {"exe", f.exe()},
          {"principal", f.principal()},
          {"src", f.src()},
          {"dst", f.dst()},
          {"redirected_to", f.redirected_to()},
          {"endpoint", f.endpoint()},
          {"verdict", f.verdict()},
          {"bytes_sent", f.bytes_sent()},
          {"bytes_received", f.bytes_received()},
          {"opened_at", f.opened_at()},
          {"closed_at", f.closed_at()},
          {"state", f.open() ? "open" : "closed"}};
}

std::string FlowTableHeader() {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%-7s %-24s %-22s %-21s %-21s %-14s %-10s %-15s %s\n", "PID",
                "EXE", "PRINCIPAL", "SRC", "DST", "ENDPOINT", "VERDICT", "BYTES", "STATE");
  return buf;
}

std::string FlowTableRow(const cv1::Flow& f) {
  // Without a trustworthy exe, the kernel's comm in brackets (as ps shows what it cannot resolve).
  std::string exe = !f.exe().empty() ? f.exe() : !f.comm().empty() ? "[" + f.comm() + "]" : "-";
  // Byte counts arrive with the close; an open flow has none yet.
  std::string bytes =
      f.open() ? "-" : std::to_string(f.bytes_sent()) + "/" + std::to_string(f.bytes_received());
  constexpr const char* kFormat = "%-7u %-24s %-22s %-21s %-21s %-14s %-10s %-15s %s\n";
  auto format = [&](char* buf, size_t size) {
    return std::snprintf(buf, size, kFormat, f.pid(), exe.c_str(), Or(f.principal(), "-").c_str(),
                         Or(f.src(), "-").c_str(), Or(f.dst(), "-").c_str(),
                         Or(f.endpoint(), "-").c_str(), f.verdict().c_str(), bytes.c_str(),
                         f.open() ? "open" : "closed");
  };
  std::string out(static_cast<size_t>(format(nullptr, 0)), '\0');
  format(out.data(), out.size() + 1);
  return out;
}

Result<cv1::Response> WatchFlows(const std::string& socket_path, bool all,
                                 const std::function<bool(const cv1::Response&)>& on_change) {
  cv1::Request req;
  req.mutable_watch_flows()->set_all(all);
  return Call(socket_path, req, on_change);
}

int RunFlows(const std::string& socket, const FlowsOptions& options) {
  if (!options.watch) {
    cv1::Request req;
    req.mutable_list_flows()->set_all(options.all);
    auto resp = Call(socket, req);
    if (!resp.ok()) {
      std::fprintf(stderr, "veilctl: %s\n", resp.error().message.c_str());
      return 3;
    }
    if (!resp->ok()) {
      std::fprintf(stderr, "veilctl: flows refused: %s\n", resp->error().c_str());
      return 1;
    }
    return PrintList(*resp, options.json);
  }
  bool header = false;
  auto first = WatchFlows(socket, options.all, [&](const cv1::Response& change) {
    if (change.flows_lost() > 0)
      std::fprintf(stderr, "veilctl: %llu flow changes lost: veilctl read too slowly\n",
                   static_cast<unsigned long long>(change.flows_lost()));
    for (const auto& f : change.flows()) {
      if (options.json) {
        std::printf("%s\n", FlowJson(f).dump().c_str());
      } else {
        if (!header) std::fputs(FlowTableHeader().c_str(), stdout);
        header = true;
        std::fputs(FlowTableRow(f).c_str(), stdout);
      }
    }
    // A closed stdout (veilctl flows --watch | head) ends the watch.
    return std::fflush(stdout) == 0 && !std::ferror(stdout);
  });
  if (!first.ok()) {
    std::fprintf(stderr, "veilctl: %s\n", first.error().message.c_str());
    return 3;
  }
  if (!first->ok()) {
    std::fprintf(stderr, "veilctl: flows refused: %s\n", first->error().c_str());
    return 1;
  }
  if (std::ferror(stdout)) return 0;
  std::fprintf(stderr, "veilctl: veild ended the watch\n");
  return 3;
}

}  // namespace veil::veilctl
