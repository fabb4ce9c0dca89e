// The README's TypeScript example runs as printed against a live server.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import ts from "typescript";

import { TrackingServer } from "./server.js";

const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const README = path.resolve(PACKAGE, "..", "..", "README.md");

const server = new TrackingServer();
before(() => server.start());
after(() => server.stop());

it("runs the README's TypeScript example", async () => {
  const section = fs.readFileSync(README, "utf8").split("## Use it from TypeScript")[1] ?? "";
  const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example, "the README has no TypeScript example");
  const source = example
    .replaceAll("127.0.0.1:50051", server.address)
    .replaceAll("nightly-train", "readme-ts");
  const { outputText, diagnostics } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    reportDiagnostics: true,
  });
  assert.deepEqual(diagnostics ?? [], []);
  // Inside the package, so that "tracking-client" resolves to this package itself.
  const script = path.join(PACKAGE, "dist", "readme-example.mjs");
  fs.writeFileSync(script, outputText);
  const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 60_000 });
  assert.deepEqual(stdout.trim().split("\n"), [
    "INVALID_ARGUMENT [ 'progress.progress' ]",
    "SUCCESS",
    "loss=0.31",
    "loss=0.27",
  ]);
});
