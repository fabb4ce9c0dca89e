// Package tracking connects to a tracking server: the generated gRPC client of
// tracking.v1.TrackingService (package trackingv1) over a connection with the options
// below, and the field violations an INVALID_ARGUMENT carries.
package tracking

import (
	"context"
	"crypto/tls"
	"os"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	trackingv1 "tracking/client/go/tracking/v1"
)

// Options of Dial. The zero value is plaintext without a token, as for a server on
// loopback with auth off.
type Options struct {
	// Token is sent as `authorization: Bearer <token>` with every call.
	Token string
	// TraceParent, a W3C trace context, is sent as `traceparent` with every call, so that
	// the server's spans join that trace and the executions created keep it. Empty: the
	// TRACEPARENT environment variable, which `tracking run` gives its command.
	TraceParent string
	// TLS turns TLS on (nil: plaintext). Its RootCAs, Certificates (mutual TLS) and
	// ServerName apply.
	TLS *tls.Config
	// DialOptions are added to the ones above.
	DialOptions []grpc.DialOption
}

// Client is the generated TrackingService client and the connection it uses.
type Client struct {
	trackingv1.TrackingServiceClient
	Conn *grpc.ClientConn
}

// Dial connects to the server's gRPC port, address being host:port. The connection is
// made lazily; the first call waits for it.
func Dial(address string, options Options) (*Client, error) {
	dialOptions := []grpc.DialOption{}
	if options.TLS != nil {
		dialOptions = append(dialOptions, grpc.WithTransportCredentials(credentials.NewTLS(options.TLS)))
	} else {
		dialOptions = append(dialOptions, grpc.WithInsecure())
	}
	metadata := callMetadata{}
	if options.Token != "" {
		metadata["authorization"] = "Bearer " + options.Token
	}
	traceParent := options.TraceParent
	if traceParent == "" {
		traceParent = strings.TrimSpace(os.Getenv("TRACEPARENT"))
	}
	if traceParent != "" {
		metadata["traceparent"] = traceParent
	}
	if len(metadata) > 0 {
		dialOptions = append(dialOptions, grpc.WithPerRPCCredentials(metadata))
	}
	conn, err := grpc.Dial(address, append(dialOptions, options.DialOptions...)...)
	if err != nil {
		return nil, err
	}
	return &Client{TrackingServiceClient: trackingv1.NewTrackingServiceClient(conn), Conn: conn}, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	return c.Conn.Close()
}

// callMetadata is sent with every call: the token and the trace context.
type callMetadata map[string]string

func (m callMetadata) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return m, nil
}

// A token over plaintext is allowed: a server on loopback may want one (TRACKING_AUTH=on).
func (m callMetadata) RequireTransportSecurity() bool {
	return false
}

// FieldViolation is one bad field of a request, as the server named it.
type FieldViolation struct {
	Field       string
	Description string
}

// FieldViolations returns the bad fields an INVALID_ARGUMENT error names (its
// google.rpc.BadRequest details); none for any other error.
func FieldViolations(err error) []FieldViolation {
	var violations []FieldViolation
	for _, detail := range status.Convert(err).Details() {
		if badRequest, ok := detail.(*errdetails.BadRequest); ok {
			for _, v := range badRequest.GetFieldViolations() {
				violations = append(violations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return violations
}
