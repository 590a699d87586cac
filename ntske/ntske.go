// Package ntske is NTS Key Establishment over TLS 1.3 (RFC 8915 section 4):
// the server that hands out cookies and the client that fetches them. The
// records, the negotiation and the cookies are package nts; this package is
// the TLS edge around them.
package ntske

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leapsmear/leapsmear/nts"
)

// Defaults of ServerConfig.
const (
	// DefaultTimeout bounds one NTS-KE connection, handshake to last byte:
	// a client that stalls is cut off then.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxConns bounds the connections served at once; more are
	// closed at once.
	DefaultMaxConns = 128
)

// Failure reasons of a handshake, as counted in Stats.
const (
	FailTLS         = "tls"         // the TLS handshake failed
	FailALPN        = "alpn"        // the client did not negotiate ntske/1
	FailTimeout     = "timeout"     // the client stalled past the timeout
	FailBadRequest  = "bad_request" // records malformed, too long, or unknown and critical
	FailUnsupported = "unsupported" // no common protocol or AEAD algorithm
	FailBusy        = "busy"        // too many connections at once
	FailInternal    = "internal"    // our side failed (keys, cookies, writing)
)

// FailReasons returns the failure reasons in a fixed order, for metrics (a
// new slice each time: callers cannot change the list).
func FailReasons() []string {
	return []string{FailTLS, FailALPN, FailTimeout, FailBadRequest, FailUnsupported, FailBusy, FailInternal}
}

// ServerConfig configures an NTS-KE server.
type ServerConfig struct {
	// Listen is the TCP address, host:port.
	Listen string
	// CertFile and KeyFile are the PEM certificate chain and private key.
	CertFile, KeyFile string
	// NTPServer and NTPPort, when set, are sent as the NTPv4 Server and Port
	// records: where clients send their NTP requests.
	NTPServer string
	NTPPort   uint16
	// Ring returns the cookie key ring in use (it rotates).
	Ring func() *nts.Ring
	// Timeout bounds each connection; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxConns bounds concurrent connections; 0 means DefaultMaxConns.
	MaxConns int
	// Logger gets connection failures at debug level; nil means slog.Default().
	Logger *slog.Logger
	// Rand supplies cookie nonces; nil means crypto/rand.
	Rand io.Reader
}

// Server is a running NTS-KE server.
type Server struct {
	cfg   ServerConfig
	ln    net.Listener
	tls   *tls.Config
	cert  atomic.Pointer[tls.Certificate]
	sem   chan struct{}
	log   *slog.Logger
	ok    atomic.Uint64
	fails sync.Map // reason -> *atomic.Uint64
	wg    sync.WaitGroup
	once  sync.Once
	done  chan struct{}
}

// Stats are the server's counters since start.
type Stats struct {
	// OK counts connections that got cookies.
	OK uint64
	// Failed counts the others by reason (see FailReasons).
	Failed map[string]uint64
}

// LoadKeyPair reads a certificate chain and its private key, checking that
// they match and that the certificate is valid at now.
func LoadKeyPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("nts certificate %s, key %s: %w", certFile, keyFile, err)
	}
	if c.Leaf == nil && len(c.Certificate) > 0 {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("nts certificate %s: %w", certFile, err)
		}
	}
	if now.After(c.Leaf.NotAfter) {
		return nil, fmt.Errorf("nts certificate %s expired at %s", certFile, c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &c, nil
}

// Listen loads the certificate and binds the TCP address.
func Listen(cfg ServerConfig) (*Server, error) {
	if cfg.Ring == nil {
		return nil, errors.New("nts-ke: no key ring")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	s := &Server{cfg: cfg, sem: make(chan struct{}, cfg.MaxConns), log: cfg.Logger, done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	cert, err := LoadKeyPair(cfg.CertFile, cfg.KeyFile, time.Now())
	if err != nil {
		return nil, err
	}
	s.cert.Store(cert)
	s.tls = &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{nts.ALPN},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("nts-ke listen %s: %w", cfg.Listen, err)
	}
	s.ln = ln
	return s, nil
}

// Addr returns the bound address.
func (s *Server) Addr() netip.AddrPort { return s.ln.Addr().(*net.TCPAddr).AddrPort() }

// Certificate returns the certificate in use.
func (s *Server) Certificate() *tls.Certificate { return s.cert.Load() }

// ReloadCertificate reads the certificate and key files again. A pair that
// cannot be loaded is reported and the last good one stays in use.
func (s *Server) ReloadCertificate() error {
	c, err := LoadKeyPair(s.cfg.CertFile, s.cfg.KeyFile, time.Now())
	if err != nil {
		return err
	}
	s.cert.Store(c)
	return nil
}

// Serve accepts connections until Close.
func (s *Server) Serve() error {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("nts-ke accept: %w", err)
		}
		select {
		case s.sem <- struct{}{}:
		default:
			conn.Close()
			s.fail(FailBusy)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.handle(conn)
		}()
	}
}

