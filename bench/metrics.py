"""M1 to M3: metric points ingested, a million-point history bucketed, a point drawn live.

M1: LogMetrics of 1,000 points (steps left to the server) sent by h2load, points per second.
M2: GetMetricHistory of a 1,000,000-point series into 1,000 buckets, one call at a time, p99.
M3: from a LogMetrics answered (the point is committed before the server answers) to the
execution page's chart drawing it in headless Chromium: the page records Date.now() in the
chart's draw (its `data-last-seq` changes there), the bench time.time() after the call.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc

from bench.harness import Process, h2load, percentile
from tracking.v1 import execution_pb2 as epb
from tracking.v1 import metric_pb2 as mpb
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

BATCH = 1000
CHROMIUM = Path("/usr/bin/chromium")
# Installed in the page: seq -> Date.now() when the chart drew it.
OBSERVER = """() => {
  window.__drawn = {};
  const figure = document.querySelector('.metrics figure.chart[data-name="loss"]');
  new MutationObserver(() => {
    window.__drawn[figure.dataset.lastSeq] ??= Date.now();
  }).observe(figure, { attributes: true, attributeFilter: ["data-last-seq"] });
}"""


def _running(stub: TrackingServiceStub, name: str) -> str:
    execution_id = stub.CreateExecution(
        pb.CreateExecutionRequest(execution=epb.Execution(job_name=name))
    ).execution.execution_id
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
    )
    return str(execution_id)


def _batch(execution_id: str, first_step: int | None = None) -> pb.LogMetricsRequest:
    points = [mpb.MetricPoint(name="loss", value=1.0 + (i % 97) / 1000) for i in range(BATCH)]
    if first_step is not None:
        for i, point in enumerate(points):
            point.step = first_step + i
    return pb.LogMetricsRequest(execution_id=execution_id, points=points)


def ingest(target: Process, work: Path, quick: bool) -> dict[str, Any]:
    with grpc.insecure_channel(target.address) as channel:
        stub = TrackingServiceStub(channel)
        request = _batch(_running(stub, "m1"))
        stub.LogMetrics(request)
    result = h2load(
        target.address,
        "LogMetrics",
        request,
        seconds=5 if quick else 15,
        clients=4,
        streams=1,
        workdir=work,
    )
    return {
        "M1 LogMetrics (batches of 1,000)": {
            "points_per_second": result.requests_per_second * BATCH,
            "failed": result.failed,
        }
    }


def history(target: Process, quick: bool) -> dict[str, Any]:
    points = 200_000 if quick else 1_000_000
    calls = 30 if quick else 100
    with grpc.insecure_channel(target.address) as channel:
        stub = TrackingServiceStub(channel)
        execution_id = _running(stub, "m2")
        began = time.perf_counter()
        for first in range(0, points, BATCH):
            stub.LogMetrics(_batch(execution_id, first), timeout=60)
        seeded = time.perf_counter() - began
        request = pb.GetMetricHistoryRequest(
            execution_ids=[execution_id], name="loss", max_points=1000
        )
        (found,) = stub.GetMetricHistory(request, timeout=60).histories
        if found.count != points or len(found.buckets) != 1000:
            raise RuntimeError(f"history of {found.count} points in {len(found.buckets)} buckets")
        delays = []
        for _ in range(calls):
            started = time.perf_counter()
            stub.GetMetricHistory(request, timeout=60)
            delays.append((time.perf_counter() - started) * 1000)
    return {
        f"M2 GetMetricHistory ({points:,} points, 1,000 buckets)": {
            "p50_ms": percentile(delays, 50),
            "p99_ms": percentile(delays, 99),
            "calls": calls,
            "seed_points_per_second": points / seeded,
        }
    }


def chart(target: Process, quick: bool) -> dict[str, Any]:
    name = "M3 point committed to drawn"
    if not CHROMIUM.exists():
        return {name: {"skipped": f"{CHROMIUM} not found (make bench installs it)"}}
    if not target.http_address:
        return {name: {"skipped": "no HTTP port"}}
    from playwright.sync_api import sync_playwright

    points = 50 if quick else 200
    committed: dict[str, float] = {}
    with grpc.insecure_channel(target.address) as channel, sync_playwright() as playwright:
        stub = TrackingServiceStub(channel)
        execution_id = _running(stub, "m3")
        stub.LogMetrics(
            pb.LogMetricsRequest(
                execution_id=execution_id, points=[mpb.MetricPoint(name="loss", value=1.0)]
            )
        )
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://{target.http_address}/#/executions/{execution_id}")
            page.locator('.metrics figure.chart[data-name="loss"][data-last-seq="1"]').wait_for(
                timeout=60_000
            )
            page.locator(".metrics .live[data-state=live]").wait_for(timeout=60_000)
            page.evaluate(OBSERVER)
            for step in range(points):
                response = stub.LogMetrics(
                    pb.LogMetricsRequest(
                        execution_id=execution_id,
                        points=[mpb.MetricPoint(name="loss", value=1.0 / (step + 2))],
                    )
                )
                committed[str(response.last_seq)] = time.time() * 1000
                time.sleep(0.1)
            last = max(committed, key=int)
            page.wait_for_function(f"() => window.__drawn['{last}'] !== undefined", timeout=60_000)
            drawn: dict[str, float] = page.evaluate("window.__drawn")
        finally:
            browser.close()
    delays = [drawn[seq] - t for seq, t in committed.items() if seq in drawn]
    return {
        name: {
            "p50_ms": percentile(delays, 50),
            "p99_ms": percentile(delays, 99),
            "points_drawn": len(delays),
            "points": points,
        }
    }
