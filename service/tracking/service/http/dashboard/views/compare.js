// A deployment's last executions compared: the same metric of each, overlaid on one chart.

import { call } from "../api.js";
import { h, replace, section } from "../dom.js";
import { comparisonChart, historyQuery } from "./charts.js";

const LAST = 5;
const POINTS = 500;

export function comparePanel(deploymentName) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const element = section(`Metrics of the last ${LAST} executions`, body);
  let chart = null;

  async function show(ids, byName, name) {
    chart?.dispose?.();
    const withIt = ids.filter((id) => byName.get(name).has(id));
    const response = await historyQuery(withIt, name, POINTS, null);
    chart = comparisonChart(withIt, name, response.histories || []);
    replace(body, picker(ids, byName, name), chart);
  }

  function picker(ids, byName, chosen) {
    const select = h(
      "select",
      { "aria-label": "Metric", onchange: () => show(ids, byName, select.value).catch(fail) },
      [...byName.keys()].sort().map((name) => h("option", { value: name, selected: name === chosen }, name)),
    );
    return h("label", { class: "compare-pick" }, "Metric: ", select);
  }

  function fail(error) {
    replace(body, h("p", { class: "message error", role: "alert" }, error.message));
  }

  (async () => {
    const listed = await call("ListExecutions", { filter: `deployment_name = "${deploymentName}"`, pageSize: LAST });
    const ids = (listed.executions || []).map((e) => e.executionId);
    const byName = new Map();
    for (const id of ids) {
      const series = (await call("ListMetrics", { executionId: id })).series || [];
      for (const s of series) {
        if (!byName.has(s.name)) byName.set(s.name, new Set());
        byName.get(s.name).add(id);
      }
    }
    if (!byName.size) return replace(body, h("p", { class: "muted" }, "No metrics reported."));
    await show(ids, byName, [...byName.keys()].sort()[0]);
  })().catch(fail);

  return { element, dispose: () => chart?.dispose?.() };
}
