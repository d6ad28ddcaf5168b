#include "masker/command_line.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <span>

#include "common/text.h"
#include "masker/validators.h"

namespace veil::masker::cli {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Where a command ends: a pipe, `;`, `&&` or a lone `&`, a subshell's `)`, a backquote, the
// line's end. (`&` inside a word is a password's: `Tr0ub4dor&3`.)
bool Ends(std::string_view line, uint32_t p) {
  const char c = line[p];
  if (c == '|' || c == ';' || c == '\n' || c == '\r' || c == ')' || c == '`') return true;
  if (c != '&') return false;
  const char next = p + 1 < line.size() ? line[p + 1] : ' ';
  return next == '&' || IsSpace(next);
}

constexpr size_t kMaxArgs = 64;

// One command split as a shell splits it: arguments end at unquoted blanks; quotes and
// backslashes do not end them.
struct Command {
  std::array<Span, kMaxArgs> args;
  size_t n = 0;
  uint32_t end = 0;  // where it ended: a separator's offset, or the line's size
  std::string_view line;

  std::string_view Raw(size_t i) const { return line.substr(args[i].begin, Len(i)); }
  uint32_t Len(size_t i) const { return args[i].end - args[i].begin; }
  // The program's name: no path, no `.exe`.
  std::string_view Program(size_t i) const {
    std::string_view s = Raw(i);
    while (!s.empty() && s.front() == '(') s.remove_prefix(1);  // (ConvertTo-SecureString 'pw' …)
    if (const size_t slash = s.find_last_of("/\\"); slash != std::string_view::npos)
      s.remove_prefix(slash + 1);
    if (EndsWithLower(s, ".exe")) s.remove_suffix(4);
    return s;
  }
};

void Split(std::string_view line, uint32_t p, Command* c) {
  c->line = line;
  c->n = 0;
  const auto n = static_cast<uint32_t>(line.size());
  // A backslash before a line break continues the command on the next line: a blank.
  auto blank = [&](uint32_t i) {
    return IsSpace(line[i]) ||
           (line[i] == '\\' && i + 1 < n && (line[i + 1] == '\n' || line[i + 1] == '\r'));
  };
  auto skip_blanks = [&] {
    while (p < n && blank(p)) p += line[p] == '\\' ? (line[p + 1] == '\r' ? 3 : 2) : 1;
  };
  while (p < n) {
    skip_blanks();
    if (p >= n || Ends(line, p)) break;
    if (line[p] == '#') {  // a comment runs to the line's end
      p = n;
      break;
    }
    const uint32_t b = p;
    char quote = 0;
    while (p < n) {
      const char ch = line[p];
      if (quote) {
        if (ch == quote) quote = 0;
        if (ch == '\\' && quote == '"') ++p;
        ++p;
        continue;
      }
      if (blank(p) || Ends(line, p)) break;
      if (ch == '\'' || ch == '"') {
        quote = ch;
      } else if (ch == '\\') {
        ++p;
      }
      ++p;
    }
    p = std::min(p, n);
    if (c->n < kMaxArgs) c->args[c->n++] = {b, p};
  }
  c->end = std::min(p, n);
}

// A value with its quotes off (`'N0tS0Secret'`, `"a b"`).
Span Unquote(std::string_view line, Span s) {
  if (s.end - s.begin >= 2) {
    const char q = line[s.begin];
    if ((q == '\'' || q == '"') && line[s.end - 1] == q) return {s.begin + 1, s.end - 1};
  }
  return s;
}

enum class Kind : uint8_t {
  kWhole,
  kAfterColon,    // user:password (curl, podman --creds, chpasswd)
  kAfterPercent,  // user%password (Samba)
  kAfterComma,    // user,password (lftp)
  kOpenssl,       // pass:password (env:, file:, fd: and stdin name where it is, not what)
};

// How a flag takes its value.
constexpr uint8_t kGlued = 1;       // -pVALUE, /p:VALUE
constexpr uint8_t kNext = 2;        // -p VALUE
constexpr uint8_t kEq = 4;          // --password=VALUE
constexpr uint8_t kAfterLogin = 8;  // only after a `login` subcommand (`docker run -p` is a port)
constexpr uint8_t kCaseless = 16;   // Windows' /P, /password:

struct Flag {
  std::string_view name;
  uint8_t forms;
  Kind kind = Kind::kWhole;
};

// The `index`-th positional argument after the subcommand `after` (`vault login TOKEN`), or
// after the tool's name when `after` is empty.
struct Positional {
  std::string_view after;
  uint8_t index;
};

enum class Special : uint8_t {
  kNone,
  kBooleanPassword,  // `--password` asks for one (psql, mysql): the next argument is not it
  kEcho,             // echo/printf piped into a command that reads a password on stdin
  kStdin,            // a here-string into sudo -S, chpasswd, passwd
  kHtpasswd,         // -b: the password is the last positional
  kSqlplus,          // user/password@db
};

struct Tool {
  std::string_view names;  // space-separated, lower case
  std::span<const Flag> flags;
  std::span<const Positional> positional = {};
  Special special = Special::kNone;
  bool combines = false;  // getopt's short flags run together: `curl -sSu admin:pw`
};

constexpr Flag kMysql[] = {{"-p", kGlued}, {"--password", kEq}};
constexpr Flag kSshpass[] = {{"-p", kGlued | kNext}};
constexpr Flag kRedis[] = {{"-a", kGlued | kNext}, {"--pass", kNext | kEq}};
constexpr Flag kLogin[] = {{"-p", kGlued | kNext | kAfterLogin},
                           {"--password", kNext | kEq | kAfterLogin},
                           {"--creds", kNext | kEq, Kind::kAfterColon},
                           {"--src-creds", kNext | kEq, Kind::kAfterColon},
                           {"--dest-creds", kNext | kEq, Kind::kAfterColon}};
constexpr Flag kCurl[] = {{"-u", kGlued | kNext, Kind::kAfterColon},
                          {"--user", kNext | kEq, Kind::kAfterColon},
                          {"-U", kGlued | kNext, Kind::kAfterColon},
                          {"--proxy-user", kNext | kEq, Kind::kAfterColon},
                          {"--oauth2-bearer", kNext | kEq}};
constexpr Flag kOpenssl[] = {{"-k", kNext},
                             {"-psk", kNext},  // a pre-shared key, in hex
                             {"-K", kNext},
                             {"-pass", kNext, Kind::kOpenssl},
                             {"-passin", kNext, Kind::kOpenssl},
                             {"-passout", kNext, Kind::kOpenssl},
                             {"-password", kNext, Kind::kOpenssl}};
constexpr Flag kMongo[] = {{"-p", kGlued | kNext}, {"--password", kNext | kEq}};
constexpr Flag kSqlcmd[] = {{"-P", kGlued | kNext}};
constexpr Flag kLdap[] = {{"-w", kGlued | kNext}};
constexpr Flag kLdappasswd[] = {
    {"-w", kGlued | kNext}, {"-s", kGlued | kNext}, {"-a", kGlued | kNext}};
constexpr Flag kSamba[] = {{"-U", kGlued | kNext, Kind::kAfterPercent},
                           {"--user", kNext | kEq, Kind::kAfterPercent}};
constexpr Flag kSmbmap[] = {{"-p", kNext}};
constexpr Flag kZip[] = {{"-P", kNext}};
constexpr Flag kSevenZip[] = {{"-p", kGlued}};
constexpr Flag kKeytool[] = {{"-new", kNext}};
constexpr Flag kCqlsh[] = {{"-p", kGlued | kNext}};
constexpr Flag kFreerdp[] = {{"/p:", kGlued | kCaseless}, {"/password:", kGlued | kCaseless}};
constexpr Flag kRdesktop[] = {{"-p", kGlued | kNext}};
constexpr Flag kPutty[] = {{"-pw", kNext}};
constexpr Flag kLftp[] = {{"-u", kNext, Kind::kAfterComma}};
constexpr Flag kSshKeygen[] = {{"-N", kNext}, {"-P", kNext}};
constexpr Flag kUseradd[] = {{"-p", kNext}, {"--password", kNext | kEq}};
constexpr Flag kIpmitool[] = {{"-P", kGlued | kNext}};
constexpr Flag kSnmp[] = {{"-c", kGlued | kNext}, {"-A", kGlued | kNext}, {"-X", kGlued | kNext}};
constexpr Flag kPsexec[] = {{"-p", kNext}};
constexpr Flag kWmic[] = {{"/password:", kGlued | kCaseless}};
constexpr Flag kSchtasks[] = {{"/rp", kNext | kCaseless}, {"/p", kNext | kCaseless}};
constexpr Flag kCmdkey[] = {{"/pass:", kGlued | kCaseless}};
constexpr Flag kMosquitto[] = {{"-P", kGlued | kNext}};

constexpr Positional kVault[] = {{"login", 0}};
constexpr Positional kMysqladmin[] = {{"password", 0}};  // mysqladmin … password NEW
constexpr Positional kSecureString[] = {{"", 0}};        // ConvertTo-SecureString 'pw' -AsPlainText
constexpr Flag kSecureStringFlags[] = {{"-String", kNext | kCaseless}};
constexpr Flag kRar[] = {{"-p", kGlued}};
constexpr Positional kRabbit[] = {{"add_user", 1}, {"change_password", 1}};
constexpr Positional kMinio[] = {{"set", 2}, {"set", 3}, {"add", 2}, {"add", 3}};

constexpr Tool kTools[] = {
    {"mysql mysqldump mysqladmin mysqlimport mysqlcheck mysqlshow mysqlpump mysqlslap "
     "mysqlbinlog mysqlsh mysql_upgrade mariadb mariadb-dump mariadb-admin mariadb-import "
     "mariadb-check mariadb-show mariadb-slap mariadb-binlog mariadb-upgrade",
     kMysql, kMysqladmin, Special::kBooleanPassword},
    {"psql pg_dump pg_dumpall pg_restore pg_basebackup createdb dropdb createuser dropuser "
     "vacuumdb reindexdb clusterdb pgbench pg_receivewal pg_recvlogical pg_isready",
     {},
     {},
     Special::kBooleanPassword},
    {"sshpass", kSshpass, {}, Special::kNone, true},
    {"redis-cli keydb-cli valkey-cli", kRedis},
    {"docker podman nerdctl buildah skopeo helm oras crane regctl az cf oc", kLogin},
    {"curl", kCurl, {}, Special::kNone, true},
    {"openssl", kOpenssl},
    {"htpasswd", {}, {}, Special::kHtpasswd},
    {"mongo mongosh mongodump mongorestore mongoexport mongoimport mongostat mongotop mongofiles",
     kMongo},
    {"sqlcmd bcp osql", kSqlcmd},
    {"ldapsearch ldapmodify ldapadd ldapdelete ldapwhoami ldapcompare ldapmodrdn ldapexop "
     "ldapvc",
     kLdap,
     {},
     Special::kNone,
     true},
    {"ldappasswd", kLdappasswd},
    {"smbclient rpcclient smbget smbcacls smbcquotas smbtree winexe", kSamba},
    {"net", kSamba},  // Samba's `net ads join -U admin%pw`
    {"smbmap", kSmbmap},
    {"zip unzip zipcloak", kZip, {}, Special::kNone, true},
    {"7z 7za 7zr 7zz", kSevenZip},
    {"keytool", kKeytool},
    {"sqlplus rman expdp impdp exp imp sqlldr dgmgrl", {}, {}, Special::kSqlplus},
    {"cqlsh", kCqlsh},
    {"xfreerdp xfreerdp3 wlfreerdp sdl-freerdp sdl-freerdp3 freerdp", kFreerdp},
    {"rdesktop", kRdesktop},
    {"plink pscp psftp putty kitty", kPutty},
    {"lftp", kLftp},
    {"echo printf", {}, {}, Special::kEcho},
    {"sudo chpasswd chgpasswd passwd", {}, {}, Special::kStdin},
    {"vault bao", {}, kVault},
    {"ssh-keygen", kSshKeygen, {}, Special::kNone, true},
    {"useradd usermod", kUseradd},
    {"ipmitool", kIpmitool},
    {"snmpwalk snmpget snmpset snmpbulkwalk snmpbulkget snmpgetnext snmptrap snmptable snmpdf "
     "snmpstatus snmptest snmpinform",
     kSnmp,
     {},
     Special::kNone,
     true},
    {"psexec psexec64 paexec", kPsexec},
    {"wmic", kWmic},
    {"schtasks", kSchtasks},
    {"cmdkey", kCmdkey},
    {"rabbitmqctl", {}, kRabbit},
    {"mc mcli", {}, kMinio},
    {"mosquitto_pub mosquitto_sub mosquitto_rr", kMosquitto},
    {"unrar rar", kRar},
    {"convertto-securestring", kSecureStringFlags, kSecureString},
};

bool InList(std::string_view list, std::string_view name) {
  for (size_t p = 0; p < list.size();) {
    size_t q = list.find(' ', p);
    if (q == std::string_view::npos) q = list.size();
    if (EqualsLower(name, list.substr(p, q - p))) return true;
    p = q + 1;
  }
  return false;
}

const Tool* Find(std::string_view program) {
  if (program.empty() || program.size() > 24) return nullptr;
  for (const Tool& t : kTools)
    if (InList(t.names, program)) return &t;
  return nullptr;
}

// Text about an option rather than a command that uses it: "the --password option",
// "--remove-password (-r), …", "-onepass mode." A value of a command line does not end a
// clause or open a parenthesis, and is not one of these words.
bool Prose(std::string_view v) {
  const char first = v.front(), last = v.back();
  if (first == '(' || last == ',' || last == '.' || last == ';' || last == ':' || last == ')')
    return true;
  if (v.size() > 12 || !std::all_of(v.begin(), v.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\'';
      }))
    return false;
  static constexpr std::string_view kWords[] = {
      "option",  "options", "command",     "commands",     "switch",    "switches",
      "flag",    "flags",   "argument",    "arguments",    "parameter", "parameters",
      "mode",    "may",     "can",         "is",           "are",       "was",
      "were",    "be",      "use",         "used",         "uses",      "using",
      "with",    "without", "and",         "or",           "to",        "for",
      "in",      "of",      "on",          "at",           "by",        "from",
      "the",     "a",       "an",          "as",           "now",       "also",
      "instead", "which",   "that",        "when",         "if",        "will",
      "should",  "must",    "description", "respectively", "isn't",     "does",
      "doesn't", "did",     "has",         "had",          "not",       "only",
      "then",    "value",   "values",      "file",         "setting",   "settings"};
  for (std::string_view w : kWords)
    if (EqualsLower(v, w)) return true;
  return false;
}

