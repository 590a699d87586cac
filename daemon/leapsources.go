package daemon

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/option"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/leapsource"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
)

// LeapSources configures the periodic comparison of the leap seconds that the
// host kernel, upstream NTP servers, chronyd and ptp4l announce with the leap table
// (packages leapsource and leapcheck). The kernel is always compared unless
// IgnoreKernel.
type LeapSources struct {
	// Upstreams are NTP servers (host:port) whose leap indicator is read.
	Upstreams []string
	// ChronySocket is chronyd's command socket; empty means none.
	ChronySocket string
	// PTPSocket is ptp4l's management socket; empty means none.
	PTPSocket string
	// IgnoreKernel leaves out the leap the host kernel has armed (read with
	// Source.Kernel, or adjtimex read-only).
	IgnoreKernel bool
	// Months are the months at whose end a source may announce a leap; zero
	// means June and December.
	Months leapcheck.Months
	// Adopt, when positive, adopts a leap that the table does not have
	// (unknown-leap) once at least Adopt independent sources announce it,
	// unless the policy's window for it has already opened: the leap goes
	// into the served table and is smeared like any other.
	Adopt int
	// Interval is the period of the check, LastDayInterval its period
	// during the last UTC day of a month (on the served clock); zero means
	// leapsource.DefaultInterval and leapsource.DefaultLastDayInterval. A
	// negative Interval runs no periodic check (call CheckLeapSources), nor
	// does a zero one when the daemon's CheckInterval is negative.
	Interval, LastDayInterval time.Duration
	// Timeout bounds the reading of each source; zero means
	// leapsource.DefaultTimeout.
	Timeout time.Duration
}

// Validate checks the options; its errors name them.
func (c LeapSources) Validate() error {
	for _, u := range c.Upstreams {
		if strings.TrimSpace(u) == "" || strings.ContainsAny(u, " /") {
			return option.Errorf("upstream", u, "want HOST:PORT such as 192.0.2.1:123")
		}
	}
	switch {
	case c.Adopt < 0:
		return option.Errorf("adopt-announced-leaps", c.Adopt, "want 0 (never adopt) or the number of independent sources that must agree")
	case c.LastDayInterval < 0:
		return option.Errorf("leap-check-last-day", c.LastDayInterval, "cannot be negative")
	case c.Timeout < 0:
		return option.Errorf("source-timeout", c.Timeout, "cannot be negative")
	}
	return nil
}

// LeapSourcesStatus is the state of the leap-source comparison.
type LeapSourcesStatus struct {
	// Result is the last comparison, nil before the first one ended.
	Result *leapcheck.Result
	// Checked is when it ended, on the host clock.
	Checked time.Time
	// Checks counts comparisons made.
	Checks uint64
	// Faulty counts, per source, the comparisons that found it faulty.
	Faulty map[string]uint64
	// Adopt is the configured quorum (0: never adopt).
	Adopt int
	// Adopted are the leaps adopted into the served table, oldest first.
	Adopted []leap.Event
	// Refused says, per leap date, why an announced leap was not adopted
	// (its window had opened).
	Refused map[string]string
}

// leapState is the daemon's side of the leap-source comparison.
type leapState struct {
	sources []leapsource.Source
	opt     leapcheck.Options
	done    chan struct{}

	mu      sync.Mutex // serialises checks; guards the fields below
	result  *leapcheck.Result
	checked time.Time
	checks  uint64
	faulty  map[string]uint64
	refused map[string]string

	// adopted are guarded by adoptMu, taken last (after mu, and after the
	// daemon's reload mutex).
	adoptMu sync.Mutex
	adopted []leap.Event

	files atomic.Pointer[leap.Table] // the table as loaded, without adopted leaps
}

// newLeapState builds the sources cfg names.
func (d *Daemon) newLeapState() {
	c := d.cfg.LeapSources
	ls := &d.leaps
	ls.opt = leapcheck.Options{Months: c.Months}
	ls.faulty = map[string]uint64{}
	ls.refused = map[string]string{}
	ls.done = make(chan struct{})
	if !c.IgnoreKernel {
		ls.sources = append(ls.sources, leapsource.NewKernel(d.cfg.Source.Kernel))
	}
	for _, u := range c.Upstreams {
		ls.sources = append(ls.sources, leapsource.NewNTP(u, client.Options{Timeout: c.Timeout}))
	}
	if c.ChronySocket != "" {
		ls.sources = append(ls.sources, leapsource.NewChrony(c.ChronySocket))
	}
	if c.PTPSocket != "" {
		ls.sources = append(ls.sources, leapsource.NewPTP(c.PTPSocket))
	}
}

