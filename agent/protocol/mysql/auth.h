// Pure functions of the MySQL authentication plugins: the scrambles a client sends. No I/O, no
// state; the auth exchange itself (which packet when) belongs to the session.
//
// mysql_native_password:
//   https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods_native_password_authentication.html
// caching_sha2_password (fast path; full authentication sends the password over TLS or
// RSA-encrypted, which is not a scramble):
//   https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
#pragma once

#include <string>
#include <string_view>

namespace veil::mysql {

// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))): 20 bytes; empty for an empty
// password (the client then sends an empty auth response). `scramble` is the server's 20 bytes
// (HandshakeV10::scramble(), or AuthSwitchRequest data without its trailing NUL).
std::string NativePasswordScramble(std::string_view password, std::string_view scramble);

// XOR(SHA256(password), SHA256(SHA256(SHA256(password)) + scramble)): 32 bytes; empty for an
// empty password.
std::string CachingSha2Scramble(std::string_view password, std::string_view scramble);

}  // namespace veil::mysql