// A value that names where the secret is, or stands in for it: `$PW`, `%PW%`, `<password>`,
// `*` (prompt), `-` (stdin), a file.
bool Indirect(std::string_view v) {
  if (v.empty() || v == "-" || v == "*") return true;
  const char c = v.front();
  if (c == '$' || c == '<' || c == '@' || c == '/' || c == '~' || c == '{') return true;
  if (c == '%' && v.size() > 2 && v.back() == '%') return true;
  if (v.starts_with("./") || v.starts_with("../")) return true;
  for (std::string_view p : {"env:", "file:", "fd:"})
    if (StartsWithLower(v, p)) return true;
  return EqualsLower(v, "stdin");
}

class Reader {
 public:
  Reader(std::string_view line, std::vector<Span>* out) : line_(line), out_(out) {}

  // Emits the part of `value` (offsets in the line, quotes on) that `kind` says is secret.
  void Value(Span value, Kind kind) {
    Span v = Unquote(line_, value);
    std::string_view s = line_.substr(v.begin, v.end - v.begin);
    char sep = 0;
    switch (kind) {
      case Kind::kWhole:
        break;
      case Kind::kAfterColon:
        sep = ':';
        break;
      case Kind::kAfterPercent:
        sep = '%';
        break;
      case Kind::kAfterComma:
        sep = ',';
        break;
      case Kind::kOpenssl:
        if (!StartsWithLower(s, "pass:")) return;
        v.begin += 5;
        s.remove_prefix(5);
        break;
    }
    if (sep) {
      const size_t at = s.find(sep);
      if (at == std::string_view::npos) return;  // no password given: the tool asks for it
      v.begin += static_cast<uint32_t>(at + 1);
      v = Unquote(line_, v);  // user:'pw'
      s = line_.substr(v.begin, v.end - v.begin);
    }
    if (Indirect(s) || !validate::Password(s)) return;
    out_->push_back(v);
  }

