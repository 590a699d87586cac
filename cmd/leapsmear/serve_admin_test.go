package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/leap"
)

const (
	exampleConfig = "../../deploy/leapsmear.toml"
	k8sManifest   = "../../deploy/kubernetes/leapsmear.yaml"
	helperEnv     = "LEAPSMEAR_TEST_RUN_MAIN"
)

// init makes the test binary run leapsmear instead of the tests when
// helperEnv is set, with the arguments after "--": the subprocess tests run it
// so that they can send the server real signals.
func init() {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	for i, a := range os.Args {
		if a == "--" {
			os.Exit(run(os.Args[i+1:]))
		}
	}
	os.Exit(3)
}

// serveProc is leapsmear serve running in a subprocess.
type serveProc struct {
	cmd   *exec.Cmd
	logs  chan map[string]any
	admin string // http://host:port
	ntp   string
	done  chan error
}

// startServe runs leapsmear serve with the arguments plus JSON logs and
// waits until the admin endpoints listen.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	argv := append([]string{"--", "serve", "--log-format", "json"}, args...)
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, logs: make(chan map[string]any, 256), done: make(chan error, 1)}
	var lines []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"msg": "not json", "line": sc.Text()}
			}
			p.logs <- m
		}
		close(p.logs)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.After(30 * time.Second)
	for p.admin == "" || p.ntp == "" {
		select {
		case m, ok := <-p.logs:
			if !ok {
				t.Fatalf("leapsmear serve exited before listening: %v\n%s", <-p.done, strings.Join(lines, "\n"))
			}
			b, _ := json.Marshal(m)
			lines = append(lines, string(b))
			if m["msg"] == "serving" {
				p.ntp = m["listen"].([]any)[0].(string)
			}
			if a, ok := m["admin"].(string); ok {
				p.admin = "http://" + a
			}
		case <-deadline:
			t.Fatalf("no admin listener within 30 s:\n%s", strings.Join(lines, "\n"))
		}
	}
	return p
}

// waitLog waits for a log record with the message.
func (p *serveProc) waitLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-p.logs:
			if !ok {
				t.Fatalf("exited while waiting for %q", msg)
			}
			if m["msg"] == msg {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q logged within 10 s", msg)
		}
	}
}

// stop sends SIGTERM and returns the exit error.
func (p *serveProc) stop(t *testing.T) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range p.logs {
		}
	}()
	select {
	case err := <-p.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("leapsmear serve did not stop within 10 s of SIGTERM")
	}
	return nil
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExampleConfigNamesEveryOption(t *testing.T) {
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	newServeCmd().Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Name == "config" || fl.Name == "help" {
			return
		}
		key := regexp.MustCompile(`(?m)^(# )?` + regexp.QuoteMeta(fl.Name) + ` = `)
		if !key.Match(data) {
			t.Errorf("%s does not show the option %s", exampleConfig, fl.Name)
		}
	})
}

