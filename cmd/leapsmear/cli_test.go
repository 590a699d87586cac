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
