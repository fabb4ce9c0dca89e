// One execution: where it stands (live, from WatchStatus), its steps, inputs, outputs and
// results, its logs, and a cancel button.

import { call, stream } from "../api.js";
import { facts, h, replace, section, table, unbroken } from "../dom.js";
import {
  durationOf, enumName, isTerminal, json, seconds, shellJoin, shortDuration, statusBadge, statusOf, when,
  words,
} from "../format.js";
import { progressCell } from "./executions.js";
import { logPanel } from "./logs.js";
import { metricsPanel } from "./metrics.js";

// Changes after which the page reads the execution again (the event carries only the status).
const RELOAD = new Set(["CHANGE_KIND_STEP", "CHANGE_KIND_OUTPUTS", "CHANGE_KIND_TIMES"]);

function value(v) {
  if (v === undefined) return h("span", { class: "muted" }, "—");
  return h("pre", { class: "json" }, json(v));
}

function whereFrom(item, kind) {
  const name = kind === "input" ? enumName(item.source, "INPUT_SOURCE_") : enumName(item.destination, "OUTPUT_DESTINATION_");
  const detail =
    item.constantValue || item.environmentVariableName || item.endpointInputName || item.endpointOutputName ||
    item.datastorePath || (item.isNull ? "null" : "");
  return [words(name), detail ? h("span", { class: "id" }, detail) : null];
}

function steps(execution) {
  const list = execution.steps || [];
  if (!list.length) return h("p", { class: "muted" }, "No steps reported.");
  return h(
    "ol",
    { class: "timeline" },
    list.map((step) => {
      const status = { status: step.status, startTime: step.startTime, endTime: step.endTime };
      const took = step.startTime && step.endTime ? (Date.parse(step.endTime) - Date.parse(step.startTime)) / 1000 : NaN;
      return h(
        "li",
        { class: `step status-${statusOf(status).toLowerCase()}` },
        h("div", { class: "step-head" }, statusBadge(status, h), h("strong", {}, step.name)),
        facts([
          ["Started", when(step.startTime)],
          ["Ended", when(step.endTime)],
          ["Took", Number.isFinite(took) ? shortDuration(took) : ""],
          ["Origin", step.origin ? words(enumName(step.origin, "STEP_ORIGIN_")) : ""],
          ["Repository", step.repositoryUrl],
          ["Branch", step.repositoryBranch],
          ["Commit", step.commitId],
          ["Requirements", step.requirementsPath],
        ]),
      );
    }),
  );
}

function inputs(execution) {
  const list = execution.inputs || [];
  if (!list.length) return h("p", { class: "muted" }, "No inputs.");
  return table(
    ["Name", "Type", "Source", "Value"],
    list.map((i) => [i.name, i.dataType || "—", whereFrom(i, "input"), value(i.value)]),
  );
}

function outputs(execution) {
  const list = execution.outputs || [];
  if (!list.length) return h("p", { class: "muted" }, isTerminal(execution.jobStatus) ? "No outputs." : "No outputs yet.");
  return table(
    ["Name", "Type", "Destination", "Value"],
    list.map((o) => [o.name, o.dataType || "—", whereFrom(o, "output"), value(o.value)]),
  );
}

function mapping(map, empty) {
  const entries = Object.entries(map || {});
  if (!entries.length) return h("p", { class: "muted" }, empty);
  return facts(entries.map(([k, v]) => [k, h("code", {}, v)]));
}

function labels(map) {
  const entries = Object.entries(map || {});
  return entries.length ? h("ul", { class: "labels" }, entries.map(([k, v]) => h("li", {}, `${k}=${v}`))) : "";
}

