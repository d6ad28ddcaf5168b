#include "tools/veilctl/clone.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/capped_counts.h"
#include "tools/veilctl/agent_client.h"
#include "tools/veilctl/clone_stream.h"
#include "tools/veilctl/clone_target.h"
#include "tools/veilctl/endpoints.h"
#include "tools/veilctl/pg_handles.h"

extern char** environ;

namespace veil::veilctl {
namespace {

namespace cv1 = control::v1;
using Clock = std::chrono::steady_clock;

struct OptionsCloser {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
// Rows per table sent to veild at most (the control socket's messages are bounded).
constexpr size_t kMaxCounts = 4096;
using Conn = PgConn;
using Res = PgRes;

// ---------------------------------------------------------------------------------------------
// Connection strings

std::string Quote(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

struct Target {
  std::map<std::string, std::string> params;  // as given, with libpq's environment defaults
  std::string password;                       // kept out of argv
  std::string dbname;
};

// The target's options as libpq reads them (the string, then PG* variables). An Error for a
// malformed string.
Result<Target> ParseTarget(const std::string& conninfo) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, OptionsCloser> given(PQconninfoParse(conninfo.c_str(), &err));
  if (!given) {
    std::string why = err ? err : "malformed";
    if (err) PQfreemem(err);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Error{"TARGET: " + why};
  }
  std::unique_ptr<PQconninfoOption, OptionsCloser> defaults(PQconndefaults());
  Target t;
  for (PQconninfoOption* o = given.get(); o->keyword; ++o)
    if (o->val && *o->val) t.params[o->keyword] = o->val;
  for (PQconninfoOption* o = defaults.get(); o && o->keyword; ++o)
    if (o->val && *o->val && !t.params.contains(o->keyword) && o->envvar)
      if (const char* env = std::getenv(o->envvar); env && *env) t.params[o->keyword] = o->val;
  if (auto it = t.params.find("password"); it != t.params.end()) {
    t.password = it->second;
    t.params.erase(it);
  }
  t.dbname = t.params.contains("dbname") ? t.params["dbname"]
             : t.params.contains("user") ? t.params["user"]
                                         : "";
  if (t.dbname.empty())
    if (const char* u = std::getenv("USER")) t.dbname = u;
  return t;
}

std::string Conninfo(const std::map<std::string, std::string>& params) {
  std::string out;
  for (const auto& [k, v] : params) out += (out.empty() ? "" : " ") + k + "=" + Quote(v);
  return out;
}

// Every address the target may mean, before connecting: each host of a list (or the hostaddr).
std::vector<PgAddress> TargetAddresses(const Target& t) {
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      out.push_back(
          s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) return out;
      start = comma + 1;
    }
  };
  auto get = [&](const char* k) {
    auto it = t.params.find(k);
    return it == t.params.end() ? std::string() : it->second;
  };
  const std::vector<std::string> ports = split(get("port").empty() ? "5432" : get("port"));
  std::vector<PgAddress> out;
  // libpq dials hostaddr where it is given and names host; either may be protected.
  for (const char* key : {"host", "hostaddr"}) {
    if (get(key).empty() && (std::string_view(key) == "hostaddr" || !get("hostaddr").empty()))
      continue;
    const std::vector<std::string> hosts = split(get(key));
    for (size_t i = 0; i < hosts.size(); ++i) {
      const std::string p = ports.size() == 1 ? ports[0] : i < ports.size() ? ports[i] : "";
      out.push_back({hosts[i].empty() ? "/var/run/postgresql" : hosts[i],  // libpq's default
                     p.empty() ? 5432 : std::atoi(p.c_str())});
    }
  }
  return out;
}

std::string Redacted(const PgAddress& a, const std::string& dbname) {
  const bool v6 = a.host.find(':') != std::string::npos && a.host.front() != '/';
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port) + "/" + dbname;
}

// ---------------------------------------------------------------------------------------------
// Child processes

struct Child {
  pid_t pid = -1;
  int in = -1;   // its stdin (write end), when piped
  int out = -1;  // its stdout (read end), when piped
  int err = -1;  // its stderr (read end)
};

