package timescale

import (
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/leap"
)

// KernelTAI is the tai source: CLOCK_TAI, anchored to the monotonic clock
// like the system source so that Now makes no system call. It starts only
// when the kernel's TAI offset equals the table's TAI-UTC. A Linux kernel
// that applies a leap second changes its TAI offset in the same instant, so
// CLOCK_TAI runs on through it.
//
// The background check compares CLOCK_TAI with the anchor while the kernel's
// TAI offset matches the table: a difference of one second within LeapWindow
// of a table event is the host's leap handling (not followed), anything else
// beyond Tolerance a step, re-anchored on CLOCK_TAI. While the offset does not
// match (a time daemon changed it, or adjtimex cannot be read), CLOCK_TAI is
// not trusted and the host realtime is checked through the table exactly as
// the system source does.
type KernelTAI struct {
	core
	readTAI  func() (leap.TAI, error)
	lastTAI  int64 // CLOCK_TAI minus monotonic reading at the last check
	taiErr   bool  // the last CLOCK_TAI read failed
	mismatch bool  // the kernel's TAI offset disagreed with the table (logged)
	trusted  bool  // the last check compared CLOCK_TAI (not the realtime)
}

// NewKernelTAI starts a tai source, refusing when the kernel's TAI offset
// (adjtimex) is not the table's TAI-UTC now. cfg.Kind, TimeOffset and
// TimeOffsetTo are ignored (see New).
func NewKernelTAI(cfg Config) (*KernelTAI, error) {
	k := &KernelTAI{readTAI: cfg.ClockTAI}
	if err := k.init("tai", cfg); err != nil {
		return nil, err
	}
	if k.readTAI == nil {
		k.readTAI = ReadClockTAI
	}
	ks, err := k.readKernel()
	if err != nil {
		return nil, fmt.Errorf("tai clock source: reading the kernel's TAI offset: %w", err)
	}
	real, mono, x, err := k.sample()
	if err != nil {
		return nil, fmt.Errorf("tai clock source: %w", err)
	}
	t := cfg.Table
	if want := t.OffsetAtTAI(x); ks.TAIOffset != want {
		off := fmt.Sprintf("%d s behind", want-ks.TAIOffset)
		if ks.TAIOffset > want {
			off = fmt.Sprintf("%d s ahead of", ks.TAIOffset-want)
		}
		return nil, fmt.Errorf("tai clock source: the kernel's TAI offset is %d s but leap table %s says TAI-UTC is %d s now, so CLOCK_TAI runs %s TAI; "+
			"let the time daemon set it (chrony: leapsectz right/UTC; ntpd: leapfile) or use the system source",
			ks.TAIOffset, t.Source, want, off)
	}
	if d := int64(x) - int64(real) - int64(ks.TAIOffset)*leap.Second; abs(d) > k.tol {
		return nil, fmt.Errorf("tai clock source: CLOCK_TAI minus CLOCK_REALTIME is %v, not the kernel's TAI offset of %d s",
			time.Duration(int64(x)-int64(real)), ks.TAIOffset)
	}
	k.setAnchor(real, mono, x)
	k.lastTAI, k.lastRaw, k.trusted = int64(x)-int64(mono), int64(real)-int64(mono), true
	k.applyKernel(ks, nil)
	k.start(k.Check)
	return k, nil
}

// sample reads CLOCK_TAI between two readings of the clock and returns it
// with the midpoints of those.
func (k *KernelTAI) sample() (real Realtime, mono Monotonic, tai leap.TAI, err error) {
	r1, m1 := k.clock.Now()
	tai, err = k.readTAI()
	r2, m2 := k.clock.Now()
	return r1 + (r2-r1)/2, m1 + (m2-m1)/2, tai, err
}

// Check compares CLOCK_TAI (or, while the kernel's TAI offset disagrees with
// the table, the host realtime) with the anchor once, re-anchoring if the host
// clock was stepped, and refreshes the sync status and the kernel's TAI
// offset. The background checks call it; tests may call it directly.
func (k *KernelTAI) Check() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshKernel()
	real, mono, x, err := k.sample()
	if err != nil {
		if !k.taiErr {
			k.log.Warn("cannot read CLOCK_TAI; checking the host realtime instead", "source", k.name, "err", err)
		}
		k.taiErr = true
	} else {
		k.taiErr = false
	}
	t := k.table.Load()
	p := k.predict(mono)
	k.st.Checks++

	trusted := !k.taiErr && k.st.KernelErr == "" && k.st.Kernel.TAIOffset == t.OffsetAtTAI(p)
	if quiet := nearLeap(t, p, k.window, func(leap.Event) bool { return true }); !trusted != k.mismatch && !quiet {
		if !trusted {
			k.log.Warn("the kernel's TAI offset does not match the leap table; checking the host realtime instead of CLOCK_TAI",
				"source", k.name, "kernel", k.st.Kernel.TAIOffset, "table", t.OffsetAtTAI(p))
		} else {
			k.log.Info("the kernel's TAI offset matches the leap table again", "source", k.name)
		}
		k.mismatch = !trusted
	}

	if trusted != k.trusted {
		// Switching between CLOCK_TAI and the realtime: the jump of the
		// other reading since the last check is not known.
		k.lastTAI, k.lastRaw, k.trusted = int64(x)-int64(mono), int64(real)-int64(mono), trusted
	}
	if !trusted {
		k.st.Offset = time.Duration(int64(real) - int64(t.UnixFromTAI(p)))
		k.settle(real, mono, int64(real)-int64(mono), &k.lastRaw, p, k.realExplained(t, p, real),
			func() leap.TAI { return taiFromReal(t, real, p) })
		return
	}
	k.st.Offset = time.Duration(x - p)
	accepted := k.near(int64(x), int64(p)) || nearLeap(t, p, k.window, func(leap.Event) bool {
		return k.near(int64(x), int64(p)+leap.Second) || k.near(int64(x), int64(p)-leap.Second)
	})
	k.settle(real, mono, int64(x)-int64(mono), &k.lastTAI, p, accepted, func() leap.TAI { return x })
}