func TestExampleConfigParses(t *testing.T) {
	cmd := newServeCmd()
	if err := applyConfigFile(cmd, exampleConfig); err != nil {
		t.Fatal(err)
	}
	fl := cmd.Flags()
	for key, want := range map[string]string{
		"listen": "[[::]:123]", "admin": "127.0.0.1:9123", "policy": "noon-to-noon",
		"leap-file": "[/etc/leapsmear/leap-seconds.list]",
	} {
		if got := fl.Lookup(key).Value.String(); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	// Every commented-out value is a valid value of its option (except
	// time-offset-to, which excludes time-offset).
	data, _ := os.ReadFile(exampleConfig)
	var uncommented []string
	for _, line := range strings.Split(string(data), "\n") {
		if m := regexp.MustCompile(`^# ([a-z-]+ = .*)$`).FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[1], "time-offset-to") {
			uncommented = append(uncommented, m[1])
		}
	}
	if len(uncommented) < 10 {
		t.Fatalf("only %d commented options", len(uncommented))
	}
	all := filepath.Join(t.TempDir(), "all.toml")
	if err := os.WriteFile(all, []byte(strings.Join(uncommented, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := applyConfigFile(newServeCmd(), all); err != nil {
		t.Errorf("the commented-out values: %v", err)
	}
}

// TestExampleConfigStartsServer starts a server from the example file with
// free loopback ports and a leap file of the test.
func TestExampleConfigStartsServer(t *testing.T) {
	leapFile := filepath.Join(t.TempDir(), "leap-seconds.list")
	copyTo(t, leapTestdata+"../data/leap-seconds.list", leapFile)
	p := startServe(t, "--config", exampleConfig, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--leap-file", leapFile, "--assume-synced")

	code, body := httpGet(t, p.admin+"/api/status")
	var st struct {
		Policy struct{ Name string }
		Table  struct{ Source string }
		Listen []string
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != http.StatusOK {
		t.Fatalf("%d %v\n%s", code, err, body)
	}
	if st.Policy.Name != "noon-to-noon" || st.Table.Source != leapFile || len(st.Listen) != 1 || st.Listen[0] != p.ntp {
		t.Errorf("status %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Query(ctx, p.ntp, client.Options{})
	if err != nil || resp.Header.Stratum != 2 || resp.Header.Leap != 0 {
		t.Fatalf("query: %v %+v", err, resp)
	}
	if code, body := httpGet(t, p.admin+"/metrics"); code != http.StatusOK || !strings.Contains(body, "\nleapsmear_replies_sent_total 1\n") {
		t.Errorf("metrics after one query: %d\n%s", code, body)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

func TestKubernetesConfigParses(t *testing.T) {
	f, err := os.Open(k8sManifest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var toml string
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc.Kind == "ConfigMap" && doc.Data["leapsmear.toml"] != "" {
			toml = doc.Data["leapsmear.toml"]
		}
	}
	path := filepath.Join(t.TempDir(), "leapsmear.toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	var sf serveFlags
	cmd := newServeCmd()
	if err := applyConfigFile(cmd, path); err != nil {
		t.Fatal(err)
	}
	// The DaemonSet adds --admin $(NODE_IP):9123.
	for key, want := range map[string]string{
		"listen": "[[::]:123]", "policy": "noon-to-noon", "log-format": "json",
		"leap-file": "[/etc/leapsmear/table/leap-seconds.list]",
	} {
		if got := cmd.Flags().Lookup(key).Value.String(); got != want {
			t.Errorf("the ConfigMap sets %s = %s, want %s", key, got, want)
		}
	}
	sf.listen, _ = cmd.Flags().GetStringArray("listen")
	sf.policy, _ = cmd.Flags().GetString("policy")
	sf.clock, sf.stratum, sf.refid, sf.admin = "system", 2, "LSMR", "10.1.2.3:9123"
	if _, err := sf.daemonConfig(time.Now(), slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("daemon config: %v", err)
	}
}

// TestServeHealthzFollowsSIGHUP runs the server on an expired table, then
// replaces the file and sends SIGHUP: /healthz turns from 503 to 200.
func TestServeHealthzFollowsSIGHUP(t *testing.T) {
	if d := leap.Default(); d.Expired(time.Now()) {
		t.Fatalf("the embedded leap table expired on %s: refresh leap/data/leap-seconds.list", d.Expires.Format(time.DateOnly))
	}
	leapFile := filepath.Join(t.TempDir(), "leap-seconds.list")
	copyTo(t, leapTestdata+"leap-seconds.list", leapFile) // expired 2026-06-28
	p := startServe(t, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--leap-file", leapFile, "--assume-synced")

	code, body := httpGet(t, p.admin+"/healthz")
	if code != http.StatusServiceUnavailable || body != "leap table "+leapFile+" expired on 2026-06-28T00:00:00Z: it is still used, but leap seconds announced since may be missing; refresh it and send SIGHUP (or ?strict=0)\n" {
		t.Fatalf("expired table: %d %q", code, body)
	}
	if code, _ := httpGet(t, p.admin+"/healthz?strict=0"); code != http.StatusOK {
		t.Errorf("strict=0: %d", code)
	}

	copyTo(t, leapTestdata+"../data/leap-seconds.list", leapFile)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	rec := p.waitLog(t, "leap table reloaded")
	if rec["expires"] != "2027-06-28T00:00:00Z" {
		t.Errorf("reloaded %v", rec)
	}
	code, body = httpGet(t, p.admin+"/healthz")
	if code != http.StatusOK || !strings.HasPrefix(body, "ok: serving noon-to-noon with leap table "+leapFile) {
		t.Fatalf("after SIGHUP: %d %q", code, body)
	}
	if _, body := httpGet(t, p.admin+"/metrics"); !strings.Contains(body, "\nleapsmear_leap_table_reloads_total 1\n") {
		t.Errorf("reload not counted:\n%s", body)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

func TestServeAdminNeverOnTheNTPPort(t *testing.T) {
	for _, c := range []struct{ listen, admin, want string }{
		{"127.0.0.1:11123", "127.0.0.1:11123", "leapsmear: --admin: admin address 127.0.0.1:11123: port 11123 is the NTP listen address 127.0.0.1:11123; give the admin endpoints a port of their own such as 9123\n"},
		{"127.0.0.1:11123", "[::1]:123", "leapsmear: --admin: admin address [::1]:123: port 123 is the NTP port; give the admin endpoints a port of their own such as 9123\n"},
		{"127.0.0.1:11123", "127.0.0.1:http", "leapsmear: --admin: admin address \"127.0.0.1:http\""},
	} {
		code, out, errOut := runCmd(t, "serve", "--listen", c.listen, "--admin", c.admin)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("--admin %s: exit %d, %q, want %q", c.admin, code, errOut, c.want)
		}
	}
}
