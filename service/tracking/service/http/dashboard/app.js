// Routes (`#/...`, so the server needs no route per page), the session, and the header.

import { session } from "./api.js";
import { h, replace } from "./dom.js";
import { deploymentView, deploymentsView } from "./views/deployments.js";
import { executionView } from "./views/execution.js";
import { executionsView } from "./views/executions.js";
import { signInView } from "./views/signin.js";
import { subscriptionsView } from "./views/subscriptions.js";

const routes = [
  [/^\/?$/, "executions", (root, query) => executionsView(root, query)],
  [/^\/executions\/(.+)$/, "executions", (root, query, id) => executionView(root, id, who)],
  [/^\/deployments\/?$/, "deployments", (root) => deploymentsView(root)],
  [/^\/deployments\/(.+)$/, "deployments", (root, query, name) => deploymentView(root, name)],
  [/^\/subscriptions\/?$/, "subscriptions", (root) => subscriptionsView(root)],
];

const main = document.getElementById("main");
const sessionBox = document.getElementById("session");
let who = { signed_in: false, auth_required: false };
let dispose = () => {};

function showSession() {
  if (!who.auth_required) {
    replace(sessionBox, h("span", { class: "muted" }, "auth off"));
    return;
  }
  if (!who.signed_in) {
    replace(sessionBox, h("span", { class: "muted" }, "signed out"));
    return;
  }
  const signOut = h("button", { type: "button", class: "quiet", onclick: leave }, "Sign out");
  replace(sessionBox, h("span", { class: "who" }, `${who.name} (${who.role})`), signOut);
}

async function leave() {
  await session.signOut().catch(() => {});
  who = { signed_in: false, auth_required: true };
  render();
}

function render() {
  dispose();
  dispose = () => {};
  showSession();
  if (who.auth_required && !who.signed_in) {
    signInView(main, (signedIn) => {
      who = signedIn;
      render();
    });
    return;
  }
  const [raw, search = ""] = (location.hash.slice(1) || "/").split("?");
  let path;
  try {
    path = decodeURIComponent(raw);
  } catch {
    path = raw; // a malformed escape: no route matches, the page says so
  }
  const query = new URLSearchParams(search);
  for (const [pattern, sectionName, view] of routes) {
    const match = path.match(pattern);
    if (!match) continue;
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.section === sectionName) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    dispose = view(main, query, ...match.slice(1)) || (() => {});
    return;
  }
  replace(main, h("h1", {}, "Not found"), h("p", {}, "No page here. "), h("a", { href: "#/" }, "Executions"));
}

async function start() {
  try {
    who = await session.get();
  } catch (error) {
    // A refused cookie (revoked token) answers 401: sign in again.
    who = { signed_in: false, auth_required: error.code === "unauthenticated" };
    if (error.code !== "unauthenticated") {
      replace(main, h("h1", {}, "tracking"), h("p", { class: "message error", role: "alert" }, error.message));
      return;
    }
  }
  render();
}

window.addEventListener("hashchange", () => {
  render();
  main.focus({ preventScroll: true });
});
// Any call refused for want of a valid token (expired, revoked) brings the sign-in back.
window.addEventListener("tracking:signed-out", () => {
  if (who.auth_required && who.signed_in) {
    who = { signed_in: false, auth_required: true };
    render();
  }
});
start();
