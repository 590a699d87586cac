// Package daemon runs a leapsmear server and owns its whole lifecycle: it
// validates the configuration, loads the leap table, builds the smear and
// the clock source, binds the NTP sockets and the services beside them (the
// admin endpoints, ...), drops privileges, serves, runs the periodic checks,
// reloads the table on request (keeping the last good one when the new one
// is bad) and reports its state for logs, metrics and the status page.
//
// The command line turns flags and the configuration file into a Config,
// routes signals (Reload on SIGHUP, cancelling Run's context on SIGTERM) and
// nothing else.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/internal/netaddr"
	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapfile"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// Config is everything a server is started with.
type Config struct {
	// Server says where to listen: its Listen addresses serve Policy; its
	// Listeners are ignored (use Listeners here).
	Server server.Config
	// Listeners are more listen addresses, after those of Server.Listen,
	// each with its own policy.
	Listeners []Listener
	// Policy is the smear policy of Server.Listen, and of the Listeners
	// that name none.
	Policy smear.Policy
	// V5Policy, when set, is the smear NTPv5 clients get when they ask for
	// leap-smeared UTC, on every listener; nil means each listener's own
	// policy when it smears (a stepping listener then offers none).
	V5Policy *smear.Policy
	// LeapFiles are cross-checked leap-second files; none means the
	// embedded table.
	LeapFiles []string
	// Parse says how the files are parsed (AcceptUnverified).
	Parse leap.ParseOptions
	// Rehearse, when set, adds a synthetic leap to the smear's table.
	Rehearse *leap.Rehearsal
	// AllowJump lets a rehearsal start inside its own smear window, where
	// clients see the served time jump at start (refused otherwise).
	AllowJump bool
	// Source configures the clock source; its Table is filled in.
	Source timescale.Config
	// Settings are the fixed reply fields; a zero Precision is measured
	// from the clock's resolution.
	Settings server.Settings
	// Limiter rate-limits clients; nil answers everyone.
	Limiter server.Limiter
	// User, when set, is the unprivileged account the process switches to
	// once every socket is bound (it must start as root).
	User string
	// Services are started once the NTP sockets are bound, before
	// privileges are dropped, and served beside them (the admin endpoints,
	// ...).
	Services []NewService
	// NTS, when set, turns on Network Time Security: an NTS-KE listener
	// (one of the services) and authenticated replies.
	NTS *NTSConfig
	// Logger receives the daemon's messages; nil means slog.Default().
	Logger *slog.Logger
	// CheckInterval is the period of the daemon's own checks (leap table
	// expiry warnings, leap window logs; see Check); 0 means
	// DefaultCheckInterval, negative means none (call Check yourself).
	CheckInterval time.Duration
	// ReloadTimeout is how long a reload may run before it is logged as
	// stuck; 0 means DefaultReloadTimeout.
	ReloadTimeout time.Duration
	// LeapSources configures the periodic comparison of the leap seconds
	// announced by the kernel, upstream servers and chronyd with the table.
	LeapSources LeapSources

	// reloadFiles reads the leap files at a reload; nil means
	// leapfile.Load. Tests make it block, as a file on a hung mount would.
	reloadFiles func([]string, leap.ParseOptions, time.Time) (*leap.Table, leapfile.Report, error)
}

// Listener is one NTP listen address and the policy its NTPv3 and NTPv4
// replies follow.
type Listener struct {
	// Addr is host:port, as in server.Config.Listen.
	Addr string
	// Policy is the listener's smear policy; a Policy without a Name means
	// Config.Policy.
	Policy smear.Policy
}

// String writes the listener as ParseListener reads it: "HOST:PORT" or
// "HOST:PORT=POLICY".
func (l Listener) String() string {
	if l.Policy.Name == "" {
		return l.Addr
	}
	return l.Addr + "=" + l.Policy.Name
}

