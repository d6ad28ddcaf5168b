// Where chained event records go: a JSON-lines file with size rotation, syslog (RFC 5424) over
// a unix datagram socket, UDP or TCP (RFC 6587 octet counting), and stdout.
//
// A Sink only moves bytes. It is driven by exactly one writer thread of the Pipeline
// (pipeline.h), which stamps the chain, batches, spools on failure and retries; so a Sink may
// block (bounded: sockets carry a send timeout) and is not thread-safe.
//
//   auto sink = veil::events::MakeSink(cfg.config.events().sinks(0));   // loaded config values
//   Status st = (*sink)->Write("6005", line);   // msgid: the OCSF class_uid; line: one record
//   st = (*sink)->Flush();                       // file: fdatasync
//
// File sink: appends `line\n` with one write(2) per record (a batch: one write(2) per run of
// records between two rotations); before a record would take the file
// past max_size it rotates events.jsonl -> events.jsonl.1 -> ... -> events.jsonl.<keep> (the
// oldest beyond `keep` is deleted; keep 0 keeps none) and fsyncs the folder. Durability: Flush()
// (fdatasync) runs once per drained batch, at rotation, at every checkpoint and at shutdown, so
// a crash loses at most the records of the batch in flight. A failed write is cut back with
// ftruncate so the file never holds half a record written by us.
//
// Syslog: `<86>1 TIMESTAMP HOSTNAME veil PID MSGID - JSON` (facility authpriv, severity info;
// TIMESTAMP RFC 3339 UTC with microseconds; MSGID the OCSF class_uid; no BOM). Over TCP each
// frame is `LEN SP FRAME`. UDP has no delivery feedback: only local errors (ICMP refusals seen
// on the connected socket) count as failures.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "agent/events/chain.h"
#include "common/result.h"
#include "config/veil_config.pb.h"

namespace veil::events {

class Sink {
 public:
  virtual ~Sink() = default;

  // A stable name for this sink (file-<path>, syslog-<address>, stdout), used for the spool
  // file, the persisted chain head and the dropped-events counter.
  virtual const std::string& name() const = 0;

  // Where this sink's chain stands, if the sink itself can tell (a file sink reads the last
  // record of its newest file). `partial_tail` reports a torn last line that was cut off.
  struct Resume {
    std::optional<ChainHead> head;
    bool partial_tail = false;
  };
  virtual Result<Resume> ReadResume() { return Resume{}; }

  // Sends or appends one record. `msgid` is the record's OCSF class_uid as text (or "-").
  // On error the sink is left ready for a later retry (reconnect, reopen).
  virtual Status Write(std::string_view msgid, std::string_view line) = 0;

  // Sends or appends a batch of records: `lines` holds them one after another, each ended by
  // '\n'; `ends[i]` is the offset just past the i-th newline and `class_uids[i]` its OCSF class
  // (-1: none). `*written` is set to the number of records written completely; on an error the
  // others were not (a file is cut back to the last whole record) and may be tried again. The
  // default writes one at a time; the file sink writes each run between rotations at once.
  virtual Status WriteBatch(std::string_view lines, std::span<const size_t> ends,
                            std::span<const int64_t> class_uids, size_t* written);

  // Makes what was written durable where that means something.
  virtual Status Flush() { return Status::Ok(); }
};

// A file descriptor that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

class FileSink : public Sink {
 public:
  FileSink(std::string path, uint64_t max_size, uint32_t keep);
  const std::string& name() const override { return name_; }
  Result<Resume> ReadResume() override;
  Status Write(std::string_view msgid, std::string_view line) override;
  Status WriteBatch(std::string_view lines, std::span<const size_t> ends,
                    std::span<const int64_t> class_uids, size_t* written) override;
  Status Flush() override;

  const std::string& path() const { return path_; }

 private:
  Status Open();
  Status Rotate();

  std::string path_;
  std::string name_;
  uint64_t max_size_;
  uint32_t keep_;
  Fd fd_;
  uint64_t size_ = 0;
};

// A parsed syslog address: unix:///path, udp://host:port, tcp://host:port ([v6]:port allowed).
struct SyslogAddress {
  enum class Transport { kUnix, kUdp, kTcp };
  Transport transport = Transport::kUnix;
  std::string path;  // kUnix
  std::string host;  // kUdp, kTcp
  std::string port;
};
Result<SyslogAddress> ParseSyslogAddress(std::string_view address);

// One RFC 5424 message (without transport framing). `time_us`: microseconds since the epoch.
std::string FormatRfc5424(std::string_view msgid, std::string_view msg, int64_t time_us,
                          std::string_view hostname, pid_t pid);

class SyslogSink : public Sink {
 public:
  // `send_timeout_ms` bounds each connect and send, so a receiver that stops reading turns into
  // a failure (and the pipeline spools) instead of a writer stuck forever.
  SyslogSink(std::string address, SyslogAddress parsed, int send_timeout_ms = 2000);
  const std::string& name() const override { return name_; }
  Status Write(std::string_view msgid, std::string_view line) override;

 private:
  Status Connect();

  std::string address_;
  SyslogAddress parsed_;
  std::string name_;
  std::string hostname_;
  int send_timeout_ms_;
  Fd fd_;
};

class StdoutSink : public Sink {
 public:
  explicit StdoutSink(int fd = 1) : fd_(fd) {}
  const std::string& name() const override { return name_; }
  Status Write(std::string_view msgid, std::string_view line) override;

 private:
  int fd_;  // not owned
  std::string name_ = "stdout";
};

// Builds the sink for one loaded config entry (the loader has filled in path, max_size, keep
// and address defaults). Fails on a type it does not know or an unparsable address.
Result<std::unique_ptr<Sink>> MakeSink(const config::v1::Sink& cfg);

// "file-var-log-veil-events.jsonl": a name made safe for a file name.
std::string SinkName(std::string_view kind, std::string_view where);

}  // namespace veil::events
