package daemon

import (
	"sync"
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/smear"
)

// expiryWarnings are how long before a leap table expires the daemon warns,
// once each; it warns once more when the table has expired. The first is
// leap.ExpiresSoonWithin.
var expiryWarnings = [...]time.Duration{leap.ExpiresSoonWithin, 7 * 24 * time.Hour, 24 * time.Hour}

// watchState is what Check remembers between calls.
type watchState struct {
	mu sync.Mutex
	// table is the table the expiry level belongs to; level counts the
	// expiryWarnings crossed and logged (len+1 once expired).
	table *leap.Table
	level int
	// bcastFailing: the host's interface addresses could not be read at
	// the last check (warned about once).
	bcastFailing bool
}

// windowWatch is what Check remembers of one listener's windows: the smear
// and the window it saw last (the first window not ended), and whether the
// instant was inside it.
type windowWatch struct {
	smear  *smear.Smear
	win    smear.Window
	hasWin bool
	inside bool
}

func (d *Daemon) startChecks() {
	d.Check()
	interval := d.cfg.CheckInterval
	if interval == 0 {
		interval = DefaultCheckInterval
	}
	if interval < 0 {
		close(d.watchDone)
		return
	}
	go func() {
		defer close(d.watchDone)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-tick.C:
				d.Check()
			}
		}
	}()
}

// Check runs the daemon's periodic checks once: it warns when the leap table
// comes within 30, 7 and 1 days of its expiry and when it has expired (once
// each per table, judged on the served clock: a replay past the table's
// expiry reports it expired), logs when a leap window opens and closes, and
// reads the directed broadcast addresses of the host's subnets again
// (requests from them are dropped; interfaces come and go). The background
// checks call it every CheckInterval, a reload once more; it is cheap (one
// clock reading, a binary search, and one netlink dump of the interface
// addresses, some 35 us), and tests may call it directly.
func (d *Daemon) Check() {
	d.watch.mu.Lock()
	defer d.watch.mu.Unlock()
	d.refreshBroadcasts()
	d.checkExpiry(d.Table(), d.servedNow())
	x := d.src.Now().TAI
	dsp := d.rootDispersion()
	for _, l := range d.listeners {
		d.checkWindow(l, x)
		l.resp.SetRootDispersion(dsp)
	}
	d.rotateNTS(d.hostNow())
}

// expiryLevel counts the warnings due for table t at now: how many of
// expiryWarnings are crossed, plus one once it has expired.
func expiryLevel(t *leap.Table, now time.Time) int {
	if t.Expired(now) {
		return len(expiryWarnings) + 1
	}
	left := t.Expires.Sub(now)
	n := 0
	for _, w := range expiryWarnings {
		if left <= w {
			n++
		}
	}
	return n
}

func (d *Daemon) checkExpiry(t *leap.Table, now time.Time) {
	w := &d.watch
	level := expiryLevel(t, now)
	if t != w.table {
		// A new table (start or reload): warn once of where it stands.
		w.table, w.level = t, 0
	}
	if level <= w.level {
		return
	}
	w.level = level
	for _, p := range t.Problems(now) {
		if p.Kind == leap.Unverified {
			continue // warned about when the table is loaded
		}
		attrs := []any{"table", t.Source}
		if !t.Expires.IsZero() {
			attrs = append(attrs, "expires", t.Expires.UTC().Format(time.RFC3339), "expires_in", t.Expires.Sub(now).Round(time.Second).String())
		}
		d.log.Warn(p.String(), attrs...)
	}
}

// checkWindow logs the window edges of listener l crossed since the last
// check at x. With several listeners, each logs its own, naming its
// address.
func (d *Daemon) checkWindow(l *listenerState, x leap.TAI) {
	s := l.resp.Smear()
	w := &l.watch
	windowAttrs := baseWindowAttrs
	if len(d.listeners) > 1 {
		windowAttrs = func(s *smear.Smear, win smear.Window, x leap.TAI) []any {
			return append([]any{"listen", l.bound}, baseWindowAttrs(s, win, x)...)
		}
	}
	win, ok := s.Next(x)
	inside := ok && x >= win.Start
	if w.smear == nil {
		// First check: say so if a smear is in progress.
		w.smear, w.win, w.hasWin, w.inside = s, win, ok, inside
		if inside {
			d.log.Info("leap window open: smear in progress", windowAttrs(s, win, x)...)
		}
		return
	}
	sameWin := ok && w.hasWin && win.Start == w.win.Start && win.Event.Effective.Equal(w.win.Event.Effective)
	if w.hasWin && !sameWin && x >= w.win.End {
		// The window seen last has ended since.
		switch {
		case w.win.Start == w.win.End:
			d.log.Info("leap second stepped", windowAttrs(w.smear, w.win, x)...)
		case !w.inside:
			d.log.Info("leap window opened", windowAttrs(w.smear, w.win, x)...)
			d.log.Info("leap window closed", windowAttrs(w.smear, w.win, x)...)
		default:
			d.log.Info("leap window closed", windowAttrs(w.smear, w.win, x)...)
		}
	}
	if inside && (!sameWin || !w.inside) {
		d.log.Info("leap window opened", windowAttrs(s, win, x)...)
	}
	w.smear, w.win, w.hasWin, w.inside = s, win, ok, inside
}

func baseWindowAttrs(s *smear.Smear, w smear.Window, x leap.TAI) []any {
	t := s.Table()
	return []any{"leap", w.Event.String(), "policy", s.Policy().Name,
		"window_opens", t.LabelFromTAI(w.Start).String(), "window_closes", t.LabelFromTAI(w.End).String(),
		"utc", t.LabelFromTAI(x).String(), "offset_ns", s.Offset(x)}
}

// rootDispersion is what replies announce: the configured floor plus the
// host clock's maximum error as its time daemon keeps it in the kernel
// (adjtimex maxerror, which the kernel grows by 500 us a second while
// nobody updates it). While synchronisation is only assumed the kernel's
// figure means nothing (16 s on a host nobody synchronises, which every
// client would reject), and the floor alone is announced.
func (d *Daemon) rootDispersion() time.Duration {
	floor := d.cfg.Settings.RootDispersion
	st := d.src.Stats()
	if st.KernelErr != "" || !st.Kernel.Synced() {
		return floor
	}
	return min(floor+st.Kernel.MaxError, ntp.MaxShort)
}

// refreshBroadcasts reads the host's directed broadcast addresses again and
// logs when they change, or when they cannot be read (once, until they can:
// the last ones read stay refused meanwhile).
func (d *Daemon) refreshBroadcasts() {
	w := &d.watch
	changed, err := d.srv.RefreshBroadcasts()
	if err != nil {
		if !w.bcastFailing {
			d.log.Warn("cannot read the host's interface addresses; still dropping requests from the broadcast addresses read last",
				"error", err, "broadcasts", d.srv.Broadcasts().Addrs())
		}
		w.bcastFailing = true
		return
	}
	if w.bcastFailing {
		d.log.Info("the host's interface addresses can be read again")
	}
	w.bcastFailing = false
	if changed {
		d.log.Info("the host's broadcast addresses changed; requests from them are dropped", "broadcasts", d.srv.Broadcasts().Addrs())
	}
}
