#include "tools/veilctl/agent_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

namespace veil::veilctl {
namespace {

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool ReadFrame(int fd, control::v1::Response* resp) {
  uint8_t head[4];
  if (!ReadAll(fd, head, 4)) return false;
  uint32_t size =
      (uint32_t{head[0]} << 24) | (uint32_t{head[1]} << 16) | (uint32_t{head[2]} << 8) | head[3];
  if (size > (1u << 20)) return false;
  std::string reply(size, '\0');
  return ReadAll(fd, reply.data(), size) && resp->ParseFromString(reply);
}

}  // namespace

Result<control::v1::Response> Call(const std::string& socket_path, const control::v1::Request& req,
                                   const std::function<bool(const control::v1::Response&)>& more) {
  const std::string unreachable =
      "agent unreachable at " + socket_path + ": is veil.service running?";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{unreachable};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    ::close(fd);
    return Error{unreachable + " (path too long)"};
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EACCES)
      return Error{"permission denied on " + socket_path +
                   ": veilctl's agent commands need membership of group veil"};
    return Error{unreachable};
  }
  std::string body = req.SerializeAsString();
  uint32_t n = static_cast<uint32_t>(body.size());
  uint8_t head[4] = {uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
  control::v1::Response resp;
  bool ok = WriteAll(fd, head, 4) && WriteAll(fd, body.data(), body.size()) && ReadFrame(fd, &resp);
  if (ok && more && resp.ok()) {
    control::v1::Response next;
    while (ReadFrame(fd, &next) && more(next)) next.Clear();
  }
  ::close(fd);
  if (!ok) return Error{unreachable + " (no answer)"};
  return resp;
}

int64_t ParseTtl(const std::string& s) {
  int64_t total = 0, num = 0;
  bool digits = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      num = num * 10 + (c - '0');
      digits = true;
      continue;
    }
    if (!digits) return 0;
    int64_t unit = c == 's' ? 1 : c == 'm' ? 60 : c == 'h' ? 3600 : c == 'd' ? 86400 : 0;
    if (unit == 0) return 0;
    total += num * unit;
    num = 0;
    digits = false;
  }
  return digits ? 0 : total;
}

}  // namespace veil::veilctl
