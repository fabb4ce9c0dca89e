// The test harness itself: a server that cannot start fails the tests with its own words,
// not with a bare "did not start".

import assert from "node:assert/strict";
import { it } from "node:test";

import { TrackingServer } from "./server.js";

it("a server that cannot start is reported with its own error", async () => {
  const server = new TrackingServer({ TRACKING_MAX_PAGE_SIZE: "lots" });
  try {
    await assert.rejects(server.start(), (error: Error) => {
      assert.match(error.message, /^tracking serve exited \(2\) before serving:/);
      assert.match(error.message, /error: max_page_size: Input should be a valid integer/);
      return true;
    });
  } finally {
    await server.stop();
  }
});
