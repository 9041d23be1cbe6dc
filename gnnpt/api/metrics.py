"""Prometheus metrics of one app: requests, latency, molecules scored, errors by kind (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class Metrics:
    """The collectors, in a registry of their own so that several apps (tests, workers) never share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("gnnpt_requests_total", "HTTP requests by route, method and status.",
                                ["route", "method", "status"], registry=self.registry)  # fmt: skip
        self.latency = Histogram("gnnpt_request_latency_seconds", "Request latency by route.", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)  # fmt: skip
        self.molecules = Counter("gnnpt_molecules_scored_total", "Molecules scored, by model.", ["model"],
                                 registry=self.registry)  # fmt: skip
        self.errors = Counter("gnnpt_errors_total", "Errors by kind: a molecule's reason, or an HTTP error class.",
                              ["kind"], registry=self.registry)  # fmt: skip
        self.batch_size = Histogram(
            "gnnpt_batch_molecules",
            "Molecules per micro-batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
