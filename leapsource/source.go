// Package leapsource reads what the places other than the leap table
// announce about leap seconds: the host kernel (adjtimex, read-only), upstream
// NTP servers (their leap indicator, through package client), chronyd (its
// tracking report, through its command socket) and ptp4l (its time
// properties data set, through its management socket). Each source is one small
// type implementing Source; Check reads them all and compares them with the
// table through package leapcheck, which is pure.
package leapsource

import (
	"context"
	"sync"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
)

// Source is a place, other than the leap table, that announces leap seconds.
// Implementations are safe for concurrent use.
type Source interface {
	// Name identifies the source in reports, logs and metrics: "kernel",
	// "ntp 127.0.0.1:123", "chrony /run/chrony/chronyd.sock".
	Name() string
	// Read asks the source what it announces, reading its answer at the
	// instant at (the served clock's UTC: the replayed instant during a
	// replay or a rehearsal). A source that cannot be read returns an
	// observation whose Err says why; Read never fails otherwise.
	Read(ctx context.Context, at time.Time) leapcheck.Observation
}

// DefaultTimeout bounds the reading of one source in Check.
const DefaultTimeout = 5 * time.Second

// ReadAll reads every source at once, each for at most timeout (0 means
// DefaultTimeout), and returns their observations in the order given.
func ReadAll(ctx context.Context, sources []Source, at time.Time, timeout time.Duration) []leapcheck.Observation {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	out := make([]leapcheck.Observation, len(sources))
	var wg sync.WaitGroup
	for i, s := range sources {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			out[i] = s.Read(ctx, at)
		})
	}
	wg.Wait()
	return out
}

// Check reads the sources (see ReadAll) and compares what they announce
// with table t at the instant at (see leapcheck.Check).
func Check(ctx context.Context, t *leap.Table, at time.Time, sources []Source, timeout time.Duration, opt leapcheck.Options) leapcheck.Result {
	return leapcheck.Check(t, at, ReadAll(ctx, sources, at, timeout), opt)
}
