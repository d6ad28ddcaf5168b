// veilctl: the operator CLI (SPEC §7). This build has the offline commands, `scan` and `mask`,
// which run the masking engine over files or stdin without an agent.
//
// Exit codes: 0 ok, 1 refused or not found, 2 usage error, 3 agent unreachable.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "masker/masker.h"
#include "tools/veilctl/offline.h"

namespace {

int RunOffline(veil::veilctl::Mode mode, const veil::veilctl::ProfileChoice& choice,
               const std::vector<std::string>& files) {
  auto profile = veil::veilctl::LoadProfile(choice);
  if (!profile.ok()) {
    std::fprintf(stderr, "veilctl: %s\n", profile.error().message.c_str());
    return 1;
  }
  veil::masker::Masker masker(*profile);
  if (files.empty()) {
    auto st = veil::veilctl::Process(mode, masker, stdin, stdout, "");
    if (!st.ok()) {
      std::fprintf(stderr, "veilctl: stdin: %s\n", st.error().message.c_str());
      return 1;
    }
    return 0;
  }
  int rc = 0;
  for (const std::string& f : files) {
    std::FILE* in = f == "-" ? stdin : std::fopen(f.c_str(), "rb");
    if (!in) {
      std::fprintf(stderr, "veilctl: %s: %s\n", f.c_str(), std::strerror(errno));
      rc = 1;
      continue;
    }
    auto st = veil::veilctl::Process(mode, masker, in, stdout, files.size() > 1 ? f : "");
    if (in != stdin) std::fclose(in);
    if (!st.ok()) {
      std::fprintf(stderr, "veilctl: %s: %s\n", f.c_str(), st.error().message.c_str());
      rc = 1;
    }
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"veilctl: inspect flows, manage grants, and scan or mask files with veil's engine"};
  app.require_subcommand(1);
  std::string socket, output = "table";
  app.add_option("--socket", socket, "control socket (default: from the configuration)");
  app.add_option("-o,--output", output, "output format")->check(CLI::IsMember({"table", "json"}));

  veil::veilctl::ProfileChoice choice;
  std::vector<std::string> files;
  auto add_offline = [&](const char* name, const char* help) {
    CLI::App* c = app.add_subcommand(name, help);
    c->add_option("--config", choice.config_file,
                  "configuration file (default /etc/veil/veil.yaml)");
    c->add_option("--profile", choice.profile, "masking profile (default: default)");
    c->add_option("files", files, "files to read; stdin if none");
    return c;
  };
  CLI::App* scan = add_offline(
      "scan", "print one JSON object per finding: {line,start,end,entity,score} (offline)");
  CLI::App* mask = add_offline("mask", "print the input with every finding masked (offline)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (scan->parsed()) return RunOffline(veil::veilctl::Mode::kScan, choice, files);
  if (mask->parsed()) return RunOffline(veil::veilctl::Mode::kMask, choice, files);
  return 2;
}
