#include "agent/events/pipeline.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "common/thread_name.h"

namespace veil::events {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status MakeDirs(const std::string& path, mode_t mode) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return Error{cur + ": " + std::strerror(errno)};
  }
  return Status::Ok();
}

std::string MsgId(const json& rec) {
  auto it = rec.find("class_uid");
  if (it != rec.end() && it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return "-";
}

// Why events were lost; reported in the gap record.
enum LossReason : unsigned {
  kQueueFull = 1,
  kSpoolFull = 2,
  kTornRecord = 4,
};

struct Loss {
  uint64_t count = 0;
  int64_t first_ms = 0;
  int64_t last_ms = 0;
  unsigned reasons = 0;

  void Add(int64_t at_ms, unsigned reason, uint64_t n = 1) {
    if (count == 0 || at_ms < first_ms) first_ms = at_ms;
    if (count == 0 || at_ms > last_ms) last_ms = at_ms;
    count += n;
    reasons |= reason;
  }
  void Merge(const Loss& o) {
    if (o.count == 0) return;
    Add(o.first_ms, o.reasons, o.count);
    Add(o.last_ms, o.reasons, 0);
  }
  std::string Reason() const {
    std::string r;
    auto add = [&](const char* s) { r += (r.empty() ? "" : ", ") + std::string(s); };
    if (reasons & kQueueFull) add("queue full");
    if (reasons & kSpoolFull) add("spool full");
    if (reasons & kTornRecord) add("torn last record cut off at start");
    return r;
  }
};

// The on-disk spool of one sink: chained JSON lines waiting for the sink to come back.
class Spool {
 public:
  Spool(std::string path, uint64_t max_bytes) : path_(std::move(path)), max_bytes_(max_bytes) {}

  // Opens (creating) the spool; returns the chain head of its last record, if any. A torn
  // last line is cut off and reported through `torn`.
  Result<std::optional<ChainHead>> Open(bool* torn) {
    *torn = false;
    fd_.reset(::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_.valid()) return Error{path_ + ": " + std::strerror(errno)};
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    size_t end = all.rfind('\n');
    size_t keep = end == std::string::npos ? 0 : end + 1;
    if (keep != all.size()) {
      *torn = true;
      if (::ftruncate(fd_.get(), static_cast<off_t>(keep)) != 0)
        return Error{path_ + ": " + std::strerror(errno)};
    }
    size_ = keep;
    read_ = 0;
    if (keep == 0) return std::optional<ChainHead>();
    size_t begin = end == 0 ? 0 : all.rfind('\n', end - 1);
    begin = begin == std::string::npos ? 0 : begin + (end == 0 ? 0 : 1);
    auto head = HeadOfLine(std::string_view(all).substr(begin, end - begin));
    if (!head.ok()) return Error{path_ + ": last record: " + head.error().message};
    return std::optional<ChainHead>(*head);
  }

  bool pending() const { return read_ < size_; }
  uint64_t size() const { return size_; }

  // False when the line does not fit or cannot be written.
  bool Append(std::string_view line) {
    if (size_ + line.size() + 1 > max_bytes_) return false;
    std::string buf(line);
    buf.push_back('\n');
    size_t off = 0;
    while (off < buf.size()) {
      ssize_t n = ::write(fd_.get(), buf.data() + off, buf.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) {
          // Open() cuts a torn tail on the next start.
        }
        return false;
      }
      off += static_cast<size_t>(n);
    }
    size_ += buf.size();
    dirty_ = true;
    return true;
  }

  void Sync() {
    if (dirty_) ::fdatasync(fd_.get());
    dirty_ = false;
  }

  // Hands every unsent line to `send`, in order, stopping at the first failure (that line is
  // tried again next time). Once everything is sent the spool is emptied.
  Status Drain(const std::function<Status(std::string_view)>& send) {
    std::string buf;
    while (read_ < size_) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(size_ - read_, 1 << 20));
      for (;;) {
        buf.resize(want);
        ssize_t n = ::pread(fd_.get(), buf.data(), want, static_cast<off_t>(read_));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Error{path_ + ": cannot read the spool"};
        buf.resize(static_cast<size_t>(n));
        if (buf.find('\n') != std::string::npos || read_ + buf.size() >= size_) break;
        want *= 2;  // a line longer than the window
      }
      size_t pos = 0;
      for (size_t nl; (nl = buf.find('\n', pos)) != std::string::npos; pos = nl + 1) {
        Status st = send(std::string_view(buf).substr(pos, nl - pos));
        if (!st.ok()) return st;
        read_ += nl - pos + 1;
      }
      if (pos == 0) return Error{path_ + ": spool ends in a torn line"};
    }
    if (::ftruncate(fd_.get(), 0) != 0) return Error{path_ + ": " + std::strerror(errno)};
    ::fdatasync(fd_.get());
    size_ = read_ = 0;
    return Status::Ok();
  }

 private:
  std::string path_;
  uint64_t max_bytes_;
  Fd fd_;
  uint64_t size_ = 0;
  uint64_t read_ = 0;
  bool dirty_ = false;
};

