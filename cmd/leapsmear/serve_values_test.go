package main

import (
	"os"
	"strings"
	"testing"
)

// TestServeConfigNonFiniteValues: values that would silently disable or
// distort an option when written in the config file (NaN, infinities,
// negative, overflowing or out-of-range numbers) are refused with one line
// naming the file, the line and the key (exit 2), as the flags are.
func TestServeConfigNonFiniteValues(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`rate-limit = nan`, "line 2: rate-limit NaN: want a finite number"},
		{`rate-limit = inf`, "line 2: rate-limit +Inf: want a finite number"},
		{`rate-limit = -inf`, "line 2: rate-limit -Inf: want a finite number"},
		{`rate-limit = -1.5`, "line 2: rate-limit -1.5: want a finite number"},
		{`rate-burst = nan`, "line 2: rate-burst: "},
		{`sockets = -1`, "line 2: sockets -1: want 0 (one per CPU) to 1024"},
		{`stratum = 1e400`, "line 2: stratum: "},
		{`stratum = 99999999999999999999`, "line 2: stratum: "},
		{`root-dispersion = "1000h"`, "line 2: root-dispersion 1000h0m0s: want 0 to "},
		{`time-offset = "2100000h"`, "line 2: time-offset 2100000h0m0s: want at most "},
		{`time-offset-to = "2200-01-01T00:00:00Z"`, "line 2: time-offset-to "},
	} {
		conf := writeConfig(t, `listen = ["127.0.0.1:0"]`+"\n"+c.line+"\n")
		code, stderr := runBounded(t, "serve", "--config", conf)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		want := "config file " + conf + " " + c.want
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line containing %q", c.line, code, stderr, want)
		}
	}
}

// TestServeWarnsWritableConfig: a config file that every user may write
// (or one in a directory every user may write) is warned about at start:
// whoever can write it decides how the server runs.
func TestServeWarnsWritableConfig(t *testing.T) {
	conf := writeConfig(t, `listen = ["127.0.0.1:0"]`+"\nassume-synced = true\n")
	_, _, logs := serveInProcess(t, "--config", conf)
	if strings.Contains(logs.String(), "config file not protected") {
		t.Fatalf("a 0644 config file in a private directory was warned about:\n%s", logs)
	}
	if err := os.Chmod(conf, 0o666); err != nil {
		t.Fatal(err)
	}
	_, _, logs = serveInProcess(t, "--config", conf)
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "config file not protected") && strings.Contains(line, conf) &&
			strings.Contains(line, "how the server runs") && strings.Contains(line, `"level":"WARN"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("a world-writable config file was not warned about:\n%s", logs)
	}
}
