// Package rxstamp is the one place where kernel receive timestamps
// (SO_TIMESTAMPNS: the host's CLOCK_REALTIME when a datagram arrived) are
// asked for and read, for the server's sockets, the client and the load
// generator alike, with one limit on how old a timestamp may be to be
// believed. Off Linux there are none: Enable fails with ErrUnsupported and
// nothing decodes, so callers fall back to reading the clock themselves.
package rxstamp

import (
	"errors"
	"time"
)

// MaxAge bounds how long before it is used a receive timestamp may have been
// taken to be believed: an older one means the host clock was stepped since,
// or the reader stalled beyond any use of the timestamp.
const MaxAge = 500 * time.Millisecond

// ErrUnsupported is returned by Enable where the system has no kernel
// receive timestamps.
var ErrUnsupported = errors.New("kernel receive timestamps (SO_TIMESTAMPNS) are not supported on this system")

// Age returns how long before now (both POSIX nanoseconds of the host's
// realtime clock) a datagram stamped rx arrived, and whether the timestamp
// is believable: not after now, and at most MaxAge old.
func Age(rx, now int64) (time.Duration, bool) {
	d := time.Duration(now - rx)
	return d, d >= 0 && d <= MaxAge
}
