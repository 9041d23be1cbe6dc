"""A job's progress, stage by stage: the stage it is in, how far through it, the whole job's fraction and an estimate
of the seconds left, written to the job store; and the owner's cancel request, answered by stopping."""

from __future__ import annotations

import time

from gnnpt.adaptation.jobs import JobStore

REPORT_EVERY_S = 1.0  # at most one job-store write a second from the fine-grained callers (pretraining batches)


class Cancelled(Exception):
    """The job's owner cancelled it."""


class StageProgress:
    """``plan``: each stage's expected seconds, in order. The whole job's fraction weighs each stage by them; the
    estimate of the seconds left scales the plan's remaining seconds by how fast the work done so far went."""

    def __init__(self, store: JobStore, job_id: str, plan: dict[str, float]):
        self.store, self.job_id, self.plan = store, job_id, {k: max(v, 1.0) for k, v in plan.items()}
        self.total = sum(self.plan.values())
        self.start = time.monotonic()
        self.stage: str | None = None
        self.done = 0.0  # expected seconds of the stages finished
        self.last = 0.0

    def begin(self, stage: str) -> None:
        """Enter ``stage`` (the stages before it count as done)."""
        if stage not in self.plan:
            raise KeyError(f"stage {stage!r} is not in the job's plan {list(self.plan)}")
        stages = list(self.plan)
        self.done = sum(self.plan[s] for s in stages[: stages.index(stage)])
        self.stage = stage
        self.update(0.0, force=True)

    def update(self, fraction: float, force: bool = False) -> None:
        """``fraction`` of the current stage is done; raises :class:`Cancelled` when the owner asked to stop (checked
        at most once a second unless ``force``)."""
        now = time.monotonic()
        if not force and now - self.last < REPORT_EVERY_S:
            return
        self.last = now
        fraction = min(max(fraction, 0.0), 1.0)
        expected_done = self.done + self.plan[self.stage] * fraction
        overall = expected_done / self.total
        elapsed = now - self.start
        eta = (self.total - expected_done) * elapsed / expected_done if expected_done > 1.0 else None
        self.store.update(self.job_id, stage=self.stage, stage_fraction=round(fraction, 4),
                          progress=round(overall, 4), eta_s=None if eta is None else round(eta, 1))  # fmt: skip
        if self.store.cancel_requested(self.job_id):
            raise Cancelled("cancelled by its owner")

    def steps(self, done: int, total: int) -> None:
        """:meth:`update` from a count of fits (auto's ``steps``), every one reported."""
        self.update(done / max(total, 1), force=True)
