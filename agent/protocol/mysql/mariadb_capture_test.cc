// The codec against a real server: starts Debian's mariadbd on a temporary datadir and port (as
// the unprivileged `mysql` user when run as root), then speaks the protocol over a plain TCP
// socket using only this codec: greeting, mysql_native_password login (and a refused one),
// text result sets with NULLs, multi-results, an ERR, prepared statements with binary rows of
// many types, a cursor with COM_STMT_FETCH. Every message the test sends is also decoded by
// ClientDecoder, and every server byte goes through ServerDecoder and is re-encoded to check
// decode -> encode gives MariaDB's exact bytes back (what rebuilding a masked packet relies on),
// so both directions meet bytes written by MariaDB itself, not only by our own encoder.
//
// Skips (with the reason) when mariadbd is not installed; under CI=true that is a failure.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/protocol/mysql/auth.h"
#include "agent/protocol/mysql/decoder.h"
#include "agent/protocol/mysql/encoder.h"

namespace veil::mysql {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

constexpr const char* kMariadbd = "/usr/sbin/mariadbd";
constexpr const char* kInstallDb = "/usr/bin/mariadb-install-db";
constexpr std::string_view kUser = "veil_native";
constexpr std::string_view kPassword = "s3cret-Pa55";

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  close(fd);
  return ntohs(a.sin_port);
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int ConnectTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

class MariaDb {
 public:
  // Empty on success, else why the server could not start.
  std::string Start() {
    char tmpl[] = "/tmp/veil-mariadb-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
    const std::string data = dir_ + "/data";
    fs::create_directory(data);
    std::vector<std::string> user_arg;
    if (geteuid() == 0) {
      passwd* pw = getpwnam("mysql");
      if (pw == nullptr) return "running as root and there is no `mysql` user to run mariadbd as";
      chown(data.c_str(), pw->pw_uid, pw->pw_gid);
      user_arg = {"--user=mysql"};
    }
    port_ = FreePort();
    {
      std::ofstream init(dir_ + "/init.sql");
      init << "CREATE USER '" << kUser << "'@'%' IDENTIFIED VIA mysql_native_password USING "
           << "PASSWORD('" << kPassword << "');\n"
           << "GRANT ALL ON *.* TO '" << kUser << "'@'%';\n";
    }
    std::vector<std::string> install = {
        kInstallDb,          "--no-defaults",
        "--datadir=" + data, "--auth-root-authentication-method=normal",
        "--skip-test-db",    "--skip-name-resolve"};
    install.insert(install.end(), user_arg.begin(), user_arg.end());
    const std::string log = dir_ + "/setup.log";
    int status = 0;
    waitpid(Spawn(install, log), &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      // The folder goes with the test: say what the tool said.
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.size() > 4000) text = text.substr(text.size() - 4000);
      return "mariadb-install-db failed:\n" + text;
    }
    std::vector<std::string> server = {kMariadbd,
                                       "--no-defaults",
                                       "--datadir=" + data,
                                       "--port=" + std::to_string(port_),
                                       "--bind-address=127.0.0.1",
                                       "--socket=" + data + "/mysqld.sock",
                                       "--pid-file=" + data + "/mysqld.pid",
                                       "--init-file=" + dir_ + "/init.sql",
                                       "--skip-name-resolve",
                                       "--innodb-buffer-pool-size=16M",
                                       "--log-error=" + data + "/error.log"};
    server.insert(server.end(), user_arg.begin(), user_arg.end());
    pid_ = Spawn(server, log);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (int fd = ConnectTcp(port_); fd >= 0) {
        close(fd);
        return "";
      }
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "mariadbd exited; see " + data + "/error.log";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "mariadbd did not listen within 20 s";
  }

  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (!dir_.empty() && std::getenv("VEIL_KEEP_MARIADB") == nullptr) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  int port() const { return port_; }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

MariaDb* g_server = nullptr;

// One client connection: our encoder writes, ClientDecoder re-reads what we wrote, ServerDecoder
// reads the server.
class Connection {
 public:
  explicit Connection(int port) : fd_(ConnectTcp(port)) { in_.reserve(8 << 20); }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  ServerDecoder& server() { return server_; }
  ClientDecoder& client() { return client_; }

