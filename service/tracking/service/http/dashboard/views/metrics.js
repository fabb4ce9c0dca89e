// An execution's metrics: one live chart per series, fed by one StreamMetrics stream (no
// polling). Each chart first draws the history the database bucketed, up to the seq it was
// read at; the stream starts after the execution's last seq as listed, and each chart skips
// the points its history already held, so none is drawn twice.

import { call, stream } from "../api.js";
import { h, replace } from "../dom.js";
import { seriesChart } from "./charts.js";

export function metricsPanel(executionId) {
  const charts = new Map();
  const box = h("div", { class: "charts" });
  const state = h("span", { class: "live", role: "status" }, "connecting…");
  const problem = h("p", { class: "message error", role: "alert" });
  const empty = h("p", { class: "muted" }, "No metrics reported.");
  const options = { xTime: false, log: false };
  let close = () => {};
  let disposed = false;

  const xAxis = h(
    "select",
    { "aria-label": "x axis", onchange: () => redraw({ xTime: xAxis.value === "time" }) },
    h("option", { value: "step" }, "Steps"),
    h("option", { value: "time" }, "Time"),
  );
  const logScale = h("input", { type: "checkbox", onchange: () => redraw({ log: logScale.checked }) });

  function chartOf(name) {
    let chart = charts.get(name);
    if (!chart) {
      chart = seriesChart(executionId, name, options);
      charts.set(name, chart);
      const names = [...charts.keys()].sort();
      box.insertBefore(chart.element, charts.get(names[names.indexOf(name) + 1])?.element || null);
      empty.remove();
    }
    return chart;
  }

  // Options change how a chart is built: build each again, from its history.
  function redraw(change) {
    Object.assign(options, change);
    for (const [name, chart] of charts) {
      chart.dispose();
      const fresh = seriesChart(executionId, name, options);
      chart.element.replaceWith(fresh.element);
      charts.set(name, fresh);
      fresh.load(null);
    }
  }

  function receive(points) {
    const byName = new Map();
    for (const point of points) {
      if (!byName.has(point.name)) byName.set(point.name, []);
      byName.get(point.name).push(point);
    }
    for (const [name, list] of byName) {
      const chart = charts.get(name);
      if (chart) chart.add(list);
      else {
        // A series the listing did not know: it began after the listing, so the stream
        // holds all of it.
        const fresh = chartOf(name);
        fresh.load(null).then(() => fresh.add(list));
      }
    }
  }

  call("ListMetrics", { executionId })
    .then(async (listed) => {
      if (disposed) return;
      for (const series of listed.series || []) chartOf(series.name);
      await Promise.all([...charts.values()].map((chart) => chart.load(null)));
      if (disposed) return;
      close = stream(
        "StreamMetrics",
        { execution_id: executionId, follow: "true", after_seq: listed.lastSeq || "0" },
        {
          data: (message) => receive(message.points || []),
          state: (s) => {
            state.textContent = s === "live" ? "live" : "reconnecting…";
            state.dataset.state = s;
          },
          end: () => {
            state.textContent = "ended";
            state.dataset.state = "ended";
          },
          fail: (error) => {
            state.textContent = "not live";
            state.dataset.state = "failed";
            problem.textContent = error.message;
          },
          resume: (seq) => ({ execution_id: executionId, follow: "true", after_seq: seq }),
        },
      );
    })
    .catch((error) => {
      problem.textContent = error.message;
      state.textContent = "";
    });

  replace(box, empty);
  const element = h(
    "section",
    { class: "panel metrics" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", {}, "Metrics"),
      state,
      h("div", { class: "actions" }, h("label", {}, "x: ", xAxis), h("label", {}, logScale, " log scale")),
    ),
    problem,
    box,
  );
  return {
    element,
    dispose() {
      disposed = true;
      close();
      for (const chart of charts.values()) chart.dispose();
    },
  };
}
