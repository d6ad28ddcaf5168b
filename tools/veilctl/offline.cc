#include "tools/veilctl/offline.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "config/loader.h"
#include "masker/detector.h"
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

// One field of a delimited line: its bytes as written and its value (quotes removed, "" as ").
struct Field {
  std::string_view raw;
  std::string_view value;
  bool quoted;
};

// Splits one line (no '\n') at `delim`, RFC 4180 quoting for all but tabs. Unescaped values go
// to `arena`, whose capacity the caller has reserved (no reallocation: the views stay valid).
// False when a quote is left open (a field that continues on the next line).
bool SplitFields(std::string_view line, char delim, std::vector<Field>* out, std::string* arena) {
  out->clear();
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t i = 0;
  for (;;) {
    const size_t b = i;
    if (delim != '\t' && i < line.size() && line[i] == '"') {
      const size_t start = arena->size();
      for (++i;; ++i) {
        if (i >= line.size()) return false;
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            arena->push_back('"');
            ++i;
            continue;
          }
          break;
        }
        arena->push_back(line[i]);
      }
      ++i;  // the closing quote
      if (i < line.size() && line[i] != delim) return false;
      out->push_back({line.substr(b, i - b),
                      std::string_view(arena->data() + start, arena->size() - start), true});
    } else {
      while (i < line.size() && line[i] != delim) ++i;
      out->push_back({line.substr(b, i - b), line.substr(b, i - b), false});
    }
    if (i >= line.size()) return true;
    ++i;  // the delimiter
  }
}

// A header line: every field a column name, some of them naming what their cells hold
// ("first_name,last_name,phone"). Its columns then give their cells the context a result
// set's columns give theirs in veild.
struct Table {
  char delim = 0;
  std::vector<masker::ColumnPolicy> policies;
  std::vector<const masker::ColumnPolicy*> ptrs;  // into policies, set where the table is kept
};

// Whether `v` holds n digits in a row.
bool HasDigitRun(std::string_view v, size_t n) {
  size_t run = 0;
  for (char c : v) {
    run = std::isdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
    if (run >= n) return true;
  }
  return false;
}

std::optional<Table> ReadHeader(std::string_view line, const masker::MaskingProfile& profile) {
  if (line.size() > 4096) return std::nullopt;
  std::vector<Field> fields;
  std::string arena;
  arena.reserve(line.size());
  for (char delim : {'\t', ',', ';', '|'}) {
    arena.clear();
    if (!SplitFields(line, delim, &fields, &arena) || fields.size() < 2) continue;
    Table t;
    t.delim = delim;
    bool names = true, hinted = false;
    for (const Field& f : fields) {
      std::string_view v = f.value;
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      names = names && !v.empty() && v.size() <= 64 &&
              (std::isalpha(static_cast<unsigned char>(v[0])) || v[0] == '_') &&
              std::all_of(v.begin(), v.end(),
                          [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                                   c == ' ' || c == '.' || c == '-';
                          }) &&
              !HasDigitRun(v, 4);  // "dob 1980-01-01" is a value: the line is prose
      if (!names) break;
      std::string name(v);
      std::replace(name.begin(), name.end(), ' ', '_');
      t.policies.push_back(profile.PolicyFor({.table = "", .column = name, .text_like = true}));
      hinted = hinted || t.policies.back().has_hint ||
               t.policies.back().action == masker::ColumnPolicy::Action::kForce;
    }
    if (!names || !hinted) continue;
    return t;
  }
  return std::nullopt;
}

// A file name inside a JSON string.
std::string Escaped(std::string_view s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r;
}

