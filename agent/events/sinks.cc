#include "agent/events/sinks.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

namespace veil::events {
namespace {

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

// Writes all of `data`, retrying short writes and EINTR.
Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{Errno(what)};
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SendAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{Errno(what)};
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

void SyncDir(const std::string& file) {
  size_t slash = file.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : file.substr(0, slash);
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.valid()) ::fsync(d.get());
}

// The last complete line of `path` and whether a torn line followed it (cut off when
// `truncate_partial`). nullopt when the file is missing or holds no complete line.
Result<std::optional<std::string>> LastLine(const std::string& path, bool truncate_partial,
                                            bool* partial) {
  *partial = false;
  Fd fd(::open(path.c_str(), (truncate_partial ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Error{Errno(path)};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error{Errno(path)};
  uint64_t size = static_cast<uint64_t>(st.st_size);
  // Read growing tails until the last complete line is inside the window.
  for (uint64_t window = 64 * 1024;; window *= 4) {
    uint64_t start = size > window ? size - window : 0;
    std::string buf(size - start, '\0');
    size_t got = 0;
    while (got < buf.size()) {
      ssize_t n =
          ::pread(fd.get(), buf.data() + got, buf.size() - got, static_cast<off_t>(start + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error{Errno(path)};
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    buf.resize(got);
    size_t end = buf.rfind('\n');
    if (end == std::string::npos) {
      if (start > 0) continue;
      if (!buf.empty()) {  // one torn line and nothing else
        *partial = true;
        if (truncate_partial && ::ftruncate(fd.get(), 0) != 0) return Error{Errno(path)};
      }
      return std::optional<std::string>();
    }
    if (end + 1 != buf.size()) {
      *partial = true;
      if (truncate_partial) {
        if (::ftruncate(fd.get(), static_cast<off_t>(start + end + 1)) != 0)
          return Error{Errno(path)};
        size = start + end + 1;
      }
    }
    size_t begin = end == 0 ? std::string::npos : buf.rfind('\n', end - 1);
    if (begin == std::string::npos) {
      if (start > 0) continue;  // the line may start before the window
      begin = 0;
    } else {
      ++begin;
    }
    return std::optional<std::string>(buf.substr(begin, end - begin));
  }
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string SinkName(std::string_view kind, std::string_view where) {
  std::string out(kind);
  if (where.empty()) return out;
  out += '-';
  bool dash = true;  // collapse separators
  for (char c : where) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_';
    if (keep) {
      out += c;
      dash = false;
    } else if (!dash) {
      out += '-';
      dash = true;
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

// ---------------------------------------------------------------------------------------------
// File

FileSink::FileSink(std::string path, uint64_t max_size, uint32_t keep)
    : path_(std::move(path)),
      name_(SinkName("file", path_)),
      max_size_(max_size == 0 ? 1 : max_size),
      keep_(keep) {}

Result<Sink::Resume> FileSink::ReadResume() {
  Resume r;
  // The newest file holds the head; if it is empty (just rotated), the previous one does.
  for (uint32_t i = 0; i <= keep_ && i <= 1; ++i) {
    std::string p = i == 0 ? path_ : path_ + ".1";
    bool partial = false;
    auto line = LastLine(p, /*truncate_partial=*/i == 0, &partial);
    if (!line.ok()) return line.error();
    r.partial_tail = r.partial_tail || partial;
    if (!line->has_value()) continue;
    auto head = HeadOfLine(**line);
    if (!head.ok()) return Error{p + ": last record: " + head.error().message};
    r.head = *head;
    return r;
  }
  return r;
}

Status FileSink::Open() {
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd_.valid()) return Error{Errno(path_)};
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) {
    fd_.reset();
    return Error{Errno(path_)};
  }
  size_ = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

Status FileSink::Rotate() {
  if (fd_.valid()) ::fdatasync(fd_.get());
  fd_.reset();
  if (keep_ == 0) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return Error{Errno(path_)};
  } else {
    std::string oldest = path_ + "." + std::to_string(keep_);
    if (::unlink(oldest.c_str()) != 0 && errno != ENOENT) return Error{Errno(oldest)};
    for (uint32_t i = keep_; i > 1; --i) {
      std::string from = path_ + "." + std::to_string(i - 1);
      std::string to = path_ + "." + std::to_string(i);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return Error{Errno(from)};
    }
    if (::rename(path_.c_str(), (path_ + ".1").c_str()) != 0 && errno != ENOENT)
      return Error{Errno(path_)};
  }
  SyncDir(path_);
  return Open();
}

Status FileSink::Write(std::string_view msgid, std::string_view line) {
  if (!fd_.valid()) {
    Status st = Open();
    if (!st.ok()) return st;
  }
  const uint64_t len = line.size() + 1;
  if (size_ > 0 && size_ + len > max_size_) {
    Status st = Rotate();
    if (!st.ok()) return st;
  }
  std::string buf;
  buf.reserve(len);
  buf.append(line);
  buf.push_back('\n');
  Status st = WriteAll(fd_.get(), buf, path_);
  if (!st.ok()) {
    // Never leave a torn record of ours behind; the pipeline spools this one.
    if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) {
      // The verifier will report the torn line; nothing more to do here.
    }
    fd_.reset();
    return st;
  }
  size_ += len;
  return Status::Ok();
}

Status FileSink::WriteBatch(std::string_view lines, std::span<const size_t> ends,
                            std::span<const int64_t> /*class_uids*/, size_t* written) {
  *written = 0;
  if (!fd_.valid()) {
    Status st = Open();
    if (!st.ok()) return st;
  }
  size_t i = 0, begin = 0;
  while (i < ends.size()) {
    // The longest run of records that fits before the file must rotate (at least one).
    if (size_ > 0 && size_ + (ends[i] - begin) > max_size_) {
      Status st = Rotate();
      if (!st.ok()) return st;
    }
    size_t j = i + 1;
    while (j < ends.size() && size_ + (ends[j] - begin) <= max_size_) ++j;
    const std::string_view run = lines.substr(begin, ends[j - 1] - begin);
    Status st = WriteAll(fd_.get(), run, path_);
    if (!st.ok()) {
      if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) {
        // The verifier will report the torn line; nothing more to do here.
      }
      fd_.reset();
      return st;
    }
    size_ += run.size();
    *written = j;
    begin = ends[j - 1];
    i = j;
  }
  return Status::Ok();
}

Status Sink::WriteBatch(std::string_view lines, std::span<const size_t> ends,
                        std::span<const int64_t> class_uids, size_t* written) {
  *written = 0;
  size_t begin = 0;
  for (size_t i = 0; i < ends.size(); ++i) {
    const std::string msgid = class_uids[i] < 0 ? "-" : std::to_string(class_uids[i]);
    Status st = Write(msgid, lines.substr(begin, ends[i] - 1 - begin));
    if (!st.ok()) return st;
    *written = i + 1;
    begin = ends[i];
  }
  return Status::Ok();
}

Status FileSink::Flush() {
  if (fd_.valid() && ::fdatasync(fd_.get()) != 0) {
    Error e{Errno(path_)};
    fd_.reset();
    return e;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Syslog

Result<SyslogAddress> ParseSyslogAddress(std::string_view a) {
  SyslogAddress out;
  auto bad = [&] {
    return Error{"\"" + std::string(a) +
                 "\" is not a syslog address (unix:///path, udp://host:port, tcp://host:port)"};
  };
  std::string_view rest;
  if (a.starts_with("unix://")) {
    out.transport = SyslogAddress::Transport::kUnix;
    out.path = std::string(a.substr(7));
    if (out.path.empty() || out.path[0] != '/' || out.path.size() >= sizeof(sockaddr_un::sun_path))
      return bad();
    return out;
  }
  if (a.starts_with("udp://")) {
    out.transport = SyslogAddress::Transport::kUdp;
    rest = a.substr(6);
  } else if (a.starts_with("tcp://")) {
    out.transport = SyslogAddress::Transport::kTcp;
    rest = a.substr(6);
  } else {
    return bad();
  }
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return bad();
    out.host = std::string(rest.substr(1, close - 1));
    out.port = std::string(rest.substr(close + 2));
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad();
    out.host = std::string(rest.substr(0, colon));
    out.port = std::string(rest.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty()) return bad();
  return out;
}

std::string FormatRfc5424(std::string_view msgid, std::string_view msg, int64_t time_us,
                          std::string_view hostname, pid_t pid) {
  std::time_t secs = static_cast<std::time_t>(time_us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(time_us % 1000000));
  constexpr int kPri = 10 * 8 + 6;  // authpriv.info
  std::string out = "<" + std::to_string(kPri) + ">1 " + ts + " ";
  out += hostname.empty() ? "-" : hostname.substr(0, 255);
  out += " veil ";
  out += std::to_string(pid);
  out += ' ';
  out += msgid.empty() ? "-" : msgid.substr(0, 32);
  out += " - ";
  out += msg;
  return out;
}

SyslogSink::SyslogSink(std::string address, SyslogAddress parsed, int send_timeout_ms)
    : address_(std::move(address)),
      parsed_(std::move(parsed)),
      name_(SinkName("syslog", address_)),
      send_timeout_ms_(send_timeout_ms) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) == 0) hostname_ = host;
  for (char& c : hostname_)
    if (c <= ' ' || c > '~') c = '-';
}

Status SyslogSink::Connect() {
  timeval tv{send_timeout_ms_ / 1000, (send_timeout_ms_ % 1000) * 1000};
  if (parsed_.transport == SyslogAddress::Transport::kUnix) {
    Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Error{Errno("socket")};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, parsed_.path.c_str(), parsed_.path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
      return Error{Errno(address_)};
    fd_ = std::move(fd);
    return Status::Ok();
  }
  const bool tcp = parsed_.transport == SyslogAddress::Transport::kTcp;
  addrinfo hints{};
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(parsed_.host.c_str(), parsed_.port.c_str(), &hints, &res);
  if (rc != 0) return Error{address_ + ": " + ::gai_strerror(rc)};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(res, ::freeaddrinfo);
  std::string last = address_ + ": no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd.valid()) continue;
    // On Linux SO_SNDTIMEO also bounds connect().
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      last = Errno(address_);
      continue;
    }
    fd_ = std::move(fd);
    return Status::Ok();
  }
  return Error{last};
}

Status SyslogSink::Write(std::string_view msgid, std::string_view line) {
  if (!fd_.valid()) {
    Status st = Connect();
    if (!st.ok()) return st;
  }
  int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string frame = FormatRfc5424(msgid, line, now_us, hostname_, ::getpid());
  Status st;
  if (parsed_.transport == SyslogAddress::Transport::kTcp) {
    frame = std::to_string(frame.size()) + " " + frame;  // RFC 6587 octet counting
    st = SendAll(fd_.get(), frame, address_);
  } else {
    ssize_t n;
    do {
      n = ::send(fd_.get(), frame.data(), frame.size(), MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) st = Error{Errno(address_)};
  }
  if (!st.ok()) fd_.reset();  // reconnect on the next attempt
  return st;
}

// ---------------------------------------------------------------------------------------------
// Stdout

Status StdoutSink::Write(std::string_view msgid, std::string_view line) {
  std::string buf(line);
  buf.push_back('\n');
  return WriteAll(fd_, buf, "stdout");
}

Result<std::unique_ptr<Sink>> MakeSink(const config::v1::Sink& cfg) {
  switch (cfg.type()) {
    case config::v1::Sink::TYPE_FILE:
      return std::unique_ptr<Sink>(
          new FileSink(cfg.path().empty() ? "/var/log/veil/events.jsonl" : cfg.path(),
                       cfg.max_size() == 0 ? 100ull << 20 : cfg.max_size(), cfg.keep()));
    case config::v1::Sink::TYPE_SYSLOG: {
      std::string address = cfg.address().empty() ? "unix:///dev/log" : cfg.address();
      auto parsed = ParseSyslogAddress(address);
      if (!parsed.ok()) return parsed.error();
      return std::unique_ptr<Sink>(new SyslogSink(address, std::move(*parsed)));
    }
    case config::v1::Sink::TYPE_STDOUT:
      return std::unique_ptr<Sink>(new StdoutSink());
    default:
      return Error{"events sink: unknown type " + std::to_string(cfg.type())};
  }
}

}  // namespace veil::events
