// Small RAII helpers over SQLite's C API for veild's durable stores (grants.db, columns.db):
// an owned connection, prepared statements, IMMEDIATE transactions, and errors that name the
// database file ("grants.db: step: database is locked"). No exceptions; Result/Status only.
//
//   VEIL_ASSIGN_OR_RETURN(db, sqlite::Open(path, 0600));
//   VEIL_ASSIGN_OR_RETURN(q, sqlite::Stmt::Prepare(db.get(), "SELECT x FROM t WHERE k = ?"));
//   q.Bind(1, key);
//   while (true) { VEIL_ASSIGN_OR_RETURN(row, q.Step()); if (!row) break; use(q.Text(0)); }
//
// Not thread-safe: a store serializes its calls on one connection with its own mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

#define VEIL_RETURN_IF_ERROR(expr)                        \
  do {                                                    \
    if (::veil::Status veil_s_ = (expr); !veil_s_.ok()) { \
      return veil_s_.error();                             \
    }                                                     \
  } while (0)

#define VEIL_ASSIGN_OR_RETURN(lhs, expr)               \
  auto lhs##_result = (expr);                          \
  if (!lhs##_result.ok()) return lhs##_result.error(); \
  auto lhs = std::move(*lhs##_result)

namespace veil::sqlite {

struct Closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, Closer>;

// "<file name>: <what>: <sqlite's message>".
Error DbError(sqlite3* db, std::string_view what);

// Opens (creating if absent, with `mode` for a new file) a database in WAL mode with
// synchronous=FULL: a returned success is on disk.
Result<Db> Open(const std::string& path, int mode);

Status Exec(sqlite3* db, const char* sql);

// One prepared statement. Binds are 1-based, columns 0-based, as in SQLite.
class Stmt {
 public:
  static Result<Stmt> Prepare(sqlite3* db, std::string_view sql);

  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_.get(), i, v);
    return *this;
  }
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, double v) {
    sqlite3_bind_double(s_.get(), i, v);
    return *this;
  }
  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Ready to run again with new binds.
  void Reset() {
    sqlite3_reset(s_.get());
    sqlite3_clear_bindings(s_.get());
  }

  // True: a row is ready; false: done.
  Result<bool> Step();
  Status Run() {
    auto r = Step();
    if (!r.ok()) return r.error();
    return Status::Ok();
  }
  int ErrorCode() const { return sqlite3_extended_errcode(db_); }

  int64_t Int(int col) { return sqlite3_column_int64(s_.get(), col); }
  double Double(int col) { return sqlite3_column_double(s_.get(), col); }
  bool IsNull(int col) { return sqlite3_column_type(s_.get(), col) == SQLITE_NULL; }
  std::string Text(int col);

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> s_;
};

// BEGIN IMMEDIATE on Begin() (the write lock up front, so a read-then-write never fails
// half-way with SQLITE_BUSY); ROLLBACK on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    if (open_) (void)Exec(db_, "ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status Begin() {
    Status s = Exec(db_, "BEGIN IMMEDIATE");
    open_ = s.ok();
    return s;
  }
  Status Commit() {
    Status s = Exec(db_, "COMMIT");
    if (s.ok()) open_ = false;
    return s;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace veil::sqlite
