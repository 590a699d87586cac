package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBothModes runs the built command the two ways docs/leapvet.md gives:
// standalone (exit status 3 with findings) and as go vet's -vettool (go vet
// fails), on the analyzer's test packages: a package with leap-second sinks
// is reported the same way by both, a safe package by neither.
func TestBothModes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs go vet")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	bin := filepath.Join(t.TempDir(), "leapvet")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	testdata, err := filepath.Abs("../../leapvet/testdata")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = testdata
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0, out.String()
		case errors.As(err, &exit):
			return exit.ExitCode(), out.String()
		}
		t.Fatalf("%v: %v", args, err)
		return 0, ""
	}
	const finding = "sinks/sinks.go:12:18: int64(d) can be negative or zero when the clock is stepped or a leap second is inserted"
	if code, out := run(bin, "./sinks"); code != 3 || !strings.Contains(out, finding) || !strings.Contains(out, "rand.Int63n panics") {
		t.Errorf("leapvet ./sinks: exit %d, want 3 and %q in:\n%s", code, finding, out)
	}
	if code, out := run(goBin, "vet", "-vettool="+bin, "./sinks"); code == 0 || !strings.Contains(out, finding) {
		t.Errorf("go vet -vettool ./sinks: exit %d, want a failure and %q in:\n%s", code, finding, out)
	}
	if code, out := run(bin, "./safe"); code != 0 || out != "" {
		t.Errorf("leapvet ./safe: exit %d, output %q", code, out)
	}
	if code, out := run(goBin, "vet", "-vettool="+bin, "./safe"); code != 0 || out != "" {
		t.Errorf("go vet -vettool ./safe: exit %d, output %q", code, out)
	}
}