  // The arguments of the tool named by args[k].
  void ToolArgs(const Tool& t, const Command& c, size_t k) {
    bool after_login = false;
    std::array<size_t, kMaxArgs> pos{};  // indices of positional arguments
    size_t npos = 0;
    for (size_t i = k + 1; i < c.n; ++i) {
      const Span arg = Unquote(line_, c.args[i]);  // '-pBa ck' is -p and `Ba ck` to the tool
      const std::string_view a = line_.substr(arg.begin, arg.end - arg.begin);
      if (a.empty()) continue;
      bool matched = false;
      for (const Flag& f : t.flags) {
        if ((f.forms & kAfterLogin) && !after_login) continue;
        const bool caseless = f.forms & kCaseless;
        auto same = [&](std::string_view x) {
          return caseless ? EqualsLower(x, f.name) : x == f.name;
        };
        if (a.size() == f.name.size() && same(a)) {
          if ((f.forms & kNext) && i + 1 < c.n) {
            Value(c.args[++i], f.kind);
            matched = true;
          }
          break;
        }
        if (a.size() <= f.name.size() || !same(a.substr(0, f.name.size()))) continue;
        const uint32_t at = arg.begin + static_cast<uint32_t>(f.name.size());
        if ((f.forms & kEq) && a[f.name.size()] == '=') {
          Value({at + 1, arg.end}, f.kind);
          matched = true;
        } else if (f.forms & kGlued) {
          Value({at, arg.end}, f.kind);
          matched = true;
        }
        if (matched) break;
      }
      // Short flags run together, the last one taking the next argument: `curl -sSu admin:pw`.
      if (!matched && t.combines && a.size() > 2 && a[0] == '-' && a[1] != '-' && i + 1 < c.n &&
          std::all_of(a.begin() + 1, a.end(),
                      [](char ch) { return std::isalpha(static_cast<unsigned char>(ch)) != 0; })) {
        for (const Flag& f : t.flags) {
          if (f.name.size() == 2 && (f.forms & kNext) && !(f.forms & kAfterLogin) &&
              f.name[1] == a.back()) {
            Value(c.args[++i], f.kind);
            matched = true;
            break;
          }
        }
      }
      if (matched) continue;
      const char first = a.front();
      if (first == '-' || first == '<' || first == '>') continue;
      if (first >= '0' && first <= '9' && a.size() > 1 && a[1] == '>') continue;  // 2>/dev/null
      if (EqualsLower(a, "login")) after_login = true;
      pos[npos++] = i;
    }
    for (const Positional& p : t.positional) {
      if (p.after.empty()) {
        if (p.index < npos) Value(c.args[pos[p.index]], Kind::kWhole);
        continue;
      }
      for (size_t j = 0; j < npos; ++j) {
        if (!EqualsLower(c.Raw(pos[j]), p.after)) continue;
        if (j + 1 + p.index < npos) Value(c.args[pos[j + 1 + p.index]], Kind::kWhole);
        break;
      }
    }
    switch (t.special) {
      case Special::kHtpasswd:
        Htpasswd(c, k);
        break;
      case Special::kSqlplus:
        Sqlplus(c, k);
        break;
      case Special::kEcho:
        Echo(c, k);
        break;
      case Special::kStdin:
        HereString(c, k);
        break;
      default:
        break;
    }
  }

