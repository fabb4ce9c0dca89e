module tracking/client/go

go 1.19

// The oldest versions the generated code and the client are built and tested with (Debian
// 12's packages, see debian-packages.txt); newer ones work too. With network access:
// `go mod tidy` writes go.sum, then `go build ./...` and `go test ./...` work as usual.
require (
	google.golang.org/genproto v0.0.0-20200413115906-b5235f65be36
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)
