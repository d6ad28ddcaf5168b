#include "agent/events/ocsf.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "agent/events/chain.h"
#include "agent/events/normalize.h"
#include "proto/events.pb.h"

#ifndef VEIL_VERSION
#define VEIL_VERSION "0.0.0"
#endif

namespace veil::events {
namespace {

namespace pb = google::protobuf;
using v1::Event;

constexpr int kCategoryIam = 3;
constexpr int kCategoryApplication = 6;
constexpr int kSeverityInformational = 1;
constexpr int kSeverityMedium = 3;
constexpr int kStatusSuccess = 1;
constexpr int kStatusFailure = 2;

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string_view Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The common part: class, activity, names, severity, status, metadata.
void SetHeader(Event& e, int64_t time_ms, int class_uid, std::string_view class_name,
               int activity_id, std::string_view activity_name, std::string_view correlation) {
  const bool iam = class_uid / 1000 == kCategoryIam;
  e.set_time(time_ms);
  e.set_class_uid(class_uid);
  e.set_class_name(std::string(class_name));
  e.set_category_uid(iam ? kCategoryIam : kCategoryApplication);
  e.set_category_name(iam ? "Identity & Access Management" : "Application Activity");
  e.set_activity_id(activity_id);
  e.set_activity_name(std::string(activity_name));
  e.set_type_uid(int64_t{class_uid} * 100 + activity_id);
  e.set_type_name(std::string(class_name) + ": " + std::string(activity_name));
  e.set_severity_id(kSeverityInformational);
  e.set_severity("Informational");
  e.set_status_id(kStatusSuccess);
  e.set_status("Success");
  v1::Metadata* m = e.mutable_metadata();
  m->mutable_product()->set_name(std::string(kProductName));
  m->mutable_product()->set_vendor_name(std::string(kProductName));
  m->mutable_product()->set_version(VEIL_VERSION);
  m->set_version(std::string(kOcsfVersion));
  m->set_uid(NewEventUid());
  if (!correlation.empty()) m->set_correlation_uid(std::string(correlation));
}

void SetFailure(Event& e, std::string_view code) {
  e.set_status_id(kStatusFailure);
  e.set_status("Failure");
  if (!code.empty()) e.set_status_code(std::string(code));
}

void FillUser(v1::User& u, const grants::Principal& p) {
  if (!p.user.empty()) u.set_name(p.user);
  if (p.uid) u.set_uid(std::to_string(*p.uid));
  for (const std::string& g : p.groups) u.add_groups()->set_name(g);
  u.set_type_id(1);
  u.set_type("User");
}

// actor.{user, process, app_name, session} and the container, from the kernel's view.
void FillActor(Event& e, const grants::Principal& p, int64_t pid, std::string_view session_id) {
  v1::Actor* a = e.mutable_actor();
  FillUser(*a->mutable_user(), p);
  if (pid > 0 || !p.exe.empty()) {
    v1::Process* proc = a->mutable_process();
    if (pid > 0) proc->set_pid(pid);
    if (!p.exe.empty()) {
      proc->set_name(std::string(Basename(p.exe)));
      v1::File* f = proc->mutable_file();
      f->set_name(std::string(Basename(p.exe)));
      f->set_path(p.exe);
      f->set_type_id(1);
      f->set_type("Regular File");
    }
  }
  if (!p.unit.empty()) a->set_app_name(p.unit);
  if (!session_id.empty()) a->mutable_session()->set_uid(std::string(session_id));
  if (!p.container.empty()) {
    e.mutable_container()->set_uid(p.container);
    e.mutable_metadata()->add_profiles("container");
  }
}

void FillEndpoint(v1::NetworkEndpoint& ep, const NetAddress& a) {
  if (!a.ip.empty()) ep.set_ip(a.ip);
  if (a.port != 0) ep.set_port(a.port);
}

void FillMasked(v1::Masked& m, const MaskedCounts& counts) {
  int64_t total = 0;
  for (const auto& [entity, n] : counts.by_entity) {
    (*m.mutable_by_entity())[SanitizeUtf8(entity)] += n;
    total += n;
  }
  for (const auto& [column, n] : counts.by_column)
    (*m.mutable_by_column())[SanitizeUtf8(column)] += n;
  m.set_total(total);
}

// Everything a 6005 event of `s` carries.
Event DatastoreEvent(int64_t time_ms, const SessionInfo& s, int activity_id,
                     std::string_view activity_name) {
  Event e;
  SetHeader(e, time_ms, kClassDatastoreActivity, "Datastore Activity", activity_id, activity_name,
            s.session_id);
  FillActor(e, s.principal, s.pid, s.session_id);
  FillEndpoint(*e.mutable_src_endpoint(), s.client);
  FillEndpoint(*e.mutable_dst_endpoint(), s.server);
  if (!s.endpoint.empty()) e.mutable_dst_endpoint()->set_name(s.endpoint);
  v1::Database* db = e.mutable_database();
  if (!s.database.empty()) db->set_name(s.database);
  db->set_type(s.database_type);
  v1::Unmapped* u = e.mutable_unmapped();
  u->set_principal(s.principal.Display());
  if (!s.grant_id.empty()) u->set_grant_id(s.grant_id);
  if (!s.database_user.empty()) u->set_database_user(s.database_user);
  if (!s.endpoint.empty()) u->set_endpoint(s.endpoint);
  if (!s.application_name.empty()) {
    u->set_application_name(s.application_name);
    std::string_view app = s.application_name;
    if (app.starts_with(kMcpApplicationPrefix)) {
      u->set_client("mcp");
      app.remove_prefix(kMcpApplicationPrefix.size());
      if (app.starts_with(":")) app.remove_prefix(1);
      while (app.starts_with(" ")) app.remove_prefix(1);
      if (!app.empty()) u->set_client_name(std::string(app));
    }
  }
  return e;
}

nlohmann::json Scalar(const pb::Message& m, const pb::Reflection& r, const pb::FieldDescriptor* f,
                      int index) {
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return rep ? r.GetRepeatedInt32(m, f, index) : r.GetInt32(m, f);
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return rep ? r.GetRepeatedInt64(m, f, index) : r.GetInt64(m, f);
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r.GetRepeatedUInt32(m, f, index) : r.GetUInt32(m, f);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r.GetRepeatedUInt64(m, f, index) : r.GetUInt64(m, f);
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r.GetRepeatedBool(m, f, index) : r.GetBool(m, f);
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return rep ? r.GetRepeatedEnumValue(m, f, index) : r.GetEnumValue(m, f);
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return SanitizeUtf8(rep ? r.GetRepeatedString(m, f, index) : r.GetString(m, f));
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return RenderJson(rep ? r.GetRepeatedMessage(m, f, index) : r.GetMessage(m, f));
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      break;  // never in an event: floats do not survive the chain's round trip
  }
  return nullptr;
}

bool IsFloat(const pb::FieldDescriptor* f) {
  return f->cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT ||
         f->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE;
}

}  // namespace

