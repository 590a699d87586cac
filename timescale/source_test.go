package timescale

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

func TestKernelState(t *testing.T) {
	for _, tc := range []struct {
		k      KernelState
		synced bool
		leap   int
	}{
		{KernelState{State: TimeOK}, true, 0},
		{KernelState{State: TimeError}, false, 0},
		{KernelState{State: TimeOK, Status: StatusUnsync}, false, 0},
		{KernelState{State: TimeError, Status: StatusUnsync | 0x1}, false, 0},
		{KernelState{State: TimeIns, Status: StatusIns}, true, 1},
		{KernelState{State: TimeOK, Status: StatusIns}, true, 1},
		{KernelState{State: TimeDel, Status: StatusDel}, true, -1},
		{KernelState{State: TimeOOP}, true, 0},
		{KernelState{State: TimeWait}, true, 0},
	} {
		if tc.k.Synced() != tc.synced || tc.k.Leap() != tc.leap {
			t.Errorf("%+v: synced %v leap %d, want %v %d", tc.k, tc.k.Synced(), tc.k.Leap(), tc.synced, tc.leap)
		}
	}
}

func TestReadKernelOnThisHost(t *testing.T) {
	k, err := ReadKernel()
	if err != nil {
		t.Skipf("adjtimex cannot be read here: %v", err)
	}
	if k.State < TimeOK || k.State > TimeError {
		t.Errorf("state %d out of range", k.State)
	}
	if k.MaxError < 0 || k.EstError < 0 || k.TAIOffset < 0 {
		t.Errorf("implausible %+v", k)
	}
	t.Logf("host: %+v synced=%v", k, k.Synced())
}

func TestReadClockTAI(t *testing.T) {
	x, err := ReadClockTAI()
	if err != nil {
		t.Fatal(err)
	}
	k, kerr := ReadKernel()
	if kerr != nil {
		t.Skip(kerr)
	}
	d := int64(x) - time.Now().UnixNano() - int64(k.TAIOffset)*leap.Second
	if abs(d) > int64(time.Second) {
		t.Errorf("CLOCK_TAI - realtime - kernel offset = %v", time.Duration(d))
	}
}