// Runs argv[0] (found on PATH) with the environment changed by `env` (empty value: removed).
Result<Child> Spawn(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env, bool pipe_in, bool pipe_out) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto fail = [&](const std::string& what) {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) ::close(fd);
    return Error{what + ": " + std::strerror(errno)};
  };
  if ((pipe_in && ::pipe2(in, O_CLOEXEC) != 0) || (pipe_out && ::pipe2(out, O_CLOEXEC) != 0) ||
      ::pipe2(err, O_CLOEXEC) != 0)
    return fail("pipe");
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    std::string key(kv.substr(0, kv.find('=')));
    if (!env.contains(key)) envs.emplace_back(kv);
  }
  for (const auto& [k, v] : env)
    if (!v.empty()) envs.push_back(k + "=" + v);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return fail("fork");
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(pipe_in ? in[0] : null, 0);
    ::dup2(pipe_out ? out[1] : null, 1);
    ::dup2(err[1], 2);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::execvpe(args[0], args.data(), envp.data());
    std::fprintf(stderr, "%s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  Child c;
  c.pid = pid;
  if (pipe_in) {
    ::close(in[0]);
    c.in = in[1];
    ::fcntl(c.in, F_SETFL, O_NONBLOCK);
  }
  if (pipe_out) {
    ::close(out[1]);
    c.out = out[0];
  }
  ::close(err[1]);
  c.err = err[0];
  return c;
}

