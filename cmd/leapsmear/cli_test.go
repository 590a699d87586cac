package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageMistakes: every mistake on the command line or in the config
// file exits 2 with one line saying what is wrong, in words (no Go parser
// errors), naming the flag, or the file, its line and the key.
func TestUsageMistakes(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unknownKey := file("unknown.toml", "listen = [\"127.0.0.1:0\"]\n\nnosuch = 5\n")
	badType := file("type.toml", "stratum = \"x\"\n")
	syntax := file("syntax.toml", "policy = \"step\n")
	section := file("section.toml", "# options\n[serve]\npolicy = \"step\"\n")
	badPolicy := file("policy.toml", "listen = [\"127.0.0.1:0\"]\npolicy = \"bogus\"\n")
	badRate := file("rate.toml", "listen = [\"127.0.0.1:0\"]\nsockets = -1\n")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"serv"}, []string{`unknown command "serv"`, "did you mean serve?"}},
		{[]string{"help", "nosuch"}, []string{"help nosuch: no such command"}},
		{[]string{"serve", "--stratum", "x"}, []string{`--stratum "x": want a whole number from 0 to 255`}},
		{[]string{"serve", "--time-offset", "abc"}, []string{`--time-offset "abc": want a duration such as 90s`}},
		{[]string{"serve", "--assume-synced=maybe"}, []string{`--assume-synced "maybe": want true or false`}},
		{[]string{"query", "--samples", "z", "127.0.0.1"}, []string{`--samples "z": want a whole number`}},
		{[]string{"plot", "--policy", "step", "--leap", "2016-12-31", "-o", filepath.Join(dir, "p.svg"), "--samples", "100000000"}, []string{"--samples 100000000: want 2 to 100000"}},
		{[]string{"serve", "--config", unknownKey}, []string{"config file " + unknownKey + " line 3: nosuch: unknown option"}},
		{[]string{"serve", "--config", badType}, []string{"config file " + badType + ` line 1: stratum: "x": want a whole number`}},
		{[]string{"serve", "--config", syntax}, []string{"config file " + syntax + " line 1: "}},
		{[]string{"serve", "--config", section}, []string{"config file " + section + " line 2: [serve]: the file has no sections"}},
		{[]string{"serve", "--config", badPolicy}, []string{"config file " + badPolicy + ` line 2: policy: policy "bogus"`}},
		{[]string{"serve", "--config", badRate}, []string{"config file " + badRate + " line 2: sockets -1: want 0 (one per CPU) to 1024"}},
	} {
		code, stdout, stderr := runCapture(c.args...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != 2 || stdout != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], "leapsmear: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and one line", c.args, code, stdout, stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(lines[0], w) {
				t.Errorf("%v: %q does not say %q", c.args, lines[0], w)
			}
		}
		for _, leak := range []string{"strconv.", "toml:", "time: "} {
			if strings.Contains(lines[0], leak) {
				t.Errorf("%v: %q shows Go internals (%s)", c.args, lines[0], leak)
			}
		}
	}
	// A flag on the command line wins over the file, and is named as a flag.
	if code, _, stderr := runCapture("serve", "--config", badPolicy, "--policy", "nope"); code != 2 || !strings.Contains(stderr, `--policy: policy "nope"`) {
		t.Errorf("flag over file: exit %d, %q", code, stderr)
	}
}

