// Subscriptions (admin): where events go, what they admit, how far each got, why one fails;
// create (the signing secret shown once), pause, resume, test, delete, and the last delivery
// attempts. Read when the page opens or Refresh is pressed.

import { call } from "../api.js";
import { h, replace, section, table } from "../dom.js";
import { STATUSES, enumName, when, words } from "../format.js";

const KINDS = [
  "EXECUTION_CREATED", "EXECUTION_STATUS_CHANGED", "EXECUTION_UPDATED", "EXECUTION_DELETED",
  "DEPLOYMENT_CREATED", "DEPLOYMENT_UPDATED", "DEPLOYMENT_DELETED",
];

const state = (s) => words(enumName(s.state, "SUBSCRIPTION_STATE_"));
const target = (s) => (s.webhook ? s.webhook.url : `NATS ${s.nats?.subject || "tracking"}.>`);
const stamp = (time) => (time ? h("time", { datetime: time, title: time }, when(time)) : "—");

// What a subscription admits: every empty list admits everything.
function admits(s) {
  const f = s.filter || {};
  const parts = [
    f.deploymentNames?.length ? `deployments ${f.deploymentNames.join(", ")}` : null,
    f.kinds?.length ? `kinds ${f.kinds.map((k) => words(enumName(k, "EVENT_KIND_"))).join(", ")}` : null,
    f.statuses?.length ? `statuses ${f.statuses.map((x) => words(enumName(x, "RUNNING_STATUS_"))).join(", ")}` : null,
  ].filter(Boolean);
  return parts.length ? parts.join("; ") : h("span", { class: "muted" }, "every event");
}