// startLeapChecks runs CheckLeapSources at once and then on the schedule of
// leapsource.NextCheck, judged on the served clock, until Close.
func (d *Daemon) startLeapChecks() {
	c := d.cfg.LeapSources
	if c.Interval < 0 || c.Interval == 0 && d.cfg.CheckInterval < 0 {
		close(d.leaps.done)
		return
	}
	interval, lastDay := c.Interval, c.LastDayInterval
	if interval == 0 {
		interval = leapsource.DefaultInterval
	}
	if lastDay == 0 {
		lastDay = leapsource.DefaultLastDayInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-d.stop
		cancel()
	}()
	go func() {
		defer close(d.leaps.done)
		for {
			d.CheckLeapSources(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(leapsource.NextCheck(d.servedNow(), interval, lastDay)):
			}
		}
	}()
}

// checkTable is the table the sources are compared with: the one loaded
// from the files (adopted leaps are not the publisher's), with the
// rehearsal leap when rehearsing, so that a rehearsal at a month end can
// rehearse the comparison too.
func (d *Daemon) checkTable() *leap.Table {
	t := d.leaps.files.Load()
	if r := d.cfg.Rehearse; r != nil {
		if rt, err := t.WithRehearsal(r.At, r.Delta); err == nil {
			return rt
		}
	}
	return t
}

// CheckLeapSources reads the leap sources once, compares them with the
// table on the served clock, logs a change of verdict, counts faulty
// sources, and adopts an unknown leap when the configuration says so. The
// periodic check calls it; tests may call it directly.
func (d *Daemon) CheckLeapSources(ctx context.Context) leapcheck.Result {
	ls := &d.leaps
	ls.mu.Lock()
	defer ls.mu.Unlock()
	at := d.servedNow()
	r := leapsource.Check(ctx, d.checkTable(), at, ls.sources, d.cfg.LeapSources.Timeout, ls.opt)
	if ctx.Err() != nil {
		return r // stopping: the sources were cut short
	}
	prev := ls.result
	ls.result, ls.checked = &r, d.hostNow()
	ls.checks++
	for _, n := range r.Faulty() {
		ls.faulty[n]++
	}
	d.logVerdict(prev, r)
	if n := d.cfg.LeapSources.Adopt; n > 0 {
		for _, a := range r.Adoptable(n) {
			d.adopt(a, r)
		}
	}
	return r
}

// logVerdict logs the comparison when its verdict, its leap or the set of
// unreadable sources changed since the previous one.
func (d *Daemon) logVerdict(prev *leapcheck.Result, r leapcheck.Result) {
	names := func(r *leapcheck.Result) []string {
		var out []string
		for _, o := range r.Unreadable() {
			out = append(out, o.Name)
		}
		return out
	}
	leapOf := func(r *leapcheck.Result) string {
		if r.Leap == nil {
			return ""
		}
		return r.Leap.String()
	}
	if prev != nil && prev.Verdict == r.Verdict && leapOf(prev) == leapOf(&r) && slices.Equal(names(prev), names(&r)) &&
		slices.Equal(prev.Faulty(), r.Faulty()) {
		return
	}
	attrs := []any{"verdict", r.Verdict.String(), "at", r.At.Format(time.RFC3339)}
	if r.Leap != nil {
		attrs = append(attrs, "leap", r.Leap.String(), "effective", r.Leap.Effective().Format(time.RFC3339))
	}
	if f := r.Faulty(); len(f) > 0 {
		attrs = append(attrs, "faulty", f)
	}
	if u := names(&r); len(u) > 0 {
		attrs = append(attrs, "unreadable", u)
	}
	if len(r.Problems) > 0 {
		attrs = append(attrs, "problems", r.Problems)
	}
	switch {
	case r.Verdict == leapcheck.UnknownLeap:
		d.log.Error("leap sources: a leap second the table does not have is announced; refresh the table", attrs...)
	case r.Verdict == leapcheck.FaultySource:
		d.log.Warn("leap sources: a faulty source announces a leap second on a wrong date; it is not followed", attrs...)
	case len(r.Problems) > 0:
		d.log.Warn("leap sources: "+r.Verdict.String(), attrs...)
	default:
		d.log.Info("leap sources: "+r.Verdict.String(), attrs...)
	}
}

