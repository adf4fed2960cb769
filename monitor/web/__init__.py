"""The daemon's HTTP status server: health, readiness, Prometheus metrics and a dashboard."""

from monitor.web.app import create_app
from monitor.web.server import StatusServer

__all__ = ["StatusServer", "create_app"]
