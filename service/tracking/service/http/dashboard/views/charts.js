// Metric charts drawn by uPlot (shipped in vendor/uplot, loaded by index.html as the global
// `uPlot`). A series is drawn as buckets: a band from each bucket's min to its max, and a
// line through its last value, so one spike among a million points stays visible at any
// zoom. Buckets come from GetMetricHistory (computed by the database, re-asked on zoom);
// live points from the stream join the last bucket or start a new one.

import { call } from "../api.js";
import { h } from "../dom.js";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04"];

// "NaN", "Infinity" (proto-JSON) and numbers -> a number, or null (a gap) when not finite.
export function finite(value) {
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

function bucketsOf(history) {
  if ((history.buckets || []).length) {
    return history.buckets.map((b) => ({
      firstStep: Number(b.firstStep || 0),
      lastStep: Number(b.lastStep || 0),
      min: finite(b.minValue),
      max: finite(b.maxValue),
      last: finite(b.lastValue),
      count: Number(b.count || 0),
      time: Date.parse(b.lastTime) / 1000,
    }));
  }
  return (history.points || []).map((p) => {
    const value = finite(p.value);
    const step = Number(p.step || 0);
    return { firstStep: step, lastStep: step, min: value, max: value, last: value, count: 1, time: Date.parse(p.time) / 1000 };
  });
}

// Two neighbouring buckets as one: a spike in either stays the max.
function merged(a, b) {
  const pick = (f, x, y) => (x === null ? y : y === null ? x : f(x, y));
  return {
    firstStep: a.firstStep,
    lastStep: b.lastStep,
    min: pick(Math.min, a.min, b.min),
    max: pick(Math.max, a.max, b.max),
    last: b.last,
    count: a.count + b.count,
    time: b.time,
  };
}

export function historyQuery(executionIds, name, maxPoints, range) {
  const request = { executionIds, name, maxPoints };
  if (range) {
    request.startStep = String(Math.max(0, Math.floor(range[0])));
    request.endStep = String(Math.max(0, Math.ceil(range[1])));
  }
  return call("GetMetricHistory", request);
}

// One live chart of one series of one execution. Options: xTime (time on x instead of
// steps), log (a log scale on y). Returns { element, add(points), throughSeq, dispose }.
export function seriesChart(executionId, name, options) {
  const plot = h("div", { class: "plot" });
  const lastText = h("span", { class: "chart-last" });
  const reset = h("button", { type: "button", class: "small", hidden: true, onclick: () => load(null) }, "Reset zoom");
  const problem = h("p", { class: "message error", role: "alert" });
  const element = h(
    "figure",
    { class: "chart", "data-name": name },
    h("figcaption", {}, h("span", { class: "chart-name" }, name), lastText, reset),
    plot,
    problem,
  );
  let buckets = [];
  let width = 0; // steps per bucket of the drawn data (0: points)
  let zoomed = null; // the step range zoomed into, or null
  let throughSeq = 0;
  let lastSeq = 0;
  let chart = null;
  let loading = Promise.resolve();

  const target = () => Math.max(50, Math.floor((plot.clientWidth || 600) / 2));

  function data() {
    const x = buckets.map((b) => (options.xTime ? b.time : b.lastStep));
    const positive = (v) => (options.log && v !== null && v <= 0 ? null : v);
    return [x, buckets.map((b) => positive(b.min)), buckets.map((b) => positive(b.max)), buckets.map((b) => positive(b.last))];
  }

  function draw() {
    if (!chart) {
      chart = new uPlot(
        {
          width: plot.clientWidth || 600,
          height: 220,
          legend: { show: false },
          scales: { x: { time: options.xTime }, y: { distr: options.log ? 3 : 1 } },
          axes: [{ label: options.xTime ? "" : "step" }, {}],
          series: [
            {},
            { stroke: "rgba(37,99,235,0.35)", width: 1, points: { show: false } },
            { stroke: "rgba(37,99,235,0.35)", width: 1, points: { show: false } },
            { stroke: COLORS[0], width: 1.5, points: { show: false } },
          ],
          bands: [{ series: [2, 1], fill: "rgba(37,99,235,0.15)" }],
          // A drag selects a step range: its buckets are read again from the database.
          cursor: {
            drag: { x: true, y: false, setScale: false },
            bind: { dblclick: () => () => (zoomed ? load(null) : null) },
          },
          hooks: {
            setSelect: [(u) => selected(u)],
            draw: [() => drawn()],
          },
        },
        data(),
        plot,
      );
      return;
    }
    chart.setData(data());
  }

  function selected(u) {
    const { left, width: pixels } = u.select;
    if (pixels < 2) return;
    const min = u.posToVal(left, "x");
    const max = u.posToVal(left + pixels, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    zoomTo(min, max);
  }

  function drawn() {
    const maxes = buckets.map((b) => b.max).filter((v) => v !== null);
    element.dataset.lastSeq = String(lastSeq);
    element.dataset.buckets = String(buckets.length);
    element.dataset.drawnMax = maxes.length ? String(Math.max(...maxes)) : "";
    const last = buckets.length ? buckets[buckets.length - 1].last : null;
    lastText.textContent = last === null ? "" : ` last ${last.toPrecision(6).replace(/\.?0+$/, "")}`;
  }

  function zoomTo(min, max) {
    if (min === null || max === null || !buckets.length) return;
    let range = [min, max];
    if (options.xTime) {
      const inside = buckets.filter((b) => b.time >= min && b.time <= max);
      if (!inside.length) return;
      range = [inside[0].firstStep, inside[inside.length - 1].lastStep];
    }
    load(range);
  }

  function load(range) {
    zoomed = range;
    reset.hidden = range === null;
    loading = historyQuery([executionId], name, target(), range)
      .then((response) => {
        const history = response.histories?.[0] || {};
        buckets = bucketsOf(history);
        width = Number(history.bucketWidth || 0);
        throughSeq = Math.max(throughSeq, Number(history.throughSeq || 0));
        lastSeq = Math.max(lastSeq, throughSeq);
        problem.textContent = "";
        draw();
      })
      .catch((error) => {
        problem.textContent = error.message;
      });
    return loading;
  }

  // Points of this series from the stream (seq order); those the history held are skipped.
  function add(points) {
    for (const point of points) {
      const seq = Number(point.seq);
      if (seq <= throughSeq || seq <= lastSeq) continue;
      lastSeq = seq;
      if (zoomed !== null) continue; // drawn when the zoom is reset
      const step = Number(point.step || 0);
      const value = finite(point.value);
      const fresh = { firstStep: step, lastStep: step, min: value, max: value, last: value, count: 1, time: Date.parse(point.time) / 1000 };
      const tail = buckets[buckets.length - 1];
      if (tail && width > 1 && step >= tail.firstStep && step < tail.firstStep + width) {
        buckets[buckets.length - 1] = merged(tail, fresh);
      } else {
        buckets.push(fresh);
      }
    }
    if (buckets.length > 2 * target()) {
      const halved = [];
      for (let i = 0; i < buckets.length; i += 2) halved.push(i + 1 < buckets.length ? merged(buckets[i], buckets[i + 1]) : buckets[i]);
      buckets = halved;
      width = Math.max(2, width * 2);
    }
    if (zoomed === null) draw();
    else element.dataset.lastSeq = String(lastSeq);
  }

  return {
    element,
    ready: () => loading,
    load,
    add,
    dispose: () => chart?.destroy(),
  };
}

// One chart of one series overlaid for several executions (a deployment's last runs).
export function comparisonChart(executionIds, name, histories) {
  const plot = h("div", { class: "plot" });
  const legend = h(
    "ul",
    { class: "chart-legend" },
    executionIds.map((id, i) => h("li", { "data-execution": id }, h("span", { class: "swatch" }), id)),
  );
  const element = h("figure", { class: "chart comparison", "data-name": name }, h("figcaption", {}, h("span", { class: "chart-name" }, name)), plot, legend);
  const lines = histories.map((history) => {
    const buckets = bucketsOf(history);
    return [buckets.map((b) => b.lastStep), buckets.map((b) => b.last)];
  });
  const joined = uPlot.join(lines);
  for (const [i, item] of [...legend.children].entries()) item.firstChild.style.background = COLORS[i % COLORS.length];
  requestAnimationFrame(() => {
    const chart = new uPlot(
      {
        width: plot.clientWidth || 600,
        height: 260,
        legend: { show: false },
        axes: [{ label: "step" }, {}],
        series: [{}, ...executionIds.map((id, i) => ({ label: id, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true, points: { show: false } }))],
      },
      joined,
      plot,
    );
    element.dataset.series = String(executionIds.length);
    element.dispose = () => chart.destroy();
  });
  return element;
}