  // An option whose name says its value is a credential: `--db-password X`, `--client-secret
  // X`, `-storepass X`, `--api-key X`. `c` is the command it belongs to, `i` its index.
  void Option(const Command& c, size_t i) {
    const std::string_view raw = c.Raw(i);
    // `--db-password=X`: the value is the rest of the argument.
    const size_t eq = raw.find('=');
    const bool glued = eq != std::string_view::npos;
    std::string_view name = raw.substr(0, eq);
    while (!name.empty() && name.front() == '-') name.remove_prefix(1);
    if (name.size() < 3 || (!glued && i + 1 >= c.n)) return;
    bool credential = false;
    for (std::string_view s : {"password", "passwd", "passphrase", "secret", "token", "apikey",
                               "api-key", "api_key", "bearer", "masterauth"})
      credential = credential || EndsWithLower(name, s);
    // `pass` alone or after a separator (`-pass`, `--db-pass`) or a word that makes it a
    // password (`-storepass`, `--requirepass`), not `-onepass` or `--bypass`.
    if (!credential && EndsWithLower(name, "pass")) {
      const std::string_view before = name.substr(0, name.size() - 4);
      credential = before.empty() || before.back() == '-' || before.back() == '_';
      for (std::string_view w : {"store", "key", "require", "db", "root", "admin", "user", "ftp",
                                 "http", "proxy", "smtp", "mail", "sasl", "bind", "auth"})
        credential = credential || EndsWithLower(before, w);
    }
    if (!credential) return;
    // Switches: `--no-password`, `--ask-password`, `--with-token` (read from stdin).
    for (std::string_view s : {"no-", "no_", "ask", "prompt", "skip", "force", "use-", "use_",
                               "with-", "with_", "require-", "show-", "hide-"})
      if (StartsWithLower(name, s)) return;
    // `psql --password db`, `mysql --password db`: a switch that makes the tool ask.
    if (!glued && (EqualsLower(name, "password") || EqualsLower(name, "passwd"))) {
      for (size_t k = 0; k < i; ++k) {
        const Tool* t = Find(c.Program(k));
        if (t && t->special == Special::kBooleanPassword) return;
      }
    }
    if (glued) {
      const Span v{c.args[i].begin + static_cast<uint32_t>(eq + 1), c.args[i].end};
      Value(v, StartsWithLower(Unquoted(v), "pass:") ? Kind::kOpenssl : Kind::kWhole);
      return;
    }
    const std::string_view next = c.Raw(i + 1);
    if (next.empty() || next.front() == '-' || next.find('=') != std::string_view::npos) return;
    if (Prose(next)) return;
    Value(c.args[i + 1],
          StartsWithLower(Unquoted(c.args[i + 1]), "pass:") ? Kind::kOpenssl : Kind::kWhole);
  }

