package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// Leap files of the repository used here.
const (
	currentList = "../leap/data/leap-seconds.list"           // the embedded list, expires 2027-06-28
	olderList   = "../leap/testdata/leap-seconds-2026b.list" // expires 2026-12-28
	expiredList = "../leap/testdata/leap-seconds.list"       // expired 2026-06-28
	tzdataLeaps = "../leap/testdata/leapseconds"             // tzdata's leapseconds file
	rightUTC    = "../leap/testdata/right_UTC"               // a TZif file with leap seconds
	negativeTZ  = "../leap/testdata/leapseconds-negative"    // a synthetic table of deleted leaps
)

// logs collects JSON log records safely across goroutines.
type logs struct{ testenv.Buffer }

func (l *logs) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

// records returns the records whose message contains msg.
func (l *logs) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, rec := range testenv.Records(t, l.String()) {
		if strings.Contains(rec["msg"].(string), msg) {
			out = append(out, rec)
		}
	}
	return out
}

func synced() (timescale.KernelState, error) {
	return timescale.KernelState{State: timescale.TimeOK}, nil
}

func unsynced() (timescale.KernelState, error) {
	return timescale.KernelState{State: timescale.TimeError, Status: timescale.StatusUnsync}, nil
}

// config is a daemon configuration for tests: loopback, any port, a host
// clock reported synchronised.
func config(t *testing.T, files ...string) (Config, *logs) {
	t.Helper()
	l := &logs{}
	p, err := smear.Parse("noon-to-noon")
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Server:    server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1},
		Policy:    p,
		LeapFiles: files,
		Source:    timescale.Config{Kernel: synced},
		Settings:  server.Settings{Stratum: 2, RefID: 0x4c534d52},
		Logger:    l.logger(),
	}, l
}

// start starts and serves a daemon until the test ends.
func start(t *testing.T, cfg Config) *Daemon {
	t.Helper()
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()
	t.Cleanup(func() {
		d.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return d
}

func query(t *testing.T, d *Daemon) *client.Response {
	t.Helper()
	resp, err := client.Query(context.Background(), d.Addrs()[0], client.Options{Timeout: 2 * time.Second})
	if err != nil && !errors.Is(err, client.ErrUnsynchronised) {
		t.Fatalf("query: %v", err)
	}
	return resp
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(data))
}

// writeFile replaces the file at path atomically, as an operator's tooling
// should.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestStartLogsSummary: the start-up summary names the listen address, the
// policy, the table with its expiry, the replay shift and the next leap with
// its window; the precision comes from the clock's resolution.
func TestStartLogsSummary(t *testing.T) {
	cfg, l := config(t, currentList)
	cfg.Source.TimeOffsetTo = time.Date(2016, 12, 31, 6, 0, 0, 0, time.UTC)
	d := start(t, cfg)
	recs := l.records(t, "serving")
	if len(recs) != 1 {
		t.Fatalf("%d start-up summaries:\n%s", len(recs), l)
	}
	r := recs[0]
	want := map[string]any{
		"policy": "noon-to-noon", "source": "shifted(system)", "table": currentList, "expires": "2027-06-28T00:00:00Z",
		"expired": false, "verified": true, "leaps": json.Number("27"), "stratum": json.Number("2"), "refid": "76.83.77.82",
		"next_leap": "2016-12-31 23:59:60 +1 (TAI-UTC 37)", "window_opens": "2016-12-31T12:00:00Z",
		"window_closes": "2017-01-01T12:00:00Z", "precision": json.Number(strconv.Itoa(int(d.Config().Settings.Precision))),
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("summary %s = %v, want %v", k, r[k], v)
		}
	}
	if listen, _ := r["listen"].([]any); len(listen) != 1 || listen[0] != d.Addrs()[0] || strings.HasSuffix(d.Addrs()[0], ":0") {
		t.Errorf("summary listen %v, bound %v", r["listen"], d.Addrs())
	}
	// The shift is the source's, to the nanosecond, and the instant replayed
	// is 06:00 give or take the time Start took.
	if shift, _ := r["time_shift_tai"].(json.Number); shift.String() != strconv.FormatInt(int64(d.Source().Stats().Shift), 10) {
		t.Errorf("time_shift_tai %v, source shift %v", r["time_shift_tai"], d.Source().Stats().Shift)
	}
	if s, _ := r["replaying"].(string); !strings.HasPrefix(s, "2016-12-31T06:00:0") {
		t.Errorf("replaying %v", r["replaying"])
	}
	if p := d.Config().Settings.Precision; p > -10 || p < -30 {
		t.Errorf("precision %d", p)
	}
	resp := query(t, d)
	if resp.Header.Precision != d.Config().Settings.Precision || resp.Header.Stratum != 2 || resp.Header.Leap != ntp.LeapNone {
		t.Errorf("reply %+v", resp.Header)
	}
	// Served: 2016-12-31 06:00 UTC, before the smear.
	if got := resp.T3; got.Before(cfg.Source.TimeOffsetTo) || got.After(cfg.Source.TimeOffsetTo.Add(time.Minute)) {
		t.Errorf("served %v", got)
	}
	if d.Started().IsZero() || time.Since(d.Started()) > time.Minute {
		t.Errorf("started %v", d.Started())
	}
}

