// Credentials in command lines: the arguments a command takes its password, key or token in.
//
// Shell history, CI logs, audit trails and support tickets keep the commands people ran, and a
// command line is where a password is written with no `password=` before it: `mysql -pS3cr3t!`,
// `sshpass -p 'N0tS0Secret'`, `curl -u admin:P@ssw0rd`, `redis-cli -a …`, `sqlcmd -P …`,
// `ldapsearch -w …`, `htpasswd -b file alice pw`, `sqlplus scott/tiger@orcl`,
// `echo 'pw' | sudo -S …`. Each tool names its own flags (`-p` is a port to `ssh` and
// `redis-cli`, a password to `mysql` only when glued to it), so this reads a command's
// arguments by a table of tools, and any tool's long option that says what its value is
// (`--db-password X`, `--client-secret X`, `-storepass X`), the way a shell splits them:
// quotes, here-strings, the next command after a pipe.
//
//   std::vector<cli::Span> found;
//   cli::Secrets(line, &found);  // byte ranges of `line`
//
// Pure and thread-safe; reads the commands of one line, split at `|`, `;`, `&&` and `&`.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace veil::masker::cli {

struct Span {
  uint32_t begin, end;  // byte offsets in the line
};

// Appends the secret parts of the arguments of every command on `line` to `out`, in text
// order.
void Secrets(std::string_view line, std::vector<Span>* out);

}  // namespace veil::masker::cli
