package daemon

import (
	"time"

	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

// Status is a snapshot of a running daemon, for metrics, health checks and
// the status page.
type Status struct {
	// Host is the host's wall clock when the snapshot was taken.
	Host time.Time
	// TAI is the source's reading on the continuous scale (shifted when
	// replaying), and Label names it in UTC by the smear's table.
	TAI   leap.TAI
	Label leap.Label
	// Served is the time served at TAI.
	Served smear.Time
	// Offset is the served time minus true UTC.
	Offset time.Duration
	// RatePPM is the frequency offset of the served clock.
	RatePPM float64
	// Smear is the smear in use; its table carries the rehearsal leap, if
	// any.
	Smear *smear.Smear
	// Table is the leap table loaded (without the rehearsal leap).
	Table *leap.Table
	// Next is the first window that has not ended (the one in progress or
	// the next to come), when HasNext; InWindow says whether TAI is inside
	// it.
	Next     smear.Window
	HasNext  bool
	InWindow bool
	// Last is the latest window that has ended, when HasLast.
	Last    smear.Window
	HasLast bool
	// Synced is the source's sync status; SyncAssumed says it is only
	// assumed (assume-synced) while adjtimex says the host clock is not
	// synchronised. Clock holds the source's counters.
	Synced      bool
	SyncAssumed bool
	Clock       timescale.Stats
	// Packets are the server's counters, summed over sockets.
	Packets server.Stats
	// Reloads and ReloadFailures count SIGHUP reloads; ReloadError is the
	// error of the last one if it failed.
	Reloads, ReloadFailures uint64
	ReloadError             string
	// Listen holds the bound NTP addresses; Started when the daemon started.
	Listen  []string
	Started time.Time
	// Rehearsal is the synthetic leap added to the smear's table, if any.
	Rehearsal *leap.Rehearsal
	// Settings are the fixed reply fields.
	Settings server.Settings
	// LeapSources is the state of the comparison of leap announcements
	// with the table.
	LeapSources LeapSourcesStatus
	// NTS is the state of Network Time Security, nil when it is off.
	NTS *NTSStatus
	// Listeners holds each listen address's policy, time and counters, in
	// the order of Listen. The fields above describe the first listener
	// (Smear, Offset, RatePPM, Next, ...) and the whole server (Packets).
	Listeners []ListenerStatus
	// V5Policy is the NTPv5 smear policy given for every listener; nil when
	// each offers its own (ListenerStatus.V5Smear).
	V5Policy *smear.Policy
}

// ListenerStatus is one listen address of a snapshot.
type ListenerStatus struct {
	// Addr is the bound address.
	Addr string
	// Smear is the listener's policy applied to the table (with the
	// rehearsal leap): its NTPv3 and NTPv4 time. V5Smear is its NTPv5
	// leap-smeared UTC, nil when it offers none.
	Smear, V5Smear *smear.Smear
	// Served, Offset and RatePPM are the listener's time at the snapshot,
	// its offset from true UTC and its rate; LI the leap indicator its
	// NTPv4 replies carry (3 when unsynchronised).
	Served  smear.Time
	Offset  time.Duration
	RatePPM float64
	LI      int
	// Next is the listener's first window that has not ended, when HasNext;
	// InWindow says whether the snapshot is inside it.
	Next              smear.Window
	HasNext, InWindow bool
	// Packets are the listener's counters.
	Packets server.Stats
}

// Status takes a snapshot of the daemon. It reads the clock once and sums
// the counters; it adds no work to the served path.
func (d *Daemon) Status() Status {
	s := d.Smear()
	x := d.src.Now().TAI
	st := Status{
		Host:     d.hostNow(),
		TAI:      x,
		Label:    s.Table().LabelFromTAI(x),
		Served:   s.Served(x),
		Offset:   s.Offset(x),
		RatePPM:  s.RatePPM(x),
		Smear:    s,
		Table:    d.Table(),
		Synced:   d.src.Synced(),
		Clock:    d.src.Stats(),
		Packets:  d.Stats(),
		Listen:   d.Addrs(),
		Started:  d.started,
		Settings: d.cfg.Settings,
	}
	st.Reloads, st.ReloadFailures, st.ReloadError = d.ReloadStats()
	st.LeapSources = d.LeapSourcesStatus()
	st.NTS = d.NTSStatus()
	st.SyncAssumed = d.cfg.Source.AssumeSynced && (st.Clock.KernelErr != "" || !st.Clock.Kernel.Synced())
	if r := d.cfg.Rehearse; r != nil {
		rc := *r
		st.Rehearsal = &rc
	}
	for _, l := range d.srv.Listeners() {
		sm := l.Responder.Smears()
		ls := ListenerStatus{Addr: l.Addr.String(), Smear: sm.Policy, V5Smear: sm.Smeared,
			Served: sm.Policy.Served(x), Offset: sm.Policy.Offset(x), RatePPM: sm.Policy.RatePPM(x),
			LI: sm.Policy.LI(x), Packets: l.Stats}
		if !st.Synced {
			ls.LI = 3
		}
		ls.Next, ls.HasNext = sm.Policy.Next(x)
		ls.InWindow = ls.HasNext && x >= ls.Next.Start
		st.Listeners = append(st.Listeners, ls)
	}
	st.V5Policy = d.cfg.V5Policy
	st.Next, st.HasNext = s.Next(x)
	st.InWindow = st.HasNext && x >= st.Next.Start
	for _, w := range s.Windows() {
		if w.End > x {
			break
		}
		st.Last, st.HasLast = w, true
	}
	return st
}

// Expired reports whether the leap table had expired at the snapshot, on
// the served clock (a replay past the table's expiry reports it expired).
func (st Status) Expired() bool { return st.Table.Expired(st.UTC()) }

// TableProblems returns what is wrong with the leap table at the snapshot,
// on the served clock, worst first.
func (st Status) TableProblems() []leap.Problem { return st.Table.Problems(st.UTC()) }

// UTC returns true UTC at the snapshot (POSIX, repeating 23:59:59 during an
// inserted second).
func (st Status) UTC() time.Time {
	return st.Smear.Table().UnixFromTAI(st.TAI).Time()
}

// Until returns how long after the snapshot the TAI instant x comes (negative
// when it has passed).
func (st Status) Until(x leap.TAI) time.Duration { return time.Duration(x - st.TAI) }
