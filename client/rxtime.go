package client

import (
	"encoding/binary"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// maxRxAge bounds the age of a kernel receive timestamp that is believed: an
// older one means the host clock was stepped since, or the reader stalled
// beyond any use of the exchange.
const maxRxAge = 500 * time.Millisecond

// enableRxTimestamps asks the kernel to stamp every datagram received on
// conn with CLOCK_REALTIME in nanoseconds (SO_TIMESTAMPNS).
func enableRxTimestamps(conn *net.UDPConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// kernelT4 reads the local clock and moves it back by the age of the
// datagram whose control messages are oob. The age is measured on the
// realtime clock read just before and just after the local clock, so that a
// pause between the two readings cannot skew it; a pair of readings too far
// apart is taken again, a few times at most.
func (c *Client) kernelT4(oob []byte) time.Time {
	var t4 time.Time
	for range 4 {
		before := time.Now()
		t4 = c.opt.LocalClock()
		after := time.Now()
		gap := after.Sub(before)
		if age := rxAge(oob, before.Add(gap/2)); age > 0 && gap < 20*time.Microsecond {
			return t4.Add(-age)
		}
	}
	return t4
}

// rxAge returns how long before now (read from the realtime clock) the
// datagram whose control messages are oob was received, or 0 when oob holds
// no timestamp or one that cannot be right (in the future, or older than
// maxRxAge).
func rxAge(oob []byte, now time.Time) time.Duration {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_TIMESTAMPNS || len(m.Data) < 16 {
			continue
		}
		sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
		nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
		age := now.Sub(time.Unix(sec, nsec))
		if age < 0 || age > maxRxAge {
			return 0
		}
		return age
	}
	return 0
}
