"""The alert stage: rules, the durable outbox's delivery policy, flood control and digests,
and the channels (console, Slack, email, webhook, JSON lines, Apprise) behind one interface.

Rows live in storage/; this package decides what to send, when, and sends it.
"""

from monitor.alert.channels import Channel, build_channel, test_channel, test_message
from monitor.alert.digest import DigestSchedule
from monitor.alert.flood import FloodGate, FloodPolicy, QuietHours, make_digest
from monitor.alert.message import (
    AlertMessage,
    DigestMessage,
    emphasise,
    format_wib,
    is_headline_snippet,
    subject,
)
from monitor.alert.outbox import (
    DeliveryPolicy,
    DeliveryReport,
    Outbox,
    alert_payload,
    failed_alerts,
    retry_failed,
)
from monitor.alert.rules import AlertRule, matching_rules
from monitor.alert.sinks import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, RotatingJsonl, RotationPolicy

__all__ = [
    "DEFAULT_BACKUPS",
    "DEFAULT_MAX_BYTES",
    "AlertMessage",
    "AlertRule",
    "Channel",
    "DeliveryPolicy",
    "DeliveryReport",
    "DigestMessage",
    "DigestSchedule",
    "FloodGate",
    "FloodPolicy",
    "Outbox",
    "QuietHours",
    "RotatingJsonl",
    "RotationPolicy",
    "alert_payload",
    "build_channel",
    "emphasise",
    "failed_alerts",
    "format_wib",
    "is_headline_snippet",
    "make_digest",
    "matching_rules",
    "retry_failed",
    "subject",
    "test_channel",
    "test_message",
]
