package mmsg

import (
	"net"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// Why this package exists rather than golang.org/x/net/ipv4's ReadBatch:
// both read a batch with one recvmmsg, but x/net unpacks the source address
// of every datagram into a new net.UDPAddr holding a new net.IP (its
// socket.parseInetAddr), two heap allocations per datagram, where a server
// wants none. Run with
//
//	go test -bench Recv -benchmem ./internal/mmsg/
//
// Each op is one datagram: sent in a batch of 64 with Send (the same for
// both), then read back, in batches, with Recv or with x/net's ReadBatch.
// allocs/op is therefore allocations per datagram received.

const benchBatch = 64

func benchSetup(b *testing.B) (srv *net.UDPConn, smc *Conn, out *batch) {
	srv, smc = listen(b, "udp4", net.IPv4(127, 0, 0, 1))
	_, cmc := listen(b, "udp4", net.IPv4(127, 0, 0, 1))
	out = newBatch(benchBatch)
	to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := range out.msgs {
		out.msgs[i].Hdr.Namelen = PutSockaddr(&out.names[i], to)
		out.iov[i].SetLen(48)
		out.msgs[i].Hdr.Control = nil
		out.msgs[i].Hdr.SetControllen(0)
	}
	if err := srv.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmc })
	send := func() {
		if failed, err := cmc.Send(out.msgs); err != nil || failed != 0 {
			b.Fatalf("send: %d failed, %v", failed, err)
		}
	}
	sendFn = send
	return srv, smc, out
}

var sendFn func()

func BenchmarkRecvMmsg(b *testing.B) {
	_, smc, _ := benchSetup(b)
	in := newBatch(benchBatch)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += benchBatch {
		sendFn()
		for got := 0; got < benchBatch; {
			ResetRecv(in.msgs, 128)
			n, err := smc.Recv(in.msgs)
			if err != nil {
				b.Fatal(err)
			}
			for j := range n {
				if !Source(&in.names[j], in.msgs[j].Hdr.Namelen).IsValid() {
					b.Fatal("no source")
				}
				_ = ParseControl(in.msgs[j].Control(in.oob[j][:]))
			}
			got += n
		}
	}
}

func BenchmarkRecvXNet(b *testing.B) {
	srv, _, _ := benchSetup(b)
	pc := ipv4.NewPacketConn(srv)
	ms := make([]ipv4.Message, benchBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 256)}
		ms[i].OOB = make([]byte, 128)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += benchBatch {
		sendFn()
		for got := 0; got < benchBatch; {
			n, err := pc.ReadBatch(ms, 0)
			if err != nil {
				b.Fatal(err)
			}
			for j := range n {
				if ms[j].Addr == nil {
					b.Fatal("no source")
				}
				_ = ParseControl(ms[j].OOB[:ms[j].NN])
			}
			got += n
		}
	}
}
