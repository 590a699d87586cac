//go:build !linux

package rxstamp

import "syscall"

// Enable fails: this system has no kernel receive timestamps here.
func Enable(fd uintptr) error { return ErrUnsupported }

// EnableConn fails: this system has no kernel receive timestamps here.
func EnableConn(c syscall.Conn) error { return ErrUnsupported }

// Decode finds nothing: this system has no kernel receive timestamps here.
func Decode(level, typ int32, data []byte) (rx int64, ok bool) { return 0, false }

// Find finds nothing: this system has no kernel receive timestamps here.
func Find(oob []byte) (rx int64, ok bool) { return 0, false }
