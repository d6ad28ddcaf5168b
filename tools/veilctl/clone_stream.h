// The rows of a plain-format pg_dump stream, counted as it passes through `veilctl clone`: the
// data lines of each `COPY <table> (<columns>) FROM stdin;` block, up to the block's `\.` line.
// Only counts and table names are kept; no data line is stored or returned.
//
//   DumpStreamCounter c;
//   while (read(fd, buf, n) > 0) c.Feed({buf, n});
//   c.Finish();
//   for (const auto& t : c.tables()) printf("%s %llu\n", t.name.c_str(), t.rows);
//
// Text COPY data holds no raw newline (PostgreSQL writes it as \n), so a line is a row; a value
// that is itself `\.` is written `\\.`, so only the terminator is a lone `\.`. Inside a block
// every line is data, whatever it looks like (a value may read "COPY x (a) FROM stdin;").
// Lines are found across Feed() boundaries; a line outside a block longer than kMaxHeader is
// taken as no header (pg_dump's COPY header is one identifier list long).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veil::veilctl {

// The table a `COPY … FROM stdin;` header line names, as written ("public.customers",
// `public."Order Lines"`); nothing if the line is no such header.
std::optional<std::string> CopyHeaderTable(std::string_view line);

class DumpStreamCounter {
 public:
  static constexpr size_t kMaxHeader = 1 << 20;

  struct Table {
    std::string name;
    uint64_t rows = 0;
    bool complete = false;  // its `\.` was seen
  };

  void Feed(std::string_view chunk);
  // End of the stream: a last line without a newline is taken as a line.
  void Finish();

  uint64_t rows() const { return rows_; }
  const std::vector<Table>& tables() const { return tables_; }
  // The table whose block is being read, if one is.
  const Table* current() const { return in_copy_ ? &tables_.back() : nullptr; }

 private:
  void Line(std::string_view line);
  void EndPartial();  // the line kept in partial_ has ended

  std::vector<Table> tables_;
  uint64_t rows_ = 0;
  bool in_copy_ = false;
  std::string partial_;      // the start of a line not yet ended (capped; see Feed)
  size_t partial_size_ = 0;  // its real length
};

}  // namespace veil::veilctl
