#include "agent/protocol/mysql/session.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <charconv>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "agent/protocol/mysql/decoder.h"
#include "agent/protocol/mysql/encoder.h"
#include "agent/protocol/mysql/statement_scan.h"
#include "agent/protocol/mysql/transcoder.h"
#include "agent/protocol/session_support.h"
#include "agent/protocol/socket_names.h"
#include "agent/sql/classifier.h"

namespace veil::agent {
namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::experimental::as_tuple;
using namespace asio::experimental::awaitable_operators;

// Error codes veil answers with (MySQL's and MariaDB's own numbers).
constexpr uint16_t kAccessDenied = 1045;       // ER_ACCESS_DENIED_ERROR, 28000
constexpr uint16_t kTableAccessDenied = 1142;  // ER_TABLEACCESS_DENIED_ERROR, 42000: guardrails
constexpr uint16_t kUnknownCommand = 1047;     // ER_UNKNOWN_COM_ERROR, 08S01
constexpr uint16_t kNoSuchThread = 1094;       // ER_NO_SUCH_THREAD, HY000
constexpr uint16_t kConnectionKilled = 1927;   // ER_CONNECTION_KILLED, 70100
constexpr uint16_t kHandshakeError = 1043;     // ER_HANDSHAKE_ERROR, 08S01

// Never negotiated through veil: kUnsupportedCapabilities (message.h) and LOCAL INFILE, which
// would let the server read files off the client's host, and whose contents veil cannot mask.
constexpr uint64_t kStripped = mysql::kUnsupportedCapabilities | mysql::cap::kLocalFiles;

// Why a pump ended: an error packet for the client, or nothing (the peer went away).
struct PumpEnd {
  std::string message;  // non-empty: tell the client before closing
  uint16_t code = 2013;
  std::string sql_state = "HY000";
};

// veil's own connection id for the client (its KILL targets this, mapped to the upstream's).
uint32_t RandomConnectionId() {
  uint32_t id = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof(id));
  return (id & 0x3fffffff) | 0x10000000;  // positive in a signed 32-bit too
}

// `KILL [CONNECTION | QUERY] <id>`: the kind ("connection"/"query") and the id, or nullopt.
std::optional<std::pair<std::string, uint64_t>> ParseKill(std::string_view sql) {
  auto scan = mysql::ScanStatement(sql);
  const auto& w = scan.identifiers;
  if (w.empty() || w[0] != "kill") return std::nullopt;
  // The id is the last token: find the digits at the end of the text.
  size_t end = sql.find_last_not_of(" \t\r\n;");
  if (end == std::string_view::npos) return std::nullopt;
  size_t begin = end + 1;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(sql[begin - 1]))) --begin;
  uint64_t id = 0;
  auto [p, ec] = std::from_chars(sql.data() + begin, sql.data() + end + 1, id);
  if (ec != std::errc() || begin == end + 1 || id > 0x7fffffff) return std::nullopt;
  std::string kind = "connection";
  if (w.size() > 1 && w[1] == "query") kind = "query";
  return std::make_pair(kind, id);
}

class Session {
 public:
  Session(std::shared_ptr<const Endpoint> ep, Conn client, PeerInfo peer)
      : ep_(std::move(ep)),
        client_(std::move(client)),
        peer_(std::move(peer)),
        veil_id_(RandomConnectionId()) {
    id_ = ep_->session_ids->fetch_add(1) + 1;
    ctx_.id = id_;
    ctx_.endpoint = ep_->config.name();
    ctx_.database_type = "MySQL";
    ctx_.src = peer_.address;
    ctx_.pid = peer_.pid;
  }

