package timescale

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/leap"
)

// Clock states returned by adjtimex (linux/timex.h).
const (
	TimeOK    = 0 // no leap second pending
	TimeIns   = 1 // a second will be inserted at the end of the UTC day
	TimeDel   = 2 // a second will be deleted at the end of the UTC day
	TimeOOP   = 3 // the inserted second is in progress
	TimeWait  = 4 // a leap second has just happened
	TimeError = 5 // the clock is not synchronised
)

// Status bits of adjtimex (linux/timex.h) that the sources look at.
const (
	StatusIns    = 0x0010 // STA_INS: insert a second at the end of the day
	StatusDel    = 0x0020 // STA_DEL: delete a second at the end of the day
	StatusUnsync = 0x0040 // STA_UNSYNC: the clock is not synchronised
)

// KernelState is the host clock state as adjtimex reports it.
type KernelState struct {
	// State is adjtimex's return value, TimeOK ... TimeError.
	State int
	// Status holds the STA_* bits.
	Status int32
	// TAIOffset is the kernel's TAI-UTC in seconds; 0 when no time daemon
	// has set it.
	TAIOffset int
	// MaxError and EstError are the kernel's maximum and estimated errors.
	MaxError, EstError time.Duration
}

// Synced reports whether the host clock is synchronised: the state is not
// TIME_ERROR and STA_UNSYNC is clear.
func (k KernelState) Synced() bool {
	return k.State != TimeError && k.Status&StatusUnsync == 0
}

// Leap returns the leap second the kernel will apply at the end of the UTC
// day: +1 (insert), -1 (delete) or 0.
func (k KernelState) Leap() int {
	switch {
	case k.Status&StatusIns != 0 || k.State == TimeIns:
		return 1
	case k.Status&StatusDel != 0 || k.State == TimeDel:
		return -1
	}
	return 0
}

// ReadKernel reads the host clock state with adjtimex. It only reads: the
// Timex it passes has Modes 0.
func ReadKernel() (KernelState, error) {
	var tx unix.Timex // Modes 0: read-only
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return KernelState{}, fmt.Errorf("adjtimex: %w", err)
	}
	return KernelState{
		State:     state,
		Status:    tx.Status,
		TAIOffset: int(tx.Tai),
		MaxError:  time.Duration(tx.Maxerror) * time.Microsecond,
		EstError:  time.Duration(tx.Esterror) * time.Microsecond,
	}, nil
}

// ReadClockTAI reads the host's CLOCK_TAI (a system call). It is TAI only
// as far as the host's time daemon set the kernel's TAI offset right.
func ReadClockTAI() (leap.TAI, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_TAI, &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime(CLOCK_TAI): %w", err)
	}
	return leap.TAI(ts.Nano()), nil
}
