#include "tools/veilctl/clone_stream.h"

#include <gtest/gtest.h>

#include <string>

namespace veil::veilctl {
namespace {

// A plain dump as pg_dump writes it: statements, two COPY blocks, one whose data holds a line
// that reads like a COPY header and an escaped `\.` value, then constraints after the data.
constexpr std::string_view kDump =
    "SET statement_timeout = 0;\n"
    "CREATE TABLE public.customers (\n    id integer NOT NULL,\n    email text\n);\n"
    "-- COPY public.fake (a) FROM stdin;\n"
    "COPY public.customers (id, email) FROM stdin;\n"
    "1\ta@example.com\n"
    "2\tCOPY public.orders (id) FROM stdin;\n"
    "COPY public.orders (id) FROM stdin;\n"  // a value: the whole line is data
    "3\t\\\\.\n"                             // the value `\.`, escaped: data
    "\\\\.\n"
    "\\.\n"
    "COPY public.\"Order Lines\" (\"line no\", qty) FROM stdin;\n"
    "1\t2\n"
    "\\.\n"
    "COPY public.empty (id) FROM stdin;\n"
    "\\.\n"
    "SELECT pg_catalog.setval('public.customers_id_seq', 3, true);\n"
    "ALTER TABLE ONLY public.customers ADD CONSTRAINT customers_pkey PRIMARY KEY (id);\n";

void ExpectDumpCounts(const DumpStreamCounter& c) {
  ASSERT_EQ(c.tables().size(), 3u);
  EXPECT_EQ(c.tables()[0].name, "public.customers");
  EXPECT_EQ(c.tables()[0].rows, 5u);
  EXPECT_TRUE(c.tables()[0].complete);
  EXPECT_EQ(c.tables()[1].name, "public.\"Order Lines\"");
  EXPECT_EQ(c.tables()[1].rows, 1u);
  EXPECT_EQ(c.tables()[2].name, "public.empty");
  EXPECT_EQ(c.tables()[2].rows, 0u);
  EXPECT_TRUE(c.tables()[2].complete);
  EXPECT_EQ(c.rows(), 6u);
  EXPECT_EQ(c.current(), nullptr);
}

TEST(CloneStreamTest, CountsDataLinesOfEachCopyBlock) {
  DumpStreamCounter c;
  c.Feed(kDump);
  c.Finish();
  ExpectDumpCounts(c);
}

TEST(CloneStreamTest, SameCountsWhereverTheChunksSplitTheStream) {
  for (size_t step = 1; step <= 7; ++step) {
    DumpStreamCounter c;
    for (size_t i = 0; i < kDump.size(); i += step) c.Feed(kDump.substr(i, step));
    c.Finish();
    SCOPED_TRACE(step);
    ExpectDumpCounts(c);
  }
  // Split at every position into two chunks.
  for (size_t at = 0; at <= kDump.size(); ++at) {
    DumpStreamCounter c;
    c.Feed(kDump.substr(0, at));
    c.Feed(kDump.substr(at));
    c.Finish();
    SCOPED_TRACE(at);
    ExpectDumpCounts(c);
  }
}

TEST(CloneStreamTest, ABlockCutShortIsIncompleteAndCurrent) {
  DumpStreamCounter c;
  c.Feed("COPY public.t (a) FROM stdin;\n1\n2");
  ASSERT_NE(c.current(), nullptr);
  EXPECT_EQ(c.current()->name, "public.t");
  EXPECT_EQ(c.rows(), 1u);
  c.Finish();  // the last line without its newline still counts
  EXPECT_EQ(c.rows(), 2u);
  EXPECT_FALSE(c.tables()[0].complete);
}

TEST(CloneStreamTest, LongLinesAreNeitherHeadersNorTerminators) {
  DumpStreamCounter c;
  const std::string huge(DumpStreamCounter::kMaxHeader + 10, 'x');
  c.Feed("COPY public.t (a) FROM stdin;\n");
  c.Feed(huge.substr(0, 100));
  c.Feed(huge.substr(100));
  c.Feed("\n\\.\n");
  // Outside a block, a long line that ends like a header is not one.
  c.Feed("COPY public." + huge + " (a) FROM stdin;\n1\n");
  c.Finish();
  ASSERT_EQ(c.tables().size(), 1u);
  EXPECT_EQ(c.tables()[0].rows, 1u);
  EXPECT_TRUE(c.tables()[0].complete);
}

TEST(CloneStreamTest, HeaderTableNames) {
  EXPECT_EQ(CopyHeaderTable("COPY public.t (a, b) FROM stdin;"), "public.t");
  EXPECT_EQ(CopyHeaderTable("COPY public.t FROM stdin;"), "public.t");  // no columns
  EXPECT_EQ(CopyHeaderTable("COPY \"s p\".\"a \"\" (b\" (c) FROM stdin;"), "\"s p\".\"a \"\" (b\"");
  EXPECT_FALSE(CopyHeaderTable("COPY public.t (a) FROM stdout;"));
  EXPECT_FALSE(CopyHeaderTable("COPY public.t (a) TO stdout;"));
  EXPECT_FALSE(CopyHeaderTable("copy public.t (a) FROM stdin;"));
  EXPECT_FALSE(CopyHeaderTable("COPY \"open (a) FROM stdin;"));
  EXPECT_FALSE(CopyHeaderTable("COPY  FROM stdin;"));
}

}  // namespace
}  // namespace veil::veilctl
