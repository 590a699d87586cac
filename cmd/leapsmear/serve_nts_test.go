package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/testcert"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/nts"
	"github.com/leapsmear/leapsmear/ntske"
)

// waitRecord waits for a JSON log record with the message.
func waitRecord(t *testing.T, logs *testenv.Buffer, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
				return rec
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %q in the log:\n%s", msg, logs)
	return nil
}

// serveNTS starts leapsmear serve with NTS in-process and returns the NTP
// and NTS-KE addresses.
func serveNTS(t *testing.T, certs *testcert.Files, extra ...string) (ntpAddr, keAddr string) {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--assume-synced", "--nts-cert", certs.Cert, "--nts-key", certs.Key,
		"--nts-ke-listen", "127.0.0.1:0"}, extra...)
	ntpAddr, _, logs := serveInProcess(t, args...)
	rec := waitRecord(t, logs, "nts-ke listening")
	if rec["ntp_server"] != ntpAddr {
		t.Errorf("NTS-KE names %v for NTP, serving %s", rec["ntp_server"], ntpAddr)
	}
	return ntpAddr, rec["nts_ke"].(string)
}

func TestServeNTSQuery(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	ntpAddr, keAddr := serveNTS(t, certs)
	_, kePort, _ := net.SplitHostPort(keAddr)

	code, out, errs := runCapture("query", "127.0.0.1", "--nts", "--nts-port", kePort, "--nts-ca", certs.CA, "--json", "--samples", "3", "--interval", "0s")
	if code != 0 {
		t.Fatalf("query --nts: exit %d: %s", code, errs)
	}
	var res []map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res[0]["authenticated"] != true || res[0]["address"] != ntpAddr || res[0]["samples"] != 3.0 {
		t.Fatalf("query --nts: %v", res[0])
	}
	code, out, _ = runCapture("query", "127.0.0.1", "--nts", "--nts-port", kePort, "--nts-ca", certs.CA)
	if code != 0 || !strings.Contains(out, "NTS             : authenticated") {
		t.Errorf("query --nts text: exit %d\n%s", code, out)
	}
	// The same server without NTS: answered, not authenticated.
	code, out, _ = runCapture("query", ntpAddr, "--json")
	if code != 0 || !strings.Contains(out, `"authenticated": false`) {
		t.Errorf("plain query: exit %d\n%s", code, out)
	}
	// Without the CA the certificate is refused: exit 1, one line.
	code, _, errs = runCapture("query", "127.0.0.1", "--nts", "--nts-port", kePort)
	if code != 1 || !strings.Contains(errs, "certificate") {
		t.Errorf("query --nts without the CA: exit %d: %s", code, errs)
	}
	// watch --nts polls with authenticated exchanges.
	code, out, errs = runCapture("watch", "127.0.0.1", "--nts", "--nts-port", kePort, "--nts-ca", certs.CA, "--for", "400ms", "--every", "200ms", "--json")
	if code != 0 || !strings.Contains(out, `"server": "127.0.0.1"`) {
		t.Errorf("watch --nts: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestServeRequireNTS(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	ntpAddr, keAddr := serveNTS(t, certs, "--require-nts")
	_, kePort, _ := net.SplitHostPort(keAddr)
	if code, _, errs := runCapture("query", ntpAddr, "--timeout", "300ms"); code != 1 || !strings.Contains(errs, "no answer") {
		t.Errorf("plain query with --require-nts: exit %d: %s", code, errs)
	}
	if code, _, errs := runCapture("query", "127.0.0.1", "--nts", "--nts-port", kePort, "--nts-ca", certs.CA); code != 0 {
		t.Errorf("query --nts with --require-nts: exit %d: %s", code, errs)
	}
}

// Two servers given the same key file: a cookie from A's NTS-KE is accepted
// by B.
func TestServeNTSFleetKeyFile(t *testing.T) {
	dir := t.TempDir()
	certs := testcert.New(t, dir)
	keys := filepath.Join(dir, "nts.keys")
	if code, _, errs := runCapture("nts-keys", "-o", keys); code != 0 {
		t.Fatalf("nts-keys: %s", errs)
	}
	if fi, err := os.Stat(keys); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	_, keA := serveNTS(t, certs, "--nts-key-file", keys)
	ntpB, _ := serveNTS(t, certs, "--nts-key-file", keys)
	// A third server with its own random key refuses A's cookies with a NAK.
	ntpC, _ := serveNTS(t, certs)

	ke, err := ntske.Exchange(context.Background(), keA, ntske.ClientConfig{RootCAs: certs.Pool})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := nts.NewSession(ke.Keys, ke.Cookies)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(addr string) ([]byte, []byte) {
		t.Helper()
		conn, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req, uid := ntptest.NTSRequest(t, sess, 12345, 0)
		return ntptest.Exchange(t, conn, req), uid
	}
	resp, uid := ask(ntpB)
	if err := sess.CheckReply(resp, uid); err != nil {
		t.Fatalf("server B with A's cookie: %v", err)
	}
	resp, uid = ask(ntpC)
	if err := sess.CheckReply(resp, uid); err != nts.ErrNAK {
		t.Fatalf("server C with A's cookie: %v, want a NAK", err)
	}
}

func TestServeNTSBadFlags(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--nts-cert", certs.Cert}, 2, "NTS needs both --nts-cert and --nts-key"},
		{[]string{"--require-nts"}, 2, "need NTS"},
		{[]string{"--nts-cert", certs.Cert, "--nts-key", certs.Key, "--nts-ntp-server", "nohost"}, 2, "--nts-ntp-server"},
		{[]string{"--nts-cert", certs.Cert, "--nts-key", certs.Key, "--nts-ke-listen", "127.0.0.1:0", "--nts-key-file", "/nonexistent/keys"}, 1, "nts key file"},
		{[]string{"--nts-cert", certs.CA, "--nts-key", certs.Key, "--nts-ke-listen", "127.0.0.1:0"}, 1, "nts certificate"},
	} {
		args := append([]string{"serve", "--listen", "127.0.0.1:0"}, c.args...)
		code, stderr := runBounded(t, args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if code, _, errs := runCapture("query", "127.0.0.1", "--nts-ca", certs.CA); code != 2 || !strings.Contains(errs, "need --nts") {
		t.Errorf("query --nts-ca without --nts: exit %d: %s", code, errs)
	}
	if code, _, errs := runCapture("query", "127.0.0.1", "--nts", "--nts-port", strconv.Itoa(70000)); code != 2 {
		t.Errorf("query --nts-port 70000: exit %d: %s", code, errs)
	}
}

// The Kubernetes NTS patch passes flags that serve knows, and mounts what it
// names.
func TestKubernetesNTSPatch(t *testing.T) {
	data, err := os.ReadFile("../../deploy/kubernetes/nts-patch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var patch struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Args         []string `yaml:"args"`
						VolumeMounts []struct {
							Name      string `yaml:"name"`
							MountPath string `yaml:"mountPath"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
					Volumes []struct {
						Name   string `yaml:"name"`
						Secret struct {
							SecretName string `yaml:"secretName"`
						} `yaml:"secret"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(data, &patch); err != nil {
		t.Fatal(err)
	}
	spec := patch.Spec.Template.Spec
	if len(spec.Containers) != 1 || len(spec.Volumes) != 2 {
		t.Fatalf("patch %+v", spec)
	}
	c := spec.Containers[0]
	cmd := newServeCmd()
	if err := cmd.Flags().Parse(c.Args[1:]); err != nil {
		t.Fatalf("serve does not take the patch's args: %v", err)
	}
	for _, flag := range []string{"nts-cert", "nts-key", "nts-key-file"} {
		v := cmd.Flags().Lookup(flag).Value.String()
		mounted := false
		for _, m := range c.VolumeMounts {
			mounted = mounted || strings.HasPrefix(v, m.MountPath+"/")
		}
		if !mounted {
			t.Errorf("--%s %s is not under a mounted Secret", flag, v)
		}
	}
}

// bench --nts loads the server with authenticated requests, and the server
// counts them as authenticated replies.
func TestBenchNTS(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	ntpAddr, keAddr := serveNTS(t, certs, "--require-nts")
	_, kePort, _ := net.SplitHostPort(keAddr)
	code, out, errs := runCapture("bench", "--target", ntpAddr, "--duration", "300ms", "--workers", "1", "--window", "8",
		"--nts", "--nts-port", kePort, "--nts-ca", certs.CA, "--json")
	if code != 0 {
		t.Fatalf("bench --nts: exit %d: %s", code, errs)
	}
	var r struct{ Sent, Answered uint64 }
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// --require-nts drops anything unauthenticated: every answer was NTS.
	if r.Answered == 0 || r.Answered > r.Sent {
		t.Errorf("bench --nts: %+v", r)
	}
	// Without the CA, NTS-KE fails before any load.
	if code, _, errs := runCapture("bench", "--target", ntpAddr, "--duration", "300ms", "--nts", "--nts-port", kePort); code != 1 || !strings.Contains(errs, "--nts") {
		t.Errorf("bench --nts without the CA: exit %d: %s", code, errs)
	}
}

// TestServeNTSKEListen: the NTS-KE address serve gives the daemon. NTS is
// on when --nts-cert (or --nts-ke-listen) is given; without --nts-ke-listen
// NTS-KE takes port 4460 (RFC 8915's) of the first --listen host, and a
// --nts-ke-listen that names only a host (IPv6 bracketed or not) takes port
// 4460 too. No socket is bound here: TestNTSDefaultKEPort in interop serves
// on port 4460 in a network namespace of its own.
func TestServeNTSKEListen(t *testing.T) {
	if nts.DefaultKEPort != 4460 {
		t.Fatalf("nts.DefaultKEPort %d", nts.DefaultKEPort)
	}
	pair := []string{"--nts-cert", "nts.pem", "--nts-key", "nts.key"}
	for _, c := range []struct {
		listen []string
		args   []string
		want   string // "" for NTS off
	}{
		{[]string{"127.0.0.1:123"}, nil, ""},
		{[]string{"127.0.0.1:123"}, pair, "127.0.0.1:4460"},
		{[]string{"192.0.2.7:11123", "127.0.0.1:123"}, pair, "192.0.2.7:4460"},
		{[]string{"[::1]:123"}, pair, "[::1]:4460"},
		{[]string{"[::]:123"}, pair, "[::]:4460"},
		{[]string{":123"}, pair, "0.0.0.0:4460"},
		{[]string{"127.0.0.1:123"}, append([]string{"--nts-ke-listen", "127.0.0.2"}, pair...), "127.0.0.2:4460"},
		{[]string{"127.0.0.1:123"}, append([]string{"--nts-ke-listen", "::1"}, pair...), "[::1]:4460"},
		{[]string{"127.0.0.1:123"}, append([]string{"--nts-ke-listen", "[::1]"}, pair...), "[::1]:4460"},
		{[]string{"127.0.0.1:123"}, append([]string{"--nts-ke-listen", "127.0.0.1:14460"}, pair...), "127.0.0.1:14460"},
		{[]string{"127.0.0.1:123"}, append([]string{"--nts-ke-listen", "[::1]:14460"}, pair...), "[::1]:14460"},
	} {
		f := flagsFor(c.listen...)
		cmd := &cobra.Command{}
		f.nts.register(cmd)
		if err := cmd.Flags().Parse(c.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := f.daemonConfig(time.Now(), slog.New(slog.DiscardHandler))
		switch {
		case err != nil:
			t.Errorf("--listen %v %v: %v", c.listen, c.args, err)
		case c.want == "" && cfg.NTS != nil:
			t.Errorf("--listen %v %v: NTS on (%+v)", c.listen, c.args, cfg.NTS)
		case c.want != "" && (cfg.NTS == nil || cfg.NTS.KEListen != c.want):
			t.Errorf("--listen %v %v: NTS-KE on %+v, want %s", c.listen, c.args, cfg.NTS, c.want)
		}
	}
	// --nts-ke-listen alone turns NTS on, and asks for the pair.
	f := flagsFor("127.0.0.1:123")
	f.nts.keListen, f.nts.keTimeout = "127.0.0.1", 5*time.Second
	if _, err := f.daemonConfig(time.Now(), slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "NTS needs both --nts-cert and --nts-key") {
		t.Errorf("--nts-ke-listen without a certificate: %v", err)
	}
}