// A group of checkboxes; `chosen()` gives the checked values.
function choices(legend, values, prefix) {
  const boxes = values.map((value) => h("input", { type: "checkbox", value: prefix + value }));
  const element = h(
    "fieldset",
    { class: "choices" },
    h("legend", {}, legend),
    values.map((value, i) => h("label", {}, boxes[i], ` ${words(value)}`)),
  );
  return { element, chosen: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

function problem(s) {
  if (!s.lastError) return "—";
  return h(
    "span",
    { class: "message error" },
    s.lastError,
    s.failingSince ? h("span", { class: "muted" }, ` (failing since ${when(s.failingSince)})`) : null,
  );
}

// An id for one creation: a second press of Create (or a retry) makes no second subscription.
const requestId = () =>
  "dashboard-" + Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");

// The form that creates a subscription: a webhook URL or a NATS subject, and a filter.
function createForm(created) {
  let once = requestId();
  const field = (label, control) => h("label", {}, h("span", {}, label), control);
  const name = h("input", { name: "name", required: true, maxlength: 128, autocomplete: "off" });
  const url = h("input", { name: "url", type: "url", placeholder: "https://…", autocomplete: "off", size: 36 });
  const subject = h("input", { name: "subject", placeholder: "tracking", autocomplete: "off" });
  const deployments = h("input", { name: "deployments", placeholder: "any (names, comma-separated)", autocomplete: "off" });
  const kinds = choices("Kinds (none: all)", KINDS, "EVENT_KIND_");
  const statuses = choices("Statuses (none: all)", STATUSES, "RUNNING_STATUS_");
  const problem = h("p", { class: "message error", role: "alert" });
  const form = h(
    "form",
    {
      class: "filters create",
      onsubmit: async (event) => {
        event.preventDefault();
        problem.textContent = "";
        if (!url.value.trim() === !subject.value.trim()) {
          problem.textContent = "Give a webhook URL or a NATS subject (one of them).";
          return;
        }
        const subscription = {
          name: name.value.trim(),
          filter: {
            deploymentNames: deployments.value.split(",").map((d) => d.trim()).filter(Boolean),
            kinds: kinds.chosen(),
            statuses: statuses.chosen(),
          },
        };
        if (url.value.trim()) subscription.webhook = { url: url.value.trim() };
        else subscription.nats = { subject: subject.value.trim() };
        try {
          const response = await call("CreateSubscription", { subscription, requestId: once });
          once = requestId();
          form.reset();
          await created(response);
        } catch (error) {
          const named = (error.violations || []).map((v) => `${v.field}: ${v.description}`);
          problem.textContent = named.length ? named.join("; ") : error.message;
        }
      },
    },
    field("Name", name),
    field("Webhook URL", url),
    field("or NATS subject", subject),
    field("Deployments", deployments),
    kinds.element,
    statuses.element,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create")),
    problem,
  );
  return section("New subscription", form);
}

export function subscriptionsView(root) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const notice = h("div", { role: "status" });
  const deliveries = h("div", {});
  const refresh = h("button", { type: "button", onclick: () => replace(notice) && load() }, "Refresh");
  const form = h("div", {});
  replace(root, h("h1", {}, "Subscriptions"), h("div", { class: "pager" }, refresh), notice, body, form, deliveries);

  async function created(response) {
    const s = response.subscription;
    replace(
      notice,
      h(
        "div",
        { class: "message" },
        h("p", {}, `Created ${s.name} (${s.subscriptionId}).`),
        response.secret
          ? h(
              "p",
              {},
              "Its signing secret, shown only this once: ",
              h("code", { class: "secret" }, response.secret),
            )
          : null,
      ),
    );
    await load();
  }

  // Deleting asks once more on the same button.
  function deleteButton(s) {
    const button = h("button", { type: "button", class: "danger" }, "Delete");
    button.addEventListener("click", () => {
      if (button.dataset.armed) {
        act("DeleteSubscription", s, "deleted");
        return;
      }
      button.dataset.armed = "yes";
      button.textContent = "Really delete";
    });
    return button;
  }

  async function act(method, subscription, doneText) {
    try {
      const response = await call(method, { subscriptionId: subscription.subscriptionId });
      const delivery = response.delivery;
      if (delivery) {
        const outcome = delivery.succeeded ? `delivered (HTTP ${delivery.httpStatus || "ack"})` : `failed: ${delivery.error}`;
        replace(notice, h("p", { class: delivery.succeeded ? "message" : "message error" }, `Test event ${outcome}`));
      } else {
        replace(notice, h("p", { class: "message" }, `${subscription.name}: ${doneText}`));
      }
      await load();
    } catch (error) {
      replace(notice, h("p", { class: "message error", role: "alert" }, error.message));
    }
  }

  async function showDeliveries(subscription) {
    try {
      const response = await call("ListDeliveries", { subscriptionId: subscription.subscriptionId, pageSize: 20 });
      const rows = (response.deliveries || []).map((d) => [
        stamp(d.attemptTime),
        h("code", { class: "id" }, d.eventId),
        d.executionId ? h("a", { href: `#/executions/${encodeURIComponent(d.executionId)}` }, d.executionId) : "—",
        String(d.attempt || 1),
        d.httpStatus ? String(d.httpStatus) : "—",
        d.succeeded ? "delivered" : h("span", { class: "message error" }, d.error || "failed"),
      ]);
      replace(
        deliveries,
        section(
          `Last deliveries of ${subscription.name}`,
          rows.length ? table(["Time", "Event", "Execution", "Attempt", "HTTP", "Outcome"], rows) : h("p", { class: "muted" }, "No attempt yet."),
        ),
      );
    } catch (error) {
      replace(deliveries, h("p", { class: "message error", role: "alert" }, error.message));
    }
  }

  async function load() {
    try {
      const subscriptions = (await call("ListSubscriptions", {})).subscriptions || [];
      if (!form.firstChild) replace(form, createForm(created));
      if (!subscriptions.length) {
        replace(body, h("p", { class: "muted" }, "No subscriptions yet."));
        return;
      }
      replace(
        body,
        table(
          ["Name", "Target", "Filter", "State", "Position", "Last delivery", "Last error", "Actions"],
          subscriptions.map((s) => [
            h("span", {}, s.name, " ", h("code", { class: "id" }, s.subscriptionId)),
            target(s),
            admits(s),
            h("span", { class: `badge subscription-${state(s).toLowerCase()}` }, state(s)),
            String(s.deliveredPosition || 0),
            stamp(s.lastDeliveryTime),
            problem(s),
            h(
              "span",
              { class: "actions" },
              s.state === "SUBSCRIPTION_STATE_ACTIVE"
                ? h("button", { type: "button", onclick: () => act("PauseSubscription", s, "paused") }, "Pause")
                : h("button", { type: "button", onclick: () => act("ResumeSubscription", s, "resumed") }, "Resume"),
              h("button", { type: "button", onclick: () => act("TestSubscription", s, "tested") }, "Send test"),
              h("button", { type: "button", onclick: () => showDeliveries(s) }, "Deliveries"),
              deleteButton(s),
            ),
          ]),
        ),
      );
    } catch (error) {
      const text = error.code === "permission_denied" ? "Subscriptions are for admins: sign in with an admin token." : error.message;
      replace(form);
      replace(body, h("p", { class: "message error", role: "alert" }, text));
    }
  }
  load();
}
