// libFuzzer target for both PostgreSQL decoders. The first input byte picks the direction and
// starting state; the rest is the byte stream. Besides "no crash, no out-of-bounds read" (ASan,
// UBSan), it checks that every frame the decoder accepts re-encodes to exactly the same bytes:
// the decoder is strict enough that decode -> encode is the identity, which is what lets veil
// forward or rebuild frames without desynchronising the client.
//
// Build and run: tools/fuzz.sh
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "agent/protocol/postgres/decoder.h"
#include "agent/protocol/postgres/encoder.h"

namespace {

using veil::pg::BackendDecoder;
using veil::pg::BackendMessage;
using veil::pg::DecodeStatus;
using veil::pg::FrontendDecoder;
using veil::pg::FrontendMessage;

template <typename Decoder, typename Message>
void Run(Decoder& decoder, std::span<const uint8_t> stream) {
  Message message;
  std::vector<uint8_t> reencoded;
  while (true) {
    size_t consumed = 0;
    const veil::pg::DecodeResult r = decoder.Decode(stream, &consumed, &message);
    if (r.status != DecodeStatus::kReady) {
      if (consumed != 0) abort();
      if (r.status == DecodeStatus::kError && r.error.empty()) abort();
      return;
    }
    if (consumed == 0 || consumed > stream.size()) abort();
    reencoded.clear();
    const veil::Status s = veil::pg::Encode(message, &reencoded);
    if (!s.ok()) {
      fprintf(stderr, "re-encoding %s failed: %s\n",
              std::string(veil::pg::MessageName(message)).c_str(), s.error().message.c_str());
      abort();
    }
    if (reencoded.size() != consumed || memcmp(reencoded.data(), stream.data(), consumed) != 0) {
      fprintf(stderr, "%s does not re-encode to its own bytes\n",
              std::string(veil::pg::MessageName(message)).c_str());
      abort();
    }
    stream = stream.subspan(consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> stream(data + 1, size - 1);
  switch (data[0] & 3) {
    case 0: {
      FrontendDecoder d;
      Run<FrontendDecoder, FrontendMessage>(d, stream);
      break;
    }
    case 1: {
      FrontendDecoder d({}, FrontendDecoder::Phase::kTyped);
      Run<FrontendDecoder, FrontendMessage>(d, stream);
      break;
    }
    case 2: {
      BackendDecoder d;
      Run<BackendDecoder, BackendMessage>(d, stream);
      break;
    }
    case 3: {
      BackendDecoder d;
      d.ExpectEncryptionResponse();
      Run<BackendDecoder, BackendMessage>(d, stream);
      break;
    }
  }
  return 0;
}
