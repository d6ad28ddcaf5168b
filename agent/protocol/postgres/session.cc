#include "agent/protocol/postgres/session.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <cctype>
#include <cstring>
#include <ctime>
#include <vector>

#include "agent/protocol/postgres/decoder.h"
#include "agent/protocol/postgres/encoder.h"
#include "agent/protocol/postgres/transcoder.h"
#include "agent/protocol/session_support.h"
#include "agent/protocol/socket_names.h"

namespace veil::agent {
namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::experimental::as_tuple;
using namespace asio::experimental::awaitable_operators;

constexpr size_t kInitialBuffer = InBuffer::kInitial;

std::vector<uint8_t> ErrorFrame(pg::Severity severity, std::string_view sqlstate,
                                std::string_view message, std::string_view hint = {}) {
  std::vector<uint8_t> out;
  (void)pg::Encode(pg::MakeError(severity, sqlstate, message, hint), &out);
  return out;
}

struct PumpEnd {
  std::string fatal;  // non-empty: tell the client (FATAL) before closing
  std::string sqlstate = "08006";
  std::string hint;
};

int32_t RandomPid() {
  int32_t pid = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&pid), sizeof(pid));
  return (pid & 0x7fffffff) | 1;
}

std::string RandomSecret() {
  std::string s(4, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(s.size()));
  return s;
}

// Forwards a client's CancelRequest, with the upstream's own key, on a new connection.
awaitable<void> ForwardCancel(const CancelTarget& target) {
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(target.host, std::to_string(target.port),
                                                        as_tuple(use_awaitable));
  if (rec) co_return;
  asio::ip::tcp::socket s(ex);
  auto [cec, ep] = co_await asio::async_connect(s, results, as_tuple(use_awaitable));
  if (cec) co_return;
  std::vector<uint8_t> frame;
  (void)pg::Encode(pg::CancelRequest{target.pid, target.secret}, &frame);
  co_await asio::async_write(s, asio::buffer(frame), as_tuple(use_awaitable));
}

class Session {
 public:
  Session(std::shared_ptr<const Endpoint> ep, Conn client, PeerInfo peer)
      : ep_(std::move(ep)),
        client_(std::move(client)),
        peer_(std::move(peer)),
        veil_pid_(RandomPid()),
        veil_secret_(RandomSecret()) {
    id_ = ep_->session_ids->fetch_add(1) + 1;
    ctx_.id = id_;
    ctx_.endpoint = ep_->config.name();
    ctx_.database_type = "PostgreSQL";
    ctx_.src = peer_.address;
    ctx_.pid = peer_.pid;
  }

  awaitable<void> Run() {
    PumpEnd end = co_await Startup();
    if (end.fatal.empty() && upstream_) {
      opened_ = true;
      catalog_wait_.emplace(co_await asio::this_coro::executor);
      if (ep_->usage) ep_->usage->SessionOpened(ctx_);
      // Registered while it runs: `veilctl sessions kill` cancels the kill switch's timer on
      // this session's own thread.
      auto ex = co_await asio::this_coro::executor;
      auto kill =
          RegisterLive(*ep_,
                       {id_, ep_->config.name(), principal_, peer_.address, user_, database_,
                        grant_ ? grant_->id : "", static_cast<int64_t>(std::time(nullptr))},
                       ex);
      auto killed = [kill]() -> awaitable<PumpEnd> {
        co_await kill->async_wait(as_tuple(use_awaitable));
        co_return PumpEnd{"veil: session terminated by an operator", "57P01"};
      };
      if (grant_) {
        auto all = co_await (ClientToUpstream() || UpstreamToClient() || WatchGrant() || killed());
        end = std::visit([](auto& e) { return e; }, all);
      } else {
        auto all = co_await (ClientToUpstream() || UpstreamToClient() || killed());
        end = std::visit([](auto& e) { return e; }, all);
      }
      if (ep_->sessions) ep_->sessions->Remove(id_);
    }
    if (!end.fatal.empty()) {
      auto frame = ErrorFrame(pg::Severity::kFatal, end.sqlstate, end.fatal, end.hint);
      co_await client_.WriteAll(frame);
      spdlog::info("session {} on {} ended: {}", id_, ep_->config.name(), end.fatal);
    }
    if (ep_->usage) {
      if (transcoder_) ReportStatements();
      if (opened_)
        ep_->usage->SessionClosed(ctx_, totals_, end.fatal.empty() ? "closed" : end.fatal);
      else if (!end.fatal.empty())
        ep_->usage->SessionRefused(ctx_, end.sqlstate, end.fatal);
    }
    client_.Close();
    if (upstream_) upstream_->Close();
    if (transcoder_ && transcoder_->upstream_key()) ep_->cancels->Remove(veil_pid_, veil_secret_);
  }

