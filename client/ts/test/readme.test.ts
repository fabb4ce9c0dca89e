// The README's TypeScript example is example/example.ts, and `npm start` in example/ builds
// and runs it as printed against a live server, twice (it makes what it needs or finds it).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { TrackingServer } from "./server.js";

const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const EXAMPLE = path.join(PACKAGE, "example");
const README = path.resolve(PACKAGE, "..", "..", "README.md");

const server = new TrackingServer();
before(() => server.start());
after(() => server.stop());

it("prints the example project's example.ts in the README", () => {
  const section = fs.readFileSync(README, "utf8").split("## Use it from TypeScript")[1] ?? "";
  const printed = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.equal(printed, fs.readFileSync(path.join(EXAMPLE, "example.ts"), "utf8"));
});

it("builds and runs the example with npm start, twice", async () => {
  for (let run = 0; run < 2; run++) {
    const { stdout } = await promisify(execFile)("npm", ["start", "--silent"], {
      cwd: EXAMPLE,
      env: { ...process.env, TRACKING_ADDRESS: server.address },
      timeout: 300_000,
    });
    assert.deepEqual(stdout.trim().split("\n"), [
      "INVALID_ARGUMENT [ 'progress.progress' ]",
      "SUCCESS",
      "loss=0.31",
      "loss=0.27",
    ]);
  }
});