std::string NewEventUid() {
  // RAND_bytes costs a getpid() syscall and a lock per call (OpenSSL's fork check): draw for 64
  // ids at once, per thread.
  constexpr size_t kIds = 64;
  thread_local unsigned char pool[16 * kIds];
  thread_local size_t next = kIds;
  if (next == kIds) {
    if (RAND_bytes(pool, sizeof pool) != 1) {
      // OpenSSL's generator failed (it does not in practice); ids must stay unique, not secret.
      std::random_device rd;
      for (unsigned char& b : pool) b = static_cast<unsigned char>(rd());
    }
    next = 0;
  }
  return Hex(pool + 16 * next++, 16);
}

nlohmann::json RenderJson(const pb::Message& message) {
  nlohmann::json out = nlohmann::json::object();
  const pb::Reflection& r = *message.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  r.ListFields(message, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    if (IsFloat(f)) continue;
    if (f->is_map()) {
      nlohmann::json obj = nlohmann::json::object();
      const pb::FieldDescriptor* key = f->message_type()->map_key();
      const pb::FieldDescriptor* value = f->message_type()->map_value();
      for (int i = 0; i < r.FieldSize(message, f); ++i) {
        const pb::Message& entry = r.GetRepeatedMessage(message, f, i);
        const pb::Reflection& er = *entry.GetReflection();
        std::string k = key->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING
                            ? SanitizeUtf8(er.GetString(entry, key))
                            : Scalar(entry, er, key, -1).dump();
        obj[k] = Scalar(entry, er, value, -1);
      }
      out[f->name()] = std::move(obj);
    } else if (f->is_repeated()) {
      nlohmann::json arr = nlohmann::json::array();
      for (int i = 0; i < r.FieldSize(message, f); ++i) arr.push_back(Scalar(message, r, f, i));
      out[f->name()] = std::move(arr);
    } else {
      out[f->name()] = Scalar(message, r, f, -1);
    }
  }
  return out;
}