Status WriteHeadFile(const std::string& path, const ChainHead& head) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << json{{"seq", head.seq}, {"hash", head.hash}}.dump() << "\n";
    if (!out) return Error{tmp + ": cannot write"};
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error{path + ": " + std::strerror(errno)};
  return Status::Ok();
}

std::optional<ChainHead> ReadHeadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
      !j.contains("hash") || !j["hash"].is_string() || j["hash"].get<std::string>().size() != 64)
    return std::nullopt;
  return ChainHead{j["seq"].get<uint64_t>(), j["hash"].get<std::string>()};
}

}  // namespace

json MakeGapRecord(uint64_t lost, int64_t first_ms, int64_t last_ms, const std::string& sink,
                   const std::string& reason, int64_t now_ms) {
  return {
      {"activity_id", 99},
      {"activity_name", "Events Lost"},
      {"category_name", "System Activity"},
      {"category_uid", 1},
      {"class_name", "Event Log Activity"},
      {"class_uid", 1008},
      {"message", std::to_string(lost) + " events lost on sink " + sink + " (" + reason + ")"},
      {"metadata",
       {{"product", {{"name", "veil"}, {"vendor_name", "veil"}}}, {"version", "1.3.0"}}},
      {"severity_id", 4},
      {"status_id", 2},
      {"time", now_ms},
      {"type_uid", 100899},
      {"unmapped",
       {{"gap",
         {{"lost", lost},
          {"first_time", first_ms},
          {"last_time", last_ms},
          {"sink", sink},
          {"reason", reason}}}}},
  };
}

// ---------------------------------------------------------------------------------------------

class Pipeline::Writer {
 public:
  Writer(std::unique_ptr<Sink> sink, const PipelineOptions& opts,
         std::shared_ptr<const CheckpointSigner> signer)
      : sink_(std::move(sink)),
        opts_(opts),
        signer_(std::move(signer)),
        spool_(opts.state_dir + "/spool/" + sink_->name() + ".jsonl", opts.spool_max_bytes),
        head_path_(opts.state_dir + "/chain/" + sink_->name() + ".json"),
        backoff_(opts.retry_initial) {}

  ~Writer() {
    if (thread_.joinable()) {
      Stop(SteadyClock::now());
      thread_.join();
    }
  }

