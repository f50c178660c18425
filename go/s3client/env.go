package s3client

import (
	"context"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// envMu serializes syncing the environment with loading a configuration
// from it.
var envMu sync.Mutex

// syncEnv makes the process environment Go reads what env says: a name
// mapped to nil is unset. Every AWS_ variable env does not name is unset
// too, env being the caller's whole view of them. A Go runtime in a shared
// library copies the environment once, when it starts: what Python set or
// deleted later through os.environ never reached the AWS configuration
// chain, so a test that pointed AWS_CONFIG_FILE or AWS_PROFILE elsewhere
// still signed with the user's default profile. Caller holds envMu.
func syncEnv(env map[string]*string) {
	if env == nil {
		return // a Go caller: the environment is already its own
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := env[name]; !ok && strings.HasPrefix(name, "AWS_") {
			_ = os.Unsetenv(name)
		}
	}
	for name, v := range env {
		cur, set := os.LookupEnv(name)
		switch {
		case v == nil && set:
			_ = os.Unsetenv(name)
		case v != nil && (!set || cur != *v):
			_ = os.Setenv(name, *v)
		}
	}
}

// redactedCredentials passes a credential provider's errors on without
// what they quote of a credential_process's output: the SDK's "parse
// failed of process output: <output>, error: ..." put the secret key and
// session token of a helper that printed its JSON and then another line
// into every error message and the CLI's stderr.
type redactedCredentials struct{ aws.CredentialsProvider }

func (r redactedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := r.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, s3err.Mark(redactedError{err}, s3err.ErrNoCredentials)
	}
	return c, nil
}

// redactedError is an error whose message leaves out quoted process
// output; it unwraps to the original for classification.
type redactedError struct{ err error }

func (e redactedError) Error() string { return redact(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }

// redact cuts what follows "process output: " up to the last ", error: ".
func redact(msg string) string {
	const quoted = "process output: "
	i := strings.Index(msg, quoted)
	if i < 0 {
		return msg
	}
	rest := msg[i+len(quoted):]
	tail := ""
	if j := strings.LastIndex(rest, ", error: "); j >= 0 {
		tail = rest[j:]
	}
	return msg[:i+len(quoted)] + "(not shown: it may hold secrets)" + tail
}
