package daemon

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// logBuffer collects JSON log lines from concurrent writers.
type logBuffer struct{ testenv.Buffer }

// take returns the records logged since the last call and forgets them.
func (b *logBuffer) take(t *testing.T) []map[string]any {
	t.Helper()
	return testenv.Records(t, b.Take())
}

func messages(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["msg"].(string))
	}
	return out
}

// startManual starts a daemon on a free loopback port whose clock is a
// ManualClock at the given instant, with no background checks of its own or
// of the source, and the embedded leap table.
func startManual(t *testing.T, at time.Time, policy string) (*Daemon, *timescale.ManualClock, *logBuffer) {
	t.Helper()
	return startManualWith(t, at, policy, nil)
}

// startManualWith is startManual with the configuration edited first.
func startManualWith(t *testing.T, at time.Time, policy string, edit func(*Config)) (*Daemon, *timescale.ManualClock, *logBuffer) {
	t.Helper()
	p, err := smear.Parse(policy)
	if err != nil {
		t.Fatal(err)
	}
	clock := timescale.NewManualClock(at)
	logs := &logBuffer{}
	cfg := Config{
		Server: server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1},
		Policy: p,
		Source: timescale.Config{Clock: clock, CheckInterval: -1, AssumeSynced: true,
			Kernel: func() (timescale.KernelState, error) { return timescale.KernelState{}, nil }},
		Settings:      server.Settings{Stratum: 2},
		Logger:        slog.New(slog.NewJSONHandler(logs, nil)),
		CheckInterval: -1,
	}
	if edit != nil {
		edit(&cfg)
	}
	d, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d, clock, logs
}

func TestExpiryWarningsOncePerThreshold(t *testing.T) {
	expires := time.Date(2027, 6, 28, 0, 0, 0, 0, time.UTC) // the embedded table
	d, clock, logs := startManual(t, expires.Add(-40*24*time.Hour), "noon-to-noon")
	if got := messages(logs.take(t)); len(got) != 1 || got[0] != "serving" {
		t.Fatalf("at start 40 days before expiry: %q", got)
	}
	steps := []struct {
		to   time.Duration // before expiry
		want string        // message logged, "" for none
	}{
		{31 * 24 * time.Hour, ""},
		{30*24*time.Hour - time.Second, "leap table embedded leap-seconds.list expires on 2027-06-28T00:00:00Z, in 29 days: refresh it"},
		{29 * 24 * time.Hour, ""},
		{8 * 24 * time.Hour, ""},
		{7 * 24 * time.Hour, "leap table embedded leap-seconds.list expires on 2027-06-28T00:00:00Z, in 7 days: refresh it"},
		{2 * 24 * time.Hour, ""},
		{23 * time.Hour, "leap table embedded leap-seconds.list expires on 2027-06-28T00:00:00Z, in 0 days: refresh it"},
		{time.Second, ""},
		{0, "leap table embedded leap-seconds.list expired on 2027-06-28T00:00:00Z: it is still used, but leap seconds announced since may be missing; refresh it"},
		{-30 * 24 * time.Hour, ""},
	}
	now := expires.Add(-40 * 24 * time.Hour)
	for _, st := range steps {
		target := expires.Add(-st.to)
		clock.Advance(target.Sub(now))
		now = target
		d.Check()
		d.Check() // a second check at the same instant never repeats a warning
		recs := logs.take(t)
		got := messages(recs)
		if st.want == "" && len(got) != 0 || st.want != "" && (len(got) != 1 || got[0] != st.want) {
			t.Fatalf("%v before expiry: logged %q, want %q", st.to, got, st.want)
		}
		if st.want != "" {
			if recs[0]["level"] != "WARN" || recs[0]["table"] != "embedded leap-seconds.list" || recs[0]["expires"] != "2027-06-28T00:00:00Z" {
				t.Errorf("%v before expiry: %v", st.to, recs[0])
			}
		}
	}
}

func TestExpiryWarningAtStartIsTheMostUrgentOnly(t *testing.T) {
	expires := time.Date(2027, 6, 28, 0, 0, 0, 0, time.UTC)
	d, _, logs := startManual(t, expires.Add(-5*24*time.Hour), "noon-to-noon")
	recs := logs.take(t)
	if got := messages(recs); len(got) != 2 || got[1] != "leap table embedded leap-seconds.list expires on 2027-06-28T00:00:00Z, in 5 days: refresh it" {
		t.Fatalf("logged %q", got)
	}
	if recs[1]["expires_in"] != "120h0m0s" {
		t.Errorf("expires_in %v", recs[1]["expires_in"])
	}
	// A reload is a new table: it is warned about again, once.
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	got := messages(logs.take(t))
	if len(got) != 3 || got[0] != "reloading the leap table" || got[1] != "leap table reloaded" || got[2] != "leap table embedded leap-seconds.list expires on 2027-06-28T00:00:00Z, in 5 days: refresh it" {
		t.Fatalf("after reload: %q", got)
	}
	d.Check()
	if got := messages(logs.take(t)); len(got) != 0 {
		t.Fatalf("repeated: %q", got)
	}
}

// The 2016-12-31 leap smeared over 61 s from 30 s before midnight.
var leap2016 = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)