  awaitable<void> Run() {
    PumpEnd end = co_await Connect();
    if (end.message.empty() && transcoder_) {
      opened_ = true;
      idle_wait_.emplace(co_await asio::this_coro::executor);
      if (ep_->usage) ep_->usage->SessionOpened(ctx_);
      auto ex = co_await asio::this_coro::executor;
      auto kill =
          RegisterLive(*ep_,
                       {id_, ep_->config.name(), principal_, peer_.address, user_, database_,
                        grant_ ? grant_->id : "", static_cast<int64_t>(std::time(nullptr))},
                       ex);
      auto killed = [kill]() -> awaitable<PumpEnd> {
        co_await kill->async_wait(as_tuple(use_awaitable));
        co_return PumpEnd{"veil: session terminated by an operator", kConnectionKilled, "70100"};
      };
      if (grant_) {
        auto all = co_await (ClientToUpstream() || UpstreamToClient() || Watch() || killed());
        end = std::visit([](auto& e) { return e; }, all);
      } else {
        auto all = co_await (ClientToUpstream() || UpstreamToClient() || killed());
        end = std::visit([](auto& e) { return e; }, all);
      }
      if (ep_->sessions) ep_->sessions->Remove(id_);
      ep_->cancels->Remove(static_cast<int32_t>(veil_id_), "mysql");
    }
    if (!end.message.empty()) {
      // Unsolicited: numbered as the answer to the command in flight, if any.
      // Numbered as the answer to what the client sent last: in the connection phase its
      // handshake packet, later the command in flight (0: none, an unsolicited error).
      const uint8_t seq = !opened_ ? reply_seq_ : (awaiting_answer_ ? 1 : 0);
      co_await SendError(end.code, end.sql_state, end.message, seq);
      spdlog::info("session {} on {} ended: {}", id_, ep_->config.name(), end.message);
    }
    if (ep_->usage) {
      if (transcoder_) ReportStatements();
      if (opened_)
        ep_->usage->SessionClosed(ctx_, totals_, end.message.empty() ? "closed" : end.message);
      else if (!end.message.empty())
        ep_->usage->SessionRefused(ctx_, end.sql_state, end.message);
    }
    client_.Close();
    if (upstream_) upstream_->Close();
  }

 private:
  awaitable<void> SendError(uint16_t code, std::string_view state, std::string_view message,
                            uint8_t seq) {
    std::vector<uint8_t> out;
    (void)mysql::Encode(mysql::MakeErr(code, state, message), client_caps_, &seq, &out);
    co_await client_.WriteAll(out);
  }

  // Reads until `dec` has a whole message from `conn` into `buf`. False: the peer went away or
  // the bytes were malformed (`*error` says which).
  template <typename Decoder, typename Message>
  awaitable<bool> ReadMessage(Conn& conn, InBuffer& buf, Decoder& dec, Message* msg,
                              mysql::DecodeResult* r, size_t* n, std::string* error) {
    while (true) {
      *r = dec.Decode(buf.filled(), n, msg);
      if (r->status == mysql::DecodeStatus::kReady) co_return true;
      if (r->status == mysql::DecodeStatus::kError) {
        *error = r->error;
        co_return false;
      }
      auto [ec, got] = co_await conn.ReadSome(buf.free_space());
      if (ec || got == 0) co_return false;
      buf.size += got;
    }
  }