// TestMistakesInWords: each mistake exits 2 (1 for a file that is not a
// leap file) with one line that names the flag, the argument or the file
// and says what is wanted, in words: no Go parser messages (time's layouts,
// "time: unknown unit", "bad port"). Every RFC 3339 option says a missing
// zone the same way.
func TestMistakesInWords(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.list")
	if err := os.WriteFile(garbage, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.toml")
	const noZone = `instant "2030-01-01T00:00:00" has no zone: want RFC 3339 with a zone (Z for UTC, or an offset such as +01:00), such as 2026-11-23T15:00:00Z`
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		// Instants: one reader, one wording.
		{[]string{"serve", "--rehearse", "2030-01-01T00:00:00,+1"}, 2, `--rehearse: rehearsal "2030-01-01T00:00:00,+1": ` + noZone + ", or now+DURATION such as now+2m"},
		{[]string{"serve", "--time-offset-to", "2030-01-01T00:00:00"}, 2, "--time-offset-to: " + noZone},
		{[]string{"table", "--at", "2030-01-01T00:00:00"}, 2, "--at: " + noZone},
		{[]string{"leaps", "--at", "2030-01-01T00:00:00"}, 2, "--at: " + noZone},
		{[]string{"offset", "--leap", "2016-12-31", "--policy", "step", "--at", "2030-01-01T00:00:00"}, 2, "--at: " + noZone},
		{[]string{"plot", "--leap", "2016-12-31", "--policy", "step", "-o", filepath.Join(dir, "p.svg"), "--from", "2030-01-01T00:00:00", "--to", "2030-01-02T00:00:00Z"}, 2, "--from: " + noZone},
		{[]string{"watch", "127.0.0.1:1", "--for", "2s", "--leap", "2030-01-01T00:00:00"}, 2, "watch: --leap: " + noZone + "; or the UTC day that ends with the leap, such as 2016-12-31"},
		{[]string{"unsmear", "--policy", "step", "2030-01-01T00:00:00"}, 2, noZone},
		// Policies name the part that is wrong and the form.
		{[]string{"serve", "--policy", "linear:-12x:24h"}, 2, `--policy: policy "linear:-12x:24h": window start "-12x": want a duration from the leap such as -12h, -30s or 0s (units h, m, s, ms, us, ns; SHAPE:START:LENGTH such as linear:-30s:61s)`},
		{[]string{"serve", "--policy", "linear:abc:24h"}, 2, `--policy: policy "linear:abc:24h": window start "abc": want a duration`},
		{[]string{"offset", "--leap", "2016-12-31", "--policy", "linear:0s:1y", "--at", "2016-12-31T12:00:00Z"}, 2, `--policy: policy "linear:0s:1y": window length "1y": want a duration such as 24h`},
		// watch's bounds name their flag.
		{[]string{"watch", "127.0.0.1:1", "--for", "2s", "--every", "10ms"}, 2, "watch: --every 10ms: want at least 100ms"},
		{[]string{"watch", "127.0.0.1:1", "--for", "100h"}, 2, "watch: --for 100h: want at most 80h"},
		{[]string{"watch", "127.0.0.1:1", "--for", "1s", "--every", "2s"}, 2, "watch: --every 2s: want at most the length of the watch (for 1s)"},
		// A server address written wrong is a usage mistake, told before
		// anything is sent.
		{[]string{"query", "127.0.0.1:abc"}, 2, `query: server "127.0.0.1:abc": port "abc" is not a number from 1 to 65535 or a service name such as ntp; want HOST or HOST:PORT such as 127.0.0.1:123, [::1]:123 or time.example.com`},
		{[]string{"query", "127.0.0.1", "[::1"}, 2, `query: server "[::1": not a host name or address`},
		{[]string{"watch", "127.0.0.1:abc", "--for", "2s"}, 2, `watch: server "127.0.0.1:abc": port "abc" is not a number from 1 to 65535`},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:abc"}, 2, `--admin: admin address "127.0.0.1:abc": port "abc" is not a number from 0 to 65535 or a service name such as ntp; want host:port such as 127.0.0.1:9123`},
		// A config file named on the command line that is not there.
		{[]string{"serve", "--config", missing}, 2, "--config " + missing + ": no such file or directory; want a TOML file of 'leapsmear serve' options"},
		{[]string{"serve", "--config", dir}, 2, "--config " + dir + ": is a directory"},
		// The rate limiter's options are checked whatever the rate.
		{[]string{"serve", "--listen", "127.0.0.1:0", "--rate-burst", "-5"}, 2, "serve: --rate-burst -5: want 1 or more"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--rate-limit", "0", "--rate-burst", "-5"}, 2, "serve: --rate-burst -5: want 1 or more"},
		// A second a synthetic leap deletes: which flag made the leap, and
		// what to give instead.
		{[]string{"offset", "--leap", "2030-12-31", "--sign", "-1", "--policy", "step", "--at", "2030-12-31T23:59:59.5Z"}, 2,
			"--at: 2030-12-31T23:59:59.5Z: this second was deleted by leap table embedded leap-seconds.list + a synthetic leap second from --sign -1 (UTC went from 23:59:58 straight to 00:00:00 at the end of 2030-12-31): it never happened; give an instant before or after it"},
		// A leap file that is not text is named as binary, not quoted.
		{[]string{"table", "--leap-file", garbage}, 1, "leap file " + garbage + ": binary data: not a leap-seconds.list, a tzdata leapseconds file or a TZif right/ file"},
	} {
		code, stderr := runBounded(t, c.args...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != c.code || len(lines) != 1 || !strings.HasPrefix(lines[0], "leapsmear: "+c.want) {
			t.Errorf("%v: exit %d, stderr %q\nwant exit %d and one line starting: leapsmear: %s", c.args, code, stderr, c.code, c.want)
		}
		for _, leak := range []string{"Z07:00", "parsing time", "time: ", "bad port", "strconv", "rehearsal leap", "lookup ", "\x00"} {
			if strings.Contains(stderr, leak) {
				t.Errorf("%v: %q shows Go internals or the wrong words (%q)", c.args, stderr, leak)
			}
		}
	}
}
