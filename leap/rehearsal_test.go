package leap

import (
	"strings"
	"testing"
	"time"
)

func TestWithRehearsalInsertedAfterAll(t *testing.T) {
	d := Default()
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	r, err := d.WithRehearsal(at, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != "embedded leap-seconds.list + rehearsal leap 2026-11-23T12:00:00Z +1" || len(r.Events) != 28 || len(d.Events) != 27 {
		t.Fatalf("%s: %d events (original %d)", r.Source, len(r.Events), len(d.Events))
	}
	last, _ := r.Last()
	if !last.Synthetic || last.TAIUTC != 38 || !last.Effective.Equal(at) {
		t.Fatalf("last event %v", last)
	}
	if r.OffsetAt(at.Add(-time.Second)) != 37 || r.OffsetAt(at) != 38 || d.OffsetAt(at) != 37 {
		t.Error("offsets around the rehearsal leap")
	}
	// The inserted second repeats 11:59:59 (there is no 11:59:60), and labels
	// round-trip across it.
	x := TAI((at.Unix() + 37) * Second)
	if got := r.LabelFromTAI(x).String(); got != "2026-11-23T11:59:59Z (repeated)" {
		t.Errorf("label %s", got)
	}
	for dx := -2 * Second; dx <= 2*Second; dx += Second / 4 {
		l := r.LabelFromTAI(x + TAI(dx))
		if back, err := r.TAIFromLabel(l); err != nil || back != x+TAI(dx) {
			t.Errorf("%s -> %d, %v", l, back, err)
		}
	}
	if e, ok := r.Next(at.Add(-time.Hour)); !ok || !e.Synthetic {
		t.Errorf("Next = %v", e)
	}
}

func TestWithRehearsalNegativeInTheMiddle(t *testing.T) {
	d := Default()
	at := time.Date(2010, 3, 15, 8, 30, 0, 0, time.UTC)
	r, err := d.WithRehearsal(at, -1)
	if err != nil {
		t.Fatal(err)
	}
	// 2009-01-01 set 34; the rehearsal takes it to 33 and later events shift.
	want := []int{34, 33, 34, 35, 36}
	for i, e := range r.Events[23:] {
		if e.TAIUTC != want[i] {
			t.Errorf("event %v, want TAI-UTC %d", e, want[i])
		}
	}
	if !r.Events[24].Synthetic || r.Events[24].Delta != -1 || r.Events[25].Synthetic {
		t.Errorf("events %v", r.Events[23:])
	}
	// 08:29:59 is the deleted second.
	l, _ := ParseLabel("2010-03-15T08:29:59.5Z")
	if _, err := r.TAIFromLabel(l); err == nil || !strings.Contains(err.Error(), "was deleted") {
		t.Errorf("deleted second: %v", err)
	}
	if _, err := d.TAIFromLabel(l); err != nil {
		t.Errorf("the real table lost the second: %v", err)
	}
	x := TAI((at.Unix() + 33) * Second)
	if got := r.LabelFromTAI(x - 1).String(); got != "2010-03-15T08:29:58.999999999Z" {
		t.Errorf("label %s", got)
	}
	if got := r.LabelFromTAI(x).String(); got != "2010-03-15T08:30:00Z" {
		t.Errorf("label %s", got)
	}
}

func TestWithRehearsalRefuses(t *testing.T) {
	d := Default()
	jan17 := utc(2017, 1, 1)
	for _, c := range []struct {
		at    time.Time
		delta int
		want  string
	}{
		{jan17, 1, "within 24h0m0s of the leap 2016-12-31 23:59:60 +1"},
		{jan17.Add(-23 * time.Hour), -1, "within 24h0m0s"},
		{jan17.Add(23*time.Hour + 59*time.Minute), 1, "within 24h0m0s"},
		{jan17.Add(time.Hour).Add(time.Millisecond), 1, "whole second"},
		{jan17.Add(48 * time.Hour), 2, "delta 2"},
		{jan17.Add(48 * time.Hour), 0, "delta 0"},
		{utc(1971, 1, 1), 1, "outside"},
		{utc(2300, 1, 1), 1, "outside"},
	} {
		if _, err := d.WithRehearsal(c.at, c.delta); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %+d: %v, want %q", c.at, c.delta, err, c.want)
		}
	}
	if _, err := d.WithRehearsal(jan17.Add(24*time.Hour), 1); err != nil {
		t.Errorf("exactly 24 h after: %v", err)
	}
}
