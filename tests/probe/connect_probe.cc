// connect_probe: dials a PostgreSQL address the way a given client would, then asks one query
// over the wire protocol and prints the first column of the first row. The eBPF tests
// (tests/integration/test_bpf_coverage.py) run it as an unprivileged user to show that every
// way to connect lands in veild (masked) or is refused.
//
//   connect_probe METHOD HOST PORT USER DATABASE SQL
//
// METHOD: connect4 (AF_INET), connect6 (AF_INET6; an IPv4 HOST is dialled IPv4-mapped),
// nonblock (AF_INET or AF_INET6 by HOST, O_NONBLOCK, poll for the result), tfo (sendto with
// MSG_FASTOPEN carrying the startup packet), uring (io_uring IORING_OP_CONNECT).
// Prints "row: VALUE" and exits 0; on a failed connect prints "connect: ERRNO_NAME (text)" and
// exits 3; on a protocol error prints "error: MESSAGE" and exits 4. Only trust authentication.
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int Fail(int code, const char* what, int err) {
  std::printf("%s: %s (%s)\n", what, strerrorname_np(err) ? strerrorname_np(err) : "?",
              std::strerror(err));
  return code;
}

void Put32(std::string& out, uint32_t v) {
  v = htonl(v);
  out.append(reinterpret_cast<const char*>(&v), 4);
}

std::string Startup(const char* user, const char* db) {
  std::string body;
  Put32(body, 196608);  // protocol 3.0
  for (const char* kv : {"user", user, "database", db}) body.append(kv).push_back('\0');
  body.push_back('\0');
  std::string msg;
  Put32(msg, static_cast<uint32_t>(body.size() + 4));
  return msg + body;
}

bool ReadFull(int fd, char* buf, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, buf, n);
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteFull(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = ::write(fd, s.data() + off, s.size() - off);
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

// Reads messages until ReadyForQuery ('Z'); the first DataRow's first column goes to *row, an
// ErrorResponse's message to *error.
bool ReadUntilReady(int fd, std::string* row, std::string* error) {
  for (;;) {
    char head[5];
    if (!ReadFull(fd, head, 5)) return false;
    uint32_t len;
    std::memcpy(&len, head + 1, 4);
    len = ntohl(len);
    if (len < 4 || len > (64u << 20)) return false;
    std::vector<char> body(len - 4);
    if (!ReadFull(fd, body.data(), body.size())) return false;
    const char type = head[0];
    if (type == 'R') {
      uint32_t code;
      std::memcpy(&code, body.data(), 4);
      if (ntohl(code) != 0) {
        *error = "authentication other than trust requested";
        return true;
      }
    } else if (type == 'E') {
      for (size_t i = 0; i < body.size() && body[i];) {
        const char field = body[i];
        std::string value(&body[i + 1]);
        if (field == 'M') *error = value;
        i += 2 + value.size();
      }
      if (row) {
        // A FATAL ends the connection before any ReadyForQuery.
      }
    } else if (type == 'D' && row && row->empty()) {
      uint32_t n;
      std::memcpy(&n, body.data() + 2, 4);
      n = ntohl(n);
      *row = n == 0xffffffffu ? "NULL" : std::string(body.data() + 6, n);
    } else if (type == 'Z') {
      return true;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: connect_probe METHOD HOST PORT USER DATABASE SQL\n");
    return 2;
  }
  const std::string method = argv[1];
  const char* host = argv[2];
  const int port = std::atoi(argv[3]);
  sockaddr_storage ss{};
  socklen_t len = 0;
  in_addr a4{};
  in6_addr a6{};
  const bool v4 = inet_pton(AF_INET, host, &a4) == 1;
  if (!v4 && inet_pton(AF_INET6, host, &a6) != 1) {
    std::fprintf(stderr, "connect_probe: %s is not an address\n", host);
    return 2;
  }
  if (method == "connect6" || !v4) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    if (v4) {
      s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&s6->sin6_addr.s6_addr[12], &a4, 4);
    } else {
      s6->sin6_addr = a6;
    }
    len = sizeof(*s6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    s4->sin_addr = a4;
    len = sizeof(*s4);
  }
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(2, "socket", errno);
  const std::string startup = Startup(argv[4], argv[5]);
  bool startup_sent = false;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);

  if (method == "connect4" || method == "connect6") {
    if (::connect(fd, sa, len) != 0) return Fail(3, "connect", errno);
  } else if (method == "nonblock") {
    const int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    if (::connect(fd, sa, len) != 0) {
      if (errno != EINPROGRESS) return Fail(3, "connect", errno);
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 10000) != 1) return Fail(3, "connect", ETIMEDOUT);
      int err = 0;
      socklen_t elen = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
      if (err != 0) return Fail(3, "connect", err);
    }
    fcntl(fd, F_SETFL, flags);
  } else if (method == "tfo") {
    ssize_t n = ::sendto(fd, startup.data(), startup.size(), MSG_FASTOPEN, sa, len);
    if (n < 0) return Fail(3, "connect", errno);
    startup_sent = true;
    if (static_cast<size_t>(n) < startup.size() && !WriteFull(fd, startup.substr(n)))
      return Fail(3, "connect", errno);
  } else if (method == "uring") {
    io_uring ring;
    if (int err = io_uring_queue_init(4, &ring, 0); err < 0) return Fail(2, "io_uring", -err);
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_connect(sqe, fd, sa, len);
    io_uring_submit(&ring);
    io_uring_cqe* cqe = nullptr;
    if (int err = io_uring_wait_cqe(&ring, &cqe); err < 0) return Fail(2, "io_uring", -err);
    const int res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    io_uring_queue_exit(&ring);
    if (res < 0) return Fail(3, "connect", -res);
  } else {
    std::fprintf(stderr, "connect_probe: unknown method %s\n", method.c_str());
    return 2;
  }

  if (!startup_sent && !WriteFull(fd, startup)) return Fail(4, "write", errno);
  std::string row, error;
  if (!ReadUntilReady(fd, nullptr, &error) || !error.empty()) {
    std::printf("error: %s\n", error.empty() ? "connection closed" : error.c_str());
    return 4;
  }
  std::string q(argv[6]);
  std::string msg = "Q";
  Put32(msg, static_cast<uint32_t>(q.size() + 5));
  msg += q;
  msg.push_back('\0');
  if (!WriteFull(fd, msg) || !ReadUntilReady(fd, &row, &error)) {
    std::printf("error: connection closed\n");
    return 4;
  }
  if (!error.empty()) {
    std::printf("error: %s\n", error.c_str());
    return 4;
  }
  std::printf("row: %s\n", row.c_str());
  WriteFull(fd, std::string("X\0\0\0\4", 5));
  ::close(fd);
  return 0;
}