int Wait(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// The last bytes a child wrote on stderr.
struct Tail {
  std::string text;
  void Add(const char* p, size_t n) {
    text.append(p, n);
    if (text.size() > 16384) text.erase(0, text.size() - 8192);
  }
  std::string Lines(size_t n) const {
    size_t pos = text.size();
    while (pos > 0 && text[pos - 1] == '\n') --pos;
    size_t start = pos;
    for (size_t i = 0; i < n && start > 0; ++i) {
      start = text.rfind('\n', start - 1);
      if (start == std::string::npos) {
        start = 0;
        break;
      }
    }
    while (start < pos && text[start] == '\n') ++start;
    return text.substr(start, pos - start);
  }
};

volatile sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

// ---------------------------------------------------------------------------------------------
// Progress

std::string Grouped(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

std::string Duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else
    std::snprintf(buf, sizeof(buf), "%ldm%02lds", s / 60, s % 60);
  return buf;
}

class Progress {
 public:
  Progress(uint64_t estimate, bool tty) : estimate_(estimate), tty_(tty), start_(Clock::now()) {
    next_ = start_ + (tty_ ? kTtyEvery : kLogEvery);
  }
  void Maybe(const DumpStreamCounter& c) {
    const auto now = Clock::now();
    if (now < next_) return;
    next_ = now + (tty_ ? kTtyEvery : kLogEvery);
    Print(c, now);
  }
  void Done(const DumpStreamCounter& c) {
    if (tty_ && printed_) {
      Print(c, Clock::now());
      std::fputc('\n', stderr);
    }
  }

 private:
  static constexpr auto kTtyEvery = std::chrono::milliseconds(200);
  static constexpr auto kLogEvery = std::chrono::seconds(5);

  void Print(const DumpStreamCounter& c, Clock::time_point now) {
    const double secs = std::chrono::duration<double>(now - start_).count();
    const uint64_t rows = c.rows();
    const double rate = secs > 0 ? rows / secs : 0;
    std::string line = "veilctl clone: " + Grouped(rows) + " rows";
    if (estimate_ > 0) {
      const uint64_t total = std::max(estimate_, rows);
      line += " of ~" + Grouped(total) + " (" + std::to_string(rows * 100 / total) + "%)";
    }
    line += ", " + Grouped(static_cast<uint64_t>(rate)) + " rows/s";
    if (estimate_ > rows && rate > 0) line += ", ETA " + Duration((estimate_ - rows) / rate);
    if (const auto* t = c.current()) line += ", " + t->name;
    if (tty_) {
      // One line, redrawn: pad over what a longer line left.
      std::fprintf(stderr, "\r%-*s", static_cast<int>(std::max(width_, line.size())), line.c_str());
      width_ = line.size();
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
    printed_ = true;
  }

  uint64_t estimate_;
  bool tty_;
  Clock::time_point start_, next_;
  size_t width_ = 0;
  bool printed_ = false;
};

// ---------------------------------------------------------------------------------------------
// The source, through veild

struct Source {
  std::map<std::string, std::string> params;  // host, port, dbname, application_name, user
  std::string endpoint;
};

// Rows the dump will hold, estimated from the catalog (through veild: catalog queries pass):
// reltuples where the table was analyzed, count(*) where it never was and is small.
Result<uint64_t> EstimateRows(const Source& src) {
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : src.params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back("connect_timeout");
  values.push_back("10");
  keys.push_back(nullptr);
  values.push_back(nullptr);
  Conn conn(PQconnectdbParams(keys.data(), values.data(), 0));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn.get());
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Error{why};
  }
  Res r(PQexec(conn.get(),
               "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
               "c.reltuples::bigint, pg_catalog.pg_relation_size(c.oid) "
               "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
               "ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
               "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
               "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return uint64_t{0};
  uint64_t total = 0;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    const long long tuples = std::atoll(PQgetvalue(r.get(), i, 1));
    const long long bytes = std::atoll(PQgetvalue(r.get(), i, 2));
    if (tuples >= 0) {
      total += static_cast<uint64_t>(tuples);
    } else if (bytes > 0 && bytes <= (256LL << 20)) {
      std::string sql = std::string("SELECT count(*) FROM ") + PQgetvalue(r.get(), i, 0);
      Res n(PQexec(conn.get(), sql.c_str()));
      if (PQresultStatus(n.get()) == PGRES_TUPLES_OK && PQntuples(n.get()) == 1)
        total += std::strtoull(PQgetvalue(n.get(), 0, 0), nullptr, 10);
    } else if (bytes > 0) {
      total += static_cast<uint64_t>(bytes / 128);  // a guess: rows of ~128 bytes
    }
  }
  return total;
}

std::string RunId() {
  uint8_t b[16] = {};
  if (::getrandom(b, sizeof(b), 0) != sizeof(b)) {
    auto now = Clock::now().time_since_epoch().count();
    std::memcpy(b, &now, std::min(sizeof(now), sizeof(b)));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (uint8_t c : b) {
    id.push_back(kHex[c >> 4]);
    id.push_back(kHex[c & 15]);
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// The copy: pg_dump | veilctl | psql

struct Copy {
  bool ok = false;
  std::string failure;  // veilctl's own words, for the event
  std::string detail;   // the tool's stderr tail, for the operator only
  DumpStreamCounter counter;
  int64_t duration_ms = 0;
};

void Kill(pid_t pid) {
  if (pid > 0) ::kill(pid, SIGTERM);
}

Copy RunCopy(const CloneOptions& o, const Source& src, const Target& target, uint64_t estimate) {
  Copy result;
  const auto start = Clock::now();
  std::map<std::string, std::string> dump_env = {
      {"PGHOSTADDR", ""}, {"PGSERVICE", ""}, {"PGSERVICEFILE", ""}, {"PGHOST", ""},
      {"PGPORT", ""},     {"PGAPPNAME", ""}, {"PGDATABASE", ""}};
  auto dump = Spawn({o.pg_dump, "--format=plain", "--no-owner", "--no-privileges",
                     "--dbname=" + Conninfo(src.params)},
                    dump_env, /*pipe_in=*/false, /*pipe_out=*/true);
  if (!dump.ok()) {
    result.failure = "pg_dump could not start";
    result.detail = dump.error().message;
    return result;
  }
  std::map<std::string, std::string> restore_env = {{"PGAPPNAME", "veilctl clone"}};
  if (!target.password.empty()) restore_env["PGPASSWORD"] = target.password;
  auto restore = Spawn({o.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                        "--dbname=" + Conninfo(target.params)},
                       restore_env, /*pipe_in=*/true, /*pipe_out=*/false);
  if (!restore.ok()) {
    Kill(dump->pid);
    Wait(dump->pid);
    result.failure = "psql could not start";
    result.detail = restore.error().message;
    return result;
  }
  Progress progress(estimate, ::isatty(2) == 1);
  Tail dump_err, restore_err;
  std::vector<char> buf(1 << 20);
  size_t head = 0, tail = 0;
  bool dump_eof = false, restore_gone = false;
  char errbuf[4096];
  // One read of a child's stderr into its tail; closed at EOF.
  auto drain = [&errbuf](int* fd, Tail* tail) {
    ssize_t r = ::read(*fd, errbuf, sizeof(errbuf));
    if (r > 0) tail->Add(errbuf, size_t(r));
    if (r == 0) {
      ::close(*fd);
      *fd = -1;
    }
  };
  while (!(dump_eof && head == tail) && !restore_gone && !g_interrupted) {
    pollfd fds[4] = {};
    int n = 0;
    const int i_out = head == tail && !dump_eof ? n++ : -1;
    if (i_out >= 0) fds[i_out] = {dump->out, POLLIN, 0};
    const int i_in = head < tail ? n++ : -1;
    if (i_in >= 0) fds[i_in] = {restore->in, POLLOUT, 0};
    const int i_derr = dump->err >= 0 ? n++ : -1;
    if (i_derr >= 0) fds[i_derr] = {dump->err, POLLIN, 0};
    const int i_rerr = restore->err >= 0 ? n++ : -1;
    if (i_rerr >= 0) fds[i_rerr] = {restore->err, POLLIN, 0};
    if (::poll(fds, n, 200) < 0 && errno != EINTR) break;
    if (i_derr >= 0 && fds[i_derr].revents) drain(&dump->err, &dump_err);
    if (i_rerr >= 0 && fds[i_rerr].revents) drain(&restore->err, &restore_err);
    if (i_out >= 0 && fds[i_out].revents) {
      ssize_t r = ::read(dump->out, buf.data(), buf.size());
      if (r > 0) {
        result.counter.Feed({buf.data(), size_t(r)});
        head = 0;
        tail = size_t(r);
      } else if (r == 0 || errno != EINTR) {
        dump_eof = true;
      }
    }
    if (i_in >= 0 && fds[i_in].revents) {
      ssize_t w = ::write(restore->in, buf.data() + head, tail - head);
      if (w > 0) head += size_t(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) restore_gone = true;  // EPIPE: psql died
    }
    progress.Maybe(result.counter);
  }
  result.counter.Finish();
  progress.Done(result.counter);
  // pg_dump's status first: a dump cut short must not be committed, so psql is then killed
  // (its transaction rolls back) instead of being given EOF.
  if (!dump_eof || restore_gone || g_interrupted) Kill(dump->pid);
  ::close(dump->out);
  const int dump_status = Wait(dump->pid);
  const bool dump_ok = dump_eof && dump_status == 0 && !g_interrupted;
  if (!dump_ok) Kill(restore->pid);
  ::close(restore->in);
  // Drain what is left on the stderr pipes (both processes are ending).
  for (int* fd : {&dump->err, &restore->err}) {
    if (*fd < 0) continue;
    ::fcntl(*fd, F_SETFL, 0);
    ssize_t r;
    while ((r = ::read(*fd, errbuf, sizeof(errbuf))) > 0)
      (fd == &dump->err ? dump_err : restore_err).Add(errbuf, size_t(r));
    ::close(*fd);
  }
  const int restore_status = Wait(restore->pid);
  result.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  if (g_interrupted) {
    result.failure = "interrupted";
  } else if (!dump_ok && dump_status != 0 && !restore_gone) {
    result.failure = "pg_dump failed (exit " + std::to_string(dump_status) + ")";
    result.detail = dump_err.Lines(12);
  } else if (restore_gone || restore_status != 0) {
    result.failure = "restore failed (psql exit " + std::to_string(restore_status) + ")";
    result.detail = restore_err.Lines(12);
  } else if (!dump_ok) {
    result.failure = "pg_dump failed (exit " + std::to_string(dump_status) + ")";
    result.detail = dump_err.Lines(12);
  } else if (result.counter.current() != nullptr) {
    result.failure = "the dump ended inside a COPY block";
  } else {
    result.ok = true;
  }
  return result;
}

}  // namespace

int RunClone(const CloneOptions& o) {
  auto fail = [](int rc, const std::string& why) {
    std::fprintf(stderr, "veilctl clone: %s\n", why.c_str());
    return rc;
  };
  auto loaded = LoadConfig(o.config_file);
  if (!loaded.ok()) return fail(1, loaded.error().message);
  const config::v1::Config& cfg = loaded->config;
  auto ep = FindEndpoint(*loaded, o.endpoint);
  if (!ep.ok()) return fail(1, ep.error().message);
  if (ep->protocol() != config::v1::Endpoint::PROTOCOL_POSTGRES)
    return fail(1, "endpoint " + o.endpoint + " is not a postgres endpoint");
  const int listen_port = ListenPort(*ep);
  if (listen_port <= 0) return fail(1, "endpoint " + o.endpoint + " has no listen address");
  const std::string socket = o.socket.empty() ? cfg.agent().control_socket() : o.socket;
  const std::string folder = SocketFolder(socket);

  auto target = ParseTarget(o.target);
  if (!target.ok()) return fail(2, target.error().message);
  const std::string database = o.database.empty() ? target->dbname : o.database;
  if (database.empty()) return fail(2, "give --database: the target names no database");

  // 1. The target: never a protected address, before anything is read.
  for (const PgAddress& a : TargetAddresses(*target))
    if (std::string why = ProtectedBy(a, cfg, folder); !why.empty())
      return fail(1, "refused: TARGET " + a.host + ":" + std::to_string(a.port) + " " + why +
                         "; a copy is written only outside veil's protected databases");

  // veild must be there and know the endpoint (exit 3 when it is not reachable).
  cv1::Request status;
  status.mutable_status();
  auto st = Call(socket, status);
  if (!st.ok()) return fail(3, st.error().message);
  const auto& names = st->status().endpoints();
  if (std::find(names.begin(), names.end(), o.endpoint) == names.end())
    return fail(1, "veild has no endpoint " + o.endpoint);

  // The target exists, is reachable, is (again) not protected, and holds no table yet.
  std::map<std::string, std::string> with_password = target->params;
  if (!target->password.empty()) with_password["password"] = target->password;
  with_password["connect_timeout"] = "10";
  Conn tconn(PQconnectdb(Conninfo(with_password).c_str()));
  if (PQstatus(tconn.get()) != CONNECTION_OK)
    return fail(1, std::string("TARGET: ") + PQerrorMessage(tconn.get()));
  PgAddress actual{PQhostaddr(tconn.get()) && *PQhostaddr(tconn.get()) ? PQhostaddr(tconn.get())
                                                                       : PQhost(tconn.get()),
                   std::atoi(PQport(tconn.get()))};
  if (std::string why = ProtectedBy(actual, cfg, folder); !why.empty())
    return fail(1, "refused: TARGET " + actual.host + ":" + std::to_string(actual.port) + " " +
                       why + "; a copy is written only outside veil's protected databases");
  const std::string target_db = PQdb(tconn.get());
  const std::string redacted = Redacted({PQhost(tconn.get()), actual.port}, target_db);
  {
    Res r(PQexec(tconn.get(),
                 "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                 "ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', "
                 "'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
                 "AND n.nspname NOT LIKE 'pg_temp%'"));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
      return fail(1, std::string("TARGET: ") + PQerrorMessage(tconn.get()));
    if (std::string n = PQgetvalue(r.get(), 0, 0); n != "0")
      return fail(1, "refused: TARGET database " + target_db + " already holds " + n +
                         " relations; clone into an empty database (createdb)");
  }
  tconn.reset();

  // 2. The source, through veild's socket for the endpoint, tagged with the run.
  const std::string run = RunId();
  Source src;
  src.endpoint = o.endpoint;
  src.params = {{"host", folder},
                {"port", std::to_string(listen_port)},
                {"dbname", database},
                {"application_name", "veil-clone:" + run}};
  if (!o.user.empty()) src.params["user"] = o.user;

  auto finish = [&](const Copy& c, cv1::Response* out) -> Result<bool> {
    cv1::Request req;
    auto* f = req.mutable_finish_clone();
    f->set_run_id(run);
    f->set_endpoint(o.endpoint);
    f->set_database(database);
    f->set_target(redacted);
    std::map<std::string, uint64_t> rows;
    for (const auto& t : c.counter.tables()) rows[t.name] += t.rows;
    for (const auto& [table, n] : CappedCounts(rows, kMaxCounts, "(other tables)"))
      (*f->mutable_rows_by_table())[table] = n;
    f->set_duration_ms(static_cast<uint64_t>(c.duration_ms));
    f->set_ok(c.ok);
    f->set_failure(c.failure);
    auto resp = Call(socket, req);
    if (!resp.ok()) return resp.error();
    *out = *resp;
    return resp->ok();
  };

  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto estimate = EstimateRows(src);
  if (!estimate.ok()) {
    Copy refused;
    refused.failure = "source connection through veild failed";
    cv1::Response ignored;
    (void)finish(refused, &ignored);
    return fail(1, "connecting to " + o.endpoint + " through veild (" + folder + ", port " +
                       std::to_string(listen_port) + "): " + estimate.error().message);
  }
  std::fprintf(stderr, "veilctl clone: %s/%s through veild -> %s (run %s, ~%s rows)\n",
               o.endpoint.c_str(), database.c_str(), redacted.c_str(), run.c_str(),
               Grouped(*estimate).c_str());

  // 3. The copy.
  Copy copy = RunCopy(o, src, *target, *estimate);
  cv1::Response resp;
  auto finished = finish(copy, &resp);
  if (!copy.ok) {
    std::fprintf(stderr, "veilctl clone: %s; the target is left as it was%s\n",
                 copy.failure.c_str(), copy.detail.empty() ? "" : ":");
    if (!copy.detail.empty()) std::fprintf(stderr, "%s\n", copy.detail.c_str());
    if (!finished.ok())
      std::fprintf(stderr, "veilctl clone: the run was not recorded: %s\n",
                   finished.error().message.c_str());
    return 1;
  }

  // 4. The summary.
  uint64_t rows = copy.counter.rows();
  const double secs = std::max<double>(copy.duration_ms, 1) / 1000.0;
  const cv1::CloneSummary& sum = resp.clone();
  if (o.json) {
    nlohmann::json tables = nlohmann::json::object(), masked = nlohmann::json::object(),
                   entities = nlohmann::json::object();
    for (const auto& t : copy.counter.tables()) tables[t.name] = t.rows;
    for (const auto& [c, n] : sum.masked_by_column()) masked[c] = n;
    for (const auto& [e, n] : sum.masked_by_entity()) entities[e] = n;
    nlohmann::json out = {{"run", run},
                          {"endpoint", o.endpoint},
                          {"database", database},
                          {"target", redacted},
                          {"rows", rows},
                          {"duration_ms", copy.duration_ms},
                          {"rows_by_table", tables},
                          {"masked_by_column", masked},
                          {"masked_by_entity", entities},
                          {"recorded", finished.ok() && *finished},
                          {"complete", sum.complete()}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("cloned %s/%s -> %s: %s rows in %.1f s (%s rows/s)\n", o.endpoint.c_str(),
                database.c_str(), redacted.c_str(), Grouped(rows).c_str(), secs,
                Grouped(static_cast<uint64_t>(rows / secs)).c_str());
    size_t w = 5;
    for (const auto& t : copy.counter.tables()) w = std::max(w, t.name.size());
    for (const auto& [c, n] : sum.masked_by_column()) w = std::max(w, c.size());
    auto row = [w](const std::string& name, const std::string& value) {
      std::printf("%-*s %12s\n", int(w), name.c_str(), value.c_str());
    };
    std::printf("\n");
    row("TABLE", "ROWS");
    for (const auto& t : copy.counter.tables()) row(t.name, Grouped(t.rows));
    // The copied tables' columns first; then what pg_dump's own catalog queries had masked.
    std::set<std::string> copied;
    for (const auto& t : copy.counter.tables()) {
      std::string plain;  // public."Order Lines" as veild labels it: public.Order Lines
      for (size_t i = 0; i < t.name.size(); ++i) {
        if (t.name[i] != '"')
          plain.push_back(t.name[i]);
        else if (i + 1 < t.name.size() && t.name[i + 1] == '"')
          plain.push_back(t.name[++i]);
      }
      copied.insert(plain);
    }
    auto of_copied = [&](const std::string& label) {
      const size_t dot = label.rfind('.');
      return dot != std::string::npos && copied.contains(label.substr(0, dot));
    };
    std::map<std::string, uint64_t> data, catalog;
    for (const auto& [c, n] : sum.masked_by_column()) (of_copied(c) ? data : catalog)[c] = n;
    std::printf("\n");
    row("MASKED COLUMN", "VALUES");
    for (const auto& [c, n] : data) row(c, Grouped(n));
    if (data.empty()) std::printf("(none)\n");
    if (!catalog.empty()) std::printf("\nmasked in pg_dump's catalog queries:\n");
    for (const auto& [c, n] : catalog) row(c, Grouped(n));
  }
  if (!finished.ok()) {
    std::fprintf(stderr,
                 "veilctl clone: copied, but veild could not be asked for the masked counts "
                 "or record the run: %s\n",
                 finished.error().message.c_str());
    return 3;
  }
  if (!*finished) {
    std::fprintf(stderr, "veilctl clone: copied, but veild refused to record the run: %s\n",
                 resp.error().c_str());
    return 1;
  }
  if (!sum.complete())
    std::fprintf(stderr,
                 "veilctl clone: warning: a session of the run was still open when veild "
                 "answered; masked counts may be short\n");
  return 0;
}

}  // namespace veil::veilctl