nlohmann::json SessionEvent(int64_t time_ms, const SessionInfo& session, SessionPhase phase,
                            const SessionTotals& totals) {
  if (phase == SessionPhase::kOpen)
    return RenderJson(DatastoreEvent(time_ms, session, 3, "Connect"));
  if (phase == SessionPhase::kRefused) {
    Event e = DatastoreEvent(time_ms, session, 3, "Connect");
    SetFailure(e, totals.sqlstate);
    if (!totals.close_reason.empty()) e.set_status_detail(totals.close_reason);
    e.set_message("session refused");
    return RenderJson(e);
  }
  Event e = DatastoreEvent(time_ms, session, kActivityOther, "Close");
  v1::Unmapped* u = e.mutable_unmapped();
  u->set_statements(totals.statements);
  u->set_rows(totals.rows);
  u->set_bytes(totals.bytes);
  u->set_duration_ms(totals.duration_ms);
  e.set_duration(totals.duration_ms);
  e.set_start_time(time_ms - totals.duration_ms);
  e.set_end_time(time_ms);
  FillMasked(*u->mutable_masked(), totals.masked);
  if (!totals.close_reason.empty()) u->set_close_reason(totals.close_reason);
  if (!totals.sqlstate.empty()) e.set_status_code(totals.sqlstate);
  return RenderJson(e);
}

nlohmann::json QueryEvent(int64_t time_ms, const SessionInfo& session,
                          const StatementInfo& statement) {
  Event e = DatastoreEvent(time_ms, session, 4, "Query");
  const StatementDigest& digest = DigestStatement(statement.sql, statement.lex_options());
  v1::QueryInfo* q = e.mutable_query_info();
  q->set_query_string(digest.text);
  q->set_uid(digest.uid);
  if (!statement.statement_name.empty()) q->set_name(statement.statement_name);
  q->set_bytes(statement.bytes);

  v1::Unmapped* u = e.mutable_unmapped();
  u->set_rows(statement.rows);
  u->set_bytes(statement.bytes);
  u->set_duration_ms(statement.duration_ms);
  e.set_duration(statement.duration_ms);
  FillMasked(*u->mutable_masked(), statement.masked);
  if (!statement.kind.empty()) u->set_statement_kind(statement.kind);
  if (!statement.command_tag.empty()) u->set_command_tag(statement.command_tag);
  if (!statement.guardrail.empty()) {
    u->set_guardrail(statement.guardrail);
    SetFailure(e, statement.sqlstate.empty() ? "42501" : statement.sqlstate);
    e.set_severity_id(kSeverityMedium);
    e.set_severity("Medium");
    e.set_message("statement blocked by guardrail " + statement.guardrail);
  } else if (!statement.sqlstate.empty()) {
    SetFailure(e, statement.sqlstate);
  }
  if (!statement.sqlstate.empty()) u->set_sqlstate(statement.sqlstate);
  for (const auto& l : statement.lineage_masked) u->add_lineage_masked(l);
  return RenderJson(e);
}

QueryEventTemplate::QueryEventTemplate(SessionInfo session) : session_(std::move(session)) {
  const nlohmann::json j = RenderJson(DatastoreEvent(0, session_, 4, "Query"));
  auto member = [](const std::string& key, const nlohmann::json& value) {
    return Member{key, Canonical(nlohmann::json(key)) + ":" + Canonical(value)};
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "metadata") {
      for (const auto& [k, v] : value.items())
        if (k != "uid") metadata_.push_back(member(k, v));
    } else if (key == "unmapped") {
      for (const auto& [k, v] : value.items()) unmapped_.push_back(member(k, v));
    } else {
      top_.push_back(member(key, value));
    }
  }
}