// ParseListener reads a listen address with an optional policy,
// HOST:PORT=POLICY ("127.0.0.1:123=step", "[::]:11123=noon-to-noon",
// "0.0.0.0:123=linear:-30s:61s"); without "=POLICY" the listener takes
// Config.Policy. Errors are *option.Error about "listen".
func ParseListener(s string) (Listener, error) {
	addr, pol, hasPolicy := strings.Cut(s, "=")
	if _, err := netaddr.Listen(addr); err != nil || addr == "" {
		return Listener{}, option.Errorf("listen", s, "want host:port or host:port=POLICY, such as 127.0.0.1:123, [::1]:123 or 127.0.0.1:123=step")
	}
	l := Listener{Addr: addr}
	if hasPolicy {
		p, err := smear.Parse(pol)
		if err != nil {
			return Listener{}, option.Errorf("listen", s, "%w", err)
		}
		l.Policy = p
	}
	return l, nil
}

// listeners returns every listener of cfg, in order, with its policy.
func (cfg Config) listeners() []Listener {
	out := make([]Listener, 0, len(cfg.Server.Listen)+len(cfg.Listeners))
	for _, a := range cfg.Server.Listen {
		out = append(out, Listener{Addr: a, Policy: cfg.Policy})
	}
	for _, l := range cfg.Listeners {
		if l.Policy.Name == "" {
			l.Policy = cfg.Policy
		}
		out = append(out, l)
	}
	return out
}

// A Service runs beside the NTP sockets for the daemon's lifetime. It is
// bound when created, serves in Serve until Close, and Serve returns nil
// after Close.
type Service interface {
	Serve() error
	Close() error
}

// NewService creates (and binds) a service of the daemon d.
type NewService func(d *Daemon) (Service, error)

// Defaults.
const (
	// DefaultCheckInterval is how often the daemon checks the table expiry
	// and the leap windows: often enough to log a window edge within a
	// second.
	DefaultCheckInterval = time.Second
	// DefaultReloadTimeout is how long a reload may take before it is
	// reported as stuck (a leap file on a hung network mount).
	DefaultReloadTimeout = 10 * time.Second
	// StopTimeout bounds how long Run waits, once stopped, for the sockets
	// and services to close.
	StopTimeout = time.Second
)

// DefaultStratum is the stratum announced while synchronised when the
// configuration gives none.
const DefaultStratum = 2

// WithDefaults returns cfg with a zero stratum set to DefaultStratum.
func (cfg Config) WithDefaults() Config {
	if cfg.Settings.Stratum == 0 {
		cfg.Settings.Stratum = DefaultStratum
	}
	return cfg
}

