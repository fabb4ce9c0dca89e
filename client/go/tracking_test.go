package tracking_test

// The Go client against a live `tracking serve` (SQLite in a temp dir, a free port, no
// HTTP side, auth on), started by the test from the repository's .venv (or $TRACKING_BIN).
// Under CI=true a missing server fails the run instead of skipping.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tracking/client/go"
	pb "tracking/client/go/tracking/v1"
)

var (
	address string
	token   string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin, problem := trackingBin()
	if problem != "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "CI=true and "+problem)
			return 1
		}
		fmt.Println("skipping the Go client's tests: " + problem)
		return 0
	}
	directory, err := os.MkdirTemp("", "tracking-go-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(directory)
	database := "sqlite:///" + filepath.Join(directory, "tracking.db")
	created, err := exec.Command(bin, "tokens", "create", "--role", "admin", "--name", "go-test",
		"--database-url", database, "--create-database").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracking tokens create:", err)
		return 1
	}
	lines := strings.Split(strings.TrimSpace(string(created)), "\n")
	token = lines[len(lines)-1]
	server, err := serve(bin, database)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		_ = server.Process.Signal(os.Interrupt)
		_ = server.Wait()
	}()
	return m.Run()
}

// trackingBin is $TRACKING_BIN, or the repository's .venv/bin/tracking.
func trackingBin() (string, string) {
	bin := os.Getenv("TRACKING_BIN")
	if bin == "" {
		here, err := os.Getwd()
		if err == nil {
			here, err = filepath.EvalSymlinks(here)
		}
		if err != nil {
			return "", "cannot find this directory: " + err.Error()
		}
		bin = filepath.Join(here, "..", "..", ".venv", "bin", "tracking")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Sprintf("the server %s is not there (make install creates it; TRACKING_BIN names another)", bin)
	}
	return bin, ""
}

var serving = regexp.MustCompile(`serving on (\S+):(\d+)`)

// serve starts `tracking serve` on a free port, with its HTTP side off (so the tests pass
// beside a `make run`), and sets address once it listens. When it does not, the error
// carries what the server wrote.
func serve(bin, database string) (*exec.Cmd, error) {
	server := exec.Command(bin, "serve", "--address", "127.0.0.1:0", "--http-address", "", "--database-url", database)
	server.Env = append(os.Environ(), "TRACKING_AUTH=on", "TRACKING_LOG_FORMAT=text", "TRACKING_HEARTBEAT_SECONDS=0.5")
	stderr, err := server.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := server.Start(); err != nil {
		return nil, err
	}
	found := make(chan string, 1)
	ended := make(chan struct{})
	var output strings.Builder
	var outputLock sync.Mutex
	go func() {
		defer close(ended)
		scanner := bufio.NewScanner(stderr)
		scanner.Buffer(make([]byte, 64*1024), 1024*1024)
		for scanner.Scan() {
			outputLock.Lock()
			if output.Len() < 64*1024 {
				output.WriteString(scanner.Text() + "\n")
			}
			outputLock.Unlock()
			if match := serving.FindStringSubmatch(scanner.Text()); match != nil {
				select {
				case found <- match[1] + ":" + match[2]:
				default:
				}
			}
		}
	}()
	written := func() string {
		outputLock.Lock()
		defer outputLock.Unlock()
		return output.String()
	}
	select {
	case address = <-found:
		return server, nil
	case <-ended:
		_ = server.Wait()
		return nil, fmt.Errorf("tracking serve exited (%s) before serving:\n%s", server.ProcessState, written())
	case <-time.After(60 * time.Second):
		_ = server.Process.Kill()
		return nil, fmt.Errorf("tracking serve did not start within 60 s:\n%s", written())
	}
}