  Status Start() {
    bool spool_torn = false;
    auto spool_head = spool_.Open(&spool_torn);
    if (!spool_head.ok()) return spool_head.error();
    auto resume = sink_->ReadResume();
    if (!resume.ok()) {
      // A damaged last record must not keep veild from starting: continue from the persisted
      // head; `veilctl audit verify` reports the damaged line.
      spdlog::error("events: {}: cannot resume the chain from the sink: {}", sink_->name(),
                    resume.error().message);
      resume = Sink::Resume{};
    }
    std::optional<ChainHead> persisted = ReadHeadFile(head_path_);
    ChainHead head;
    if (spool_head->has_value()) {
      head = **spool_head;
      if (resume->head) skip_upto_ = resume->head->seq;  // the file may hold part of the spool
    } else if (resume->head) {
      head = *resume->head;
    } else if (persisted) {
      head = *persisted;
    }
    if (spool_torn || resume->partial_tail) loss_.Add(opts_.now_ms(), kTornRecord);
    chain_ = Chain(head);
    seq_ = head.seq;
    persisted_seq_ = persisted ? persisted->seq : UINT64_MAX;
    if (spool_.pending()) {
      healthy_ = false;
      next_retry_ = SteadyClock::now();
    }
    last_checkpoint_ = SteadyClock::now();
    thread_ = std::thread([this] {
      NameThisThread("veil-ev-" + sink_->name());
      Run();
    });
    return Status::Ok();
  }

  void Enqueue(const std::shared_ptr<const Record>& event) {
    bool was_empty;
    {
      std::lock_guard lk(mu_);
      if (stopping_ || queue_.size() >= opts_.queue_capacity) {
        queue_loss_.Add(opts_.now_ms(), kQueueFull);
        ++dropped_;
        return;
      }
      was_empty = queue_.empty() && !napping_;
      queue_.push_back(event);
      // A napping writer is woken early only when half the queue is used.
      if (napping_ && queue_.size() == opts_.queue_capacity / 2 + 1) was_empty = true;
    }
    // The writer sleeps on an empty queue or naps between batches (checked under the lock):
    // waking it for every event would cost a wake-up per statement.
    if (was_empty) cv_.notify_one();
  }

