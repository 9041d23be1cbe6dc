"""Domain adaptation as a service: adaptation jobs (spec, SQLite job store, resumable runner, worker processes)."""

from gnnpt.adaptation.jobs import Job, JobStore
from gnnpt.adaptation.spec import AdaptationSpec, UploadReport

__all__ = ["AdaptationSpec", "Job", "JobStore", "UploadReport"]
