package interop

import (
	"context"
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/ntptest"
)

// expiredFile is a genuine leap-seconds.list that expired on 2026-06-28.
const expiredFile = "../leap/testdata/leap-seconds.list"

// tzdataFile is tzdata's leapseconds file (no checksum).
const tzdataFile = "../leap/testdata/leapseconds"

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// edit replaces old with new in data, once, failing if old is not there.
func edit(t *testing.T, data, old, new string) string {
	t.Helper()
	if !strings.Contains(data, old) {
		t.Fatalf("%q not found", old)
	}
	return strings.Replace(data, old, new, 1)
}

// rehash rewrites the #h line of a leap-seconds.list to match its data, as
// the file's own header defines the checksum: SHA-1 over the digits of the
// #$ and #@ lines and of every data line before its "#", in file order. A
// forger can do this as easily as the test: the checksum guards against
// damage, not against forgery.
func rehash(t *testing.T, data string) string {
	t.Helper()
	h := sha1.New()
	digits := func(s string) {
		for _, c := range []byte(s) {
			if c >= '0' && c <= '9' {
				h.Write([]byte{c})
			}
		}
	}
	lines := strings.Split(data, "\n")
	hashLine := -1
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "#h"):
			hashLine = i
		case strings.HasPrefix(l, "#$"), strings.HasPrefix(l, "#@"):
			digits(l[2:])
		case strings.HasPrefix(l, "#"):
		default:
			text, _, _ := strings.Cut(l, "#")
			digits(text)
		}
	}
	if hashLine < 0 {
		t.Fatal("no #h line")
	}
	sum := h.Sum(nil)
	lines[hashLine] = fmt.Sprintf("#h\t%x %x %x %x %x", sum[0:4], sum[4:8], sum[8:12], sum[12:16], sum[16:20])
	return strings.Join(lines, "\n")
}

// writeAtomic replaces the file at path, as an operator's tooling should.
func writeAtomic(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// metrics scrapes the admin endpoint of a server started with --admin
// 127.0.0.1:0 and returns the value of each metric, labelled ones under their
// full name (leapsmear_packets_dropped_total{reason="short"}).
func metrics(t *testing.T, s *server) map[string]float64 {
	t.Helper()
	return parseMetrics(string(s.adminGet(t, "/metrics")))
}

// parseMetrics reads Prometheus text: each sample by its name with labels.
func parseMetrics(body string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		name, value, ok := strings.Cut(line, " ")
		if i := strings.LastIndex(line, "} "); i > 0 {
			name, value, ok = line[:i+1], line[i+2:], true
		}
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// checkMetrics compares the metrics named in want.
func checkMetrics(t *testing.T, when string, got, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: %s = %v (present %v), want %v", when, k, g, ok, v)
		}
	}
}

// badTables are leap files the server must refuse, with what the error
// must say. Data lines of leap-seconds.list for the last three leaps:
//
//	3644697600      36      # 1 Jul 2015
//	3692217600      37      # 1 Jan 2017
func badTables(t *testing.T) []struct{ name, data, want string } {
	t.Helper()
	expired, current := read(t, expiredFile), read(t, leapFile)
	if rehash(t, expired) != expired {
		t.Fatal("rehash does not reproduce the #h line of a genuine file")
	}
	const leap2017 = "3692217600      37"
	return []struct{ name, data, want string }{
		{"corrupt", "#@\t3913056000\nthis is not a leap-seconds file\n\x00\x01\x02", "line 2"},
		{"empty", "", "no data lines"},
		{"tampered", edit(t, expired, leap2017, "3692217600      38"), "SHA-1 checksum mismatch"},
		// Cut in the middle of the 2017 line.
		{"truncated", expired[:strings.Index(expired, leap2017)+5], "line 113"},
		// Cut just before its #h line: sound, but not verifiable.
		{"checksum cut off", current[:strings.Index(current, "\n#h")+1], "no #h checksum line"},
		{"wrong step", rehash(t, edit(t, expired, leap2017, "3692217600      38")), "TAI-UTC goes from 36 to 38"},
		// The 2017 leap dated 2015-01-01, before the leap of 2015-07-01.
		{"out of order", rehash(t, edit(t, expired, leap2017, "3629059200      37")), "not after"},
		// A well-formed file with a checksum to match, but without the
		// 2016 leap: it contradicts the embedded table.
		{"forged", rehash(t, edit(t, current, leap2017+"      # 1 Jan 2017\n", "")), "disagrees with the embedded"},
	}
}