  // The connection phase: admission, greeting, TLS, authentication relay.
  awaitable<PumpEnd> Connect() {
    Admission a = Admit(*ep_, peer_, id_);
    principal_ = a.display;
    grant_ = a.grant;
    ctx_ = {.id = id_,
            .endpoint = ep_->config.name(),
            .principal = a.principal,
            .principal_display = a.display,
            .pid = peer_.pid,
            .src = peer_.address,
            .dst = peer_.original_dst.empty() ? ep_->config.listen() : peer_.original_dst,
            .upstream = ep_->config.upstream(),
            .database_type = "MySQL",
            .grant_id = grant_ ? grant_->id : ""};
    if (!a.refusal.empty()) {
      // MySQL's server speaks first: a refused client gets the error in place of the greeting.
      if (a.no_grant)
        co_return PumpEnd{a.refusal + " (" + grants::NoActiveGrantHint(ep_->config.name()) + ")",
                          kAccessDenied, "28000"};
      co_return PumpEnd{a.refusal, kAccessDenied, "08004"};
    }

    // The upstream and its greeting.
    auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(
        ep_->upstream_host, std::to_string(ep_->upstream_port), as_tuple(use_awaitable));
    if (rec)
      co_return PumpEnd{"veil: cannot resolve the upstream of " + ep_->config.name(), 2005,
                        "HY000"};
    asio::ip::tcp::socket sock(ex);
    auto [cec, endpoint] = co_await asio::async_connect(sock, results, as_tuple(use_awaitable));
    if (cec)
      co_return PumpEnd{
          "veil: upstream of " + ep_->config.name() + " unreachable: " + cec.message(), 2003,
          "HY000"};
    sock.set_option(asio::ip::tcp::no_delay(true));
    upstream_.emplace(std::move(sock));

    mysql::ServerDecoder server({}, mysql::ServerDecoder::State::kGreeting);
    mysql::ServerMessage smsg;
    mysql::DecodeResult r;
    size_t n = 0;
    std::string error;
    if (!co_await ReadMessage(*upstream_, uin_, server, &smsg, &r, &n, &error))
      co_return PumpEnd{"veil: the upstream of " + ep_->config.name() + " sent no greeting", 2013,
                        "HY000"};
    if (auto* err = std::get_if<mysql::ErrPacket>(&smsg)) {
      spdlog::info("session {}: the upstream refused the connection: error {}", id_,
                   err->error_code);
      co_return PumpEnd{"veil: the upstream refused the connection (error " +
                            std::to_string(err->error_code) + ")",
                        err->error_code, "08004"};
    }
    auto greeting = std::get<mysql::HandshakeV10>(smsg);
    const std::string scramble_1(greeting.auth_plugin_data_1),
        scramble_2(greeting.auth_plugin_data_2), version(greeting.server_version);
    std::optional<std::string> plugin;
    if (greeting.auth_plugin_name) plugin = std::string(*greeting.auth_plugin_name);
    greeting.auth_plugin_data_1 = scramble_1;
    greeting.auth_plugin_data_2 = scramble_2;
    greeting.server_version = version;
    if (plugin) greeting.auth_plugin_name = *plugin;
    uin_.Consume(n);
    upstream_connection_id_ = greeting.connection_id;
    uint64_t caps = greeting.full_capabilities() & ~kStripped;
    const bool offer_tls = ep_->client_tls != nullptr;
    if (offer_tls)
      caps |= mysql::cap::kSsl;
    else
      caps &= ~mysql::cap::kSsl;
    greeting.set_full_capabilities(caps);
    greeting.connection_id = veil_id_;
    {
      std::vector<uint8_t> out;
      uint8_t seq = 0;
      if (auto s = mysql::Encode(greeting, 0, &seq, &out); !s.ok())
        co_return PumpEnd{"veil: cannot re-issue the server's greeting", kHandshakeError, "08S01"};
      if (co_await client_.WriteAll(out)) co_return PumpEnd{};
    }

    // The client's answer: SSLRequest first, or the handshake response.
    mysql::ClientDecoder cdec;
    mysql::ClientMessage cmsg;
    if (!co_await ReadMessage(client_, cin_, cdec, &cmsg, &r, &n, &error))
      co_return error.empty() ? PumpEnd{} : PumpEnd{"veil: " + error, 1835, "08S01"};
    uint8_t client_seq = r.last_sequence_id;
    reply_seq_ = static_cast<uint8_t>(client_seq + 1);
    if (std::holds_alternative<mysql::SslRequest>(cmsg)) {
      if (!offer_tls) co_return PumpEnd{"veil: TLS was not offered", kHandshakeError, "08S01"};
      cin_.Consume(n);
      // The client does not wait for an answer to SSLRequest: its ClientHello may have come in
      // the same read. Those bytes are the handshake's, so the TLS engine gets them.
      std::vector<uint8_t> hello_start(cin_.filled().begin(), cin_.filled().end());
      cin_.Consume(cin_.size);
      if (auto ec = co_await client_.StartTls(*ep_->client_tls, asio::ssl::stream_base::server,
                                              nullptr, hello_start)) {
        spdlog::info("session {}: client TLS handshake failed: {}", id_, ec.message());
        co_return PumpEnd{};
      }
      if (!co_await ReadMessage(client_, cin_, cdec, &cmsg, &r, &n, &error))
        co_return error.empty() ? PumpEnd{} : PumpEnd{"veil: " + error, 1835, "08S01"};
      client_seq = r.last_sequence_id;
      reply_seq_ = static_cast<uint8_t>(client_seq + 1);
    }
    auto* hello = std::get_if<mysql::HandshakeResponse41>(&cmsg);
    if (!hello) co_return PumpEnd{"veil: expected a handshake response", 1835, "08S01"};
    if (ep_->config.tls().client() == config::v1::Tls::CLIENT_TLS_REQUIRE && !client_.tls())
      co_return PumpEnd{"veil: this endpoint requires TLS (--ssl)", kAccessDenied, "28000"};
    user_ = std::string(hello->username);
    if (hello->database) database_ = std::string(*hello->database);
    ctx_.database_user = user_;
    ctx_.database = database_;
    if (hello->connect_attributes)
      for (const auto& [k, v] : *hello->connect_attributes)
        if (k == "program_name") ctx_.application_name = std::string(v);
    client_caps_ = hello->full_capabilities() & ~kStripped;

    // The upstream: TLS if configured, then the client's response with its capabilities
    // trimmed to what veil follows, numbered as the upstream's exchange goes.
    mysql::HandshakeResponse41 up = *hello;
    uint8_t useq = 1;
    uint64_t up_caps = client_caps_ & ~mysql::cap::kSsl;
    if (ep_->upstream_tls) {
      up_caps |= mysql::cap::kSsl;
      mysql::SslRequest req;
      req.capabilities = static_cast<uint32_t>(up_caps);
      req.max_packet_size = hello->max_packet_size;
      req.character_set = hello->character_set;
      req.filler = hello->filler;
      std::vector<uint8_t> out;
      (void)mysql::Encode(req, 0, &useq, &out);
      if (co_await upstream_->WriteAll(out)) co_return PumpEnd{"veil: upstream closed"};
      const std::string host = ep_->upstream_host;
      const auto verify = ep_->upstream_verify;
      auto tec = co_await upstream_->StartTls(
          *ep_->upstream_tls, asio::ssl::stream_base::client,
          [&](SSL* ssl) { return tls::ConfigureUpstreamSsl(ssl, verify, host).ok(); });
      if (tec) {
        spdlog::warn("session {}: TLS to the upstream of {} failed: {}", id_, ep_->config.name(),
                     tec.message());
        co_return PumpEnd{"veil: TLS to the upstream of " + ep_->config.name() + " failed", 2026,
                          "HY000"};
      }
    }
    up.set_full_capabilities(up_caps);
    {
      std::vector<uint8_t> out;
      if (auto s = mysql::Encode(up, 0, &useq, &out); !s.ok())
        co_return PumpEnd{"veil: cannot relay the handshake response", kHandshakeError, "08S01"};
      server.ExpectResponseTo(mysql::ClientMessage(up), static_cast<uint8_t>(useq - 1));
      cin_.Consume(n);
      if (co_await upstream_->WriteAll(out)) co_return PumpEnd{"veil: upstream closed"};
    }
    // Sequence ids differ by this much between the two exchanges (veil's TLS to the upstream
    // and the client's TLS to veil each take one packet, or not).
    const int delta = static_cast<int>(static_cast<uint8_t>(useq - 1)) - client_seq;

    // Authentication, relayed: each server packet but a fast-auth success (0x03) and the final
    // OK/ERR expects one client packet in reply.
    while (true) {
      if (!co_await ReadMessage(*upstream_, uin_, server, &smsg, &r, &n, &error))
        co_return PumpEnd{"veil: upstream protocol error during authentication", 2027, "HY000"};
      std::vector<uint8_t> out(uin_.data.begin(), uin_.data.begin() + n);
      Renumber(&out, -delta);
      // smsg's views point into uin_: read them before Consume moves the next packet (the
      // server's OK often comes in the same read as the fast-auth byte) over them.
      auto* more = std::get_if<mysql::AuthMoreData>(&smsg);
      const bool fast_auth_ok = more && more->data == "\x03";
      uin_.Consume(n);
      if (auto* err = std::get_if<mysql::ErrPacket>(&smsg)) {
        spdlog::info("session {} on {}: authentication refused by the upstream (error {})", id_,
                     ep_->config.name(), err->error_code);
        co_await client_.WriteAll(out);
        co_return PumpEnd{};
      }
      if (std::holds_alternative<mysql::OkPacket>(smsg)) {
        functions_ = co_await StoredFunctions(server);
        natives_ = co_await NativeFunctions(server, version);
        if (auto rows = co_await InternalQuery(server, MySqlTranscoder::kViewsQuery))
          views_ = MySqlTranscoder::ViewsOf(std::move(*rows));
        if (auto rows = co_await InternalQuery(server, MySqlTranscoder::kTablesQuery))
          tables_ = MySqlTranscoder::TablesOf(std::move(*rows));
        if (co_await MakeReadOnly(server))
          co_return PumpEnd{"veil: could not make the upstream session read-only", kAccessDenied,
                            "28000"};
        if (co_await client_.WriteAll(out)) co_return PumpEnd{};
        break;
      }
      if (co_await client_.WriteAll(out)) co_return PumpEnd{};
      if (fast_auth_ok) continue;  // caching_sha2: fast auth ok, OK follows
      if (!co_await ReadMessage(client_, cin_, cdec, &cmsg, &r, &n, &error))
        co_return error.empty() ? PumpEnd{} : PumpEnd{"veil: " + error, 1835, "08S01"};
      std::vector<uint8_t> fwd(cin_.data.begin(), cin_.data.begin() + n);
      Renumber(&fwd, delta);
      server.ExpectResponseTo(cmsg, static_cast<uint8_t>(r.last_sequence_id + delta));
      cin_.Consume(n);  // after the last use of cmsg, whose views point into cin_
      if (co_await upstream_->WriteAll(fwd)) co_return PumpEnd{"veil: upstream closed"};
    }

    // The command phase.
    cdec_ = mysql::ClientDecoder({}, mysql::ClientDecoder::Phase::kCommand);
    cdec_.set_capabilities(server.capabilities());
    client_caps_ = server.capabilities();
    auto profile = ep_->profile;
    if (grant_ && !grant_->masking.empty() && ep_->profiles) {
      if (auto it = ep_->profiles->find(grant_->masking); it != ep_->profiles->end())
        profile = it->second;
    }
    transcoder_.emplace(profile);
    transcoder_->Start(std::move(server));
    transcoder_->SetColumnStore(ep_->columns, ep_->config.name());
    transcoder_->SetDatabase(database_);
    transcoder_->SetStoredFunctions(std::move(functions_));
    transcoder_->SetNativeFunctions(std::move(natives_));
    transcoder_->SetViews(std::move(views_));
    if (tables_) transcoder_->SetTables(std::move(*tables_));
    if (ep_->guardrails_write) transcoder_->SetMaxRows(ep_->guardrails_write->max_rows());
    ep_->cancels->Put(static_cast<int32_t>(veil_id_), "mysql",
                      {ep_->upstream_host, ep_->upstream_port,
                       static_cast<int32_t>(upstream_connection_id_), "mysql"});
    spdlog::info("session {} on {}: {} db_user={} database={}", id_, ep_->config.name(),
                 peer_.address, user_, database_);
    co_return PumpEnd{};
  }