  void Stop(SteadyClock::time_point deadline) {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return;
      stopping_ = true;
      deadline_ = deadline;
    }
    cv_.notify_one();
  }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  bool SpoolPending() const { return spool_pending_; }
  const std::string& name() const { return sink_->name(); }

  SinkStats Stats() const {
    SinkStats s;
    s.name = sink_->name();
    s.written = written_;
    s.spooled = spooled_;
    s.dropped = dropped_;
    s.checkpoints = checkpoints_;
    s.seq = seq_;
    s.healthy = healthy_;
    return s;
  }

 private:
  SteadyClock::time_point NextWake() const {
    auto wake = SteadyClock::time_point::max();
    if (!healthy_) wake = std::min(wake, next_retry_);
    if (since_checkpoint_ > 0) wake = std::min(wake, last_checkpoint_ + opts_.checkpoint_interval);
    if (unflushed_) wake = std::min(wake, last_flush_ + opts_.flush_interval);
    return wake;
  }

  void Run() {
    std::deque<std::shared_ptr<const Record>> batch;
    bool nap = false;
    for (;;) {
      Loss emit_loss;
      bool stopping;
      SteadyClock::time_point deadline;
      {
        std::unique_lock lk(mu_);
        if (nap && opts_.write_delay.count() > 0) {
          napping_ = true;
          cv_.wait_for(lk, opts_.write_delay,
                       [&] { return stopping_ || queue_.size() > opts_.queue_capacity / 2; });
          napping_ = false;
        }
        cv_.wait_until(lk, NextWake(), [&] { return !queue_.empty() || stopping_; });
        batch.swap(queue_);
        emit_loss = std::exchange(queue_loss_, Loss{});
        stopping = stopping_;
        deadline = deadline_;
      }
      const auto now = SteadyClock::now();
      // Past the shutdown deadline the sink is not tried again: the rest goes to the spool.
      if (stopping && now >= deadline) giving_up_ = true;
      if (!healthy_ && !giving_up_ && now >= next_retry_) TryRecover();
      WriteGap();  // losses from earlier batches (spool full) stand before this one
      nap = !batch.empty();
      for (const auto& ev : batch) {
        Stage(*ev);
        if (since_checkpoint_ >= opts_.checkpoint_every) Checkpoint();
      }
      WriteStaged();
      batch.clear();
      // Emit() dropped these after everything in the batch was queued: the gap goes after it.
      loss_.Merge(emit_loss);
      WriteGap();
      if (since_checkpoint_ > 0 &&
          SteadyClock::now() >= last_checkpoint_ + opts_.checkpoint_interval)
        Checkpoint();
      if (stopping) {
        std::lock_guard lk(mu_);
        if (!queue_.empty()) continue;
      }
      if (stopping && since_checkpoint_ > 0) Checkpoint();
      // Group commit: one flush for everything written within flush_interval.
      const auto flush_now = SteadyClock::now();
      if (stopping || flush_now >= last_flush_ + opts_.flush_interval) {
        EndBatch();
        last_flush_ = flush_now;
        unflushed_ = false;
      } else {
        unflushed_ = true;
      }
      if (stopping) break;
    }
    spool_pending_ = spool_.pending();
  }

  void MarkDown(const Status& st) {
    if (healthy_)
      spdlog::warn("events: sink {} failed, spooling: {}", sink_->name(), st.error().message);
    healthy_ = false;
    next_retry_ = SteadyClock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, opts_.retry_max);
  }

  // Sends the spool; on success the sink is healthy again.
  void TryRecover() {
    Status st = spool_.Drain([&](std::string_view line) -> Status {
      json rec = json::parse(line, nullptr, false);
      if (skip_upto_ > 0 && !rec.is_discarded()) {
        auto fields = ReadChainFields(rec);
        if (fields.ok() && fields->seq <= skip_upto_) return Status::Ok();
      }
      Status w = sink_->Write(rec.is_discarded() ? "-" : MsgId(rec), line);
      if (w.ok()) {
        ++written_;
        wrote_sink_ = true;
      }
      return w;
    });
    if (!st.ok()) {
      next_retry_ = SteadyClock::now() + backoff_;
      backoff_ = std::min(backoff_ * 2, opts_.retry_max);
      return;
    }
    skip_upto_ = 0;
    healthy_ = true;
    backoff_ = opts_.retry_initial;
    spdlog::info("events: sink {} recovered", sink_->name());
  }

  // Chains `record` into the staged batch: the head moves now, the bytes are written by
  // WriteStaged() (one write(2) per batch for a file), which moves the head back if a record
  // ends up neither in the sink nor in the spool.
  void Stage(const Record& record) {
    if (staged_ends_.empty()) staged_from_ = chain_.head();
    ChainHead head = chain_.Stamp(record, &staged_);
    staged_.push_back('\n');
    staged_ends_.push_back(staged_.size());
    staged_classes_.push_back(record.class_uid);
    staged_heads_.push_back(head);
    chain_.Commit(std::move(head));
    seq_ = chain_.head().seq;
    ++since_checkpoint_;
  }

  // Writes the staged records to the sink, the ones it did not take to the spool; those the
  // spool cannot take either are lost (counted, and the chain continues from the last kept).
  void WriteStaged() {
    const size_t n = staged_ends_.size();
    if (n == 0) return;
    size_t done = 0;
    if (healthy_ && !giving_up_) {
      Status st = sink_->WriteBatch(staged_, staged_ends_, staged_classes_, &done);
      written_ += done;
      if (done > 0) wrote_sink_ = true;
      if (!st.ok()) MarkDown(st);
    }
    for (size_t i = done; i < n; ++i) {
      healthy_ = false;
      const size_t begin = i == 0 ? 0 : staged_ends_[i - 1];
      if (spool_.Append(std::string_view(staged_).substr(begin, staged_ends_[i] - 1 - begin))) {
        ++spooled_;
        continue;
      }
      const uint64_t lost = n - i;
      chain_.Commit(i == 0 ? staged_from_ : staged_heads_[i - 1]);
      seq_ = chain_.head().seq;
      since_checkpoint_ -= std::min<uint64_t>(since_checkpoint_, lost);
      dropped_ += lost;
      loss_.Add(opts_.now_ms(), kSpoolFull, lost);
      break;
    }
    staged_.clear();
    staged_ends_.clear();
    staged_classes_.clear();
    staged_heads_.clear();
  }

  // Chains `record` and writes it to the sink, or else to the spool. False if neither took it.
  // Anything staged goes first.
  bool Deliver(const Record& record, bool spool_allowed = true) {
    WriteStaged();
    std::string line;
    ChainHead head = chain_.Stamp(record, &line);
    if (healthy_ && !giving_up_) {
      const std::string msgid = record.class_uid < 0 ? "-" : std::to_string(record.class_uid);
      Status st = sink_->Write(msgid, line);
      if (st.ok()) {
        Commit(std::move(head));
        ++written_;
        wrote_sink_ = true;
        return true;
      }
      MarkDown(st);
    }
    if (!spool_allowed) return false;
    healthy_ = false;
    if (spool_.Append(line)) {
      Commit(std::move(head));
      ++spooled_;
      return true;
    }
    return false;
  }

  void Commit(ChainHead head) {
    chain_.Commit(std::move(head));
    seq_ = chain_.head().seq;
    ++since_checkpoint_;
  }

  // A gap record goes straight to a working sink, never to the spool: it stands where the
  // loss happened, after the spooled records and before newer ones.
  void WriteGap() {
    if (loss_.count == 0 || !healthy_ || giving_up_) return;
    json gap = MakeGapRecord(loss_.count, loss_.first_ms, loss_.last_ms, sink_->name(),
                             loss_.Reason(), opts_.now_ms());
    if (Deliver(ToRecord(std::move(gap)), /*spool_allowed=*/false)) {
      spdlog::warn("events: sink {} lost {} events ({})", sink_->name(), loss_.count,
                   loss_.Reason());
      loss_ = Loss{};
    }
  }

  void Checkpoint() {
    WriteStaged();  // the checkpoint signs the head of records kept, not staged
    json cp = signer_->MakeRecord(chain_.head(), opts_.now_ms());
    // Checkpoints do not count towards the next one.
    uint64_t since = since_checkpoint_;
    if (Deliver(ToRecord(std::move(cp)))) {
      // Flushed with the batch (group commit, within flush_interval), not on its own: a flush
      // per checkpoint cost an fdatasync per checkpoint_every records.
      ++checkpoints_;
      since_checkpoint_ = 0;
      last_checkpoint_ = SteadyClock::now();
    } else {
      since_checkpoint_ = since;
    }
  }

  void EndBatch() {
    if (wrote_sink_) {
      Status st = sink_->Flush();
      if (!st.ok()) MarkDown(st);
      wrote_sink_ = false;
    }
    spool_.Sync();
    if (chain_.head().seq != persisted_seq_) {
      Status st = WriteHeadFile(head_path_, chain_.head());
      if (st.ok())
        persisted_seq_ = chain_.head().seq;
      else
        spdlog::warn("events: {}", st.error().message);
    }
  }

  std::unique_ptr<Sink> sink_;
  PipelineOptions opts_;
  std::shared_ptr<const CheckpointSigner> signer_;
  Spool spool_;
  std::string head_path_;

  // Shared with Emit().
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const Record>> queue_;
  Loss queue_loss_;
  bool stopping_ = false;
  bool napping_ = false;  // the writer waits out write_delay: Emit() does not wake it
  SteadyClock::time_point deadline_;

  // Writer thread only.
  Chain chain_;
  std::string staged_;  // chained lines, each ended by '\n', not yet written
  std::vector<size_t> staged_ends_;
  std::vector<int64_t> staged_classes_;
  std::vector<ChainHead> staged_heads_;
  ChainHead staged_from_;  // the head before the first staged record
  Loss loss_;
  uint64_t skip_upto_ = 0;
  uint64_t since_checkpoint_ = 0;
  uint64_t persisted_seq_ = UINT64_MAX;
  SteadyClock::time_point last_checkpoint_;
  SteadyClock::time_point last_flush_;
  bool unflushed_ = false;
  SteadyClock::time_point next_retry_;
  std::chrono::milliseconds backoff_;
  bool giving_up_ = false;
  bool wrote_sink_ = false;
  std::thread thread_;

  // Read by Stats().
  std::atomic<uint64_t> written_{0}, spooled_{0}, dropped_{0}, checkpoints_{0}, seq_{0};
  std::atomic<bool> healthy_{true};
  std::atomic<bool> spool_pending_{false};
};

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<Pipeline>> Pipeline::Create(
    const google::protobuf::RepeatedPtrField<config::v1::Sink>& configured,
    PipelineOptions options) {
  std::vector<std::unique_ptr<Sink>> sinks;
  if (configured.empty()) {
    config::v1::Sink def;
    def.set_type(config::v1::Sink::TYPE_FILE);
    def.set_path("/var/log/veil/events.jsonl");
    def.set_max_size(100ull << 20);
    def.set_keep(10);
    auto s = MakeSink(def);
    if (!s.ok()) return s.error();
    sinks.push_back(std::move(*s));
  }
  for (const auto& c : configured) {
    auto s = MakeSink(c);
    if (!s.ok()) return s.error();
    sinks.push_back(std::move(*s));
  }
  return Create(std::move(sinks), std::move(options));
}

