#include <gtest/gtest.h>

#include "agent/protocol/mysql/session.h"
#include "agent/protocol/postgres/session.h"
#include "agent/protocol/protocol.h"

namespace veil::agent {
namespace {

using config::v1::Endpoint;

TEST(Protocols, PostgresServesPostgresEndpoints) {
  const Protocol* p = FindProtocol(Endpoint::PROTOCOL_POSTGRES);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, &PostgresProtocol());
  EXPECT_EQ(p->name(), "postgres");
  // libpq's default socket name for the port: `psql -h <socket dir> -p 5432` finds veild.
  EXPECT_EQ(p->UnixSocketName(5432), ".s.PGSQL.5432");
}

TEST(Protocols, MySqlServesMySqlEndpoints) {
  const Protocol* p = FindProtocol(Endpoint::PROTOCOL_MYSQL);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, &MySqlProtocol());
  EXPECT_EQ(p->name(), "mysql");
  // veild's own socket for the endpoint; clients of a local server's mysqld.sock are sent there.
  EXPECT_EQ(p->UnixSocketName(3306), "mysqld.3306.sock");
}

TEST(Protocols, NoneServesWhatThisBuildLacks) {
  EXPECT_EQ(FindProtocol(Endpoint::PROTOCOL_UNSPECIFIED), nullptr);
}

}  // namespace
}  // namespace veil::agent