  // Rewrites the sequence ids of the packets in `bytes` by `delta`.
  static void Renumber(std::vector<uint8_t>* bytes, int delta) {
    if (delta == 0) return;
    for (size_t pos = 0; pos + 4 <= bytes->size();) {
      (*bytes)[pos + 3] = static_cast<uint8_t>((*bytes)[pos + 3] + delta);
      pos += 4 +
             ((*bytes)[pos] | (size_t{(*bytes)[pos + 1]} << 8) | (size_t{(*bytes)[pos + 2]} << 16));
    }
  }

  static constexpr std::string_view kReadOnly = "SET SESSION TRANSACTION READ ONLY";

  // Runs one statement of veil's own on the upstream while the client waits for its
  // authentication OK: its text rows, or nullopt when it failed.
  awaitable<std::optional<std::vector<std::vector<std::string>>>> InternalQuery(
      mysql::ServerDecoder& server, std::string_view sql) {
    std::vector<uint8_t> out;
    uint8_t seq = 0;
    mysql::ComQuery q{sql, {}};
    (void)mysql::Encode(q, server.capabilities(), &seq, &out);
    server.ExpectResponseTo(mysql::ClientMessage(q), 0);
    if (co_await upstream_->WriteAll(out)) co_return std::nullopt;
    std::vector<std::vector<std::string>> rows;
    bool failed = false;
    do {
      mysql::ServerMessage m;
      mysql::DecodeResult r;
      size_t n = 0;
      std::string error;
      if (!co_await ReadMessage(*upstream_, uin_, server, &m, &r, &n, &error))
        co_return std::nullopt;
      if (std::holds_alternative<mysql::ErrPacket>(m)) failed = true;
      if (auto* row = std::get_if<mysql::TextRow>(&m)) {
        rows.emplace_back();
        for (const auto& v : row->values) rows.back().emplace_back(v.data);
      }
      uin_.Consume(n);
    } while (server.state() != mysql::ServerDecoder::State::kIdle);
    if (failed) co_return std::nullopt;
    co_return rows;
  }