// Validate checks the configuration a user gives (zero values included:
// apply WithDefaults first to fill them); its errors are
// *option.Error named after the options (listen, stratum, user, ...).
func (cfg Config) Validate() error {
	all := cfg.listeners()
	if len(all) == 0 {
		return option.Errorf("listen", nil, "give at least one address to serve, such as 127.0.0.1:123")
	}
	seen := map[netip.AddrPort]bool{}
	for _, l := range all {
		ap, err := netaddr.Listen(l.Addr)
		if err != nil {
			return option.Errorf("listen", l, "want host:port such as 127.0.0.1:123 or [::1]:123")
		}
		if ap.Port() != 0 && seen[ap] {
			return option.Errorf("listen", l, "%s is listed twice: one address serves one policy", ap)
		}
		seen[ap] = true
		if err := l.Policy.Validate(); err != nil {
			return option.Errorf("listen", l, "%w", err)
		}
	}
	if cfg.Server.SocketsPerAddress < 0 || cfg.Server.SocketsPerAddress > 1024 {
		return option.Errorf("sockets", cfg.Server.SocketsPerAddress, "want 0 (one per CPU) to 1024")
	}
	if err := cfg.Policy.Validate(); err != nil {
		return option.Errorf("policy", cfg.Policy.Name, "%w", err)
	}
	if p := cfg.V5Policy; p != nil {
		if err := p.Validate(); err != nil {
			return option.Errorf("v5-smear-policy", p.Name, "%w", err)
		}
	}
	if cfg.Settings.RefIDSmear > server.RefIDSmearChrony {
		return option.Errorf("refid-smear", cfg.Settings.RefIDSmear, "want off, draft or chrony")
	}
	if err := cfg.Source.Validate(); err != nil {
		return err
	}
	st := cfg.Settings
	switch {
	case st.Stratum < 1 || st.Stratum > 15:
		return option.Errorf("stratum", st.Stratum, "want 1 to 15")
	case st.RootDelay < 0 || st.RootDelay > ntp.MaxShort:
		return option.Errorf("root-delay", st.RootDelay, "want 0 to %v", ntp.MaxShort)
	case st.RootDispersion < 0 || st.RootDispersion > ntp.MaxShort:
		return option.Errorf("root-dispersion", st.RootDispersion, "want 0 to %v", ntp.MaxShort)
	}
	if err := cfg.LeapSources.Validate(); err != nil {
		return err
	}
	if cfg.User != "" {
		if _, err := LookupUser(cfg.User); err != nil {
			return err
		}
	}
	if cfg.NTS != nil {
		if err := cfg.NTS.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Daemon is a running server.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	started time.Time

	mu        sync.Mutex // serialises reloads
	table     atomic.Pointer[leap.Table]
	src       timescale.Source
	listeners []*listenerState
	srv       *server.Server
	svcs      []Service
	nts       *ntsState
	reloads   atomic.Uint64
	failed    atomic.Uint64
	lastErr   atomic.Pointer[string]

	reloadReq chan struct{}
	watch     watchState
	leaps     leapState
	stop      chan struct{}
	stopOnce  sync.Once
	watchDone chan struct{}
}

// Start validates cfg, loads the table, builds the smear and the source,
// binds the sockets, creates the services and, with cfg.User, drops
// privileges. Run then serves. Any failure is returned as one line naming
// its cause.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var drop User
	if cfg.User != "" {
		var err error
		if drop, err = LookupUser(cfg.User); err != nil {
			return nil, err
		}
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), watchDone: make(chan struct{}),
		reloadReq: make(chan struct{}, 1)}
	d.started = d.hostNow()
	if d.log == nil {
		d.log = slog.Default()
	}
	table, rep, err := leapfile.Load(cfg.LeapFiles, cfg.Parse, d.started)
	if err != nil {
		return nil, err
	}
	for _, l := range cfg.listeners() {
		d.listeners = append(d.listeners, &listenerState{Listener: l})
	}
	smears, err := d.buildSmears(table)
	if err != nil {
		return nil, err
	}
	srcCfg := cfg.Source
	srcCfg.Table = table
	srcCfg.Logger = d.log
	src, err := timescale.New(srcCfg)
	if err != nil {
		return nil, err
	}
	// The served clock starts now, or exactly at the instant a replay
	// names: a replay from the very opening of a window jumps by nothing,
	// whatever the smear has run by the time this reads the clock.
	begins := src.Now().TAI
	if to := cfg.Source.TimeOffsetTo; !to.IsZero() {
		begins = table.TAIFromTime(to)
	}
	for i, l := range d.listeners {
		if err := checkJump(cfg, l.Policy, smears[i].Policy, begins); err != nil {
			src.Close()
			return nil, err
		}
	}
	if cfg.Settings.Precision == 0 {
		cfg.Settings.Precision = ClockPrecision()
		d.cfg.Settings.Precision = cfg.Settings.Precision
	}
	d.src = src
	d.table.Store(table)
	d.leaps.files.Store(table)
	d.newLeapState()
	srvCfg := server.Config{SocketsPerAddress: cfg.Server.SocketsPerAddress}
	for i, l := range d.listeners {
		l.resp = server.NewResponderSmears(src, smears[i], cfg.Settings, cfg.Limiter)
		srvCfg.Listeners = append(srvCfg.Listeners, server.Listener{Addr: l.Addr, Responder: l.resp})
	}
	d.srv, err = server.New(ctx, srvCfg, nil)
	if err != nil {
		src.Close()
		return nil, err
	}
	for i, a := range d.srv.Addrs() {
		d.listeners[i].bound = a.String()
	}
	if cfg.NTS != nil {
		ke, err := d.startNTS()
		if err != nil {
			d.closeAll()
			return nil, err
		}
		d.svcs = append(d.svcs, ke)
	}
	for _, newSvc := range cfg.Services {
		svc, err := newSvc(d)
		if err != nil {
			d.closeAll()
			return nil, err
		}
		d.svcs = append(d.svcs, svc)
	}
	// Every socket is bound: now the privileges can go, before any request
	// is read.
	if cfg.User != "" {
		if err := drop.Drop(); errors.Is(err, ErrThreadsNotHardened) {
			d.log.Warn(err.Error())
		} else if err != nil {
			d.closeAll()
			return nil, err
		}
		d.log.Info("dropped privileges", "user", drop.Name, "uid", drop.UID, "gid", drop.GID)
	}
	d.logStart(rep)
	d.startChecks()
	d.startLeapChecks()
	return d, nil
}