// adopt puts the announced leap a into the served table, unless its window
// has opened. Called with leaps.mu held.
func (d *Daemon) adopt(a leapcheck.Announcement, r leapcheck.Result) {
	ls := &d.leaps
	key := a.String()
	if _, refused := ls.refused[key]; refused {
		return
	}
	d.mu.Lock() // no reload in between
	defer d.mu.Unlock()
	ls.adoptMu.Lock()
	defer ls.adoptMu.Unlock()
	for _, e := range ls.adopted {
		if e.Effective.Equal(a.Effective()) {
			return // adopted already
		}
	}
	var announcing []string
	for _, f := range r.Findings {
		if f.Leap == a {
			announcing = f.Announcing
		}
	}
	attrs := []any{"leap", key, "effective", a.Effective().Format(time.RFC3339), "sources", announcing,
		"quorum", d.cfg.LeapSources.Adopt, "policy", d.listeners[0].Policy.Name}
	table, err := d.Table().WithAdopted(a.Effective(), a.Sign)
	var smears []server.Smears
	if err == nil {
		smears, err = d.buildSmears(table)
	}
	if err != nil {
		ls.refused[key] = err.Error()
		d.log.Error("leap sources: cannot adopt the announced leap second", append(attrs, "error", err)...)
		return
	}
	x := d.src.Now().TAI
	// Every listener's smears must be before the leap's window: one already
	// inside it (the NTPv5 smear too) would jump.
	for _, sm := range smears {
		for _, s := range []*smear.Smear{sm.Policy, sm.Smeared} {
			if s == nil {
				continue
			}
			for _, w := range s.Windows() {
				if w.Event.Adopted && w.Event.Effective.Equal(a.Effective()) && x >= w.Start {
					ls.refused[key] = fmt.Sprintf("learned after its smear window opened at %s: adopting it now would make clients jump",
						s.Table().LabelFromTAI(w.Start))
					d.log.Error("leap sources: announced leap second NOT adopted: its smear window has already opened, and adopting it now would make clients jump; the host's and clients' own leap handling apply",
						append(attrs, "window_opened", s.Table().LabelFromTAI(w.Start).String())...)
					return
				}
			}
		}
	}
	s := smears[0].Policy
	d.table.Store(table)
	d.src.SetTable(table)
	for i, l := range d.listeners {
		l.resp.SetSmears(smears[i])
	}
	ls.adopted = append(ls.adopted, table.Events[len(table.Events)-1])
	if w, ok := s.Next(x); ok {
		attrs = append(attrs, "window_opens", s.Table().LabelFromTAI(w.Start).String(), "window_closes", s.Table().LabelFromTAI(w.End).String())
	}
	d.log.Warn("leap sources: adopted an announced leap second that the table does not have; it is smeared like any other: refresh the table", attrs...)
}

// readopt re-applies the adopted leaps to a freshly loaded table: one the
// table now has is confirmed, one it rules out (unexpired and reaching that
// date) is dropped, the others are kept. Called with d.mu held.
func (d *Daemon) readopt(t *leap.Table) *leap.Table {
	ls := &d.leaps
	ls.adoptMu.Lock()
	defer ls.adoptMu.Unlock()
	var keep []leap.Event
	for _, e := range ls.adopted {
		if has, ok := t.Find(e.Day()); ok && has.Delta == e.Delta {
			d.log.Info("leap sources: the reloaded table has the adopted leap second", "leap", has.String())
			continue
		}
		if !t.Expired(d.servedNow()) && !e.Effective.After(t.Expires) {
			d.log.Error("leap sources: the reloaded table rules out the adopted leap second; dropped", "leap", e.String(), "table", t.Source)
			continue
		}
		nt, err := t.WithAdopted(e.Effective, e.Delta)
		if err != nil {
			d.log.Error("leap sources: cannot keep the adopted leap second", "leap", e.String(), "error", err)
			continue
		}
		t = nt
		keep = append(keep, e)
	}
	ls.adopted = keep
	return t
}

// LeapSourcesStatus returns the state of the leap-source comparison.
func (d *Daemon) LeapSourcesStatus() LeapSourcesStatus {
	ls := &d.leaps
	ls.mu.Lock()
	st := LeapSourcesStatus{Result: ls.result, Checked: ls.checked, Checks: ls.checks, Adopt: d.cfg.LeapSources.Adopt,
		Faulty: maps.Clone(ls.faulty), Refused: maps.Clone(ls.refused)}
	ls.mu.Unlock()
	ls.adoptMu.Lock()
	st.Adopted = slices.Clone(ls.adopted)
	ls.adoptMu.Unlock()
	return st
}

// problems words the comparison's findings for Status.Problems: an unknown
// leap is Failing (the table is stale: /healthz fails), the rest (faulty or
// unreadable sources, adopted leaps, last-day warnings) are Warnings.
func (ls LeapSourcesStatus) problems() []Problem {
	var ps []Problem
	if r := ls.Result; r != nil {
		sev := Warning
		if r.Verdict == leapcheck.UnknownLeap {
			sev = Failing
		}
		for _, p := range r.Problems {
			if strings.HasPrefix(p, "leap table ") {
				continue // the table's own expiry: a table problem already
			}
			s := Warning
			if strings.HasPrefix(p, "unknown leap:") {
				s = sev
			}
			ps = append(ps, Problem{s, "leap sources: " + p})
		}
	}
	for _, e := range ls.Adopted {
		ps = append(ps, Problem{Warning, fmt.Sprintf("leap sources: adopted the leap second %s, announced by the sources but not in the leap table: refresh the table", e)})
	}
	return ps
}