namespace {

// A statement's member of an object: a value rendered into the scratch buffer, or one of the
// two objects merged with the session's, or the place of the chain.
struct Piece {
  enum Kind { kValue, kMetadata, kUnmapped, kChain };
  std::string_view key;
  Kind kind = kValue;
  size_t begin = 0, end = 0;  // in the scratch buffer (kValue)
};

// Keys of maps that SanitizeUtf8 would change (FillMasked merges them): the slow path.
bool NeedsSanitizing(const std::map<std::string, int64_t>& m) {
  for (const auto& [k, n] : m)
    for (unsigned char c : k)
      if (c >= 0x80) {
        if (SanitizeUtf8(k) != k) return true;
        break;
      }
  return false;
}

}  // namespace

Record QueryEventTemplate::Build(int64_t time_ms, const StatementInfo& st) const {
  if (NeedsSanitizing(st.masked.by_entity) || NeedsSanitizing(st.masked.by_column))
    return ToRecord(QueryEvent(time_ms, session_, st));

  const StatementDigest& digest =
      st.digest ? *st.digest : DigestStatement(st.sql, st.lex_options());
  const std::string& normalized = digest.text;
  const bool blocked = !st.guardrail.empty();
  const bool failed = blocked || !st.sqlstate.empty();
  const std::string_view status_code =
      blocked ? (st.sqlstate.empty() ? std::string_view("42501") : std::string_view(st.sqlstate))
              : std::string_view(st.sqlstate);

  // The statement's own values, rendered once into `vals`, in key order per object.
  thread_local std::string vals;
  vals.clear();
  CanonicalJson v(&vals);
  Piece top[12], meta[1], unm[12];
  size_t ntop = 0, nmeta = 0, nunm = 0;
  auto value = [&](Piece* list, size_t* n, std::string_view key, auto&& render) {
    const size_t begin = vals.size();
    render();
    list[(*n)++] = Piece{key, Piece::kValue, begin, vals.size()};
  };
  auto str = [&](std::string_view s) { return [&v, s] { v.String(s); }; };
  auto num = [&](int64_t i) { return [&v, i] { v.Int(i); }; };
  const std::string message = blocked ? "statement blocked by guardrail " + st.guardrail : "";

  value(top, &ntop, "duration", num(st.duration_ms));
  if (blocked) value(top, &ntop, "message", str(message));
  top[ntop++] = Piece{"metadata", Piece::kMetadata};
  value(top, &ntop, "query_info", [&] {
    v.BeginObject();
    v.Key("bytes"), v.Int(st.bytes);
    if (!st.statement_name.empty()) v.Key("name"), v.String(st.statement_name);
    if (!normalized.empty()) v.Key("query_string"), v.String(normalized);
    v.Key("uid"), v.String(digest.uid);
    v.EndObject();
  });
  if (blocked) {
    value(top, &ntop, "severity", str("Medium"));
    value(top, &ntop, "severity_id", num(kSeverityMedium));
  }
  if (failed) {
    value(top, &ntop, "status", str("Failure"));
    if (!status_code.empty()) value(top, &ntop, "status_code", str(status_code));
    value(top, &ntop, "status_id", num(kStatusFailure));
  }
  if (time_ms != 0) value(top, &ntop, "time", num(time_ms));
  top[ntop++] = Piece{"unmapped", Piece::kUnmapped};

  const std::string uid = NewEventUid();
  value(meta, &nmeta, "uid", str(uid));

  value(unm, &nunm, "bytes", num(st.bytes));
  unm[nunm++] = Piece{"chain", Piece::kChain};
  if (!st.command_tag.empty()) value(unm, &nunm, "command_tag", str(st.command_tag));
  value(unm, &nunm, "duration_ms", num(st.duration_ms));
  if (blocked) value(unm, &nunm, "guardrail", str(st.guardrail));
  if (!st.lineage_masked.empty())
    value(unm, &nunm, "lineage_masked", [&] {
      v.BeginArray();
      for (const auto& l : st.lineage_masked) v.String(l);
      v.EndArray();
    });
  value(unm, &nunm, "masked", [&] {
    v.BeginObject();
    int64_t total = 0;
    if (!st.masked.by_column.empty()) {
      v.Key("by_column"), v.BeginObject();
      for (const auto& [k, n] : st.masked.by_column) v.Key(k), v.Int(n);
      v.EndObject();
    }
    if (!st.masked.by_entity.empty()) {
      v.Key("by_entity"), v.BeginObject();
      for (const auto& [k, n] : st.masked.by_entity) v.Key(k), v.Int(n), total += n;
      v.EndObject();
    }
    v.Key("total"), v.Int(total);
    v.EndObject();
  });
  value(unm, &nunm, "rows", num(st.rows));
  if (!st.sqlstate.empty()) value(unm, &nunm, "sqlstate", str(st.sqlstate));
  if (!st.kind.empty()) value(unm, &nunm, "statement_kind", str(st.kind));

  Record r;
  r.class_uid = kClassDatastoreActivity;
  r.json.reserve(vals.size() + 1024);
  CanonicalJson w(&r.json);
  // Writes the union of the session's members and the statement's, in key order; on the same
  // key the statement's value wins (status, severity).
  auto merge = [&](auto&& self, const std::vector<Member>& base, const Piece* over,
                   size_t n) -> void {
    w.BeginObject();
    size_t i = 0, k = 0;
    while (i < base.size() || k < n) {
      if (k == n || (i < base.size() && KeyLess(base[i].key, over[k].key))) {
        w.Member(base[i].key, base[i].json);
        ++i;
        continue;
      }
      if (i < base.size() && base[i].key == over[k].key) ++i;  // overridden
      const Piece& p = over[k++];
      switch (p.kind) {
        case Piece::kValue:
          w.Key(p.key), w.Raw(std::string_view(vals).substr(p.begin, p.end - p.begin));
          break;
        case Piece::kMetadata:
          w.Key(p.key), self(self, metadata_, meta, nmeta);
          break;
        case Piece::kUnmapped:
          w.Key(p.key), self(self, unmapped_, unm, nunm);
          break;
        case Piece::kChain:
          r.chain_first = w.empty();
          r.chain_at = static_cast<uint32_t>(r.json.size());
          break;
      }
    }
    w.EndObject();
  };
  merge(merge, top_, top, ntop);
  if (!w.ok() || !v.ok()) return ToRecord(QueryEvent(time_ms, session_, st));  // never (tested)
  return r;
}

