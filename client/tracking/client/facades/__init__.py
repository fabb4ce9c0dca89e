"""Thin facades that give TrackingClient the shapes of APIs users already know.

Each facade wraps a TrackingClient and maps its typed results to the dicts, strings and
properties of one familiar API; none keeps state of its own besides the ids it was given.

- foundations.Deployment: job_name, is_job_complete, get_job_status, fetch_job_results, ...
- perceval.JobStatus / RunningStatus: job status properties and worker-side updates.
- jobmonitor.JobMonitor: get_status() as a JSON-like dict.
- craftai.CraftAiSdk: deployments, pipeline executions, their inputs, outputs and logs.
"""

from .craftai import CraftAiSdk
from .foundations import Deployment
from .jobmonitor import JobMonitor
from .perceval import JobStatus, RunningStatus

__all__ = ["CraftAiSdk", "Deployment", "JobMonitor", "JobStatus", "RunningStatus"]
