"""Throwaway MariaDB servers for the MySQL integration tests (a pytest plugin of conftest.py).

Fixtures
  mariadb               session: MariaDB 10.11 (Debian's mariadbd) without TLS, database "shop"
                        loaded from mariadb_seed.sql
  mariadb_tls           session: a second server with a certificate from a throwaway CA (the
                        same _make_certificates as pg_tls) and require_secure_transport=ON, so
                        a plaintext connection over TCP is refused
  mariadb_seeded_values session: every raw sensitive value of mariadb_seed.sql
                        (mariadb_seeded_values.txt), as conftest.SeededValue
  veil_mysql            function: veild (start_veild) with a `mysql` endpoint in front of
                        `mariadb`, configured by mysql_veil_config(); (VeildProcess, port)

Each server: mariadb-install-db on a temporary datadir, then mariadbd as a child of the test
process on 127.0.0.1 and a port picked at start (retried if someone takes it first), its unix
socket and tmpdir in its own folder. Grants are real (no --skip-grant-tables). Accounts:

  root      over the unix socket only, no password (what MariaDbServer.sql() uses)
  veil_app  APP_PASSWORD, mysql_native_password, from any host; ALL on shop.* (so a statement
            that fails through veil was refused by veil, not by MariaDB)

As root (CI), mariadb-install-db and mariadbd run as the `mysql` OS user (mariadbd refuses root)
and their folder is chowned to it; otherwise as the current user. mariadb-install-db runs under
an flock (/tmp/veil-mariadb-install.lock): two side by side failed once in CI. Folders are named
veil-it-* with an owner.pid, so conftest's stale-folder sweep removes those of killed runs;
VEIL_KEEP_TMP=1 keeps them; a mariadbd such a run left behind is killed when a fixture starts.
Without mariadbd the fixtures skip, and fail under CI=true.

The client drivers that talk to these servers (or to veild in front of them) are in
mysql_clients.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from conftest import (_LIVE, _OWNER_FILE, _TMP_PREFIX, HOST, SeededValue, Tls, _as_server,
                      _chown_tree, _clean_env, _make_certificates, _tail, free_port,
                      load_seeded_values, wait_for_port)

HERE = Path(__file__).resolve().parent
MARIADBD = Path(os.environ.get("VEIL_MARIADBD", "/usr/sbin/mariadbd"))
INSTALL_DB = Path("/usr/bin/mariadb-install-db")
MARIADB_CLI = "mariadb"
MARIADB_SEED_SQL = HERE / "mariadb_seed.sql"
MARIADB_SEEDED_VALUES_TXT = HERE / "mariadb_seeded_values.txt"
INSTALL_LOCK = Path(tempfile.gettempdir()) / "veil-mariadb-install.lock"

DBNAME = "shop"
APP_USER = "veil_app"
APP_PASSWORD = "veil-app-Pa55"


def _server_account() -> tuple[int, int] | None:
    """(uid, gid) of the `mysql` user when running as root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    pw = pwd.getpwnam("mysql")
    return pw.pw_uid, pw.pw_gid


class MariaDbError(RuntimeError):
    def __init__(self, proc: subprocess.CompletedProcess):
        super().__init__(f"mariadb exited with {proc.returncode}:\n{proc.stderr}")
        self.proc = proc


