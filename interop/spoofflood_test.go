package interop

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/testenv"
	"github.com/leapsmear/leapsmear/ntp"
)

// spoofSources is how many distinct source addresses the spoofed flood
// uses: more than the rate limiter's table of 65536 holds.
const spoofSources = 100_000

// floodRate is the forged requests per second of the spoofed flood.
const floodRate = 30_000

// TestSpoofedFloodManySources: a flood of requests from 100 000 distinct
// forged source addresses (127.1.0.0 upwards, sent through a raw socket), a
// third more than the rate limiter's table can hold, while a well-behaved
// client asks once a second from 127.0.0.1. The limiter keeps its memory
// (RSS stays within a few MiB), counts the sources it had to forget
// (leapsmear_rate_limit_evictions_total), and the well-behaved client, whose
// own entry the forged sources cannot target (the table is keyed with a
// secret and holds full addresses), is answered every time but where the
// kernel dropped its request at the full socket buffer (as likely as any
// datagram's drop).
func TestSpoofedFloodManySources(t *testing.T) {
	// Not parallel: a flood would disturb the timing of the other tests.
	testenv.Need(t, os.Geteuid() == 0, "a raw socket, to forge source addresses, needs root")
	s := startServer(t, "--rate-limit", "4", "--rate-burst", "8", "--kiss-interval", "1s", "--admin", "127.0.0.1:0")
	server := netip.MustParseAddrPort(s.addr)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	defer unix.Close(fd)
	rssBefore := rssKiB(t, s.cmd.Process.Pid)
	dropsBefore := socketDrops(t, server)

	// The flood: every source sends three requests, round-robin, paced at
	// floodRate (a flood the server keeps up with on two cores: what is
	// measured is the limiter, not the kernel's full buffers), for at most
	// 20 s.
	var pkt [20 + 8 + ntp.HeaderLen]byte
	pkt[0], pkt[8], pkt[9] = 0x45, 64, unix.IPPROTO_UDP // IPv4, TTL, UDP; the kernel fills length and checksum
	dst := server.Addr().As4()
	copy(pkt[16:20], dst[:])
	binary.BigEndian.PutUint16(pkt[22:24], server.Port())
	binary.BigEndian.PutUint16(pkt[24:26], 8+ntp.HeaderLen) // UDP length; checksum 0: none (IPv4)
	_ = (&ntp.Header{Version: 4, Mode: ntp.ModeClient, Transmit: 0x1234}).Encode(pkt[28:])
	to := &unix.SockaddrInet4{Addr: dst}
	floodDone := make(chan int, 1)
	deadline := time.Now().Add(20 * time.Second)
	go func() {
		sent, start := 0, time.Now()
		for round := 0; round < 3 && time.Now().Before(deadline); round++ {
			for i := 0; i < spoofSources && time.Now().Before(deadline); i++ {
				if sent%1000 == 0 {
					time.Sleep(time.Until(start.Add(time.Duration(sent) * time.Second / floodRate)))
				}
				src := 127<<24 | 1<<16 | uint32(i) // 127.1.0.0 + i
				binary.BigEndian.PutUint32(pkt[12:16], src)
				binary.BigEndian.PutUint16(pkt[20:22], uint16(1024+i%60000))
				if unix.Sendto(fd, pkt[:], 0, to) == nil {
					sent++
				}
			}
		}
		floodDone <- sent
	}()

	// The well-behaved client, once a second (within its rate of 4/s),
	// until the flood ends.
	asked, answered, rssDuring := 0, 0, 0
	c, err := client.Dial(context.Background(), s.addr, client.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sent int
	for done := false; !done; {
		select {
		case sent = <-floodDone:
			done = true
		case <-time.After(time.Second):
		}
		asked++
		if _, err := c.Query(context.Background()); err == nil {
			answered++
		} else {
			t.Logf("well-behaved query %d: %v", asked, err)
		}
		rssDuring = max(rssDuring, rssKiB(t, s.cmd.Process.Pid))
	}
	m := metrics(t, s)
	rssAfter := rssKiB(t, s.cmd.Process.Pid)
	// What the kernel dropped at the full receive buffer is lost before
	// the server sees it, the well-behaved client's requests as likely as
	// any: the client may lose that share of its requests, no more.
	drops := float64(socketDrops(t, server) - dropsBefore)
	received, evictions, inserted := m["leapsmear_requests_received_total"], m["leapsmear_rate_limit_evictions_total"], m["leapsmear_rate_limit_insertions_total"]
	t.Logf("flood: %d forged requests from %d sources sent, %v received by the server; limiter: %v insertions, %v evictions, %v of %v entries in use",
		sent, spoofSources, received, inserted, evictions, m["leapsmear_rate_limit_entries_in_use"], m["leapsmear_rate_limit_entries"])
	dropRate := drops / max(1, drops+received)
	t.Logf("well-behaved client: %d of %d answered; the kernel dropped %.1f%% of the datagrams; RSS before %d KiB, during %d KiB, after %d KiB",
		answered, asked, 100*dropRate, rssBefore, rssDuring, rssAfter)
	t.Logf("replies: %v, kisses: %v, dropped rate_limited: %v", m["leapsmear_replies_sent_total"], m["leapsmear_kod_sent_total"],
		m[`leapsmear_packets_dropped_total{reason="rate_limited"}`])

	if sent < spoofSources {
		t.Fatalf("only %d forged requests sent: the flood did not cover %d sources", sent, spoofSources)
	}
	// More sources than slots: the limiter had to forget some, and says so.
	if evictions == 0 {
		t.Errorf("no eviction counted after %d sources in a table of %v", spoofSources, m["leapsmear_rate_limit_entries"])
	}
	if lost := asked - answered; lost > lossBound(asked, dropRate) {
		t.Errorf("well-behaved client answered %d of %d during the flood; the kernel's drops (%.1f%%) explain at most %d lost",
			answered, asked, 100*dropRate, lossBound(asked, dropRate))
	}
	// The table is allocated at start: the flood must not grow the process
	// by more than its buffers' churn.
	if grown := rssDuring - rssBefore; grown > 16<<10 {
		t.Errorf("RSS grew by %d KiB during the flood", grown)
	}
}
