// How proto-JSON values read on the page.

const TERMINAL = new Set(["SUCCESS", "ERROR", "CANCELED"]);
export const STATUSES = [
  "WAITING", "RUNNING", "SUCCESS", "ERROR", "CANCELED", "SUSPENDED", "CANCEL_REQUESTED", "UNKNOWN",
];

// "RUNNING_STATUS_CANCEL_REQUESTED" -> "CANCEL_REQUESTED"; unset -> "".
export function enumName(value, prefix) {
  return value ? String(value).replace(prefix, "") : "";
}

export function statusOf(jobStatus) {
  return enumName(jobStatus?.status, "RUNNING_STATUS_") || "UNSPECIFIED";
}

export function words(name) {
  if (!name) return "—";
  const text = name.replaceAll("_", " ").toLowerCase();
  return text[0].toUpperCase() + text.slice(1);
}

export function isTerminal(jobStatus) {
  return TERMINAL.has(statusOf(jobStatus));
}

export function statusBadge(jobStatus, h) {
  const status = statusOf(jobStatus);
  return h("span", { class: `badge status-${status.toLowerCase()}` }, words(status));
}

// Proto-JSON durations are "12.500s".
export function seconds(duration) {
  return duration ? parseFloat(duration) : 0;
}

export function shortDuration(total) {
  if (!Number.isFinite(total) || total < 0) return "—";
  if (total < 1) return `${Math.round(total * 1000)} ms`;
  const s = Math.floor(total % 60);
  const m = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600);
  if (hours >= 24) return `${Math.floor(hours / 24)}d ${hours % 24}h`;
  if (hours) return `${hours}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${total < 10 ? total.toFixed(1) : s} s`;
}

// Duration as the server gave it, or counted on from start_time while the job runs.
export function durationOf(jobStatus, now = Date.now()) {
  if (!jobStatus?.startTime) return "—";
  if (jobStatus.endTime || isTerminal(jobStatus)) return shortDuration(seconds(jobStatus.duration));
  return shortDuration((now - Date.parse(jobStatus.startTime)) / 1000);
}

export function age(time, now = Date.now()) {
  if (!time) return "—";
  const elapsed = Math.max(0, (now - Date.parse(time)) / 1000);
  if (elapsed < 60) return `${Math.floor(elapsed)} s ago`;
  if (elapsed < 3600) return `${Math.floor(elapsed / 60)} min ago`;
  if (elapsed < 86400) return `${Math.floor(elapsed / 3600)} h ago`;
  return `${Math.floor(elapsed / 86400)} d ago`;
}

export function when(time) {
  if (!time) return "";
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? time : date.toLocaleString();
}

export function clock(time) {
  if (!time) return "";
  const date = new Date(time);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function percent(progress) {
  return `${Math.round((progress || 0) * 100)}%`;
}

// A map's keys sorted (as the command line's -o json has them): a Struct keeps no order.
export function json(value) {
  const sorted = (_, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v;
  return JSON.stringify(value, sorted, 2);
}

// A word as a person types it for a POSIX shell to read it back exactly (the command line's
// shell_word): bare when it can be, else in single quotes, else (it holds a single quote) in
// double quotes when nothing in it is special there, else a single quote written '"'"'.
function shellWord(word) {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  if (!word.includes("'")) return `'${word}'`;
  if (!/["$`\\!]/.test(word)) return `"${word}"`;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

// An argv as one command line a POSIX shell splits back into exactly that argv.
export function shellJoin(argv) {
  return argv.map(shellWord).join(" ");
}