// TestBadTableAtStart: a leap file that is corrupt, empty, tampered with,
// truncated, does not validate or contradicts the embedded table stops the
// server at start with exit status 1 and one line on standard error,
// naming the file and the reason, and nothing else: no log line, nothing
// bound. So do two files that disagree with each other, and a file that
// does not exist.
func TestBadTableAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	type tc struct {
		name  string
		files []string
		extra []string
		want  []string
	}
	var cases []tc
	for _, b := range badTables(t) {
		file := filepath.Join(dir, strings.ReplaceAll(b.name, " ", "-")+".list")
		writeAtomic(t, file, b.data)
		c := tc{b.name, []string{file}, nil, []string{file, b.want}}
		switch b.name {
		case "tampered":
			c.want = append(c.want, "line 120", "--accept-unverified loads it anyway")
		case "checksum cut off":
			c.want = append(c.want, "cut short or edited", "--accept-unverified loads it anyway")
		}
		cases = append(cases, c)
	}
	// --accept-unverified takes the tampered file past its checksum, and
	// validation stops it.
	cases = append(cases, tc{"tampered, --accept-unverified", []string{filepath.Join(dir, "tampered.list")},
		[]string{"--accept-unverified"}, []string{"tampered.list line 113", "TAI-UTC goes from 36 to 38"}})
	// Two files, each plausible alone, that disagree on the 2016 leap.
	moved := filepath.Join(dir, "leapseconds-moved")
	writeAtomic(t, moved, edit(t, read(t, tzdataFile), "Leap\t2016\tDec\t31", "Leap\t2016\tJun\t30"))
	cases = append(cases,
		tc{"disagreeing files", []string{leapFile, moved}, nil, []string{leapFile, moved, "disagree", "2016"}},
		tc{"missing", []string{filepath.Join(dir, "missing.list")}, nil, []string{"missing.list: no such file or directory"}})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"serve", "--listen", "127.0.0.1:0"}
			for _, f := range c.files {
				args = append(args, "--leap-file", f)
			}
			code, stdout, stderr := runFailing(t, nil, append(args, c.extra...)...)
			oneLineError(t, code, stdout, stderr, c.want...)
			if len(stderr) == 1 {
				t.Logf("%s", stderr[0])
			}
		})
	}
}

// TestExpiredTableServed: an expired table is served, never refused: the
// start-up summary says it expired, a warning names it, the metric
// leapsmear_leap_table_expired is 1. Expiry is judged on the served clock:
// replaying 2016 with the same table, it has not expired, and the replayed
// 2016 smear is served on the policy's curve (the table still holds that
// leap).
func TestExpiredTableServed(t *testing.T) {
	t.Parallel()
	expires := time.Date(2026, 6, 28, 0, 0, 0, 0, time.UTC)
	if !time.Now().After(expires) {
		t.Fatalf("this test needs the host clock after %v, when %s expired", expires, expiredFile)
	}
	now := startServer(t, "--leap-file", expiredFile, "--policy", "noon-to-noon", "--admin", "127.0.0.1:0")
	checkMetrics(t, "expired table", metrics(t, now), map[string]float64{
		"leapsmear_leap_table_expired": 1, "leapsmear_leap_table_verified": 1, "leapsmear_synchronized": 1})
	if now.summary["expired"] != true || now.summary["expires"] != "2026-06-28T00:00:00Z" || now.summary["table"] != expiredFile || now.summary["verified"] != true {
		t.Errorf("summary %v", now.summary)
	}
	warn := now.waitLog(t, " expired on 2026-06-28", 1)
	if len(warn) != 1 || warn[0]["level"] != "WARN" || warn[0]["table"] != expiredFile {
		t.Errorf("expiry warnings %v", warn)
	}
	for _, r := range records(t, now.logs.String(), "") {
		if r["level"] == "ERROR" {
			t.Errorf("logged an error: %v", r)
		}
	}

	s := startServer(t, "--leap-file", expiredFile, "--policy", "noon-to-noon", "--time-offset-to", "2016-12-31T18:00:00Z",
		"--admin", "127.0.0.1:0")
	checkMetrics(t, "expired table replaying 2016", metrics(t, s), map[string]float64{"leapsmear_leap_table_expired": 0})
	if s.summary["expired"] != false {
		t.Errorf("replaying 2016: summary %v", s.summary)
	}
	b := best(context.Background(), t, s.addr, 3)
	p := predict(t, "noon-to-noon", shiftOf(t, s.summary), b.at)
	t.Logf("expired table: measured %v, predicted %v (policy %v), error %v", b.resp.Offset, p.offset, p.policy, b.resp.Offset-p.offset)
	if b.resp.Header.Stratum != 2 || !ntptest.OffsetWithin(b.resp.Offset, p.offset, b.resp.Delay) || !within(p.policy, -250*time.Millisecond, time.Millisecond) {
		t.Errorf("stratum %d, offset %v; want 2, %v", b.resp.Header.Stratum, b.resp.Offset, p.offset)
	}
}

