package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const leapTestdata = "../../leap/testdata/"

// runCmd runs the command line in-process and returns its exit status,
// standard output and standard error.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runWith(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// decodeTable checks that the output is one JSON object with exactly the
// contract's keys and decodes it.
func decodeTable(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value:\n%s", out)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"disagreements", "expired", "expires", "leaps", "next", "source", "updated", "verified"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	for _, l := range m["leaps"].([]any) {
		checkLeapEntry(t, l)
	}
	if m["next"] != nil {
		checkLeapEntry(t, m["next"])
	}
	return m
}

func checkLeapEntry(t *testing.T, v any) {
	t.Helper()
	e := v.(map[string]any)
	if len(e) != 3 || e["effective"] == nil || e["tai_utc"] == nil || (e["delta"] != 1.0 && e["delta"] != -1.0) {
		t.Fatalf("leap entry %v", e)
	}
}

func lastLeap(m map[string]any) map[string]any {
	leaps := m["leaps"].([]any)
	return leaps[len(leaps)-1].(map[string]any)
}

func TestTableJSONEmbedded(t *testing.T) {
	code, out, errOut := runCmd(t, "table", "--json", "--at", "2026-11-23T12:00:00Z")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := decodeTable(t, out)
	if m["source"] != "embedded leap-seconds.list" || m["verified"] != true || m["expired"] != false ||
		m["updated"] != "2026-07-06T07:44:57Z" || m["expires"] != "2027-06-28T00:00:00Z" || m["next"] != nil {
		t.Errorf("%v", m)
	}
	if n := len(m["leaps"].([]any)); n != 27 {
		t.Errorf("%d leaps", n)
	}
	if first := m["leaps"].([]any)[0].(map[string]any); first["effective"] != "1972-07-01T00:00:00Z" || first["tai_utc"] != 11.0 {
		t.Errorf("first leap %v (the 1972 base must not be listed)", first)
	}
	if d := m["disagreements"].([]any); len(d) != 0 {
		t.Errorf("disagreements %v", d)
	}
}

func TestTableJSONNext(t *testing.T) {
	for _, at := range []string{"2016-06-01T00:00:00Z", "2016-12-31T23:59:60.5Z", "2016-12-31T23:59:59Z"} {
		code, out, _ := runCmd(t, "table", "--json", "--at", at)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		m := decodeTable(t, out)
		next, ok := m["next"].(map[string]any)
		if !ok || next["effective"] != "2017-01-01T00:00:00Z" || next["tai_utc"] != 37.0 || next["delta"] != 1.0 {
			t.Errorf("--at %s: next %v", at, m["next"])
		}
	}
}

// TestTableRealFiles is the "done when" check on the shipped copies of this
// machine's files (the expired 2026-06-28 release).
func TestTableRealFiles(t *testing.T) {
	for _, c := range []struct {
		file             string
		updated, expires any
	}{
		{"leap-seconds.list", "2025-07-07T00:00:00Z", "2026-06-28T00:00:00Z"},
		{"leapseconds", "2025-07-07T00:00:00Z", "2026-06-28T00:00:00Z"},
		{"right_UTC", nil, nil},
	} {
		p := leapTestdata + c.file
		code, out, errOut := runCmd(t, "table", "--leap-file", p, "--json", "--at", "2026-11-23T12:00:00Z")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.file, code, errOut)
		}
		m := decodeTable(t, out)
		last := lastLeap(m)
		if len(m["leaps"].([]any)) != 27 || last["effective"] != "2017-01-01T00:00:00Z" || last["tai_utc"] != 37.0 ||
			m["verified"] != true || m["expired"] != true || m["source"] != p || m["updated"] != c.updated || m["expires"] != c.expires {
			t.Errorf("%s: %v", c.file, m)
		}
		if !strings.Contains(errOut, "warning: leap table "+p) {
			t.Errorf("%s: no expiry warning on stderr: %q", c.file, errOut)
		}
	}
}

