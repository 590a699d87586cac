// Package testenv lets tests that need something of the machine (a program
// such as chronyd, a permission such as creating network namespaces) skip
// with a clear message where it is missing, and fail instead where the
// environment demands it: CI sets LEAPSMEAR_REQUIRE_INTEROP=1, so that an
// interop test can never pass there by skipping.
package testenv

import (
	"os"
	"os/exec"
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