// TestReload replaces the leap file under a running daemon with good, then
// corrupt, tampered, disagreeing and missing files, then a good one again. A
// failed reload returns its error, is logged and counted, and the last good
// table and smear stay in use; the daemon answers throughout.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "leap-seconds.list")
	copyFile(t, olderList, file)
	cfg, l := config(t, file)
	d := start(t, cfg)
	if got := d.Table().Expires; !got.Equal(time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("initial table expires %v", got)
	}

	// A newer file: taken.
	copyFile(t, currentList, file)
	before := d.Smear()
	if err := d.Reload(); err != nil {
		t.Fatalf("good reload: %v", err)
	}
	good, goodSmear := d.Table(), d.Smear()
	if !good.Expires.Equal(time.Date(2027, 6, 28, 0, 0, 0, 0, time.UTC)) || goodSmear == before || goodSmear.Table() != good {
		t.Fatalf("after a good reload: table expires %v, smear replaced %v", good.Expires, goodSmear != before)
	}
	if tried, failed, last := d.ReloadStats(); tried != 1 || failed != 0 || last != "" {
		t.Errorf("reload stats %d %d %q", tried, failed, last)
	}
	if len(l.records(t, "leap table reloaded")) != 1 {
		t.Errorf("good reload not logged:\n%s", l)
	}

	current := readFile(t, currentList)
	tampered := strings.Replace(current, "#@\t4023129600", "#@\t4054665600", 1) // a year more, checksum unchanged
	if tampered == current {
		t.Fatal("could not tamper with the expiry line")
	}
	disagreeing := strings.Replace(readFile(t, tzdataLeaps), "Leap\t2016\tDec\t31\t23:59:60\t+\tS",
		"Leap\t2016\tJun\t30\t23:59:60\t+\tS", 1)
	if disagreeing == readFile(t, tzdataLeaps) {
		t.Fatal("could not move the 2016 leap")
	}
	bad := []struct {
		name, data, want string
	}{
		{"corrupt", "this is not a leap second file\n\x00\x01", file},
		{"truncated", current[:len(current)/2], file},
		{"tampered", tampered, "checksum"},
		{"disagreeing", disagreeing, "disagree"},
		{"negative leaps", readFile(t, negativeTZ), "disagree"},
		{"missing", "", "no such file"},
	}
	for i, c := range bad {
		if c.name == "missing" {
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
		} else {
			writeFile(t, file, c.data)
		}
		err := d.Reload()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: reload error %v, want one naming %s and saying %q", c.name, err, file, c.want)
			continue
		}
		if d.Table() != good || d.Smear() != goodSmear {
			t.Errorf("%s: the table or smear changed after a failed reload", c.name)
		}
		tried, failed, last := d.ReloadStats()
		if tried != uint64(i+2) || failed != uint64(i+1) || last != err.Error() {
			t.Errorf("%s: reload stats %d %d %q", c.name, tried, failed, last)
		}
		errs := l.records(t, "reload failed")
		if len(errs) != i+1 || errs[i]["level"] != "ERROR" || errs[i]["error"] != err.Error() || errs[i]["table"] != file {
			t.Errorf("%s: logged %v", c.name, errs)
		}
		if resp := query(t, d); resp.Header.Stratum != 2 {
			t.Errorf("%s: after the failed reload the daemon answers %+v", c.name, resp.Header)
		}
	}

	// Good again: another format, taken, and the error cleared.
	copyFile(t, rightUTC, file)
	if err := d.Reload(); err != nil {
		t.Fatalf("reload of a TZif file: %v", err)
	}
	if d.Table() == good || d.Table().Source != file || d.Smear() == goodSmear {
		t.Errorf("the TZif table was not taken: %s", d.Table().Source)
	}
	if tried, failed, last := d.ReloadStats(); tried != uint64(len(bad)+2) || failed != uint64(len(bad)) || last != "" {
		t.Errorf("final reload stats %d %d %q", tried, failed, last)
	}
}

