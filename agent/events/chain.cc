#include "agent/events/chain.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <charconv>

namespace veil::events {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

std::string Canonical(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

std::string HashOf(std::string_view prev, const nlohmann::json& without_hash) {
  std::string input(prev);
  input += Canonical(without_hash);
  return Sha256Hex(input);
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

Result<ChainFields> ReadChainFields(const nlohmann::json& record) {
  if (!record.is_object()) return Error{"record is not a JSON object"};
  auto u = record.find("unmapped");
  if (u == record.end() || !u->is_object()) return Error{"record has no unmapped.chain"};
  auto c = u->find("chain");
  if (c == u->end() || !c->is_object()) return Error{"record has no unmapped.chain"};
  auto seq = c->find("seq");
  auto prev = c->find("prev");
  auto hash = c->find("hash");
  if (seq == c->end() || !seq->is_number_unsigned())
    return Error{"unmapped.chain.seq is missing or not a positive integer"};
  if (prev == c->end() || !prev->is_string() || !IsHex64(prev->get<std::string>()))
    return Error{"unmapped.chain.prev is missing or not 64 hex digits"};
  if (hash == c->end() || !hash->is_string() || !IsHex64(hash->get<std::string>()))
    return Error{"unmapped.chain.hash is missing or not 64 hex digits"};
  return ChainFields{seq->get<uint64_t>(), prev->get<std::string>(), hash->get<std::string>()};
}

Result<std::string> RecordHash(nlohmann::json record) {
  auto fields = ReadChainFields(record);
  if (!fields.ok()) return fields.error();
  record["unmapped"]["chain"].erase("hash");
  return HashOf(fields->prev, record);
}

Result<ChainHead> HeadOfLine(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error{"not JSON"};
  auto fields = ReadChainFields(j);
  if (!fields.ok()) return fields.error();
  return ChainHead{fields->seq, fields->hash};
}

std::string Chain::Stamp(nlohmann::json& record) const {
  if (!record.is_object()) record = nlohmann::json{{"value", record}};
  nlohmann::json& unmapped = record["unmapped"];
  if (!unmapped.is_object()) unmapped = nlohmann::json::object();
  unmapped["chain"] = {{"seq", head_.seq + 1}, {"prev", head_.hash}};
  // Serialized once: the canonical form without the hash is what is hashed, and the line is
  // that text with "hash" put where sorted keys place it (first in chain: hash < prev < seq).
  // Quotes inside string values are escaped, so the marker occurs only as structure; the
  // result is byte-identical to Canonical(record) after the hash is set (tested).
  std::string text = Canonical(record);
  std::string input = head_.hash;
  input += text;
  const std::string hash = Sha256Hex(input);
  unmapped["chain"]["hash"] = hash;
  static constexpr std::string_view kMarker = "\"chain\":{\"prev\":";
  const size_t at = text.find(kMarker);
  if (at == std::string::npos || text.find(kMarker, at + 1) != std::string::npos)
    return Canonical(record);  // not the expected shape: serialize again
  text.insert(at + kMarker.size() - std::string_view("\"prev\":").size(),
              "\"hash\":\"" + hash + "\",");
  return text;
}

void Chain::Commit(const nlohmann::json& record) {
  const nlohmann::json& c = record["unmapped"]["chain"];
  head_.seq = c["seq"].get<uint64_t>();
  head_.hash = c["hash"].get<std::string>();
}

}  // namespace veil::events

namespace veil::events {

ChainHead Chain::Stamp(const Record& record, std::string* line) const {
  ChainHead next;
  next.seq = head_.seq + 1;
  char seq[24];
  const auto seq_end = std::to_chars(seq, seq + sizeof seq, next.seq).ptr;
  const std::string_view seq_text(seq, seq_end - seq);
  const std::string_view head(record.json.data(), record.chain_at);
  const std::string_view tail(record.json.data() + record.chain_at,
                              record.json.size() - record.chain_at);
  // With the chain first in unmapped, a comma follows it unless unmapped holds nothing else;
  // otherwise a comma leads it.
  const bool lead = !record.chain_first;
  const bool trail = record.chain_first && !tail.starts_with('}');

  std::string pair;  // "chain":{"prev":"...","seq":N} with its separators
  pair.reserve(128);
  if (lead) pair += ',';
  pair += "\"chain\":{\"prev\":\"";
  pair += head_.hash;
  pair += "\",\"seq\":";
  pair += seq_text;
  pair += '}';
  if (trail) pair += ',';

  thread_local EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx, sha256, nullptr);
  EVP_DigestUpdate(ctx, head_.hash.data(), head_.hash.size());
  EVP_DigestUpdate(ctx, head.data(), head.size());
  EVP_DigestUpdate(ctx, pair.data(), pair.size());
  EVP_DigestUpdate(ctx, tail.data(), tail.size());
  EVP_DigestFinal_ex(ctx, digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  next.hash.resize(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    next.hash[2 * i] = kHex[digest[i] >> 4];
    next.hash[2 * i + 1] = kHex[digest[i] & 0xf];
  }

  line->reserve(line->size() + record.json.size() + pair.size() + 80);
  line->append(head);
  if (lead) line->push_back(',');
  line->append("\"chain\":{\"hash\":\"");
  line->append(next.hash);
  line->append("\",\"prev\":\"");
  line->append(head_.hash);
  line->append("\",\"seq\":");
  line->append(seq_text);
  line->push_back('}');
  if (trail) line->push_back(',');
  line->append(tail);
  return next;
}

}  // namespace veil::events