// hostNow reads the host's wall clock: the source's Clock when the
// configuration gives one (tests), else time.Now. It dates the daemon's
// start and the files it loads; everything judged against the leap table
// uses the served clock instead (servedNow).
func (d *Daemon) hostNow() time.Time {
	if c := d.cfg.Source.Clock; c != nil {
		real, _ := c.Now()
		return time.Unix(0, int64(real))
	}
	return time.Now()
}

// servedNow returns true UTC on the served clock: the host's while serving
// the present, the replayed instant while replaying. A table's expiry is
// judged on it, like the smear windows.
func (d *Daemon) servedNow() time.Time {
	return d.Table().UnixFromTAI(d.src.Now().TAI).Time()
}

// listenerState is one listener of a running daemon.
type listenerState struct {
	Listener
	bound string // the address bound, port filled in
	resp  *server.Responder
	watch windowWatch // what Check saw of its windows
}

// buildSmears applies each listener's policy (and the NTPv5 smear policy)
// to table, plus the rehearsal leap if any, in the order of d.listeners.
func (d *Daemon) buildSmears(table *leap.Table) ([]server.Smears, error) {
	if r := d.cfg.Rehearse; r != nil {
		var err error
		if table, err = table.WithRehearsal(r.At, r.Delta); err != nil {
			return nil, fmt.Errorf("rehearsal: %w", err)
		}
	}
	out := make([]server.Smears, len(d.listeners))
	for i, l := range d.listeners {
		s, err := server.NewSmears(table, l.Policy, d.cfg.V5Policy)
		if err != nil {
			if len(d.listeners) > 1 {
				err = fmt.Errorf("listen %s: %w", l.Addr, err)
			}
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// checkJump refuses a rehearsal that starts inside its own smear window,
// unless cfg.AllowJump: its clients, served true UTC until then, would see
// the served time jump by the smear's offset at start, the instant now.
func checkJump(cfg Config, p smear.Policy, s *smear.Smear, now leap.TAI) error {
	r := cfg.Rehearse
	if r == nil || cfg.AllowJump {
		return nil
	}
	off := s.Offset(now)
	if off == 0 {
		return nil
	}
	w, _ := s.Next(now)
	return option.Errorf("rehearse", r.String(), "starts inside its own smear window (policy %s opens it %v before the leap): clients would see the served time jump by %v at start; rehearse further ahead, or allow the jump (%s)",
		p.Name, time.Duration(w.Event.Jump()-w.Start).Round(time.Second), off, option.Ref("allow-jump"))
}

// ClockPrecision returns the precision of the timestamps the server
// writes, as RFC 5905 defines it: log2 of the time it takes to read the
// clock, in seconds, rounded up. It is measured (the smallest positive
// difference between consecutive readings, over a thousand tries), because
// clock_getres(2) says 1 ns on current kernels, which no reading achieves;
// the resolution is the floor where readings are coarser than that.
func ClockPrecision() int8 {
	best := time.Duration(math.MaxInt64)
	for range 1000 {
		a := time.Now()
		if d := time.Since(a); d > 0 && d < best {
			best = d
		}
	}
	var ts unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_REALTIME, &ts); err == nil && ts.Nano() > 0 {
		best = max(best, time.Duration(ts.Nano()))
	}
	if best == time.Duration(math.MaxInt64) {
		return -20 // a microsecond, a safe claim for any clock Go runs on
	}
	return ntp.Precision(best)
}

// Run serves NTP and the services, and runs the reloads asked for with
// RequestReload, until ctx is done, Close is called or serving fails; it
// then closes everything (waiting at most StopTimeout) and returns the
// first serving error, nil for a clean stop. A reload still running (a leap
// file on a hung mount) does not hold it up.
func (d *Daemon) Run(ctx context.Context) error {
	errc := make(chan error, 1+len(d.svcs))
	go func() { errc <- d.srv.Serve() }()
	for _, svc := range d.svcs {
		go func() { errc <- svc.Serve() }()
	}
	reloads := make(chan struct{})
	go d.reloadLoop(reloads)
	defer close(reloads)
	var first error
	select {
	case <-ctx.Done():
	case <-d.stop:
	case first = <-errc:
	}
	closed := make(chan struct{})
	go func() { d.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(StopTimeout):
		d.log.Warn("stopping took longer than a second; exiting anyway", "timeout", StopTimeout)
	}
	if errors.Is(first, context.Canceled) {
		first = nil
	}
	return first
}

// RequestReload asks Run to reload the leap files (SIGHUP). It never blocks:
// requests made while a reload runs are folded into one more reload.
func (d *Daemon) RequestReload() {
	select {
	case d.reloadReq <- struct{}{}:
	default:
	}
}

// reloadLoop runs the reloads asked for until done is closed; a reload that
// takes longer than the reload timeout is reported as stuck.
func (d *Daemon) reloadLoop(done <-chan struct{}) {
	timeout := d.cfg.ReloadTimeout
	if timeout <= 0 {
		timeout = DefaultReloadTimeout
	}
	for {
		select {
		case <-done:
			return
		case <-d.reloadReq:
		}
		finished := make(chan struct{})
		go func() { _ = d.Reload(); close(finished) }() // logged and counted
		select {
		case <-finished:
		case <-time.After(timeout):
			d.log.Error("leap table reload still running: a leap file may be on a hung mount; serving the last good table",
				"timeout", timeout, "table", d.Table().Source)
			select {
			case <-finished:
			case <-done:
				return
			}
		case <-done:
			return
		}
	}
}

// Close stops serving, the services and the background checks. It may be
// called more than once.
func (d *Daemon) Close() {
	d.stopOnce.Do(func() { close(d.stop) })
	<-d.watchDone
	<-d.leaps.done
	d.closeAll()
}

func (d *Daemon) closeAll() {
	for _, svc := range d.svcs {
		svc.Close()
	}
	d.srv.Close()
	d.src.Close()
}

// Addrs returns the bound listen addresses.
func (d *Daemon) Addrs() []string {
	out := make([]string, 0, len(d.srv.Addrs()))
	for _, a := range d.srv.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// Reload reads the leap files again. A file that cannot be read, parsed,
// verified or agreed on is logged and counted, and the last good table stays
// in use; the error is returned. Reloads are serialised.
func (d *Daemon) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ntsErr := d.reloadNTS() // logged and counted on its own
	d.reloads.Add(1)
	d.log.Info("reloading the leap table", "files", d.cfg.LeapFiles)
	load := d.cfg.reloadFiles
	if load == nil {
		load = leapfile.Load
	}
	files, _, err := load(d.cfg.LeapFiles, d.cfg.Parse, d.hostNow())
	var (
		smears []server.Smears
		table  *leap.Table
	)
	if err == nil {
		table = d.readopt(files)
		smears, err = d.buildSmears(table)
	}
	if err != nil {
		d.failed.Add(1)
		msg := err.Error()
		d.lastErr.Store(&msg)
		d.log.Error("leap table reload failed; keeping the last good table", "error", err, "table", d.Table().Source)
		return errors.Join(err, ntsErr)
	}
	d.lastErr.Store(nil)
	d.table.Store(table)
	d.leaps.files.Store(files)
	d.src.SetTable(table)
	for i, l := range d.listeners {
		l.resp.SetSmears(smears[i])
	}
	d.log.Info("leap table reloaded", tableAttrs(table, d.servedNow())...)
	d.warnUnverified(table)
	d.Check()
	return ntsErr
}

// Table returns the leap table in use (without the rehearsal leap).
func (d *Daemon) Table() *leap.Table { return d.table.Load() }

// Smear returns the smear in use (with the rehearsal leap) on the first
// listener.
func (d *Daemon) Smear() *smear.Smear { return d.listeners[0].resp.Smear() }

// Source returns the clock source.
func (d *Daemon) Source() timescale.Source { return d.src }

// Stats returns the server's packet counters.
func (d *Daemon) Stats() server.Stats { return d.srv.Stats() }

// ReloadStats returns how many reloads were tried and failed, and the error
// of the last one if it failed.
func (d *Daemon) ReloadStats() (tried, failed uint64, lastErr string) {
	if p := d.lastErr.Load(); p != nil {
		lastErr = *p
	}
	return d.reloads.Load(), d.failed.Load(), lastErr
}

// Config returns the configuration the daemon runs with (precision filled in).
func (d *Daemon) Config() Config { return d.cfg }

// Started returns when the daemon started.
func (d *Daemon) Started() time.Time { return d.started }

func (d *Daemon) logStart(rep leapfile.Report) {
	table := d.Table()
	stratum := d.cfg.Settings.Stratum
	if !d.src.Synced() {
		stratum = ntp.StratumUnsynchronised
	}
	attrs := []any{"listen", d.Addrs(), "policy", d.listeners[0].Policy.Name, "source", d.src.Name(),
		"stratum", stratum, "refid", ntp.FormatRefID(d.cfg.Settings.RefID, d.cfg.Settings.Stratum),
		"precision", d.cfg.Settings.Precision}
	if len(d.listeners) > 1 {
		var ls []string
		for i, a := range d.Addrs() {
			ls = append(ls, a+"="+d.listeners[i].Policy.Name)
		}
		attrs = append(attrs, "listeners", ls)
	}
	if p := d.cfg.V5Policy; p != nil {
		attrs = append(attrs, "v5_smear_policy", p.Name)
	}
	if m := d.cfg.Settings.RefIDSmear; m != server.RefIDSmearOff {
		attrs = append(attrs, "refid_smear", m.String())
	}
	attrs = append(attrs, tableAttrs(table, d.servedNow())...)
	if d.cfg.Rehearse != nil {
		attrs = append(attrs, "rehearsal", d.cfg.Rehearse.String())
	}
	s := d.Smear()
	x := d.src.Now().TAI
	if shift := d.src.Stats().Shift; shift != 0 {
		// A replay: how far the served instant is from the host's, on TAI,
		// and the UTC instant being served now.
		attrs = append(attrs, "time_shift_tai", shift, "replaying", table.LabelFromTAI(x).String())
	}
	if w, ok := s.Next(x); ok {
		attrs = append(attrs, "next_leap", w.Event.String(),
			"window_opens", s.Table().LabelFromTAI(w.Start).String(),
			"window_closes", s.Table().LabelFromTAI(w.End).String())
	} else {
		attrs = append(attrs, "next_leap", "none scheduled before the table expires")
	}
	d.log.Info("serving", attrs...)
	if st := d.src.Stats(); st.KernelErr != "" || !st.Kernel.Synced() {
		if d.cfg.Source.AssumeSynced {
			d.log.Info(timescale.AssumedSyncMessage, "source", d.src.Name())
		} else {
			d.log.Warn(timescale.UnsyncedMessage, "source", d.src.Name())
		}
	}
	for _, diff := range rep.Differences {
		d.log.Warn("leap files differ", "difference", diff.String())
	}
	for _, f := range d.cfg.LeapFiles {
		if w := leapfile.WritableByOthers(f); w != "" {
			d.log.Warn("leap file not protected: " + w)
		}
	}
	d.warnUnverified(table)
}

func tableAttrs(t *leap.Table, now time.Time) []any {
	expires := "none stated"
	if !t.Expires.IsZero() {
		expires = t.Expires.UTC().Format(time.RFC3339)
	}
	return []any{"table", t.Source, "verified", t.Verified, "expires", expires, "expired", t.Expired(now), "leaps", len(t.Events)}
}

// warnUnverified warns of a table that is not verified; expiry is watched by
// Check.
func (d *Daemon) warnUnverified(t *leap.Table) {
	for _, p := range t.Problems(d.servedNow()) {
		if p.Kind == leap.Unverified {
			d.log.Warn(p.String(), "table", t.Source, "verification", t.Verification)
		}
	}
}
