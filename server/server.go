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
	// They are answered by the Responder given to New.
	Listen []string
	// Listeners are more addresses, each answered by a Responder of its own
	// (its own policy), after those of Listen.
	Listeners []Listener
	// SocketsPerAddress is how many SO_REUSEPORT sockets share each
	// address, each served by its own goroutine; 0 means one per CPU.
	SocketsPerAddress int
}

// Listener is a listen address with the Responder that answers it.
type Listener struct {
	// Addr is host:port, as in Config.Listen.
	Addr string
	// Responder answers the requests sent to Addr.
	Responder *Responder
}

// Server serves NTP on UDP sockets.
type Server struct {
	r         *Responder
	sockets   []*socket
	addrs     []netip.AddrPort
	listeners []*boundListener
	once      sync.Once

	bmu   sync.Mutex // serialises RefreshBroadcasts
	bcast *Broadcasts
}

// boundListener is one listen address as bound: its sockets and responder.
type boundListener struct {
	addr    netip.AddrPort
	r       *Responder
	sockets []*socket
}

// New binds every listen address (closing what it opened if one fails) and
// returns a server ready to Serve. r answers cfg.Listen (it may be nil when
// there is none); each of cfg.Listeners brings its own responder.
func New(ctx context.Context, cfg Config, r *Responder) (*Server, error) {
	all := make([]Listener, 0, len(cfg.Listen)+len(cfg.Listeners))
	for _, l := range cfg.Listen {
		all = append(all, Listener{Addr: l, Responder: r})
	}
	all = append(all, cfg.Listeners...)
	if len(all) == 0 {
		return nil, errors.New("no listen address")
	}
	n := cfg.SocketsPerAddress
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s := &Server{r: all[0].Responder}
	for _, l := range all {
		if l.Responder == nil {
			s.Close()
			return nil, fmt.Errorf("listen %s: no responder", l.Addr)
		}
		addr, err := netaddr.Listen(l.Addr)
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
		bl := &boundListener{addr: info.bound, r: l.Responder}
		s.listeners = append(s.listeners, bl)
		for _, c := range conns {
			sock, err := newSocket(c, l.Responder, info)
			if err != nil {
				c.Close()
				s.Close()
				return nil, fmt.Errorf("listen %s: %w", info.bound, err)
			}
			s.sockets = append(s.sockets, sock)
			bl.sockets = append(bl.sockets, sock)
		}
	}
	// A host whose interfaces cannot be read (netlink refused by a
	// sandbox) still serves; the set stays empty until a RefreshBroadcasts
	// succeeds, and that call reports the error (the daemon logs it).
	_, _ = s.RefreshBroadcasts()
	return s, nil
}

// RefreshBroadcasts reads the directed broadcast addresses of the host's
// subnets again (HostBroadcasts) and, when they changed, gives them to
// every listener's responder, whose requests from them are dropped from
// the next batch on. New reads them once; interfaces come and go, so call
// it now and then (the daemon does on every periodic check). It reports
// whether they changed; on an error the responders keep the last ones read.
func (s *Server) RefreshBroadcasts() (changed bool, err error) {
	bs, err := HostBroadcasts()
	if err != nil {
		return false, err
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if s.bcast != nil && s.bcast.Equal(bs) {
		return false, nil
	}
	s.bcast = bs
	for _, l := range s.listeners {
		l.r.SetBroadcasts(bs)
	}
	return true, nil
}

// Broadcasts returns the directed broadcast addresses whose requests are
// dropped, as last read by New or RefreshBroadcasts.
func (s *Server) Broadcasts() *Broadcasts {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	return s.bcast
}

// Addrs returns the bound addresses, ports filled in: those of
// Config.Listen, then those of Config.Listeners.
func (s *Server) Addrs() []netip.AddrPort { return s.addrs }

// ListenerStats are one listen address's counters.
type ListenerStats struct {
	// Addr is the bound address; Responder answers it.
	Addr      netip.AddrPort
	Responder *Responder
	Stats
}

// Listeners returns every listen address with its responder and counters,
// in the order of Addrs.
func (s *Server) Listeners() []ListenerStats {
	out := make([]ListenerStats, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = ListenerStats{Addr: l.addr, Responder: l.r, Stats: sumStats(l.sockets)}
	}
	return out
}

// Responder returns the responder of the first listen address.
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

// Answered returns the replies sent with time: NTPv3 and NTPv4,
// NTS-authenticated or not, and NTPv5.
func (st Stats) Answered() uint64 {
	return st.Verdicts[Answered] + st.Verdicts[AnsweredNTS] + st.AnsweredV5()
}

// AnsweredV5 returns the NTPv5 replies sent with time, in every timescale.
func (st Stats) AnsweredV5() uint64 {
	var n uint64
	for _, v := range V5Verdicts() {
		n += st.Verdicts[v]
	}
	return n
}

// Dropped returns the requests left unanswered.
func (st Stats) Dropped() uint64 {
	var n uint64
	for _, v := range DropReasons() {
		n += st.Verdicts[v]
	}
	return n
}

// Stats sums the counters of every socket.
func (s *Server) Stats() Stats { return sumStats(s.sockets) }

func sumStats(sockets []*socket) Stats {
	var st Stats
	for _, sock := range sockets {
		st.Received += sock.stats.received.Load()
		st.SendErrors += sock.stats.errors.Load()
		st.SendDropped += sock.stats.sendDropped.Load()
		for v := range st.Verdicts {
			st.Verdicts[v] += sock.stats.verdicts[v].Load()
		}
	}
	return st
}
