package timescale

import (
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// System is the system source: CLOCK_REALTIME read through a CLOCK_MONOTONIC
// anchor. The anchor is taken from the host realtime mapped through the leap
// table; from then on the served instant advances with the monotonic clock
// alone, so no step of the host realtime reaches it. A background check
// compares the host realtime with true UTC at the anchored instant:
//   - equal (within Tolerance): nothing to do;
//   - within LeapWindow of a table event, equal to UTC as it reads without
//     that leap or with it (the host has not yet applied the leap, or has
//     applied it early): the host's own leap handling, not followed; a jump
//     of the host clock into that state is counted in Stats.KernelLeaps;
//   - anything else: the host clock was stepped (by a time daemon or an
//     operator); the source re-anchors on the host realtime, logs and counts.
type System struct {
	core
}

// NewSystem starts a system source. cfg.Kind, TimeOffset and TimeOffsetTo
// are ignored (see New).
func NewSystem(cfg Config) (*System, error) {
	s := &System{}
	if err := s.init("system", cfg); err != nil {
		return nil, err
	}
	k, kerr := s.readKernel()
	real, mono := s.clock.Now()
	// Inside an inserted second the realtime reading repeats; a kernel
	// that is inserting it says so (TIME_OOP) and the reading is 23:59:60.
	hint := cfg.Table.TAIFromUnix(leap.UTC(real))
	if kerr == nil && k.State == TimeOOP {
		hint += leap.TAI(leap.Second)
	}
	s.setAnchor(real, mono, taiFromReal(cfg.Table, real, hint))
	s.lastRaw = int64(real) - int64(mono)
	s.applyKernel(k, kerr)
	s.start(s.Check)
	return s, nil
}

// Check compares the host clock with the anchor once, re-anchoring if the
// host clock was stepped, and refreshes the sync status. The background
// checks call it; tests may call it directly.
func (s *System) Check() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshKernel()
	real, mono := s.clock.Now()
	t := s.table.Load()
	p := s.predict(mono)
	s.st.Checks++
	s.st.Offset = time.Duration(int64(real) - int64(t.UnixFromTAI(p)))
	s.settle(real, mono, int64(real)-int64(mono), &s.lastRaw, p, s.realExplained(t, p, real),
		func() leap.TAI { return taiFromReal(t, real, p) })
}
