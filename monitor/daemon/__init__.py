"""The daemon: the runtime built once from settings, the poller and its schedule, the pipeline
that carries one entry through the stages, the story decision, and the service lifecycle
(signals, leases, maintenance, systemd notify and watchdog, logs).
"""

from monitor.daemon.feeds import add_feed, feeds_file_path, load_feeds_file, sync_feeds, zone_for
from monitor.daemon.logs import RedactingFilter, Redactor, setup_logging
from monitor.daemon.notify import Notifier
from monitor.daemon.pipeline import ArticleOutcome
from monitor.daemon.runtime import (
    build_channels,
    fetch_policy,
    load_matcher,
    open_engine,
    open_runtime,
)
from monitor.daemon.service import run_daemon

__all__ = [
    "ArticleOutcome",
    "Notifier",
    "RedactingFilter",
    "Redactor",
    "add_feed",
    "build_channels",
    "feeds_file_path",
    "fetch_policy",
    "load_feeds_file",
    "load_matcher",
    "open_engine",
    "open_runtime",
    "run_daemon",
    "setup_logging",
    "sync_feeds",
    "zone_for",
]
