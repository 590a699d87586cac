// Package client queries NTP servers: one client-server exchange (RFC 5905)
// measuring the offset of the local clock and the round-trip delay, with the
// server's header decoded by package ntp.
//
// A Client keeps one connected UDP socket for one server, so that a watcher
// can query the same server again and again; Query is the one-shot form.
package client

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/leapsmear/leapsmear/internal/netaddr"
	"github.com/leapsmear/leapsmear/internal/rxstamp"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/nts"
	"github.com/leapsmear/leapsmear/ntske"
)

// Defaults of Options.
const (
	DefaultTimeout = 5 * time.Second
	DefaultPort    = 123
)

// Options tune an exchange. The zero value asks NTPv4 on port 123 and waits
// up to five seconds.
type Options struct {
	// Timeout bounds one exchange, from sending the request to accepting a
	// reply; 0 means DefaultTimeout. A context deadline that comes first wins.
	Timeout time.Duration
	// Version is the NTP version of the request: 3 or 4, or 5 for NTPv5
	// (draft-ietf-ntp-ntpv5-09, which ntp.V5Draft names); 0 means 4.
	Version uint8
	// Timescale is the NTPv5 timescale asked for (version 5 only); the
	// reply's Response.Timescale says which one the server served.
	Timescale ntp.Timescale
	// SmearInfo makes NTPv4 requests (without NTS) ask what the server
	// declares about leap smearing: leapsmear's ExtSmearInfo field (a
	// leapsmear server answers with its policy and next window, others
	// ignore the field) and the NTPv5 upgrade magic in the reference
	// timestamp (a server that speaks NTPv5 echoes it). See
	// Response.Smear.
	SmearInfo bool
	// Port is the server's port when the address names none; 0 means 123.
	Port int
	// LocalClock reads the local clock for the send (T1) and receive (T4)
	// times; nil means time.Now. Tests inject a clock here.
	LocalClock func() time.Time
	// KernelTimestamps takes T4 from the kernel's receive timestamp of the
	// reply (SO_TIMESTAMPNS) instead of reading LocalClock when the reply is
	// read: LocalClock is read then and moved back by the age of the packet.
	// This removes from the delay and the offset the time it takes to wake
	// the reader, tens to hundreds of microseconds on a busy host, which
	// matters when comparing servers to the microsecond (leapsmear watch).
	// Without a usable timestamp (none came, or the host clock was stepped
	// in between) T4 is read as without it.
	KernelTimestamps bool
	// LocalAddr, when valid, is the address requests are sent from (a host
	// with several addresses; tests on loopback use 127.0.0.2 and so on).
	LocalAddr netip.Addr
	// NTS, when set, authenticates every exchange with Network Time Security
	// (RFC 8915): Dial does NTS-KE first, and replies that do not verify are
	// ignored like spoofed ones.
	NTS *NTSOptions
}

// NTSOptions configure NTS.
type NTSOptions struct {
	// Port is the NTS-KE port of the named server; 0 means 4460.
	Port int
	// RootCAs verifies the NTS-KE server's certificate; nil means the
	// system's roots.
	RootCAs *x509.CertPool
}

// Errors of an exchange. Errors returned by Query wrap one of them (or a
// *KissError) with the server's address, so test them with errors.Is and
// errors.As.
var (
	// ErrNoAnswer: no acceptable reply came before the timeout, or the
	// server's host refused the datagram (nothing listens on the port).
	ErrNoAnswer = errors.New("no answer")
	// ErrOriginMismatch: a reply came whose origin timestamp is not the
	// request's transmit timestamp (a stale, spoofed or broken reply). Such
	// replies are ignored while waiting; this is reported, together with
	// ErrNoAnswer, when nothing better came.
	ErrOriginMismatch = errors.New("reply's origin timestamp does not match the request")
	// ErrMalformed: a reply that is not a well-formed NTP server reply (too
	// short, bad trailer, wrong mode or version, zero timestamps).
	ErrMalformed = errors.New("malformed reply")
	// ErrUnsynchronised: the server answered but says its clock is not
	// synchronised (leap indicator 3 or stratum 16 and above). Query returns
	// the response along with this error.
	ErrUnsynchronised = errors.New("server is not synchronised")
	// ErrNotAuthenticated: with NTS, a reply that does not verify (forged,
	// replayed, or unauthenticated). Such replies are ignored while waiting.
	ErrNotAuthenticated = errors.New("reply not authenticated by NTS")
)

