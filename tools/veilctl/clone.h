// `veilctl clone ENDPOINT TARGET [--database NAME] [--user NAME]`: a masked copy of a protected
// PostgreSQL database in a sandbox database, in one command.
//
//   1. TARGET (a libpq connection string or URI) is refused, before anything is read, when its
//      host:port — names resolved, unix socket folders too — is any endpoint's upstream (or an
//      alias of it, or the host itself when the upstream is local) or veild's listen address
//      for one: with the eBPF redirect a connection to production lands in veild, and writing a
//      copy back there is what this prevents. The check runs again on the address libpq really
//      connected to (a service file, PGHOST). The target must exist and hold no table yet
//      (`createdb` it first).
//   2. The source is read only through veild: pg_dump (plain format, --no-owner
//      --no-privileges) connects to the endpoint's unix socket in veild's socket folder, with
//      application_name "veil-clone:<run id>", so it is admitted (grant), masked and recorded
//      like any client. Credentials come from libpq's usual places (PGUSER, PGPASSWORD,
//      ~/.pgpass); PGHOSTADDR and PGSERVICE are dropped, so nothing can send it around veild.
//   3. The dump streams through veilctl (never to disk) into
//      `psql -X -q -v ON_ERROR_STOP=1 --single-transaction` on the target: any error rolls the
//      whole copy back. pg_dump adds constraints after the data, so the restore validates them.
//   4. Progress on stderr: rows copied (data lines of each COPY block), rows/s and an ETA
//      against the source's row estimate (pg_class.reltuples, read through veild). A TTY gets
//      one line redrawn; otherwise a line every few seconds. No data value is ever printed.
//   5. FinishClone (control API): veild answers with what it masked in the run's sessions, per
//      column and entity, and writes one usage event for the run. The summary (stdout, or
//      -o json) gives rows per table and masked values per column.
//
// --database names the source database; by default the target's own database name (copy
// `orders` into a sandbox's `orders`).
//
// Exit codes: 0 copied; 1 refused (protected or non-empty target, no grant) or failed (pg_dump
// or psql: their stderr's last lines are shown, and the event records the failure); 2 usage;
// 3 veild unreachable.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace veil::veilctl {

struct CloneOptions {
  std::string socket;  // control socket (default: the configuration's)
  std::string config_file = "/etc/veil/veil.yaml";
  std::string endpoint;
  std::string target;
  std::string database;  // source database (default: the target's)
  std::string user;      // source database user (default: libpq's)
  bool json = false;
  std::string pg_dump = "pg_dump";
  std::string psql = "psql";
};

int RunClone(const CloneOptions& options);

}  // namespace veil::veilctl
