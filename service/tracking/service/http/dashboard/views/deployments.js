// Deployments: the list, and one deployment with its mappings and its last executions (live).

import { call } from "../api.js";
import { facts, h, replace, section, table } from "../dom.js";
import { enumName, when, words } from "../format.js";
import { comparePanel } from "./compare.js";
import { executionList } from "./executions.js";

const rule = (d) => words(enumName(d.executionRule, "EXECUTION_RULE_"));
const mode = (d) => words(enumName(d.mode, "DEPLOYMENT_MODE_"));
const health = (d) => words(enumName(d.status, "DEPLOYMENT_STATUS_"));
const enabled = (d) => (d.isEnabled === false ? "disabled" : "enabled");

// The schedule in words with its cron text, as the server describes it.
function schedule(d) {
  if (!d.schedule) return h("span", { class: "muted" }, "on call (endpoint)");
  return h(
    "span",
    { class: "schedule" },
    h("span", {}, d.humanReadableSchedule || d.schedule),
    h("code", { class: "id" }, `${d.schedule} (UTC)`),
  );
}

function nextRun(d) {
  return d.nextRunTime ? h("time", { datetime: d.nextRunTime, title: d.nextRunTime }, when(d.nextRunTime)) : "—";
}

export function deploymentsView(root) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const pager = h("div", { class: "pager" });
  replace(root, h("h1", {}, "Deployments"), body, pager);
  const tokens = [""];
  let page = 0;

  async function load() {
    try {
      const response = await call("ListDeployments", { pageSize: 50, pageToken: tokens[page] });
      const deployments = response.deployments || [];
      if (!deployments.length) {
        replace(body, h("p", { class: "muted" }, "No deployments yet."));
      } else {
        replace(
          body,
          table(
            ["Name", "Pipeline", "Rule", "Schedule", "Next run", "Mode", "Status", "Last execution"],
            deployments.map((d) => [
              h("a", { href: `#/deployments/${encodeURIComponent(d.name)}` }, d.name),
              d.pipelineName,
              rule(d),
              schedule(d),
              nextRun(d),
              mode(d),
              `${health(d)}, ${enabled(d)}`,
              d.lastExecutionId
                ? h("a", { href: `#/executions/${encodeURIComponent(d.lastExecutionId)}` }, d.lastExecutionId)
                : "—",
            ]),
          ),
        );
      }
      const next = response.nextPageToken;
      if (next) tokens[page + 1] = next;
      replace(
        pager,
        h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; load(); } }, "Previous page"),
        h("span", { class: "page" }, `Page ${page + 1}`),
        h("button", { type: "button", disabled: !next, onclick: () => { page += 1; load(); } }, "Next page"),
      );
    } catch (error) {
      replace(body, h("p", { class: "message error", role: "alert" }, error.message));
    }
  }
  load();
}

function source(m) {
  const name = words(enumName(m.source, "INPUT_SOURCE_"));
  const detail = m.constantValue || m.environmentVariableName || m.endpointInputName || m.datastorePath;
  return [name, detail ? h("code", { class: "id" }, detail) : null];
}

function destination(m) {
  const name = words(enumName(m.destination, "OUTPUT_DESTINATION_"));
  const detail = m.endpointOutputName || m.datastorePath;
  return [name, detail ? h("code", { class: "id" }, detail) : null];
}

export function deploymentView(root, name) {
  const content = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const executions = executionList({ deployment: name }, { pageSize: 10, showDeployment: false });
  const compare = comparePanel(name);
  replace(
    root,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/deployments" }, "Deployments"), " / ", name),
    h("h1", {}, name),
    content,
    section("Last executions", executions.element, h("p", {}, h("a", { href: `#/?deployment=${encodeURIComponent(name)}` }, "All its executions"))),
    compare.element,
  );
  call("GetDeployment", { name })
    .then(({ deployment: d }) => {
      const inputsMapping = d.inputsMapping || [];
      const outputsMapping = d.outputsMapping || [];
      replace(
        content,
        h(
          "div",
          { class: "overview" },
          section(
            "How it runs",
            facts([
              ["Pipeline", d.pipelineName],
              ["Rule", rule(d)],
              ["Schedule", schedule(d)],
              ["Next run", d.schedule ? nextRun(d) : ""],
              ["Mode", mode(d)],
              ["Status", `${health(d)}, ${enabled(d)}`],
              ["Pods", (d.pods || []).map((p) => `${p.podId} (${p.status})`).join(", ")],
            ]),
          ),
          section(
            "About",
            facts([
              ["Description", d.description],
              ["Labels", Object.entries(d.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ")],
              ["Created", when(d.createTime)],
              ["Created by", d.createdBy],
              ["Updated", when(d.updateTime)],
              ["Updated by", d.updatedBy],
              ["Endpoint token", d.endpointToken ? "set (not shown)" : ""],
            ]),
          ),
        ),
        section(
          "Inputs mapping",
          inputsMapping.length
            ? table(
                ["Input", "Type", "From", "Required", "Default", "Description"],
                inputsMapping.map((m) => [
                  m.pipelineInputName, m.dataType || "—", source(m), m.isRequired ? "yes" : "no",
                  m.defaultValue || "—", m.description || "",
                ]),
              )
            : h("p", { class: "muted" }, "No inputs mapped."),
        ),
        section(
          "Outputs mapping",
          outputsMapping.length
            ? table(
                ["Output", "Type", "To", "Description"],
                outputsMapping.map((m) => [m.pipelineOutputName, m.dataType || "—", destination(m), m.description || ""]),
              )
            : h("p", { class: "muted" }, "No outputs mapped."),
        ),
      );
    })
    .catch((error) => replace(content, h("p", { class: "message error", role: "alert" }, error.message)));
  return () => {
    executions.dispose();
    compare.dispose();
  };
}
