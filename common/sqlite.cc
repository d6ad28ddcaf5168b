#include "common/sqlite.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace veil::sqlite {
namespace {

std::string FileName(sqlite3* db) {
  const char* path = db ? sqlite3_db_filename(db, "main") : nullptr;
  if (!path || !*path) return "sqlite";
  std::string_view p(path);
  if (size_t slash = p.rfind('/'); slash != std::string_view::npos) p.remove_prefix(slash + 1);
  return std::string(p);
}

// Creates the file with `mode` if absent, and tightens one that an earlier hand or a wide
// umask left readable by others.
Status CreatePrivateFile(const std::string& path, int mode) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Error{"cannot open " + path + ": " + std::strerror(errno)};
  struct stat st {};
  Status status = Status::Ok();
  if (fstat(fd, &st) == 0 && (st.st_mode & 077 & ~mode) != 0 && fchmod(fd, mode) != 0)
    status = Error{"cannot chmod " + path + ": " + std::strerror(errno)};
  ::close(fd);
  return status;
}

}  // namespace

Error DbError(sqlite3* db, std::string_view what) {
  return Error{FileName(db) + ": " + std::string(what) + ": " + sqlite3_errmsg(db)};
}

Result<Db> Open(const std::string& path, int mode) {
  VEIL_RETURN_IF_ERROR(CreatePrivateFile(path, mode));
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
                           nullptr);
  Db db(raw);
  if (rc != SQLITE_OK)
    return Error{"cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))};
  sqlite3_busy_timeout(db.get(), 5000);  // another process (a backup, sqlite3 CLI) may hold it
  {
    VEIL_ASSIGN_OR_RETURN(wal, Stmt::Prepare(db.get(), "PRAGMA journal_mode = WAL"));
    VEIL_ASSIGN_OR_RETURN(row, wal.Step());
    if (!row || wal.Text(0) != "wal") return Error{path + ": cannot switch to WAL journal mode"};
  }
  VEIL_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA synchronous = FULL"));
  return db;
}

Status Exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    return Error{FileName(db) + ": " + text};
  }
  return Status::Ok();
}

Result<Stmt> Stmt::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK)
    return DbError(db, "prepare");
  return Stmt(db, s);
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(s_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return DbError(db_, "step");
}

std::string Stmt::Text(int col) {
  const unsigned char* t = sqlite3_column_text(s_.get(), col);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<size_t>(sqlite3_column_bytes(s_.get(), col)))
           : std::string();
}

}  // namespace veil::sqlite