// Close stops accepting and waits for the connections in progress (at most
// the timeout).
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.ln.Close()
	})
	s.wg.Wait()
	return nil
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	st := Stats{OK: s.ok.Load(), Failed: map[string]uint64{}}
	for _, r := range FailReasons() {
		st.Failed[r] = 0
	}
	s.fails.Range(func(k, v any) bool {
		st.Failed[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return st
}

func (s *Server) fail(reason string) {
	v, _ := s.fails.LoadOrStore(reason, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

// handle serves one connection: TLS handshake, one request, one response.
func (s *Server) handle(raw net.Conn) {
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(s.cfg.Timeout))
	conn := tls.Server(raw, s.tls)
	reason, err := s.exchange(conn)
	if err != nil {
		s.fail(reason)
		s.log.Debug("nts-ke connection failed", "remote", raw.RemoteAddr().String(), "reason", reason, "error", err)
		return
	}
	s.ok.Add(1)
}

func (s *Server) exchange(conn *tls.Conn) (string, error) {
	if err := conn.Handshake(); err != nil {
		if isTimeout(err) {
			return FailTimeout, err
		}
		return FailTLS, err
	}
	cs := conn.ConnectionState()
	if cs.NegotiatedProtocol != nts.ALPN {
		return FailALPN, fmt.Errorf("ALPN %q", cs.NegotiatedProtocol)
	}
	msg, err := ReadMessage(conn)
	if err != nil {
		if isTimeout(err) {
			return FailTimeout, err
		}
		if errors.Is(err, nts.ErrTooLong) || errors.Is(err, nts.ErrMalformed) {
			s.sendError(conn, nts.ErrorBadRequest)
			return FailBadRequest, err
		}
		return FailBadRequest, err
	}
	q, err := nts.ParseKERequest(msg)
	if err != nil {
		var ke *nts.KEError
		if errors.As(err, &ke) {
			s.sendError(conn, ke.Code)
		}
		return FailBadRequest, err
	}
	resp, ok := nts.Negotiate(q)
	if !ok {
		_, _ = conn.Write(resp.Append(nil))
		if resp.Error != nil {
			return FailBadRequest, errors.New("no AEAD record")
		}
		return FailUnsupported, fmt.Errorf("protocols %v, AEAD algorithms %v", q.Protocols, q.AEADs)
	}
	keys, err := ExportKeys(&cs, resp.AEAD)
	if err != nil {
		s.sendError(conn, nts.ErrorInternal)
		return FailInternal, err
	}
	resp.Cookies, err = s.cfg.Ring().MakeCookies(&keys, nts.MaxCookies, func(b []byte) error {
		_, err := io.ReadFull(s.cfg.Rand, b)
		return err
	})
	if err != nil {
		s.sendError(conn, nts.ErrorInternal)
		return FailInternal, err
	}
	resp.Server, resp.Port = s.cfg.NTPServer, s.cfg.NTPPort
	if _, err := conn.Write(resp.Append(nil)); err != nil {
		if isTimeout(err) {
			return FailTimeout, err
		}
		return FailInternal, err
	}
	_ = conn.CloseWrite()
	return "", nil
}

func (s *Server) sendError(conn *tls.Conn, code uint16) {
	_, _ = conn.Write((&nts.KEResponse{Error: &code}).Append(nil))
	_ = conn.CloseWrite()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ExportKeys derives the C2S and S2C keys of an NTS-KE session from its TLS
// state (RFC 8915 section 5.1).
func ExportKeys(cs *tls.ConnectionState, aead uint16) (nts.Keys, error) {
	k := nts.Keys{AEAD: aead}
	c2s, err := cs.ExportKeyingMaterial(nts.ExporterLabel, nts.ExporterContext(aead, false), nts.KeyLen)
	if err != nil {
		return k, fmt.Errorf("export C2S key: %w", err)
	}
	s2c, err := cs.ExportKeyingMaterial(nts.ExporterLabel, nts.ExporterContext(aead, true), nts.KeyLen)
	if err != nil {
		return k, fmt.Errorf("export S2C key: %w", err)
	}
	copy(k.C2S[:], c2s)
	copy(k.S2C[:], s2c)
	return k, nil
}

// ReadMessage reads one NTS-KE message (up to End of Message) from r, no
// more than nts.MaxMessageLen bytes.
func ReadMessage(r io.Reader) ([]byte, error) {
	var buf []byte
	chunk := make([]byte, 1024)
	var rerr error
	for {
		n, err := nts.MessageLen(buf)
		switch {
		case err == nil && n != len(buf):
			return nil, fmt.Errorf("%w: %d bytes after End of Message", nts.ErrMalformed, len(buf)-n)
		case err == nil:
			return buf, nil
		case !errors.Is(err, nts.ErrIncomplete):
			return nil, err
		case rerr == io.EOF:
			return nil, fmt.Errorf("%w: connection closed after %d bytes", nts.ErrMalformed, len(buf))
		case rerr != nil:
			return nil, rerr
		}
		var m int
		m, rerr = r.Read(chunk)
		buf = append(buf, chunk[:m]...)
	}
}

// ClientConfig configures an NTS-KE client.
type ClientConfig struct {
	// RootCAs verifies the server's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// ServerName is the name checked in the certificate; "" means the host
	// of the address.
	ServerName string
	// Timeout bounds the exchange; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Result is what NTS-KE gave a client.
type Result struct {
	Keys    nts.Keys
	Cookies [][]byte
	// NTPServer and NTPPort are where to send NTP requests, as the server's
	// NTPv4 Server and Port records said; "" and 0 when it sent none (then
	// the NTS-KE host, port 123).
	NTPServer string
	NTPPort   uint16
}

// Exchange does NTS-KE with the server at addr (host:port), asking for NTPv4
// and AES-SIV-CMAC-256.
func Exchange(ctx context.Context, addr string, cfg ClientConfig) (*Result, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("nts-ke %s: %w", addr, err)
	}
	name := cfg.ServerName
	if name == "" {
		name = host
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{
		MinVersion: tls.VersionTLS13, NextProtos: []string{nts.ALPN},
		RootCAs: cfg.RootCAs, ServerName: name,
	}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("nts-ke %s: %w", addr, err)
	}
	conn := c.(*tls.Conn)
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cs := conn.ConnectionState()
	if cs.NegotiatedProtocol != nts.ALPN {
		return nil, fmt.Errorf("nts-ke %s: server did not negotiate %s", addr, nts.ALPN)
	}
	q := nts.KERequest{Protocols: []uint16{nts.ProtocolNTPv4}, AEADs: []uint16{nts.AEADAESSIVCMAC256}}
	if _, err := conn.Write(q.Append(nil)); err != nil {
		return nil, fmt.Errorf("nts-ke %s: %w", addr, err)
	}
	msg, err := ReadMessage(conn)
	if err != nil {
		return nil, fmt.Errorf("nts-ke %s: %w", addr, err)
	}
	r, err := nts.ParseKEResponse(msg)
	if err != nil {
		return nil, fmt.Errorf("nts-ke %s: %w", addr, err)
	}
	if !r.HasProtocol || r.Protocol != nts.ProtocolNTPv4 || !r.HasAEAD || r.AEAD != nts.AEADAESSIVCMAC256 {
		return nil, fmt.Errorf("nts-ke %s: server refused NTPv4 with AES-SIV-CMAC-256", addr)
	}
	if len(r.Cookies) == 0 {
		return nil, fmt.Errorf("nts-ke %s: server sent no cookie", addr)
	}
	keys, err := ExportKeys(&cs, r.AEAD)
	if err != nil {
		return nil, fmt.Errorf("nts-ke %s: %w", addr, err)
	}
	res := &Result{Keys: keys, NTPServer: r.Server, NTPPort: r.Port}
	for _, c := range r.Cookies {
		res.Cookies = append(res.Cookies, append([]byte(nil), c...))
	}
	return res, nil
}

// JoinHostPort is net.JoinHostPort with a numeric port.
func JoinHostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
