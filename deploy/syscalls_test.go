package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/ntp"
)

// command runs a program in dir and returns its combined output.
func command(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// buildLeapsmear builds the leapsmear binary into dir.
func buildLeapsmear(t *testing.T, dir string) string {
	t.Helper()
	// go test puts $GOROOT/bin first on the PATH of the tests it runs.
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(dir, "leapsmear")
	if out, err := command(t, "..", gobin, "build", "-o", bin, "./cmd/leapsmear"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// syscallGroups reads every group of `systemd-analyze syscall-filter`.
func syscallGroups(t *testing.T, analyze string) map[string][]string {
	t.Helper()
	out, err := command(t, ".", analyze, "syscall-filter")
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v\n%s", err, out)
	}
	groups := map[string][]string{}
	group := ""
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case !strings.HasPrefix(line, " ") && strings.HasPrefix(trimmed, "@"):
			group = trimmed
		case group != "":
			groups[group] = append(groups[group], trimmed)
		}
	}
	return groups
}

// allowed expands a SystemCallFilter allow list into system call names.
func allowed(groups map[string][]string, items []string) map[string]bool {
	set := map[string]bool{}
	var add func(string)
	add = func(item string) {
		if !strings.HasPrefix(item, "@") {
			set[item] = true
			return
		}
		for _, e := range groups[item] {
			add(e)
		}
	}
	for _, it := range items {
		add(it)
	}
	return set
}

var traced = regexp.MustCompile(`^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]`)

// TestSystemdSyscallFilterAllowsTheServer runs the server under strace through
// start, NTP requests, every admin endpoint, a SIGHUP reload and SIGTERM, and
// checks that the unit's SystemCallFilter allows every system call it made.
func TestSystemdSyscallFilterAllowsTheServer(t *testing.T) {
	strace := testenv.Program(t, "strace", "strace")
	analyze := testenv.Program(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	bin := buildLeapsmear(t, dir)
	leapFile := filepath.Join(dir, "leap-seconds.list")
	data, err := os.ReadFile("../leap/data/leap-seconds.list")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leapFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(dir, "trace")
	cmd := exec.Command(strace, "-f", "-qq", "-o", trace, bin, "serve", "--listen", "127.0.0.1:0",
		"--admin", "127.0.0.1:0", "--leap-file", leapFile, "--log-format", "json", "--assume-synced")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := make(chan map[string]any, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				logs <- m
			}
		}
		close(logs)
	}()
	var adminAddr, ntpAddr string
	deadline := time.After(30 * time.Second)
	for adminAddr == "" {
		select {
		case m, ok := <-logs:
			if !ok {
				t.Fatal("server exited before listening")
			}
			if m["msg"] == "serving" {
				ntpAddr = m["listen"].([]any)[0].(string)
			}
			if a, ok := m["admin"].(string); ok {
				adminAddr = a
			}
		case <-deadline:
			t.Fatal("no admin listener within 30 s")
		}
	}
	// Signal the server, not strace: its pid starts the trace. Kill it
	// whatever happens: killing strace would leave it running.
	head, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(bytes.Fields(head)[0]))
	if err != nil {
		t.Fatalf("trace starts %.40q", head)
	}
	t.Cleanup(func() {
		// Only while that pid is still this server (pids are reused).
		if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && bytes.HasPrefix(cmdline, []byte(bin+"\x00")) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	conn, err := net.Dial("udp", ntpAddr)
	if err != nil {
		t.Fatal(err)
	}
	req := make([]byte, ntp.HeaderLen)
	_ = (&ntp.Header{Version: 4, Mode: ntp.ModeClient, Transmit: ntp.TimestampFromUnixNano(time.Now().UnixNano())}).Encode(req)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 128)); err != nil {
		t.Fatalf("no NTP reply: %v", err)
	}
	conn.Close()
	for _, path := range []string{"/", "/metrics", "/healthz", "/api/status"} {
		resp, err := http.Get("http://" + adminAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	reloaded := false
	for !reloaded {
		select {
		case m := <-logs:
			reloaded = m["msg"] == "leap table reloaded"
		case <-time.After(10 * time.Second):
			t.Fatal("no reload logged after SIGHUP")
		}
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range logs {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server: %v", err)
	}

	raw, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if m := traced.FindSubmatch(line); m != nil && string(m[1]) != "exited" {
			used[string(m[1])] = true
		}
	}
	var filter []string
	for _, v := range parseUnit(t, unitFile)["Service"]["SystemCallFilter"] {
		if strings.HasPrefix(v, "~") {
			t.Fatalf("deny list %q: this test only expands allow lists", v)
		}
		filter = append(filter, strings.Fields(v)...)
	}
	ok := allowed(syscallGroups(t, analyze), filter)
	var denied []string
	for name := range used {
		if !ok[name] {
			denied = append(denied, name)
		}
	}
	sort.Strings(denied)
	if len(denied) > 0 {
		t.Errorf("the unit's SystemCallFilter denies system calls the server makes: %v", denied)
	}
	for _, want := range []string{"adjtimex", "recvmmsg", "sendmmsg", "accept4"} {
		if !used[want] {
			t.Errorf("the trace has no %s: did the server run?", want)
		}
	}
	if len(used) < 30 {
		t.Errorf("only %d system calls traced", len(used))
	}
}