// TestReloadKeepsRehearsal: a reload rebuilds the smear with the rehearsal
// leap, which never enters the table itself.
func TestReloadKeepsRehearsal(t *testing.T) {
	cfg, _ := config(t, currentList)
	at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	cfg.Rehearse = &leap.Rehearsal{At: at, Delta: -1}
	d := start(t, cfg)
	check := func(when string) {
		t.Helper()
		if n, m := len(d.Smear().Windows()), len(d.Table().Events); n != m+1 {
			t.Errorf("%s: smear has %d windows for a table of %d leaps and one rehearsal", when, n, m)
		}
		last := d.Smear().Windows()[len(d.Smear().Windows())-1].Event
		if !last.Effective.Equal(at) || last.Delta != -1 {
			t.Errorf("%s: last smeared leap %v", when, last)
		}
	}
	check("start")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	check("reload")
}

// TestExpiredTable: an expired table is served, with a warning at start
// and at every reload.
func TestExpiredTable(t *testing.T) {
	cfg, l := config(t, expiredList)
	d := start(t, cfg)
	if !d.Table().Expired(time.Now()) || !d.Table().Expires.Equal(time.Date(2026, 6, 28, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("table expires %v", d.Table().Expires)
	}
	warn := l.records(t, " expired on 2026-06-28")
	if len(warn) != 1 || warn[0]["level"] != "WARN" || warn[0]["expires"] != "2026-06-28T00:00:00Z" || warn[0]["table"] != expiredList {
		t.Errorf("expiry warnings %v\n%s", warn, l)
	}
	if s := l.records(t, "serving"); len(s) != 1 || s[0]["expired"] != true {
		t.Errorf("summary %v", s)
	}
	resp := query(t, d)
	if h := resp.Header; h.Stratum != 2 || h.Leap != ntp.LeapNone || !ntptest.OffsetWithin(resp.Offset, 0, resp.Delay) {
		t.Errorf("an expired table is not served: %+v offset %v, delay %v", h, resp.Offset, resp.Delay)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := len(l.records(t, " expired on 2026-06-28")); n != 2 {
		t.Errorf("%d expiry warnings after a reload, want 2", n)
	}
}

// TestUnsynchronisedHost: while adjtimex says the host clock is not
// synchronised, replies carry LI=3 and stratum 16 (and a warning is
// logged), unless synchronisation is assumed.
func TestUnsynchronisedHost(t *testing.T) {
	for _, c := range []struct {
		name    string
		kernel  func() (timescale.KernelState, error)
		assume  bool
		li      uint8
		stratum uint8
		warned  bool
	}{
		{"synced", synced, false, ntp.LeapNone, 2, false},
		{"unsynced", unsynced, false, ntp.LeapUnsynchronised, ntp.StratumUnsynchronised, true},
		{"unsynced but assumed", unsynced, true, ntp.LeapNone, 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, l := config(t)
			cfg.Source.Kernel, cfg.Source.AssumeSynced = c.kernel, c.assume
			d := start(t, cfg)
			h := query(t, d).Header
			if h.Leap != c.li || h.Stratum != c.stratum {
				t.Errorf("LI %d stratum %d, want %d %d", h.Leap, h.Stratum, c.li, c.stratum)
			}
			if warned := len(l.records(t, "assume-synced serves anyway")) > 0; warned != c.warned {
				t.Errorf("warned %v, want %v:\n%s", warned, c.warned, l)
			}
			// The start-up summary says the stratum clients get; the sync
			// status is logged once, after it.
			recs := testenv.Records(t, l.String())
			served, said := -1, 0
			for i, rec := range recs {
				switch msg := rec["msg"].(string); {
				case msg == "serving":
					served = i
					if rec["stratum"] != json.Number(strconv.Itoa(int(c.stratum))) {
						t.Errorf("serving stratum=%v, clients get %d", rec["stratum"], c.stratum)
					}
				case strings.HasPrefix(msg, "host clock not synchronised"):
					said++
					if served < 0 {
						t.Errorf("%q logged before the start-up summary", msg)
					}
				}
			}
			want := 1 // a warning, or that it is assumed
			if c.name == "synced" {
				want = 0
			}
			if said != want {
				t.Errorf("sync status logged %d times, want %d:\n%s", said, want, l)
			}
		})
	}
}

// TestUnsynchronisedFailedStart: a start that fails (a busy port) logs
// nothing of the host clock's sync status: that belongs to a server that
// serves, and an operator reading the log must see the failure, not a
// warning unrelated to it.
func TestUnsynchronisedFailedStart(t *testing.T) {
	cfg, _ := config(t)
	d := start(t, cfg)
	cfg, l := config(t)
	cfg.Source.Kernel = unsynced
	cfg.Server.Listen = d.Addrs()
	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("busy port: %v", err)
	}
	if s := l.String(); strings.Contains(s, "not synchronised") {
		t.Errorf("a failed start logged the sync status:\n%s", s)
	}
}

