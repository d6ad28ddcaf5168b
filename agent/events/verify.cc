#include "agent/events/verify.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/events/chain.h"

namespace veil::events {
namespace {

using json = nlohmann::json;

constexpr uint64_t kNoSeq = std::numeric_limits<uint64_t>::max();

std::optional<uint64_t> SeqOfLine(const std::string& line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  auto f = ReadChainFields(j);
  if (!f.ok()) return std::nullopt;
  return f->seq;
}

// The seq of the first record that parses, for ordering rotated files.
Result<uint64_t> FirstSeq(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": " + std::strerror(errno)};
  std::string line;
  while (std::getline(in, line))
    if (auto s = SeqOfLine(line)) return *s;
  if (in.bad()) return Error{path + ": read error"};
  return kNoSeq;
}

struct FileEntry {
  std::string path;
  uint64_t first_seq;
};

}  // namespace

Result<VerifyReport> VerifyFiles(const std::vector<std::string>& paths,
                                 const CheckpointVerifier* key) {
  std::vector<FileEntry> files;
  for (const auto& p : paths) {
    auto s = FirstSeq(p);
    if (!s.ok()) return s.error();
    files.push_back({p, *s});
  }
  std::stable_sort(files.begin(), files.end(), [](const FileEntry& a, const FileEntry& b) {
    return a.first_seq < b.first_seq;
  });

  VerifyReport r;
  r.files = files.size();
  bool have_prev = false;
  uint64_t prev_seq = 0;
  std::string prev_hash;

  for (size_t fi = 0; fi < files.size(); ++fi) {
    const std::string& path = files[fi].path;
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path + ": " + std::strerror(errno)};
    std::string line;
    uint64_t lineno = 0;
    auto fail = [&](uint64_t seq, std::string reason) {
      r.ok = false;
      r.bad_seq = seq;
      r.file = path;
      r.line = lineno;
      r.reason = std::move(reason);
      return r;
    };
    // True when a record with `seq` follows somewhere after the current position.
    auto appears_later = [&](uint64_t seq) {
      std::string rest;
      while (std::getline(in, rest))
        if (SeqOfLine(rest) == seq) return true;
      for (size_t fj = fi + 1; fj < files.size(); ++fj) {
        std::ifstream more(files[fj].path, std::ios::binary);
        while (std::getline(more, rest))
          if (SeqOfLine(rest) == seq) return true;
      }
      return false;
    };

    while (std::getline(in, line)) {
      ++lineno;
      const uint64_t expected = have_prev ? prev_seq + 1 : 0;
      if (in.eof()) {  // getline stopped at the end of the file, not at a newline
        return fail(expected ? expected : 1, "the last line is incomplete: a truncated record");
      }
      json rec = json::parse(line, nullptr, false);
      if (rec.is_discarded() || !rec.is_object())
        return fail(expected ? expected : 1,
                    "line is not a JSON object: a damaged or inserted record");
      auto fields = ReadChainFields(rec);
      if (!fields.ok()) return fail(expected ? expected : 1, fields.error().message);
      const uint64_t seq = fields->seq;
      auto hash = RecordHash(rec);
      if (!hash.ok()) return fail(seq, hash.error().message);
      if (have_prev && seq != expected) {
        if (seq > expected) {
          if (appears_later(expected))
            return fail(expected, "seq " + std::to_string(seq) + " comes before seq " +
                                      std::to_string(expected) + ": records reordered");
          return fail(expected, "seq " + std::to_string(expected) + " is missing (next is seq " +
                                    std::to_string(seq) + "): record deleted");
        }
        return fail(seq, "seq " + std::to_string(seq) + " follows seq " + std::to_string(prev_seq) +
                             ": a record was inserted or moved");
      }
      if (*hash != fields->hash)
        return fail(seq, "the record does not match its hash: record edited");
      if (have_prev && fields->prev != prev_hash)
        return fail(seq, "prev does not match the hash of seq " + std::to_string(prev_seq) +
                             ": a record before it was replaced or inserted");
      if (!have_prev && seq == 1 && fields->prev != kGenesisHash)
        return fail(seq, "seq 1 does not start from the genesis hash");
      if (seq == 0) return fail(seq, "seq 0 is not a valid seq");

      const json& unmapped = rec["unmapped"];
      if (auto cp = unmapped.find("checkpoint"); cp != unmapped.end()) {
        if (!cp->is_object() || !cp->contains("seq") || !(*cp)["seq"].is_number_unsigned() ||
            !cp->contains("hash") || !(*cp)["hash"].is_string())
          return fail(seq, "checkpoint fields missing or malformed");
        if ((*cp)["seq"].get<uint64_t>() + 1 != seq ||
            (*cp)["hash"].get<std::string>() != fields->prev)
          return fail(seq, "checkpoint does not cover the record before it");
        if (key) {
          Status st = key->Check(*cp);
          if (!st.ok()) return fail(seq, st.error().message);
          ++r.checkpoints_verified;
        }
        ++r.checkpoints;
        r.unsigned_tail = 0;
      } else {
        ++r.unsigned_tail;
      }
      if (auto gap = unmapped.find("gap"); gap != unmapped.end() && gap->is_object()) {
        ++r.gaps;
        if (gap->contains("lost") && (*gap)["lost"].is_number_unsigned())
          r.events_lost += (*gap)["lost"].get<uint64_t>();
      }

      if (!have_prev) r.first_seq = seq;
      have_prev = true;
      prev_seq = seq;
      prev_hash = fields->hash;
      r.last_seq = seq;
      ++r.records;
    }
    if (in.bad()) return Error{path + ": read error"};
  }
  return r;
}

}  // namespace veil::events
