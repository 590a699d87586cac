package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/nts"
	"github.com/leapsmear/leapsmear/ntske"
)

// ntsTemplates does NTS-KE with the target's host and builds n authenticated
// requests, each with its own transmit timestamp and Unique Identifier, the
// cookies used in turn. First it checks with one more request that the
// server's reply verifies, so that the load measures authenticated replies.
func ntsTemplates(ctx context.Context, target netip.AddrPort, opts *client.NTSOptions, n int, timeout time.Duration) ([][]byte, error) {
	keAddr := ntske.JoinHostPort(target.Addr().String(), uint16(opts.Port))
	ke, err := ntske.Exchange(ctx, keAddr, ntske.ClientConfig{RootCAs: opts.RootCAs, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	if ke.NTPPort != 0 && ke.NTPPort != target.Port() {
		return nil, fmt.Errorf("NTS-KE at %s names NTP port %d, not the target's %d", keAddr, ke.NTPPort, target.Port())
	}
	sess, err := nts.NewSession(ke.Keys, nil)
	if err != nil {
		return nil, err
	}
	build := func() ([]byte, []byte, error) {
		var rnd [8 + nts.MinUniqueIDLen + nts.NonceLen]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, nil, err
		}
		buf := make([]byte, 1024)
		h := ntp.Header{Version: ntp.Version4, Mode: ntp.ModeClient, Poll: 6, Precision: -20,
			Transmit: ntp.Timestamp(binary.BigEndian.Uint64(rnd[:8]) | 1)}
		_ = h.Encode(buf)
		uid := rnd[8 : 8+nts.MinUniqueIDLen]
		sess.AddCookie(ke.Cookies[len(buf)%len(ke.Cookies)])
		m, err := sess.Request(buf, uid, rnd[8+nts.MinUniqueIDLen:], 0)
		return buf[:m:m], append([]byte(nil), uid...), err
	}
	// The probe: one exchange whose reply must verify.
	probe, uid, err := build()
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(probe); err != nil {
		return nil, err
	}
	reply := make([]byte, 2048)
	k, err := conn.Read(reply)
	if err != nil {
		return nil, fmt.Errorf("NTS probe: %w", err)
	}
	if err := sess.CheckReply(reply[:k], uid); err != nil {
		return nil, fmt.Errorf("NTS probe: the reply does not verify: %w", err)
	}
	out := make([][]byte, 0, n)
	for i := range n {
		sess.AddCookie(ke.Cookies[i%len(ke.Cookies)])
		t, _, err := build()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
