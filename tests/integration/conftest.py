"""The integration-test harness: real PostgreSQL servers, seeded data, and veild under test.

Fixtures
  pg            session: PostgreSQL with ssl=off, database "shop" loaded from seed.sql
  pg_tls        session: a second server, ssl=on with a certificate from a throwaway CA; its TCP
                lines are `hostssl`, so a plaintext connection is refused
  seeded_values session: every raw sensitive value of seed.sql (see seeded_values.txt)
  start_veild   function: start_veild(config_text) -> VeildProcess, stopped at teardown

Helpers (import them: `from conftest import free_port, leaked_values`)
  free_port(), wait_for_port(host, port), auth_request(host, port, user, ...),
  load_seeded_values(), leaked_values(text, values)

Both servers listen on 127.0.0.1 on a port picked at start, with their unix socket in their
own temporary directory, so several test runs (ctest -j) never share a server or a port. Roles,
each tied to one authentication method by pg_hba.conf over TCP (the unix socket trusts all):

  postgres   superuser, trust      app_md5    md5pass    md5
  app_trust  trust                 app_scram  scrampass  scram-sha-256
                                   app_plain  plainpass  password (cleartext)

The app_* roles may read, write and create in schemas public and audit, so a statement that
fails through veil was refused by veil, not by PostgreSQL.

As root (CI), initdb and postgres run as the `postgres` OS user and everything they need is
chowned to it; otherwise they run as the current user. VEIL_PG_BIN overrides the server
binaries' folder, VEIL_KEEP_TMP=1 keeps the temporary folders for a post-mortem.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# The MariaDB fixtures (mariadb, mariadb_tls, mariadb_seeded_values): mariadb_server.py.
pytest_plugins = ("mariadb_server",)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
PG_BIN = Path(os.environ.get("VEIL_PG_BIN", "/usr/lib/postgresql/15/bin"))
SEED_SQL = HERE / "seed.sql"
SEEDED_VALUES_TXT = HERE / "seeded_values.txt"

HOST = "127.0.0.1"
SUPERUSER = "postgres"
DBNAME = "shop"
APP_GROUP = "veil_app"


@dataclass(frozen=True)
class Role:
    name: str
    password: str | None
    method: str  # the pg_hba.conf method for this role over TCP


ROLES = {
    r.name: r
    for r in (
        Role("app_trust", None, "trust"),
        Role("app_md5", "md5pass", "md5"),
        Role("app_scram", "scrampass", "scram-sha-256"),
        Role("app_plain", "plainpass", "password"),
    )
}

# Environment variables that change what libpq, psql or the server do; scrubbed so a CI
# runner's PGHOST or PGSSLMODE cannot redirect a test.
_PG_ENV = re.compile(r"^PG[A-Z]+$")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _PG_ENV.match(k)}
    env.update(LC_ALL="C", LANG="C")
    env.update(extra)
    return env


def pytest_configure(config):
    # psycopg2 connections in tests read the process environment too.
    for k in [k for k in os.environ if _PG_ENV.match(k)]:
        del os.environ[k]
    # ctest's TIMEOUT and CI runners stop with SIGTERM; as KeyboardInterrupt it runs the
    # fixture teardowns, so no server outlives the run.
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _raise_interrupt)
    _sweep_stale_folders()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# ---------------------------------------------------------------------------------------------
# Ports


def free_port(host: str = HOST) -> int:
    """A TCP port on `host` that nothing listens on right now.

    The kernel picks it (bind to port 0), so parallel runs get different ports; another process
    may still take it before the caller binds, which is why PgServer retries on EADDRINUSE.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 15.0, proc=None) -> None:
    """Returns once a TCP connect to host:port succeeds. Raises TimeoutError after `timeout`
    seconds, or RuntimeError at once if `proc` (a Popen) has exited meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as e:
            last = e
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before "
                               f"{host}:{port} accepted connections")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port} did not accept a connection within {timeout} s "
                               f"({last})")
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# PostgreSQL wire helpers


AUTH_OK, AUTH_CLEARTEXT, AUTH_MD5, AUTH_SASL = 0, 3, 5, 10
AUTH_CODE_OF_METHOD = {"trust": AUTH_OK, "password": AUTH_CLEARTEXT, "md5": AUTH_MD5,
                       "scram-sha-256": AUTH_SASL}


def auth_request(host: str, port: int, user: str, dbname: str = DBNAME, *,
                 tls_context: ssl.SSLContext | None = None, timeout: float = 5.0) -> int:
    """The authentication request a server (or veild) answers a StartupMessage with:
    AUTH_OK (0, trust), AUTH_CLEARTEXT (3), AUTH_MD5 (5) or AUTH_SASL (10, SCRAM).

    This is what really goes over the wire, whatever a pg_hba.conf line or a log says. With
    `tls_context`, negotiates TLS first (SSLRequest). Raises RuntimeError with the server's
    message if it answers with an ErrorResponse."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = raw
        if tls_context is not None:
            raw.sendall(struct.pack("!ii", 8, 80877103))
            answer = raw.recv(1)
            if answer != b"S":
                raise RuntimeError(f"server refused TLS (answered {answer!r})")
            sock = tls_context.wrap_socket(raw, server_hostname=host)
        params = b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                          for k, v in (("user", user), ("database", dbname)))
        body = struct.pack("!i", 196608) + params + b"\0"
        sock.sendall(struct.pack("!i", len(body) + 4) + body)
        header = _recv_exact(sock, 5)
        kind, length = header[:1], struct.unpack("!i", header[1:])[0]
        payload = _recv_exact(sock, length - 4)
        if kind == b"R":
            return struct.unpack("!i", payload[:4])[0]
        if kind == b"E":
            fields = dict((f[:1].decode(), f[1:].decode(errors="replace"))
                          for f in payload.split(b"\0") if f)
            raise RuntimeError(f"{fields.get('S')} {fields.get('C')}: {fields.get('M')}")
        raise RuntimeError(f"unexpected message {kind!r} after StartupMessage")


