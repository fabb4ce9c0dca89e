// Creates an execution, starts it, reports progress and logs while watching
// its status and following its logs, then stops it.
//
//   node examples/watch.js [host:port]
//
// The address defaults to $TRACKING_ADDRESS or 127.0.0.1:50051; a bearer
// token is read from $TRACKING_TOKEN when set.

import { createClient } from '../src/client.js';

const address = process.argv[2] ?? process.env.TRACKING_ADDRESS ?? '127.0.0.1:50051';
const client = createClient(address, { token: process.env.TRACKING_TOKEN });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const execution = await client.createExecution({
    pipeline_name: 'example-pipeline',
    job_name: 'watch-example',
    job_type: 'JOB_TYPE_TRAIN',
  });
  const id = execution.execution_id;
  console.log(`created execution ${id} (${execution.job_status.status})`);

  // Watch from the current state: the first event is a snapshot. Start the
  // job only once it has arrived, so the watch sees every change.
  let snapshotSeen;
  const snapshot = new Promise((resolve) => (snapshotSeen = resolve));
  const watched = (async () => {
    for await (const event of client.watch(id)) {
      snapshotSeen();
      const s = event.job_status;
      const what = event.snapshot ? 'snapshot' : event.changes.join(',');
      console.log(
        `[watch] rev ${event.revision} ${s.status} progress=${s.progress} phase=${s.phase || '-'} (${what})`,
      );
    }
    console.log('[watch] stream ended');
  })().finally(() => snapshotSeen());

  const followed = (async () => {
    for await (const line of client.followLogs(id)) {
      console.log(`[logs]  #${line.seq} ${line.stream} ${line.message}`);
    }
    console.log('[logs]  stream ended');
  })();

  await snapshot;
  await client.startJob(id, { phase: 'setup' });
  for (const progress of [0.25, 0.5, 0.75, 1]) {
    await sleep(200);
    await client.appendLogs(id, [
      { stream: 'LOG_STREAM_STDOUT', message: `working: ${progress * 100}%` },
    ]);
    await client.reportProgress(id, progress, { phase: 'train' });
  }
  const final = await client.stopJob(id, 'SUCCESS', { message: 'done' });
  console.log(`stopped: ${final.status} after ${final.duration?.seconds ?? '?'}s`);

  await Promise.all([watched, followed]);
}

main()
  .catch((err) => {
    console.error(err.code !== undefined ? `error ${err.code} ${err.codeName}: ${err.details}` : err);
    process.exitCode = 1;
  })
  .finally(() => client.close());
