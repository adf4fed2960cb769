"""Alert channels: rendering alerts and digests, sending them, and flood control.

The durable outbox (rows, retry scheduling, idempotency) lives in storage/ and the pipeline;
this package is the pure formatting plus thin senders it calls.
"""

from monitor.alert.channels import Channel, build_channel, test_channel, test_message
from monitor.alert.console import ConsoleChannel
from monitor.alert.email import EmailChannel, build_email
from monitor.alert.flood import FloodGate, FloodPolicy, QuietHours, make_digest
from monitor.alert.message import AlertMessage, DigestMessage, plain_text, subject
from monitor.alert.retry import deliver_with_retry
from monitor.alert.slack import SlackChannel
from monitor.alert.webhook import WebhookChannel, to_payload

__all__ = [
    "AlertMessage",
    "Channel",
    "ConsoleChannel",
    "DigestMessage",
    "EmailChannel",
    "FloodGate",
    "FloodPolicy",
    "QuietHours",
    "SlackChannel",
    "WebhookChannel",
    "build_channel",
    "build_email",
    "deliver_with_retry",
    "make_digest",
    "plain_text",
    "subject",
    "test_channel",
    "test_message",
    "to_payload",
]
