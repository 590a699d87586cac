package timescale

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/leap"
)

// realEvents are the leap seconds of the IERS table: the month each new
// TAI-UTC took effect.
var realEvents = []struct {
	y int
	m time.Month
}{
	{1972, 7}, {1973, 1}, {1974, 1}, {1975, 1}, {1976, 1}, {1977, 1}, {1978, 1}, {1979, 1}, {1980, 1},
	{1981, 7}, {1982, 7}, {1983, 7}, {1985, 7}, {1988, 1}, {1990, 1}, {1991, 1}, {1992, 7}, {1993, 7},
	{1994, 7}, {1996, 1}, {1997, 7}, {1999, 1}, {2006, 1}, {2009, 1}, {2012, 7}, {2015, 7}, {2017, 1},
}

// realTable is the real leap table (TAI-UTC 37 s since 2017).
func realTable(t testing.TB) *leap.Table {
	t.Helper()
	tbl := &leap.Table{Base: leap.BaseOffset, Source: "test-real", Expires: date(2027, 6, 28)}
	for i, e := range realEvents {
		tbl.Events = append(tbl.Events, leap.Event{Effective: date(e.y, e.m, 1), TAIUTC: leap.BaseOffset + 1 + i, Delta: 1})
	}
	if err := tbl.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := tbl.OffsetAt(date(2020, 1, 1)); got != 37 {
		t.Fatalf("test table: TAI-UTC in 2020 is %d, want 37", got)
	}
	return tbl
}

// withEvent returns the real table plus one synthetic leap at the start of
// the given month.
func withEvent(t testing.TB, at time.Time, delta int) *leap.Table {
	t.Helper()
	tbl := realTable(t)
	last, _ := tbl.Last()
	tbl.Events = append(tbl.Events, leap.Event{Effective: at, TAIUTC: last.TAIUTC + delta, Delta: delta})
	tbl.Expires = at.AddDate(1, 0, 0)
	tbl.Source = "test-synthetic"
	if err := tbl.Validate(); err != nil {
		t.Fatal(err)
	}
	return tbl
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// fakeKernel is an adjtimex stand-in whose answer tests change.
type fakeKernel struct {
	mu  sync.Mutex
	st  KernelState
	err error
}

func (k *fakeKernel) read() (KernelState, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st, k.err
}

func (k *fakeKernel) set(st KernelState, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.st, k.err = st, err
}

// syncedKernel reports a synchronised host with the given TAI offset.
func syncedKernel(tai int) *fakeKernel {
	return &fakeKernel{st: KernelState{State: TimeOK, TAIOffset: tai}}
}

// logBuf collects log output safely across goroutines.
type logBuf struct{ testenv.Buffer }

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// manualSystem starts a system source on a manual clock without background
// checks.
func manualSystem(t testing.TB, clk Clock, tbl *leap.Table, logs *logBuf) *System {
	t.Helper()
	if logs == nil {
		logs = &logBuf{}
	}
	s, err := NewSystem(Config{Table: tbl, Clock: clk, Kernel: syncedKernel(37).read, Logger: logs.logger(), CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