  // Reads the next server message; fails the test on a decode error or EOF. Messages are views
  // into this connection's buffer: they stay valid until the next Send(), which compacts it
  // (the buffer is reserved up front, so receiving never moves it).
  ServerMessage Read() {
    for (;;) {
      size_t consumed = 0;
      ServerMessage m;
      DecodeResult r = server_.Decode(std::span(in_).subspan(read_at_), &consumed, &m);
      if (r.ready()) {
        last_server_sequence_ = r.last_sequence_id;
        // What veil relies on to rebuild (mask) a packet: our encoder reproduces MariaDB's
        // bytes exactly from the decoded message.
        Bytes again;
        uint8_t seq = r.first_sequence_id;
        Status s = Encode(m, server_.capabilities(), &seq, &again);
        EXPECT_TRUE(s.ok()) << MessageName(m) << ": " << (s.ok() ? "" : s.error().message);
        EXPECT_TRUE(std::equal(again.begin(), again.end(), in_.begin() + read_at_,
                               in_.begin() + read_at_ + consumed) &&
                    again.size() == consumed)
            << MessageName(m) << " does not re-encode to the server's bytes";
        ++reencoded_;
        read_at_ += consumed;
        return m;
      }
      if (r.status == DecodeStatus::kError) {
        ADD_FAILURE() << "server decode error: " << r.error;
        return RawPacket{};
      }
      uint8_t buf[65536];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        ADD_FAILURE() << "server closed or timed out";
        return RawPacket{};
      }
      if (in_.size() + n > in_.capacity()) {
        ADD_FAILURE() << "test buffer too small";
        return RawPacket{};
      }
      in_.insert(in_.end(), buf, buf + n);
    }
  }

  // Encodes `m`, checks ClientDecoder decodes it back, sends it and tells ServerDecoder.
  template <typename M>
  void Send(const M& m, uint8_t sequence_id) {
    Bytes out;
    uint8_t seq = sequence_id;
    Status s = Encode(m, client_.capabilities(), &seq, &out);
    ASSERT_TRUE(s.ok()) << s.error().message;
    ClientMessage decoded;
    size_t consumed = 0;
    DecodeResult r = client_.Decode(out, &consumed, &decoded);
    ASSERT_TRUE(r.ready()) << r.error;
    ASSERT_EQ(consumed, out.size());
    ASSERT_TRUE(std::holds_alternative<M>(decoded));
    ASSERT_EQ(std::get<M>(decoded), m);
    ASSERT_EQ(send(fd_, out.data(), out.size(), MSG_NOSIGNAL), static_cast<ssize_t>(out.size()));
    server_.ExpectResponseTo(decoded, r.last_sequence_id);
    in_.erase(in_.begin(), in_.begin() + read_at_);
    read_at_ = 0;
  }

  uint8_t last_server_sequence() const { return last_server_sequence_; }
  size_t reencoded() const { return reencoded_; }

 private:
  int fd_;
  Bytes in_;
  size_t read_at_ = 0;
  ServerDecoder server_;
  ClientDecoder client_;
  uint8_t last_server_sequence_ = 0;
  size_t reencoded_ = 0;
};

constexpr uint64_t kWantedCaps =
    cap::kLongFlag | cap::kConnectWithDb | cap::kProtocol41 | cap::kTransactions |
    cap::kSecureConnection | cap::kMultiStatements | cap::kMultiResults | cap::kPsMultiResults |
    cap::kPluginAuth | cap::kConnectAttrs | cap::kPluginAuthLenencClientData | cap::kSessionTrack |
    cap::kDeprecateEof | cap::kMariaDbExtendedMetadata;

