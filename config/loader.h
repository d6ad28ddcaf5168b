// Loads /etc/veil/veil.yaml into the versioned schema `veil.config.v1.Config` (veil_config.proto)
// and validates it, reporting every problem as `file:line:col: message`.
//
//   auto loaded = veil::config::LoadFile("/etc/veil/veil.yaml");
//   if (auto* errors = std::get_if<std::vector<veil::config::Diagnostic>>(&loaded)) {
//     for (const auto& d : *errors) std::cerr << d.ToString() << "\n";
//     return 1;  // at start: refuse to run; on reload: keep the running configuration
//   }
//   const veil::config::LoadedConfig& cfg = std::get<veil::config::LoadedConfig>(loaded);
//   for (const auto& ep : cfg.config.endpoints()) ...
//
// The YAML is mapped onto the message generically through protobuf reflection; the schema's
// custom options (value_format, required, default_value, ...) say what each value must look
// like. After the structural pass, semantic checks run (unique endpoint names and listen
// addresses, references to endpoints and profiles exist, ...), then defaults are filled in, so a
// LoadedConfig always holds every value explicitly:
//   agent: state_dir /var/lib/veil, control_socket /run/veil/veil.sock,
//          metrics_listen 127.0.0.1:9464, redirect ebpf
//   endpoint: access grant, fail_mode closed, tls.client prefer, tls.upstream verify-full,
//             masking "default"
//   masking: key_file <state_dir>/keys/mask.key; a profile `default` with entities [all] when
//            none is named so; each profile: entities [all], strategies {default: redact},
//            min_score 0.5; columns: action mask; custom entities: score 0.8
//   grants: policy max_ttl 8h, pending_ttl 1h, approvals 1 when approvers are given;
//           standing access read; notify: events all six, timeout 5s
//   events: no sinks -> one file sink /var/log/veil/events.jsonl; file sinks: path that one,
//           max_size 100MiB, keep 10; syslog: address unix:///dev/log; format ocsf-json
//
// Semantic checks (each reported at the offending value): endpoint names, listen addresses and
// upstreams are unique; listen is present unless access: observe; endpoint and standing-grant
// masking profiles exist; policies and standing grants name at least one endpoint, and only
// existing ones; a policy has requesters or auto_approve, and approvers or auto_approve;
// approvals >= 1 with approvers and 0 without; `all` stands alone in entities, no entity twice;
// a `pass` column rule has no entity/scan/strategy; custom entity names are unique per profile;
// a guardrail sets exactly one kind; sink keys fit the sink type; file sinks do not share a path;
// a notify target has exactly one of url and url_file, an http(s) url with a valid host and no
// user:password@ (a url is never quoted back in a message: it holds the webhook's secret), no
// event twice, a timeout of 100ms..60s, ca_file only for https, and no webhook twice.
// Regexes (custom entity patterns, deny guardrails) are checked with Hyperscan's
// hs_expression_info in UTF-8 mode.
//
// Not validated here: whether entity names exist in the masker's catalog (the masker reports
// that via At()); whether a Hyperscan database of all patterns together compiles with the
// masker's flags; that files and folders exist or are writable; that listen addresses are free
// or that 0.0.0.0:P overlaps 127.0.0.1:P; that principals name existing users/groups/units;
// column glob syntax beyond "2 or 3 dot-separated parts".
//
// Later stages that validate config-derived things themselves (the masker's entity catalog, its
// Hyperscan compilation) report through LoadedConfig::At(path, message), so their errors point
// at the YAML line too. Paths look like "endpoints[0].upstream",
// "masking.profiles.default.entities[2]", "masking.profiles.default.strategies.EMAIL".
//
// Thread-safety: the functions are reentrant; a LoadedConfig is an immutable value once built.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "config/veil_config.pb.h"

namespace veil::config {

// 1-based line and column; 0 means "unknown".
struct SourcePos {
  int line = 0;
  int col = 0;
};

struct Diagnostic {
  std::string file;
  SourcePos pos;
  std::string message;

  // "file:line:col: message", or "file: message" when the position is unknown.
  std::string ToString() const;
};

// Where each value in the YAML came from, keyed by field path. Only values present in the file
// are recorded; defaults applied by the loader have no position.
class SourceMap {
 public:
  // The position of exactly this path's value, if it was in the file.
  std::optional<SourcePos> Find(std::string_view path) const;
  // The position of this path, or else of its closest enclosing path that was in the file
  // ("endpoints[0].tls.client" -> "endpoints[0].tls" -> "endpoints[0]" -> "endpoints").
  std::optional<SourcePos> FindNearest(std::string_view path) const;
  void Add(std::string path, SourcePos pos);
  size_t size() const { return positions_.size(); }

 private:
  std::unordered_map<std::string, SourcePos> positions_;
};

struct LoadedConfig {
  v1::Config config;
  SourceMap positions;
  std::string file;  // as given to LoadFile / LoadString

  // A diagnostic located at `path` (or its nearest enclosing value in the file).
  Diagnostic At(std::string_view path, std::string message) const;
};

using LoadResult = std::variant<LoadedConfig, std::vector<Diagnostic>>;

// Reads, parses and validates the file. On failure returns every diagnostic found (never empty),
// in file order. Never throws.
LoadResult LoadFile(const std::string& path);

// As LoadFile, for YAML text already in memory; `display_name` is the file name in diagnostics.
LoadResult LoadString(std::string_view yaml, std::string display_name);

}  // namespace veil::config
