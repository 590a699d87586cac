package leap

import (
	"strings"
	"testing"
	"time"
)

func TestParseRehearsal(t *testing.T) {
	now := mustTime(t, "2026-05-01T10:00:00.25Z")
	for _, tc := range []struct {
		in    string
		at    string
		delta int
	}{
		{"2026-11-23T15:00:00Z,+1", "2026-11-23T15:00:00Z", 1},
		{"2026-11-23T15:00:00Z,-1", "2026-11-23T15:00:00Z", -1},
		{"2026-11-23T16:00:00+01:00,1", "2026-11-23T15:00:00Z", 1},
		{" 2026-05-01T10:00:01Z , -1 ", "2026-05-01T10:00:01Z", -1},
		{"NOW+2m,+1", "2026-05-01T10:02:01Z", 1}, // rounded up to a whole second
		{"now+90s,-1", "2026-05-01T10:01:31Z", -1},
		{"Now+1h30m,+1", "2026-05-01T11:30:01Z", 1},
		{"now,+1", "2026-05-01T10:00:01Z", 1},
		{"now+750ms,+1", "2026-05-01T10:00:01Z", 1},
	} {
		r, err := ParseRehearsal(tc.in, now)
		at, delta := r.At, r.Delta
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := at.Format(time.RFC3339Nano); got != tc.at || delta != tc.delta || at.Location() != time.UTC {
			t.Errorf("%q: %s %+d (%v), want %s %+d", tc.in, got, delta, at.Location(), tc.at, tc.delta)
		}
	}
	// A whole-second now is not rounded.
	whole := mustTime(t, "2026-05-01T10:00:00Z")
	if r, err := ParseRehearsal("now+90s,+1", whole); err != nil || !r.At.Equal(whole.Add(90*time.Second)) {
		t.Errorf("now+90s from a whole second: %v %v", r.At, err)
	}
}

func TestParseRehearsalErrors(t *testing.T) {
	now := mustTime(t, "2026-05-01T10:00:00Z")
	for _, tc := range []struct{ in, want string }{
		{"", "want INSTANT,+1"},
		{"2026-11-23T15:00:00Z", "want INSTANT,+1"},
		{"2026-11-23T15:00:00Z,+2", `leap "+2" must be +1 or -1`},
		{"2026-11-23T15:00:00Z,0", "must be +1 or -1"},
		{"2026-11-23T15:00:00Z,", "must be +1 or -1"},
		{"2026-11-23T15:00:00Z,+1,x", "must be +1 or -1"},
		{"2026-11-23T15:00:00.5Z,+1", "whole second"},
		{"2026-11-23,+1", "RFC 3339"},
		{"2026-11-23T15:00:00,+1", "RFC 3339"},
		{"2026-11-23 15:00:00Z,+1", "RFC 3339"},
		{"2026-12-31T23:59:60Z,+1", "RFC 3339"},
		{"2020-01-01T00:00:00Z,+1", "is in the past"},
		{"now-5m,+1", "want now or now+DURATION"},
		{"now+-5m,+1", "must not be negative"},
		{"now+abc,+1", "now+DURATION"},
		{"now+,+1", "now+DURATION"},
		{"nowish,+1", "want now or now+DURATION"},
		{"tomorrow,+1", "RFC 3339"},
	} {
		r, err := ParseRehearsal(tc.in, now)
		at, delta := r.At, r.Delta
		if err == nil {
			t.Errorf("%q: accepted as %v %+d", tc.in, at, delta)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "rehearsal") {
			t.Errorf("%q: error %q does not say %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseRehearsal(f *testing.F) {
	for _, s := range []string{"2026-11-23T15:00:00Z,+1", "now+2m,-1", "NOW,1", "now+1h,+1", "2026-11-23T15:00:00.5Z,+1", ",", "now+9223372036s,+1"} {
		f.Add(s, int64(1777600000123456789))
	}
	f.Fuzz(func(t *testing.T, s string, nowNs int64) {
		now := time.Unix(0, nowNs)
		r, err := ParseRehearsal(s, now)
		if err != nil {
			return
		}
		at, delta := r.At, r.Delta
		if delta != 1 && delta != -1 {
			t.Fatalf("%q: delta %d", s, delta)
		}
		if at.Before(now) || at.Nanosecond() != 0 || at.Location() != time.UTC {
			t.Fatalf("%q at %v: %v", s, now, at)
		}
	})
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