class MariaDbCapture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (access(kMariadbd, X_OK) != 0) return;
    g_server = new MariaDb();
    start_error_ = new std::string(g_server->Start());
  }
  static void TearDownTestSuite() {
    if (g_server != nullptr) g_server->Stop();
  }
  void SetUp() override {
    if (g_server == nullptr) {
      if (std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true") {
        FAIL() << "mariadbd is not installed (tools/setup.sh installs mariadb-server)";
      }
      GTEST_SKIP() << "mariadbd is not installed (apt-get install mariadb-server)";
    }
    ASSERT_EQ(*start_error_, "") << "MariaDB did not start";
  }

  // Greeting + HandshakeResponse41 + mysql_native_password. Returns the final server message
  // (OK on success). `caps` are what we ask for; `full` gets the negotiated set.
  static ServerMessage Login(Connection& c, std::string_view password, uint64_t wanted,
                             std::string* server_version = nullptr, uint64_t* server_caps = nullptr,
                             std::string* scramble_out = nullptr) {
    ServerMessage m = c.Read();
    EXPECT_TRUE(std::holds_alternative<HandshakeV10>(m)) << MessageName(m);
    const auto greeting = std::get<HandshakeV10>(m);
    const std::string scramble = greeting.scramble();
    EXPECT_EQ(greeting.auth_plugin_data_1.size(), 8u);
    EXPECT_EQ(scramble.size(), 20u);
    // Views die at the next Send(): copy what the caller wants.
    if (server_version != nullptr) *server_version = greeting.server_version;
    if (server_caps != nullptr) *server_caps = greeting.full_capabilities();
    if (scramble_out != nullptr) *scramble_out = scramble;
    HandshakeResponse41 resp;
    // CLIENT_MYSQL (bit 0) clear: MariaDB reads the extended capabilities from the filler.
    const uint64_t caps = wanted & greeting.full_capabilities() & ~cap::kLongPassword;
    resp.set_full_capabilities(caps);
    resp.max_packet_size = 16 * 1024 * 1024;
    resp.character_set = 45;  // utf8mb4_general_ci
    resp.username = kUser;
    const std::string auth = NativePasswordScramble(password, scramble);
    resp.auth_response = auth;
    resp.database = "mysql";
    resp.auth_plugin_name = "mysql_native_password";
    resp.connect_attributes.emplace();
    resp.connect_attributes->emplace_back("_client_name", "veil-codec-test");
    c.Send(resp, 1);
    c.client().set_capabilities(caps);
    m = c.Read();
    if (const auto* sw = std::get_if<AuthSwitchRequest>(&m)) {
      std::string data(sw->plugin_data);
      if (!data.empty() && data.back() == '\0') data.pop_back();
      EXPECT_EQ(sw->plugin_name, "mysql_native_password");
      const std::string again = NativePasswordScramble(password, data);
      c.Send(AuthData{again}, static_cast<uint8_t>(c.last_server_sequence() + 1));
      m = c.Read();
    }
    if (std::holds_alternative<OkPacket>(m)) c.client().set_phase(ClientDecoder::Phase::kCommand);
    return m;
  }

  // Sends a COM_QUERY and collects everything up to the end of all its results.
  static std::vector<ServerMessage> Query(Connection& c, std::string_view sql) {
    c.Send(ComQuery{sql, {}}, 0);
    return Drain(c);
  }

  static std::vector<ServerMessage> Drain(Connection& c) {
    std::vector<ServerMessage> all;
    do {
      all.push_back(c.Read());
      if (std::holds_alternative<RawPacket>(all.back())) break;  // a failure was recorded
    } while (c.server().state() != ServerDecoder::State::kIdle);
    return all;
  }

  // Copies the text row values (views die with the next Read).
  static std::vector<std::optional<std::string>> Texts(const TextRow& row) {
    std::vector<std::optional<std::string>> out;
    for (const Value& v : row.values) {
      out.push_back(v.is_null ? std::nullopt : std::optional<std::string>(std::string(v.data)));
    }
    return out;
  }

  static inline std::string* start_error_ = nullptr;
};

TEST_F(MariaDbCapture, NativePasswordLoginAndWrongPasswordRefused) {
  {
    Connection c(g_server->port());
    ASSERT_TRUE(c.connected());
    std::string version;
    uint64_t server_caps = 0;
    ServerMessage m = Login(c, kPassword, kWantedCaps, &version, &server_caps);
    ASSERT_TRUE(std::holds_alternative<OkPacket>(m)) << MessageName(m);
    EXPECT_NE(version.find("MariaDB"), std::string::npos) << version;
    EXPECT_TRUE(server_caps & cap::kDeprecateEof);
    EXPECT_TRUE(server_caps & cap::kMariaDbExtendedMetadata);  // from the reserved bytes
    EXPECT_FALSE(server_caps & cap::kLongPassword);            // CLIENT_MYSQL clear: MariaDB
    EXPECT_EQ(c.server().state(), ServerDecoder::State::kIdle);
    c.Send(ComPing{}, 0);
    EXPECT_TRUE(std::holds_alternative<OkPacket>(c.Read()));
    c.Send(ComInitDb{"information_schema"}, 0);
    EXPECT_TRUE(std::holds_alternative<OkPacket>(c.Read()));
  }
  {
    Connection c(g_server->port());
    ServerMessage m = Login(c, "not-the-password", kWantedCaps);
    ASSERT_TRUE(std::holds_alternative<ErrPacket>(m)) << MessageName(m);
    const auto& err = std::get<ErrPacket>(m);
    EXPECT_EQ(err.error_code, 1045);
    EXPECT_EQ(err.sql_state, "28000");
    EXPECT_NE(err.message.find("Access denied for user 'veil_native'"), std::string::npos);
  }
}

