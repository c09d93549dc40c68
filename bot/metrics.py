"""Prometheus metrics: the `Telemetry` port, and what `/metrics` serves."""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Counters and histograms in a registry of their own (one per process or test)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "opsbot_http_requests",
            "HTTP requests by route and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "opsbot_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.answers = Counter(
            "opsbot_answers", "Answers given, by intent.", ["intent"], registry=self.registry
        )
        self.unknown = Counter(
            "opsbot_unknown_answers",
            "Questions the bot could not answer.",
            registry=self.registry,
        )
        self.platform_errors = Counter(
            "opsbot_platform_api_errors",
            "Failed calls to a chat platform's API.",
            ["platform", "method", "error"],
            registry=self.registry,
        )
        self.write_backlog = Gauge(
            "opsbot_write_backlog",
            "Records (questions, votes, check-in answers) not written to the database yet,"
            " in memory and spooled to disk.",
            registry=self.registry,
        )
        self.records_spooled = Counter(
            "opsbot_records_spooled",
            "Records kept on disk because the queue was full or the bot stopped before"
            " the database took them.",
            registry=self.registry,
        )
        self.records_refused = Counter(
            "opsbot_records_refused",
            "Records dropped because the database refused them as invalid, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.replies_dropped = Counter(
            "opsbot_replies_dropped",
            "Replies to people given up after their retries (the person got no answer).",
            ["platform", "method"],
            registry=self.registry,
        )

        self.assumed_sent = Counter(
            "opsbot_nudges_assumed_sent",
            "Check-in nudges whose sending was cut short (a crash) and that could not be"
            " looked up on the platform (Teams), taken as sent: at most once, maybe never.",
            ["platform"],
            registry=self.registry,
        )

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._request_count(route, method, status).inc()
        self._route_latency(route).observe(seconds)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one Metrics per process, kept for its life
    def _request_count(self, route: str, method: str, status: int) -> Counter:
        """The labelled counter (looked up once: `labels()` takes a lock and builds a key)."""
        return self.requests.labels(route=route, method=method, status=str(status))

    @functools.lru_cache(maxsize=64)  # noqa: B019 - as above
    def _route_latency(self, route: str) -> Histogram:
        return self.latency.labels(route=route)

    def answered(self, intent: str) -> None:
        self.answers.labels(intent=intent).inc()
        if intent == "unknown":
            self.unknown.inc()

    def platform_error(self, platform: str, method: str, error: str) -> None:
        self.platform_errors.labels(platform=platform, method=method, error=error).inc()

    def reply_dropped(self, platform: str, method: str) -> None:
        self.replies_dropped.labels(platform=platform, method=method).inc()

    def backlog(self, records: int) -> None:
        self.write_backlog.set(records)

    def spooled(self, records: int) -> None:
        self.records_spooled.inc(records)

    def refused(self, kind: str) -> None:
        self.records_refused.labels(kind=kind).inc()

    def ambiguous_send(self, platform: str) -> None:
        self.assumed_sent.labels(platform=platform).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
