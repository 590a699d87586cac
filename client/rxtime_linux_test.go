package client

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/internal/ntptest"
	"github.com/leapsmear/leapsmear/internal/rxstamp"
)

// timestampCmsg builds the control message the kernel sends with
// SO_TIMESTAMPNS for a datagram received at rx.
func timestampCmsg(rx time.Time) []byte {
	b := make([]byte, unix.CmsgSpace(16))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(16))
	data := b[unix.CmsgLen(0):]
	binary.NativeEndian.PutUint64(data[0:8], uint64(rx.Unix()))
	binary.NativeEndian.PutUint64(data[8:16], uint64(rx.Nanosecond()))
	return b
}

func TestRxAge(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 500, time.UTC)
	for _, c := range []struct {
		name string
		oob  []byte
		want time.Duration
	}{
		{"fresh", timestampCmsg(now.Add(-137 * time.Microsecond)), 137 * time.Microsecond},
		{"now", timestampCmsg(now), 0},
		{"in the future", timestampCmsg(now.Add(time.Millisecond)), 0},
		{"too old", timestampCmsg(now.Add(-rxstamp.MaxAge - time.Nanosecond)), 0},
		{"none", nil, 0},
		{"truncated", timestampCmsg(now.Add(-time.Millisecond))[:unix.CmsgLen(8)], 0},
	} {
		if got := rxAge(c.oob, now); got != c.want {
			t.Errorf("%s: age %v, want %v", c.name, got, c.want)
		}
	}
}

// TestKernelTimestamps: a reader that wakes late (here: a local clock whose
// first reading after the reply takes 30 ms) inflates the delay without
// kernel timestamps, and not with them: then the delay is at most the
// exchange's wall time less the 30 ms (1 ms for reading the clocks), and
// the offset within half of it.
func TestKernelTimestamps(t *testing.T) {
	f := newFake(t, "udp4", "127.0.0.1", replyWith(0, nil))
	for _, kernel := range []bool{false, true} {
		var calls atomic.Int32
		slow := func() time.Time {
			if calls.Add(1) == 2 { // the first reading after the reply
				time.Sleep(30 * time.Millisecond)
			}
			return time.Now()
		}
		c, err := Dial(context.Background(), f.addr, Options{Timeout: time.Second, LocalClock: slow, KernelTimestamps: kernel})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, err := c.Query(context.Background())
		took := time.Since(start)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case !kernel && resp.Delay < 30*time.Millisecond:
			t.Errorf("without kernel timestamps the late reader shows: delay %v, want 30ms or more", resp.Delay)
		case kernel && (resp.Delay < 0 || resp.Delay > took-30*time.Millisecond+time.Millisecond):
			t.Errorf("with kernel timestamps: delay %v in an exchange of %v, want the network's (without the 30ms)", resp.Delay, took)
		case kernel && !ntptest.OffsetWithin(resp.Offset, 0, resp.Delay):
			t.Errorf("with kernel timestamps: offset %v (delay %v), want about 0", resp.Offset, resp.Delay)
		case kernel && calls.Load() < 3:
			t.Errorf("the local clock was read %d times: the slow reading should have been taken again", calls.Load())
		}
	}
}