// The table every query below reads. Row 1 has a value in every column; row 2 mostly NULLs.
void CreateTable(Connection& c) {
  auto ok = [&](std::string_view sql) {
    c.Send(ComQuery{sql, {}}, 0);
    ServerMessage m = c.Read();
    ASSERT_TRUE(std::holds_alternative<OkPacket>(m))
        << sql << ": " << MessageName(m)
        << (std::holds_alternative<ErrPacket>(m) ? std::get<ErrPacket>(m).message : "");
  };
  ok("CREATE DATABASE IF NOT EXISTS veil_t");
  ok("DROP TABLE IF EXISTS veil_t.people");
  ok("CREATE TABLE veil_t.people (id INT PRIMARY KEY, tiny TINYINT, small SMALLINT UNSIGNED, "
     "med MEDIUMINT, big BIGINT, f FLOAT, d DOUBLE, dec2 DECIMAL(10,2), name VARCHAR(50), "
     "note TEXT, bin VARBINARY(10), dt DATETIME(6), da DATE, ti TIME(6), yr YEAR, "
     "en ENUM('a','b'), js JSON, bits BIT(8), ts TIMESTAMP NULL)");
  c.Send(ComQuery{"INSERT INTO veil_t.people VALUES "
                  "(1, -5, 65535, -8388608, -9007199254740993, 1.5, -2.25, 12345678.91, "
                  "'Zoë Example', 'free text with alice@example.com', x'00ff10', "
                  "'2024-02-29 13:14:15.123456', '1999-12-31', '-838:59:58.5', 2024, 'b', "
                  "'{\"k\": [1, 2]}', b'10100101', '2023-06-01 00:00:00'), "
                  "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'only name', NULL, NULL, NULL, "
                  "NULL, '00:00:00', NULL, NULL, NULL, NULL, NULL)",
                  {}},
         0);
  ServerMessage m = c.Read();
  ASSERT_TRUE(std::holds_alternative<OkPacket>(m)) << MessageName(m);
  EXPECT_EQ(std::get<OkPacket>(m).affected_rows, 2u);
}

