import { ExecutionRule, RunningStatus, TrackingError } from "tracking-client";
import { connect } from "tracking-client/node";

const client = connect(process.env.TRACKING_ADDRESS ?? "127.0.0.1:50051", { token: process.env.TRACKING_TOKEN });
try {
  await client.createDeployment({
    deployment: { name: "nightly-train-ts", pipelineName: "train-pipeline", executionRule: ExecutionRule.ENDPOINT },
  });
} catch (error) {
  if (!(error instanceof TrackingError && error.codeName === "ALREADY_EXISTS")) throw error; // an earlier run made it
}
const { execution } = await client.createExecution({ execution: { deploymentName: "nightly-train-ts", jobName: "fit" } });
const executionId = execution!.executionId;
await client.updateJobStatus({ executionId, action: { case: "start", value: {} } });
try {
  await client.updateJobStatus({ executionId, action: { case: "progress", value: { progress: 1.5 } } });
} catch (error) {
  if (error instanceof TrackingError) console.log(error.codeName, error.fieldViolations.map((v) => v.field));
}
await client.updateJobStatus({ executionId, action: { case: "progress", value: { progress: 0.5, phase: "epoch 5/10" } } });
await client.appendLogs({ executionId, entries: [{ message: "loss=0.31" }, { message: "loss=0.27" }] });
await client.updateJobStatus({ executionId, action: { case: "stop", value: { cause: RunningStatus.SUCCESS } } });
for await (const event of client.watch({ executionId })) console.log(RunningStatus[event.jobStatus!.status]);
for await (const line of client.followLogs({ executionId })) console.log(line.message);
