package main

import (
	"bytes"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBenchJSON(t *testing.T) {
	r := startResponder(t, "udp4", "127.0.0.1", 0, nil)
	var out, errb bytes.Buffer
	code := runWith([]string{"bench", "--target", r.Addr, "--duration", "300ms", "--workers", "3", "--window", "8", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var m map[string]float64
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"answered", "answered_per_s", "p50_us", "p99_us", "sent"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want exactly %v", keys, want)
	}
	if m["sent"] == 0 || m["answered"] != m["sent"] {
		t.Errorf("sent %v answered %v: want every request answered", m["sent"], m["answered"])
	}
	if got := float64(r.Requests()); got != m["sent"] {
		t.Errorf("server saw %v requests, bench says it sent %v", got, m["sent"])
	}
	if aps := m["answered_per_s"]; aps < m["answered"]/2 || aps > m["answered"]/0.25 {
		t.Errorf("answered_per_s %v for %v answered in 300ms", aps, m["answered"])
	}
	if m["p50_us"] <= 0 || m["p99_us"] < m["p50_us"] || m["p99_us"] > 1e6 {
		t.Errorf("p50 %v us, p99 %v us", m["p50_us"], m["p99_us"])
	}
}

func TestBenchText(t *testing.T) {
	r := startResponder(t, "udp6", "::1", 0, nil)
	var out, errb bytes.Buffer
	if code := runWith([]string{"bench", "--target", r.Addr, "--duration", "200ms", "--rate", "2000"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"target          " + r.Addr, "rate 2000/s", "sent ", "answered ", "(100.00%)", "answered/s ", "latency         p50 ", "generator CPU "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchNoAnswer(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close() // nothing listens there now
	var out, errb bytes.Buffer
	start := time.Now()
	code := runWith([]string{"bench", "--target", addr, "--duration", "100ms", "--timeout", "100ms", "--json"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "no request was answered") || !strings.Contains(errb.String(), "connection refused: nothing listens on that port") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestBenchUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "--target HOST:PORT is required"},
		{[]string{"bench", "--target", "192.0.2.1:123"}, "not a loopback address"},
		{[]string{"bench", "--target", "[2001:db8::1]:123", "--duration", "1s"}, "--allow-remote"},
		{[]string{"bench", "--target", "127.0.0.1"}, "want HOST:PORT"},
		{[]string{"bench", "--target", "127.0.0.1:0"}, "port"},
		{[]string{"bench", "--target", "127.0.0.1:123", "--duration", "61s"}, "at most 1m0s"},
		{[]string{"bench", "--target", "127.0.0.1:123", "--duration", "0s"}, "--duration"},
		{[]string{"bench", "--target", "127.0.0.1:123", "--workers", "0"}, "--workers"},
		{[]string{"bench", "--target", "127.0.0.1:123", "--window", "5000"}, "--window"},
		{[]string{"bench", "--target", "127.0.0.1:123", "--rate", "-1"}, "--rate"},
		{[]string{"bench", "--target", "127.0.0.1:123", "--timeout", "0s"}, "--timeout"},
		{[]string{"bench", "--target", "127.0.0.1:123", "extra"}, "takes no arguments"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := runWith(c.args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
		if strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: want one line, got %q", c.args, errb.String())
		}
	}
}

// TestBenchAllowRemote checks the flag lets a remote target through the
// checks; nothing is sent (tests stay on loopback).
func TestBenchAllowRemote(t *testing.T) {
	f := benchFlags{target: "192.0.2.1:123", duration: time.Second, workers: 2, window: 64, timeout: time.Second, allowRemote: true}
	cfg, err := f.config()
	if err != nil || cfg.Target.String() != "192.0.2.1:123" || !cfg.AllowRemote {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	f = benchFlags{target: "localhost:123", duration: time.Second, workers: 2, window: 64, timeout: time.Second}
	if cfg, err := f.config(); err != nil || !cfg.Target.Addr().IsLoopback() {
		t.Fatalf("localhost: %+v, %v", cfg, err)
	}
}