TEST_F(MariaDbCapture, TextResultSetWithNullsAndColumnDefinitions) {
  for (const bool deprecate_eof : {true, false}) {
    SCOPED_TRACE(deprecate_eof ? "CLIENT_DEPRECATE_EOF" : "classic EOF");
    Connection c(g_server->port());
    const uint64_t caps = deprecate_eof ? kWantedCaps : kWantedCaps & ~cap::kDeprecateEof;
    ASSERT_TRUE(std::holds_alternative<OkPacket>(Login(c, kPassword, caps)));
    CreateTable(c);
    c.Send(ComQuery{"SELECT id, tiny, small, big, d, dec2, name, note, bin, dt, ti, js, "
                    "id * 2 AS twice FROM veil_t.people ORDER BY id",
                    {}},
           0);
    ServerMessage m = c.Read();
    ASSERT_TRUE(std::holds_alternative<ColumnCount>(m)) << MessageName(m);
    ASSERT_EQ(std::get<ColumnCount>(m).count, 13u);
    std::vector<std::pair<std::string, std::string>> names;  // org_table.org_name / name
    std::vector<ColumnType> types;
    for (int i = 0; i < 13; ++i) {
      m = c.Read();
      ASSERT_TRUE(std::holds_alternative<ColumnDefinition>(m)) << MessageName(m);
      const auto& def = std::get<ColumnDefinition>(m);
      EXPECT_EQ(def.catalog, "def");
      names.emplace_back(std::string(def.org_table) + "." + std::string(def.org_name),
                         std::string(def.name));
      types.push_back(def.type);
      ASSERT_TRUE(def.extended_metadata.has_value());  // MARIADB_CLIENT_EXTENDED_METADATA
      if (def.name == "js") {
        EXPECT_NE(def.extended_metadata->find("json"), std::string_view::npos);
      }
      if (def.name == "small") {
        EXPECT_TRUE(def.flags & column_flag::kUnsigned);
      }
      if (def.name == "id") {
        EXPECT_TRUE(def.flags & column_flag::kPrimaryKey);
      }
    }
    EXPECT_EQ(names[0], (std::pair<std::string, std::string>{"people.id", "id"}));
    EXPECT_EQ(names[6], (std::pair<std::string, std::string>{"people.name", "name"}));
    // A computed column has no origin: the masking rule for transformed columns keys on this.
    EXPECT_EQ(names[12], (std::pair<std::string, std::string>{".", "twice"}));
    EXPECT_EQ(types[0], ColumnType::kLong);
    EXPECT_EQ(types[1], ColumnType::kTiny);
    EXPECT_EQ(types[2], ColumnType::kShort);
    EXPECT_EQ(types[3], ColumnType::kLongLong);
    EXPECT_EQ(types[4], ColumnType::kDouble);
    EXPECT_EQ(types[5], ColumnType::kNewDecimal);
    EXPECT_EQ(types[6], ColumnType::kVarString);
    EXPECT_EQ(types[7], ColumnType::kBlob);
    EXPECT_EQ(types[9], ColumnType::kDateTime);
    EXPECT_EQ(types[10], ColumnType::kTime);
    if (!deprecate_eof) {
      m = c.Read();
      ASSERT_TRUE(std::holds_alternative<EofPacket>(m)) << MessageName(m);
    }
    m = c.Read();
    ASSERT_TRUE(std::holds_alternative<TextRow>(m)) << MessageName(m);
    using S = std::optional<std::string>;
    EXPECT_EQ(Texts(std::get<TextRow>(m)),
              (std::vector<S>{"1", "-5", "65535", "-9007199254740993", "-2.25", "12345678.91",
                              "Zoë Example", "free text with alice@example.com",
                              std::string("\x00\xff\x10", 3), "2024-02-29 13:14:15.123456",
                              "-838:59:58.500000", "{\"k\": [1, 2]}", "2"}));
    m = c.Read();
    ASSERT_TRUE(std::holds_alternative<TextRow>(m)) << MessageName(m);
    EXPECT_EQ(Texts(std::get<TextRow>(m)),
              (std::vector<S>{
                  "2", {}, {}, {}, {}, {}, "only name", {}, {}, {}, "00:00:00.000000", {}, "4"}));
    m = c.Read();
    if (deprecate_eof) {
      ASSERT_TRUE(std::holds_alternative<OkPacket>(m)) << MessageName(m);
      EXPECT_EQ(std::get<OkPacket>(m).header, 0xFE);
    } else {
      ASSERT_TRUE(std::holds_alternative<EofPacket>(m)) << MessageName(m);
    }
    EXPECT_EQ(c.server().state(), ServerDecoder::State::kIdle);
  }
}

TEST_F(MariaDbCapture, MultiResultsAndErr) {
  Connection c(g_server->port());
  ASSERT_TRUE(std::holds_alternative<OkPacket>(Login(c, kPassword, kWantedCaps)));
  std::vector<ServerMessage> all = Query(c, "SELECT 1 AS a; DO 1; SELECT 'x' AS b, NULL AS c");
  std::vector<std::string> kinds;
  for (const auto& m : all) kinds.emplace_back(MessageName(m));
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"ColumnCount", "ColumnDefinition41", "TextResultsetRow", "OK",
                                      "OK", "ColumnCount", "ColumnDefinition41",
                                      "ColumnDefinition41", "TextResultsetRow", "OK"}));
  EXPECT_TRUE(std::get<OkPacket>(all[3]).status_flags & status::kMoreResultsExist);
  EXPECT_TRUE(std::get<OkPacket>(all[4]).status_flags & status::kMoreResultsExist);
  EXPECT_FALSE(std::get<OkPacket>(all[9]).status_flags & status::kMoreResultsExist);

  all = Query(c, "SELECT * FROM veil_t.no_such_table");
  ASSERT_EQ(all.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<ErrPacket>(all[0]));
  EXPECT_EQ(std::get<ErrPacket>(all[0]).error_code, 1146);
  EXPECT_EQ(std::get<ErrPacket>(all[0]).sql_state, "42S02");
  // The connection is still usable after an ERR.
  c.Send(ComPing{}, 0);
  EXPECT_TRUE(std::holds_alternative<OkPacket>(c.Read()));
}

