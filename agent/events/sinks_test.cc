#include "agent/events/sinks.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

#include "agent/events/test_support.h"

namespace veil::events {
namespace {

using ::testing::MatchesRegex;
using testing::ReadFile;
using testing::ReadLines;
using testing::TempDir;

constexpr char kLine[] = R"({"class_uid":6005,"message":"select 1"})";
constexpr char kFrameRe[] =
    R"(<86>1 [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z [!-~]+ veil [0-9]+ 6005 - \{"class_uid":6005,"message":"select 1"\})";

TEST(Rfc5424, ExactFormat) {
  EXPECT_EQ(FormatRfc5424("6005", kLine, 1700000000000123, "db-host", 4242),
            std::string("<86>1 2023-11-14T22:13:20.000123Z db-host veil 4242 6005 - ") + kLine);
  EXPECT_EQ(FormatRfc5424("", "{}", 0, "", 1), "<86>1 1970-01-01T00:00:00.000000Z - veil 1 - - {}");
}

TEST(SyslogAddress, Parses) {
  auto u = ParseSyslogAddress("unix:///dev/log");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->transport, SyslogAddress::Transport::kUnix);
  EXPECT_EQ(u->path, "/dev/log");
  auto t = ParseSyslogAddress("tcp://[::1]:6514");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->transport, SyslogAddress::Transport::kTcp);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, "6514");
  auto d = ParseSyslogAddress("udp://logs.example.com:514");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "logs.example.com");
  EXPECT_FALSE(ParseSyslogAddress("udp://nohost").ok());
  EXPECT_FALSE(ParseSyslogAddress("http://x:1").ok());
  EXPECT_FALSE(ParseSyslogAddress("unix://relative").ok());
}

int BoundSocket(int type, uint16_t* port) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  timeval tv{10, 0};  // hang guard
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

