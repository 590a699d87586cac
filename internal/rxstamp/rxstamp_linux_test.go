package rxstamp

import (
	"net"
	"testing"
	"time"
)

// TestKernelStamps: a datagram on a socket with Enable carries a timestamp
// that Find reads, taken between the send and the read.
func TestKernelStamps(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skipf("no IPv4 loopback: %v", err)
	}
	defer conn.Close()
	if err := EnableConn(conn); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UnixNano()
	if _, err := conn.WriteToUDP([]byte("x"), conn.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 16), make([]byte, 128)
	_, oobn, _, _, err := conn.ReadMsgUDP(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixNano()
	rx, ok := Find(oob[:oobn])
	if !ok || rx < before || rx > after {
		t.Fatalf("timestamp %d (found %v), want between %d and %d", rx, ok, before, after)
	}
	if _, ok := Find(nil); ok {
		t.Error("a timestamp found in no control message")
	}
}
