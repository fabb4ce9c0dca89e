// The executions list: one page from ListExecutions, kept live by one WatchStatus stream.

import { ApiError, call, stream } from "../api.js";
import { h, replace, unbroken } from "../dom.js";
import { STATUSES, age, durationOf, percent, statusBadge, statusOf, words } from "../format.js";

const quoted = (text) => `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

// "team=ml" -> ["team", "ml"]; null when it is not key=value.
function labelOf(text) {
  const at = text.indexOf("=");
  if (at <= 0) return null;
  return [text.slice(0, at).trim(), text.slice(at + 1).trim()];
}

// The ListExecutions filter for the chosen deployment, status and label (see the proto).
export function filterOf({ deployment, status, label }) {
  const conditions = [];
  if (deployment) conditions.push(`deployment_name = ${quoted(deployment)}`);
  if (status) conditions.push(`status = ${status}`);
  const pair = label ? labelOf(label) : null;
  if (pair) conditions.push(`labels.${pair[0]} = ${quoted(pair[1])}`);
  return conditions.join(" AND ");
}

// The same filter, for executions the stream tells of after the page was listed.
function matches(execution, { deployment, status, label }) {
  if (deployment && execution.deploymentName !== deployment) return false;
  if (status && statusOf(execution.jobStatus) !== status) return false;
  const pair = label ? labelOf(label) : null;
  return !pair || (execution.labels || {})[pair[0]] === pair[1];
}

function progressBar(jobStatus) {
  const fill = h("span", { class: "fill" });
  fill.style.width = percent(jobStatus?.progress);
  return h(
    "span",
    {
      class: "bar",
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": Math.round((jobStatus?.progress || 0) * 100),
    },
    fill,
  );
}

export function progressCell(jobStatus) {
  return h(
    "span",
    { class: "progress" },
    progressBar(jobStatus),
    h("span", { class: "figure" }, percent(jobStatus?.progress)),
    jobStatus?.phase ? h("span", { class: "phase" }, jobStatus.phase) : null,
  );
}

const createdAt = (execution) => Date.parse(execution.jobStatus?.createTime || 0);

// A live table of executions matching `criteria` ({deployment, status, label}).
export function executionList(criteria, { pageSize = 25, showDeployment = true } = {}) {
  const filter = filterOf(criteria);
  const rows = new Map(); // execution id -> { execution, row }
  const fetching = new Set();
  // The newest event of each execution being fetched: applied once it is shown.
  const pending = new Map();
  const tokens = [""]; // page tokens: tokens[i] lists page i
  let page = 0;
  let nextToken = "";
  let loading = true;
  let listedAt = 0;

  const headings = ["Status", "Job", showDeployment && "Deployment", "Progress", "Age", "Duration"];
  const body = h("tbody");
  const table = h(
    "table",
    { class: "list executions" },
    h("thead", {}, h("tr", {}, headings.filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
  const message = h("p", { class: "message", role: "status" });
  const live = h("span", { class: "live", role: "status" }, "connecting…");
  const previous = h("button", { type: "button", onclick: () => turn(-1) }, "Previous page");
  const next = h("button", { type: "button", onclick: () => turn(1) }, "Next page");
  const pager = h("div", { class: "pager" }, previous, h("span", { class: "page" }), next);
  const element = h(
    "div",
    { class: "execution-list" },
    h("div", { class: "list-head" }, live),
    h("div", { class: "table-wrap" }, table),
    message,
    pager,
  );

  function cells(execution) {
    const status = execution.jobStatus || {};
    const id = execution.executionId;
    const job = h(
      "a",
      { href: `#/executions/${encodeURIComponent(id)}`, class: "job" },
      unbroken(execution.jobName || id),
    );
    const deployment = execution.deploymentName
      ? h("a", { href: `#/deployments/${encodeURIComponent(execution.deploymentName)}` }, execution.deploymentName)
      : h("span", { class: "muted" }, "—");
    return [
      h("td", { "data-label": "Status" }, statusBadge(status, h)),
      h("td", { "data-label": "Job" }, h("div", {}, job, h("span", { class: "id" }, id))),
      showDeployment && h("td", { "data-label": "Deployment" }, deployment),
      h("td", { "data-label": "Progress" }, progressCell(status)),
      h("td", { "data-label": "Age", class: "age", title: status.createTime || "" }, age(status.createTime)),
      h("td", { "data-label": "Duration", class: "duration" }, durationOf(status)),
    ];
  }

  function draw(entry) {
    replace(entry.row, cells(entry.execution));
    entry.row.dataset.status = statusOf(entry.execution.jobStatus);
    entry.row.dataset.revision = entry.execution.jobStatus?.revision || "0";
  }

  function put(execution, { atItsPlace = false } = {}) {
    const known = rows.get(execution.executionId);
    if (known) {
      known.execution = execution;
      return draw(known);
    }
    const entry = { execution, row: h("tr", { "data-id": execution.executionId }) };
    rows.set(execution.executionId, entry);
    draw(entry);
    // Newest first: before the first row created no later than this one.
    const before = atItsPlace
      ? [...body.children].find((row) => createdAt(rows.get(row.dataset.id).execution) <= createdAt(execution))
      : null;
    body.insertBefore(entry.row, before || null);
    message.textContent = "";
  }

  async function load() {
    loading = true;
    listedAt = Date.now();
    rows.clear();
    body.replaceChildren();
    message.textContent = "Loading…";
    try {
      const response = await call("ListExecutions", { pageSize, pageToken: tokens[page], filter });
      const executions = response.executions || [];
      executions.forEach((execution) => put(execution));
      nextToken = response.nextPageToken || "";
      message.textContent = executions.length ? "" : "No executions match.";
    } catch (error) {
      message.textContent = error.message;
      message.classList.add("error");
    }
    previous.disabled = page === 0;
    next.disabled = !nextToken;
    pager.querySelector(".page").textContent = `Page ${page + 1}`;
    loading = false;
  }

  function turn(step) {
    if (step > 0 && nextToken) tokens[page + 1] = nextToken;
    page = Math.max(0, page + step);
    load();
  }

  // An execution the page does not show yet: fetch it, and show it if it belongs here.
  async function arrive(event) {
    const id = event.executionId;
    if (fetching.has(id)) return;
    fetching.add(id);
    try {
      const { execution } = await call("GetExecution", { executionId: id });
      if (!rows.has(id) && page === 0 && matches(execution, criteria)) put(execution, { atItsPlace: true });
      // A change that came while the execution was fetched may be newer than what was read.
      const later = pending.get(id);
      if (later && rows.has(id)) onEvent(later);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "not_found")) message.textContent = error.message;
    } finally {
      fetching.delete(id);
      pending.delete(id);
    }
  }

  function onEvent(event) {
    const entry = rows.get(event.executionId);
    const changes = event.changes || [];
    if (changes.includes("CHANGE_KIND_DELETED")) {
      entry?.row.remove();
      rows.delete(event.executionId);
      return;
    }
    if (entry) {
      const known = Number(entry.execution.jobStatus?.revision || 0);
      if (Number(event.revision || 0) < known) return;
      entry.execution.jobStatus = event.jobStatus;
      draw(entry);
      return;
    }
    if (fetching.has(event.executionId)) {
      const held = pending.get(event.executionId);
      if (!held || Number(event.revision || 0) > Number(held.revision || 0)) pending.set(event.executionId, event);
      return;
    }
    if (page !== 0 || loading) return;
    // Snapshots open the stream, one per execution: only those created after the page was
    // listed are new here (with nothing listed, the last minute before it, by this clock).
    const newest = Math.max(0, ...[...rows.values()].map((e) => createdAt(e.execution)));
    const fresh = event.snapshot
      ? Date.parse(event.jobStatus?.createTime || 0) > (newest || listedAt - 60000)
      : changes.includes("CHANGE_KIND_CREATED") || (criteria.status && changes.includes("CHANGE_KIND_STATUS"));
    if (fresh) arrive(event);
  }

  const params = criteria.deployment ? { deployment_name: criteria.deployment } : {};
  let close = () => {};
  // Listed first, then watched: the stream's opening snapshots bring the page up to date
  // and show what was created in between.
  const watch = () => stream("WatchStatus", params, {
    data: (message) => message.event && onEvent(message.event),
    state: (state) => {
      live.textContent = state === "live" ? "live" : "reconnecting…";
      live.dataset.state = state;
    },
    fail: (error) => {
      live.textContent = `not live: ${error.message}`;
      live.dataset.state = "failed";
    },
    resume: (token, query) => ({ ...query, resume_token: token }),
  });
  // Ages and running durations move on between events.
  const ticker = setInterval(() => {
    for (const { execution, row } of rows.values()) {
      row.querySelector(".age").textContent = age(execution.jobStatus?.createTime);
      row.querySelector(".duration").textContent = durationOf(execution.jobStatus);
    }
  }, 1000);
  let disposed = false;
  load().then(() => {
    if (!disposed) close = watch();
  });
  return {
    element,
    dispose() {
      disposed = true;
      close();
      clearInterval(ticker);
    },
  };
}