// KissError reports a Kiss-o'-Death reply (stratum 0): the server refuses to
// give time and says why in a four-letter code. Query returns the response
// along with it.
type KissError struct {
	Code  string // "RATE", "DENY", "RSTR", "INIT", ...; "V5" for NTPv5, which has no codes
	RefID uint32 // the reference ID that carried the code
}

func (e *KissError) Error() string {
	if e.RefID == 0 && e.Code == "V5" {
		return "NTPv5 reply of stratum 0: the server refuses to answer, or asks to poll less often"
	}
	msg := "kiss-o'-death " + e.Code
	switch e.RefID {
	case ntp.KissRATE:
		msg += " (rate exceeded: poll less often)"
	case ntp.KissDENY, ntp.KissRSTR:
		msg += " (access denied)"
	case ntp.KissINIT:
		msg += " (server not yet synchronised)"
	case ntp.KissNTSN:
		msg += " (NTS cookie not accepted: a new key exchange is needed)"
	}
	return msg
}

// Response is the outcome of one exchange.
type Response struct {
	Server string         // the address as given to Dial or Query
	Addr   netip.AddrPort // the address that answered
	Header ntp.Header     // the server's reply, decoded
	// The four timestamps of RFC 5905: T1 the local send time (the real one,
	// not the random value sent as transmit timestamp), T2 the server's
	// receive time, T3 the server's transmit time, T4 the local receive time.
	// T2 and T3 are read in the NTP era nearest to T1.
	T1, T2, T3, T4 time.Time
	// Offset of the server's clock from the local clock, ((T2-T1)+(T3-T4))/2:
	// positive when the local clock is behind the server.
	Offset time.Duration
	// Delay is the round-trip delay, (T4-T1)-(T3-T2).
	Delay time.Duration
	// Authenticated says the reply was verified with NTS.
	Authenticated bool
	// V5 is the NTPv5 header of a version 5 reply (nil otherwise); Header
	// then holds its fields that NTPv4 has too (root delay and dispersion
	// rounded to the short format, no reference ID or timestamp, the
	// origin as sent). Timescale is the timescale served: TimescaleUTC for
	// versions 3 and 4.
	V5        *ntp.HeaderV5
	Timescale ntp.Timescale
	// SmearInfo is what a leapsmear server declared about its smear, when
	// asked (Options.SmearInfo); nil when the server said nothing.
	SmearInfo *ntp.SmearInfo
	// SpeaksV5 says the server echoed the NTPv5 upgrade magic (asked with
	// Options.SmearInfo): it answers NTPv5 requests too.
	SpeaksV5 bool
}

// RefID renders the server's reference ID for people (see ntp.FormatRefID).
func (r *Response) RefID() string { return ntp.FormatRefID(r.Header.ReferenceID, r.Header.Stratum) }

// RootDistance estimates the maximum error of the server's time as seen here
// (RFC 5905's root distance without the dispersion growth): half the root
// delay and of the measured delay, plus the root dispersion.
func (r *Response) RootDistance() time.Duration {
	return (r.Header.RootDelay.Duration()+r.Delay)/2 + r.Header.RootDispersion.Duration()
}

// Client queries one server through one connected UDP socket. Its methods may
// be called from several goroutines; exchanges run one at a time.
type Client struct {
	server string
	addr   netip.AddrPort
	opt    Options

	mu   sync.Mutex
	conn *net.UDPConn
	buf  [4096]byte
	oob  [128]byte

	// NTS: the key exchange to redo when cookies run out or a NAK came,
	// and the association it gave.
	keAddr  string
	session *nts.Session
}