def _recv_exact(sock, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("connection closed by the server")
        buf += chunk
    return buf


# ---------------------------------------------------------------------------------------------
# Running things as the postgres OS user


def _server_account() -> tuple[int, int] | None:
    """(uid, gid) to run initdb and postgres as, or None to run them as ourselves. PostgreSQL
    refuses to run as root."""
    if os.geteuid() != 0:
        return None
    pw = pwd.getpwnam("postgres")
    return pw.pw_uid, pw.pw_gid


def _as_server(account) -> dict:
    if account is None:
        return {}
    uid, gid = account
    return {"user": uid, "group": gid, "extra_groups": []}


def _chown_tree(path: Path, account) -> None:
    if account is None:
        return
    uid, gid = account
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


_TMP_PREFIX = "veil-it-"
_OWNER_FILE = "owner.pid"


def _sweep_stale_folders() -> None:
    """Removes the temporary folders of earlier runs that were killed outright (ctest's TIMEOUT
    sends SIGKILL, so no teardown ran): those whose owning pytest process is gone. Their
    servers died with them (children of the killed process tree)."""
    for folder in Path(tempfile.gettempdir()).glob(_TMP_PREFIX + "*"):
        try:
            owner = int((folder / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(owner, 0)
            continue  # still running: a parallel run's folder
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue  # alive, another user's


# Everything started and not yet stopped; stopped at interpreter exit if a teardown never ran.
_LIVE: set = set()


@atexit.register
def _stop_leftovers():
    for thing in list(_LIVE):
        with contextlib.suppress(Exception):
            thing.stop()


# ---------------------------------------------------------------------------------------------
# PostgreSQL


class PsqlError(RuntimeError):
    def __init__(self, proc: subprocess.CompletedProcess):
        super().__init__(f"psql exited with {proc.returncode}:\n{proc.stderr}")
        self.proc = proc


@dataclass
class Tls:
    ca_file: Path    # what clients pass as sslrootcert
    cert_file: Path  # the server's certificate (CN and SAN localhost, SAN IP 127.0.0.1)
    key_file: Path


class PgServer:
    """One throwaway PostgreSQL cluster. Use through the `pg` / `pg_tls` fixtures."""

    START_ATTEMPTS = 5

    def __init__(self, name: str, *, tls: bool = False):
        self.name = name
        self.host = HOST
        self.port: int | None = None
        self.superuser = SUPERUSER
        self.dbname = DBNAME
        self.roles = ROLES
        self.tls: Tls | None = None
        self._want_tls = tls
        self._account = _server_account()
        self._proc: subprocess.Popen | None = None
        self.base = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{name}-"))
        (self.base / _OWNER_FILE).write_text(str(os.getpid()))
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.log_path = self.base / "postgres.log"

    # -- lifecycle --

    def start(self) -> "PgServer":
        """initdb, configure, start on a free port, create roles and load seed.sql. On any
        failure everything is stopped and removed before the exception propagates."""
        _LIVE.add(self)
        try:
            self.socket_dir.mkdir()
            if self._want_tls:
                self.tls = _make_certificates(self.base / "tls")
            _chown_tree(self.base, self._account)
            self._run_server_tool(
                [PG_BIN / "initdb", "-D", self.data_dir, "-U", self.superuser, "-A", "trust",
                 "--no-locale", "-E", "UTF8", "--no-sync", "--no-instructions"])
            self._configure()
            self._launch()
            self._seed()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT), escalating to immediate (SIGQUIT) and SIGKILL; then removes
        the temporary folder unless VEIL_KEEP_TMP=1. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            for sig, grace in ((signal.SIGINT, 20), (signal.SIGQUIT, 5), (signal.SIGKILL, 5)):
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

    def _run_server_tool(self, argv) -> None:
        proc = subprocess.run([str(a) for a in argv], cwd=self.base, env=_clean_env(),
                              capture_output=True, text=True, timeout=120,
                              **_as_server(self._account))
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({proc.returncode}):\n{proc.stdout}"
                               f"{proc.stderr}")

    def _configure(self) -> None:
        host_type = "hostssl" if self.tls else "host"
        hba = ["# TYPE DATABASE USER ADDRESS METHOD (written by tests/integration/conftest.py)",
               "local all all trust",
               f"{host_type} all {self.superuser} {self.host}/32 trust"]
        hba += [f"{host_type} all {r.name} {self.host}/32 {r.method}" for r in ROLES.values()]
        # No catch-all line: any other user, or plaintext to pg_tls, is refused.
        (self.data_dir / "pg_hba.conf").write_text("\n".join(hba) + "\n")

        conf = [
            f"listen_addresses = '{self.host}'",
            f"unix_socket_directories = '{self.socket_dir}'",
            "max_connections = 60",
            "shared_buffers = 16MB",
            # Durability is irrelevant for a throwaway cluster; startup and seeding get faster.
            "fsync = off", "synchronous_commit = off", "full_page_writes = off",
            # Auth tests read these lines from the log.
            "log_connections = on", "log_disconnections = off",
            "log_line_prefix = '%m [%p] %u@%d '",
            "lc_messages = 'C'",
            f"ssl = {'on' if self.tls else 'off'}",
        ]
        if self.tls:
            conf += [f"ssl_cert_file = '{self.tls.cert_file}'",
                     f"ssl_key_file = '{self.tls.key_file}'"]
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write("\n# tests/integration/conftest.py\n" + "\n".join(conf) + "\n")

    def _launch(self) -> None:
        """Starts postgres as a child of this process (not daemonised by pg_ctl), so a runner
        that kills the test's process tree takes the server with it. Retries on another port if
        someone else bound the chosen one in the meantime."""
        for attempt in range(self.START_ATTEMPTS):
            self.port = free_port(self.host)
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with open(self.log_path, "ab") as log:
                self._proc = subprocess.Popen(
                    [str(PG_BIN / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)],
                    cwd=self.base, env=_clean_env(), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, **_as_server(self._account))
            try:
                self._wait_ready(timeout=30)
                return
            except RuntimeError:
                log_text = self.log_path.read_bytes()[log_offset:].decode(errors="replace")
                if "Address already in use" in log_text and attempt + 1 < self.START_ATTEMPTS:
                    self._proc.wait(10)
                    continue
                raise

    def _wait_ready(self, timeout: float) -> None:
        # postmaster.pid's 8th line becomes "ready" once connections are accepted (pg_ctl -w
        # waits for the same thing).
        pid_file = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self._proc.returncode}:\n"
                                   f"{_tail(self.log_path)}")
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    wait_for_port(self.host, self.port, timeout=5, proc=self._proc)
                    return
            time.sleep(0.05)
        raise TimeoutError(f"postgres not ready within {timeout} s:\n{_tail(self.log_path)}")

    def _seed(self) -> None:
        sql = [f"CREATE ROLE {APP_GROUP} NOLOGIN;"]
        for r in ROLES.values():
            # The stored verifier decides what md5 can do: a SCRAM verifier would make
            # PostgreSQL run SCRAM even on an md5 line, so app_md5 gets an md5 one.
            enc = "md5" if r.method == "md5" else "scram-sha-256"
            pw = f" PASSWORD '{r.password}'" if r.password else ""
            sql.append(f"SET password_encryption = '{enc}';"
                       f" CREATE ROLE {r.name} LOGIN{pw} IN ROLE {APP_GROUP};")
        sql.append(f"CREATE DATABASE {self.dbname};")
        self.psql("\n".join(sql), dbname="postgres")
        self.psql(SEED_SQL.read_text())

    # -- client helpers --

    def dsn(self, user: str | None = None, password: str | None = None,
            dbname: str | None = None, **params) -> str:
        """A libpq key=value connection string to this server over TCP. pg_tls adds
        sslmode=verify-full with its CA unless `params` says otherwise. For a role in ROLES
        the password defaults to its own."""
        user = user or self.superuser
        if password is None and user in ROLES:
            password = ROLES[user].password
        kv = {"host": self.host, "port": self.port, "dbname": dbname or self.dbname,
              "user": user, "connect_timeout": 10}
        if password is not None:
            kv["password"] = password
        if self.tls:
            kv.update(sslmode="verify-full", sslrootcert=self.tls.ca_file)
        kv.update(params)
        return " ".join(f"{k}={_quote_conninfo(str(v))}" for k, v in kv.items())

    def connect(self, user: str | None = None, password: str | None = None, **params):
        """A psycopg2 connection over TCP (autocommit on)."""
        import psycopg2

        conn = psycopg2.connect(self.dsn(user, password, **params))
        conn.autocommit = True
        return conn

    def psql(self, sql: str, *, user: str | None = None, password: str | None = None,
             dbname: str | None = None, tcp: bool = False, check: bool = True,
             args: tuple = ("-A", "-t"), timeout: float = 60,
             **params) -> subprocess.CompletedProcess:
        """Runs `sql` (statements and backslash commands, read from stdin) with psql, with
        ON_ERROR_STOP. Over the unix socket as the superuser by default; with `tcp=True` (or a
        user/password/params given) over TCP with dsn(). `args` defaults to unaligned,
        tuples-only output. Returns the CompletedProcess (text stdout/stderr); raises
        PsqlError on a non-zero exit if `check`."""
        if tcp or user or password or params:
            target = self.dsn(user, password, dbname, **params)
        else:
            target = (f"host={self.socket_dir} port={self.port} user={self.superuser} "
                      f"dbname={dbname or self.dbname}")
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args, "-d", target, "-f", "-"]
        proc = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=timeout,
                              env=_clean_env(), cwd=self.base)
        if check and proc.returncode != 0:
            raise PsqlError(proc)
        return proc

    # -- server log --

    def log_position(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, position: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(position)
            return f.read().decode(errors="replace")


def _quote_conninfo(v: str) -> str:
    if v and not re.search(r"[\s'\\]", v):
        return v
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _make_certificates(folder: Path) -> Tls:
    """A throwaway CA and a server certificate it signs, with the openssl CLI. A CA rather than
    one self-signed leaf, so verify-ca / verify-full behave as they do against a real server."""
    folder.mkdir()

    def openssl(*argv):
        proc = subprocess.run(["openssl", *map(str, argv)], cwd=folder, capture_output=True,
                              text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"openssl {argv[0]} failed:\n{proc.stderr}")

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7",
            "-subj", "/CN=veil integration test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")
    (folder / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "7", "-extfile", "server.ext", "-out", "server.crt")
    # PostgreSQL refuses a key that group or others can read.
    os.chmod(folder / "server.key", 0o600)
    return Tls(folder / "ca.crt", folder / "server.crt", folder / "server.key")


