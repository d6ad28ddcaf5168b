#include "agent/grants/notifier.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "common/thread_name.h"

#ifndef VEIL_VERSION
#define VEIL_VERSION "0.0.0"
#endif

namespace veil::grants {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t Int(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::vector<std::string> Strings(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

std::string Utc(int64_t t) {
  if (t <= 0) return "-";
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Duration(int64_t s) {
  if (s <= 0) return "";
  std::string out;
  for (auto [unit, n] : {std::pair{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}) {
    if (s >= n) {
      out += std::to_string(s / n) + unit;
      s %= n;
    }
  }
  return out;
}

// Slack mrkdwn treats &, < and > as control characters.
std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
  return out;
}

// Who made the change: "user:bob", or "veil" for veild itself (expiry, auto-approval).
std::string Actor(const Json& event) {
  const Json& user = event.value("actor", Json::object()).value("user", Json::object());
  if (Int(user, "type_id") == 3 || Str(user, "name").empty()) return "veil";
  return "user:" + Str(user, "name");
}

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

std::string_view TypeName(config::v1::Notify::Type t) {
  return t == config::v1::Notify::TYPE_SLACK ? "slack" : "json";
}

std::string_view EventName(config::v1::Notify::Event e) {
  using N = config::v1::Notify;
  switch (e) {
    case N::EVENT_REQUESTED:
      return "requested";
    case N::EVENT_ISSUED:
      return "issued";
    case N::EVENT_APPROVED:
      return "approved";
    case N::EVENT_DENIED:
      return "denied";
    case N::EVENT_EXPIRED:
      return "expired";
    case N::EVENT_REVOKED:
      return "revoked";
    default:
      return "";
  }
}

size_t DiscardBody(char*, size_t size, size_t n, void*) { return size * n; }

Delivery CurlPost(const std::string& url, const std::string& body,
                  std::chrono::milliseconds timeout, const std::string& ca_file) {
  std::unique_ptr<CURL, void (*)(CURL*)> c(curl_easy_init(), curl_easy_cleanup);
  if (!c) return {false, true, "libcurl could not start"};
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(nullptr, curl_slist_free_all);
  for (const char* h : {"Content-Type: application/json; charset=utf-8", "Expect:"})
    headers.reset(curl_slist_append(headers.release(), h));
  const long ms = static_cast<long>(timeout.count());
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT_MS, std::min(ms, 10000L));
  curl_easy_setopt(c.get(), CURLOPT_USERAGENT, "veil/" VEIL_VERSION);
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, DiscardBody);
  if (!ca_file.empty()) curl_easy_setopt(c.get(), CURLOPT_CAINFO, ca_file.c_str());
  CURLcode rc = curl_easy_perform(c.get());
  if (rc != CURLE_OK) return {false, true, curl_easy_strerror(rc)};
  long code = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  const std::string detail = "HTTP " + std::to_string(code);
  if (code >= 200 && code < 300) return {true, false, detail};
  const bool transient = code == 408 || code == 425 || code == 429 || code >= 500;
  return {false, transient, detail};
}

struct Settings {
  config::v1::Notify::Type type = config::v1::Notify::TYPE_JSON;
  std::string url, ca_file;
  std::set<std::string> events;
  std::chrono::milliseconds timeout{5000};
};

Result<Settings> SettingsOf(const config::v1::Notify& n) {
  Settings s;
  s.type = n.type();
  s.url = n.url();
  if (!n.url_file().empty()) {
    std::ifstream in(n.url_file());
    if (!in) return Error{"grants.notify: cannot read url_file " + n.url_file()};
    std::getline(in, s.url);
    while (!s.url.empty() && (s.url.back() == '\r' || s.url.back() == ' ')) s.url.pop_back();
    if (!s.url.starts_with("http://") && !s.url.starts_with("https://"))
      return Error{"grants.notify: " + n.url_file() +
                   " does not hold an http:// or https:// URL on its first line"};
  }
  s.ca_file = n.ca_file();
  for (int e : n.events())
    s.events.insert(std::string(EventName(static_cast<config::v1::Notify::Event>(e))));
  s.timeout =
      std::chrono::milliseconds(n.timeout().seconds() * 1000 + n.timeout().nanos() / 1000000);
  if (s.timeout.count() <= 0) s.timeout = std::chrono::seconds(5);
  return s;
}

std::string TargetName(const Settings& s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.url.data()), s.url.size(), digest);
  return std::string(TypeName(s.type)) + "-" + Hex(digest, 6);
}

}  // namespace

