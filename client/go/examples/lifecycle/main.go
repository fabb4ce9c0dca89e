// Creates an execution, watches it while it starts, reports progress and log lines and
// stops, then prints its logs: go run ./examples/lifecycle [host:port] (TRACKING_TOKEN).
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"tracking/client/go"
	pb "tracking/client/go/tracking/v1"
)

func main() {
	address := "127.0.0.1:50051"
	if len(os.Args) > 1 {
		address = os.Args[1]
	}
	client, err := tracking.Dial(address, tracking.Options{Token: os.Getenv("TRACKING_TOKEN")})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	created, err := client.CreateExecution(ctx, &pb.CreateExecutionRequest{
		Execution: &pb.Execution{PipelineName: "train-pipeline", JobName: "fit"},
	})
	if err != nil {
		log.Fatal(err)
	}
	id := created.GetExecution().GetExecutionId()
	watch, err := client.WatchStatus(ctx, &pb.WatchStatusRequest{ExecutionId: id})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil { // the snapshot: the watch is open
		log.Fatal(err)
	}
	for _, request := range []*pb.UpdateJobStatusRequest{
		{ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Start{Start: &pb.StartAction{}}},
		{ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Progress{Progress: &pb.ProgressAction{Progress: 0.5, Phase: "epoch 5/10"}}},
		{ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Stop{Stop: &pb.StopAction{Cause: pb.RunningStatus_RUNNING_STATUS_SUCCESS}}},
	} {
		if request.GetStop() != nil {
			lines := []*pb.LogEntry{{Message: "loss=0.31"}, {Message: "loss=0.27"}}
			if _, err := client.AppendLogs(ctx, &pb.AppendLogsRequest{ExecutionId: id, Entries: lines}); err != nil {
				log.Fatal(err)
			}
		}
		if _, err := client.UpdateJobStatus(ctx, request); err != nil {
			log.Fatal(err)
		}
	}
	for { // the watch ends after the terminal event
		response, err := watch.Recv()
		if err == io.EOF {
			break
		} else if err != nil {
			log.Fatal(err)
		}
		if event := response.GetEvent(); event != nil {
			fmt.Println(event.GetRevision(), event.GetJobStatus().GetStatus(), event.GetJobStatus().GetPhase())
		}
	}
	logs, err := client.GetExecutionLogs(ctx, &pb.GetExecutionLogsRequest{ExecutionId: id})
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range logs.GetEntries() {
		fmt.Println(line.GetSeq(), line.GetMessage())
	}
}
