// Runs the real veilctl binary as a user would: `veilctl scan` / `veilctl mask`.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

struct CliRun {
  int rc;
  std::string out;
};

// Runs `veilctl ARGS` with `input` on stdin; captures stdout (and stderr when asked).
CliRun Veilctl(const std::string& args, const std::string& input, bool with_stderr = false) {
  // Unique per test: ctest runs tests in parallel processes.
  std::string in_path = ::testing::TempDir() + "/veilctl-in-" +
                        ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".txt";
  std::ofstream(in_path, std::ios::binary) << input;
  std::string cmd =
      std::string(VEILCTL_BIN) + " " + args + " < " + in_path + (with_stderr ? " 2>&1" : "");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

const char* kLine = "card 4111 1111 1111 1111, mail bob@example.com\n";

TEST(VeilctlScan, PrintsFindingsWithByteOffsets) {
  CliRun r = Veilctl("scan --config " + WriteFile("empty.yaml", "endpoints: []\n"), kLine);
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out,
            "{\"line\":1,\"start\":5,\"end\":24,\"entity\":\"CREDIT_CARD\",\"score\":1.00}\n"
            "{\"line\":1,\"start\":31,\"end\":46,\"entity\":\"EMAIL\",\"score\":0.90}\n");
}

TEST(VeilctlMask, MasksLineForLine) {
  CliRun r = Veilctl("mask --config " + WriteFile("empty.yaml", "endpoints: []\n"),
                     std::string(kLine) + "nothing here\nlast line bob@example.com");
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "card [CREDIT_CARD], mail [EMAIL]\nnothing here\nlast line [EMAIL]");
}

TEST(VeilctlMask, UsesTheProfileStrategies) {
  std::string cfg = WriteFile("partial.yaml",
                              "masking:\n"
                              "  profiles:\n"
                              "    support:\n"
                              "      strategies: {CREDIT_CARD: partial, US_SSN: partial}\n");
  CliRun r = Veilctl("mask --config " + cfg + " --profile support",
                     "card 4111 1111 1111 1111 ssn 536-22-1234\n");
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "card **** **** **** 1111 ssn ***-**-1234\n");
}

TEST(VeilctlMask, CustomEntityFromProfile) {
  std::string cfg = WriteFile("custom.yaml",
                              "masking:\n"
                              "  profiles:\n"
                              "    default:\n"
                              "      custom:\n"
                              "        - {name: EMPLOYEE_ID, pattern: 'EMP-[0-9]{6}'}\n");
  CliRun r = Veilctl("mask --config " + cfg, "badge EMP-123456 ok\n");
  EXPECT_EQ(r.out, "badge [EMPLOYEE_ID] ok\n");
}

// A CSV or TSV file that names its columns in its first line: each cell is masked under its
// column's name, as veild masks a result set's cells (a lone first name has no other context).
TEST(VeilctlMask, CsvHeaderGivesCellsTheirColumns) {
  const std::string csv =
      "id,first_name,last_name,phone,notes\n"
      "1,Ann,Lee,555-0100,\"call her, \"\"Ann\"\" at home\"\n"
      "2,\"Okafor, Chidi\",Okafor,,mail ann@example.com\r\n"
      "a line of prose, with other fields\n"
      "3,Tobias,Lindqvist,4155550132,ok";
  CliRun r = Veilctl("mask --config " + WriteFile("empty.yaml", "endpoints: []\n"), csv);
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out,
            "id,first_name,last_name,phone,notes\n"
            "1,[PERSON_NAME],[PERSON_NAME],[PHONE],\"call her, \"\"Ann\"\" at home\"\n"
            "2,\"[PERSON_NAME]\",[PERSON_NAME],,mail [EMAIL]\r\n"
            "a line of prose, with other fields\n"
            "3,[PERSON_NAME],[PERSON_NAME],[PHONE],ok");
  // scan reports the same cells, by their byte offsets in the line.
  r = Veilctl("scan --config " + WriteFile("empty.yaml", "endpoints: []\n"),
              "first_name\tcity\nAnn\tLyon\n");
  EXPECT_EQ(r.out,
            "{\"line\":2,\"start\":0,\"end\":3,\"entity\":\"PERSON_NAME\",\"score\":0.90}\n");
  // A first line that names nothing is no header: lines stay text.
  r = Veilctl("mask --config " + WriteFile("empty.yaml", "endpoints: []\n"),
              "alpha,beta\nAnn,Lee\n");
  EXPECT_EQ(r.out, "alpha,beta\nAnn,Lee\n");
  // Nor is prose whose words happen to name a column: a value in it ("dob 1980-01-01") says
  // so, and the lines keep the context across their commas.
  r = Veilctl("mask --config " + WriteFile("empty.yaml", "endpoints: []\n"),
              "patient john smith, dob 1980-01-01\nspoke to maria garcia-lopez, phone "
              "415-555-0132\n");
  EXPECT_EQ(r.out,
            "patient [PERSON_NAME], dob [DATE_OF_BIRTH]\nspoke to [PERSON_NAME], phone [PHONE]\n");
}

TEST(VeilctlErrors, BadConfigIsRefusedWithPosition) {
  std::string cfg = WriteFile("bad.yaml",
                              "masking:\n"
                              "  profiles:\n"
                              "    default:\n"
                              "      entities: [EMAIL, EMIAL]\n");
  CliRun r = Veilctl("scan --config " + cfg, kLine, true);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("bad.yaml:4:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("EMIAL"), std::string::npos) << r.out;
}

TEST(VeilctlErrors, UnknownProfileAndMissingFile) {
  CliRun r = Veilctl("scan --config " + WriteFile("e.yaml", "endpoints: []\n") + " --profile nope",
                     kLine, true);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("no masking profile \"nope\""), std::string::npos) << r.out;
  r = Veilctl("scan /nonexistent/file", "", true);
  EXPECT_EQ(r.rc, 1);
  r = Veilctl("scan --bogus-flag", "", true);
  EXPECT_EQ(r.rc, 2);
}

}  // namespace