 private:
  std::string_view Unquoted(Span s) const {
    const Span u = Unquote(line_, s);
    return line_.substr(u.begin, u.end - u.begin);
  }

  // htpasswd -b[c…] FILE USER PASSWORD, htpasswd -nb USER PASSWORD.
  void Htpasswd(const Command& c, size_t k) {
    bool batch = false, no_file = false;
    std::array<size_t, 4> pos{};
    size_t npos = 0;
    for (size_t i = k + 1; i < c.n; ++i) {
      const std::string_view a = c.Raw(i);
      if (a.size() > 1 && a[0] == '-' && a[1] != '-') {
        batch = batch || a.find('b') != std::string_view::npos;
        no_file = no_file || a.find('n') != std::string_view::npos;
        if (a.back() == 'C' || a.back() == 'r') ++i;  // cost, rounds: a number follows
      } else if (npos < pos.size()) {
        pos[npos++] = i;
      }
    }
    const size_t want = no_file ? 1 : 2;
    if (batch && want < npos) Value(c.args[pos[want]], Kind::kWhole);
  }

  // sqlplus scott/tiger@orcl, expdp system/manager@db, userid=scott/tiger.
  void Sqlplus(const Command& c, size_t k) {
    for (size_t i = k + 1; i < c.n; ++i) {
      Span s = Unquote(line_, c.args[i]);
      std::string_view a = line_.substr(s.begin, s.end - s.begin);
      if (StartsWithLower(a, "userid=")) {
        s.begin += 7;
        a.remove_prefix(7);
      } else if (a.empty() || a[0] == '-' || a[0] == '@' || a[0] == '/') {
        continue;
      }
      const size_t slash = a.find('/');
      if (slash == 0 || slash == std::string_view::npos || a.find("://") != std::string_view::npos)
        return;
      // An Oracle user name starts with a letter (`exp 08/2034` is a card's expiry).
      const std::string_view user = a.substr(0, slash);
      if (!std::isalpha(static_cast<unsigned char>(user[0])) ||
          !std::all_of(user.begin(), user.end(), [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '$' ||
                   ch == '#' || ch == '"';
          }))
        return;
      const size_t at = a.find('@', slash);
      const uint32_t b = s.begin + static_cast<uint32_t>(slash + 1);
      const uint32_t e = at == std::string_view::npos ? s.end : s.begin + static_cast<uint32_t>(at);
      if (e > b) Value({b, e}, Kind::kWhole);
      return;  // the first such argument is the logon
    }
  }

