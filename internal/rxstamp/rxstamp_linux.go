package rxstamp

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Enable asks the kernel to stamp every datagram received on the socket
// with CLOCK_REALTIME in nanoseconds (SO_TIMESTAMPNS).
func Enable(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
}

// EnableConn is Enable for a connection such as *net.UDPConn.
func EnableConn(c syscall.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = Enable(fd) }); err != nil {
		return err
	}
	return serr
}

// Decode reads the timestamp from the data of one control message of the
// given level and type, as POSIX nanoseconds; ok is false for any other
// control message.
func Decode(level, typ int32, data []byte) (rx int64, ok bool) {
	if level != unix.SOL_SOCKET || typ != unix.SCM_TIMESTAMPNS || len(data) < int(unsafe.Sizeof(unix.Timespec{})) {
		return 0, false
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
	return ts.Nano(), true
}

// Find returns the receive timestamp among the control messages oob of one
// datagram, as POSIX nanoseconds; ok is false when there is none. It
// allocates (the server's sockets walk their control messages themselves,
// with Decode).
func Find(oob []byte) (rx int64, ok bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if rx, ok := Decode(m.Header.Level, m.Header.Type, m.Data); ok {
			return rx, true
		}
	}
	return 0, false
}
