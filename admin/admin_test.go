package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/ratelimit"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

const leapRoot = "../leap/"

// testServer is a daemon serving NTP on loopback with its admin endpoints.
type testServer struct {
	d     *daemon.Daemon
	adm   *Server
	base  string // http://host:port
	ntp   string // host:port
	files []string
}

// start runs a daemon on free loopback ports with the admin endpoints;
// edit adjusts the configuration first.
func start(t *testing.T, edit func(*daemon.Config)) *testServer {
	t.Helper()
	p, err := smear.Parse("noon-to-noon")
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemon.Config{
		Server:   server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 2},
		Policy:   p,
		Source:   timescale.Config{AssumeSynced: true},
		Settings: server.Settings{Stratum: 2},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	d, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.Run(context.Background()) }()
	adm, err := Listen("127.0.0.1:0", d.Addrs(), d, Options{Logger: cfg.Logger})
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	go func() {
		if err := adm.Serve(); err != nil {
			t.Errorf("admin: %v", err)
		}
	}()
	t.Cleanup(func() {
		adm.Close()
		d.Close()
		<-served
	})
	return &testServer{d: d, adm: adm, base: "http://" + adm.Addr(), ntp: d.Addrs()[0], files: cfg.LeapFiles}
}

// get fetches a path and returns the status code and body.
func (s *testServer) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.base + path)
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