TEST_F(MariaDbCapture, PreparedStatementBinaryRowsOfManyTypes) {
  for (const bool deprecate_eof : {true, false}) {
    SCOPED_TRACE(deprecate_eof ? "CLIENT_DEPRECATE_EOF" : "classic EOF");
    Connection c(g_server->port());
    const uint64_t caps = deprecate_eof ? kWantedCaps : kWantedCaps & ~cap::kDeprecateEof;
    ASSERT_TRUE(std::holds_alternative<OkPacket>(Login(c, kPassword, caps)));
    CreateTable(c);
    c.Send(ComStmtPrepare{"SELECT id, tiny, small, med, big, f, d, dec2, name, bin, dt, da, ti, "
                          "yr, en, js, bits, ts FROM veil_t.people WHERE id >= ? AND name <> ? "
                          "ORDER BY id"},
           0);
    std::vector<ServerMessage> prep = Drain(c);
    ASSERT_TRUE(std::holds_alternative<StmtPrepareOk>(prep[0])) << MessageName(prep[0]);
    const StmtPrepareOk ok = std::get<StmtPrepareOk>(prep[0]);
    EXPECT_EQ(ok.num_params, 2);
    EXPECT_EQ(ok.num_columns, 18);
    // 2 param defs (+EOF) and 18 column defs (+EOF).
    EXPECT_EQ(prep.size(), 1u + 2 + 18 + (deprecate_eof ? 0 : 2));
    c.client().OnStatementPrepared(ok.statement_id, ok.num_params);

    ComStmtExecute exec;
    exec.statement_id = ok.statement_id;
    const std::string one = BinaryInteger(1, 4);
    exec.parameters = {
        Parameter{{ColumnType::kLong, false}, {}, Value{one}, false},
        Parameter{{ColumnType::kVarString, false}, {}, Value{"nobody"}, false},
    };
    c.Send(exec, 0);
    std::vector<ServerMessage> all = Drain(c);
    ASSERT_TRUE(std::holds_alternative<ColumnCount>(all[0])) << MessageName(all[0]);
    std::vector<const BinaryRow*> rows;
    for (const auto& m : all) {
      if (const auto* row = std::get_if<BinaryRow>(&m)) rows.push_back(row);
    }
    ASSERT_EQ(rows.size(), 2u);
    ASSERT_EQ(rows[0]->columns.size(), 18u);
    const auto& v = rows[0]->values;
    auto integer = [&](size_t i) {
      return ReadBinaryInteger(v[i].data, rows[0]->columns[i].is_unsigned).value_or(-1);
    };
    EXPECT_EQ(integer(0), 1);
    EXPECT_EQ(v[1].data.size(), 1u);
    EXPECT_EQ(integer(1), -5);
    EXPECT_EQ(v[2].data.size(), 2u);
    EXPECT_TRUE(rows[0]->columns[2].is_unsigned);
    EXPECT_EQ(integer(2), 65535);
    EXPECT_EQ(rows[0]->columns[3].type, ColumnType::kInt24);
    EXPECT_EQ(v[3].data.size(), 4u);
    EXPECT_EQ(integer(3), -8388608);
    EXPECT_EQ(v[4].data.size(), 8u);
    EXPECT_EQ(integer(4), -9007199254740993);
    EXPECT_EQ(ReadBinaryFloat(v[5].data), 1.5f);
    EXPECT_EQ(ReadBinaryDouble(v[6].data), -2.25);
    EXPECT_EQ(rows[0]->columns[7].type, ColumnType::kNewDecimal);
    EXPECT_EQ(v[7].data, "12345678.91");
    EXPECT_EQ(v[8].data, "Zoë Example");
    EXPECT_EQ(v[9].data, std::string_view("\x00\xff\x10", 3));
    EXPECT_EQ(ReadBinaryDateTime(v[10].data), (BinaryDateTime{2024, 2, 29, 13, 14, 15, 123456}));
    EXPECT_EQ(v[10].data.size(), 11u);
    EXPECT_EQ(ReadBinaryDateTime(v[11].data), (BinaryDateTime{1999, 12, 31}));
    EXPECT_EQ(v[11].data.size(), 4u);
    EXPECT_EQ(ReadBinaryTime(v[12].data), (BinaryTime{true, 34, 22, 59, 58, 500000}));
    EXPECT_EQ(v[12].data.size(), 12u);
    EXPECT_EQ(rows[0]->columns[13].type, ColumnType::kYear);
    EXPECT_EQ(integer(13), 2024);
    EXPECT_EQ(v[14].data, "b");
    EXPECT_EQ(v[15].data, "{\"k\": [1, 2]}");
    EXPECT_EQ(rows[0]->columns[16].type, ColumnType::kBit);
    EXPECT_EQ(v[16].data, "\xa5");
    EXPECT_EQ(rows[0]->columns[17].type, ColumnType::kTimestamp);
    EXPECT_EQ(ReadBinaryDateTime(v[17].data), (BinaryDateTime{2023, 6, 1}));
    // Row 2: NULLs through the null bitmap, and the 0-byte TIME form for 00:00:00.
    const auto& w = rows[1]->values;
    EXPECT_EQ(ReadBinaryInteger(w[0].data, false), 2);
    for (size_t i : {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 14, 15, 16, 17}) {
      EXPECT_TRUE(w[i].is_null) << "column " << i;
    }
    EXPECT_EQ(w[8].data, "only name");
    EXPECT_FALSE(w[12].is_null);
    EXPECT_EQ(w[12].data.size(), 0u);
    // (Read() checked that each row re-encodes to MariaDB's own bytes.)
    EXPECT_GT(c.reencoded(), 40u);

    // Execute again without types (new-params-bound 0): MariaDB uses the ones it has.
    ComStmtExecute again = exec;
    const std::string two = BinaryInteger(2, 4);
    again.new_params_bound = false;
    again.parameters[0].value = Value{two};
    c.Send(again, 0);
    all = Drain(c);
    rows.clear();
    for (const auto& m : all) {
      if (const auto* row = std::get_if<BinaryRow>(&m)) rows.push_back(row);
    }
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]->values[8].data, "only name");

    // A read-only cursor: metadata now, rows through COM_STMT_FETCH.
    ComStmtExecute cursor_exec = exec;
    cursor_exec.flags = cursor::kReadOnly;
    c.Send(cursor_exec, 0);
    all = Drain(c);
    EXPECT_TRUE(std::holds_alternative<ColumnCount>(all[0])) << MessageName(all[0]);
    for (const auto& m : all) EXPECT_FALSE(std::holds_alternative<BinaryRow>(m));
    c.Send(ComStmtFetch{ok.statement_id, 1}, 0);
    all = Drain(c);
    ASSERT_GE(all.size(), 2u);
    ASSERT_TRUE(std::holds_alternative<BinaryRow>(all[0])) << MessageName(all[0]);
    EXPECT_EQ(std::get<BinaryRow>(all[0]).values[8].data, "Zoë Example");
    c.Send(ComStmtFetch{ok.statement_id, 5}, 0);
    all = Drain(c);
    ASSERT_GE(all.size(), 2u);
    ASSERT_TRUE(std::holds_alternative<BinaryRow>(all[0])) << MessageName(all[0]);
    EXPECT_EQ(std::get<BinaryRow>(all[0]).values[8].data, "only name");

    c.Send(ComStmtClose{ok.statement_id}, 0);
    EXPECT_EQ(c.server().state(), ServerDecoder::State::kIdle);
    c.Send(ComPing{}, 0);
    EXPECT_TRUE(std::holds_alternative<OkPacket>(c.Read()));
    c.Send(ComQuit{}, 0);
  }
}