std::string Recv(int fd) {
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(SyslogSink, UdpReceiverGetsRfc5424Frames) {
  uint16_t port = 0;
  Fd rx(BoundSocket(SOCK_DGRAM, &port));
  std::string addr = "udp://127.0.0.1:" + std::to_string(port);
  SyslogSink sink(addr, *ParseSyslogAddress(addr));
  ASSERT_TRUE(sink.Write("6005", kLine).ok());
  ASSERT_TRUE(sink.Write("6005", kLine).ok());
  EXPECT_THAT(Recv(rx.get()), MatchesRegex(kFrameRe));
  EXPECT_THAT(Recv(rx.get()), MatchesRegex(kFrameRe));
  EXPECT_EQ(sink.name(), "syslog-udp-127.0.0.1-" + std::to_string(port));
}

TEST(SyslogSink, UnixDatagramReceiverGetsRfc5424Frames) {
  TempDir d;
  std::string path = d.path() + "/log";
  Fd rx(::socket(AF_UNIX, SOCK_DGRAM, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strcpy(sa.sun_path, path.c_str());
  ASSERT_EQ(::bind(rx.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  SyslogSink sink("unix://" + path, *ParseSyslogAddress("unix://" + path));
  ASSERT_TRUE(sink.Write("6005", kLine).ok());
  EXPECT_THAT(Recv(rx.get()), MatchesRegex(kFrameRe));
}

TEST(SyslogSink, AbsentUnixReceiverIsAFailure) {
  TempDir d;
  std::string addr = "unix://" + d.path() + "/nobody";
  SyslogSink sink(addr, *ParseSyslogAddress(addr));
  EXPECT_FALSE(sink.Write("6005", kLine).ok());
}

TEST(SyslogSink, TcpReceiverGetsOctetCountedFrames) {
  uint16_t port = 0;
  Fd listener(BoundSocket(SOCK_STREAM, &port));
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  std::string addr = "tcp://127.0.0.1:" + std::to_string(port);
  SyslogSink sink(addr, *ParseSyslogAddress(addr));
  ASSERT_TRUE(sink.Write("6005", kLine).ok());  // connect completes through the backlog
  ASSERT_TRUE(sink.Write("3005", R"({"class_uid":3005})").ok());
  Fd conn(::accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(conn.valid());
  timeval tv{10, 0};
  ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string stream;
  std::vector<std::string> frames;
  while (frames.size() < 2) {
    std::string more = Recv(conn.get());
    ASSERT_FALSE(more.empty());
    stream += more;
    for (;;) {  // RFC 6587: MSG-LEN SP SYSLOG-MSG
      size_t sp = stream.find(' ');
      if (sp == std::string::npos) break;
      size_t len = std::stoul(stream.substr(0, sp));
      if (stream.size() < sp + 1 + len) break;
      frames.push_back(stream.substr(sp + 1, len));
      stream.erase(0, sp + 1 + len);
    }
  }
  EXPECT_THAT(frames[0], MatchesRegex(kFrameRe));
  EXPECT_THAT(frames[1], ::testing::EndsWith(R"( veil )" + std::to_string(::getpid()) +
                                             R"( 3005 - {"class_uid":3005})"));
  EXPECT_TRUE(stream.empty());
}

TEST(FileSink, RotationKeepsN) {
  TempDir d;
  const std::string path = d.path() + "/events.jsonl";
  FileSink sink(path, /*max_size=*/300, /*keep=*/2);
  std::vector<std::string> written;
  for (int i = 0; i < 20; ++i) {
    std::string line =
        R"({"i":)" + std::to_string(100 + i) + R"(,"pad":")" + std::string(80, 'x') + "\"}";
    ASSERT_TRUE(sink.Write("-", line).ok());
    written.push_back(line);
  }
  ASSERT_TRUE(sink.Flush().ok());
  EXPECT_TRUE(std::filesystem::exists(path + ".1"));
  EXPECT_TRUE(std::filesystem::exists(path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));
  std::vector<std::string> kept;
  for (const char* suffix : {".2", ".1", ""}) {
    EXPECT_LE(std::filesystem::file_size(path + suffix), 300u);
    for (auto& l : ReadLines(path + suffix)) kept.push_back(l);
  }
  // The newest records, in order, with nothing in between missing.
  ASSERT_FALSE(kept.empty());
  std::vector<std::string> tail(written.end() - static_cast<long>(kept.size()), written.end());
  EXPECT_EQ(kept, tail);
  EXPECT_EQ(kept.back(), written.back());
}

TEST(FileSink, KeepZeroKeepsNoRotatedFile) {
  TempDir d;
  const std::string path = d.path() + "/events.jsonl";
  FileSink sink(path, 100, 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sink.Write("-", std::string(60, 'a' + i)).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".1"));
  EXPECT_EQ(ReadFile(path), std::string(60, 'e') + "\n");
}

TEST(FileSink, ResumeReadsTheLastRecordAndCutsATornLine) {
  TempDir d;
  const std::string path = d.path() + "/events.jsonl";
  Chain chain;
  nlohmann::json a = {{"n", 1}}, b = {{"n", 2}};
  std::string la = chain.Stamp(a);
  chain.Commit(a);
  std::string lb = chain.Stamp(b);
  chain.Commit(b);
  std::ofstream(path) << la << "\n"
                      << lb << "\n"
                      << R"({"n":3,"unmap)";
  FileSink sink(path, 1 << 20, 3);
  auto r = sink.ReadResume();
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->head.has_value());
  EXPECT_EQ(r->head->seq, 2u);
  EXPECT_EQ(r->head->hash, chain.head().hash);
  EXPECT_TRUE(r->partial_tail);
  EXPECT_EQ(ReadFile(path), la + "\n" + lb + "\n");
}

TEST(FileSink, ResumeLooksAtTheRotatedFileWhenTheNewestIsEmpty) {
  TempDir d;
  const std::string path = d.path() + "/events.jsonl";
  Chain chain;
  nlohmann::json a = {{"n", 1}};
  std::string la = chain.Stamp(a);
  chain.Commit(a);
  std::ofstream(path + ".1") << la << "\n";
  std::ofstream(path) << "";
  FileSink sink(path, 1 << 20, 3);
  auto r = sink.ReadResume();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->head.has_value());
  EXPECT_EQ(r->head->seq, 1u);
  EXPECT_FALSE(r->partial_tail);
}

}  // namespace
}  // namespace veil::events
