"""``headwater agent local start``: run a local agent in the foreground.

Only click is imported at module level; the agent and its client load when the command
runs, so ``headwater --help`` stays fast.
"""

from __future__ import annotations

import logging
import socket

import click

from headwater.exceptions import HeadwaterException

__all__ = ["agent"]


def _parse_env(values: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--env")
        env[key] = value
    return env


@click.group()
def agent() -> None:
    """Start agents that run flow runs."""


@agent.group()
def local() -> None:
    """The local agent: runs each flow run as a subprocess on this machine."""


@local.command()
@click.option(
    "--label", "-l", "labels", multiple=True, help="A label this agent offers (repeatable)."
)
@click.option("--name", "-n", default=None, help="Agent name shown by the server.")
@click.option(
    "--max-concurrent",
    type=click.IntRange(min=1),
    default=None,
    help="Most flow runs executed at once, so at most this many flow-run processes "
    "(default: unlimited).",
)
@click.option("--api-url", default=None, help="Server API URL (default: HEADWATER_API_URL).")
@click.option("--api-key", "-k", default=None, help="API key (default: HEADWATER_API_KEY).")
@click.option(
    "--env", "-e", "env", multiple=True, help="KEY=VALUE for every flow run (repeatable)."
)
@click.option(
    "--import-path",
    "-p",
    "import_paths",
    multiple=True,
    help="Directory added to the flow-run processes' PYTHONPATH (repeatable).",
)
@click.option(
    "--show-flow-logs", "-f", is_flag=True, help="Show the flow-run processes' output here."
)
@click.option(
    "--no-warm-spare",
    is_flag=True,
    help="Start every flow-run process on demand instead of keeping one warm.",
)
@click.option(
    "--no-fork-server",
    is_flag=True,
    help="Spawn every flow-run process instead of forking it from a warm fork server.",
)
@click.option(
    "--cancel-grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL when a run is cancelled.",
)
@click.option(
    "--shutdown-grace",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds running flow runs get to finish when the agent stops.",
)
@click.option(
    "--claim-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds the server may hold one claim request open.",
)
@click.option(
    "--hostname-label/--no-hostname-label",
    default=False,
    help="Add this machine's host name as a label (default: off; Headwater never adds it "
    "by itself, so --no-hostname-label is accepted and changes nothing).",
)
@click.option(
    "--max-polls",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many claims for work, once the runs taken have ended.",
)
@click.option(
    "--load-failure-limit",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Refuse the runs of a flow version that failed to load this many times in a row "
    "within --load-failure-window seconds (0: never refuse).",
)
@click.option(
    "--load-failure-window",
    type=click.FloatRange(min=0.001),
    default=60.0,
    show_default=True,
    help="Seconds within which the load failures counted by --load-failure-limit fall.",
)
@click.option(
    "--agent-address",
    default=None,
    help="Accepted for compatibility and ignored: the agent serves no health checks.",
)
@click.option(
    "--no-cloud-logs",
    is_flag=True,
    help="Do not ship the flow runs' log records to the server.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
def start(
    labels: tuple[str, ...],
    name: str | None,
    max_concurrent: int | None,
    api_url: str | None,
    api_key: str | None,
    env: tuple[str, ...],
    import_paths: tuple[str, ...],
    show_flow_logs: bool,
    no_warm_spare: bool,
    no_fork_server: bool,
    cancel_grace: float,
    shutdown_grace: float,
    claim_timeout: float,
    hostname_label: bool,
    max_polls: int | None,
    load_failure_limit: int,
    load_failure_window: float,
    agent_address: str | None,
    no_cloud_logs: bool,
    log_level: str,
) -> None:
    """Start a local agent; it runs until Ctrl-C or SIGTERM.

    On shutdown it stops claiming, gives running flow runs --shutdown-grace seconds to
    finish, then terminates them; their runs end Failed with a message saying so.
    """
    env_vars = _parse_env(env)
    if hostname_label:
        labels = (*labels, socket.gethostname())
    if no_cloud_logs:
        # The flow-run processes read this setting; the agent's own lines about a run
        # (submission, exit) are still written.
        env_vars["HEADWATER__LOGGING__LOG_TO_BACKEND"] = "false"
    if agent_address is not None:
        click.echo(
            f"Warning: --agent-address {agent_address} is ignored: Headwater agents serve "
            "no health-check endpoint.",
            err=True,
        )
    # Only the agent's own loggers follow --log-level; HTTP libraries stay at WARNING.
    logging.basicConfig(
        level=logging.WARNING,
        format="[%(asctime)s] %(levelname)s - %(name)s | %(message)s",
    )
    logging.getLogger("headwater.agent").setLevel(log_level.upper())
    # deferred: the agent loads the client (httpx); `headwater agent --help` does not need it.
    from headwater.agent.local import LocalAgent

    try:
        instance = LocalAgent(
            name=name,
            labels=labels,
            env_vars=env_vars,
            max_concurrent=max_concurrent,
            api_url=api_url,
            api_key=api_key,
            claim_timeout=claim_timeout,
            cancel_grace=cancel_grace,
            shutdown_grace=shutdown_grace,
            import_paths=import_paths,
            show_flow_logs=show_flow_logs,
            warm_spare=not no_warm_spare,
            fork_server=not no_fork_server,
            max_polls=max_polls,
            load_failure_limit=load_failure_limit,
            load_failure_window=load_failure_window,
        )
        instance.start(install_signal_handlers=True)
    except Exception as exc:
        if isinstance(exc, HeadwaterException | ValueError):
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
        raise
