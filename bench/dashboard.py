"""H2: from a committed status change to the dashboard drawing it, in headless Chromium.

The bench reads time.time() right after UpdateJobStatus returns (the change is committed
before the server answers); the page records Date.now() in the first animation frame
after the execution's row shows the new revision. Both read this machine's wall clock.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import grpc

from bench.harness import percentile
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

CHROMIUM = Path("/usr/bin/chromium")
# Other UIs refresh their lists by polling (a 4 to 10 s interval is common): a change shows
# up after half the interval on average, the whole interval at worst.
POLLING_INTERVAL_MS = "4000-10000"

# Installed in the page: revision -> Date.now() of the frame that first shows it.
OBSERVER = """(id) => {
  window.__drawn = {};
  const body = document.querySelector("table.executions tbody");
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      const row = m.target;
      if (row.dataset?.id !== id) continue;
      const revision = row.dataset.revision;
      requestAnimationFrame(() => { window.__drawn[revision] ??= Date.now(); });
    }
  }).observe(body, { subtree: true, attributes: true, attributeFilter: ["data-revision"] });
}"""


def free_http_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def dashboard_latency(address: str, http_url: str, quick: bool) -> dict[str, Any]:
    if not CHROMIUM.exists():
        return {"skipped": f"{CHROMIUM} not found (make bench installs Debian's chromium)"}
    from playwright.sync_api import sync_playwright

    changes = 50 if quick else 200
    committed: dict[str, float] = {}
    with grpc.insecure_channel(address) as channel, sync_playwright() as playwright:
        stub = TrackingServiceStub(channel)
        execution_id = stub.CreateExecution(
            pb.CreateExecutionRequest(execution={"job_name": "h2"})
        ).execution.execution_id
        stub.UpdateJobStatus(
            pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
        )
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(http_url + "/")
            page.locator(f'tr[data-id="{execution_id}"]').wait_for(timeout=60_000)
            page.locator(".execution-list .live[data-state=live]").wait_for(timeout=60_000)
            page.evaluate(OBSERVER, execution_id)
            for step in range(changes):
                # A real status change each time: RUNNING -> SUSPENDED -> RUNNING ...
                action = (
                    {"suspend": pb.SuspendAction(reason=f"h2 {step}")}
                    if step % 2 == 0
                    else {"resume": pb.ResumeAction()}
                )
                response = stub.UpdateJobStatus(
                    pb.UpdateJobStatusRequest(execution_id=execution_id, **action)
                )
                committed[str(response.job_status.revision)] = time.time() * 1000
                time.sleep(0.1)
            last = max(committed, key=int)
            page.wait_for_function(f"() => window.__drawn['{last}'] !== undefined", timeout=60_000)
            time.sleep(0.5)
            drawn: dict[str, float] = page.evaluate("window.__drawn")
        finally:
            browser.close()
    delays = [drawn[r] - t for r, t in committed.items() if r in drawn]
    return {
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "changes_drawn": len(delays),
        "changes": changes,
        "polling_ui_interval_ms": POLLING_INTERVAL_MS,
    }