// Dial resolves addr ("host", "host:port", "[v6]:port" or a bare IPv6
// address) and opens a socket connected to it. The context bounds the name
// resolution.
func Dial(ctx context.Context, addr string, opt Options) (*Client, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	switch opt.Version {
	case 0:
		opt.Version = ntp.Version4
	case 3, 4, 5:
	default:
		return nil, fmt.Errorf("%s: NTP version %d not supported (3, 4 or 5)", addr, opt.Version)
	}
	if opt.Version == ntp.Version5 && opt.NTS != nil {
		return nil, fmt.Errorf("%s: NTS with NTPv5 is not supported", addr)
	}
	if opt.Port == 0 {
		opt.Port = DefaultPort
	}
	if opt.LocalClock == nil {
		opt.LocalClock = time.Now
	}
	var ke *ntske.Result
	var keAddr string
	if opt.NTS != nil {
		var err error
		if keAddr, err = keAddress(addr, opt.NTS.Port); err != nil {
			return nil, err
		}
		if ke, err = keyExchange(ctx, keAddr, opt); err != nil {
			return nil, err
		}
		// The NTPv4 Server and Port records, when sent, say where to send
		// the requests; else the server as named.
		switch {
		case ke.NTPServer != "" || ke.NTPPort != 0:
			host, port := ke.NTPServer, ke.NTPPort
			if host == "" {
				host = hostOf(addr)
			}
			if port == 0 {
				port = DefaultPort
			}
			addr = ntske.JoinHostPort(host, port)
		}
	}
	ap, err := netaddr.Resolve(ctx, addr, opt.Port)
	if err != nil {
		return nil, err
	}
	var laddr *net.UDPAddr
	if opt.LocalAddr.IsValid() {
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(opt.LocalAddr, 0))
	}
	conn, err := net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if opt.KernelTimestamps {
		// Where the system has none, t4 is read from the clock instead.
		if err := rxstamp.EnableConn(conn); err != nil && !errors.Is(err, rxstamp.ErrUnsupported) {
			conn.Close()
			return nil, fmt.Errorf("%s: receive timestamps: %w", addr, err)
		}
	}
	c := &Client{server: addr, addr: ap, opt: opt, conn: conn, keAddr: keAddr}
	if ke != nil {
		if c.session, err = nts.NewSession(ke.Keys, ke.Cookies); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s: %w", addr, err)
		}
	}
	return c, nil
}

// keAddress is the NTS-KE address of a server named as Dial takes it.
func keAddress(addr string, port int) (string, error) {
	if port == 0 {
		port = nts.DefaultKEPort
	}
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("%s: bad NTS-KE port %d", addr, port)
	}
	return ntske.JoinHostPort(hostOf(addr), uint16(port)), nil
}

// hostOf returns the host of "host", "host:port", "[v6]:port" or "v6".
func hostOf(addr string) string {
	host, _, _ := netaddr.Split(addr)
	return host
}

func keyExchange(ctx context.Context, keAddr string, opt Options) (*ntske.Result, error) {
	return ntske.Exchange(ctx, keAddr, ntske.ClientConfig{RootCAs: opt.NTS.RootCAs, Timeout: opt.Timeout})
}

// Addr returns the resolved address of the server.
func (c *Client) Addr() netip.AddrPort { return c.addr }

// Close closes the socket.
func (c *Client) Close() error { return c.conn.Close() }

// Query does one exchange with the server named by addr and closes its
// socket: see Dial and Client.Query.
func Query(ctx context.Context, addr string, opt Options) (*Response, error) {
	c, err := Dial(ctx, addr, opt)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Query(ctx)
}

// Query sends one request and waits for its reply. Replies from another
// address, of another mode, malformed or not echoing the request's random
// transmit timestamp are ignored while waiting. It returns the response with
// a nil error, or with a *KissError or ErrUnsynchronised when the server
// answered but gives no usable time; other errors come with no response.
func (c *Client) Query(ctx context.Context) (*Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	resp, err := c.exchange(ctx)
	if err != nil {
		err = fmt.Errorf("%s: %w", c.server, err)
	}
	return resp, err
}