std::string_view GrantChangeName(GrantChange change) {
  switch (change) {
    case GrantChange::kRequested:
      return "requested";
    case GrantChange::kIssued:
      return "issued";
    case GrantChange::kApproved:
      return "approved";
    case GrantChange::kDenied:
      return "denied";
    case GrantChange::kExpired:
      return "expired";
    case GrantChange::kRevoked:
      return "revoked";
  }
  return "unknown";
}

nlohmann::json GrantEvent(int64_t time_ms, const grants::Grant& grant, GrantChange change,
                          const grants::Principal* actor, int64_t actor_pid) {
  int activity_id = kActivityOther;
  std::string_view activity_name;
  switch (change) {
    case GrantChange::kIssued:
    case GrantChange::kApproved:
      activity_id = 1;
      activity_name = "Assign Privileges";
      break;
    case GrantChange::kExpired:
    case GrantChange::kRevoked:
      activity_id = 2;
      activity_name = "Revoke Privileges";
      break;
    case GrantChange::kRequested:
      activity_name = "Request";
      break;
    case GrantChange::kDenied:
      activity_name = "Deny";
      break;
  }
  Event e;
  SetHeader(e, time_ms, kClassUserAccessManagement, "User Access Management", activity_id,
            activity_name, grant.id);
  if (actor != nullptr) {
    FillActor(e, *actor, actor_pid, {});
  } else {
    v1::User* u = e.mutable_actor()->mutable_user();
    u->set_name(std::string(kProductName));
    u->set_type_id(3);
    u->set_type("System");
  }

  // The grantee. A principal that is not a unix user is named by its spec.
  v1::User* user = e.mutable_user();
  std::string_view principal = grant.principal;
  if (principal.starts_with("user:")) {
    user->set_name(std::string(principal.substr(5)));
    user->set_type_id(1);
    user->set_type("User");
  } else {
    user->set_name(grant.principal);
    user->set_type_id(kActivityOther);
    user->set_type(std::string(principal.substr(0, principal.find(':'))));
  }
  e.add_privileges(std::string(grants::AccessName(grant.access)));
  if (!grant.endpoints.empty()) {
    v1::ResourceDetails* r = e.mutable_resource();
    r->set_name(grant.endpoints.front());
    r->set_type("database endpoint");
  }

  v1::Unmapped* u = e.mutable_unmapped();
  u->set_principal(grant.principal);
  u->set_grant_id(grant.id);
  u->set_grant_event(std::string(GrantChangeName(change)));
  u->set_grant_state(std::string(grants::StateName(grant.state)));
  u->set_access(std::string(grants::AccessName(grant.access)));
  for (const std::string& ep : grant.endpoints) u->add_endpoints(ep);
  if (grant.not_before != 0) u->set_not_before(grant.not_before);
  if (grant.not_after != 0) u->set_not_after(grant.not_after);
  for (const std::string& a : grant.approvers) u->add_approvers(a);
  if (!grant.requester.empty()) u->set_requester(grant.requester);
  if (grant.ttl > 0) u->set_ttl_seconds(grant.ttl);
  // grant.reason is free text a person typed: it stays in the grant store, out of events.
  e.set_message("grant " + grant.id + " " + std::string(GrantChangeName(change)));
  return RenderJson(e);
}

