// The TypeScript client against live `tracking serve` processes: every unary RPC, the
// streams (followed to the end, and resumed across a SIGKILL and restart of the server),
// and the server's precise errors. Auth is on: every call carries a bearer token.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";

import {
  ChangeKind,
  Code,
  createTrackingClient,
  ExecutionRule,
  type ExecutionEvent,
  LogStream,
  Role,
  RunningStatus,
  type TrackingClient,
  TrackingError,
} from "../src/index.js";
import { connect, createNodeTransport } from "../src/node.js";
import { connect as connectWeb } from "../src/web.js";
import { TRACKING_BIN, TrackingServer, waitFor, within } from "./server.js";

// Rides out a restart that takes minutes on a loaded machine (about 250 ms an attempt).
const PATIENT = { maxAttempts: 1000, initialBackoffMs: 50, maxBackoffMs: 500, multiplier: 2 };

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

async function rejection(promise: Promise<unknown>): Promise<TrackingError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TrackingError, `not a TrackingError: ${String(error)}`);
    return error;
  }
  assert.fail("the call succeeded");
}

describe("TrackingClient against a live server, auth on", () => {
  const server = new TrackingServer({ TRACKING_AUTH: "on" }, { http: true });
  let token = "";
  let client: TrackingClient;

  before(async () => {
    const created = execFileSync(
      TRACKING_BIN,
      ["tokens", "create", "--role", "admin", "--name", "ts-test", "--create-database"],
      {
        env: { ...process.env, TRACKING_DATABASE_URL: server.databaseUrl },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    token = created.trim().split("\n").at(-1) ?? "";
    await server.start();
    client = connect(server.address, { token, timeoutMs: 20_000 });
  });

  after(() => server.stop());

  it("answers every unary RPC", async () => {
    const info = await client.getServiceInfo({});
    assert.ok(info.version);
    assert.ok(info.maxLogLineChars > 0);

    const { deployment } = await client.createDeployment({
      deployment: {
        name: "ts-unary",
        pipelineName: "pipe",
        executionRule: ExecutionRule.ENDPOINT,
        labels: { team: "ts" },
      },
    });
    assert.equal(deployment?.name, "ts-unary");
    assert.equal(deployment?.executionRule, ExecutionRule.ENDPOINT);
    assert.equal((await client.getDeployment({ name: "ts-unary" })).deployment?.pipelineName, "pipe");
    const listed = await client.listDeployments({ filter: 'labels.team = "ts"' });
    assert.deepEqual(
      listed.deployments.map((d) => d.name),
      ["ts-unary"],
    );
    const updated = await client.updateDeployment({
      deployment: { name: "ts-unary", description: "from TypeScript" },
      updateMask: { paths: ["description"] },
    });
    assert.equal(updated.deployment?.description, "from TypeScript");

    const { execution } = await client.createExecution({
      execution: {
        deploymentName: "ts-unary",
        jobName: "fit",
        inputs: [{ name: "epochs", value: { kind: { case: "numberValue", value: 3 } } }],
      },
      requestId: "ts-unary-1",
    });
    const id = execution?.executionId ?? "";
    assert.ok(id);
    assert.equal(execution?.jobStatus?.status, RunningStatus.WAITING);
    assert.equal(execution?.jobStatus?.revision, 1n);
    assert.equal((await client.getExecution({ executionId: id })).execution?.jobName, "fit");
    const executions = await client.listExecutions({ filter: 'deployment_name = "ts-unary"' });
    assert.deepEqual(
      executions.executions.map((e) => e.executionId),
      [id],
    );
    const input = await client.getExecutionInput({ executionId: id, inputName: "epochs" });
    assert.equal(input.input?.value?.kind.value, 3);

    const started = await client.updateJobStatus({
      executionId: id,
      action: { case: "start", value: { phase: "setup" } },
    });
    assert.equal(started.jobStatus?.status, RunningStatus.RUNNING);
    const step = await client.updateStep({
      executionId: id,
      step: { name: "prepare", status: RunningStatus.SUCCESS },
    });
    assert.equal(step.step?.name, "prepare");
    const appended = await client.appendLogs({
      executionId: id,
      entries: [{ message: "one" }, { message: "two", stream: LogStream.STDERR }],
    });
    assert.equal(appended.lastSeq, 2n);
    const logs = await client.getExecutionLogs({ executionId: id });
    assert.deepEqual(
      logs.entries.map((e) => [e.seq, e.message, e.stream]),
      [
        [1n, "one", LogStream.STDOUT],
        [2n, "two", LogStream.STDERR],
      ],
    );
    const outputs = await client.setExecutionOutputs({
      executionId: id,
      outputs: [{ name: "accuracy", value: { kind: { case: "numberValue", value: 0.93 } } }],
    });
    assert.equal(outputs.execution?.outputs[0]?.name, "accuracy");
    const output = await client.getExecutionOutput({ executionId: id, outputName: "accuracy" });
    assert.equal(output.output?.value?.kind.value, 0.93);
    const status = await client.getJobStatus({ executionId: id });
    assert.equal(status.jobStatus?.status, RunningStatus.RUNNING);
    const canceled = await client.cancelExecution({ executionId: id, reason: "enough" });
    assert.equal(canceled.jobStatus?.status, RunningStatus.CANCEL_REQUESTED);
    assert.equal(canceled.jobStatus?.cancelReason, "enough");
    const stopped = await client.updateJobStatus({
      executionId: id,
      action: { case: "stop", value: { cause: RunningStatus.CANCELED } },
    });
    assert.equal(stopped.jobStatus?.status, RunningStatus.CANCELED);
    assert.equal((await client.deleteExecution({ executionId: id })).executionId, id);
    const deleted = await client.deleteDeployment({ name: "ts-unary" });
    assert.equal(deleted.name, "ts-unary");

    const reader = await client.createToken({ name: "ts-reader", role: Role.READER });
    assert.ok(reader.secret);
    const tokenId = reader.token?.tokenId ?? "";
    const tokens = await client.listTokens({});
    assert.ok(tokens.tokens.some((t) => t.tokenId === tokenId));
    const revoked = await client.revokeToken({ tokenId });
    assert.ok(revoked.token?.revokeTime);
  });

  it("follows an execution's logs and status to the end", async () => {
    const { execution } = await client.createExecution({ execution: { pipelineName: "pipe" } });
    const id = execution?.executionId ?? "";
    const events: ExecutionEvent[] = [];
    const watching = (async () => {
      for await (const event of client.watch({ executionId: id })) events.push(event);
    })();
    await waitFor(() => events.length === 1, "the snapshot");
    const following = collect(client.followLogs({ executionId: id }));

    await client.updateJobStatus({ executionId: id, action: { case: "start", value: {} } });
    const messages: string[] = [];
    for (const progress of [0.25, 0.5, 0.75]) {
      const batch = [`at ${progress}`, `still at ${progress}`];
      messages.push(...batch);
      await client.appendLogs({ executionId: id, entries: batch.map((message) => ({ message })) });
      await client.updateJobStatus({
        executionId: id,
        action: { case: "progress", value: { progress, phase: "train" } },
      });
    }
    await client.updateJobStatus({
      executionId: id,
      action: { case: "stop", value: { cause: RunningStatus.SUCCESS } },
    });

    await within(20_000, watching, "the watch");
    const lines = await within(20_000, following, "the log stream");
    assert.deepEqual(
      lines.map((l) => l.message),
      messages,
    );
    assert.deepEqual(
      lines.map((l) => l.seq),
      messages.map((_, i) => BigInt(i + 1)),
    );
    assert.equal(events[0]?.snapshot, true);
    assert.deepEqual(
      events.map((e) => e.revision),
      events.map((_, i) => BigInt(i + 1)),
    );
    assert.deepEqual(
      events.filter((e) => e.changes.includes(ChangeKind.PROGRESS)).map((e) => e.jobStatus?.progress),
      [0.25, 0.5, 0.75],
    );
    assert.equal(events.at(-1)?.jobStatus?.status, RunningStatus.SUCCESS);

    // Reading after a seq without following returns the rest at once.
    const rest = await collect(client.followLogs({ executionId: id, afterSeq: 4n, follow: false }));
    assert.deepEqual(
      rest.map((l) => l.message),
      messages.slice(4),
    );
  });

  it("logs metric points, reads them bucketed, and streams them to the end", async () => {
    const { execution } = await client.createExecution({ execution: { pipelineName: "pipe" } });
    const id = execution?.executionId ?? "";
    await client.updateJobStatus({ executionId: id, action: { case: "start", value: {} } });
    const values = Array.from({ length: 100 }, (_, i) => (i === 42 ? 50 : 1 + i / 100));
    const logged = await client.logMetrics({
      executionId: id,
      points: values.map((value) => ({ name: "loss", value })),
    });
    assert.equal(logged.lastSeq, 100n);
    await client.logMetrics({ executionId: id, points: [{ name: "acc", value: Number.NaN, step: 3n }] });

    const listed = await client.listMetrics({ executionId: id });
    assert.deepEqual(
      listed.series.map((s) => [s.name, s.count, s.lastStep]),
      [
        ["acc", 1n, 3n],
        ["loss", 100n, 99n],
      ],
    );
    assert.ok(Number.isNaN(listed.series[0]?.lastValue));
    assert.equal(listed.series[1]?.maxValue, 50);

    const { histories } = await client.getMetricHistory({
      executionIds: [id],
      name: "loss",
      maxPoints: 10,
    });
    const buckets = histories[0]?.buckets ?? [];
    assert.equal(buckets.length, 10);
    assert.deepEqual(
      buckets.filter((b) => b.maxValue === 50).map((b) => [b.firstStep, b.lastStep]),
      [[40n, 49n]],
    );

    const streamed: bigint[] = [];
    const following = (async () => {
      for await (const response of client.streamMetrics({ executionId: id, afterSeq: 99n, follow: true })) {
        streamed.push(...response.points.map((p) => p.seq));
      }
    })();
    await waitFor(() => streamed.length === 2, "the stored points after seq 99");
    await client.logMetrics({ executionId: id, points: [{ name: "loss", value: 0.5 }] });
    await client.updateJobStatus({
      executionId: id,
      action: { case: "stop", value: { cause: RunningStatus.SUCCESS } },
    });
    await within(20_000, following, "the metric stream");
    assert.deepEqual(streamed, [100n, 101n, 102n]);

    const refused = await rejection(
      client.logMetrics({ executionId: id, points: [{ name: "", value: 1 }] }),
    );
    assert.equal(refused.code, Code.InvalidArgument);
    assert.ok(refused.fieldViolations.some((v) => v.field === "points[0].name"));
  });

  it("stops a stream when the loop is left", async () => {
    const { execution } = await client.createExecution({ execution: { pipelineName: "pipe" } });
    for await (const event of client.watch({ executionId: execution?.executionId ?? "" })) {
      assert.equal(event.snapshot, true);
      break;
    }
  });

  it("rejects a bad progress with INVALID_ARGUMENT naming progress", async () => {
    const { execution } = await client.createExecution({ execution: { pipelineName: "pipe" } });
    const id = execution?.executionId ?? "";
    await client.updateJobStatus({ executionId: id, action: { case: "start", value: {} } });
    const error = await rejection(
      client.updateJobStatus({
        executionId: id,
        action: { case: "progress", value: { progress: 1.5 } },
      }),
    );
    assert.equal(error.code, Code.InvalidArgument);
    assert.equal(error.codeName, "INVALID_ARGUMENT");
    assert.ok(error.isWireError);
    assert.deepEqual(
      error.fieldViolations.map((v) => v.field),
      ["progress.progress"],
    );
    assert.match(error.fieldViolations[0]?.description ?? "", /between 0 and 1|\[0, 1\]|0\.0|1\.0/);
  });

  it("rejects what does not exist with NOT_FOUND, in calls and streams", async () => {
    const unary = await rejection(client.getExecution({ executionId: "no-such-execution" }));
    assert.equal(unary.code, Code.NotFound);
    assert.equal(unary.codeName, "NOT_FOUND");
    assert.deepEqual(unary.fieldViolations, []);
    const stream = await rejection(collect(client.watch({ executionId: "no-such-execution" })));
    assert.equal(stream.code, Code.NotFound);
  });

  it("speaks Connect to the HTTP port, from Node.js and with the browser's transport", async () => {
    for (const connectClient of [
      connect(server.httpUrl, { protocol: "connect", token, timeoutMs: 20_000 }),
      connectWeb(server.httpUrl, { token, timeoutMs: 20_000 }),
      connectWeb(server.httpUrl, { token, json: true, timeoutMs: 20_000 }),
    ]) {
      const info = await connectClient.getServiceInfo({});
      assert.ok(info.version);
      const { execution } = await connectClient.createExecution({ execution: { pipelineName: "pipe" } });
      const executionId = execution?.executionId ?? "";
      await connectClient.updateJobStatus({ executionId, action: { case: "start", value: {} } });
      const error = await rejection(
        connectClient.updateJobStatus({
          executionId,
          action: { case: "progress", value: { progress: 1.5 } },
        }),
      );
      assert.equal(error.code, Code.InvalidArgument);
      assert.deepEqual(
        error.fieldViolations.map((v) => v.field),
        ["progress.progress"],
      );
    }
  });

  it("sends the trace context of TRACEPARENT or of its options, over gRPC and Connect", async () => {
    const fromEnvironment = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const fromOptions = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const before = process.env.TRACEPARENT;
    process.env.TRACEPARENT = fromEnvironment;
    try {
      const cases: [TrackingClient, string][] = [
        [connect(server.address, { token, timeoutMs: 20_000 }), fromEnvironment],
        [connect(server.address, { token, traceParent: fromOptions, timeoutMs: 20_000 }), fromOptions],
        [connect(server.address, { token, traceParent: "", timeoutMs: 20_000 }), ""],
        [connectWeb(server.httpUrl, { token, traceParent: fromOptions, timeoutMs: 20_000 }), fromOptions],
      ];
      for (const [traced, expected] of cases) {
        const { execution } = await traced.createExecution({ execution: { pipelineName: "traced" } });
        assert.equal(execution?.traceParent, expected);
      }
    } finally {
      if (before === undefined) delete process.env.TRACEPARENT;
      else process.env.TRACEPARENT = before;
    }
  });

  it("rejects a call without a token with UNAUTHENTICATED", async () => {
    const anonymous = createTrackingClient(createNodeTransport(server.address));
    const error = await rejection(anonymous.getServiceInfo({}));
    assert.equal(error.code, Code.Unauthenticated);
  });
});

describe("watch and followLogs across a server SIGKILL and restart", () => {
  const server = new TrackingServer();
  before(() => server.start());
  after(() => server.stop());

  it("resumes from the cursor: no gap, no duplicate", async () => {
    const client = connect(server.address, { retry: PATIENT, timeoutMs: 20_000 });
    const { execution } = await client.createExecution({ execution: { pipelineName: "pipe" } });
    const id = execution?.executionId ?? "";
    const events: ExecutionEvent[] = [];
    const seqs: bigint[] = [];
    const watching = (async () => {
      for await (const event of client.watch({ executionId: id })) events.push(event);
    })();
    const following = (async () => {
      for await (const line of client.followLogs({ executionId: id })) seqs.push(line.seq);
    })();
    await waitFor(() => events.length === 1, "the snapshot");

    const report = async (n: number) => {
      await client.appendLogs({ executionId: id, entries: [{ message: `line ${n}` }] });
      await client.updateJobStatus({
        executionId: id,
        action: { case: "progress", value: { progress: n / 10 } },
      });
    };
    await client.updateJobStatus({ executionId: id, action: { case: "start", value: {} } });
    for (const n of [1, 2, 3]) await report(n);
    await waitFor(() => events.length === 5 && seqs.length === 3, "the first events and lines");

    await server.kill();
    await server.start(); // the same port and database
    for (const n of [4, 5, 6]) await report(n);
    await client.updateJobStatus({
      executionId: id,
      action: { case: "stop", value: { cause: RunningStatus.SUCCESS } },
    });

    await within(30_000, watching, "the resumed watch");
    const final = (await client.getJobStatus({ executionId: id })).jobStatus?.revision ?? 0n;
    assert.equal(final, 9n);
    assert.deepEqual(
      events.map((e) => e.revision),
      Array.from({ length: Number(final) }, (_, i) => BigInt(i + 1)),
    );
    assert.equal(events.filter((e) => e.snapshot).length, 1);
    assert.equal(events.at(-1)?.jobStatus?.status, RunningStatus.SUCCESS);
    await within(30_000, following, "the resumed log stream");
    assert.deepEqual(seqs, [1n, 2n, 3n, 4n, 5n, 6n]);
  });
});