class MariaDbServer:
    """One throwaway MariaDB server. Use through the `mariadb` / `mariadb_tls` fixtures.

    host, port        its TCP address (127.0.0.1 and a free port)
    dbname            "shop"
    user, password    veil_app and its password (mysql_native_password)
    tls               a conftest.Tls (ca_file, cert_file, key_file) for mariadb_tls, else None
    socket_path       its unix socket (root, no password)
    error_log         its error log
    """

    START_ATTEMPTS = 5

    def __init__(self, name: str, *, tls: bool = False):
        self.name = name
        self.host = HOST
        self.port: int | None = None
        self.dbname = DBNAME
        self.user = APP_USER
        self.password = APP_PASSWORD
        self.tls: Tls | None = None
        self._want_tls = tls
        self._account = _server_account()
        self._proc: subprocess.Popen | None = None
        self.base = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{name}-"))
        (self.base / _OWNER_FILE).write_text(str(os.getpid()))
        self.data_dir = self.base / "data"
        self.tmp_dir = self.base / "tmp"
        self.socket_path = self.base / "mysqld.sock"
        self.error_log = self.base / "error.log"

    # -- lifecycle --

    def start(self) -> "MariaDbServer":
        """mariadb-install-db, start on a free port, create veil_app and load mariadb_seed.sql.
        On any failure everything is stopped and removed before the exception propagates."""
        _LIVE.add(self)
        try:
            self.data_dir.mkdir()
            self.tmp_dir.mkdir()
            if self._want_tls:
                self.tls = _make_certificates(self.base / "tls")
            # mkdtemp made the folder 0700: the server's user must get in.
            os.chmod(self.base, 0o755)
            _chown_tree(self.base, self._account)
            self._install_db()
            self._launch()
            self._seed()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM (a normal shutdown), then SIGKILL; then removes the folder unless
        VEIL_KEEP_TMP=1. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 5)):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                try:
                    proc.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        _LIVE.discard(self)
        if os.environ.get("VEIL_KEEP_TMP") == "1":
            print(f"veil harness: kept {self.base}")
        else:
            shutil.rmtree(self.base, ignore_errors=True)

    def _install_db(self) -> None:
        argv = [INSTALL_DB, "--no-defaults", f"--datadir={self.data_dir}",
                "--auth-root-authentication-method=normal", "--skip-test-db",
                "--skip-name-resolve", f"--tmpdir={self.tmp_dir}",
                # The default 96 MiB redo log is written in full; a test server needs little.
                "--innodb-log-file-size=8M"]
        with open(INSTALL_LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            proc = subprocess.run([str(a) for a in argv], cwd=self.base, env=_clean_env(),
                                  capture_output=True, text=True, timeout=120,
                                  **_as_server(self._account))
        if proc.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed ({proc.returncode}):\n"
                               f"{proc.stdout[-4000:]}{proc.stderr[-4000:]}")

    def _server_argv(self) -> list[str]:
        argv = [str(MARIADBD), "--no-defaults",
                f"--datadir={self.data_dir}", f"--tmpdir={self.tmp_dir}",
                f"--bind-address={self.host}", f"--port={self.port}",
                f"--socket={self.socket_path}", f"--pid-file={self.base / 'mysqld.pid'}",
                f"--log-error={self.error_log}",
                "--skip-name-resolve",
                # --no-defaults would leave latin1: the server Debian configures is utf8mb4.
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
                # Room for rows above 16 MiB (a value split over several protocol packets).
                "--max-allowed-packet=64M",
                "--max-connections=200",
                # Durability is irrelevant for a throwaway server; startup and seeding get faster.
                "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M",
                "--innodb-flush-log-at-trx-commit=0", "--skip-innodb-doublewrite",
                "--lc-messages=en_US"]
        if self.tls:
            argv += [f"--ssl-ca={self.tls.ca_file}", f"--ssl-cert={self.tls.cert_file}",
                     f"--ssl-key={self.tls.key_file}", "--require-secure-transport=ON"]
        return argv

    def _launch(self) -> None:
        """Starts mariadbd as a child of this process, so a runner that kills the test's
        process tree takes the server with it. Retries on another port if someone else bound
        the chosen one in the meantime."""
        for attempt in range(self.START_ATTEMPTS):
            self.port = free_port(self.host)
            log_offset = self.error_log.stat().st_size if self.error_log.exists() else 0
            self._proc = subprocess.Popen(
                self._server_argv(), cwd=self.base, env=_clean_env(),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, **_as_server(self._account))
            try:
                # mariadbd listens on TCP only once InnoDB is up and it is ready for connections.
                wait_for_port(self.host, self.port, timeout=60, proc=self._proc)
                return
            except (RuntimeError, TimeoutError) as e:
                log_text = self.error_log.read_bytes()[log_offset:].decode(errors="replace") \
                    if self.error_log.exists() else ""
                if "Address already in use" in log_text and attempt + 1 < self.START_ATTEMPTS:
                    self._proc.wait(10)
                    continue
                raise RuntimeError(f"mariadbd did not start: {e}\n{_tail(self.error_log)}") \
                    from None

    def _seed(self) -> None:
        # install-db made root@{localhost,127.0.0.1,::1,host} with no password: keep only the
        # unix-socket one, so over TCP there is veil_app and nobody else.
        self.sql(
            "DELETE FROM mysql.global_priv WHERE User = '' OR"
            " (User = 'root' AND Host <> 'localhost');\n"
            "FLUSH PRIVILEGES;\n"
            f"CREATE DATABASE {self.dbname} CHARACTER SET utf8mb4;\n"
            f"CREATE USER '{APP_USER}'@'%' IDENTIFIED VIA mysql_native_password"
            f" USING PASSWORD('{APP_PASSWORD}');\n"
            f"GRANT ALL ON {self.dbname}.* TO '{APP_USER}'@'%';\n",
            database=None)
        self.sql(MARIADB_SEED_SQL.read_text())

    # -- client helpers --

    def sql(self, sql: str, *, database: str | None = DBNAME, check: bool = True,
            args: tuple = ("--batch", "--skip-column-names"),
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Runs `sql` (read from stdin) with the mariadb CLI as root over the unix socket,
        in `database`. `args` defaults to tab-separated rows without a header. Returns the
        CompletedProcess (text stdout/stderr); raises MariaDbError on a non-zero exit if
        `check`."""
        argv = [MARIADB_CLI, "--no-defaults", f"--socket={self.socket_path}", "--user=root",
                "--default-character-set=utf8mb4", *args]
        if database:
            argv.append(f"--database={database}")
        proc = subprocess.run(argv, input=sql, capture_output=True, text=True,
                              timeout=timeout, env=_clean_env(), cwd=self.base)
        if check and proc.returncode != 0:
            raise MariaDbError(proc)
        return proc

    def log_position(self) -> int:
        return self.error_log.stat().st_size

    def log_since(self, position: int) -> str:
        with open(self.error_log, "rb") as f:
            f.seek(position)
            return f.read().decode(errors="replace")


def _stop_orphaned_servers() -> None:
    """Kills the mariadbd of earlier runs that were killed outright and left their server
    running (conftest's sweep removes their folders; this stops the process): a mariadbd whose
    --datadir is in a veil-it-mariadb* folder that is gone or whose owning pytest is gone."""
    prefix = f"--datadir={Path(tempfile.gettempdir()) / _TMP_PREFIX}mariadb".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        datadir = next((a[len(b"--datadir="):].decode(errors="replace") for a in argv
                        if a.startswith(prefix)), None)
        if datadir is None:
            continue
        try:
            os.kill(int((Path(datadir).parent / _OWNER_FILE).read_text()), 0)
            continue  # its pytest still runs: a parallel run's server
        except (OSError, ValueError):
            pass  # folder or owner gone (PermissionError: another user's, alive, but then
            #       os.kill below fails the same way and nothing happens)
        with contextlib.suppress(OSError):
            os.kill(int(entry.name), signal.SIGKILL)


def _require_mariadbd() -> None:
    for binary, package in ((MARIADBD, "mariadb-server"), (INSTALL_DB, "mariadb-server"),
                            (shutil.which(MARIADB_CLI), "mariadb-client")):
        if binary is None or not os.access(binary, os.X_OK):
            message = (f"{binary or MARIADB_CLI} not found: install Debian's {package} "
                       f"(tools/setup.sh does)")
            if os.environ.get("CI") == "true":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)


@pytest.fixture(scope="session")
def mariadb():
    _require_mariadbd()
    _stop_orphaned_servers()
    server = MariaDbServer("mariadb", tls=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mariadb_tls():
    _require_mariadbd()
    _stop_orphaned_servers()
    server = MariaDbServer("mariadb-tls", tls=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mariadb_seeded_values() -> list[SeededValue]:
    return load_seeded_values(MARIADB_SEEDED_VALUES_TXT)


# ---------------------------------------------------------------------------------------------
# veild in front of MariaDB

# test_veild_pg's profile, with the MySQL seed's column names: names by the column rule, bare
# SSNs by theirs (no "SSN" beside them to go by), everything else by content.
MYSQL_PROFILE = """
masking:
  key_file: {work}/state/keys/mask.key
  profiles:
    default:
      strategies: {{CREDIT_CARD: partial, US_SSN: partial, default: redact}}
      columns:
        - {{match: "*.full_name", entity: PERSON_NAME}}
        - {{match: "*.ssn", entity: US_SSN}}
"""


def mysql_veil_config(work, upstream_host: str, upstream_port: int, listen_port: int, *,
                      tls_client: str = "disable", tls_upstream: str = "disable",
                      upstream_ca=None, access: str = "open",
                      profile: str = MYSQL_PROFILE, guardrails: str = "[]") -> str:
    """A veild config with one `mysql` endpoint (shop-db) from listen_port to the upstream;
    `profile` is appended with {work} filled in. For start_veild(config_text)."""
    tls = f"{{client: {tls_client}, upstream: {tls_upstream}"
    if upstream_ca:
        tls += f", upstream_ca: {upstream_ca}"
    tls += "}"
    return textwrap.dedent(f"""
        agent:
          state_dir: {work}/state
          control_socket: {work}/run/veil.sock
          metrics_listen: ""
          redirect: "off"
        endpoints:
          - name: shop-db
            protocol: mysql
            upstream: {upstream_host}:{upstream_port}
            listen: {HOST}:{listen_port}
            access: {access}
            tls: {tls}
            guardrails: {guardrails}
        """) + textwrap.dedent(profile.format(work=work))


@pytest.fixture
def veil_mysql(mariadb, start_veild, tmp_path):
    """veild protecting the `mariadb` server with MYSQL_PROFILE; returns (process, port)."""
    port = free_port()
    proc = start_veild(mysql_veil_config(tmp_path, mariadb.host, mariadb.port, port))
    return proc, port