  // Second wall for read grants: the upstream session itself refuses writes. True: it failed.
  awaitable<bool> MakeReadOnly(mysql::ServerDecoder& server) {
    if (!grant_ || grant_->access != grants::Grant::Access::kRead) co_return false;
    co_return !(co_await InternalQuery(server, kReadOnly)).has_value();
  }

  // The stored functions the session may call: a statement that calls one runs code whose
  // reads veil cannot see (fail closed, as for CALL).
  awaitable<std::vector<std::string>> StoredFunctions(mysql::ServerDecoder& server) {
    auto rows = co_await InternalQuery(
        server,
        "SELECT LOWER(ROUTINE_NAME) FROM information_schema.ROUTINES "
        "WHERE ROUTINE_TYPE = 'FUNCTION' UNION SELECT LOWER(name) FROM mysql.func");
    if (!rows)  // mysql.func is not readable for most users
      rows = co_await InternalQuery(server,
                                    "SELECT LOWER(ROUTINE_NAME) FROM information_schema.ROUTINES "
                                    "WHERE ROUTINE_TYPE = 'FUNCTION'");
    std::vector<std::string> names;
    if (rows)
      for (auto& r : *rows)
        if (!r.empty()) names.push_back(std::move(r[0]));
    co_return names;
  }

  // The server's native functions (MariaDB 10.6 and later list them), read once per endpoint and
  // server version: the list changes only with the server's binary. Null where the server has
  // no such list (MySQL).
  using NativeSet = std::set<std::string, std::less<>>;
  awaitable<std::shared_ptr<const NativeSet>> NativeFunctions(mysql::ServerDecoder& server,
                                                              const std::string& version) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<const NativeSet>> known;
    const std::string key = ep_->config.name() + '\0' + version;
    {
      std::lock_guard lk(mu);
      if (auto it = known.find(key); it != known.end()) co_return it->second;
    }
    auto rows = co_await InternalQuery(
        server, "SELECT LOWER(FUNCTION) FROM information_schema.SQL_FUNCTIONS");
    if (!rows || rows->empty()) co_return nullptr;
    auto names = std::make_shared<NativeSet>();
    for (auto& r : *rows)
      if (!r.empty()) names->insert(std::move(r[0]));
    std::lock_guard lk(mu);
    known.emplace(key, names);
    co_return names;
  }

  awaitable<PumpEnd> Watch() {
    std::string why = co_await WatchGrant(*ep_, *grant_, id_);
    if (why.empty()) co_return PumpEnd{};
    co_return PumpEnd{"veil: grant " + grant_->id + " " + why, kConnectionKilled, "70100"};
  }

  // The guardrail that blocks `sql`, and its message; empty to let it through. `filters_only`:
  // no-filter-on-masked alone (a prepared statement run again: the rest was checked when it was
  // prepared and does not depend on the session's state).
  std::pair<std::string, std::string> Blocked(std::string_view sql, bool filters_only = false) {
    const bool read = grant_ && grant_->access == grants::Grant::Access::kRead;
    const auto& g = read ? ep_->guardrails_read : ep_->guardrails_write;
    std::optional<sql::Violation> v;
    if (g && !filters_only) v = g->Check(sql, sql::LexOptions{.dialect = sql::Dialect::kMySql});
    // No MySQL parse tree: the transcoder judges filters by the names it knows are sensitive.
    if (g && !v)
      if (auto f = g->NoFilterOnMasked(); f && transcoder_->FiltersOnSensitive(sql)) v = f;
    // Built in, whatever the endpoint's guardrails (as on PostgreSQL).
    if (!v && !filters_only && transcoder_->SideChannel(sql))
      v = sql::Violation{"side-channel", -1, -1, {}};
    if (!v) return {};
    spdlog::info("session {} on {}: statement blocked by guardrail {}", id_, ep_->config.name(),
                 v->guardrail);
    return {v->Message(), std::string(v->guardrail)};
  }

  // Answers the client's command itself (it is never forwarded): once every earlier command has
  // its answer, so that answers stay in order.
  awaitable<bool> Answer(uint16_t code, std::string_view state, std::string_view message,
                         uint8_t last_seq) {
    while (!transcoder_->Idle()) {
      idle_wait_->expires_at(asio::steady_timer::time_point::max());
      co_await idle_wait_->async_wait(as_tuple(use_awaitable));
    }
    std::vector<uint8_t> out;
    uint8_t seq = static_cast<uint8_t>(last_seq + 1);
    (void)mysql::Encode(mysql::MakeErr(code, state, message), client_caps_, &seq, &out);
    co_return !co_await client_.WriteAll(out);
  }

  awaitable<PumpEnd> ClientToUpstream() {
    mysql::ClientMessage msg;
    std::vector<uint8_t> extra;  // veil's own commands, sent after the client's bytes
    while (true) {
      size_t total = 0;  // bytes of cin_ to forward as they are
      bool quit = false;
      extra.clear();
      while (true) {
        for (auto [id, params] : transcoder_->TakePrepared()) cdec_.OnStatementPrepared(id, params);
        if (auth_ended_) {
          auth_ended_ = false;
          cdec_.set_phase(mysql::ClientDecoder::Phase::kCommand);
        }
        size_t n = 0;
        auto r = cdec_.Decode(cin_.filled().subspan(total), &n, &msg);
        if (r.status == mysql::DecodeStatus::kNeedMoreData) break;
        if (r.status == mysql::DecodeStatus::kError)
          co_return PumpEnd{"veil: " + r.error, mysql::kMalformedPacketError, "08S01"};
        // What veil answers itself: flush what came before, then answer.
        std::optional<std::tuple<uint16_t, std::string, std::string, std::string, std::string>>
            answer;  // code, state, message, statement text, guardrail
        std::optional<std::vector<uint8_t>> rewritten;
        std::string_view sql;
        if (auto* q = std::get_if<mysql::ComQuery>(&msg)) sql = q->query;
        if (auto* p = std::get_if<mysql::ComStmtPrepare>(&msg)) sql = p->query;
        if (!sql.empty() || std::holds_alternative<mysql::ComQuery>(msg) ||
            std::holds_alternative<mysql::ComStmtPrepare>(msg)) {
          auto [blocked, guardrail] = Blocked(sql);
          if (!blocked.empty()) {
            answer.emplace(kTableAccessDenied, "42000", blocked, std::string(sql), guardrail);
          } else if (std::holds_alternative<mysql::ComQuery>(msg)) {
            if (auto kill = ParseKill(sql)) {
              auto target = ep_->cancels->Find(static_cast<int32_t>(kill->second), "mysql");
              if (!target || target->host != ep_->upstream_host ||
                  target->port != ep_->upstream_port) {
                answer.emplace(kNoSuchThread, "HY000",
                               "Unknown thread id: " + std::to_string(kill->second),
                               std::string(sql), "");
              } else {
                std::string stmt = "KILL " + std::string(kill->first == "query" ? "QUERY " : "") +
                                   std::to_string(static_cast<uint32_t>(target->pid));
                mysql::ComQuery kq{stmt, {}};
                std::vector<uint8_t> out;
                uint8_t seq = 0;
                (void)mysql::Encode(kq, client_caps_, &seq, &out);
                transcoder_->OnCommand(mysql::ClientMessage(kq), 0);
                rewritten = std::move(out);
              }
            }
          }
        } else if (auto* e = std::get_if<mysql::ComStmtExecute>(&msg)) {
          // Judged again when it runs: what it filters by may have become sensitive since it
          // was prepared (a variable set from a sensitive column).
          if (const std::string* text = transcoder_->PreparedText(e->statement_id)) {
            auto [blocked, guardrail] = Blocked(*text, /*filters_only=*/true);
            if (!blocked.empty())
              answer.emplace(kTableAccessDenied, "42000", blocked, *text, guardrail);
          }
        } else if (auto* k = std::get_if<mysql::ComProcessKill>(&msg)) {
          auto target = ep_->cancels->Find(static_cast<int32_t>(k->connection_id), "mysql");
          if (!target || target->host != ep_->upstream_host || target->port != ep_->upstream_port) {
            answer.emplace(kNoSuchThread, "HY000",
                           "Unknown thread id: " + std::to_string(k->connection_id), "", "");
          } else {
            mysql::ComProcessKill kk{static_cast<uint32_t>(target->pid)};
            std::vector<uint8_t> out;
            uint8_t seq = 0;
            (void)mysql::Encode(kk, client_caps_, &seq, &out);
            transcoder_->OnCommand(mysql::ClientMessage(kk), 0);
            rewritten = std::move(out);
          }
        } else if (auto* cu = std::get_if<mysql::ComChangeUser>(&msg)) {
          // A new login on this connection: the grant is the principal's and stays; what
          // events say of the session changes.
          user_ = std::string(cu->username);
          ctx_.database_user = user_;
          if (!cu->database.empty()) ctx_.database = database_ = std::string(cu->database);
          ctx_.event_template.reset();
        } else if (auto* u = std::get_if<mysql::UnknownCommand>(&msg)) {
          answer.emplace(kUnknownCommand, "08S01",
                         "veil: command " + std::to_string(u->command) + " is not supported", "",
                         "");
        }
        if (answer || rewritten) {
          if (total > 0) {
            if (co_await upstream_->WriteAll(cin_.filled().first(total))) co_return PumpEnd{};
            cin_.Consume(total);
            total = 0;
          }
          const uint8_t last_seq = r.last_sequence_id;
          cin_.Consume(n);
          if (rewritten) {
            if (co_await upstream_->WriteAll(*rewritten)) co_return PumpEnd{};
            continue;
          }
          auto& [code, state, message, text, guardrail] = *answer;
          if (!text.empty() || !guardrail.empty()) transcoder_->NoteBlocked(text, guardrail);
          if (!co_await Answer(code, state, message, last_seq)) co_return PumpEnd{};
          ReportStatements();
          continue;
        }
        transcoder_->OnCommand(msg, r.last_sequence_id);
        // veil's own statements queued ahead of this one (the relation lists read again):
        // upstream after the commands before it, before its own bytes.
        if (auto injected = transcoder_->TakeInjected(); !injected.empty()) {
          if (total > 0) {
            if (co_await upstream_->WriteAll(cin_.filled().first(total))) co_return PumpEnd{};
            cin_.Consume(total);
            total = 0;
          }
          if (co_await upstream_->WriteAll(injected)) co_return PumpEnd{};
        }
        awaiting_answer_ = true;
        total += n;
        if (std::holds_alternative<mysql::ComQuit>(msg)) {
          quit = true;
          break;
        }
        if (std::holds_alternative<mysql::ComResetConnection>(msg) && grant_ &&
            grant_->access == grants::Grant::Access::kRead) {
          // A reset forgets the session's settings: read-only again, before anything else.
          mysql::ComQuery q{kReadOnly, {}};
          uint8_t seq = 0;
          (void)mysql::Encode(q, client_caps_, &seq, &extra);
          transcoder_->OnCommand(mysql::ClientMessage(q), 0, /*internal=*/true);
          if (co_await upstream_->WriteAll(cin_.filled().first(total))) co_return PumpEnd{};
          cin_.Consume(total);
          total = 0;
          if (co_await upstream_->WriteAll(extra)) co_return PumpEnd{};
          extra.clear();
        }
      }
      if (total > 0) {
        if (co_await upstream_->WriteAll(cin_.filled().first(total))) co_return PumpEnd{};
        cin_.Consume(total);
      }
      if (quit) co_return PumpEnd{};
      auto [ec, got] = co_await client_.ReadSome(cin_.free_space());
      if (ec || got == 0) co_return PumpEnd{};
      cin_.size += got;
    }
  }

  awaitable<PumpEnd> UpstreamToClient() {
    std::vector<uint8_t> out;
    out.reserve(InBuffer::kInitial);
    while (true) {
      auto [ec, got] = co_await upstream_->ReadSome(uin_.free_space());
      if (ec || got == 0) co_return PumpEnd{};
      uin_.size += got;
      size_t consumed = 0;
      out.clear();
      Status st = transcoder_->OnBackend(uin_.filled(), &consumed, &out);
      if (transcoder_->TakeAuthEnded()) {
        auth_ended_ = true;
        // A new login forgot the session's settings: read-only again before the client,
        // which waits for this OK, can send anything.
        if (grant_ && grant_->access == grants::Grant::Access::kRead) {
          std::vector<uint8_t> set;
          mysql::ComQuery q{kReadOnly, {}};
          uint8_t seq = 0;
          (void)mysql::Encode(q, client_caps_, &seq, &set);
          transcoder_->OnCommand(mysql::ClientMessage(q), 0, /*internal=*/true);
          if (co_await upstream_->WriteAll(set)) co_return PumpEnd{};
        }
      }
      if (!out.empty() && co_await client_.WriteAll(out)) co_return PumpEnd{};
      uin_.Consume(consumed);
      ReportStatements();
      if (transcoder_->Idle()) {
        awaiting_answer_ = false;
        idle_wait_->cancel();
      }
      if (!st.ok()) {
        spdlog::warn("session {} on {}: {}", id_, ep_->config.name(), st.error().message);
        co_return PumpEnd{"veil: upstream protocol error: " + st.error().message, 2027, "HY000"};
      }
    }
  }

  void ReportStatements() {
    agent::ReportStatements(*ep_, ctx_, transcoder_->TakeStatements(), &totals_);
  }

  std::shared_ptr<const Endpoint> ep_;
  Conn client_;
  std::optional<Conn> upstream_;
  PeerInfo peer_;
  uint64_t id_ = 0;
  uint32_t veil_id_;
  uint32_t upstream_connection_id_ = 0;
  uint64_t client_caps_ = 0;
  mysql::ClientDecoder cdec_;
  std::optional<MySqlTranscoder> transcoder_;    // made once authentication succeeded
  std::optional<asio::steady_timer> idle_wait_;  // wakes Answer() when the upstream is idle
  InBuffer cin_, uin_;
  std::string user_, database_, principal_;
  std::shared_ptr<const std::set<std::string, std::less<>>> natives_;  // null: not known
  std::vector<std::string> functions_;           // stored functions, read after authentication
  std::vector<MySqlTranscoder::ViewRow> views_;  // views and their definitions, likewise
  std::optional<std::vector<MySqlTranscoder::TableRow>> tables_;  // not views; none: unread
  std::optional<grants::Grant> grant_;
  SessionContext ctx_;
  SessionTotals totals_;
  bool opened_ = false;
  bool awaiting_answer_ = false;
  bool auth_ended_ = false;  // COM_CHANGE_USER's exchange is over: commands again
  uint8_t reply_seq_ = 0;    // the sequence id of an error in the connection phase
};

class MySql final : public Protocol {
 public:
  std::string_view name() const override { return "mysql"; }
  std::string UnixSocketName(uint16_t port) const override { return MySqlSocketName(port); }
  awaitable<void> Serve(std::shared_ptr<const Endpoint> endpoint, Conn client,
                        PeerInfo peer) const override {
    auto session =
        std::make_unique<Session>(std::move(endpoint), std::move(client), std::move(peer));
    co_await session->Run();
  }
};

}  // namespace

const Protocol& MySqlProtocol() {
  static const MySql kMySql;
  return kMySql;
}

}  // namespace veil::agent