ApiActivity ApiActivityFor(std::string_view operation) {
  const auto ends = [&](std::string_view s) { return operation.ends_with(s); };
  if (ends(".request")) return ApiActivity::kCreate;
  if (ends(".approve") || ends(".deny") || ends(".revoke")) return ApiActivity::kUpdate;
  if (ends(".kill")) return ApiActivity::kDelete;
  if (operation == "clone") return ApiActivity::kCreate;
  return ApiActivity::kRead;
}

namespace {

Event ApiEventProto(int64_t time_ms, const ApiCall& call) {
  static constexpr std::string_view kNames[] = {"Unknown", "Create", "Read", "Update", "Delete"};
  const int activity_id = static_cast<int>(call.activity);
  const std::string_view activity_name =
      activity_id >= 1 && activity_id <= 4 ? kNames[activity_id] : kNames[0];
  Event e;
  SetHeader(e, time_ms, kClassApiActivity, "API Activity", activity_id, activity_name, {});
  FillActor(e, call.caller, call.pid, {});
  v1::Api* api = e.mutable_api();
  api->set_operation(call.operation);
  api->mutable_service()->set_name("veil.control.v1");
  api->mutable_service()->set_version(VEIL_VERSION);
  v1::NetworkEndpoint* src = e.mutable_src_endpoint();
  src->set_name(call.socket_path.empty() ? std::string("control socket") : call.socket_path);
  if (!call.resource_uid.empty()) {
    v1::ResourceDetails* r = e.add_resources();
    r->set_uid(call.resource_uid);
    if (!call.resource_type.empty()) r->set_type(call.resource_type);
    if (call.resource_type == "grant") e.mutable_unmapped()->set_grant_id(call.resource_uid);
  }
  e.mutable_unmapped()->set_principal(call.caller.Display());
  if (!call.ok) {
    SetFailure(e, {});
    if (!call.error.empty()) e.set_status_detail(call.error);
  }
  return e;
}

}  // namespace

nlohmann::json ApiEvent(int64_t time_ms, const ApiCall& call) {
  return RenderJson(ApiEventProto(time_ms, call));
}

nlohmann::json CloneEvent(int64_t time_ms, const CloneRun& run) {
  Event e = ApiEventProto(time_ms, run.call);
  v1::ResourceDetails* copy = e.add_resources();
  copy->set_type("database");
  copy->set_uid(SanitizeUtf8(run.target));
  e.mutable_dst_endpoint()->set_name(SanitizeUtf8(run.endpoint));
  if (!run.database.empty()) {
    e.mutable_database()->set_name(SanitizeUtf8(run.database));
    e.mutable_database()->set_type("PostgreSQL");
  }
  e.set_duration(run.duration_ms);
  v1::Unmapped* u = e.mutable_unmapped();
  u->set_endpoint(SanitizeUtf8(run.endpoint));
  u->set_clone_run(SanitizeUtf8(run.run_id));
  u->set_target(SanitizeUtf8(run.target));
  int64_t rows = 0;
  for (const auto& [table, n] : run.rows_by_table) {
    (*u->mutable_rows_by_table())[SanitizeUtf8(table)] = n;
    rows += n;
  }
  u->set_rows(rows);
  u->set_statements(run.statements);
  u->set_sessions(run.sessions);
  u->set_duration_ms(run.duration_ms);
  FillMasked(*u->mutable_masked(), run.masked);
  return RenderJson(e);
}

}  // namespace veil::events
