package textfmt

import (
	"math"
	"testing"
	"time"
)

func TestSeconds(t *testing.T) {
	for _, c := range []struct {
		d      time.Duration
		signed bool
		want   string
	}{
		{0, false, "0.000000000"},
		{0, true, "+0.000000000"},
		{12345, false, "0.000012345"},
		{-time.Second - 1, true, "-1.000000001"},
		{time.Second, true, "+1.000000000"},
		{math.MinInt64, false, "-9223372036.854775808"},
		{math.MaxInt64, true, "+9223372036.854775807"},
	} {
		if got := Seconds(c.d, c.signed); got != c.want {
			t.Errorf("Seconds(%d, %v) = %q, want %q", int64(c.d), c.signed, got, c.want)
		}
	}
}

func TestTime(t *testing.T) {
	if got := Time(time.Time{}); got != "" {
		t.Errorf("zero time: %q", got)
	}
	at := time.Date(2016, 12, 31, 23, 59, 59, 5, time.FixedZone("X", 3600))
	if got, want := Time(at), "2016-12-31T22:59:59.000000005Z"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	back, err := time.Parse(time.RFC3339Nano, Time(at))
	if err != nil || !back.Equal(at) {
		t.Errorf("round trip: %v, %v", back, err)
	}
}