func connect(t *testing.T, options tracking.Options) *tracking.Client {
	t.Helper()
	client, err := tracking.Dial(address, options)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newExecution(t *testing.T, client *tracking.Client) string {
	t.Helper()
	created, err := client.CreateExecution(timeout(t), &pb.CreateExecutionRequest{
		Execution: &pb.Execution{PipelineName: "pipe"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return created.GetExecution().GetExecutionId()
}

func TestCallsWithAToken(t *testing.T) {
	client := connect(t, tracking.Options{Token: token})
	ctx := timeout(t)
	info, err := client.GetServiceInfo(ctx, &pb.GetServiceInfoRequest{})
	if err != nil || info.GetVersion() == "" {
		t.Fatalf("GetServiceInfo: %v %v", info, err)
	}
	deployment, err := client.CreateDeployment(ctx, &pb.CreateDeploymentRequest{Deployment: &pb.Deployment{
		Name: "go-client", PipelineName: "pipe", ExecutionRule: pb.ExecutionRule_EXECUTION_RULE_ENDPOINT,
	}})
	if err != nil || deployment.GetDeployment().GetName() != "go-client" {
		t.Fatalf("CreateDeployment: %v %v", deployment, err)
	}
	created, err := client.CreateExecution(ctx, &pb.CreateExecutionRequest{
		Execution: &pb.Execution{DeploymentName: "go-client", JobName: "fit"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetExecution().GetExecutionId()
	if got := created.GetExecution().GetJobStatus().GetStatus(); got != pb.RunningStatus_RUNNING_STATUS_WAITING {
		t.Fatalf("a new execution is %v", got)
	}
	started, err := client.UpdateJobStatus(ctx, &pb.UpdateJobStatusRequest{
		ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Start{Start: &pb.StartAction{Phase: "setup"}},
	})
	if err != nil || started.GetJobStatus().GetStatus() != pb.RunningStatus_RUNNING_STATUS_RUNNING {
		t.Fatalf("start: %v %v", started, err)
	}
	appended, err := client.AppendLogs(ctx, &pb.AppendLogsRequest{ExecutionId: id, Entries: []*pb.LogEntry{
		{Message: "one"}, {Message: "two", Stream: pb.LogStream_LOG_STREAM_STDERR},
	}})
	if err != nil || appended.GetLastSeq() != 2 {
		t.Fatalf("AppendLogs: %v %v", appended, err)
	}
	logs, err := client.GetExecutionLogs(ctx, &pb.GetExecutionLogsRequest{ExecutionId: id})
	if err != nil || len(logs.GetEntries()) != 2 || logs.GetEntries()[1].GetStream() != pb.LogStream_LOG_STREAM_STDERR {
		t.Fatalf("GetExecutionLogs: %v %v", logs, err)
	}
	listed, err := client.ListExecutions(ctx, &pb.ListExecutionsRequest{Filter: `deployment_name = "go-client"`})
	if err != nil || len(listed.GetExecutions()) != 1 || listed.GetExecutions()[0].GetExecutionId() != id {
		t.Fatalf("ListExecutions: %v %v", listed, err)
	}
}

const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestTheTraceContextOfTheEnvironmentOrTheOptionsIsSent(t *testing.T) {
	t.Setenv("TRACEPARENT", traceParent)
	fromEnvironment := connect(t, tracking.Options{Token: token})
	created, err := fromEnvironment.CreateExecution(timeout(t), &pb.CreateExecutionRequest{
		Execution: &pb.Execution{PipelineName: "traced"},
	})
	if err != nil || created.GetExecution().GetTraceParent() != traceParent {
		t.Fatalf("with TRACEPARENT set: %v %v", created.GetExecution().GetTraceParent(), err)
	}
	other := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	fromOptions := connect(t, tracking.Options{Token: token, TraceParent: other})
	created, err = fromOptions.CreateExecution(timeout(t), &pb.CreateExecutionRequest{
		Execution: &pb.Execution{PipelineName: "traced"},
	})
	if err != nil || created.GetExecution().GetTraceParent() != other {
		t.Fatalf("with Options.TraceParent: %v %v", created.GetExecution().GetTraceParent(), err)
	}
	t.Setenv("TRACEPARENT", "")
	untraced := connect(t, tracking.Options{Token: token})
	created, err = untraced.CreateExecution(timeout(t), &pb.CreateExecutionRequest{
		Execution: &pb.Execution{PipelineName: "traced"},
	})
	if err != nil || created.GetExecution().GetTraceParent() != "" {
		t.Fatalf("with no trace context: %v %v", created.GetExecution().GetTraceParent(), err)
	}
}

func TestWatchUntilTheEnd(t *testing.T) {
	client := connect(t, tracking.Options{Token: token})
	ctx := timeout(t)
	id := newExecution(t, client)
	watch, err := client.WatchStatus(ctx, &pb.WatchStatusRequest{ExecutionId: id})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || !first.GetEvent().GetSnapshot() {
		t.Fatalf("the first message is not the snapshot: %v %v", first, err)
	}
	for _, action := range []*pb.UpdateJobStatusRequest{
		{ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Start{Start: &pb.StartAction{}}},
		{ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Progress{Progress: &pb.ProgressAction{Progress: 0.5}}},
		{ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Stop{Stop: &pb.StopAction{Cause: pb.RunningStatus_RUNNING_STATUS_ERROR, Message: "boom"}}},
	} {
		if _, err := client.UpdateJobStatus(ctx, action); err != nil {
			t.Fatal(err)
		}
	}
	var revisions []int64
	var last *pb.ExecutionEvent
	for {
		response, err := watch.Recv()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if event := response.GetEvent(); event != nil {
			revisions = append(revisions, event.GetRevision())
			last = event
		}
	}
	if fmt.Sprint(revisions) != "[2 3 4]" {
		t.Fatalf("revisions after the snapshot: %v", revisions)
	}
	if last.GetJobStatus().GetStatus() != pb.RunningStatus_RUNNING_STATUS_ERROR || last.GetJobStatus().GetStopMessage() != "boom" {
		t.Fatalf("the last event: %v", last)
	}
}

func TestMetricsBucketedAndStreamed(t *testing.T) {
	client := connect(t, tracking.Options{Token: token})
	ctx := timeout(t)
	id := newExecution(t, client)
	if _, err := client.UpdateJobStatus(ctx, &pb.UpdateJobStatusRequest{
		ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Start{Start: &pb.StartAction{}},
	}); err != nil {
		t.Fatal(err)
	}
	var points []*pb.MetricPoint
	for i := 0; i < 100; i++ {
		value := 1.0
		if i == 57 {
			value = 40
		}
		points = append(points, &pb.MetricPoint{Name: "loss", Value: value})
	}
	logged, err := client.LogMetrics(ctx, &pb.LogMetricsRequest{ExecutionId: id, Points: points})
	if err != nil || logged.GetLastSeq() != 100 {
		t.Fatalf("LogMetrics: %v %v", logged, err)
	}
	history, err := client.GetMetricHistory(ctx, &pb.GetMetricHistoryRequest{
		ExecutionIds: []string{id}, Name: "loss", MaxPoints: 20,
	})
	if err != nil || len(history.GetHistories()) != 1 {
		t.Fatalf("GetMetricHistory: %v %v", history, err)
	}
	var spiked []string
	for _, bucket := range history.GetHistories()[0].GetBuckets() {
		if bucket.GetMaxValue() == 40 {
			spiked = append(spiked, fmt.Sprintf("%d-%d", bucket.GetFirstStep(), bucket.GetLastStep()))
		}
	}
	if fmt.Sprint(spiked) != "[55-59]" {
		t.Fatalf("the bucket holding the spike: %v", spiked)
	}
	stream, err := client.StreamMetrics(ctx, &pb.StreamMetricsRequest{ExecutionId: id, AfterSeq: 98})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for {
		response, err := stream.Recv()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		for _, point := range response.GetPoints() {
			seqs = append(seqs, point.GetSeq())
		}
	}
	if fmt.Sprint(seqs) != "[99 100]" {
		t.Fatalf("the points after seq 98: %v", seqs)
	}
	_, err = client.LogMetrics(ctx, &pb.LogMetricsRequest{ExecutionId: id, Points: []*pb.MetricPoint{{Name: "a\tb"}}})
	violations := tracking.FieldViolations(err)
	if status.Code(err) != codes.InvalidArgument || len(violations) != 1 || violations[0].Field != "points[0].name" {
		t.Fatalf("a bad name: %v %+v", err, violations)
	}
}

func TestBadProgressNamesTheField(t *testing.T) {
	client := connect(t, tracking.Options{Token: token})
	ctx := timeout(t)
	id := newExecution(t, client)
	if _, err := client.UpdateJobStatus(ctx, &pb.UpdateJobStatusRequest{
		ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Start{Start: &pb.StartAction{}},
	}); err != nil {
		t.Fatal(err)
	}
	_, err := client.UpdateJobStatus(ctx, &pb.UpdateJobStatusRequest{
		ExecutionId: id, Action: &pb.UpdateJobStatusRequest_Progress{Progress: &pb.ProgressAction{Progress: 1.5}},
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("progress 1.5: %v", err)
	}
	violations := tracking.FieldViolations(err)
	if len(violations) != 1 || violations[0].Field != "progress.progress" || violations[0].Description == "" {
		t.Fatalf("field violations: %+v", violations)
	}
}

func TestErrorsCarryTheirCode(t *testing.T) {
	client := connect(t, tracking.Options{Token: token})
	_, err := client.GetExecution(timeout(t), &pb.GetExecutionRequest{ExecutionId: "no-such-execution"})
	if status.Code(err) != codes.NotFound || tracking.FieldViolations(err) != nil {
		t.Fatalf("a missing execution: %v", err)
	}
	anonymous := connect(t, tracking.Options{})
	_, err = anonymous.GetServiceInfo(timeout(t), &pb.GetServiceInfoRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
}

// The README shows examples/lifecycle as it is, and it runs.
func TestTheExampleInTheReadmeRuns(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("examples", "lifecycle", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(realDir(t), "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := strings.SplitN(string(readme), "## Use it from Go", 2)
	if len(section) != 2 || !strings.Contains(section[1], "```go\n"+string(example)+"```") {
		t.Fatal("the README's Go example is not examples/lifecycle/main.go as it is")
	}
	run := exec.Command("go", "run", "./examples/lifecycle", address)
	run.Env = append(os.Environ(), "TRACKING_TOKEN="+token)
	output, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./examples/lifecycle: %v\n%s", err, output)
	}
	lines := strings.Split(strings.TrimSpace(string(output)), "\n")
	want := []string{
		"2 RUNNING_STATUS_RUNNING ",
		"3 RUNNING_STATUS_RUNNING epoch 5/10",
		"4 RUNNING_STATUS_SUCCESS epoch 5/10",
		"1 loss=0.31",
		"2 loss=0.27",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the example printed:\n%s\nwant:\n%s", output, strings.Join(want, "\n"))
	}
}

func realDir(t *testing.T) string {
	here, err := os.Getwd()
	if err == nil {
		here, err = filepath.EvalSymlinks(here)
	}
	if err != nil {
		t.Fatal(err)
	}
	return here
}

// The harness itself: a server that cannot start fails the tests with its own words.
func TestAServerThatCannotStartIsReportedWithItsOwnError(t *testing.T) {
	bin, problem := trackingBin()
	if problem != "" {
		t.Skip(problem)
	}
	t.Setenv("TRACKING_MAX_PAGE_SIZE", "lots")
	_, err := serve(bin, "sqlite:///"+filepath.Join(t.TempDir(), "tracking.db"))
	if err == nil {
		t.Fatal("the server started")
	}
	for _, want := range []string{"tracking serve exited", "error: max_page_size: Input should be a valid integer"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%q does not say %q", err, want)
		}
	}
}
