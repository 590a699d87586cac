package netaddr

import (
	"context"
	"strings"
	"testing"
)

func TestListen(t *testing.T) {
	for in, want := range map[string]string{
		":123":                 "0.0.0.0:123",
		"127.0.0.1:11123":      "127.0.0.1:11123",
		"[::1]:123":            "[::1]:123",
		"[::]:123":             "[::]:123",
		"[::ffff:10.0.0.1]:12": "10.0.0.1:12",
		"localhost:123":        "127.0.0.1:123",
	} {
		got, err := Listen(in)
		if err != nil || got.String() != want {
			if in == "localhost:123" && err == nil && got.Addr().IsLoopback() {
				continue
			}
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "127.0.0.1", "127.0.0.1:x", "[::1]", "1.2.3.4:70000"} {
		if got, err := Listen(in); err == nil || !strings.Contains(err.Error(), "want host:port") {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		in, want string
	}{
		{"127.0.0.1", "127.0.0.1:123"},
		{"127.0.0.1:11123", "127.0.0.1:11123"},
		{"[::1]:123", "[::1]:123"},
		{"[::1]", "[::1]:123"},
		{"::1", "[::1]:123"},
		{"[::ffff:127.0.0.1]:5", "127.0.0.1:5"},
		{"localhost:9", ""}, // resolved by name: checked below
	} {
		got, err := Resolve(ctx, c.in, 123)
		if err != nil {
			t.Errorf("Resolve(%q): %v", c.in, err)
			continue
		}
		if c.want != "" && got.String() != c.want {
			t.Errorf("Resolve(%q) = %s, want %s", c.in, got, c.want)
		}
		if c.want == "" && (!got.Addr().IsLoopback() || got.Port() != 9) {
			t.Errorf("Resolve(%q) = %s", c.in, got)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:x y", "[::1", "a:b:c", "host:", ":123"} {
		if got, err := Resolve(ctx, bad, 123); err == nil {
			t.Errorf("Resolve(%q) = %s, want an error", bad, got)
		}
	}
	// Without a default port, one must be given.
	if got, err := Resolve(ctx, "127.0.0.1", 0); err == nil || !strings.Contains(err.Error(), "want HOST:PORT") {
		t.Errorf("Resolve without a port = %s, %v", got, err)
	}
}

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		in, host, port string
		hasPort        bool
	}{
		{"127.0.0.1", "127.0.0.1", "", false},
		{"127.0.0.1:4460", "127.0.0.1", "4460", true},
		{"ntp.invalid", "ntp.invalid", "", false},
		{"ntp.invalid:123", "ntp.invalid", "123", true},
		{"::1", "::1", "", false},
		{"[::1]", "::1", "", false},
		{"[::1]:4460", "::1", "4460", true},
		{"[::1]:", "::1", "", true},
		{"", "", "", false},
	} {
		host, port, hasPort := Split(c.in)
		if host != c.host || port != c.port || hasPort != c.hasPort {
			t.Errorf("Split(%q) = %q %q %v, want %q %q %v", c.in, host, port, hasPort, c.host, c.port, c.hasPort)
		}
	}
}