// scrape reads /metrics into metric families.
func (s *testServer) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := s.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the metric with the given labels (name=value
// pairs), failing when there is none.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s not exported", name)
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

// request returns a client request of the given version and mode.
func request(version, mode uint8) []byte {
	b := make([]byte, ntp.HeaderLen)
	h := ntp.Header{Version: version, Mode: mode, Transmit: ntp.TimestampFromUnixNano(time.Now().UnixNano())}
	if err := h.Encode(b); err != nil {
		panic(err)
	}
	return b
}

func TestMetricsCountTraffic(t *testing.T) {
	s := start(t, nil)
	before := s.scrape(t)
	conn, err := net.Dial("udp", s.ntp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const good = 5
	for range good {
		if _, err := conn.Write(request(4, ntp.ModeClient)); err != nil {
			t.Fatal(err)
		}
		reply := make([]byte, 128)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(reply)
		if err != nil || n != ntp.HeaderLen {
			t.Fatalf("reply: %d bytes, %v", n, err)
		}
	}
	bad := [][]byte{
		{0x23, 0, 0},                    // short
		make([]byte, 20),                // short
		request(5, ntp.ModeClient),      // bad version
		request(4, ntp.ModeControl),     // mode 6
		request(4, ntp.ModeServer),      // mode 4: could start a loop
		request(3, ntp.ModeClient)[:47], // short by one byte
	}
	for _, b := range bad {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	want := float64(good + len(bad))
	// The server counts a batch as received before it judges each datagram:
	// wait until every datagram has its verdict.
	judged := func(f map[string]*dto.MetricFamily) float64 {
		n := value(t, f, "leapsmear_replies_sent_total") + value(t, f, "leapsmear_kod_sent_total")
		for _, m := range f["leapsmear_packets_dropped_total"].Metric {
			n += m.Counter.GetValue()
		}
		return n
	}
	var after map[string]*dto.MetricFamily
	for deadline := time.Now().Add(5 * time.Second); ; {
		after = s.scrape(t)
		if judged(after)-judged(before) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	delta := func(name string, labels ...string) float64 {
		return value(t, after, name, labels...) - value(t, before, name, labels...)
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"leapsmear_requests_received_total", nil, want},
		{"leapsmear_replies_sent_total", nil, good},
		{"leapsmear_kod_sent_total", nil, 0},
		{"leapsmear_packets_dropped_total", []string{"reason", "short"}, 3},
		{"leapsmear_packets_dropped_total", []string{"reason", "bad_version"}, 1},
		{"leapsmear_packets_dropped_total", []string{"reason", "bad_mode"}, 2},
		{"leapsmear_packets_dropped_total", []string{"reason", "rate_limited"}, 0},
		{"leapsmear_send_errors_total", []string{"reason", "refused"}, 0},
		{"leapsmear_send_errors_total", []string{"reason", "buffer_full"}, 0},
	}
	for _, c := range checks {
		if got := delta(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The gauges describe the server as it is.
	if v := value(t, after, "leapsmear_synchronized"); v != 1 {
		t.Errorf("synchronized %v", v)
	}
	if v := value(t, after, "leapsmear_policy_info", "policy", "noon-to-noon", "shape", "linear"); v != 1 {
		t.Errorf("policy_info %v", v)
	}
	if v := value(t, after, "leapsmear_leap_table_info", "source", "embedded leap-seconds.list", "verified", "true",
		"expires", "2027-06-28T00:00:00Z", "fingerprint", leap.Default().Fingerprint()); v != 1 {
		t.Errorf("leap_table_info %v", v)
	}
	if v := value(t, after, "leapsmear_leap_table_leaps"); v != 27 {
		t.Errorf("leaps %v", v)
	}
	wantExpiry := time.Until(time.Date(2027, 6, 28, 0, 0, 0, 0, time.UTC)).Seconds()
	if v := value(t, after, "leapsmear_leap_table_expiry_seconds"); v < wantExpiry-60 || v > wantExpiry+60 {
		t.Errorf("expiry seconds %v, want about %v", v, wantExpiry)
	}
	for _, name := range []string{"leapsmear_build_info", "go_goroutines", "process_start_time_seconds", "leapsmear_host_clock_steps_total"} {
		if _, ok := after[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

// requireFreshEmbedded fails a test that needs the embedded leap table to
// be unexpired, with the fix in the message.
func requireFreshEmbedded(t *testing.T) {
	t.Helper()
	if d := leap.Default(); d.Expired(time.Now()) {
		t.Fatalf("the embedded leap table expired on %s: refresh leap/data/leap-seconds.list", d.Expires.Format(time.DateOnly))
	}
}

// copyFile writes the contents of src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRateLimitMetrics: the rate limiter's table is exported. Nine loopback
// sources, each answered once and kissed once, go through a table of one
// set of four slots: every new source after the fourth evicts one that
// still holds spent credit.
func TestRateLimitMetrics(t *testing.T) {
	off := start(t, nil).scrape(t)
	for _, name := range []string{"leapsmear_rate_limit_entries", "leapsmear_rate_limit_entries_in_use",
		"leapsmear_rate_limit_insertions_total", "leapsmear_rate_limit_evictions_total"} {
		if v := value(t, off, name); v != 0 {
			t.Errorf("rate limiting off: %s = %v, want 0", name, v)
		}
	}

	l, err := ratelimit.New(ratelimit.Config{Rate: 1e-3, Burst: 1, KissInterval: time.Hour, Entries: ratelimit.Ways})
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, func(c *daemon.Config) { c.Limiter = l })
	const sources = 9
	for i := range sources {
		src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		conn, err := net.DialUDP("udp4", src, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s.ntp)))
		if err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			if _, err := conn.Write(request(4, ntp.ModeClient)); err != nil {
				t.Fatal(err)
			}
			reply := make([]byte, 128)
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(reply)
			var h ntp.Header
			if err == nil {
				err = h.Decode(reply[:n])
			}
			if err != nil || h.IsKiss() != (j == 1) {
				t.Fatalf("source %v, request %d: %+v, %v", src.IP, j, h, err)
			}
		}
		conn.Close()
	}
	m := s.scrape(t)
	for name, want := range map[string]float64{
		"leapsmear_rate_limit_entries":          ratelimit.Ways,
		"leapsmear_rate_limit_entries_in_use":   ratelimit.Ways,
		"leapsmear_rate_limit_insertions_total": sources,
		"leapsmear_rate_limit_evictions_total":  sources - ratelimit.Ways,
		"leapsmear_kod_sent_total":              sources,
	} {
		if v := value(t, m, name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
}

func TestHealthzFlipsWithTheTable(t *testing.T) {
	requireFreshEmbedded(t)
	file := filepath.Join(t.TempDir(), "leap-seconds.list")
	copyFile(t, leapRoot+"testdata/leap-seconds.list", file) // expired 2026-06-28
	s := start(t, func(c *daemon.Config) { c.LeapFiles = []string{file} })

	code, body := s.get(t, "/healthz")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "leap table "+file+" expired on 2026-06-28T00:00:00Z") ||
		strings.Count(body, "\n") != 1 {
		t.Fatalf("expired table: %d %q", code, body)
	}
	code, body = s.get(t, "/healthz?strict=0")
	if code != http.StatusOK || !strings.HasPrefix(body, "ok: serving noon-to-noon") || !strings.Contains(body, "EXPIRED") {
		t.Fatalf("strict=0: %d %q", code, body)
	}
	if code, body := s.get(t, "/healthz?strict=maybe"); code != http.StatusBadRequest {
		t.Errorf("strict=maybe: %d %q", code, body)
	}
	if v := value(t, s.scrape(t), "leapsmear_leap_table_expired"); v != 1 {
		t.Errorf("expired gauge %v", v)
	}

	// A broken file is refused: the old table stays, and so does the 503.
	if err := os.WriteFile(file, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.d.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if code, _ := s.get(t, "/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("after a failed reload: %d", code)
	}
	f := s.scrape(t)
	if value(t, f, "leapsmear_leap_table_reload_failures_total") != 1 || value(t, f, "leapsmear_leap_table_last_reload_failed") != 1 {
		t.Error("failed reload not counted")
	}

	copyFile(t, leapRoot+"data/leap-seconds.list", file) // expires 2027-06-28
	if err := s.d.Reload(); err != nil {
		t.Fatal(err)
	}
	code, body = s.get(t, "/healthz")
	// The test server assumes synchronisation: said so unless the host is.
	clock := "a synchronised clock"
	if k, err := timescale.ReadKernel(); err != nil || !k.Synced() {
		clock = "a clock assumed synchronised (adjtimex says it is not)"
	}
	if code != http.StatusOK || body != "ok: serving noon-to-noon with leap table "+file+" (expires 2027-06-28T00:00:00Z) on "+clock+"\n" {
		t.Fatalf("after reload: %d %q", code, body)
	}
	f = s.scrape(t)
	if value(t, f, "leapsmear_leap_table_expired") != 0 || value(t, f, "leapsmear_leap_table_reloads_total") != 2 ||
		value(t, f, "leapsmear_leap_table_last_reload_failed") != 0 {
		t.Error("metrics after a good reload")
	}
}

func TestHealthzUnsynchronised(t *testing.T) {
	unsynced := func() (timescale.KernelState, error) {
		return timescale.KernelState{State: timescale.TimeError, Status: timescale.StatusUnsync}, nil
	}
	s := start(t, func(c *daemon.Config) { c.Source = timescale.Config{Kernel: unsynced} })
	code, body := s.get(t, "/healthz")
	if code != http.StatusServiceUnavailable || body != "host clock is not synchronised (adjtimex): replies carry LI=3 and stratum 16, which every client rejects\n" {
		t.Fatalf("%d %q", code, body)
	}
	// ?strict=0 ignores the expiry only.
	if code, _ := s.get(t, "/healthz?strict=0"); code != http.StatusServiceUnavailable {
		t.Errorf("strict=0: %d", code)
	}
	f := s.scrape(t)
	if value(t, f, "leapsmear_synchronized") != 0 || value(t, f, "leapsmear_leap_indicator") != 3 {
		t.Error("unsynchronised gauges")
	}
}

func TestHealthzUnverified(t *testing.T) {
	file := filepath.Join(t.TempDir(), "leap-seconds.list")
	b, err := os.ReadFile(leapRoot + "data/leap-seconds.list")
	if err != nil {
		t.Fatal(err)
	}
	// Alter the last-update time: the checksum no longer matches, the leaps
	// stay the same.
	b = []byte(strings.Replace(string(b), "#$\t3992312697", "#$\t3992312698", 1))
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, func(c *daemon.Config) {
		c.LeapFiles = []string{file}
		c.Parse = leap.ParseOptions{AcceptUnverified: true}
	})
	code, body := s.get(t, "/healthz?strict=0")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "leap table "+file+" is not verified: ") {
		t.Fatalf("%d %q", code, body)
	}
}

func TestStatusJSON(t *testing.T) {
	requireFreshEmbedded(t)
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	s := start(t, func(c *daemon.Config) { c.Rehearse, c.AllowJump = &leap.Rehearsal{At: at, Delta: -1}, true })
	code, body := s.get(t, "/api/status")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var r Report
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if !r.Healthy || r.Policy.Name != "noon-to-noon" || r.Policy.Window != "linear:-12h0m0s:24h0m1s" ||
		r.Table.Source != "embedded leap-seconds.list" || !r.Table.Verified || r.Table.Expired || r.Table.Leaps != 27 {
		t.Errorf("%+v", r)
	}
	// The rehearsal leap is the next leap; the smear is under way since
	// noon-to-noon opens 12 h before it.
	n := r.NextLeap
	if n == nil || !n.Synthetic || n.Delta != -1 || !n.Effective.Equal(at) || !r.InWindow || r.OffsetNs <= 0 || r.RatePPM <= 0 {
		t.Fatalf("next leap %+v, in window %v, offset %d, rate %v", n, r.InWindow, r.OffsetNs, r.RatePPM)
	}
	if n.SecondsUntilLeap < 3500 || n.SecondsUntilLeap > 3600 || n.SecondsUntilOpens > -39000 || n.SecondsUntilCloses < 46000 {
		t.Errorf("next leap times %+v", n)
	}
	if r.LastLeap == nil || r.LastLeap.Leap != "2016-12-31 23:59:60 +1 (TAI-UTC 37)" {
		t.Errorf("last leap %+v", r.LastLeap)
	}
	if !strings.Contains(r.Table.Rehearsal, "rehearsal leap") || r.Table.Fingerprint == leap.Default().Fingerprint() {
		t.Errorf("rehearsal %q fingerprint %s", r.Table.Rehearsal, r.Table.Fingerprint)
	}
	if len(r.Listen) != 1 || r.Listen[0] != s.ntp || r.Requests.Dropped["short"] != 0 || len(r.Requests.Dropped) != 7 {
		t.Errorf("listen %v dropped %v", r.Listen, r.Requests.Dropped)
	}
	// The metrics tell the same story.
	f := s.scrape(t)
	if value(t, f, "leapsmear_next_leap_info", "delta", "-1", "synthetic", "true") != 1 ||
		value(t, f, "leapsmear_smear_window_active") != 1 {
		t.Error("metrics of the rehearsal")
	}
	// In base units: the offset in seconds, the rate as a ratio (noon-to-noon
	// over a deleted second: 1/86 399 fast), both as /api/status says.
	if v := value(t, f, "leapsmear_frequency_offset_ratio"); math.Abs(v-1.0/86399) > 1e-15 || math.Abs(v-r.RatePPM/1e6) > 1e-15 {
		t.Errorf("leapsmear_frequency_offset_ratio %g, want 1/86399 = %g (status: %g ppm)", v, 1.0/86399, r.RatePPM)
	}
	// The scrape came after the status: the offset grew by the rate times
	// the time between them, far under a millisecond.
	if v := value(t, f, "leapsmear_offset_seconds"); v < float64(r.OffsetNs)/1e9-1e-9 || v > float64(r.OffsetNs)/1e9+1e-3 {
		t.Errorf("leapsmear_offset_seconds %g, status said %d ns", v, r.OffsetNs)
	}
	for _, old := range []string{"leapsmear_offset_nanoseconds", "leapsmear_rate_ppm"} {
		if _, ok := f[old]; ok {
			t.Errorf("%s is still exported", old)
		}
	}
}

func TestStatusPageHTML(t *testing.T) {
	s := start(t, nil)
	resp, err := http.Get(s.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="10">`,
		`noon-to-noon`,
		`none scheduled`,                      // no leap after 2016 in the embedded table
		`2016-12-31 23:59:60 +1 (TAI-UTC 37)`, // so the chart shows the last one
		`<svg role="img"`, `<path`, `embedded leap-seconds.list`,
		`after the window closed.`, // now is far from it: no marker
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Offline: nothing is fetched from elsewhere.
	for _, bad := range []string{"<script", "<link", "src=", "url(", "@import", "https:"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if strings.Contains(page, "<?xml") || strings.Contains(page, `width="720pt"`) {
		t.Error("SVG prolog or fixed size left in")
	}
	if code, _ := s.get(t, "/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing: %d", code)
	}
}

func TestChartCachedPerMinute(t *testing.T) {
	at := time.Now().Add(2 * time.Minute).Truncate(time.Second)
	s := start(t, func(c *daemon.Config) {
		c.Rehearse, c.AllowJump = &leap.Rehearsal{At: at, Delta: 1}, true
		c.Policy, _ = smear.Parse("linear:-10h:20h")
	})
	p := newPage()
	st := s.d.Status()
	// At the start of a minute, so that the second below stays in it.
	st.TAI -= st.TAI % leap.TAI(time.Minute)
	svg1, caption, err := p.chart(st)
	if err != nil || !strings.Contains(caption, "The dashed red line marks now.") {
		t.Fatalf("%v %q", err, caption)
	}
	// A second later the chart (a 20 h span, drawn in minute steps) is kept.
	st.TAI += leap.TAI(time.Second)
	svg2, _, _ := p.chart(st)
	if p.renders != 1 || svg1 != svg2 {
		t.Errorf("%d renders for two loads in the same minute", p.renders)
	}
	st.TAI += leap.TAI(2 * time.Minute)
	if _, _, err := p.chart(st); err != nil || p.renders != 2 {
		t.Errorf("%d renders after two minutes, %v", p.renders, err)
	}
	// A new smear (a reload) draws again.
	if err := s.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.chart(s.d.Status()); err != nil || p.renders != 3 {
		t.Errorf("%d renders after a reload, %v", p.renders, err)
	}
}

func TestCheckAddress(t *testing.T) {
	ntpListen := []string{"127.0.0.1:11123", "[::1]:11123"}
	for _, c := range []struct {
		admin, err string
	}{
		{"127.0.0.1:9123", ""},
		{"[::1]:9123", ""},
		{":9123", ""},
		{"127.0.0.1:0", ""},
		{"127.0.0.1:11123", "port 11123 is the NTP listen address 127.0.0.1:11123"},
		{"0.0.0.0:11123", "port 11123 is the NTP listen address"},
		{"127.0.0.1:123", "port 123 is the NTP port"},
		{"nonsense", "want host:port"},
	} {
		err := CheckAddress(c.admin, ntpListen)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.admin, err, c.err)
		}
	}
	s := start(t, nil)
	if _, err := Listen(s.ntp, s.d.Addrs(), s.d, Options{}); err == nil || !strings.Contains(err.Error(), "NTP listen address") {
		t.Errorf("listen on the NTP address: %v", err)
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12500 * time.Millisecond:                           "12.5 s",
		3*time.Minute + 20*time.Second:                     "3 min 20 s",
		5*time.Hour + 12*time.Minute:                       "5 h 12 min",
		-(213*24*time.Hour + 4*time.Hour + 59*time.Minute): "213 days 4 h",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestListenFamilies: an IPv4 admin address, 0.0.0.0 included, listens on
// IPv4 only, as the NTP listener does ([::] is the way to ask for both), and
// an address beyond loopback is warned about.
func TestListenFamilies(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		ln.Close()
	}
	s := start(t, nil)
	logs := &testenv.Buffer{}
	adm, err := Listen("0.0.0.0:0", s.d.Addrs(), s.d, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	_, port, _ := net.SplitHostPort(adm.Addr())
	if c, err := net.Dial("tcp6", "[::1]:"+port); err == nil {
		c.Close()
		t.Error("the admin address 0.0.0.0 also listens on IPv6")
	}
	if c, err := net.Dial("tcp4", "127.0.0.1:"+port); err != nil {
		t.Errorf("the admin address 0.0.0.0 does not listen on 127.0.0.1: %v", err)
	} else {
		c.Close()
	}
	if !strings.Contains(logs.String(), "beyond loopback") {
		t.Errorf("no warning for an admin address beyond loopback: %s", logs)
	}
	quiet := &testenv.Buffer{}
	lo, err := Listen("127.0.0.1:0", s.d.Addrs(), s.d, Options{Logger: slog.New(slog.NewJSONHandler(quiet, nil))})
	if err != nil {
		t.Fatal(err)
	}
	lo.Close()
	if quiet.String() != "" {
		t.Errorf("a loopback admin address warned about: %s", quiet)
	}
}
