#include "tools/veilctl/offline.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
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
  // Blocks of whole lines go through the engine in one pass each (per-call cost matters for
  // short lines); a line longer than the buffer is carried over until it is complete.
  std::vector<char> buf(1 << 20);
  std::string carry, masked, json;
  uint64_t line_no = 0;
  const masker::Detector& det = *masker.profile().detector();
  auto handle = [&](std::string_view block) {
    if (mode == Mode::kMask) {
      // The engine's batch path in slices of whole lines that fit the cache (the prefilter's
      // masks and Hyperscan's scratch stay in L2); the output is written slice by slice.
      constexpr size_t kSlice = 64 << 10;
      while (!block.empty()) {
        size_t cut = block.size();
        if (cut > kSlice) {
          size_t nl = block.rfind('\n', kSlice - 1);
          cut = nl == std::string_view::npos ? block.size() : nl + 1;
        }
        std::string_view slice = block.substr(0, cut);
        std::string_view o = masker.MaskLines(slice, &masked) ? std::string_view(masked) : slice;
        std::fwrite(o.data(), 1, o.size(), out);
        block.remove_prefix(cut);
      }
      return;
    }
    masker.ScanLines(block);
    size_t line_start = 0, pos = 0;
    for (const auto& m : masker.findings()) {
      for (size_t nl; (nl = block.find('\n', pos)) != std::string_view::npos && nl < m.start;
           pos = nl + 1) {
        ++line_no;
        line_start = nl + 1;
      }
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
                    "\"line\":%llu,\"start\":%zu,\"end\":%zu,\"entity\":\"%.*s\",\"score\":%.2f}\n",
                    static_cast<unsigned long long>(line_no + 1), m.start - line_start,
                    m.end - line_start, static_cast<int>(det.EntityName(m.entity).size()),
                    det.EntityName(m.entity).data(), m.score);
      json += num;
      std::fwrite(json.data(), 1, json.size(), out);
    }
    for (size_t nl; (nl = block.find('\n', pos)) != std::string_view::npos; pos = nl + 1) ++line_no;
  };
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), in)) > 0) {
    std::string_view chunk(buf.data(), n);
    size_t last_nl = chunk.rfind('\n');
    if (last_nl == std::string_view::npos) {
      carry.append(chunk);
      continue;
    }
    if (!carry.empty()) {
      carry.append(chunk.substr(0, last_nl + 1));
      handle(carry);
      carry.clear();
    } else {
      handle(chunk.substr(0, last_nl + 1));
    }
    carry.assign(chunk.substr(last_nl + 1));
  }
  if (std::ferror(in)) return Error{std::string("read error: ") + std::strerror(errno)};
  if (!carry.empty()) handle(carry);  // a last line without '\n' is written back without one
  if (std::fflush(out) != 0) return Error{std::string("write error: ") + std::strerror(errno)};
  return {};
}

}  // namespace veil::veilctl