function filterForm(criteria, deployments) {
  const field = (label, control) => h("label", {}, h("span", {}, label), control);
  const deployment = h("input", {
    name: "deployment", list: "deployment-names", value: criteria.deployment || "",
    placeholder: "any", autocomplete: "off",
  });
  const options = h("datalist", { id: "deployment-names" }, deployments.map((d) => h("option", { value: d.name })));
  const status = h(
    "select",
    { name: "status" },
    h("option", { value: "" }, "any"),
    STATUSES.map((s) => h("option", { value: s, selected: s === criteria.status }, words(s))),
  );
  const label = h("input", { name: "label", value: criteria.label || "", placeholder: "key=value", autocomplete: "off" });
  const problem = h("p", { class: "message error", role: "alert" });
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (event) => {
        event.preventDefault();
        const chosen = { deployment: deployment.value.trim(), status: status.value, label: label.value.trim() };
        if (chosen.label && !labelOf(chosen.label)) {
          problem.textContent = "A label filter reads key=value, e.g. team=ml.";
          label.focus();
          return;
        }
        const query = new URLSearchParams(Object.entries(chosen).filter(([, v]) => v));
        location.hash = `#/${query.size ? `?${query}` : ""}`;
      },
    },
    field("Deployment", deployment),
    options,
    field("Status", status),
    field("Label", label),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter"), h("a", { href: "#/" }, "Clear")),
    problem,
  );
  return form;
}

export function executionsView(root, query) {
  const criteria = {
    deployment: query.get("deployment") || "",
    status: query.get("status") || "",
    label: query.get("label") || "",
  };
  const list = executionList(criteria);
  const slot = h("div");
  replace(root, h("h1", {}, "Executions"), slot, list.element);
  call("ListDeployments", { pageSize: 1000 })
    .then((response) => replace(slot, filterForm(criteria, response.deployments || [])))
    .catch(() => replace(slot, filterForm(criteria, [])));
  return list.dispose;
}