 private:
  // Reads the client's untyped startup packets: SSLRequest/GSSENCRequest (answered),
  // CancelRequest (forwarded), then the StartupMessage, which opens the upstream.
  awaitable<PumpEnd> Startup() {
    pg::FrontendDecoder dec(pg::DecoderLimits{}, pg::FrontendDecoder::Phase::kStartup);
    pg::FrontendMessage msg;
    while (true) {
      size_t n = 0;
      auto r = dec.Decode(cin_.filled(), &n, &msg);
      if (r.status == pg::DecodeStatus::kError) co_return PumpEnd{"veil: " + r.error, "08P01"};
      if (r.status == pg::DecodeStatus::kNeedMoreData) {
        auto [ec, got] = co_await client_.ReadSome(cin_.free_space());
        if (ec || got == 0) co_return PumpEnd{};  // client went away before starting
        cin_.size += got;
        continue;
      }
      if (std::holds_alternative<pg::SslRequest>(msg)) {
        cin_.Consume(n);
        // Bytes sent before the handshake must not be taken as TLS-protected (CVE-2021-23214).
        if (cin_.size != 0) co_return PumpEnd{"veil: data after SSLRequest", "08P01"};
        const bool offer = ep_->client_tls && !client_.tls();
        uint8_t answer = offer ? 'S' : 'N';
        if (auto ec = co_await client_.WriteAll({&answer, 1})) co_return PumpEnd{};
        if (offer) {
          auto ec =
              co_await client_.StartTls(*ep_->client_tls, asio::ssl::stream_base::server, nullptr);
          if (ec) {
            spdlog::info("session {}: client TLS handshake failed: {}", id_, ec.message());
            co_return PumpEnd{};
          }
        }
        continue;
      }
      if (std::holds_alternative<pg::GssEncRequest>(msg)) {
        cin_.Consume(n);
        uint8_t answer = 'N';
        if (auto ec = co_await client_.WriteAll({&answer, 1})) co_return PumpEnd{};
        continue;
      }
      if (auto* cancel = std::get_if<pg::CancelRequest>(&msg)) {
        if (auto t = ep_->cancels->Find(cancel->process_id, std::string(cancel->secret_key)))
          co_await ForwardCancel(*t);
        co_return PumpEnd{};  // a cancel connection gets no answer
      }
      auto& startup = std::get<pg::StartupMessage>(msg);
      if (ep_->config.tls().client() == config::v1::Tls::CLIENT_TLS_REQUIRE && !client_.tls())
        co_return PumpEnd{"veil: this endpoint requires TLS (sslmode=require)", "28000"};
      user_ = std::string(startup.user());
      database_ = std::string(startup.database());
      auto refusal = Admit();
      ctx_ = {.id = id_,
              .endpoint = ep_->config.name(),
              .principal = principal_of_,
              .principal_display = principal_,
              .pid = peer_.pid,
              .src = peer_.address,
              .dst = peer_.original_dst.empty() ? ep_->config.listen() : peer_.original_dst,
              .upstream = ep_->config.upstream(),
              .database_user = user_,
              .database = database_,
              .grant_id = grant_ ? grant_->id : "",
              .application_name = std::string(startup.Get("application_name").value_or(""))};
      if (!refusal.fatal.empty()) co_return refusal;
      // A replication connection streams WAL and base backups (pg_basebackup): the tables'
      // own pages, which no result masking sees. Only PostgreSQL's "off" spellings pass.
      if (auto rep = startup.Get("replication")) {
        std::string v(*rep);
        for (char& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (v != "false" && v != "off" && v != "no" && v != "0")
          co_return PumpEnd{
              "veil: replication connections are refused: WAL and base backups "
              "cannot be masked",
              "28000"};
      }
      // The masking profile: the grant's own if it names one, else the endpoint's.
      auto profile = ep_->profile;
      if (grant_ && !grant_->masking.empty() && ep_->profiles) {
        if (auto it = ep_->profiles->find(grant_->masking); it != ep_->profiles->end())
          profile = it->second;
      }
      transcoder_.emplace(profile, veil_pid_, veil_secret_);
      transcoder_->EnableLineage();
      // PostgreSQL's default database is the user's name.
      transcoder_->SetColumnStore(ep_->columns, ep_->config.name(),
                                  database_.empty() ? user_ : database_);
      {
        // What may change what names mean for this session: every startup parameter but the
        // application's name (the user, options such as -c search_path=…, a driver's
        // search_path).
        std::string settings;
        for (const auto& [k, v] : startup.parameters)
          if (k != "application_name") settings.append(k).append(1, '\0').append(v).append(1, '\0');
        transcoder_->SetCatalogCache(ep_->catalogs, std::move(settings));
      }
      if (ep_->guardrails_write) transcoder_->SetMaxRows(ep_->guardrails_write->max_rows());
      std::vector<uint8_t> frame;
      if (grant_ && grant_->access == grants::Grant::Access::kRead) {
        // Second wall for read grants: the upstream session itself is read-only.
        pg::StartupMessage ro = startup;
        std::erase_if(ro.parameters, [](const auto& kv) {
          return kv.first == "default_transaction_read_only" || kv.first == "options";
        });
        for (const auto& kv : startup.parameters)
          if (kv.first == "options") ro.parameters.push_back(kv);
        ro.parameters.emplace_back("default_transaction_read_only", "on");
        (void)pg::Encode(ro, &frame);
      } else {
        frame.assign(cin_.data.begin(), cin_.data.begin() + n);
      }
      cin_.Consume(n);
      co_return co_await OpenUpstream(frame);
    }
  }

  // access: grant — the principal (from the kernel: peer credentials or the socket table) needs
  // an active grant for this endpoint. The database user from the startup packet plays no part.
  PumpEnd Admit() {
    Admission a = agent::Admit(*ep_, peer_, id_);
    principal_ = a.display;
    principal_of_ = a.principal;
    grant_ = a.grant;
    if (a.refusal.empty()) return {};
    if (a.no_grant)
      return PumpEnd{a.refusal, "28000", grants::NoActiveGrantHint(ep_->config.name())};
    return PumpEnd{a.refusal, "08006"};
  }

  // The message for a Query or Parse a guardrail blocks ("veil: statement blocked by guardrail
  // no-ddl") and the guardrail's name, or "" to let it through.
  std::pair<std::string, std::string> Blocked(const pg::FrontendMessage& msg) {
    std::string_view sql;
    if (auto* q = std::get_if<pg::Query>(&msg))
      sql = q->sql;
    else if (auto* p = std::get_if<pg::Parse>(&msg))
      sql = p->query;
    else if (auto* f = std::get_if<pg::FunctionCall>(&msg)) {
      // The function-call sub-protocol (libpq's PQfn) runs any function by its oid with no
      // statement to analyse, and its answer carries no column to mask: query_to_xml('select
      // ssn from customers') would come back raw, lo_unlink would write under a read grant.
      // Only large-object reads pass (pg_dump needs them), and the transcoder withholds the
      // bytes they return.
      if (FastPathLargeObjectRead(f->function_oid)) return {};
      return {"veil: statement blocked by guardrail fastpath", "fastpath"};
    } else
      return {};
    const bool read = grant_ && grant_->access == grants::Grant::Access::kRead;
    const auto& g = read ? ep_->guardrails_read : ep_->guardrails_write;
    auto blocked = [&](std::string_view guardrail, std::string message) {
      spdlog::info("session {} on {}: statement blocked by guardrail {}", id_, ep_->config.name(),
                   guardrail);
      return std::pair<std::string, std::string>{std::move(message), std::string(guardrail)};
    };
    if (g)
      if (auto v = g->Check(sql)) return blocked(v->guardrail, v->Message());
    // The same walls from PostgreSQL's own parse tree, and what only lineage can see.
    auto& analysis = transcoder_->analysis();
    auto a = analysis.Analyze(sql);
    auto sensitive = [&](const sql::BaseColumn& c) {
      return transcoder_->IsSensitive({c.schema, c.table, c.column});
    };
    if (g)
      if (auto v = g->CheckTree(
              *a, [&](std::string_view name) { return analysis.Prepared(name); }, sensitive))
        return blocked(v->guardrail, v->Message());
    for (const auto& st : a->statements) {
      // A sensitive value passed to set_config, pg_notify, setval, a lock or a sleep leaves by
      // another road than the result, where no masking follows it.
      for (const auto* s : {&st, st.inner.get()}) {
        if (!s) continue;
        for (const auto& c : s->side_effect_args)
          if (sensitive(c))
            return blocked("side-channel", "veil: statement blocked by guardrail side-channel");
        transcoder_->NoteWrites(*s);
      }
    }
    return {};
  }

  // Ends the session when its grant ends: at not_after, or within a second of a revoke.
  awaitable<PumpEnd> WatchGrant() {
    std::string why = co_await agent::WatchGrant(*ep_, *grant_, id_);
    if (why.empty()) co_return PumpEnd{};
    co_return PumpEnd{"veil: grant " + grant_->id + " " + why, "57P01"};
  }

  awaitable<PumpEnd> OpenUpstream(const std::vector<uint8_t>& startup_frame) {
    auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(
        ep_->upstream_host, std::to_string(ep_->upstream_port), as_tuple(use_awaitable));
    if (rec) co_return PumpEnd{"veil: cannot resolve the upstream of " + ep_->config.name()};
    asio::ip::tcp::socket sock(ex);
    auto [cec, endpoint] = co_await asio::async_connect(sock, results, as_tuple(use_awaitable));
    if (cec)
      co_return PumpEnd{"veil: upstream of " + ep_->config.name() +
                        " unreachable: " + cec.message()};
    sock.set_option(asio::ip::tcp::no_delay(true));
    upstream_.emplace(std::move(sock));
    if (ep_->upstream_tls) {
      std::vector<uint8_t> req;
      (void)pg::Encode(pg::SslRequest{}, &req);
      if (co_await upstream_->WriteAll(req)) co_return PumpEnd{"veil: upstream closed"};
      uint8_t answer = 0;
      auto [ec, got] = co_await upstream_->ReadSome({&answer, 1});
      if (ec || got != 1 || answer != 'S')
        co_return PumpEnd{"veil: the upstream of " + ep_->config.name() + " does not offer TLS"};
      const std::string host = ep_->upstream_host;
      const auto verify = ep_->upstream_verify;
      auto tec = co_await upstream_->StartTls(
          *ep_->upstream_tls, asio::ssl::stream_base::client,
          [&](SSL* ssl) { return tls::ConfigureUpstreamSsl(ssl, verify, host).ok(); });
      if (tec) {
        spdlog::warn("session {}: TLS to the upstream of {} failed: {}", id_, ep_->config.name(),
                     tec.message());
        co_return PumpEnd{"veil: TLS to the upstream of " + ep_->config.name() + " failed"};
      }
    }
    if (co_await upstream_->WriteAll(startup_frame)) co_return PumpEnd{"veil: upstream closed"};
    spdlog::info("session {} on {}: {} uid={} db_user={} database={}", id_, ep_->config.name(),
                 peer_.address, peer_.uid ? std::to_string(*peer_.uid) : "?", user_, database_);
    co_return PumpEnd{};
  }

  // Sends a frontend message of veil's own upstream: first the `*pending` client bytes that
  // precede it (forwarded, then consumed), then the message; the transcoder learns of it in that
  // order. `m` may view cin_, so it is encoded and handed over before cin_ moves. False: the
  // upstream is gone.
  awaitable<bool> Inject(const pg::FrontendMessage& m, size_t* pending) {
    std::vector<uint8_t> frame;
    (void)std::visit([&](const auto& x) { return pg::Encode(x, &frame); }, m);
    transcoder_->OnFrontend(m);
    if (*pending > 0) {
      if (co_await upstream_->WriteAll(cin_.filled().first(*pending))) co_return false;
      cin_.Consume(*pending);
      *pending = 0;
    }
    co_return !co_await upstream_->WriteAll(frame);
  }

  // Client → upstream: validates every frame, tells the transcoder, forwards the bytes.
  awaitable<PumpEnd> ClientToUpstream() {
    pg::FrontendDecoder dec(pg::DecoderLimits{}, pg::FrontendDecoder::Phase::kTyped);
    pg::FrontendMessage msg;
    while (true) {
      size_t total = 0;
      bool terminate = false;
      while (true) {
        size_t n = 0;
        auto r = dec.Decode(cin_.filled().subspan(total), &n, &msg);
        if (r.status == pg::DecodeStatus::kNeedMoreData) break;
        if (r.status == pg::DecodeStatus::kError) co_return PumpEnd{"veil: " + r.error, "08P01"};
        const bool statement = std::holds_alternative<pg::Query>(msg) ||
                               std::holds_alternative<pg::Parse>(msg) ||
                               std::holds_alternative<pg::Bind>(msg);
        // A catalog last confirmed more than CatalogCache::kFresh ago is checked first (a view
        // may have been replaced outside veild since).
        if (statement)
          if (auto check = transcoder_->TakeStaleCheck(msg)) {
            if (!co_await Inject(pg::Query{*check}, &total)) co_return PumpEnd{};
            // The decoded message viewed the old buffer position: decode it again.
            auto again = dec.Decode(cin_.filled(), &n, &msg);
            if (!again.ready()) co_return PumpEnd{"veil: internal error", "08006"};
          }
        // A statement is checked against the catalog veil is fetching, not the one before it.
        if (statement) {
          while (transcoder_->CatalogInFlight()) {
            catalog_wait_->expires_at(asio::steady_timer::time_point::max());
            co_await catalog_wait_->async_wait(as_tuple(use_awaitable));
          }
        }
        // Guardrails: a blocked statement is replaced by one that makes the server answer
        // ERROR 42501 with veil's message, so the reply arrives in order with its
        // ReadyForQuery and the session goes on.
        auto [blocked, guardrail] = Blocked(msg);
        if (!blocked.empty()) {
          pg::FrontendMessage replacement;
          const std::string raise =
              "DO $veil$BEGIN RAISE EXCEPTION USING ERRCODE = '42501', "
              "MESSAGE = '" +
              blocked + "'; END$veil$";
          if (auto* p = std::get_if<pg::Parse>(&msg)) {
            replacement = pg::Parse{p->statement, raise, {}};
            transcoder_->NoteBlocked(p->query, guardrail);
          } else if (auto* f = std::get_if<pg::FunctionCall>(&msg)) {
            // Answered as the call would be: an error, then ReadyForQuery.
            transcoder_->NoteBlocked("-- function call, oid " + std::to_string(f->function_oid),
                                     guardrail);
            replacement = pg::Query{raise};
          } else {
            transcoder_->NoteBlocked(std::get<pg::Query>(msg).sql, guardrail);
            replacement = pg::Query{raise};
          }
          if (!co_await Inject(replacement, &total)) co_return PumpEnd{};
          cin_.Consume(n);  // the blocked statement itself is never sent
          continue;
        }
        // Content before derivation: a sample of the text columns a statement derives values
        // from, when veild has not seen their content yet (see ContentSample).
        {
          std::string_view sql;
          if (auto* q = std::get_if<pg::Query>(&msg)) sql = q->sql;
          if (auto* p = std::get_if<pg::Parse>(&msg)) sql = p->query;
          if (!sql.empty())
            if (auto sample = transcoder_->ContentSample(sql)) {
              if (!co_await Inject(pg::Query{*sample}, &total)) co_return PumpEnd{};
              auto again = dec.Decode(cin_.filled(), &n, &msg);
              if (!again.ready()) co_return PumpEnd{"veil: internal error", "08006"};
            }
        }
        if (auto* q = std::get_if<pg::Query>(&msg)) {
          if (auto lookup = transcoder_->CopyColumnLookup(*q)) {
            // Forward what precedes this Query, then veil's catalog lookup, then the Query.
            if (!co_await Inject(pg::Query{*lookup}, &total)) co_return PumpEnd{};
            // The decoded Query viewed the old buffer position: decode it again.
            auto again = dec.Decode(cin_.filled(), &n, &msg);
            if (!again.ready()) co_return PumpEnd{"veil: internal error", "08006"};
          }
        }
        transcoder_->OnFrontend(msg);
        total += n;
        if (std::holds_alternative<pg::Terminate>(msg)) {
          terminate = true;
          break;
        }
      }
      if (total > 0) {
        if (co_await upstream_->WriteAll(cin_.filled().first(total))) co_return PumpEnd{};
        cin_.Consume(total);
      }
      if (terminate) co_return PumpEnd{};
      auto [ec, got] = co_await client_.ReadSome(cin_.free_space());
      if (ec || got == 0) co_return PumpEnd{};
      cin_.size += got;
    }
  }

  // Upstream → client: every frame through the transcoder (masking), then to the client.
  awaitable<PumpEnd> UpstreamToClient() {
    std::vector<uint8_t> out;
    out.reserve(kInitialBuffer);
    while (true) {
      auto [ec, got] = co_await upstream_->ReadSome(uin_.free_space());
      if (ec || got == 0) co_return PumpEnd{};
      uin_.size += got;
      size_t consumed = 0;
      out.clear();
      Status st = transcoder_->OnBackend(uin_.filled(), &consumed, &out);
      // A catalog lookup goes upstream before the client sees ReadyForQuery, so it runs before
      // anything the client sends next.
      if (auto lookup = transcoder_->TakeCatalogLookup()) {
        size_t none = 0;
        if (!co_await Inject(pg::Query{*lookup}, &none)) co_return PumpEnd{};
      }
      if (!transcoder_->CatalogInFlight()) catalog_wait_->cancel();
      if (!out.empty() && co_await client_.WriteAll(out)) co_return PumpEnd{};
      ReportStatements();
      if (auto encoding = transcoder_->TakeUnreadableEncoding())
        co_return PumpEnd{
            "veil: client_encoding " + *encoding + " is not supported: veil masks results as UTF-8",
            "0A000", "connect with client_encoding=UTF8 (PGCLIENTENCODING=UTF8)"};
      if (!st.ok())
        co_return PumpEnd{"veil: upstream protocol error: " + st.error().message, "08P01"};
      uin_.Consume(consumed);
      if (!registered_ && transcoder_->upstream_key()) {
        registered_ = true;
        const auto& [pid, secret] = *transcoder_->upstream_key();
        ep_->cancels->Put(veil_pid_, veil_secret_,
                          {ep_->upstream_host, ep_->upstream_port, pid, secret});
      }
    }
  }

  std::shared_ptr<const Endpoint> ep_;
  Conn client_;
  std::optional<Conn> upstream_;
  PeerInfo peer_;
  uint64_t id_ = 0;
  int32_t veil_pid_;
  std::string veil_secret_;
  std::optional<PgTranscoder> transcoder_;  // made once the session is admitted
  // Wakes ClientToUpstream when a catalog lookup has been answered.
  std::optional<asio::steady_timer> catalog_wait_;
  InBuffer cin_, uin_;
  std::string user_, database_;
  std::string principal_;
  std::optional<grants::Grant> grant_;
  bool registered_ = false;
  grants::Principal principal_of_;
  SessionContext ctx_;
  SessionTotals totals_;
  bool opened_ = false;

  void ReportStatements() {
    agent::ReportStatements(*ep_, ctx_, transcoder_->TakeStatements(), &totals_);
  }
};

}  // namespace

namespace {

class Postgres final : public Protocol {
 public:
  std::string_view name() const override { return "postgres"; }
  std::string UnixSocketName(uint16_t port) const override { return PostgresSocketName(port); }
  awaitable<void> Serve(std::shared_ptr<const Endpoint> endpoint, Conn client,
                        PeerInfo peer) const override {
    auto session =
        std::make_unique<Session>(std::move(endpoint), std::move(client), std::move(peer));
    co_await session->Run();
  }
};

}  // namespace

const Protocol& PostgresProtocol() {
  static const Postgres kPostgres;
  return kPostgres;
}

}  // namespace veil::agent
