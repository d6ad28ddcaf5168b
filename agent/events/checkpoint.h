// Signed checkpoints in the event chain (CloudTrail's digest pattern; PCI DSS 10.3.4).
//
// Every N records or T seconds a sink writer appends a checkpoint record to its chain. It is an
// ordinary chained record (OCSF class 1008 Event Log Activity, activity 99 Other) that carries
//   unmapped.checkpoint = {seq, hash, time, key_id, signature}
// where {seq, hash} is the chain head it covers (the record just before it, so `hash` equals the
// checkpoint's own chain.prev), `time` is milliseconds since the epoch, `key_id` the first 16 hex
// digits of SHA-256 of the raw public key, and `signature` the hex Ed25519 signature of
//   "veil.audit.checkpoint.v1:<seq>:<hash>:<time>"
// Someone who edits the log and recomputes every hash after the edit still cannot make the
// signed hashes match without the private key.
//
// The key lives in state_dir/keys/audit.key (PKCS#8 PEM, created 0600 on first start, folder
// 0700); the public key is written beside it as audit.pub (SubjectPublicKeyInfo PEM, 0644) for
// `veilctl audit verify --key`.
//
//   auto signer = veil::events::CheckpointSigner::LoadOrCreate(state_dir + "/keys");
//   nlohmann::json cp = signer->MakeRecord(chain.head(), now_ms);   // then chain it like any event
//   auto key = veil::events::CheckpointVerifier::FromPemFile("/var/lib/veil/keys/audit.pub");
//   Status ok = key->Check(record["unmapped"]["checkpoint"]);
//
// Thread-safety: both classes are immutable after construction and safe to share.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/events/chain.h"
#include "common/result.h"

namespace veil::events {

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

// The message that a checkpoint signature covers.
std::string CheckpointMessage(uint64_t seq, const std::string& hash, int64_t time_ms);

class CheckpointSigner {
 public:
  // Loads keys_dir/audit.key, or creates it (0600) and keys_dir/audit.pub when absent. Creates
  // keys_dir (0700) if needed. Fails when the key file exists but is not an Ed25519 key.
  static Result<std::unique_ptr<CheckpointSigner>> LoadOrCreate(const std::string& keys_dir);

  // A full OCSF-shaped checkpoint record (not yet chained) covering `head`.
  nlohmann::json MakeRecord(const ChainHead& head, int64_t time_ms) const;

  const std::string& key_id() const { return key_id_; }
  // SubjectPublicKeyInfo PEM of the public key.
  const std::string& public_pem() const { return public_pem_; }

 private:
  CheckpointSigner(EvpPkeyPtr key, std::string key_id, std::string public_pem);
  EvpPkeyPtr key_;
  std::string key_id_;
  std::string public_pem_;
};

class CheckpointVerifier {
 public:
  static Result<std::unique_ptr<CheckpointVerifier>> FromPem(const std::string& pem);
  static Result<std::unique_ptr<CheckpointVerifier>> FromPemFile(const std::string& path);

  // Checks one `unmapped.checkpoint` object: its fields, its key_id and its signature.
  Status Check(const nlohmann::json& checkpoint) const;

  const std::string& key_id() const { return key_id_; }

 private:
  CheckpointVerifier(EvpPkeyPtr key, std::string key_id);
  EvpPkeyPtr key_;
  std::string key_id_;
};

}  // namespace veil::events
