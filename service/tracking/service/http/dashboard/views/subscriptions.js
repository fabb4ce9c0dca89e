// Subscriptions (admin): where events go, how far each got, why one fails; pause, resume,
// test, and the last delivery attempts. Read when the page opens or Refresh is pressed.

import { call } from "../api.js";
import { h, replace, section, table } from "../dom.js";
import { enumName, when, words } from "../format.js";

const state = (s) => words(enumName(s.state, "SUBSCRIPTION_STATE_"));
const target = (s) => (s.webhook ? s.webhook.url : `NATS ${s.nats?.subject || "tracking"}.>`);
const stamp = (time) => (time ? h("time", { datetime: time, title: time }, when(time)) : "—");

function problem(s) {
  if (!s.lastError) return "—";
  return h(
    "span",
    { class: "message error" },
    s.lastError,
    s.failingSince ? h("span", { class: "muted" }, ` (failing since ${when(s.failingSince)})`) : null,
  );
}

export function subscriptionsView(root) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const notice = h("div", { role: "status" });
  const deliveries = h("div", {});
  const refresh = h("button", { type: "button", onclick: () => load() }, "Refresh");
  replace(root, h("h1", {}, "Subscriptions"), h("div", { class: "pager" }, refresh), notice, body, deliveries);

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
      if (!subscriptions.length) {
        replace(body, h("p", { class: "muted" }, "No subscriptions yet: `tracking subscriptions create --webhook URL`."));
        return;
      }
      replace(
        body,
        table(
          ["Name", "Target", "State", "Position", "Last delivery", "Last error", "Actions"],
          subscriptions.map((s) => [
            h("span", {}, s.name, " ", h("code", { class: "id" }, s.subscriptionId)),
            target(s),
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
              h("button", { type: "button", class: "quiet", onclick: () => act("TestSubscription", s, "tested") }, "Send test"),
              h("button", { type: "button", class: "quiet", onclick: () => showDeliveries(s) }, "Deliveries"),
            ),
          ]),
        ),
      );
    } catch (error) {
      const text = error.code === "permission_denied" ? "Subscriptions are for admins: sign in with an admin token." : error.message;
      replace(body, h("p", { class: "message error", role: "alert" }, text));
    }
  }
  load();
}