export function executionView(root, executionId, who) {
  const title = h("h1", {}, unbroken(executionId));
  const badge = h("span");
  const statusFacts = h("div");
  const progress = h("div", { class: "progress-large" });
  const summary = h("div");
  const details = h("div", { class: "details" });
  const live = h("span", { class: "live", role: "status" }, "connecting…");
  const problem = h("p", { class: "message error", role: "alert" });
  const cancelBox = h("div", { class: "cancel" });
  let execution = null;
  let reloading = null;

  function drawStatus(jobStatus) {
    replace(badge, statusBadge(jobStatus, h));
    replace(progress, progressCell(jobStatus));
    replace(
      statusFacts,
      facts([
        ["Stop message", jobStatus.stopMessage],
        ["Cancel reason", jobStatus.cancelReason],
        ["Created", when(jobStatus.createTime)],
        ["Started", when(jobStatus.startTime)],
        ["Ended", when(jobStatus.endTime)],
        ["Duration", h("span", { class: "duration" }, durationOf(jobStatus))],
        ["Last heard from", when(jobStatus.lastHeartbeatTime)],
        ["Lease runs out", when(jobStatus.leaseExpireTime)],
        ["Revision", jobStatus.revision],
      ]),
    );
    document.body.dataset.status = statusOf(jobStatus);
    drawCancel(jobStatus);
  }

  function drawCancel(jobStatus) {
    if (isTerminal(jobStatus)) return replace(cancelBox);
    if (cancelBox.querySelector(".confirm")) return;
    const ask = h("button", { type: "button", class: "danger", onclick: confirmCancel }, "Cancel execution");
    replace(cancelBox, ask);
  }

  function confirmCancel() {
    const yes = h("button", { type: "button", class: "danger", onclick: cancel }, "Yes, cancel it");
    const no = h("button", { type: "button", onclick: () => drawCancel(execution.jobStatus) }, "Keep it running");
    replace(cancelBox, h("div", { class: "confirm", role: "group", "aria-label": "Confirm cancel" },
      h("span", {}, "Cancel this execution? Its worker is asked to stop."), yes, no));
    no.focus();
  }

  async function cancel() {
    problem.textContent = "";
    try {
      const response = await call("CancelExecution", {
        executionId,
        reason: `canceled from the dashboard by ${who.name || "anonymous"}`,
      });
      replace(cancelBox);
      if (Number(response.jobStatus.revision) >= Number(execution.jobStatus.revision)) {
        execution.jobStatus = response.jobStatus;
        drawStatus(response.jobStatus);
      }
    } catch (error) {
      problem.textContent = `Cancel refused: ${error.message}`;
      replace(cancelBox);
      drawCancel(execution.jobStatus);
    }
  }

  function drawAll() {
    replace(title, unbroken(execution.jobName || executionId));
    const dep = execution.deploymentName;
    replace(
      summary,
      facts([
        ["Execution", h("code", {}, executionId)],
        ["Deployment", dep ? h("a", { href: `#/deployments/${encodeURIComponent(dep)}` }, dep) : ""],
        ["Pipeline", execution.pipelineName],
        ["Job type", execution.jobType ? words(enumName(execution.jobType, "JOB_TYPE_")) : ""],
        ["Experiment", execution.experimentName],
        ["Model run", execution.modelRunId],
        ["Created by", execution.createdBy],
        ["Heartbeat timeout", execution.heartbeatTimeout ? shortDuration(seconds(execution.heartbeatTimeout)) : ""],
        ["Command", (execution.command || []).length ? h("code", { class: "command" }, unbroken(shellJoin(execution.command))) : ""],
        ["Labels", labels(execution.labels)],
      ]),
    );
    replace(
      details,
      section("Steps", steps(execution)),
      section("Inputs", inputs(execution)),
      section("Outputs", outputs(execution)),
      section("Result", execution.result ? value(execution.result) : h("p", { class: "muted" }, isTerminal(execution.jobStatus) ? "No result." : "No result yet.")),
      section("Export paths", mapping(execution.exportPaths, "None.")),
      section("Source views", mapping(execution.sourceViews, "None.")),
    );
    drawStatus(execution.jobStatus || {});
  }

  async function reload() {
    if (reloading) return reloading;
    reloading = call("GetExecution", { executionId })
      .then((response) => {
        const fresher = Number(response.execution.jobStatus?.revision || 0) >= Number(execution?.jobStatus?.revision || 0);
        if (!execution || fresher) execution = response.execution;
        drawAll();
      })
      .finally(() => {
        reloading = null;
      });
    return reloading;
  }

  const logs = logPanel(executionId);
  const metrics = metricsPanel(executionId);
  const crumbs = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Executions"), " / ", executionId);
  replace(
    root,
    crumbs,
    h("div", { class: "title" }, title, badge, live),
    problem,
    h("div", { class: "overview" },
      h("section", { class: "panel" }, h("h2", {}, "Status"), progress, cancelBox, statusFacts),
      h("section", { class: "panel" }, h("h2", {}, "About"), summary)),
    metrics.element,
    logs.element,
    details,
  );

  let closeWatch = () => {};
  reload()
    .then(() => {
      closeWatch = stream("WatchStatus", { execution_id: executionId }, {
        data: (message) => {
          const event = message.event;
          if (!event) return;
          if ((event.changes || []).includes("CHANGE_KIND_DELETED")) {
            problem.textContent = "This execution was deleted.";
            return;
          }
          if (Number(event.revision) < Number(execution.jobStatus?.revision || 0)) return;
          execution.jobStatus = event.jobStatus;
          drawStatus(event.jobStatus);
          if ((event.changes || []).some((c) => RELOAD.has(c))) reload();
        },
        state: (s) => {
          live.textContent = s === "live" ? "live" : "reconnecting…";
          live.dataset.state = s;
        },
        end: () => {
          live.textContent = "ended";
          live.dataset.state = "ended";
          reload();
        },
        fail: (error) => {
          live.textContent = "not live";
          problem.textContent = error.message;
        },
        resume: (revision) => ({ execution_id: executionId, after_revision: revision }),
      });
    })
    .catch((error) => {
      // Nothing to show (not found, no access): the message alone, without empty panels.
      logs.dispose();
      problem.textContent = error.message;
      replace(root, crumbs, h("div", { class: "title" }, title), problem);
    });
  const ticker = setInterval(() => {
    const el = statusFacts.querySelector(".duration");
    if (el && execution?.jobStatus) el.textContent = durationOf(execution.jobStatus);
  }, 1000);

  return () => {
    closeWatch();
    logs.dispose();
    metrics.dispose();
    clearInterval(ticker);
    delete document.body.dataset.status;
  };
}
