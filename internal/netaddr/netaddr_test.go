package netaddr

import (
	"context"
	"errors"
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
	for _, in := range []string{"", "127.0.0.1", "127.0.0.1:x", "[::1]", "1.2.3.4:70000", "a b:123", "127.0.0.1:+5"} {
		var se *SyntaxError
		if got, err := Listen(in); err == nil || !strings.Contains(err.Error(), "want host:port") || !errors.As(err, &se) {
			t.Errorf("%q: %v %v, want a *SyntaxError", in, got, err)
		}
	}
	const want = `listen address "127.0.0.1:abc": port "abc" is not a number from 0 to 65535 or a service name such as ntp; want host:port such as 127.0.0.1:123 or [::1]:123`
	if _, err := Listen("127.0.0.1:abc"); err == nil || err.Error() != want {
		t.Errorf("a bad port: %v\nwant %s", err, want)
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
	for _, bad := range []string{"", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:x y", "[::1", "a:b:c", "host:", ":123",
		"127.0.0.1:abc", "127.0.0.1:+5", "127.0.0.1:-1", "127.0.0.1:99999999999999999999"} {
		got, err := Resolve(ctx, bad, 123)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Addr != bad {
			t.Errorf("Resolve(%q) = %s, %v; want a *SyntaxError", bad, got, err)
			continue
		}
		if _, _, err := SplitTarget(bad, 123); err == nil || err.Error() != se.Error() {
			t.Errorf("SplitTarget(%q): %v, want what Resolve says: %v", bad, err, se)
		}
	}
	const portWords = `"127.0.0.1:abc": port "abc" is not a number from 1 to 65535 or a service name such as ntp; want HOST or HOST:PORT such as 127.0.0.1:123, [::1]:123 or time.example.com`
	if _, err := Resolve(ctx, "127.0.0.1:abc", 123); err == nil || err.Error() != portWords {
		t.Errorf("a bad port: %v\nwant %s", err, portWords)
	}
	// A service name is a port.
	if got, err := Resolve(ctx, "127.0.0.1:ntp", 0); err == nil && got.Port() != 123 {
		t.Errorf("127.0.0.1:ntp = %s", got)
	}
	// A name that does not resolve is not a syntax error (an empty label: the
	// resolver refuses it without asking a name server).
	var se *SyntaxError
	if _, err := Resolve(ctx, "a..b.invalid:123", 0); err == nil || errors.As(err, &se) {
		t.Errorf("an unknown name: %v, want an error that is not a *SyntaxError", err)
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
