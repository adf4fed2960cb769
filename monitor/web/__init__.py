"""The daemon's HTTP status server: health, readiness, Prometheus metrics, the dashboard and
the live event stream (SSE)."""

from monitor.web.app import create_app, day_start
from monitor.web.dashboard import ago, fmt_time
from monitor.web.server import ServerLimits, StatusServer
from monitor.web.sse import sse_routes

__all__ = [
    "ServerLimits",
    "StatusServer",
    "ago",
    "create_app",
    "day_start",
    "fmt_time",
    "sse_routes",
]
