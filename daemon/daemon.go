// Package daemon runs a leapsmear server: it loads the leap table, builds the
// smear and the clock source, opens the sockets, reloads the table on
// request (keeping the last good one when the new one is bad), and reports
// its state for logs, metrics and the status page.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapfile"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// Rehearsal is one synthetic leap added to the table the smear uses.
type Rehearsal struct {
	At    time.Time
	Delta int
}

// Config is everything a server is started with.
type Config struct {
	// Server says where to listen.
	Server server.Config
	// Policy is the smear policy.
	Policy smear.Policy
	// LeapFiles are cross-checked leap-second files; none means the
	// embedded table.
	LeapFiles []string
	// Parse says how the files are parsed (AcceptUnverified).
	Parse leap.ParseOptions
	// Rehearse, when set, adds a synthetic leap to the smear's table.
	Rehearse *Rehearsal
	// Source configures the clock source; its Table is filled in.
	Source timescale.Config
	// Settings are the fixed reply fields; a zero Precision is measured
	// from the clock's resolution.
	Settings server.Settings
	// Limiter rate-limits clients; nil answers everyone.
	Limiter server.Limiter
	// Logger receives the daemon's messages; nil means slog.Default().
	Logger *slog.Logger
	// NTS, when set, turns on Network Time Security: NTS-KE and
	// authenticated replies.
	NTS *NTSConfig
	// CheckInterval is the period of the daemon's own checks (leap table
	// expiry warnings, leap window logs; see Check); 0 means
	// DefaultCheckInterval, negative means none (call Check yourself).
	CheckInterval time.Duration
}

// DefaultCheckInterval is how often the daemon checks the table expiry and
// the leap windows: often enough to log a window edge within a second.
const DefaultCheckInterval = time.Second

// Daemon is a running server.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	started time.Time

	mu      sync.Mutex // serialises reloads
	table   atomic.Pointer[leap.Table]
	src     timescale.Source
	resp    *server.Responder
	srv     *server.Server
	reloads atomic.Uint64
	failed  atomic.Uint64
	lastErr atomic.Pointer[string]

	nts       *ntsState
	watch     watchState
	stop      chan struct{}
	stopOnce  sync.Once
	watchDone chan struct{}
}

// Start loads the table, builds the smear and the source, and binds the
// sockets. Any failure is returned as one line naming its cause.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	d := &Daemon{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), watchDone: make(chan struct{})}
	d.started = d.now()
	if d.log == nil {
		d.log = slog.Default()
	}
	table, rep, err := leapfile.Load(cfg.LeapFiles, cfg.Parse, d.now())
	if err != nil {
		return nil, err
	}
	s, err := d.buildSmear(table)
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
	if cfg.Settings.Precision == 0 {
		cfg.Settings.Precision = ClockPrecision()
		d.cfg.Settings.Precision = cfg.Settings.Precision
	}
	d.src = src
	d.table.Store(table)
	d.resp = server.NewResponder(src, s, cfg.Settings, cfg.Limiter)
	d.srv, err = server.New(ctx, cfg.Server, d.resp)
	if err != nil {
		src.Close()
		return nil, err
	}
	d.logStart(rep)
	if cfg.NTS != nil {
		if err := d.startNTS(); err != nil {
			d.srv.Close()
			src.Close()
			return nil, err
		}
	}
	d.startChecks()
	return d, nil
}

// now reads the host's wall clock: the source's Clock when the configuration
// gives one (tests), else time.Now.
func (d *Daemon) now() time.Time {
	if c := d.cfg.Source.Clock; c != nil {
		real, _ := c.Now()
		return time.Unix(0, int64(real))
	}
	return time.Now()
}

// buildSmear applies the policy to table, plus the rehearsal leap if any.
func (d *Daemon) buildSmear(table *leap.Table) (*smear.Smear, error) {
	if r := d.cfg.Rehearse; r != nil {
		var err error
		if table, err = table.WithRehearsal(r.At, r.Delta); err != nil {
			return nil, fmt.Errorf("rehearsal: %w", err)
		}
	}
	return smear.New(table, d.cfg.Policy)
}

// ClockPrecision returns log2 of the resolution of CLOCK_REALTIME in seconds,
// rounded up, as the NTP precision field wants it.
func ClockPrecision() int8 {
	var ts unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_REALTIME, &ts); err != nil || ts.Nano() <= 0 {
		return -20 // a microsecond, a safe claim for any clock Go runs on
	}
	return ntp.Precision(time.Duration(ts.Nano()))
}

// Serve answers requests until Close.
func (d *Daemon) Serve() error { return d.srv.Serve() }

// Close stops serving and the background checks. It may be called more
// than once.
func (d *Daemon) Close() {
	d.stopOnce.Do(func() { close(d.stop) })
	<-d.watchDone
	d.closeNTS()
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
// in use; the error is returned.
func (d *Daemon) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ntsErr := d.reloadNTS() // logged and counted on its own
	d.reloads.Add(1)
	now := d.now()
	table, _, err := leapfile.Load(d.cfg.LeapFiles, d.cfg.Parse, now)
	var s *smear.Smear
	if err == nil {
		s, err = d.buildSmear(table)
	}
	if err != nil {
		d.failed.Add(1)
		msg := err.Error()
		d.lastErr.Store(&msg)
		d.log.Error("leap table reload failed; keeping the last good table", "error", err, "table", d.table.Load().Source)
		return errors.Join(err, ntsErr)
	}
	d.lastErr.Store(nil)
	d.table.Store(table)
	d.src.SetTable(table)
	d.resp.SetSmear(s)
	d.log.Info("leap table reloaded", tableAttrs(table, now)...)
	d.warnTable(table)
	d.Check()
	return ntsErr
}

// Table returns the leap table in use (without the rehearsal leap).
func (d *Daemon) Table() *leap.Table { return d.table.Load() }

// Smear returns the smear in use (with the rehearsal leap).
func (d *Daemon) Smear() *smear.Smear { return d.resp.Smear() }

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
	now := d.now()
	table := d.Table()
	attrs := []any{"listen", d.Addrs(), "policy", d.cfg.Policy.Name, "source", d.src.Name(),
		"stratum", d.cfg.Settings.Stratum, "refid", ntp.FormatRefID(d.cfg.Settings.RefID, d.cfg.Settings.Stratum),
		"precision", d.cfg.Settings.Precision}
	attrs = append(attrs, tableAttrs(table, now)...)
	if d.cfg.Rehearse != nil {
		attrs = append(attrs, "rehearsal", fmt.Sprintf("%s %+d", d.cfg.Rehearse.At.UTC().Format(time.RFC3339), d.cfg.Rehearse.Delta))
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
	for _, diff := range rep.Differences {
		d.log.Warn("leap files differ", "difference", diff.String())
	}
	d.warnTable(table)
	if !d.src.Synced() {
		d.log.Warn("host clock is not synchronised (adjtimex): answering with LI=3 and stratum 16 until it is; --assume-synced serves anyway")
	}
}

func tableAttrs(t *leap.Table, now time.Time) []any {
	expires := "none stated"
	if !t.Expires.IsZero() {
		expires = t.Expires.UTC().Format(time.RFC3339)
	}
	return []any{"table", t.Source, "verified", t.Verified, "expires", expires, "expired", t.Expired(now), "leaps", len(t.Events)}
}

// warnTable warns of a table that is not verified; expiry is watched by
// Check.
func (d *Daemon) warnTable(t *leap.Table) {
	if !t.Verified {
		d.log.Warn("leap table not verified", "table", t.Source, "verification", t.Verification)
	}
}
