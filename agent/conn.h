// Conn: one byte stream of a session — TCP or unix socket, optionally upgraded to TLS — with
// coroutine reads and writes that report errors as values (no exceptions on the data path).
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <tuple>
#include <variant>

namespace veil::agent {

class Conn {
 public:
  using Tcp = asio::ip::tcp::socket;
  using Unix = asio::local::stream_protocol::socket;
  using TlsTcp = asio::ssl::stream<Tcp>;
  using TlsUnix = asio::ssl::stream<Unix>;

  explicit Conn(Tcp s) : s_(std::move(s)) {}
  explicit Conn(Unix s) : s_(std::move(s)) {}

  asio::awaitable<std::tuple<std::error_code, size_t>> ReadSome(std::span<uint8_t> into) {
    co_return co_await std::visit(
        [&](auto& s) {
          return Deref(s).async_read_some(asio::buffer(into.data(), into.size()),
                                          asio::experimental::as_tuple(asio::use_awaitable));
        },
        s_);
  }

  asio::awaitable<std::error_code> WriteAll(std::span<const uint8_t> data) {
    auto [ec, n] = co_await std::visit(
        [&](auto& s) {
          return asio::async_write(Deref(s), asio::buffer(data.data(), data.size()),
                                   asio::experimental::as_tuple(asio::use_awaitable));
        },
        s_);
    co_return ec;
  }

  // Wraps the socket in TLS and runs the handshake. `configure` is called on the SSL object
  // before the handshake (SNI, host-name checks). `already_read` holds the first handshake
  // bytes if they came in one read with the plaintext before them (a MySQL client sends its
  // ClientHello right after SSLRequest, without waiting for an answer); they go to the TLS
  // engine before anything is read from the socket.
  asio::awaitable<std::error_code> StartTls(asio::ssl::context& ctx,
                                            asio::ssl::stream_base::handshake_type type,
                                            const std::function<bool(SSL*)>& configure,
                                            std::span<const uint8_t> already_read = {}) {
    if (auto* tcp = std::get_if<Tcp>(&s_))
      co_return co_await Upgrade<TlsTcp>(std::move(*tcp), ctx, type, configure, already_read);
    if (auto* un = std::get_if<Unix>(&s_))
      co_return co_await Upgrade<TlsUnix>(std::move(*un), ctx, type, configure, already_read);
    co_return asio::error::already_connected;  // TLS already
  }

  bool tls() const { return s_.index() >= 2; }
  bool is_unix() const { return s_.index() == 1 || s_.index() == 3; }

  void Close() {
    std::error_code ec;
    std::visit([&](auto& s) { Deref(s).lowest_layer().close(ec); }, s_);
  }

 private:
  template <typename T>
  static T& Deref(T& s) {
    return s;
  }
  template <typename T>
  static T& Deref(std::unique_ptr<T>& s) {
    return *s;
  }

  template <typename TlsStream, typename Socket>
  asio::awaitable<std::error_code> Upgrade(Socket socket, asio::ssl::context& ctx,
                                           asio::ssl::stream_base::handshake_type type,
                                           const std::function<bool(SSL*)>& configure,
                                           std::span<const uint8_t> already_read) {
    auto tls = std::make_unique<TlsStream>(std::move(socket), ctx);
    if (configure && !configure(tls->native_handle())) co_return asio::error::invalid_argument;
    std::error_code ec;
    if (already_read.empty()) {
      std::tie(ec) =
          co_await tls->async_handshake(type, asio::experimental::as_tuple(asio::use_awaitable));
    } else {
      size_t used = 0;
      std::tie(ec, used) = co_await tls->async_handshake(
          type, asio::buffer(already_read.data(), already_read.size()),
          asio::experimental::as_tuple(asio::use_awaitable));
      // Bytes the engine did not take would be lost from the stream: refuse, never skip them.
      if (!ec && used != already_read.size()) ec = asio::error::message_size;
    }
    s_ = std::move(tls);
    co_return ec;
  }

  std::variant<Tcp, Unix, std::unique_ptr<TlsTcp>, std::unique_ptr<TlsUnix>> s_;
};

}  // namespace veil::agent
