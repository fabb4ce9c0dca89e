// Runs the client against a live `tracking serve` (SQLite in a temp dir).
//
// The server binary defaults to the repository's .venv/bin/tracking; set
// TRACKING_BIN to use another one.

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { createClient, TrackingError } from '../src/client.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = path.resolve(HERE, '..');
const TRACKING_BIN =
  process.env.TRACKING_BIN ?? path.resolve(PACKAGE_DIR, '..', '..', '.venv', 'bin', 'tracking');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the server; resolves with {child, address} once it says where it listens. */
function startServer(dbDir) {
  const child = spawn(
    TRACKING_BIN,
    ['serve', '--address', '127.0.0.1:0', '--database-url', `sqlite:///${dbDir}/t.db`],
    {
      env: { ...process.env, TRACKING_HEARTBEAT_SECONDS: '0.5', TRACKING_LOG_FORMAT: 'text' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within 30s:\n${stderr}`));
    }, 30_000);
    const onData = (chunk) => {
      stderr += chunk;
      const match = /serving on (\S+):(\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        child.off('exit', onExit);
        // Keep draining stderr so the server never blocks on a full pipe.
        resolve({ child, address: `${match[1]}:${match[2]}` });
      }
    };
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before serving:\n${stderr}`));
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', onData);
    child.on('exit', onExit);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** SIGTERM, then SIGKILL if it has not exited after 15s. */
async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Collects an async iterable into an array. */
async function collect(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** Rejects if the promise takes longer than ms. */
function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('tracking Node.js client against a live server', () => {
  let server;
  let client;
  let tmpDir;

  before(async () => {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracking-node-'));
    server = await startServer(tmpDir);
    client = createClient(server.address, { timeoutMs: 10_000 });
  });

  after(async () => {
    client?.close();
    if (server) await stopServer(server.child);
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  });

  it('watches an execution and follows its logs until it ends', async () => {
    const deployment = await client.createDeployment({
      name: 'node-client-test',
      pipeline_name: 'pipe',
      execution_rule: 'EXECUTION_RULE_ENDPOINT',
      is_enabled: true,
    });
    assert.equal(deployment.name, 'node-client-test');
    assert.equal(deployment.execution_rule, 'EXECUTION_RULE_ENDPOINT');

    const execution = await client.createExecution(
      { deployment_name: deployment.name, job_name: 'job' },
      { requestId: 'node-test-1' },
    );
    const id = execution.execution_id;
    assert.ok(id);
    assert.equal(execution.pipeline_name, 'pipe');
    assert.equal(execution.job_status.status, 'RUNNING_STATUS_WAITING');
    assert.equal(execution.job_status.revision, '1');

    // Open the watch and wait for its snapshot before changing anything.
    const events = [];
    let gotSnapshot;
    const snapshotArrived = new Promise((resolve) => (gotSnapshot = resolve));
    const watching = (async () => {
      for await (const event of client.watch(id)) {
        events.push(event);
        gotSnapshot();
      }
    })();
    await within(5_000, snapshotArrived, 'the snapshot');
    // Stay idle past the heartbeat interval: heartbeats must not show up as events.
    await sleep(800);
    assert.equal(events.length, 1);

    const following = collect(client.followLogs(id));

    const started = await client.startJob(id, { phase: 'setup' });
    assert.equal(started.status, 'RUNNING_STATUS_RUNNING');
    const messages = [];
    for (const progress of [0.25, 0.5, 0.75]) {
      const batch = [`at ${progress}`, `still at ${progress}`];
      messages.push(...batch);
      await client.appendLogs(
        id,
        batch.map((message) => ({ stream: 'LOG_STREAM_STDOUT', message })),
      );
      const status = await client.reportProgress(id, progress, { phase: 'train' });
      assert.equal(status.progress, progress);
    }
    const lastSeq = await client.appendLogs(id, ['the end']);
    messages.push('the end');
    assert.equal(lastSeq, String(messages.length));
    const stopped = await client.stopJob(id, 'SUCCESS', { message: 'done' });
    assert.equal(stopped.status, 'RUNNING_STATUS_SUCCESS');
    // A success has no stop message: the one it was sent with is its phase.
    assert.equal(stopped.phase, 'done');
    assert.equal(stopped.stop_message, '');

    // Both streams end by themselves once the execution has ended.
    await within(10_000, watching, 'the watch');
    const lines = await within(10_000, following, 'the log stream');

    const [snapshot, running, ...rest] = events;
    assert.equal(snapshot.snapshot, true);
    assert.equal(snapshot.revision, '1');
    assert.equal(snapshot.execution_id, id);
    assert.equal(snapshot.job_status.status, 'RUNNING_STATUS_WAITING');
    assert.equal(running.snapshot, false);
    assert.equal(running.job_status.status, 'RUNNING_STATUS_RUNNING');
    assert.ok(running.changes.includes('CHANGE_KIND_STATUS'));
    const progressEvents = rest.filter((e) => e.changes.includes('CHANGE_KIND_PROGRESS'));
    assert.deepEqual(
      progressEvents.map((e) => e.job_status.progress),
      [0.25, 0.5, 0.75],
    );
    const last = events.at(-1);
    assert.equal(last.job_status.status, 'RUNNING_STATUS_SUCCESS');
    const revisions = events.map((e) => Number(e.revision));
    assert.deepEqual(
      revisions,
      [...revisions].sort((a, b) => a - b),
      'events come in revision order',
    );

    assert.deepEqual(
      lines.map((l) => l.message),
      messages,
    );
    assert.deepEqual(
      lines.map((l) => l.seq),
      messages.map((_, i) => String(i + 1)),
    );

    const job = await client.getJobStatus(id);
    assert.equal(job.status, 'RUNNING_STATUS_SUCCESS');
    const fetched = await client.getExecution(id);
    assert.equal(fetched.job_status.revision, last.revision);

    // Resuming after a revision skips the snapshot and what came before.
    const resumed = await within(
      5_000,
      collect(client.watch(id, { afterRevision: Number(last.revision) - 1 })),
      'the resumed watch',
    );
    assert.deepEqual(
      resumed.map((e) => [e.revision, e.snapshot]),
      [[last.revision, false]],
    );
    // Reading logs after a seq, without following, returns the rest at once.
    const tail = await collect(client.followLogs(id, { afterSeq: 5, follow: false }));
    assert.deepEqual(
      tail.map((l) => l.message),
      messages.slice(5),
    );
  });

  it('cancels a running execution and stops a stream when the loop breaks', async () => {
    const { execution_id: id } = await client.createExecution({ pipeline_name: 'pipe' });
    await client.startJob(id);
    for await (const event of client.watch(id)) {
      assert.equal(event.snapshot, true);
      break; // cancels the call; must not hang or throw
    }
    const status = await client.cancelExecution(id, { reason: 'test' });
    assert.equal(status.status, 'RUNNING_STATUS_CANCEL_REQUESTED');
    assert.equal(status.cancel_reason, 'test');
    const stopped = await client.stopJob(id, 'RUNNING_STATUS_CANCELED');
    assert.equal(stopped.status, 'RUNNING_STATUS_CANCELED');
  });

  it('rejects a missing execution with NOT_FOUND', async () => {
    await assert.rejects(client.getExecution('no-such-execution'), (err) => {
      assert.ok(err instanceof TrackingError);
      assert.ok(err instanceof Error);
      assert.equal(err.code, 5);
      assert.equal(err.codeName, 'NOT_FOUND');
      assert.match(err.details, /no-such-execution|not found/i);
      return true;
    });
  });

  it('rejects an invalid deployment name with INVALID_ARGUMENT', async () => {
    await assert.rejects(
      client.createDeployment({
        name: 'Not A Valid Name!',
        pipeline_name: 'pipe',
        execution_rule: 'EXECUTION_RULE_ENDPOINT',
      }),
      (err) => {
        assert.ok(err instanceof TrackingError);
        assert.equal(err.code, 3);
        assert.equal(err.codeName, 'INVALID_ARGUMENT');
        assert.match(err.details, /name/);
        return true;
      },
    );
  });

  it('rejects a stream error with the status code', async () => {
    await assert.rejects(collect(client.watch('no-such-execution')), (err) => {
      assert.ok(err instanceof TrackingError);
      assert.equal(err.codeName, 'NOT_FOUND');
      return true;
    });
  });

  it('runs examples/watch.js', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(PACKAGE_DIR, 'examples', 'watch.js'), server.address],
      { timeout: 20_000 },
    );
    assert.match(stdout, /\(snapshot\)/);
    assert.match(stdout, /RUNNING_STATUS_SUCCESS/);
    assert.match(stdout, /\[watch\] stream ended/);
    assert.match(stdout, /\[logs\] {2}stream ended/);
  });
});
