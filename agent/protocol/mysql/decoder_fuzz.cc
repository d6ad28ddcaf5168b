// libFuzzer target for both MySQL decoders. The first input byte picks the direction, the
// starting state and the negotiated capabilities; the rest is the byte stream. Besides "no
// crash, no out-of-bounds read" (ASan, UBSan), it checks that every message the decoder accepts
// re-encodes to exactly the same bytes: the decoder is strict enough that decode -> encode is
// the identity, which is what lets veil forward or rebuild packets without desynchronising the
// client.
//
// Build and run: tools/fuzz.sh
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "agent/protocol/mysql/decoder.h"
#include "agent/protocol/mysql/encoder.h"

namespace {

using namespace veil::mysql;  // NOLINT: a fuzz harness

template <typename Message>
void CheckIdentity(const Message& message, uint64_t caps, uint8_t first_sequence,
                   std::span<const uint8_t> frame) {
  std::vector<uint8_t> reencoded;
  uint8_t seq = first_sequence;
  const veil::Status s = Encode(message, caps, &seq, &reencoded);
  if (!s.ok()) {
    fprintf(stderr, "re-encoding %s failed: %s\n", std::string(MessageName(message)).c_str(),
            s.error().message.c_str());
    abort();
  }
  if (reencoded.size() != frame.size() ||
      memcmp(reencoded.data(), frame.data(), frame.size()) != 0) {
    fprintf(stderr, "%s does not re-encode to its own bytes\n",
            std::string(MessageName(message)).c_str());
    abort();
  }
}

void CheckResult(const DecodeResult& r, size_t consumed, size_t available) {
  if (r.status != DecodeStatus::kReady) {
    if (consumed != 0) abort();
    if (r.status == DecodeStatus::kError && r.error.empty()) abort();
    return;
  }
  if (consumed == 0 || consumed > available) abort();
}

void RunClient(ClientDecoder& d, std::span<const uint8_t> stream) {
  ClientMessage message;
  for (;;) {
    size_t consumed = 0;
    const DecodeResult r = d.Decode(stream, &consumed, &message);
    CheckResult(r, consumed, stream.size());
    if (!r.ready()) return;
    // Capabilities in force for the message are those before a HandshakeResponse41 set new ones;
    // the handshake packets carry their own and ignore the argument.
    CheckIdentity(message, d.capabilities(), r.first_sequence_id, stream.first(consumed));
    if (std::holds_alternative<ComStmtPrepare>(message)) d.OnStatementPrepared(1, 2);
    stream = stream.subspan(consumed);
  }
}

// After each response ends, the next command is `next` (cycled), answered from sequence 1.
void RunServer(ServerDecoder& d, std::span<const uint8_t> stream,
               const std::vector<ClientMessage>& next) {
  ServerMessage message;
  size_t command = 0;
  for (;;) {
    if (d.state() == ServerDecoder::State::kIdle && !next.empty()) {
      d.ExpectResponseTo(next[command++ % next.size()], 0);
    }
    size_t consumed = 0;
    const DecodeResult r = d.Decode(stream, &consumed, &message);
    CheckResult(r, consumed, stream.size());
    if (!r.ready()) return;
    CheckIdentity(message, d.capabilities(), r.first_sequence_id, stream.first(consumed));
    stream = stream.subspan(consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> stream(data + 1, size - 1);
  const uint8_t mode = data[0] & 7;
  uint64_t caps = cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth |
                  cap::kTransactions | cap::kMultiResults | cap::kConnectAttrs;
  if (data[0] & 0x08) caps |= cap::kDeprecateEof;
  if (data[0] & 0x10) caps |= cap::kSessionTrack;
  if (data[0] & 0x20) caps |= cap::kQueryAttributes;
  if (data[0] & 0x40) caps |= cap::kMariaDbExtendedMetadata;
  if (data[0] & 0x80) caps &= ~cap::kProtocol41;
  DecoderLimits limits;
  limits.max_payload = 1 << 20;
  switch (mode) {
    case 0: {
      ClientDecoder d(limits);
      RunClient(d, stream);
      break;
    }
    case 1: {
      ClientDecoder d(limits, ClientDecoder::Phase::kCommand);
      d.set_capabilities(caps);
      d.OnStatementPrepared(0, 0);
      d.OnStatementPrepared(1, 2);
      d.OnStatementPrepared(2, 9);
      RunClient(d, stream);
      break;
    }
    case 2: {
      ServerDecoder d(limits);
      RunServer(d, stream, {});
      break;
    }
    default: {
      ServerDecoder d(limits, ServerDecoder::State::kIdle);
      d.set_capabilities(caps);
      ComStmtExecute exec;
      exec.statement_id = 1;
      const std::vector<std::vector<ClientMessage>> scripts = {
          {ComQuery{}},
          {ComStmtPrepare{}, exec, ComStmtFetch{1, 5}},
          {ComPing{}, ComQuery{}},
          {ComChangeUser{}, ComQuery{}},
          {UnknownCommand{0x09, ""}},
      };
      RunServer(d, stream, scripts[mode - 3]);
      break;
    }
  }
  return 0;
}