func TestSyncStatus(t *testing.T) {
	tbl := realTable(t)
	clk := NewManualClock(mustTime(t, "2021-01-01T00:00:00Z"))
	kern := &fakeKernel{st: KernelState{State: TimeError, Status: StatusUnsync}}
	logs := &logBuf{}
	s, err := NewSystem(Config{Table: tbl, Clock: clk, Kernel: kern.read, Logger: logs.logger(), CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Synced() {
		t.Fatal("unsynchronised host reported synced")
	}
	// The state at start is the starter's to log, once it serves; changes
	// are the source's.
	if strings.Contains(logs.String(), "LI=3 and stratum 16") {
		t.Errorf("the state at start logged by the source:\n%s", logs)
	}
	kern.set(KernelState{State: TimeOK, MaxError: time.Millisecond, Status: StatusIns}, nil)
	s.Check()
	if !s.Synced() || !strings.Contains(logs.String(), "host clock synchronised") {
		t.Fatalf("synchronised host reported unsynced, or not logged:\n%s", logs)
	}
	kern.set(KernelState{State: TimeError, Status: StatusUnsync}, nil)
	s.Check()
	if s.Synced() || !strings.Contains(logs.String(), "LI=3 and stratum 16") {
		t.Errorf("loss of sync not logged:\n%s", logs)
	}
	kern.set(KernelState{State: TimeOK, MaxError: time.Millisecond, Status: StatusIns}, nil)
	s.Check()
	if st := s.Stats(); st.Kernel.MaxError != time.Millisecond || st.Kernel.Leap() != 1 || st.KernelErr != "" {
		t.Errorf("kernel state in stats: %+v", st)
	}
	kern.set(KernelState{}, errors.New("operation not permitted"))
	s.Check()
	if s.Synced() {
		t.Fatal("unreadable adjtimex reported synced")
	}
	if st := s.Stats(); !strings.Contains(st.KernelErr, "not permitted") {
		t.Errorf("KernelErr %q", st.KernelErr)
	}
	// Serving goes on meanwhile.
	if r := s.Now(); int64(tbl.UnixFromTAI(r.TAI)) != int64(r.Real) {
		t.Errorf("served time off")
	}
}

func TestAssumeSynced(t *testing.T) {
	tbl := realTable(t)
	kern := &fakeKernel{err: errors.New("EPERM")}
	s, err := New(Config{Table: tbl, Clock: NewManualClock(mustTime(t, "2021-01-01T00:00:00Z")), Kernel: kern.read,
		AssumeSynced: true, Logger: (&logBuf{}).logger(), CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Synced() {
		t.Fatal("AssumeSynced ignored")
	}
	kern.set(KernelState{State: TimeError, Status: StatusUnsync}, nil)
	s.(*System).Check()
	if !s.Synced() || s.Stats().Kernel.Synced() {
		t.Fatalf("synced %v, kernel %+v", s.Synced(), s.Stats().Kernel)
	}
}

func TestNew(t *testing.T) {
	tbl := realTable(t)
	now := mustTime(t, "2026-05-01T10:00:00Z")
	base := Config{Table: tbl, Clock: NewManualClock(now), Kernel: syncedKernel(37).read, Logger: (&logBuf{}).logger(), CheckInterval: -1}
	base.ClockTAI = func() (leap.TAI, error) { r, _ := base.Clock.Now(); return leap.TAI(int64(r) + 37*leap.Second), nil }
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		source string
		utc    time.Time
		err    string
	}{
		{"default", func(*Config) {}, "system", now, ""},
		{"system", func(c *Config) { c.Kind = "system" }, "system", now, ""},
		{"tai", func(c *Config) { c.Kind = "tai" }, "tai", now, ""},
		{"offset", func(c *Config) { c.TimeOffset = -time.Hour }, "shifted(system)", now.Add(-time.Hour), ""},
		{"offset-to", func(c *Config) { c.Kind = "tai"; c.TimeOffsetTo = mustTime(t, "2016-12-31T18:00:00Z") }, "shifted(tai)", mustTime(t, "2016-12-31T18:00:00Z"), ""},
		{"both", func(c *Config) { c.TimeOffset = time.Hour; c.TimeOffsetTo = now }, "", now, "not both"},
		{"unknown", func(c *Config) { c.Kind = "gps" }, "", now, "clock gps: want system or tai"},
		{"no table", func(c *Config) { c.Table = nil }, "", now, "no leap table"},
		{"tai refused", func(c *Config) { c.Kind = "tai"; c.Kernel = syncedKernel(0).read }, "", now, "offset is 0 s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.modify(&cfg)
			s, err := New(cfg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Name() != tc.source || s.Stats().Source != tc.source {
				t.Errorf("source %q, want %q", s.Name(), tc.source)
			}
			if got := tbl.UnixFromTAI(s.Now().TAI); got != leap.UTCFromTime(tc.utc) {
				t.Errorf("serves %s, want %s", fmtNs(got), tc.utc.Format(time.RFC3339))
			}
		})
	}
}

// Started while the kernel inserts the leap second (TIME_OOP), the repeated
// realtime reading is taken as 23:59:60.
func TestSystemStartsInsideInsertedSecond(t *testing.T) {
	tbl := realTable(t)
	clk := NewManualClock(mustTime(t, "2016-12-31T23:59:59.25Z"))
	for _, tc := range []struct {
		state int
		want  string
	}{{TimeOOP, "2016-12-31T23:59:60.25Z"}, {TimeIns, "2016-12-31T23:59:59.25Z"}} {
		s, err := NewSystem(Config{Table: tbl, Clock: clk, Kernel: (&fakeKernel{st: KernelState{State: tc.state}}).read,
			Logger: (&logBuf{}).logger(), CheckInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if got := tbl.LabelFromTAI(s.Now().TAI).String(); got != tc.want {
			t.Errorf("kernel state %d: anchored at %s, want %s", tc.state, got, tc.want)
		}
		s.Close()
	}
}

func TestHostClock(t *testing.T) {
	c := HostClock()
	r1, m1 := c.Now()
	time.Sleep(2 * time.Millisecond)
	r2, m2 := c.Now()
	if m2-m1 < Monotonic(2*time.Millisecond) || m2-m1 > Monotonic(time.Second) {
		t.Errorf("monotonic moved %v over a 2ms sleep", time.Duration(m2-m1))
	}
	if d := time.Now().UnixNano() - int64(r2); d < 0 || d > int64(time.Second) || r2 < r1 {
		t.Errorf("realtime readings %d, %d", r1, r2)
	}
}

// Background checks, Now, Stats, Synced and SetTable all at once (run with
// -race). Bounded: a fixed number of iterations per goroutine.
func TestConcurrentUse(t *testing.T) {
	tbl := realTable(t)
	alt := withEvent(t, date(2030, 1, 1), -1)
	clk := NewManualClock(mustTime(t, "2021-01-01T00:00:00Z"))
	s, err := New(Config{Table: tbl, Clock: clk, Kernel: syncedKernel(37).read, Logger: (&logBuf{}).logger(),
		CheckInterval: time.Millisecond, TimeOffset: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	inner := s.(*Shifted).inner.(*System)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := s.Now().TAI
			for i := range 5000 {
				switch g {
				case 0:
					clk.Advance(time.Millisecond)
				case 1:
					inner.Check()
				case 2:
					if i%2 == 0 {
						s.SetTable(alt)
					} else {
						s.SetTable(tbl)
					}
					_ = s.Stats()
				}
				r := s.Now()
				if r.TAI < prev {
					t.Errorf("served time went backwards by %v", time.Duration(prev-r.TAI))
					return
				}
				prev = r.TAI
				_ = s.Synced()
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if st := s.Stats(); st.Steps != 0 || st.Checks < 5000 {
		t.Errorf("stats %+v", st)
	}
}

func TestNowAllocatesNothing(t *testing.T) {
	tbl := realTable(t)
	sys, err := NewSystem(Config{Table: tbl, Logger: (&logBuf{}).logger(), AssumeSynced: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	var src Source = Shift(sys, tbl, time.Hour)
	var sink leap.TAI
	for name, f := range map[string]func(){
		"system":       func() { sink += sys.Now().TAI },
		"shifted":      func() { sink += src.Now().TAI },
		"synced":       func() { _ = src.Synced() },
		"FromRealtime": func() { r := sys.Now(); sink += r.FromRealtime(r.Real - 1000) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
	_ = sink
}

func BenchmarkSystemNow(b *testing.B) {
	sys, err := NewSystem(Config{Table: realTable(b), Logger: (&logBuf{}).logger(), AssumeSynced: true})
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	b.ReportAllocs()
	var sink leap.TAI
	for b.Loop() {
		sink += sys.Now().TAI
	}
	_ = sink
}

func BenchmarkShiftedNow(b *testing.B) {
	tbl := realTable(b)
	sys, err := NewSystem(Config{Table: tbl, Logger: (&logBuf{}).logger(), AssumeSynced: true})
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	var src Source = Shift(sys, tbl, time.Hour)
	b.ReportAllocs()
	var sink leap.TAI
	for b.Loop() {
		sink += src.Now().TAI
	}
	_ = sink
}

func BenchmarkTimeNow(b *testing.B) {
	var sink int64
	for b.Loop() {
		sink += time.Now().UnixNano()
	}
	_ = sink
}