Result<std::unique_ptr<Pipeline>> Pipeline::Create(std::vector<std::unique_ptr<Sink>> sinks,
                                                   PipelineOptions options) {
  if (!options.now_ms) options.now_ms = SystemNowMs;
  if (options.checkpoint_every == 0) options.checkpoint_every = 1;
  for (const char* sub : {"/spool", "/chain"}) {
    Status st = MakeDirs(options.state_dir + sub, 0700);
    if (!st.ok()) return st.error();
  }
  auto signer = CheckpointSigner::LoadOrCreate(options.state_dir + "/keys");
  if (!signer.ok()) return signer.error();
  std::shared_ptr<const CheckpointSigner> shared_signer(std::move(*signer));

  std::vector<std::unique_ptr<Writer>> writers;
  for (auto& s : sinks) {
    for (const auto& w : writers)
      if (w->name() == s->name()) return Error{"events: two sinks named " + s->name()};
    auto w = std::make_unique<Writer>(std::move(s), options, shared_signer);
    Status started = w->Start();
    if (!started.ok()) return started.error();  // ~Writer stops the ones already running
    writers.push_back(std::move(w));
  }
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(writers)));
}

Pipeline::Pipeline(std::vector<std::unique_ptr<Writer>> writers) : writers_(std::move(writers)) {}

