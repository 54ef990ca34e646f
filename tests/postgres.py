"""A real PostgreSQL server in a temporary folder, for tests of what several processes share.

`initdb` a cluster in a fresh folder, run `postgres` on a free 127.0.0.1 port with its unix socket in that
folder, stop it (fast shutdown) and remove the folder in teardown. Password authentication over TCP, as a
server on another machine would ask: `url` holds no password, `env()` gives PGPASSWORD, as `stacks tune
--db` wants it. Skipped, with the reason printed, where the server binaries are absent. As root (a
container), the server runs as the `postgres` user, which initdb requires.

Fixtures (tests/conftest.py): `postgres_server` (one per session) and `postgres_url` (a new database per test).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

USER = "tuner"
START_SECONDS = 30


def binaries() -> Path | None:
    """The folder holding initdb and postgres: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(os.path.realpath(found)).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(f"{folder}/initdb") and os.path.exists(f"{folder}/postgres"):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="pg-"))  # short: a unix socket path has ~100 characters
        self.password = uuid.uuid4().hex
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self._as: dict = {}
        if os.geteuid() == 0:  # initdb refuses to run as root
            account = pwd.getpwnam("postgres")
            self._as = {"user": account.pw_uid, "group": account.pw_gid}
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        data, pwfile = self.folder / "data", self.folder / "pw"
        pwfile.write_text(self.password)
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        self.log = (self.folder / "server.log").open("wb")
        done = subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8"],
            capture_output=True, **self._as,
        )  # fmt: skip
        if done.returncode:
            self.close()
            raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')[-2000:]}")
        self.process = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=100"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, **self._as,
        )  # fmt: skip
        self._wait()

    def _wait(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                psycopg.connect(
                    host="127.0.0.1", port=self.port, user=USER, password=self.password, dbname="postgres"
                ).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(
                        f"postgres did not start: {(self.folder / 'server.log').read_text(errors='replace')[-2000:]}"
                    ) from None
                time.sleep(0.1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def env(self) -> dict[str, str]:
        return {"PGPASSWORD": self.password}

    def create_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        conn = psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=self.password, dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        conn.close()
        return name

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: clients disconnected, no checkpoint wait
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