  // What a command that reads a password on stdin takes: `user:pw` for chpasswd.
  static Kind StdinKind(std::string_view program) {
    return EqualsLower(program, "chpasswd") || EqualsLower(program, "chgpasswd") ? Kind::kAfterColon
                                                                                 : Kind::kWhole;
  }

  // echo PASSWORD | sudo -S …; printf 'user:pw' | chpasswd; echo PW | docker login
  // --password-stdin.
  void Echo(const Command& c, size_t k) {
    if (c.end >= line_.size() || line_[c.end] != '|' ||
        (c.end + 1 < line_.size() && line_[c.end + 1] == '|'))
      return;
    Command next;
    Split(line_, c.end + 1, &next);
    Kind kind = Kind::kWhole;
    bool reads = false;
    for (size_t i = 0; i < next.n && !reads; ++i) {
      const std::string_view a = next.Raw(i), prog = next.Program(i);
      if (StdinKind(prog) == Kind::kAfterColon) {
        reads = true;
        kind = Kind::kAfterColon;
      } else if (EqualsLower(prog, "passwd") || EqualsLower(prog, "smbpasswd") ||
                 EqualsLower(prog, "kinit") || EqualsLower(prog, "cryptsetup") ||
                 a == "--password-stdin" || a == "--stdin" || EqualsLower(a, "stdin") ||
                 (a == "-S" && EqualsLower(next.Program(0), "sudo"))) {
        reads = true;
      }
    }
    if (!reads) return;
    const bool is_printf = EqualsLower(c.Program(k), "printf");
    for (size_t i = k + 1; i < c.n; ++i) {
      const std::string_view a = c.Raw(i);
      if (!is_printf && (a == "-n" || a == "-e" || a == "-E" || a == "-ne" || a == "-en")) continue;
      if (is_printf && Unquoted(c.args[i]).find('%') != std::string_view::npos)
        continue;  // a format
      Value(c.args[i], kind);
    }
  }