std::string UrlOrigin(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "?";
  size_t end = url.find_first_of("/?#", scheme + 3);
  std::string_view origin = url.substr(0, end);
  if (size_t at = origin.find('@', scheme + 3); at != std::string_view::npos)
    return std::string(origin.substr(0, scheme + 3)) + std::string(origin.substr(at + 1));
  return std::string(origin);
}

std::string NoticeText(const Json& event) {
  const Json& u = event.value("unmapped", Json::object());
  const std::string change = Str(u, "grant_event"), id = Escape(Str(u, "grant_id")),
                    who = Escape(Str(u, "principal")), access = Escape(Str(u, "access")),
                    endpoints = Escape(Join(Strings(u, "endpoints"))), actor = Escape(Actor(event)),
                    state = Str(u, "grant_state");
  const std::string what = "*" + access + "* access to *" + endpoints + "*";
  const std::string until = Utc(Int(u, "not_after"));
  std::string text = "veil: ";
  if (change == "requested") {
    std::string ttl = Duration(Int(u, "ttl_seconds"));
    text += "*" + who + "* requests " + what + (ttl.empty() ? "" : " for " + ttl) + " (grant `" +
            id + "`, pending).\nApprove with `veilctl grants approve " + id +
            "` or deny with `veilctl grants deny " + id +
            "`; the reason is shown by `veilctl grants list --state pending`.";
  } else if (change == "issued") {
    text += "*" + who + "* was given " + what + " at once (auto-approve) until " + until +
            " (grant `" + id + "`).";
  } else if (change == "approved") {
    text += "Grant `" + id + "` (" + what + " for *" + who + "*) approved by " + actor;
    if (state == "active")
      text += "; active until " + until + ".";
    else
      text += "; " + std::to_string(Strings(u, "approvers").size()) +
              " approval(s) so far, still pending.";
  } else if (change == "denied") {
    text += "Request `" + id + "` (" + what + " for *" + who + "*) " +
            (actor == "veil" ? std::string("ran out before anyone approved it")
                             : "was denied by " + actor) +
            ".";
  } else if (change == "expired" && state == "denied") {  // a request nobody approved in time
    text +=
        "Request `" + id + "` (" + what + " for *" + who + "*) ran out before anyone approved it.";
  } else if (change == "expired") {
    text += "Grant `" + id + "` (" + what + " for *" + who + "*) expired; its sessions ended.";
  } else if (change == "revoked") {
    text += "Grant `" + id + "` (" + what + " for *" + who + "*) was revoked by " + actor +
            "; its sessions ended.";
  } else {
    text += "grant `" + id + "` " + Escape(change) + ".";
  }
  return text;
}