func (c *Client) exchange(ctx context.Context) (*Response, error) {
	start := time.Now()
	deadline := start.Add(c.opt.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	wait := deadline.Sub(start).Round(time.Millisecond)
	if err := c.conn.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	// Cancelling the context ends the wait at once.
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("random transmit timestamp: %w", err)
	}
	req := ntp.Header{
		Version:  c.opt.Version,
		Mode:     ntp.ModeClient,
		Transmit: ntp.Timestamp(binary.BigEndian.Uint64(nonce[:]) | 1), // never zero
	}
	var out [1024]byte
	size := ntp.HeaderLen
	if c.opt.Version == ntp.Version5 {
		// The client cookie plays the part of the random transmit
		// timestamp; the request's timestamps stay zero.
		h5 := ntp.HeaderV5{Mode: ntp.ModeClient, Timescale: c.opt.Timescale, ClientCookie: uint64(req.Transmit)}
		if err := h5.Encode(out[:]); err != nil {
			return nil, err
		}
		size += ntp.PutExtensionV5(out[size:], ntp.ExtV5DraftID, []byte(ntp.V5Draft))
	} else {
		if c.opt.SmearInfo && c.opt.NTS == nil && c.opt.Version == ntp.Version4 {
			req.Reference = ntp.UpgradeMagic
		}
		if err := req.Encode(out[:]); err != nil {
			return nil, err
		}
		if req.Reference == ntp.UpgradeMagic {
			f := out[size : size+ntp.SmearInfoRequestLen]
			binary.BigEndian.PutUint16(f, ntp.ExtSmearInfo)
			binary.BigEndian.PutUint16(f[2:], ntp.SmearInfoRequestLen)
			size += ntp.SmearInfoRequestLen
		}
	}
	var uid []byte
	if c.opt.NTS != nil {
		if c.session == nil || c.session.Cookies() == 0 {
			ke, err := keyExchange(ctx, c.keAddr, c.opt)
			if err != nil {
				return nil, err
			}
			if c.session, err = nts.NewSession(ke.Keys, ke.Cookies); err != nil {
				return nil, err
			}
		}
		var rnd [nts.MinUniqueIDLen + nts.NonceLen]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, fmt.Errorf("random NTS identifier: %w", err)
		}
		uid = rnd[:nts.MinUniqueIDLen]
		n, err := c.session.Request(out[:], uid, rnd[nts.MinUniqueIDLen:], c.session.Placeholders())
		if err != nil {
			return nil, fmt.Errorf("NTS request: %w", err)
		}
		size = n
	}
	t1 := c.opt.LocalClock()
	if _, err := c.conn.Write(out[:size]); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}

	ignored, lastIgnored := 0, error(nil)
	for {
		n, oobn, _, from, err := c.conn.ReadMsgUDPAddrPort(c.buf[:], c.oob[:])
		var t4 time.Time
		if c.opt.KernelTimestamps && err == nil {
			t4 = c.kernelT4(c.oob[:oobn])
		} else {
			t4 = c.opt.LocalClock()
		}
		if err != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil, ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) { // the timeout or the context's deadline
				if lastIgnored != nil {
					return nil, fmt.Errorf("%w within %s: ignored %d reply(s), the last because: %w",
						ErrNoAnswer, wait, ignored, lastIgnored)
				}
				return nil, fmt.Errorf("%w within %s", ErrNoAnswer, wait)
			}
			if errors.Is(err, syscall.ECONNREFUSED) { // ICMP port unreachable
				return nil, fmt.Errorf("%w: %w (nothing listens on that port)", ErrNoAnswer, syscall.ECONNREFUSED)
			}
			return nil, fmt.Errorf("%w: %w", ErrNoAnswer, err)
		}
		resp, err := c.accept(c.buf[:n], from, req.Transmit, t1, t4, uid)
		if resp == nil {
			ignored++
			lastIgnored = err
			continue
		}
		return resp, err
	}
}

