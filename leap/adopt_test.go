package leap

import (
	"strings"
	"testing"
	"time"
)

func TestWithAdopted(t *testing.T) {
	base := Default()
	at := time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := base.WithAdopted(at, 1)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := a.Last()
	if !last.Adopted || last.TAIUTC != 38 || last.Delta != 1 || !last.Effective.Equal(at) || len(a.Events) != len(base.Events)+1 {
		t.Errorf("adopted event %+v", last)
	}
	if !a.Expires.Equal(base.Expires) || !a.Expired(at) || !a.Coverage().Equal(base.Expires) {
		t.Errorf("expiry %s, coverage %s", a.Expires, a.Coverage())
	}
	if got := last.String(); got != "2027-12-31 23:59:60 +1 (TAI-UTC 38, adopted)" {
		t.Errorf("String %q", got)
	}
	if !strings.Contains(a.Source, "adopted leap 2027-12-31") || len(base.Events) == len(a.Events) {
		t.Errorf("source %q; the original table changed", a.Source)
	}
	if a.OffsetAt(at) != 38 || a.OffsetAt(at.Add(-time.Second)) != 37 {
		t.Errorf("offsets %d %d", a.OffsetAt(at.Add(-time.Second)), a.OffsetAt(at))
	}
	neg, err := base.WithAdopted(at, -1)
	if err != nil || neg.Events[len(neg.Events)-1].TAIUTC != 36 {
		t.Errorf("negative: %v %+v", err, neg)
	}
	for _, c := range []struct {
		at    time.Time
		delta int
		want  string
	}{
		{time.Date(2016, 7, 1, 0, 0, 0, 0, time.UTC), 1, "not after the last leap"},
		{time.Date(2028, 1, 2, 0, 0, 0, 0, time.UTC), 1, "first day of a month"},
		{at, 2, "delta 2"},
	} {
		if _, err := base.WithAdopted(c.at, c.delta); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("WithAdopted(%s, %d): %v, want %q", c.at, c.delta, err, c.want)
		}
	}
}