// A field's masked text, quoted as the input was (or where the value now needs it).
void AppendField(std::string* out, std::string_view value, bool quoted, char delim) {
  const char specials[] = {delim, '"', '\n', '\r'};
  if (!quoted && value.find_first_of(std::string_view(specials, 4)) == std::string_view::npos) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
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
  // Slices of whole lines that fit the cache (the prefilter's masks and Hyperscan's scratch
  // stay in L2); the output is written slice by slice.
  auto slices = [](std::string_view block, auto&& each) {
    constexpr size_t kSlice = 64 << 10;
    while (!block.empty()) {
      size_t cut = block.size();
      if (cut > kSlice) {
        const size_t nl = block.rfind('\n', kSlice - 1);
        cut = nl == std::string_view::npos ? block.size() : nl + 1;
      }
      each(block.substr(0, cut));
      block.remove_prefix(cut);
    }
  };
  // One scan finding as SPEC §7's JSON line; `line` counts from 1.
  auto write_finding = [&](uint64_t line, size_t start, size_t end, uint8_t entity, float score) {
    json.clear();
    json += "{";
    if (!file_label.empty()) json += "\"file\":\"" + Escaped(file_label) + "\",";
    const std::string_view name = det.EntityName(entity);
    char num[160];
    std::snprintf(num, sizeof(num),
                  "\"line\":%llu,\"start\":%zu,\"end\":%zu,\"entity\":\"%.*s\",\"score\":%.2f}\n",
                  static_cast<unsigned long long>(line), start, end, static_cast<int>(name.size()),
                  name.data(), score);
    json += num;
    std::fwrite(json.data(), 1, json.size(), out);
  };
  bool key_open = false;  // a private key's lines run on past this block
  auto plain = [&](std::string_view block) {
    if (mode == Mode::kMask) {
      slices(block, [&](std::string_view slice) {
        std::string_view o =
            masker.MaskLines(slice, &masked, nullptr, &key_open) ? std::string_view(masked) : slice;
        std::fwrite(o.data(), 1, o.size(), out);
      });
      return;
    }
    masker.ScanLines(block, &key_open);
    size_t line_start = 0, pos = 0;
    for (const auto& m : masker.findings()) {
      for (size_t nl; (nl = block.find('\n', pos)) != std::string_view::npos && nl < m.start;
           pos = nl + 1) {
        ++line_no;
        line_start = nl + 1;
      }
      write_finding(line_no + 1, m.start - line_start, m.end - line_start, m.entity, m.score);
    }
    for (size_t nl; (nl = block.find('\n', pos)) != std::string_view::npos; pos = nl + 1) ++line_no;
  };
  // A CSV or TSV file whose first line names its columns: each line's fields are masked as
  // the cells of a row under those columns (a `first_name` cell is a name with no other
  // context), through the engine's row path. A line with another number of fields (prose, a
  // quoted field over several lines) is masked as text.
  std::optional<Table> table;
  bool first = true;
  std::string arena, rebuilt;
  std::vector<Field> fields, all_fields;
  std::vector<masker::Masker::Cell> cells;
  std::vector<masker::ValueOutcome> outcomes;
  std::vector<std::string> outs;
  struct Line {
    std::string_view text;  // with its '\n'
    size_t first_cell;      // into cells, or npos: masked as text
  };
  std::vector<Line> lines;
  auto tabular = [&](std::string_view slice) {
    const size_t ncols = table->ptrs.size();
    arena.clear();
    arena.reserve(slice.size());
    cells.clear();
    all_fields.clear();
    lines.clear();
    for (size_t at = 0; at < slice.size();) {
      size_t nl = slice.find('\n', at);
      nl = nl == std::string_view::npos ? slice.size() : nl + 1;
      std::string_view text = slice.substr(at, nl - at);
      std::string_view l = text.ends_with('\n') ? text.substr(0, text.size() - 1) : text;
      at = nl;
      if (SplitFields(l, table->delim, &fields, &arena) && fields.size() == ncols) {
        lines.push_back({text, cells.size()});
        for (const Field& f : fields) {
          cells.push_back({f.value, false});
          all_fields.push_back(f);
        }
      } else {
        lines.push_back({text, std::string_view::npos});
      }
    }
    if (mode == Mode::kScan) {
      // The engine's findings per line, and a hinted column's cell that they do not cover and
      // that is its entity as MaskRows judges a hinted cell (masker::ValueIs): one engine pass.
      for (const Line& ln : lines) {
        plain(ln.text);
        if (ln.first_cell == std::string_view::npos) continue;
        for (size_t k = 0; k < ncols; ++k) {
          const size_t c = ln.first_cell + k;
          const masker::ColumnPolicy& pol = *table->ptrs[k];
          const Field& f = all_fields[c];
          if (!pol.has_hint || !masker::ValueIs(static_cast<masker::Entity>(pol.entity), f.value))
            continue;
          const size_t start = static_cast<size_t>(f.raw.data() - ln.text.data()) + f.quoted;
          const size_t end = start + f.raw.size() - 2 * f.quoted;
          const auto& found = masker.findings();  // this line's, from plain()
          if (std::any_of(found.begin(), found.end(),
                          [&](const auto& m) { return m.start < end && m.end > start; }))
            continue;
          write_finding(ln.text.ends_with('\n') ? line_no : line_no + 1, start, end, pol.entity,
                        0.9f);
        }
      }
      return;
    }
    masker.MaskRows(table->ptrs, cells, &outcomes, &outs);
    rebuilt.clear();
    for (const Line& ln : lines) {
      if (ln.first_cell == std::string_view::npos) {
        rebuilt += masker.MaskLines(ln.text, &masked) ? std::string_view(masked) : ln.text;
        continue;
      }
      for (size_t k = 0; k < ncols; ++k) {
        const size_t c = ln.first_cell + k;
        if (k) rebuilt += table->delim;
        switch (outcomes[c]) {
          case masker::ValueOutcome::kUnchanged:
            rebuilt += all_fields[c].raw;
            break;
          case masker::ValueOutcome::kNull:  // an empty field
            break;
          case masker::ValueOutcome::kMasked:
            AppendField(&rebuilt, outs[c], all_fields[c].quoted, table->delim);
            break;
        }
      }
      const bool nl = ln.text.ends_with('\n');
      if (ln.text.substr(0, ln.text.size() - nl).ends_with('\r')) rebuilt += '\r';
      if (nl) rebuilt += '\n';
    }
    std::fwrite(rebuilt.data(), 1, rebuilt.size(), out);
  };
  auto handle = [&](std::string_view block) {
    if (first) {
      first = false;
      const size_t nl = block.find('\n');
      table = ReadHeader(block.substr(0, nl), masker.profile());
      if (table) {  // the header itself is text
        for (const auto& p : table->policies) table->ptrs.push_back(&p);
        const std::string_view head = block.substr(0, nl == std::string_view::npos ? nl : nl + 1);
        plain(head);
        block.remove_prefix(head.size());
      }
    }
    if (!table) return plain(block);
    slices(block, tabular);
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
