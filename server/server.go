package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"

	"github.com/leapsmear/leapsmear/internal/netaddr"
)

// Config says where to listen.
type Config struct {
	// Listen holds the addresses to serve, host:port each; a port alone
	// (":123") means every IPv4 address, "[::]:123" every IPv4 and IPv6.
	Listen []string
	// SocketsPerAddress is how many SO_REUSEPORT sockets share each
	// address, each served by its own goroutine; 0 means one per CPU.
	SocketsPerAddress int
}

// Server serves NTP on UDP sockets.
type Server struct {
	r       *Responder
	sockets []*socket
	addrs   []netip.AddrPort
	once    sync.Once
}

// New binds every listen address (closing what it opened if one fails) and
// returns a server ready to Serve.
func New(ctx context.Context, cfg Config, r *Responder) (*Server, error) {
	if len(cfg.Listen) == 0 {
		return nil, errors.New("no listen address")
	}
	n := cfg.SocketsPerAddress
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s := &Server{r: r}
	for _, l := range cfg.Listen {
		addr, err := netaddr.Listen(l)
		if err != nil {
			s.Close()
			return nil, err
		}
		conns, info, err := listen(ctx, addr, n)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.addrs = append(s.addrs, info.bound)
		for _, c := range conns {
			sock, err := newSocket(c, r, info)
			if err != nil {
				c.Close()
				s.Close()
				return nil, fmt.Errorf("listen %s: %w", info.bound, err)
			}
			s.sockets = append(s.sockets, sock)
		}
	}
	return s, nil
}

// Addrs returns the bound addresses, ports filled in.
func (s *Server) Addrs() []netip.AddrPort { return s.addrs }

// Responder returns the responder answering requests.
func (s *Server) Responder() *Responder { return s.r }

// Serve answers requests on every socket until Close; it returns the first
// socket error, after closing the others.
func (s *Server) Serve() error {
	errc := make(chan error, len(s.sockets))
	for _, sock := range s.sockets {
		go func() { errc <- sock.serve() }()
	}
	var first error
	for range s.sockets {
		if err := <-errc; err != nil && first == nil {
			first = err
			s.Close()
		}
	}
	return first
}

// Close stops serving.
func (s *Server) Close() error {
	s.once.Do(func() {
		for _, sock := range s.sockets {
			sock.conn.Close()
		}
	})
	return nil
}

// Stats are the server's counters since start.
type Stats struct {
	// Received counts datagrams read.
	Received uint64
	// Verdicts counts what became of them, indexed by Verdict.
	Verdicts [numVerdicts]uint64
	// SendErrors counts replies the kernel refused to send and read errors.
	SendErrors uint64
	// SendDropped counts replies dropped because the socket's send buffer
	// was full (a path out slower than the requests coming in).
	SendDropped uint64
}

// Answered returns the replies sent with time, NTS-authenticated or not.
func (st Stats) Answered() uint64 { return st.Verdicts[Answered] + st.Verdicts[AnsweredNTS] }

// Dropped returns the requests left unanswered.
func (st Stats) Dropped() uint64 {
	var n uint64
	for _, v := range DropReasons() {
		n += st.Verdicts[v]
	}
	return n
}

// Stats sums the counters of every socket.
func (s *Server) Stats() Stats {
	var st Stats
	for _, sock := range s.sockets {
		st.Received += sock.stats.received.Load()
		st.SendErrors += sock.stats.errors.Load()
		st.SendDropped += sock.stats.sendDropped.Load()
		for v := range st.Verdicts {
			st.Verdicts[v] += sock.stats.verdicts[v].Load()
		}
	}
	return st
}