// TestStartErrors: a bad leap file or a busy port stops Start with an error
// naming the cause.
func TestStartErrors(t *testing.T) {
	cfg, _ := config(t, filepath.Join(t.TempDir(), "missing.list"))
	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "missing.list") {
		t.Errorf("missing file: %v", err)
	}
	cfg, _ = config(t)
	d := start(t, cfg)
	cfg.Server.Listen = d.Addrs()
	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("busy port: %v", err)
	}
	// A port held by another program: the cause is kept for callers.
	holder, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	cfg, _ = config(t)
	cfg.Server.Listen = []string{holder.LocalAddr().String()}
	if _, err := Start(context.Background(), cfg); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("port held by another program: errors.Is(%v, EADDRINUSE) is false", err)
	}
	// An unknown account: the option error keeps os/user's error.
	cfg, _ = config(t)
	cfg.User = "no-such-user-leapsmear"
	var unknown user.UnknownUserError
	if _, err := Start(context.Background(), cfg); !errors.As(err, &unknown) || err.Error() != "user no-such-user-leapsmear: no such account on this host; create one (useradd --system no-such-user-leapsmear) or name another" {
		t.Errorf("unknown user: %v (%T), want an option error wrapping user.UnknownUserError", err, err)
	}
	cfg, _ = config(t)
	cfg.Rehearse = &leap.Rehearsal{At: time.Date(2016, 12, 31, 12, 0, 0, 0, time.UTC), Delta: 1}
	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "rehearsal") {
		t.Errorf("rehearsal at a leap of the table: %v", err)
	}
}

// TestClockPrecision: the precision announced is what reading the clock
// takes, not the 1 ns clock_getres claims: it is never finer than the
// quickest pair of consecutive readings this test sees.
func TestClockPrecision(t *testing.T) {
	p := ClockPrecision()
	if p > -10 || p < -30 {
		t.Errorf("precision %d", p)
	}
	quickest := time.Duration(math.MaxInt64)
	for range 1000 {
		a := time.Now()
		if d := time.Since(a); d > 0 {
			quickest = min(quickest, d)
		}
	}
	// A precision of 2^p s claims timestamps good to 2^p; reading the clock
	// twice took at least quickest here (a factor of 4 allows for a daemon
	// that measured on a quieter moment than this test).
	if d := ntp.PrecisionDuration(p); d < quickest/4 || d > time.Millisecond {
		t.Errorf("precision %d is %v, but reading the clock takes at least %v", p, d, quickest)
	}
}

