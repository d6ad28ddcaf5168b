#include "tools/veilctl/offline.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/loader.h"
#include "masker/masker.h"

namespace veil::veilctl {
namespace {

constexpr const char* kDefaultConfig = "/etc/veil/veil.yaml";

bool UsesKey(const config::v1::MaskingProfile& p) {
  using S = config::v1::MaskingProfile;
  auto keyed = [](int s) { return s == S::STRATEGY_HASH || s == S::STRATEGY_FPE; };
  for (const auto& [_, s] : p.strategies())
    if (keyed(s)) return true;
  for (const auto& c : p.columns())
    if (keyed(c.strategy())) return true;
  for (const auto& c : p.custom())
    if (keyed(c.strategy())) return true;
  return false;
}

// A throwaway key for profiles that never use it (redact/partial/null).
std::shared_ptr<const masker::MaskKey> EphemeralKey() {
  std::array<uint8_t, masker::MaskKey::kSize> k{};
  RAND_bytes(k.data(), static_cast<int>(k.size()));
  return masker::MaskKey::FromBytes(k);
}

}  // namespace

Result<std::shared_ptr<const masker::MaskingProfile>> LoadProfile(const ProfileChoice& choice) {
  std::string path;
  if (choice.config_file) {
    path = *choice.config_file;
  } else if (::access(kDefaultConfig, R_OK) == 0) {
    path = kDefaultConfig;
  } else {
    if (choice.profile != "default")
      return Error{"profile \"" + choice.profile + "\" needs a configuration (--config FILE)"};
    return masker::MaskingProfile::Default(EphemeralKey());
  }
  auto loaded = config::LoadFile(path);
  if (auto* diags = std::get_if<std::vector<config::Diagnostic>>(&loaded)) {
    std::string msg;
    for (const auto& d : *diags) msg += (msg.empty() ? "" : "\n") + d.ToString();
    return Error{msg};
  }
  const auto& cfg = std::get<config::LoadedConfig>(loaded);
  const auto& profiles = cfg.config.masking().profiles();
  auto it = profiles.find(choice.profile);
  if (it == profiles.end()) {
    std::string names;
    for (const auto& [n, _] : profiles) names += (names.empty() ? "" : ", ") + n;
    return Error{path + ": no masking profile \"" + choice.profile + "\" (profiles: " + names +
                 ")"};
  }
  std::shared_ptr<const masker::MaskKey> key;
  if (UsesKey(it->second)) {
    // The key is the agent's: read it, never create it from the CLI.
    const std::string& kf = cfg.config.masking().key_file();
    if (::access(kf.c_str(), R_OK) != 0)
      return Error{"profile \"" + choice.profile + "\" uses hash/fpe, which need the key " + kf +
                   ": " + std::strerror(errno) + " (run as root or a member of group veil)"};
    auto k = masker::MaskKey::LoadOrCreate(kf);
    if (!k.ok()) return k.error();
    key = *k;
  } else {
    key = EphemeralKey();
  }
  auto compiled = masker::MaskingProfile::Compile(it->second, "masking.profiles." + choice.profile,
                                                  std::move(key));
  if (auto* errs = std::get_if<std::vector<masker::MaskingProfile::CompileError>>(&compiled)) {
    std::string msg;
    for (const auto& e : *errs)
      msg += (msg.empty() ? "" : "\n") + cfg.At(e.path, e.message).ToString();
    return Error{msg};
  }
  return std::get<0>(compiled);
}

Status Process(Mode mode, masker::Masker& masker, std::FILE* in, std::FILE* out,
               const std::string& file_label) {
  std::string line, masked, json;
  std::vector<char> buf(1 << 20);
  uint64_t line_no = 0;
  const masker::Detector& det = *masker.profile().detector();
  auto handle = [&](std::string_view l) {
    ++line_no;
    if (mode == Mode::kMask) {
      if (masker.MaskText(l, &masked)) l = masked;
      std::fwrite(l.data(), 1, l.size(), out);
      return;
    }
    masker.Scan(l);
    for (const auto& m : masker.findings()) {
      json.clear();
      json += "{";
      if (!file_label.empty()) {
        json += "\"file\":\"";
        for (char c : file_label) {
          if (c == '"' || c == '\\') json += '\\';
          json += c;
        }
        json += "\",";
      }
      char num[160];
      std::snprintf(num, sizeof(num),
                    "\"line\":%llu,\"start\":%u,\"end\":%u,\"entity\":\"%.*s\",\"score\":%.2f}\n",
                    static_cast<unsigned long long>(line_no), m.start, m.end,
                    static_cast<int>(det.EntityName(m.entity).size()),
                    det.EntityName(m.entity).data(), m.score);
      json += num;
      std::fwrite(json.data(), 1, json.size(), out);
    }
  };
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), in)) > 0) {
    std::string_view chunk(buf.data(), n);
    size_t pos = 0;
    while (true) {
      size_t nl = chunk.find('\n', pos);
      if (nl == std::string_view::npos) {
        line.append(chunk.substr(pos));
        break;
      }
      if (line.empty()) {
        handle(chunk.substr(pos, nl - pos));
      } else {
        line.append(chunk.substr(pos, nl - pos));
        handle(line);
        line.clear();
      }
      if (mode == Mode::kMask) std::fputc('\n', out);
      pos = nl + 1;
    }
  }
  if (std::ferror(in)) return Error{std::string("read error: ") + std::strerror(errno)};
  if (!line.empty()) handle(line);  // last line without '\n': written back without one
  if (std::fflush(out) != 0) return Error{std::string("write error: ") + std::strerror(errno)};
  return {};
}

}  // namespace veil::veilctl