@pytest.fixture(scope="session")
def pg():
    server = PgServer("pg", tls=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_tls():
    server = PgServer("pg-tls", tls=True).start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# Seeded values


@dataclass(frozen=True)
class SeededValue:
    value: str
    entity: str  # veil's entity name, e.g. EMAIL
    where: str   # [schema.]table.column that holds it


def load_seeded_values(path: Path = SEEDED_VALUES_TXT) -> list[SeededValue]:
    values, entity, where = [], None, None
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("#@"):
            entity, where = line[2:].split()
        elif line.strip() and not line.startswith("#"):
            if entity is None:
                raise ValueError(f"{path}:{n}: value before the first '#@ ENTITY where' header")
            values.append(SeededValue(line, entity, where))
    return values


def leaked_values(received: str | bytes, values: list[SeededValue]) -> list[SeededValue]:
    """The seeded values that occur verbatim in what a client received. Bytes are decoded as
    UTF-8 (with replacement), so a raw socket capture can be checked too."""
    if isinstance(received, bytes):
        received = received.decode("utf-8", errors="replace")
    return [v for v in values if v.value in received]


@pytest.fixture(scope="session")
def seeded_values() -> list[SeededValue]:
    return load_seeded_values()


# ---------------------------------------------------------------------------------------------
# veild


def veild_bin() -> Path:
    """$VEILD_BIN (relative paths are taken from the repository root), else build/agent/veild."""
    p = Path(os.environ.get("VEILD_BIN", "build/agent/veild"))
    return p if p.is_absolute() else REPO_ROOT / p


def _listen_addresses(config_text: str) -> list[tuple[str, int]]:
    import yaml

    doc = yaml.safe_load(config_text) or {}
    out = []
    for ep in doc.get("endpoints") or []:
        listen = str(ep.get("listen", ""))
        m = re.fullmatch(r"\[?([^\]]*)\]?:(\d+)", listen)
        if m:
            out.append((m.group(1), int(m.group(2))))
    return out


@dataclass(eq=False)  # identity semantics: kept in a set until stopped
class VeildProcess:
    popen: subprocess.Popen
    config_path: Path
    log_path: Path
    listens: list[tuple[str, int]]
    stopped: bool = False
    exit_problem: str | None = field(default=None)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then SIGKILL after `timeout` s. Returns the exit status. Records why, if
        the process exited on its own before (a crash during the test) or did not stop."""
        if self.stopped:
            return self.popen.returncode
        self.stopped = True
        _LIVE.discard(self)
        if self.popen.poll() is not None:
            self.exit_problem = (f"veild exited by itself during the test with "
                                 f"{self.popen.returncode}")
            return self.popen.returncode
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
            self.exit_problem = f"veild did not exit within {timeout} s of SIGTERM"
            return self.popen.returncode
        if self.popen.returncode not in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
            self.exit_problem = f"veild exited with {self.popen.returncode} on SIGTERM"
        return self.popen.returncode


class VeildLauncher:
    """Callable behind the `start_veild` fixture. `workdir` is a fresh folder for the test's
    state_dir, control socket and key file; configs are written there too."""

    def __init__(self, binary: Path, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.started: list[VeildProcess] = []

    def __call__(self, config_text: str, *, wait_ports: list[tuple[str, int]] | None = None,
                 timeout: float = 15.0, args: tuple = ()) -> VeildProcess:
        """Writes `config_text` to a file, runs `$VEILD_BIN --config FILE *args` and returns
        once every endpoint `listen` address in the config (or `wait_ports`) accepts TCP
        connections. Raises with veild's output if it exits or times out first."""
        n = len(self.started)
        config_path = self.workdir / f"veil-{n}.yaml"
        if not re.search(r"^events:", config_text, re.M):
            # Usage events of this test go to its own folder, never to /var/log/veil.
            config_text += (f"\nevents:\n  sinks:\n    - {{type: file, "
                            f"path: {self.workdir}/events.jsonl}}\n")
        config_path.write_text(config_text)
        log_path = self.workdir / f"veild-{n}.log"
        ports = _listen_addresses(config_text) if wait_ports is None else wait_ports
        if not ports:
            raise ValueError("no endpoint listen address in the config; pass wait_ports")
        with open(log_path, "ab") as log:
            popen = subprocess.Popen([str(self.binary), "--config", str(config_path), *args],
                                     cwd=self.workdir, env=_clean_env(),
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT)
        proc = VeildProcess(popen, config_path, log_path, ports)
        self.started.append(proc)
        _LIVE.add(proc)
        try:
            deadline = time.monotonic() + timeout
            for host, port in ports:
                wait_for_port(host, port, max(0.1, deadline - time.monotonic()), proc=popen)
        except (RuntimeError, TimeoutError) as e:
            proc.stop()
            raise RuntimeError(f"veild did not come up: {e}\n--- veild output ---\n"
                               f"{_tail(log_path)}") from None
        return proc

    def close(self) -> list[str]:
        """Stops every veild still running; returns the problems seen (crashes, hangs)."""
        problems = []
        for proc in self.started:
            proc.stop()
            if proc.exit_problem:
                problems.append(f"{proc.exit_problem}\n--- {proc.log_path} ---\n"
                                f"{_tail(proc.log_path)}")
        return problems


@pytest.fixture
def start_veild(tmp_path):
    binary = veild_bin()
    if not os.access(binary, os.X_OK):
        # veild is built by default: under CI a missing binary is a failure, never a skip.
        message = f"veild not built: {binary} does not exist (build it, or set VEILD_BIN)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    launcher = VeildLauncher(binary, tmp_path)
    yield launcher
    problems = launcher.close()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
