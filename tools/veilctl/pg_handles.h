// libpq handles owned by RAII, for veilctl's commands that read through veild.
#pragma once

#include <libpq-fe.h>

#include <memory>

namespace veil::veilctl {

struct PgCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConn = std::unique_ptr<PGconn, PgCloser>;
using PgRes = std::unique_ptr<PGresult, PgResultCloser>;

}  // namespace veil::veilctl
