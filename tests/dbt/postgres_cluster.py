"""A throw-away PostgreSQL cluster for the portability tests: Debian's server binaries
(``make postgres`` installs the ``postgresql`` package), ``initdb`` into a temporary directory,
``pg_ctl`` on a free loopback port with the socket in that directory, trust authentication
for loopback only; stopped and deleted at the end.

PostgreSQL refuses to run as root: as root (CI containers) the cluster is owned and run by an
unprivileged account (``postgres``, which Debian's package creates, or ``nobody``)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def server_bin() -> Path | None:
    """The newest installed server's bin directory (Debian keeps them per major version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged account (postgres/nobody) for initdb")


@dataclass
class Cluster:
    bindir: Path
    base: Path
    port: int
    user: str | None
    database: str = "warehouse"
    role: str = "advocacy"

    @property
    def data(self) -> Path:
        return self.base / "data"

    def _cmd(self, *args: str) -> list[str]:
        return (["runuser", "-u", self.user, "--"] if self.user else []) + list(args)

    def _run(self, *args: str) -> None:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=120,
                              cwd=self.base)
        if proc.returncode:
            raise RuntimeError(f"{args[0]} failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")

    def start(self) -> None:
        if self.user:
            shutil.chown(self.base, self.user)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.role,
                  "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
        # fsync off: a throw-away cluster, durability is not what is tested
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
                  "-l", str(self.base / "server.log"), "start",
                  "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 "
                        f"-c unix_socket_directories={self.base} -c fsync=off "
                        f"-c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", self.role, self.database)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                                     "fast", "-w", "stop"), capture_output=True, timeout=120,
                           cwd=self.base)
        shutil.rmtree(self.base, ignore_errors=True)

    def env(self, schema: str = "analytics") -> dict[str, str]:
        """The variables the ``postgres`` target of dbt_project/profiles.yml reads."""
        return {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.port),
                "POSTGRES_USER": self.role, "POSTGRES_PASSWORD": "",
                "POSTGRES_DATABASE": self.database, "POSTGRES_SCHEMA": schema}

    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.role} dbname={self.database}"


def start_cluster() -> Cluster:
    bindir = server_bin()
    if bindir is None:
        raise FileNotFoundError("no PostgreSQL server: `make postgres` installs Debian's postgresql")
    base = Path(tempfile.mkdtemp(prefix="advocacy-pg-"))
    os.chmod(base, 0o755)
    cluster = Cluster(bindir=bindir, base=base, port=_free_port(), user=_run_as())
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
