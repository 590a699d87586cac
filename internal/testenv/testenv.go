// Package testenv lets tests that need something of the machine (a program
// such as chronyd, a permission such as creating network namespaces) skip
// with a clear message where it is missing, and fail instead where the
// environment demands it: CI sets LEAPSMEAR_REQUIRE_INTEROP=1, so that an
// interop test can never pass there by skipping.
package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// RequireVar names the environment variable that turns skips into failures.
const RequireVar = "LEAPSMEAR_REQUIRE_INTEROP"

// Required reports whether missing tools must fail tests rather than skip them.
func Required() bool { return os.Getenv(RequireVar) == "1" }

// Need skips (or, when Required, fails) the test unless ok, saying what is
// missing and why the test needs it.
func Need(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if Required() {
		t.Fatalf("%s (required: %s=1)", what, RequireVar)
	}
	t.Skipf("skipped: %s (set %s=1 to make this a failure)", what, RequireVar)
}

// Program returns the path of a program on PATH (or at an absolute path),
// skipping or failing the test when it is not installed.
func Program(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	Need(t, err == nil, name+" is not installed (Debian package "+pkg+")")
	return path
}

// Buffer collects output written by other goroutines or a subprocess (logs,
// most often) while the test reads it: a bytes.Buffer behind a mutex.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Take returns everything written since the last Take and forgets it.
func (b *Buffer) Take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.b.String()
	b.b.Reset()
	return s
}

// Records decodes JSON log output, one object per line (slog's JSON
// handler), failing the test on a line that is not an object. Numbers stay
// json.Number, so that nanosecond counts keep every digit.
func Records(t testing.TB, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}