func TestTableSystemFiles(t *testing.T) {
	for _, p := range []string{"/usr/share/zoneinfo/leap-seconds.list", "/usr/share/zoneinfo/leapseconds", "/usr/share/zoneinfo/right/UTC"} {
		if _, err := os.Stat(p); err != nil {
			t.Logf("%s: %v", p, err)
			continue
		}
		code, out, errOut := runCmd(t, "table", "--leap-file", p, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", p, code, errOut)
		}
		m := decodeTable(t, out)
		if len(m["leaps"].([]any)) < 27 || m["verified"] != true {
			t.Errorf("%s: %v", p, m)
		}
	}
}

func oneLine(t *testing.T, s string) string {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Fatalf("stderr is not one line: %q", s)
	}
	return s
}

func TestTableTamperedFile(t *testing.T) {
	data, err := os.ReadFile(leapTestdata + "leap-seconds.list")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "leap-seconds.list")
	if err := os.WriteFile(p, bytes.Replace(data, []byte("3692217600      37"), []byte("3692217600      38"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--json"}, {}} {
		code, out, errOut := runCmd(t, append([]string{"table", "--leap-file", p}, args...)...)
		line := oneLine(t, errOut)
		if code != 1 || out != "" || !strings.HasPrefix(line, "leapsmear: "+p+" line 120: SHA-1 checksum mismatch") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	}
	// A corrupt binary file.
	right, err := os.ReadFile(leapTestdata + "right_UTC")
	if err != nil {
		t.Fatal(err)
	}
	p = filepath.Join(t.TempDir(), "UTC")
	if err := os.WriteFile(p, right[:500], 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, "table", "--leap-file", p, "--json")
	if code != 1 || oneLine(t, errOut) != "leapsmear: leap file "+p+": truncated in the 64-bit data block\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestTableChecksumCutOff: a leap-seconds.list cut off before its #h line
// is refused with the flag that loads it, and --accept-unverified loads it
// as unverified.
func TestTableChecksumCutOff(t *testing.T) {
	data, err := os.ReadFile(leapTestdata + "leap-seconds-2026b.list")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "leap-seconds.list")
	if err := os.WriteFile(p, data[:bytes.Index(data, []byte("\n#h"))+1], 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "table", "--leap-file", p, "--json")
	if line := oneLine(t, errOut); code != 1 || out != "" || !strings.HasPrefix(line, "leapsmear: leap file "+p+": no #h checksum line") ||
		!strings.HasSuffix(line, "(--accept-unverified loads it anyway)\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "table", "--leap-file", p, "--json", "--accept-unverified")
	if code != 0 {
		t.Fatalf("--accept-unverified: exit %d, stderr %q", code, errOut)
	}
	if m := decodeTable(t, out); m["verified"] != false || len(m["leaps"].([]any)) != 27 {
		t.Errorf("--accept-unverified: %v", m)
	}
}

func TestTableChangedTZDataReportsDisagreement(t *testing.T) {
	data, err := os.ReadFile(leapTestdata + "leapseconds")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "leapseconds")
	if err := os.WriteFile(p, bytes.Replace(data, []byte("Leap	2016	Dec	31"), []byte("Leap	2016	Jun	30"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "table", "--leap-file", p, "--json")
	m := decodeTable(t, out)
	line := oneLine(t, errOut)
	if code != 1 || m["verified"] != false || m["source"] != p || len(m["disagreements"].([]any)) != 2 ||
		!strings.HasPrefix(line, "leapsmear: leap file "+p+" disagrees with the embedded leap-seconds.list: leap 2016-06-30") {
		t.Errorf("exit %d, %v, %q", code, m, errOut)
	}
	code, out, _ = runCmd(t, "table", "--leap-file", p)
	if code != 1 || !strings.Contains(out, "DISAGREEMENTS:") || !strings.Contains(out, "verified: NO, not corroborated") {
		t.Errorf("text: exit %d\n%s", code, out)
	}
}

func TestTableSeveralFiles(t *testing.T) {
	args := []string{"table", "--at", "2026-11-23T12:00:00Z",
		"--leap-file", leapTestdata + "leap-seconds.list",
		"--leap-file", leapTestdata + "leapseconds",
		"--leap-file", leapTestdata + "right_UTC",
		"--leap-file", leapTestdata + "leap-seconds-2026b.list"}
	code, out, errOut := runCmd(t, append(args, "--json")...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := decodeTable(t, out)
	if m["source"] != leapTestdata+"leap-seconds-2026b.list" || m["expired"] != false || len(m["disagreements"].([]any)) != 0 {
		t.Errorf("%v", m)
	}
	code, out, _ = runCmd(t, args...)
	if code != 0 || !strings.Contains(out, "Sources (4):") || !strings.Contains(out, "Using "+leapTestdata+"leap-seconds-2026b.list") ||
		!strings.Contains(out, "right_UTC states no expiry but") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestTableNegativeLeaps(t *testing.T) {
	// The synthetic negative table contradicts the real one, so the command
	// fails, but it shows the deleted seconds first.
	p := leapTestdata + "leapseconds-negative"
	code, out, errOut := runCmd(t, "table", "--leap-file", p, "--at", "1975-08-01T00:00:00Z")
	if code != 1 || !strings.Contains(errOut, "disagrees with the embedded") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"1973-12-31 23:59:59 -1 TAI-UTC 11 (second deleted)",
		"1976-03-31 23:59:60 +1 TAI-UTC 11",
		"Next leap second after 1975-08-01T00:00:00Z: 1975-09-30 23:59:59 -1 TAI-UTC 10 (second deleted) (takes effect 1975-10-01T00:00:00Z)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	_, out, _ = runCmd(t, "table", "--leap-file", p, "--at", "1975-08-01T00:00:00Z", "--json")
	m := decodeTable(t, out)
	if next := m["next"].(map[string]any); next["delta"] != -1.0 || next["tai_utc"] != 10.0 || next["effective"] != "1975-10-01T00:00:00Z" {
		t.Errorf("next %v", next)
	}
}

func TestTableText(t *testing.T) {
	code, out, _ := runCmd(t, "table", "--at", "2027-07-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"Leap-second table embedded leap-seconds.list (leap-seconds.list)",
		"verified: yes, SHA-1 checksum matched",
		"expires:  2027-06-28T00:00:00Z",
		"WARNING: leap table embedded leap-seconds.list expired on 2027-06-28T00:00:00Z",
		"TAI-UTC 10 s from 1972-01-01, then 27 leap seconds:",
		"  1972-06-30 23:59:60 +1 TAI-UTC 11\n",
		"  2016-12-31 23:59:60 +1 TAI-UTC 37\n",
		"none known; the table has expired",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	_, out, _ = runCmd(t, "table", "--at", "2026-01-01T00:00:00Z")
	if !strings.Contains(out, "none scheduled before expiry (2027-06-28T00:00:00Z)") || strings.Contains(out, "WARNING") {
		t.Errorf("in force:\n%s", out)
	}
}

func TestTableUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"table", "--at", "tomorrow"},
		{"table", "--at", "2016-12-31T12:00:60Z"},
		{"table", "extra"},
		{"table", "--no-such-flag"},
	} {
		code, _, errOut := runCmd(t, args...)
		if code != 2 || !strings.HasPrefix(oneLine(t, errOut), "leapsmear: ") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

func TestTableHelp(t *testing.T) {
	code, out, _ := runCmd(t, "table", "--help")
	for _, want := range []string{"--leap-file", "--accept-unverified", "--at", "--json", "Examples:", "leapsmear table --leap-file /usr/share/zoneinfo/leap-seconds.list", "disagreements"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
