/* Calls query_to_xml('select ssn from customers', …) through libpq's function-call
 * sub-protocol (PQfn), which runs a function by oid with no SQL statement around it, then
 * checks the session still answers a query. Prints what came back, one line each.
 *   pq_fastpath CONNINFO */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  PGconn* c = PQconnectdb(argv[1]);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "connect: %s", PQerrorMessage(c));
    return 2;
  }
  PGresult* r = PQexec(c, "SELECT 'query_to_xml(text,bool,bool,text)'::regprocedure::oid");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "oid: %s", PQerrorMessage(c));
    return 2;
  }
  int fn = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  const char* query = "select ssn from customers";
  PQArgBlock args[4];
  args[0].len = (int)strlen(query);
  args[0].isint = 0;
  args[0].u.ptr = (int*)query;
  args[1].len = 1;
  args[1].isint = 0;
  args[1].u.ptr = (int*)"\1";
  args[2].len = 1;
  args[2].isint = 0;
  args[2].u.ptr = (int*)"\0";
  args[3].len = 0;
  args[3].isint = 0;
  args[3].u.ptr = (int*)"";
  static char buf[1 << 16];
  int len = 0;
  r = PQfn(c, fn, (int*)buf, &len, 0, args, 4);
  if (PQresultStatus(r) == PGRES_COMMAND_OK) {
    printf("fastpath ok: %.*s\n", len, buf);
  } else {
    printf("fastpath error: %s", PQerrorMessage(c));
  }
  PQclear(r);
  r = PQexec(c, "SELECT 40 + 2");
  printf("after: %s\n", PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "failed");
  PQclear(r);
  PQfinish(c);
  return 0;
}