// TestBadReloadKeepsSmear: during a replayed 2016 smear, SIGHUP with each
// bad file in place of the leap file is logged as one error naming the file
// and the reason, counted (leapsmear_leap_table_reload_failures_total), and
// the server goes on serving the same smear: every
// query before and after lies on the policy's curve (within half its round
// trip and 1 ms), the
// served clock still 0.25 s behind UTC at 18:00. A forged file without the
// 2016 leap, had it been taken, would have ended the smear.
func TestBadReloadKeepsSmear(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "leap-seconds.list")
	writeAtomic(t, file, read(t, leapFile))
	s := startServer(t, "--leap-file", file, "--policy", "noon-to-noon", "--time-offset-to", "2016-12-31T18:00:00Z",
		"--admin", "127.0.0.1:0")
	shift := shiftOf(t, s.summary)
	onCurve := func(when string) {
		t.Helper()
		b := best(context.Background(), t, s.addr, 3)
		p := predict(t, "noon-to-noon", shift, b.at)
		t.Logf("%s: measured %v, predicted %v (policy %v), error %v", when, b.resp.Offset, p.offset, p.policy, b.resp.Offset-p.offset)
		if !ntptest.OffsetWithin(b.resp.Offset, p.offset, b.resp.Delay) || !within(p.policy, -250*time.Millisecond, time.Millisecond) {
			t.Errorf("%s: measured %v, want %v (policy %v)", when, b.resp.Offset, p.offset, p.policy)
		}
	}
	onCurve("before")
	bad := badTables(t)
	for i, b := range bad {
		writeAtomic(t, file, b.data)
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		failed := s.waitLog(t, "reload failed", i+1)[i]
		msg, _ := failed["error"].(string)
		if failed["level"] != "ERROR" || failed["table"] != file || !strings.Contains(msg, file) || !strings.Contains(msg, b.want) {
			t.Errorf("%s: logged %v, want an error naming %s and saying %q", b.name, failed, file, b.want)
		}
		onCurve("after a SIGHUP with a " + b.name + " file")
	}
	var errs int
	for _, r := range records(t, s.logs.String(), "") {
		if r["level"] == "ERROR" {
			errs++
		}
	}
	if errs != len(bad) || len(records(t, s.logs.String(), "leap table reloaded")) != 0 {
		t.Errorf("%d errors logged for %d bad reloads:\n%s", errs, len(bad), s.logs)
	}
	n := float64(len(bad))
	checkMetrics(t, "after the bad reloads", metrics(t, s), map[string]float64{
		"leapsmear_leap_table_reloads_total": n, "leapsmear_leap_table_reload_failures_total": n,
		"leapsmear_leap_table_last_reload_failed": 1, "leapsmear_leap_table_expired": 0})
	// The good file again: taken, and the same curve.
	writeAtomic(t, file, read(t, leapFile))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, "leap table reloaded", 1)
	onCurve("after a good reload")
	checkMetrics(t, "after the good reload", metrics(t, s), map[string]float64{
		"leapsmear_leap_table_reloads_total": n + 1, "leapsmear_leap_table_reload_failures_total": n,
		"leapsmear_leap_table_last_reload_failed": 0})
}

// TestFutureLeapInOneFile shows the limit of cross-checking: a file that
// announces a leap second after every other table's expiry (here a forged
// one for 2027-12-31, with a checksum to match) contradicts no table where
// both are in force, exactly as the next genuine Bulletin C would. It is
// taken (it expires last), and the difference is logged as a warning at
// start, never passed over in silence; the fleet's table fingerprint
// metric and alert are the defence against one server taking it alone.
func TestFutureLeapInOneFile(t *testing.T) {
	t.Parallel()
	current := read(t, leapFile)
	future := edit(t, current, "#@\t4023129600", "#@\t4054752000") // expires 2028-06-28
	future = edit(t, future, "3692217600      37      # 1 Jan 2017\n",
		"3692217600      37      # 1 Jan 2017\n4039286400      38      # 1 Jan 2028\n")
	file := filepath.Join(t.TempDir(), "future.list")
	writeAtomic(t, file, rehash(t, future))
	s := startServer(t, "--leap-file", leapFile, "--leap-file", file)
	if s.summary["table"] != file || s.summary["next_leap"] != "2027-12-31 23:59:60 +1 (TAI-UTC 38)" {
		t.Errorf("summary %v", s.summary)
	}
	// The differences are logged just after "serving": one for the leap,
	// one for the expiry.
	var said bool
	for _, r := range s.waitLog(t, "leap files differ", 2) {
		d, _ := r["difference"].(string)
		said = said || r["level"] == "WARN" && strings.Contains(d, "2027-12-31 23:59:60") && strings.Contains(d, file)
	}
	if !said {
		t.Errorf("the leap only %s announces was not warned about:\n%s", file, s.logs)
	}
}
