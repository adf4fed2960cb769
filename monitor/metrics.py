"""Prometheus metrics, one registry per process (no global state): created by the service and
passed to the stages that count things. ``Metrics.null()`` for code paths that do not export."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


@dataclass
class Metrics:
    registry: CollectorRegistry
    polls: Counter
    fetch_latency: Histogram
    articles_stored: Counter
    duplicates: Counter
    matches: Counter
    alerts: Counter
    queue_depth: Gauge
    feeds_unhealthy: Gauge
    feeds_total: Gauge
    loop_lag: Histogram
    # Refreshed from the database on every scrape (monitor.web.app):
    feed_healthy: Gauge
    alerts_failed_waiting: Gauge
    poll_not_modified_ratio: Gauge
    database_up: Gauge
    channel_queue_age: Gauge
    channel_pending: Gauge
    channel_failing: Gauge
    # Set by the outbox on every failed delivery attempt (this process's, since start):
    channel_last_failure: Gauge

    @classmethod
    def create(cls) -> Metrics:
        r = CollectorRegistry()
        return cls(
            registry=r,
            polls=Counter(
                "pantau_polls",
                "Feed polls by outcome (ok, not_modified, unchanged, error)",
                ["status"],
                registry=r,
            ),
            fetch_latency=Histogram(
                "pantau_fetch_seconds",
                "Time to download a feed or page",
                ["kind"],
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
                registry=r,
            ),
            articles_stored=Counter("pantau_articles_stored", "Articles stored", registry=r),
            duplicates=Counter(
                "pantau_duplicates_dropped",
                "Duplicates dropped or attached to a story",
                ["kind"],
                registry=r,
            ),
            matches=Counter("pantau_matches", "Topic matches by topic", ["topic"], registry=r),
            alerts=Counter(
                "pantau_alerts",
                "Alerts by channel and outcome",
                ["channel", "status"],
                registry=r,
            ),
            queue_depth=Gauge("pantau_alert_queue_depth", "Pending alerts", registry=r),
            feeds_unhealthy=Gauge("pantau_feeds_unhealthy", "Unhealthy feeds", registry=r),
            feeds_total=Gauge("pantau_feeds", "Feeds watched", registry=r),
            loop_lag=Histogram(
                "pantau_event_loop_lag_seconds",
                "How late the daemon's event loop wakes a sleeping coroutine",
                buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=r,
            ),
            feed_healthy=Gauge(
                "pantau_feed_healthy",
                "1 when a feed is healthy, 0 when not",
                ["feed"],
                registry=r,
            ),
            alerts_failed_waiting=Gauge(
                "pantau_alerts_failed_waiting",
                "Alerts that gave up and wait for 'pantau alerts retry'",
                registry=r,
            ),
            poll_not_modified_ratio=Gauge(
                "pantau_poll_not_modified_ratio",
                "Share of polls answered 304 Not Modified since start",
                registry=r,
            ),
            database_up=Gauge(
                "pantau_database_up",
                "1 when the database answered the last scrape",
                registry=r,
            ),
            channel_queue_age=Gauge(
                "pantau_channel_queue_age_seconds",
                "How long the channel's oldest pending alert has waited (0 when none)",
                ["channel"],
                registry=r,
            ),
            channel_pending=Gauge(
                "pantau_channel_pending_alerts",
                "Alerts waiting to go out on the channel",
                ["channel"],
                registry=r,
            ),
            channel_failing=Gauge(
                "pantau_channel_failing",
                "1 when the channel's newest undelivered alert failed (see pantau status)",
                ["channel"],
                registry=r,
            ),
            channel_last_failure=Gauge(
                "pantau_channel_last_failure_timestamp_seconds",
                "Unix time of the channel's last failed delivery attempt",
                ["channel"],
                registry=r,
            ),
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
