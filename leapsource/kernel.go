package leapsource

import (
	"context"
	"time"

	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/timescale"
)

// Kernel is the host kernel as a source: the leap second that the host's
// time daemon has armed for the end of the current UTC day (adjtimex's
// STA_INS or STA_DEL status, TIME_INS or TIME_DEL state). It only reads;
// the kernel's status is never written.
type Kernel struct {
	read func() (timescale.KernelState, error)
}

// NewKernel returns the kernel source reading the host clock state with
// read; nil means timescale.ReadKernel (adjtimex, read-only). Tests inject
// a reader here, as timescale.Config.Kernel does for the clock sources.
func NewKernel(read func() (timescale.KernelState, error)) *Kernel {
	if read == nil {
		read = timescale.ReadKernel
	}
	return &Kernel{read: read}
}

// Name is "kernel".
func (k *Kernel) Name() string { return "kernel" }

// Read reads the kernel's armed leap, if any: a leap second at the end of
// the UTC day of at; and the kernel's TAI offset when a daemon has set it.
func (k *Kernel) Read(_ context.Context, at time.Time) leapcheck.Observation {
	o := leapcheck.Observation{Name: k.Name(), Kind: leapcheck.KindKernel, Group: leapcheck.HostGroup}
	st, err := k.read()
	if err != nil {
		o.Err = err
		return o
	}
	if s := st.Leap(); s != 0 {
		a := leapcheck.EndOfDay(at, s)
		o.Announces = &a
	}
	if st.TAIOffset != 0 {
		// The kernel's TAI offset is about the host's now; 0 means no
		// daemon has set it.
		off := st.TAIOffset
		o.TAIMinusUTC, o.OffsetAt = &off, time.Now()
	}
	return o
}