// TestWarnsWritableLeapFile: a leap file that every user can write is served
// with a warning naming it.
func TestWarnsWritableLeapFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "leap-seconds.list")
	data, err := os.ReadFile("../leap/data/leap-seconds.list")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	cfg, l := config(t, file)
	start(t, cfg)
	if w := l.records(t, "leap file not protected: "+file+" is writable by every user"); len(w) != 1 || w[0]["level"] != "WARN" {
		t.Errorf("warnings %v\n%s", w, l)
	}
}

// TestRootDispersionFollowsTheKernel: replies announce the configured floor
// plus the host clock's maximum error from adjtimex while synchronised, and
// the floor alone while synchronisation is only assumed.
func TestRootDispersionFollowsTheKernel(t *testing.T) {
	maxErr := 5 * time.Millisecond
	for _, c := range []struct {
		name   string
		kernel func() (timescale.KernelState, error)
		assume bool
		want   time.Duration
	}{
		{"synced", func() (timescale.KernelState, error) {
			return timescale.KernelState{State: timescale.TimeOK, MaxError: maxErr}, nil
		}, false, time.Millisecond + maxErr},
		{"assumed", func() (timescale.KernelState, error) {
			return timescale.KernelState{State: timescale.TimeError, Status: timescale.StatusUnsync, MaxError: 16 * time.Second}, nil
		}, true, time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, _ := config(t)
			cfg.Settings.RootDispersion = time.Millisecond
			cfg.Source.Kernel, cfg.Source.AssumeSynced = c.kernel, c.assume
			d := start(t, cfg)
			got := query(t, d).Header.RootDispersion.Duration()
			if (got - c.want).Abs() > 20*time.Microsecond { // the short format's 15.3 us steps
				t.Errorf("root dispersion %v, want %v", got, c.want)
			}
		})
	}
}

// TestRehearsalInsideItsWindow: a rehearsal two minutes ahead with a 24 h
// smear starts half-way into its window: refused, naming the jump clients
// would see, unless the jump is allowed.
func TestRehearsalInsideItsWindow(t *testing.T) {
	cfg, _ := config(t)
	r := leap.Rehearsal{At: time.Now().Add(2 * time.Minute).Truncate(time.Second), Delta: 1}
	cfg.Rehearse = &r
	_, err := Start(context.Background(), cfg)
	if oe, ok := option.As(err); !ok || oe.Name != "rehearse" || !strings.Contains(err.Error(), "clients would see the served time jump by -49") ||
		!strings.HasSuffix(oe.Flag(), "allow the jump (--allow-jump)") || !strings.HasSuffix(oe.Error(), "allow the jump (allow-jump)") {
		t.Fatalf("start inside the window: %v", err)
	}
	cfg.AllowJump = true
	d := start(t, cfg)
	if off := d.Status().Offset; off > -490*time.Millisecond || off < -500*time.Millisecond {
		t.Errorf("allowed: offset %v, want about -0.5 s", off)
	}
	// A rehearsal whose window has not opened starts without a jump.
	cfg, _ = config(t)
	cfg.Policy, _ = smear.Parse("linear:-60s:120s")
	cfg.Rehearse = &r
	start(t, cfg)
}

// TestReplayFromWindowOpening: a replay that starts exactly where its
// rehearsal's window opens (--time-offset-to) starts without a jump, however
// many nanoseconds of smear the served clock has run by the time the check
// reads it (a 61 s window smears 16 ns per microsecond); one second later it
// is refused.
func TestReplayFromWindowOpening(t *testing.T) {
	for _, c := range []struct {
		from string
		ok   bool
	}{{"2027-12-31T23:59:30Z", true}, {"2027-12-31T23:59:31Z", false}} {
		cfg, _ := config(t)
		cfg.Policy, _ = smear.Parse("linear:-30s:61s")
		cfg.Rehearse = &leap.Rehearsal{At: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), Delta: 1}
		from, err := time.Parse(time.RFC3339, c.from)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Source.TimeOffsetTo = from
		if c.ok {
			start(t, cfg)
			continue
		}
		_, err = Start(context.Background(), cfg)
		if oe, ok := option.As(err); !ok || oe.Name != "rehearse" || !strings.Contains(err.Error(), "clients would see the served time jump by -16.39") {
			t.Errorf("replay from %s: %v", c.from, err)
		}
	}
}
