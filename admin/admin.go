// Package admin serves the admin endpoints of a leapsmear server on an HTTP
// address of its own, never the NTP port:
//
//   - /metrics: Prometheus metrics (a registry of its own, read from the
//     daemon's status at scrape time);
//   - /healthz: 200 when serving with an unexpired, verified leap table on a
//     synchronised clock, else 503 with a one-line reason; ?strict=0 ignores
//     the expiry;
//   - /api/status: the state of the server as JSON (Report);
//   - /: a status page without external assets, with an inline SVG of the
//     policy around the next (or last) leap, refreshing itself.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/netaddr"
)

// Daemon is what the endpoints read: a snapshot of the running server.
// *daemon.Daemon implements it.
type Daemon interface {
	Status() daemon.Status
}

// NTPPort is the NTP port, which the admin listener never takes.
const NTPPort = 123

// Options configure the admin endpoints.
type Options struct {
	// Logger receives HTTP server errors; nil means slog.Default().
	Logger *slog.Logger
}

// Handler returns the admin endpoints of d.
func Handler(d Daemon, opt Options) http.Handler {
	mux := http.NewServeMux()
	reg := newRegistry(d)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger(opt).Handler(), slog.LevelError), Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { serveHealth(w, r, d) })
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) { serveJSON(w, d) })
	p := newPage()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { p.serve(w, d) })
	return mux
}

func logger(opt Options) *slog.Logger {
	if opt.Logger != nil {
		return opt.Logger
	}
	return slog.Default()
}

// Health says whether the server is fit to serve (daemon.Status.Health):
// 200 with a summary, or 503 with every problem, worst first, one a line.
func Health(st daemon.Status, strict bool) (ok bool, reason string) { return st.Health(strict) }

func serveHealth(w http.ResponseWriter, r *http.Request, d Daemon) {
	strict := true
	if v := r.URL.Query().Get("strict"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			http.Error(w, fmt.Sprintf("strict=%q: want 0 or 1", v), http.StatusBadRequest)
			return
		}
		strict = b
	}
	ok, reason := Health(d.Status(), strict)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, reason)
}

// CheckAddress refuses an admin address on the NTP port or on the port of
// any NTP listen address: the admin endpoints and NTP never share a port.
func CheckAddress(admin string, ntpListen []string) error {
	ap, err := netaddr.Listen(admin)
	if err != nil {
		var se *netaddr.SyntaxError
		if errors.As(err, &se) {
			e := *se
			e.Form = "host:port such as 127.0.0.1:9123"
			return fmt.Errorf("admin address %w", &e)
		}
		return fmt.Errorf("admin address %q: %w", admin, err)
	}
	if ap.Port() == NTPPort {
		return fmt.Errorf("admin address %s: port %d is the NTP port; give the admin endpoints a port of their own such as 9123", admin, NTPPort)
	}
	for _, l := range ntpListen {
		lp, err := netaddr.Listen(l)
		if err != nil {
			continue // reported where the listen addresses are checked
		}
		if ap.Port() != 0 && lp.Port() == ap.Port() {
			return fmt.Errorf("admin address %s: port %d is the NTP listen address %s; give the admin endpoints a port of their own such as 9123", admin, ap.Port(), l)
		}
	}
	return nil
}

// Server is an admin HTTP listener.
type Server struct {
	http *http.Server
	ln   net.Listener
	log  *slog.Logger
}

// Listen binds the admin address, after checking it against the NTP listen
// addresses (CheckAddress). Serve then answers requests.
func Listen(addr string, ntpListen []string, d Daemon, opt Options) (*Server, error) {
	if err := CheckAddress(addr, ntpListen); err != nil {
		return nil, err
	}
	ap, _ := netaddr.Listen(addr)
	// As the NTP listener does: an IPv4 address (0.0.0.0 too) is IPv4 only;
	// [::] is every IPv4 and IPv6 address.
	network := "tcp4"
	if ap.Addr().Is6() {
		network = "tcp"
	}
	ln, err := net.Listen(network, ap.String())
	if err != nil {
		return nil, fmt.Errorf("admin address %s: %w", addr, err)
	}
	if !ap.Addr().IsLoopback() {
		logger(opt).Warn("the admin endpoints listen beyond loopback: anyone who can reach them reads the server's state; restrict them with a firewall, or use 127.0.0.1",
			"admin", ln.Addr().String())
	}
	return &Server{ln: ln, log: logger(opt), http: &http.Server{
		Handler:           Handler(d, opt),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger(opt).Handler(), slog.LevelWarn),
	}}, nil
}

// Addr returns the bound address, port filled in.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers requests until Close; it returns nil after Close. It logs
// the URLs it serves as it starts.
func (s *Server) Serve() error {
	base := "http://" + s.Addr()
	s.log.Info("admin endpoints listening", "admin", s.Addr(), "urls", []string{base + "/", base + "/metrics", base + "/healthz"})
	if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin %s: %w", s.Addr(), err)
	}
	return nil
}

// Close stops the listener, letting requests in progress finish for up to
// a second.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = s.http.Close()
	}
	s.ln.Close() // when Serve was never called
	return err
}