Pipeline::~Pipeline() {
  Status st = Shutdown(std::chrono::seconds(5));
  if (!st.ok()) spdlog::warn("events: {}", st.error().message);
}

void Pipeline::Emit(nlohmann::json event) { Emit(ToRecord(std::move(event))); }

void Pipeline::Emit(Record record) {
  auto shared = std::make_shared<const Record>(std::move(record));
  for (auto& w : writers_) w->Enqueue(shared);  // after Shutdown: dropped and counted
}

std::vector<SinkStats> Pipeline::Stats() const {
  std::vector<SinkStats> out;
  for (const auto& w : writers_) out.push_back(w->Stats());
  return out;
}

uint64_t Pipeline::DroppedTotal() const {
  uint64_t n = 0;
  for (const auto& w : writers_) n += w->Stats().dropped;
  return n;
}

Status Pipeline::Shutdown(std::chrono::milliseconds deadline) {
  if (stopped_.exchange(true)) return Status::Ok();
  const auto until = SteadyClock::now() + deadline;
  for (auto& w : writers_) w->Stop(until);
  std::string left;
  for (auto& w : writers_) {
    w->Join();
    if (w->SpoolPending()) left += (left.empty() ? "" : ", ") + w->name();
  }
  if (!left.empty()) return Error{"events left in the spool (sent on next start): " + left};
  return Status::Ok();
}

}  // namespace veil::events
