// GrantNotifier: webhooks that tell people about grant changes (SPEC §7 `grants.notify`), so an
// approver learns of a request when it is made, not when someone asks in a chat.
//
//   NotifierOptions opts;
//   opts.spool_dir = state_dir + "/spool";
//   auto notifier = GrantNotifier::Create(cfg.grants().notify(), opts);   // startup: fail fast
//   (*notifier)->Notify(events::GrantEvent(now_ms, grant, GrantChange::kRequested, &who));
//   (*notifier)->Configure(new_cfg.grants().notify());                    // SIGHUP
//
// Input is the OCSF 3005 event veild already builds for its event sinks (agent/events/ocsf.h):
// it holds the grant's id, principal, endpoints, access, window, requester and approvers, and
// never its reason (free text a person typed, which may hold anything). The payloads are built
// from that event only, so no reason text and no data value can reach a webhook:
//   slack  {"text": "..."}: a Slack-compatible incoming-webhook body (Mattermost, Rocket.Chat,
//          Discord's /slack endpoint take it too), with the veilctl command that approves or
//          denies a pending request;
//   json   {"source": "veil", "event": "requested", "grant": {...}, "actor": "user:bob",
//          "text": "...", "ocsf": <the 3005 event>}.
//
// Delivery, per target (one thread each): Notify() appends to the target's backlog under a short
// mutex hold and returns; it never waits on a network or a disk, so the grant store and the
// control API never wait for a webhook. The thread POSTs (libcurl, http and https, no redirects
// followed, `timeout` per attempt) in order. 2xx is delivered; 408, 425, 429, 5xx and transport
// errors are retried with exponential backoff (retry_initial doubling to retry_max, ±20%
// jitter); any other answer is a permanent refusal, logged and dropped. While a target fails its
// backlog is kept in state_dir/spool/notify-<type>-<hash of url>.jsonl (rewritten atomically,
// 0600), so a restart resumes where it stopped; a delivery resumes with the oldest. The backlog
// is bounded (queue_capacity entries, spool_max_bytes): when full the oldest entry is dropped
// and counted, since the newest change is what an approver needs. URLs are secrets (Slack puts
// the token in the path): logs and file names show only the scheme and host.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/veil_config.pb.h"

namespace veil::grants {

// The bodies, from a 3005 grant event. Pure; exposed for tests.
std::string SlackBody(const nlohmann::json& grant_event);
std::string JsonBody(const nlohmann::json& grant_event);
// The human sentence both bodies carry, e.g. "veil: user:alice requests read access to shop-db
// for 1h (grant g-…, pending). Approve: `veilctl grants approve g-…` …".
std::string NoticeText(const nlohmann::json& grant_event);

// The outcome of one POST.
struct Delivery {
  bool ok = false;
  bool retry = false;  // worth trying again later
  std::string detail;  // "HTTP 503", "Couldn't connect to server": never the URL
};
using Poster =
    std::function<Delivery(const std::string& url, const std::string& body,
                           std::chrono::milliseconds timeout, const std::string& ca_file)>;
// POSTs with libcurl: Content-Type application/json, http and https only, no redirects.
Poster CurlPoster();

// "https://hooks.slack.com" for "https://hooks.slack.com/services/T0/B0/secret".
std::string UrlOrigin(std::string_view url);

struct NotifierOptions {
  std::string spool_dir = "/var/lib/veil/spool";
  size_t queue_capacity = 1000;           // backlog entries per target
  uint64_t spool_max_bytes = 4ull << 20;  // backlog bytes per target
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{std::chrono::seconds(60)};
  Poster post;  // empty: CurlPoster()
};

struct NotifierStats {
  std::string target;  // "json-3fa9c1d2e4b5 (http://127.0.0.1:8080)"
  uint64_t delivered = 0, refused = 0, dropped = 0;
  size_t backlog = 0;
  bool healthy = true;
};

class GrantNotifier {
 public:
  // Starts one thread per target and resumes spooled backlogs. Fails when a url_file cannot be
  // read or holds no http(s) URL, or the spool folder cannot be created.
  static Result<std::unique_ptr<GrantNotifier>> Create(
      const google::protobuf::RepeatedPtrField<config::v1::Notify>& targets,
      NotifierOptions options);
  ~GrantNotifier();
  GrantNotifier(const GrantNotifier&) = delete;

  // What Configure() would refuse, without changing anything (a reload checks first).
  static Status Check(const google::protobuf::RepeatedPtrField<config::v1::Notify>& targets);
  GrantNotifier& operator=(const GrantNotifier&) = delete;

  // Config reload: a target with the same type and URL keeps its thread and backlog (its events,
  // timeout and CA are updated); new ones start; removed ones stop, leaving their spool on disk
  // for the day they come back. On error nothing changes.
  Status Configure(const google::protobuf::RepeatedPtrField<config::v1::Notify>& targets);

  // Queues a 3005 grant event for every target that wants its change (unmapped.grant_event).
  // Other events are ignored. Never blocks on I/O.
  void Notify(const nlohmann::json& grant_event);

  std::vector<NotifierStats> Stats() const;

  class Target;  // one webhook; defined in notifier.cc

 private:
  explicit GrantNotifier(NotifierOptions options) : options_(std::move(options)) {}

  NotifierOptions options_;
  mutable std::mutex mu_;  // guards targets_ (not the targets' own state)
  std::map<std::string, std::shared_ptr<Target>> targets_;  // by name
};

}  // namespace veil::grants
