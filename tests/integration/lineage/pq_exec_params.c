/* The libpq client of tests/integration/test_lineage.py: runs each statement of a file with
 * PQexecParams, twice, on one connection. That is the unnamed statement, its portal described
 * (Parse "", Bind, Describe P, Execute, Sync): the path of psycopg 3, node-postgres, pgx and
 * most drivers. Output as LineageTable.java's:
 *   case N RUN / VALUE<TAB>VALUE... (SQL NULL as \N; '\' '\t' '\n' escaped) / error N RUN STATE
 * Usage: pq_exec_params CONNINFO FILE  (statements separated by lines of exactly "--;;") */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_escaped(const char* v) {
  for (; *v; ++v) {
    if (*v == '\\') fputs("\\\\", stdout);
    else if (*v == '\t') fputs("\\t", stdout);
    else if (*v == '\n') fputs("\\n", stdout);
    else putchar(*v);
  }
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  FILE* f = fopen(argv[2], "rb");
  if (!f) return 2;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* all = malloc(size + 1);
  if (fread(all, 1, size, f) != (size_t)size) return 2;
  all[size] = 0;
  fclose(f);
  PGconn* c = PQconnectdb(argv[1]);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "%s", PQerrorMessage(c));
    return 1;
  }
  int n = 0;
  for (char* s = all; s; ++n) {
    char* sep = strstr(s, "\n--;;\n");
    if (sep) *sep = 0;
    for (int run = 0; run < 2; ++run) {
      PGresult* r = PQexecParams(c, s, 0, NULL, NULL, NULL, NULL, 0);
      if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        printf("error %d %d %s\n", n, run, state ? state : "?");
      } else {
        printf("case %d %d\n", n, run);
        for (int i = 0; i < PQntuples(r); ++i) {
          for (int j = 0; j < PQnfields(r); ++j) {
            if (j) putchar('\t');
            if (PQgetisnull(r, i, j)) fputs("\\N", stdout);
            else put_escaped(PQgetvalue(r, i, j));
          }
          putchar('\n');
        }
      }
      PQclear(r);
    }
    s = sep ? sep + 6 : NULL;
  }
  PQfinish(c);
  return 0;
}
