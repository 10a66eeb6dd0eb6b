"""``headwater server``: run the server and manage its database.

Commands:

- ``headwater server start [--host] [--port] [--database-url] [--api-key] [--insecure]
  [--no-ui] [--log-level]`` serves the API, the web UI (unless ``--no-ui``), event bus
  and services in this process.
- ``headwater server database upgrade`` applies pending migrations.
- ``headwater server database reset --yes`` drops every table and recreates the schema.
- ``headwater server database vacuum`` returns the space of deleted rows (SQLite
  ``VACUUM``, PostgreSQL ``VACUUM (ANALYZE)``) and prints the size before and after.

Options fall back to ``HEADWATER_DATABASE_URL``, ``HEADWATER_API_KEY`` and
``HEADWATER_HOME``. Binding a non-loopback address without an API key is refused (exit
code 2) unless ``--insecure`` is given. The web stack is imported only when a command runs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import sys
from typing import Any

import click

__all__ = ["is_loopback", "server"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _settings(**overrides: Any) -> Any:
    # deferred: the server loads SQLAlchemy, pydantic and FastAPI; `--help` does not need them.
    from headwater.server.database.engine import normalize_url
    from headwater.server.settings import ServerSettings

    try:
        settings = ServerSettings.from_env(**overrides)
        normalize_url(settings.resolved_database_url)
        if settings.sqlite_synchronous.upper() not in ("FULL", "NORMAL", "EXTRA", "OFF"):
            raise ValueError(
                "HEADWATER_SQLITE_SYNCHRONOUS must be FULL or NORMAL, "
                f"got {settings.sqlite_synchronous!r}"
            )
    except ValueError as exc:
        _fail(str(exc))
    return settings


@click.group()
def server() -> None:
    """Run and manage the Headwater server."""


@server.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default 4200).")
@click.option(
    "--database-url",
    default=None,
    help="postgresql://user@host:port/db or a SQLite path (default $HEADWATER_HOME/headwater.db).",
)
@click.option("--api-key", default=None, help="Require 'Authorization: Bearer <key>'.")
@click.option("--insecure", is_flag=True, help="Allow a non-loopback address without API key.")
@click.option("--no-ui", is_flag=True, help="Do not serve the web UI at / (the API only).")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"], case_sensitive=False),
    default="info",
    show_default=True,
)
def start(
    host: str | None,
    port: int | None,
    database_url: str | None,
    api_key: str | None,
    insecure: bool,
    no_ui: bool,
    log_level: str,
) -> None:
    """Serve the API, web UI, event bus and background services in one process."""
    settings = _settings(host=host, port=port, database_url=database_url, api_key=api_key)
    if no_ui:
        settings = settings.replace(ui=False)
    if not is_loopback(settings.host) and not settings.api_key and not insecure:
        _fail(
            f"refusing to listen on {settings.host} without an API key; set --api-key "
            "(or HEADWATER_API_KEY), or pass --insecure to allow it."
        )
    if settings.port == 0:
        # Port 0 means "any free port": choose it here so the line printed below (and
        # what clients are told) names the port actually served.
        settings = settings.replace(port=_free_port(settings.host))
    _check_port_free(settings.host, settings.port)
    # Migrate before serving so that an unreachable or broken database is one clear line.
    _run_migration(settings.database_url, "upgrade")
    settings = settings.replace(run_migrations=False)

    # deferred: uvicorn and the app (FastAPI, SQLAlchemy) only when serving.
    import uvicorn

    from headwater.server.app import create_app

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level.lower(),
        access_log=log_level.lower() == "debug",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Release parked long-polls and streams first, so the graceful shutdown does
            # not wait for them.
            events = getattr(app.state, "events", None)
            if events is not None:
                events.begin_shutdown_threadsafe()
            super().handle_exit(sig, frame)

    uvicorn_server = _Server(config)
    ui = f", UI at http://{settings.host}:{settings.port}/" if settings.ui else ""
    click.echo(
        f"Headwater server on http://{settings.host}:{settings.port}/api{ui} "
        f"(database: {_redacted(settings.resolved_database_url)})",
        err=True,
    )
    uvicorn_server.run()
    if not uvicorn_server.started:
        sys.exit(3)


def _free_port(host: str) -> int:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.bind(address)
            port: int = probe.getsockname()[1]
    except OSError as exc:
        _fail(f"cannot find a free port on {host}: {exc}")
    return port


def _check_port_free(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            reason = "address already in use" if exc.errno == 98 else str(exc)
            _fail(f"cannot listen on {host}:{port}: {reason}.")


def _redacted(url: str) -> str:
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


@server.group()
def database() -> None:
    """Manage the server's database schema."""


def _run_migration(database_url: str | None, action: str) -> None:
    # deferred: the database layer loads SQLAlchemy, only for this command.
    from headwater.server.database import Database, migrate

    settings = _settings(database_url=database_url)
    url = settings.resolved_database_url

    async def run() -> None:
        db = Database(url, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            await getattr(migrate, action)(db)
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except OSError as exc:
        _fail(f"cannot reach the database at {_redacted(url)}: {_first_line(exc)}")
    except Exception as exc:
        _fail(f"{action} of {_redacted(url)} failed: {type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@database.command()
@click.option("--database-url", default=None, help="Database URL or SQLite path.")
def upgrade(database_url: str | None) -> None:
    """Apply every pending migration."""
    _run_migration(database_url, "upgrade")
    click.echo("Database is up to date.")


@database.command()
@click.option("--database-url", default=None, help="Database URL or SQLite path.")
@click.option("--yes", is_flag=True, help="Confirm that every row will be deleted.")
def reset(database_url: str | None, yes: bool) -> None:
    """Drop every Headwater table and recreate the schema (all data is lost)."""
    if not yes:
        _fail("reset deletes all data; pass --yes to confirm.")
    _run_migration(database_url, "reset")
    click.echo("Database reset.")


@database.command()
@click.option("--database-url", default=None, help="Database URL or SQLite path.")
def vacuum(database_url: str | None) -> None:
    """Return the space deleted rows left behind and refresh statistics."""
    # deferred: the database layer loads SQLAlchemy, only for this command.
    from headwater.server.database.maintenance import vacuum as run_vacuum

    settings = _settings(database_url=database_url)
    url = settings.resolved_database_url
    try:
        outcome = asyncio.run(run_vacuum(url))
    except FileNotFoundError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot reach the database at {_redacted(url)}: {_first_line(exc)}")
    except Exception as exc:
        _fail(f"vacuum of {_redacted(url)} failed: {type(exc).__name__}: {_first_line(exc)}")
    before, after = outcome["before_bytes"], outcome["after_bytes"]
    click.echo(
        f"Vacuumed the {outcome['database']} database: {before / 1e6:.1f} MB before, "
        f"{after / 1e6:.1f} MB after."
    )
