// Turns OpenSSL's thread-local error queue into a message for Error. Private to veil_tls.
#pragma once

#include <openssl/err.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace veil::tls::internal {

// Drains the calling thread's OpenSSL error queue (so a stale entry cannot be blamed on the next
// failure, nor confuse SSL_get_error in the proxy) and returns "what: err1; err2".
inline std::string DrainOpenSslErrors(std::string_view what) {
  std::string out(what);
  bool first = true;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

inline Error OpenSslError(std::string_view what) { return Error{DrainOpenSslErrors(what)}; }

}  // namespace veil::tls::internal
