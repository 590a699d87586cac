package loadgen_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/leapsmear/leapsmear/loadgen"
	"github.com/leapsmear/leapsmear/ntp"
)

// echoServer is the smallest NTP server: it copies each request's transmit
// timestamp into the origin of a mode 4 reply.
func echoServer() (*net.UDPConn, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n < ntp.HeaderLen {
				continue
			}
			copy(buf[24:32], buf[40:48]) // origin = client's transmit
			buf[0], buf[1] = 4<<3|4, 1   // version 4, mode 4; stratum 1
			binary.BigEndian.PutUint64(buf[40:48], uint64(ntp.TimestampFromTime(time.Now())))
			_, _ = conn.WriteToUDPAddrPort(buf[:ntp.HeaderLen], from)
		}
	}()
	return conn, nil
}

// Load a server on loopback with exactly 1000 requests, 2 sockets of 16
// requests in flight each.
func ExampleRun() {
	srv, err := echoServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Target:   srv.LocalAddr().(*net.UDPAddr).AddrPort(),
		Duration: 10 * time.Second, // an upper bound: the request count ends it first
		Requests: 1000,
		Workers:  2,
		Window:   16,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sent", res.Sent, "answered", res.Answered)
	fmt.Println("latency recorded for", res.Latency.Count())
	fmt.Println("p50 <= p99:", res.Latency.Quantile(0.5) <= res.Latency.Quantile(0.99))
	// Output:
	// sent 1000 answered 1000
	// latency recorded for 1000
	// p50 <= p99: true
}

// Only loopback targets are loaded unless remote ones are allowed.
func ExampleCheckTarget() {
	for _, t := range []string{"127.0.0.1:123", "[::1]:11123", "192.0.2.10:123"} {
		fmt.Println(t, loadgen.CheckTarget(netip.MustParseAddrPort(t), false) == nil)
	}
	// Output:
	// 127.0.0.1:123 true
	// [::1]:11123 true
	// 192.0.2.10:123 false
}

// A histogram of fixed buckets: recording allocates nothing, quantiles are
// within 3%.
func ExampleHistogram() {
	var h loadgen.Histogram
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * 10 * time.Microsecond)
	}
	fmt.Println(h.Count(), h.Quantile(0.5).Round(10*time.Microsecond), h.Quantile(0.99).Round(10*time.Microsecond))
	// Output:
	// 100 500µs 990µs
}
