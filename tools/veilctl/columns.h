// `veilctl columns ENDPOINT` and `veilctl discover ENDPOINT [--sample N]` (SPEC §7, §6.1).
//
// columns  asks veild (ListColumns) which base columns of the endpoint are sensitive, with the
//          entity, why (rule | name | content | lineage) and how sure: a table, or with -o json
//          an array of objects. --all lists every column veild knows of.
// discover samples every text-like column of the endpoint's database through veild itself: it
//          connects with libpq to the endpoint's unix socket (`.s.PGSQL.<listen port>` beside
//          the control socket), with credentials from the usual places (PG* variables,
//          ~/.pgpass, a service file) and never sees a value: what it reads is already masked.
//          veild learns from the masked rows as from any client's (ColumnStore, "content");
//          discover then prints what veild concluded for each sampled column: entity, share of
//          values, sample size. Under `access: grant` it needs a grant like any session.
#pragma once

#include <cstdint>
#include <string>

namespace veil::veilctl {

struct ColumnsOptions {
  std::string socket;  // control socket
  std::string endpoint;
  bool all = false;  // columns: every known column, not only sensitive ones
  bool json = false;
  // discover
  uint64_t sample = 1000;     // values read per column
  std::string listen_socket;  // the endpoint's unix socket folder (default: the control
                              // socket's folder)
  int listen_port = 0;        // the endpoint's listen port (default: from the configuration)
  std::string config_file = "/etc/veil/veil.yaml";
};

// Exit codes as veilctl's: 0 ok, 1 refused or not found, 3 agent unreachable.
int RunColumns(const ColumnsOptions& options);
int RunDiscover(const ColumnsOptions& options);

}  // namespace veil::veilctl