  // sudo -S cmd <<< 'pw', chpasswd <<< 'user:pw'.
  void HereString(const Command& c, size_t k) {
    const Kind kind = StdinKind(c.Program(k));
    for (size_t i = k + 1; i < c.n; ++i) {
      const std::string_view a = c.Raw(i);
      if (a == "<<<" && i + 1 < c.n) {
        Value(c.args[i + 1], kind);
      } else if (a.size() > 3 && a.starts_with("<<<")) {
        Value({c.args[i].begin + 3, c.args[i].end}, kind);
      }
    }
  }

  std::string_view line_;
  std::vector<Span>* out_;
};

}  // namespace

void Secrets(std::string_view line, std::vector<Span>* out) {
  const size_t first = out->size();
  Reader r(line, out);
  Command c;
  for (uint32_t p = 0; p < line.size(); p = c.end + 1) {
    Split(line, p, &c);
    // Every tool named in the command (`sudo mysql -p…`, `docker exec db mysql -p…`), and
    // every option that names a credential, whatever the tool.
    for (size_t i = 0; i < c.n; ++i) {
      const std::string_view a = c.Raw(i);
      if (a.size() > 2 && a[0] == '-') {
        r.Option(c, i);
      } else if (const Tool* t = Find(c.Program(i))) {
        r.ToolArgs(*t, c, i);
      }
    }
  }
  // In text order, as the detector's stages hand their candidates on.
  std::sort(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
            [](Span a, Span b) { return a.begin < b.begin; });
}

}  // namespace veil::masker::cli