func TestWindowOpensAndCloses(t *testing.T) {
	d, clock, logs := startManual(t, leap2016.Add(-2*time.Minute), "linear:-30s:61s")
	logs.take(t)
	advance := func(dt time.Duration) []map[string]any {
		clock.Advance(dt)
		d.Check()
		return logs.take(t)
	}
	if got := advance(89 * time.Second); len(got) != 0 { // 23:59:29
		t.Fatalf("before the window: %v", got)
	}
	recs := advance(time.Second) // 23:59:30, the window's first instant
	if got := messages(recs); len(got) != 1 || got[0] != "leap window opened" {
		t.Fatalf("at the window start: %q", got)
	}
	r := recs[0]
	if r["leap"] != "2016-12-31 23:59:60 +1 (TAI-UTC 37)" || r["policy"] != "linear:-30s:61s" ||
		r["window_opens"] != "2016-12-31T23:59:30Z" || r["window_closes"] != "2017-01-01T00:00:30Z" ||
		r["utc"] != "2016-12-31T23:59:30Z" || r["offset_ns"] != json.Number("0") {
		t.Errorf("opened: %v", r)
	}
	if got := advance(31 * time.Second); len(got) != 0 { // 23:59:60
		t.Fatalf("inside the window: %v", got)
	}
	if got := advance(30*time.Second - 1); len(got) != 0 { // the window's last nanosecond
		t.Fatalf("at the window's end: %v", got)
	}
	recs = advance(1)
	if got := messages(recs); len(got) != 1 || got[0] != "leap window closed" || recs[0]["utc"] != "2017-01-01T00:00:30Z" {
		t.Fatalf("after the window: %v", recs)
	}
	if got := advance(time.Hour); len(got) != 0 {
		t.Fatalf("long after: %v", got)
	}
}

func TestWindowCrossedBetweenChecks(t *testing.T) {
	d, clock, logs := startManual(t, leap2016.Add(-2*time.Minute), "linear:-30s:61s")
	logs.take(t)
	clock.Advance(10 * time.Minute)
	d.Check()
	if got := messages(logs.take(t)); len(got) != 2 || got[0] != "leap window opened" || got[1] != "leap window closed" {
		t.Fatalf("skipped over the window: %q", got)
	}
}

func TestWindowStepAndStartInside(t *testing.T) {
	d, clock, logs := startManual(t, leap2016.Add(-2*time.Second), "step")
	logs.take(t)
	clock.Advance(3 * time.Second) // past the repeated second
	d.Check()
	recs := logs.take(t)
	if got := messages(recs); len(got) != 1 || got[0] != "leap second stepped" || recs[0]["policy"] != "step" {
		t.Fatalf("step: %v", recs)
	}

	_, _, logs = startManual(t, leap2016.Add(-10*time.Second), "linear:-30s:61s")
	recs = logs.take(t)
	if got := messages(recs); len(got) != 2 || got[1] != "leap window open: smear in progress" {
		t.Fatalf("started inside: %q", got)
	}
}

func TestStatusInsideTheLeapSecond(t *testing.T) {
	d, clock, _ := startManual(t, leap2016.Add(-time.Minute), "linear:-30s:61s")
	clock.Advance(60*time.Second + 500*time.Millisecond) // 23:59:60.5
	st := d.Status()
	if got := st.Label.String(); got != "2016-12-31T23:59:60.5Z" {
		t.Errorf("label %s", got)
	}
	// Half-way through the window the served time is midnight, and true UTC
	// (POSIX, repeating 23:59:59) is 23:59:59.5: half a second behind.
	if st.Offset != 500*time.Millisecond || st.Served.UnixNano() != leap2016.UnixNano() {
		t.Errorf("offset %v served %d", st.Offset, st.Served)
	}
	if want := -1e6 / 61; st.RatePPM < want*1.0000001 || st.RatePPM > want*0.9999999 {
		t.Errorf("rate %v ppm, want %v", st.RatePPM, want)
	}
	if !st.HasNext || !st.InWindow || st.Next.Event.TAIUTC != 37 || st.Until(st.Next.End) != 30500*time.Millisecond {
		t.Errorf("next %+v in %v", st.Next, st.InWindow)
	}
	if !st.HasLast || st.Last.Event.TAIUTC != 36 {
		t.Errorf("last %+v", st.Last)
	}
	if st.UTC() != leap2016.Add(-500*time.Millisecond) || st.Expired() || !st.Synced || len(st.Listen) != 1 {
		t.Errorf("utc %v expired %v synced %v listen %v", st.UTC(), st.Expired(), st.Synced, st.Listen)
	}
}

func TestBackgroundChecksStopOnClose(t *testing.T) {
	logs := &logBuffer{}
	p, _ := smear.Parse("noon-to-noon")
	d, err := Start(context.Background(), Config{
		Server:        server.Config{Listen: []string{"127.0.0.1:0"}, SocketsPerAddress: 1},
		Policy:        p,
		Source:        timescale.Config{AssumeSynced: true},
		Logger:        slog.New(slog.NewJSONHandler(logs, nil)),
		CheckInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	d.Close()
	d.Close() // twice is harmless
	select {
	case <-d.watchDone:
	default:
		t.Fatal("check goroutine still running after Close")
	}
}