// accept checks one datagram against the request. It returns a nil response
// for a datagram to ignore (the error says why), or the response and the
// verdict on it.
func (c *Client) accept(b []byte, from netip.AddrPort, sent ntp.Timestamp, t1, t4 time.Time, uid []byte) (*Response, error) {
	if from.Addr().Unmap() != c.addr.Addr() || from.Port() != c.addr.Port() {
		return nil, fmt.Errorf("reply from %s, not the server", from)
	}
	var h ntp.Header
	if err := h.Decode(b); err != nil {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if c.opt.Version == ntp.Version5 {
		return c.acceptV5(b, sent, t1, t4)
	}
	if _, _, err := ntp.Trailer(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if h.Mode != ntp.ModeServer {
		return nil, fmt.Errorf("%w: mode %d, not a server reply", ErrMalformed, h.Mode)
	}
	if h.Version < 1 || h.Version > 4 {
		return nil, fmt.Errorf("%w: version %d", ErrMalformed, h.Version)
	}
	if h.Origin != sent {
		return nil, ErrOriginMismatch
	}
	authenticated := false
	if uid != nil {
		switch err := c.session.CheckReply(b, uid); {
		case errors.Is(err, nts.ErrNAK):
			// The server no longer takes our cookies: key exchange again
			// before the next request.
			c.session = nil
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrNotAuthenticated, err)
		default:
			authenticated = true
		}
	}
	// From here on the reply is the server's answer to this request.
	r := &Response{Server: c.server, Addr: c.addr, Header: h, T1: t1, T4: t4, Authenticated: authenticated}
	if c.opt.SmearInfo && h.Version == ntp.Version4 && uid == nil {
		r.SpeaksV5 = h.Reference == ntp.UpgradeMagic
		if at, n, ok := ntp.FindExtension(b, ntp.ExtSmearInfo); ok {
			if info, err := ntp.ParseSmearInfo(b[at+4 : at+n]); err == nil {
				r.SmearInfo = &info
			}
		}
	}
	if h.IsKiss() {
		return r, &KissError{Code: ntp.KissCode(h.ReferenceID), RefID: h.ReferenceID}
	}
	if h.Receive == 0 || h.Transmit == 0 {
		return r, fmt.Errorf("%w: zero receive or transmit timestamp", ErrMalformed)
	}
	r.T2 = h.Receive.Time(t1)
	r.T3 = h.Transmit.Time(t1)
	r.Offset = (r.T2.Sub(r.T1) + r.T3.Sub(r.T4)) / 2
	r.Delay = r.T4.Sub(r.T1) - r.T3.Sub(r.T2)
	if !h.Synchronised() {
		return r, fmt.Errorf("%w (leap indicator %d, stratum %d)", ErrUnsynchronised, h.Leap, h.Stratum)
	}
	return r, nil
}

// acceptV5 checks one datagram against an NTPv5 request, as accept does
// for NTPv4: a reply of version 5 and mode 4 echoing the client cookie
// (sent), with well-formed extension fields naming this draft.
func (c *Client) acceptV5(b []byte, sent ntp.Timestamp, t1, t4 time.Time) (*Response, error) {
	var h5 ntp.HeaderV5
	_ = h5.Decode(b)
	if v := b[0] >> 3 & 7; v != ntp.Version5 || h5.Mode != ntp.ModeServer {
		return nil, fmt.Errorf("%w: version %d mode %d, not an NTPv5 server reply", ErrMalformed, v, h5.Mode)
	}
	if h5.ClientCookie != uint64(sent) {
		return nil, ErrOriginMismatch
	}
	draft := ""
	for rest := b[ntp.HeaderLen:]; ; {
		f, next, ok, err := ntp.NextExtensionV5(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		if !ok {
			break
		}
		if f.Type == ntp.ExtV5DraftID {
			draft = string(f.Value)
		}
		rest = next
	}
	if draft != ntp.V5Draft {
		return nil, fmt.Errorf("%w: NTPv5 of draft %q, not %s", ErrMalformed, draft, ntp.V5Draft)
	}
	h := ntp.Header{Leap: h5.Leap, Version: ntp.Version5, Mode: h5.Mode, Stratum: h5.Stratum, Poll: h5.Poll,
		Precision: h5.Precision, RootDelay: ntp.ShortFromDuration(h5.RootDelay.Duration()),
		RootDispersion: ntp.ShortFromDuration(h5.RootDispersion.Duration()), Origin: sent,
		Receive: h5.Receive, Transmit: h5.Transmit}
	r := &Response{Server: c.server, Addr: c.addr, Header: h, T1: t1, T4: t4, V5: &h5, Timescale: h5.Timescale}
	if h5.Stratum == 0 {
		// NTPv5 has no kiss codes: stratum 0 refuses (a longer poll asks
		// to slow down).
		return r, &KissError{Code: "V5"}
	}
	if h5.Receive == 0 || h5.Transmit == 0 {
		return r, fmt.Errorf("%w: zero receive or transmit timestamp", ErrMalformed)
	}
	r.T2 = h5.Receive.Time(t1)
	r.T3 = h5.Transmit.Time(t1)
	r.Offset = (r.T2.Sub(r.T1) + r.T3.Sub(r.T4)) / 2
	r.Delay = r.T4.Sub(r.T1) - r.T3.Sub(r.T2)
	if h5.Flags&ntp.FlagSynchronized == 0 || h5.Leap == ntp.LeapUnsynchronised || h5.Stratum >= ntp.StratumUnsynchronised {
		return r, fmt.Errorf("%w (NTPv5 flags %#x, leap indicator %d, stratum %d)", ErrUnsynchronised, h5.Flags, h5.Leap, h5.Stratum)
	}
	return r, nil
}
