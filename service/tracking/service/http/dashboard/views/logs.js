// A live log tail: the last lines first, then new ones as they commit, at most MAX_LINES
// kept in the page; every line can still be downloaded.

import { call, stream } from "../api.js";
import { h } from "../dom.js";
import { clock } from "../format.js";

const TAIL = 500;
const MAX_LINES = 5000;
const PAGE = 10000;

// Terminal control sequences (colours, cursor moves) a job wrote: a page shows the text.
const CONTROL_SEQUENCE = /\x1b\[[0-?]*[ -\/]*[@-~]|\x1b[@-Z\\-_]/g;

function lineOf(entry) {
  const stderr = entry.stream === "LOG_STREAM_STDERR";
  return h(
    "li",
    { class: stderr ? "line stderr" : "line", "data-seq": entry.seq },
    h("span", { class: "seq" }, entry.seq),
    h("time", { class: "time", datetime: entry.timestamp || "" }, clock(entry.timestamp)),
    h("span", { class: "tag" }, stderr ? "err" : "out"),
    h("span", { class: "msg" }, (entry.message || "").replace(CONTROL_SEQUENCE, "")),
  );
}

// Every stored line, page by page, as one text file.
async function download(executionId) {
  const parts = [];
  let afterSeq = 0;
  for (;;) {
    const response = await call("GetExecutionLogs", { executionId, afterSeq, limit: PAGE });
    const entries = response.entries || [];
    if (!entries.length) break;
    for (const entry of entries) parts.push(entry.message || "", "\n");
    afterSeq = Number(entries[entries.length - 1].seq);
  }
  const url = URL.createObjectURL(new Blob(parts, { type: "text/plain;charset=utf-8" }));
  const a = h("a", { href: url, download: `${executionId}.log` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function logPanel(executionId) {
  const list = h("ol", { class: "log", tabindex: 0, "aria-label": "Log lines" });
  const box = h("div", { class: "log-box" }, list);
  const state = h("span", { class: "live", role: "status" }, "connecting…");
  const notice = h("p", { class: "muted notice" });
  const problem = h("p", { class: "message error", role: "alert" });
  let paused = false;
  let pending = [];
  let lastSeq = 0;

  const pause = h("button", { type: "button", "aria-pressed": "false", onclick: toggle }, "Pause");
  const save = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        save.disabled = true;
        save.textContent = "Preparing…";
        problem.textContent = "";
        try {
          await download(executionId);
        } catch (error) {
          problem.textContent = `Download failed: ${error.message}`;
        } finally {
          save.disabled = false;
          save.textContent = "Download all lines";
        }
      },
    },
    "Download all lines",
  );

  function explain() {
    const first = list.firstElementChild?.dataset.seq;
    const parts = [];
    if (first && Number(first) > 1) parts.push(`Showing from line ${first}; earlier lines are in the download.`);
    if (paused) parts.push(`Paused: ${pending.length} new line${pending.length === 1 ? "" : "s"} waiting.`);
    notice.textContent = parts.join(" ");
  }

  function show(entries) {
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    list.append(...entries.map(lineOf));
    while (list.childElementCount > MAX_LINES) {
      list.firstElementChild.remove();
    }
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function receive(entries) {
    // A line at or before the last one shown is one the stream already gave.
    entries = entries.filter((entry) => Number(entry.seq) > lastSeq);
    if (!entries.length) return;
    lastSeq = Number(entries[entries.length - 1].seq);
    if (paused) {
      pending.push(...entries);
      if (pending.length > MAX_LINES) pending = pending.slice(-MAX_LINES);
    } else {
      show(entries);
    }
    explain();
  }

  function toggle() {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (!paused) {
      show(pending);
      pending = [];
      if (state.dataset.state === "ended") pause.hidden = true;
    }
    explain();
  }

  const close = stream(
    "StreamLogs",
    { execution_id: executionId, follow: "true", tail: TAIL },
    {
      data: (message) => receive(message.entries || []),
      state: (s) => {
        state.textContent = s === "live" ? "following" : "reconnecting…";
        state.dataset.state = s;
      },
      end: () => {
        state.textContent = "ended: no more lines";
        state.dataset.state = "ended";
        if (!paused) pause.hidden = true; // nothing more will come
        if (!lastSeq) {
          box.replaceWith(h("p", { class: "muted" }, "No log lines."));
          save.hidden = true; // nothing to download
        }
      },
      fail: (error) => {
        state.textContent = "stopped";
        state.dataset.state = "failed";
        problem.textContent = error.message;
      },
      resume: (seq, query) => ({ execution_id: query.execution_id, follow: "true", after_seq: seq }),
    },
  );

  const element = h(
    "section",
    { class: "panel logs" },
    h("div", { class: "panel-head" }, h("h2", {}, "Logs"), state, h("div", { class: "actions" }, pause, save)),
    notice,
    problem,
    box,
  );
  return { element, dispose: close };
}