std::string SlackBody(const Json& event) {
  return Json{{"text", NoticeText(event)}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string JsonBody(const Json& event) {
  const Json& u = event.value("unmapped", Json::object());
  Json grant = {{"id", Str(u, "grant_id")},
                {"principal", Str(u, "principal")},
                {"endpoints", Strings(u, "endpoints")},
                {"access", Str(u, "access")},
                {"state", Str(u, "grant_state")},
                {"requester", Str(u, "requester")},
                {"approvers", Strings(u, "approvers")}};
  for (const char* k : {"not_before", "not_after", "ttl_seconds"})
    if (Int(u, k) != 0) grant[k] = Int(u, k);
  Json body = {{"source", "veil"},          {"event", Str(u, "grant_event")},
               {"grant", std::move(grant)}, {"actor", Actor(event)},
               {"text", NoticeText(event)}, {"ocsf", event}};
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Poster CurlPoster() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return CurlPost;
}

// One webhook: its backlog, spool and delivery thread.
class GrantNotifier::Target {
 public:
  Target(std::string name, Settings settings, const NotifierOptions& options)
      : name_(std::move(name)),
        settings_(std::move(settings)),
        options_(options),
        spool_path_(options.spool_dir + "/notify-" + name_ + ".jsonl"),
        backoff_(options.retry_initial),
        rng_(std::random_device{}()) {
    label_ = name_ + " (" + UrlOrigin(settings_.url) + ")";
    LoadSpool();
    thread_ = std::thread([this] {
      NameThisThread("veil-notify");
      Run();
    });
  }
  ~Target() { Stop(); }

  void Stop() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void Update(Settings s) {
    std::lock_guard l(mu_);
    settings_ = std::move(s);
  }

  void Offer(const Json& event, const std::string& change) {
    std::unique_lock l(mu_);
    if (!settings_.events.contains(change)) return;
    const bool slack = settings_.type == config::v1::Notify::TYPE_SLACK;
    l.unlock();
    // Built outside the lock: the thread delivering must not wait for this.
    Item item{slack ? SlackBody(event) : JsonBody(event),
              Str(event.value("unmapped", Json::object()), "grant_id") + " " + change};
    l.lock();
    item.seq = ++seq_;
    bytes_ += item.body.size();
    backlog_.push_back(std::move(item));
    while (backlog_.size() > options_.queue_capacity ||
           (bytes_ > options_.spool_max_bytes && backlog_.size() > 1)) {
      bytes_ -= backlog_.front().body.size();
      spdlog::warn("notify {}: backlog full; dropped the oldest notice ({})", label_,
                   backlog_.front().label);
      backlog_.pop_front();
      ++dropped_;
    }
    dirty_ = true;
    l.unlock();
    cv_.notify_all();
  }

  NotifierStats Stats() const {
    std::lock_guard l(mu_);
    return {label_, delivered_, refused_, dropped_, backlog_.size(), healthy_};
  }

 private:
  struct Item {
    std::string body;
    std::string label;  // "g-… requested", for logs
    uint64_t seq = 0;
  };

  void Run() {
    std::unique_lock l(mu_);
    while (true) {
      auto ready = [&] {
        return stop_ || (dirty_ && !healthy_) || (!backlog_.empty() && Clock::now() >= next_try_);
      };
      if (backlog_.empty())
        cv_.wait(l, ready);
      else
        cv_.wait_until(l, next_try_, ready);
      if (stop_) break;
      if (dirty_ && !healthy_) {  // a new notice while the receiver is down: keep it on disk
        PersistUnlocked(l);
        continue;
      }
      if (backlog_.empty() || Clock::now() < next_try_) continue;
      Item item = backlog_.front();
      Settings s = settings_;
      l.unlock();
      Delivery d = options_.post(s.url, item.body, s.timeout, s.ca_file);
      l.lock();
      if (!backlog_.empty() && backlog_.front().seq == item.seq) {
        if (d.ok || !d.retry) {
          bytes_ -= backlog_.front().body.size();
          backlog_.pop_front();
        }
      }
      if (d.ok || !d.retry) {
        if (d.ok) {
          ++delivered_;
          if (!healthy_) spdlog::info("notify {}: delivering again ({})", label_, d.detail);
          spdlog::debug("notify {}: {} delivered", label_, item.label);
        } else {
          ++refused_;
          spdlog::error("notify {}: {} refused with {}; not retried", label_, item.label, d.detail);
        }
        healthy_ = true;
        backoff_ = options_.retry_initial;
        next_try_ = Clock::now();
        if (spooled_) PersistUnlocked(l);
        continue;
      }
      if (healthy_)
        spdlog::warn("notify {}: {} not delivered ({}); retrying with backoff, spooled to {}",
                     label_, item.label, d.detail, spool_path_);
      healthy_ = false;
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      next_try_ =
          Clock::now() + std::chrono::duration_cast<Clock::duration>(backoff_ * jitter(rng_));
      backoff_ = std::min(backoff_ * 2, options_.retry_max);
      PersistUnlocked(l);
    }
    if (!backlog_.empty() || spooled_) PersistUnlocked(l);
  }

  // Writes the backlog to the spool (or removes the spool when the backlog is empty). Called
  // with `l` held; releases it for the I/O, so Offer() never waits on the disk. Only this
  // thread writes the spool, so the last snapshot written is the newest.
  void PersistUnlocked(std::unique_lock<std::mutex>& l) {
    dirty_ = false;
    std::string text;
    for (const Item& i : backlog_)
      text += Json{{"label", i.label}, {"body", i.body}}.dump(-1, ' ', false,
                                                              Json::error_handler_t::replace) +
              "\n";
    const bool empty = backlog_.empty();
    l.unlock();
    bool ok = true;
    if (empty) {
      ok = ::unlink(spool_path_.c_str()) == 0 || errno == ENOENT;
    } else {
      const std::string tmp = spool_path_ + ".tmp";
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      ok = fd >= 0;
      for (size_t off = 0; ok && off < text.size();) {
        ssize_t w = ::write(fd, text.data() + off, text.size() - off);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        off += ok ? static_cast<size_t>(w) : 0;
      }
      ok = ok && ::fdatasync(fd) == 0;
      if (fd >= 0) ::close(fd);
      ok = ok && ::rename(tmp.c_str(), spool_path_.c_str()) == 0;
    }
    if (!ok) spdlog::error("notify {}: spool {}: {}", label_, spool_path_, std::strerror(errno));
    l.lock();
    spooled_ = !empty;
  }

  void LoadSpool() {
    std::ifstream in(spool_path_);
    if (!in) return;
    std::string line;
    size_t bad = 0;
    while (std::getline(in, line)) {
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("body") || !j["body"].is_string()) {
        ++bad;
        continue;
      }
      Item item{j["body"].get<std::string>(), Str(j, "label"), ++seq_};
      bytes_ += item.body.size();
      backlog_.push_back(std::move(item));
    }
    spooled_ = true;
    if (!backlog_.empty() || bad)
      spdlog::info("notify {}: resuming {} spooled notice(s){}", label_, backlog_.size(),
                   bad ? " (" + std::to_string(bad) + " unreadable line(s) skipped)" : "");
  }

  const std::string name_;
  std::string label_;
  Settings settings_;
  const NotifierOptions& options_;
  const std::string spool_path_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> backlog_;
  uint64_t bytes_ = 0, seq_ = 0;
  bool stop_ = false, dirty_ = false, healthy_ = true, spooled_ = false;
  Clock::time_point next_try_ = Clock::now();
  std::chrono::milliseconds backoff_;
  std::mt19937 rng_;
  uint64_t delivered_ = 0, refused_ = 0, dropped_ = 0;
  std::thread thread_;  // last: started once the members above exist
};

Result<std::unique_ptr<GrantNotifier>> GrantNotifier::Create(
    const google::protobuf::RepeatedPtrField<config::v1::Notify>& targets,
    NotifierOptions options) {
  if (!options.post) options.post = CurlPoster();
  std::unique_ptr<GrantNotifier> n(new GrantNotifier(std::move(options)));
  if (Status st = n->Configure(targets); !st.ok()) return st.error();
  return n;
}

GrantNotifier::~GrantNotifier() {
  std::map<std::string, std::shared_ptr<Target>> targets;
  {
    std::lock_guard l(mu_);
    targets.swap(targets_);
  }
  for (auto& [_, t] : targets) t->Stop();
}

Status GrantNotifier::Check(const google::protobuf::RepeatedPtrField<config::v1::Notify>& targets) {
  for (const auto& n : targets)
    if (auto s = SettingsOf(n); !s.ok()) return s.error();
  return {};
}

Status GrantNotifier::Configure(
    const google::protobuf::RepeatedPtrField<config::v1::Notify>& targets) {
  std::map<std::string, Settings> wanted;
  for (const auto& n : targets) {
    auto s = SettingsOf(n);
    if (!s.ok()) return s.error();
    wanted[TargetName(*s)] = std::move(s).value();
  }
  if (!wanted.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options_.spool_dir, ec);
    if (ec) return Error{"grants.notify: spool folder " + options_.spool_dir + ": " + ec.message()};
  }
  std::vector<std::shared_ptr<Target>> removed;
  {
    std::lock_guard l(mu_);
    for (auto it = targets_.begin(); it != targets_.end();) {
      if (wanted.contains(it->first)) {
        ++it;
        continue;
      }
      removed.push_back(it->second);
      it = targets_.erase(it);
    }
    for (auto& [name, s] : wanted) {
      if (auto it = targets_.find(name); it != targets_.end()) {
        it->second->Update(std::move(s));
        continue;
      }
      spdlog::info("notify: webhook {} ({}) for {}", name, UrlOrigin(s.url), [&] {
        std::string out;
        for (const auto& e : s.events) out += (out.empty() ? "" : ", ") + e;
        return out;
      }());
      targets_[name] = std::make_shared<Target>(name, std::move(s), options_);
    }
  }
  for (auto& t : removed) t->Stop();  // outside mu_: waits for an attempt in flight
  return {};
}

void GrantNotifier::Notify(const Json& event) {
  if (event.value("class_uid", 0) != 3005) return;
  const std::string change = Str(event.value("unmapped", Json::object()), "grant_event");
  if (change.empty()) return;
  std::vector<std::shared_ptr<Target>> targets;
  {
    std::lock_guard l(mu_);
    for (auto& [_, t] : targets_) targets.push_back(t);
  }
  for (auto& t : targets) t->Offer(event, change);
}

std::vector<NotifierStats> GrantNotifier::Stats() const {
  std::vector<NotifierStats> out;
  std::lock_guard l(mu_);
  for (const auto& [_, t] : targets_) out.push_back(t->Stats());
  return out;
}

}  // namespace veil::grants
