#include "agent/flows.h"

#include <algorithm>

namespace veil::agent {

std::string_view VerdictName(bpf::FlowVerdict verdict) {
  switch (verdict) {
    case bpf::FlowVerdict::kRedirected:
      return "redirected";
    case bpf::FlowVerdict::kObserved:
      return "observed";
    case bpf::FlowVerdict::kDirect:
      return "direct";
    case bpf::FlowVerdict::kDenied:
      return "denied";
  }
  return "direct";
}

bool FlowSubscription::Push(const FlowRecord& r) {
  std::lock_guard lock(mu_);
  const bool was_empty = queue_.empty();
  if (queue_.size() >= capacity_) {
    // The newest state of a flow is worth more to a reader than an old one.
    queue_.pop_front();
    ++lost_;
  }
  queue_.push_back(r);
  return was_empty;
}

FlowSubscription::Batch FlowSubscription::Take() {
  std::lock_guard lock(mu_);
  Batch b;
  b.changes.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  b.lost = lost_;
  lost_ = 0;
  return b;
}

namespace {

// A flow to a configured endpoint (what `veilctl flows` shows without --all): redirected,
// observed, or direct/denied with an endpoint named (an exempt principal, an unreachable
// listen address).
bool Configured(const FlowRecord& r) {
  return r.verdict == bpf::FlowVerdict::kRedirected || r.verdict == bpf::FlowVerdict::kObserved ||
         !r.endpoint.empty();
}

}  // namespace

void FlowTable::Apply(const bpf::FlowEvent& event, const grants::Principal& principal,
                      std::string endpoint) {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard lock(mu_);
    const int64_t now = clock_.NowSeconds();
    PruneLocked(now);
    auto it = live_.find(event.cookie);
    if (it == live_.end()) {
      Entry e{next_seq_++, {}};
      FlowRecord& r = e.record;
      r.cookie = event.cookie;
      r.pid = event.process.tgid;
      r.comm = event.process.comm;
      r.exe = principal.exe;
      r.principal = principal.Display();
      r.src = event.src;
      r.dst = event.original_dst;
      r.redirected_to = event.redirected_to;
      r.endpoint = std::move(endpoint);
      r.verdict = event.verdict;
      r.opened_at = now;
      it = live_.emplace(event.cookie, std::move(e)).first;
      if (live_.size() > options_.max_live) {
        auto oldest = std::min_element(
            live_.begin(), live_.end(),
            [](const auto& a, const auto& b) { return a.second.seq < b.second.seq; });
        live_.erase(oldest);  // never the new flow: it has the highest seq
      }
      if (event.kind == bpf::FlowEvent::Kind::kEstablished) {
        wakes = PublishLocked(it->second.record);
      }
    }
    // A refused connect made no connection, and a unix-socket connect has no close the kernel
    // reports: both are recorded once, as closed at once.
    const bool one_shot =
        event.kind == bpf::FlowEvent::Kind::kDenied || event.kind == bpf::FlowEvent::Kind::kUnix;
    if (event.kind == bpf::FlowEvent::Kind::kClosed || one_shot) {
      Entry e = std::move(it->second);
      live_.erase(it);
      e.record.bytes_sent = event.bytes_sent;
      e.record.bytes_received = event.bytes_received;
      e.record.closed_at = now;
      e.record.open = false;
      wakes = PublishLocked(e.record);
      closed_.push_back(std::move(e));
      PruneLocked(now);
    }
  }
  for (auto& wake : wakes) wake();
}

void FlowTable::PruneLocked(int64_t now) {
  while (!closed_.empty() &&
         (closed_.size() > options_.max_closed ||
          closed_.front().record.closed_at + options_.closed_ttl_seconds < now)) {
    closed_.pop_front();
  }
}

std::vector<std::function<void()>> FlowTable::PublishLocked(const FlowRecord& r) {
  std::vector<std::function<void()>> wakes;
  const bool configured = Configured(r);
  std::erase_if(subscribers_, [&](const std::weak_ptr<FlowSubscription>& w) {
    std::shared_ptr<FlowSubscription> s = w.lock();
    if (!s) return true;
    if ((s->all_ || configured) && s->Push(r) && s->wake_) wakes.push_back(s->wake_);
    return false;
  });
  return wakes;
}

std::vector<FlowRecord> FlowTable::List(bool all) const {
  std::vector<const Entry*> open, closed;
  std::vector<FlowRecord> out;
  std::lock_guard lock(mu_);
  // List() is const and prunes nothing: entries past their time are filtered here instead.
  const int64_t now = clock_.NowSeconds();
  auto wanted = [&](const FlowRecord& r) { return all || Configured(r); };
  for (const auto& [cookie, e] : live_)
    if (wanted(e.record)) open.push_back(&e);
  for (const Entry& e : closed_)
    if (wanted(e.record) && e.record.closed_at + options_.closed_ttl_seconds >= now)
      closed.push_back(&e);
  auto by_seq = [](const Entry* a, const Entry* b) { return a->seq < b->seq; };
  std::sort(open.begin(), open.end(), by_seq);
  std::sort(closed.begin(), closed.end(), by_seq);
  out.reserve(open.size() + closed.size());
  for (const Entry* e : open) out.push_back(e->record);
  for (const Entry* e : closed) out.push_back(e->record);
  return out;
}

std::shared_ptr<FlowSubscription> FlowTable::Watch(bool all, size_t capacity,
                                                   std::function<void()> wake) {
  std::shared_ptr<FlowSubscription> s(new FlowSubscription(all, capacity, std::move(wake)));
  std::lock_guard lock(mu_);
  subscribers_.push_back(s);
  return s;
}

size_t FlowTable::WatcherCount() const {
  std::lock_guard lock(mu_);
  return std::count_if(subscribers_.begin(), subscribers_.end(),
                       [](const std::weak_ptr<FlowSubscription>& w) { return !w.expired(); });
}

}  // namespace veil::agent
