package timescale

import (
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

func TestShiftToReplays2016(t *testing.T) {
	tbl := realTable(t)
	now := mustTime(t, "2026-05-01T10:11:12.345Z")
	clk := NewManualClock(now)
	inner := manualSystem(t, clk, tbl, nil)
	target := mustTime(t, "2016-12-31T18:00:00Z")
	s := ShiftTo(inner, tbl, target)

	r := s.Now()
	if got := tbl.UnixFromTAI(r.TAI); got != leap.UTCFromTime(target) {
		t.Fatalf("served %s, want %s", fmtNs(got), target.Format(time.RFC3339))
	}
	if r.Real != Realtime(now.UnixNano()) {
		t.Errorf("Real %s, want the unshifted host time %s", fmtNs(r.Real), now.Format(time.RFC3339Nano))
	}
	if tbl.OffsetAtTAI(r.TAI) != 36 {
		t.Errorf("TAI-UTC at the replayed instant is %d, want 36", tbl.OffsetAtTAI(r.TAI))
	}
	// Six hours later the replayed leap second happens, on a continuous scale.
	clk.Advance(6*time.Hour - 2*time.Second)
	want := []string{
		"2016-12-31T23:59:58Z", "2016-12-31T23:59:59Z", "2016-12-31T23:59:60Z",
		"2017-01-01T00:00:00Z", "2017-01-01T00:00:01Z",
	}
	prev := s.Now()
	for i, w := range want {
		if i > 0 {
			clk.Advance(time.Second)
			inner.Check()
		}
		r := s.Now()
		if got := tbl.LabelFromTAI(r.TAI).String(); got != w {
			t.Errorf("second %d: served %s, want %s", i, got, w)
		}
		if i > 0 && r.TAI-prev.TAI != leap.TAI(leap.Second) {
			t.Errorf("second %d: TAI moved %v", i, time.Duration(r.TAI-prev.TAI))
		}
		prev = r
	}
	if st := s.Stats(); st.Source != "shifted(system)" || st.Steps != 0 || st.Shift != time.Duration(tbl.TAIFromTime(target)-tbl.TAIFromTime(now)) {
		t.Errorf("stats %+v", st)
	}
	if s.Name() != "shifted(system)" || !s.Synced() {
		t.Errorf("name %q synced %v", s.Name(), s.Synced())
	}
}

func TestShiftByDurationMatchesShiftTo(t *testing.T) {
	tbl := realTable(t)
	now := mustTime(t, "2026-05-01T10:11:12.345Z")
	inner := manualSystem(t, NewManualClock(now), tbl, nil)
	for _, target := range []string{"2016-12-31T18:00:00Z", "2015-06-30T23:59:00.5Z", "2026-05-01T10:11:12.345Z", "2030-01-01T00:00:00Z"} {
		at := mustTime(t, target)
		a, b := Shift(inner, tbl, at.Sub(now)).Now(), ShiftTo(inner, tbl, at).Now()
		if a != b || tbl.UnixFromTAI(a.TAI) != leap.UTCFromTime(at) {
			t.Errorf("%s: Shift %s, ShiftTo %s", target, tbl.LabelFromTAI(a.TAI), tbl.LabelFromTAI(b.TAI))
		}
	}
	if r := Shift(inner, tbl, 0).Now(); r != inner.Now() {
		t.Errorf("a zero shift changed the reading: %+v vs %+v", r, inner.Now())
	}
}

// A shifted source still maps kernel receive timestamps (unshifted host time).
func TestShiftedFromRealtime(t *testing.T) {
	tbl := realTable(t)
	now := mustTime(t, "2026-05-01T10:11:12Z")
	s := ShiftTo(manualSystem(t, NewManualClock(now), tbl, nil), tbl, mustTime(t, "2016-12-31T23:59:59.9Z"))
	r := s.Now()
	rx := Realtime(now.Add(-300 * time.Millisecond).UnixNano())
	if got := tbl.LabelFromTAI(r.FromRealtime(rx)).String(); got != "2016-12-31T23:59:59.6Z" {
		t.Errorf("receive timestamp 300ms before maps to %s", got)
	}
}
