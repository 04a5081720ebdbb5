"""What ``operator-node run`` does: build every part of the node from the config and run it.

This is the one place that constructs things: registry, metrics, health, store, signer, chain,
API. Components receive what they need through their constructors.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from prometheus_client import CollectorRegistry, disable_created_metrics

from operator_node import __version__
from operator_node.cli import EXIT_FAILURE, EXIT_USAGE
from operator_node.cli.build import build_node
from operator_node.config import Config, load_config, peek_log_format
from operator_node.errors import ConfigError, OperatorNodeError, StartupError
from operator_node.logging import configure_logging, get_logger, writes_json


def run_daemon(args: argparse.Namespace) -> int:
    """Load ``--config``, set up logging and run the node until a signal; returns the exit code.

    A failure that stops the node (a bad configuration, a key that will not load, a port in use)
    is reported in the log's own format: where the log is JSON lines (``log_format`` "json", or
    "auto" off a terminal), as one ``node_failed`` line at level critical on stderr, so a log
    collector sees why the node is not running; otherwise it propagates and ``main`` prints it
    as text. A configuration too broken to load is reported in the format it asks for, as far
    as that can be read.
    """
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _failed_at_start(exc, EXIT_USAGE, peek_log_format(args.config), configured=False)
    configure_logging(config.node.log_level, config.node.log_format)
    try:
        return asyncio.run(run_node(config))
    except OperatorNodeError as exc:
        code = EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILURE
        return _failed_at_start(exc, code, config.node.log_format, configured=True)


def _failed_at_start(exc: OperatorNodeError, code: int, fmt: str, *, configured: bool) -> int:
    """Log ``exc`` as the JSON line ``node_failed`` and return ``code``; re-raise it when the
    log is not JSON (``main`` then prints it as text)."""
    if not writes_json(fmt):
        raise exc
    if not configured:
        configure_logging("info", "json")
    kind = "configuration" if isinstance(exc, ConfigError) else "startup"
    get_logger("cli").critical(
        "node_failed", error=kind, message=str(exc), exit_code=code, version=__version__
    )
    return code


async def run_node(config: Config) -> int:
    """Build the node from ``config`` and run it until a signal; returns the exit code."""
    log = get_logger("cli").bind(node_name=config.node.name)
    _prepare_data_dir(config.node.data_dir)
    # *_created series double the exposition for no operational value.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    stop, force = asyncio.Event(), asyncio.Event()
    _install_signal_handlers(stop, force)
    log.info("node_starting", version=__version__, data_dir=str(config.node.data_dir))
    parts = await build_node(config, registry)
    await parts.node.run(stop, force)
    return 0


def _prepare_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"cannot create data directory {data_dir}: {exc.strerror}") from None


def _install_signal_handlers(stop: asyncio.Event, force: asyncio.Event) -> None:
    """First SIGTERM/SIGINT: orderly stop. A second one: abandon the drain and close at once."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if not stop.is_set():
            get_logger("cli").info("signal_received", signal=name, action="graceful_stop")
            stop.set()
        else:
            get_logger("cli").warning("signal_received", signal=name, action="forced_stop")
            force.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