TEST_F(MariaDbCapture, LongDataResetChangeUserAndKill) {
  Connection c(g_server->port());
  std::string scramble;
  ASSERT_TRUE(std::holds_alternative<OkPacket>(
      Login(c, kPassword, kWantedCaps, nullptr, nullptr, &scramble)));
  // COM_STMT_SEND_LONG_DATA: parameter 0's value arrives in two chunks before the execute, which
  // then carries no bytes for it. The server must see exactly what the decoder expects.
  c.Send(ComStmtPrepare{"SELECT CONCAT(?, '|') AS a, ? AS b"}, 0);
  std::vector<ServerMessage> prep = Drain(c);
  ASSERT_TRUE(std::holds_alternative<StmtPrepareOk>(prep[0])) << MessageName(prep[0]);
  const StmtPrepareOk ok = std::get<StmtPrepareOk>(prep[0]);
  ASSERT_EQ(ok.num_params, 2);
  c.client().OnStatementPrepared(ok.statement_id, ok.num_params);
  c.Send(ComStmtSendLongData{ok.statement_id, 0, "first chunk, "}, 0);
  c.Send(ComStmtSendLongData{ok.statement_id, 0, "second chunk"}, 0);
  EXPECT_EQ(c.server().state(), ServerDecoder::State::kIdle);  // no answer to long data
  ComStmtExecute exec;
  exec.statement_id = ok.statement_id;
  exec.parameters = {Parameter{{ColumnType::kBlob, false}, {}, Value{}, true},
                     Parameter{{ColumnType::kVarString, false}, {}, Value{"x"}, false}};
  c.Send(exec, 0);
  std::vector<ServerMessage> all = Drain(c);
  const BinaryRow* row = nullptr;
  for (const auto& m : all) {
    if (const auto* r = std::get_if<BinaryRow>(&m)) row = r;
  }
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->values[0].data, "first chunk, second chunk|");
  EXPECT_EQ(row->values[1].data, "x");
  c.Send(ComStmtReset{ok.statement_id}, 0);
  EXPECT_TRUE(std::holds_alternative<OkPacket>(c.Read()));
  c.Send(ComResetConnection{}, 0);
  EXPECT_TRUE(std::holds_alternative<OkPacket>(c.Read()));

  // COM_CHANGE_USER to the same user, scrambled with the greeting's scramble; MariaDB may also
  // answer with an auth switch carrying a new one. Either way the exchange ends in OK.
  const std::string response = NativePasswordScramble(kPassword, scramble);
  // With CLIENT_CONNECT_ATTRS negotiated MariaDB requires the attributes block (even empty):
  // without it, it answers 1047 "Unknown command".
  c.Send(ComChangeUser{kUser, response, "mysql", 45, "mysql_native_password",
                       std::vector<std::pair<std::string_view, std::string_view>>{}},
         0);
  ServerMessage m = c.Read();
  if (const auto* err = std::get_if<ErrPacket>(&m)) ADD_FAILURE() << err->message;
  if (const auto* sw = std::get_if<AuthSwitchRequest>(&m)) {
    std::string data(sw->plugin_data);
    if (!data.empty() && data.back() == '\0') data.pop_back();
    const std::string again = NativePasswordScramble(kPassword, data);
    c.Send(AuthData{again}, static_cast<uint8_t>(c.last_server_sequence() + 1));
    m = c.Read();
  }
  ASSERT_TRUE(std::holds_alternative<OkPacket>(m)) << MessageName(m);
  c.client().set_phase(ClientDecoder::Phase::kCommand);
  std::vector<ServerMessage> who = Query(c, "SELECT CURRENT_USER()");
  ASSERT_TRUE(std::holds_alternative<TextRow>(who[2])) << MessageName(who[2]);
  EXPECT_EQ(std::get<TextRow>(who[2]).values[0].data, "veil_native@%");

  // COM_PROCESS_KILL of another connection (the id its greeting handed out).
  Connection victim(g_server->port());
  ServerMessage greeting = victim.Read();
  ASSERT_TRUE(std::holds_alternative<HandshakeV10>(greeting));
  const uint32_t id = std::get<HandshakeV10>(greeting).connection_id;
  c.Send(ComProcessKill{id}, 0);
  m = c.Read();
  EXPECT_TRUE(std::holds_alternative<OkPacket>(m)) << MessageName(m);
}

}  // namespace
}  // namespace veil::mysql
