package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
)

// Report is the state of a server as /api/status serves it: the same facts
// as the status page and the metrics. Times are RFC 3339 UTC; "utc" names an
// inserted second 23:59:60.
type Report struct {
	// Healthy and Health are what /healthz answers (strict); Problems
	// lists every problem, worst first (daemon.Status.Problems).
	Healthy  bool     `json:"healthy"`
	Health   string   `json:"health"`
	Problems []string `json:"problems"`
	// HostTime is the host's wall clock at the snapshot.
	HostTime time.Time `json:"host_time"`
	// UTC is true UTC at the snapshot, Served the time served, OffsetNs
	// their difference in nanoseconds, RatePPM the served clock's frequency
	// offset, LeapIndicator the LI replies carry.
	UTC           string    `json:"utc"`
	Served        time.Time `json:"served"`
	OffsetNs      int64     `json:"offset_ns"`
	RatePPM       float64   `json:"rate_ppm"`
	LeapIndicator int       `json:"leap_indicator"`
	// InWindow says whether a leap window is open.
	InWindow bool `json:"in_window"`
	// Policy and Table are the smear policy and the leap table loaded.
	Policy PolicyReport `json:"policy"`
	Table  TableReport  `json:"table"`
	// NextLeap is the first leap whose window has not ended (the rehearsal
	// leap counts), LastLeap the latest whose window has; null when none.
	NextLeap *LeapReport `json:"next_leap"`
	LastLeap *LeapReport `json:"last_leap"`
	// Clock is the clock source, Requests the packet counters, Reloads the
	// leap table reloads.
	Clock    ClockReport  `json:"clock"`
	Requests RequestStats `json:"requests"`
	Reloads  ReloadReport `json:"reloads"`
	// LeapSources is the comparison of the leap seconds announced by the
	// kernel, upstream servers and chronyd with the table.
	LeapSources LeapSourcesReport `json:"leap_sources"`
	// Listen holds the NTP addresses served, Started when the server
	// started, Build the running binary.
	Listen  []string  `json:"listen"`
	Started time.Time `json:"started"`
	Build   BuildInfo `json:"build"`
	// NTS is Network Time Security, absent when it is off.
	NTS *NTSReport `json:"nts,omitempty"`
	// Listeners holds each NTP listen address with its own policy, time
	// and counters, in the order of Listen; the fields above describe the
	// first (time, policy) and the whole server (requests).
	Listeners []ListenerReport `json:"listeners"`
}

// ListenerReport is one NTP listen address.
type ListenerReport struct {
	// Listen is the address; Policy the policy of its NTPv3 and NTPv4
	// replies; V5SmearPolicy the smear of its NTPv5 leap-smeared UTC
	// (null: none offered, such requests get UTC).
	Listen        string       `json:"listen"`
	Policy        PolicyReport `json:"policy"`
	V5SmearPolicy *string      `json:"v5_smear_policy"`
	// OffsetNs, RatePPM, LeapIndicator and InWindow are the listener's
	// time now, as the fields of Report of the same names.
	OffsetNs      int64   `json:"offset_ns"`
	RatePPM       float64 `json:"rate_ppm"`
	LeapIndicator int     `json:"leap_indicator"`
	InWindow      bool    `json:"in_window"`
	// NextLeap is the listener's next window (null when none).
	NextLeap *LeapReport `json:"next_leap"`
	// Requests are the listener's counters.
	Requests RequestStats `json:"requests"`
}

// NTSReport is the state of NTS.
type NTSReport struct {
	// KEListen is the NTS-KE address, NTPServer what it names for NTP.
	KEListen  string `json:"ke_listen"`
	NTPServer string `json:"ntp_server"`
	// KeySource is the cookie key file (or a random key); Keys the keys
	// that open cookies; SealKeyID the one sealing new cookies; NextRotation
	// when the next takes over.
	KeySource    string    `json:"key_source"`
	Keys         int       `json:"keys"`
	SealKeyID    string    `json:"seal_key_id"`
	NextRotation time.Time `json:"next_rotation"`
	// CertificateExpires is the NTS-KE certificate's expiry.
	CertificateExpires time.Time `json:"certificate_expires"`
	// Require says unauthenticated requests are dropped.
	Require bool `json:"require"`
	// HandshakesOK and HandshakesFailed count NTS-KE connections, the
	// failures by reason.
	HandshakesOK     uint64            `json:"handshakes_ok"`
	HandshakesFailed map[string]uint64 `json:"handshakes_failed"`
	// Replies counts authenticated replies; NAKs NTS NAKs by reason
	// (cookie, auth).
	Replies uint64            `json:"replies"`
	NAKs    map[string]uint64 `json:"naks"`
	// ReloadsFailed counts failed reloads of certificate or key file;
	// LastReloadError is the last one's error when it failed.
	ReloadsFailed   uint64 `json:"reloads_failed"`
	LastReloadError string `json:"last_reload_error,omitempty"`
}

// PolicyReport describes the smear policy.
type PolicyReport struct {
	// Name is the preset name or the custom spelling.
	Name string `json:"name"`
	// Shape is step, linear, cosine or quadratic; Window the custom
	// spelling of its window for an inserted second.
	Shape  string `json:"shape"`
	Window string `json:"window"`
	// MaxRatePPM is the largest rate of the served clock (0 for step);
	// Origin says where a preset comes from.
	MaxRatePPM float64 `json:"max_rate_ppm"`
	Origin     string  `json:"origin,omitempty"`
}

// TableReport describes the leap table loaded.
type TableReport struct {
	// Source, Verified, Verification, Updated and Expires are the table's
	// provenance (leap.Table); Updated and Expires are null when unknown.
	Source       string     `json:"source"`
	Verified     bool       `json:"verified"`
	Verification string     `json:"verification"`
	Updated      *time.Time `json:"updated"`
	Expires      *time.Time `json:"expires"`
	// Expired is judged at the snapshot; ExpiresInSeconds is negative once
	// expired, null without an expiry.
	Expired          bool     `json:"expired"`
	ExpiresInSeconds *float64 `json:"expires_in_seconds"`
	// Leaps counts the table's leap seconds (without a rehearsal leap).
	Leaps int `json:"leaps"`
	// Fingerprint identifies the leaps the smear applies (leap.Table.Fingerprint).
	Fingerprint string `json:"fingerprint"`
	// Rehearsal names the synthetic leap added to the smear's table.
	Rehearsal string `json:"rehearsal,omitempty"`
	// Adopted names the leaps adopted into the table from its sources
	// (--adopt-announced-leaps); empty when the table is as loaded.
	Adopted []string `json:"adopted"`
}

// LeapSourcesReport is the state of the leap-source comparison: the last
// comparison in the form of "leapsmear leaps --json" (null before the first
// one ended), when it ended (host clock), how many were made, how often each
// source was found faulty, the adoption quorum (0: never), the leaps adopted
// and, per leap date, why an announced leap was not adopted.
type LeapSourcesReport struct {
	Last        *leapcheck.Report `json:"last"`
	Checked     *time.Time        `json:"checked"`
	Checks      uint64            `json:"checks"`
	Faulty      map[string]uint64 `json:"faulty"`
	AdoptQuorum int               `json:"adopt_quorum"`
	Adopted     []string          `json:"adopted"`
	NotAdopted  map[string]string `json:"not_adopted"`
}

func newLeapSourcesReport(ls daemon.LeapSourcesStatus) LeapSourcesReport {
	r := LeapSourcesReport{Checked: timePtr(ls.Checked), Checks: ls.Checks, Faulty: ls.Faulty, AdoptQuorum: ls.Adopt,
		Adopted: []string{}, NotAdopted: ls.Refused}
	if ls.Result != nil {
		j := ls.Result.Report()
		r.Last = &j
	}
	if r.Faulty == nil {
		r.Faulty = map[string]uint64{}
	}
	if r.NotAdopted == nil {
		r.NotAdopted = map[string]string{}
	}
	for _, e := range ls.Adopted {
		r.Adopted = append(r.Adopted, e.String())
	}
	return r
}

// LeapReport describes one leap and its window.
type LeapReport struct {
	// Leap names the event ("2016-12-31 23:59:60 +1 (TAI-UTC 37)").
	// Effective, Delta, TAIUTC and Synthetic are the leap.Event's fields.
	Leap      string    `json:"leap"`
	Effective time.Time `json:"effective"`
	Delta     int       `json:"delta"`
	TAIUTC    int       `json:"tai_utc"`
	Synthetic bool      `json:"synthetic"`
	// WindowOpens and WindowCloses are UTC labels; the seconds are counted
	// from the snapshot (negative in the past).
	WindowOpens        string  `json:"window_opens"`
	WindowCloses       string  `json:"window_closes"`
	SecondsUntilLeap   float64 `json:"seconds_until_leap"`
	SecondsUntilOpens  float64 `json:"seconds_until_window_opens"`
	SecondsUntilCloses float64 `json:"seconds_until_window_closes"`
}

// ClockReport describes the clock source.
type ClockReport struct {
	Source       string `json:"source"`
	Synchronized bool   `json:"synchronized"`
	// SyncAssumed says Synchronized is only assumed (assume-synced) while
	// adjtimex says the host clock is not synchronised.
	SyncAssumed bool `json:"sync_assumed"`
	// Steps counts host clock steps followed; KernelLeaps the host's own
	// leaps recognised and not followed.
	Steps       uint64 `json:"steps"`
	KernelLeaps uint64 `json:"kernel_leaps"`
	// HostOffsetNs is the host clock minus the anchor's prediction.
	HostOffsetNs int64 `json:"host_offset_ns"`
	ShiftNs      int64 `json:"shift_ns"`
}

// RequestStats are the packet counters.
type RequestStats struct {
	// Received datagrams; Replies with time (NTPv3 and NTPv4 without NTS),
	// RepliesV5 NTPv5 replies by timescale served (utc, tai, smeared) and
	// KoD (RATE) sent; Dropped by reason (server.Verdict names); SendErrors
	// (refused by the kernel) and SendDropped (send buffer full).
	Received    uint64            `json:"received"`
	Replies     uint64            `json:"replies"`
	RepliesV5   map[string]uint64 `json:"replies_v5"`
	KoD         uint64            `json:"kod"`
	Dropped     map[string]uint64 `json:"dropped"`
	SendErrors  uint64            `json:"send_errors"`
	SendDropped uint64            `json:"send_dropped"`
}

// ReloadReport counts leap table reloads.
type ReloadReport struct {
	// Tried and Failed count reloads; LastError is the last one's error
	// when it failed.
	Tried     uint64 `json:"tried"`
	Failed    uint64 `json:"failed"`
	LastError string `json:"last_error,omitempty"`
}

// NewReport turns a status snapshot into a Report.
func NewReport(st daemon.Status) Report {
	s := st.Smear
	pol := s.Policy()
	t := st.Table
	ok, health := Health(st, true)
	r := Report{
		Healthy: ok, Health: health,
		HostTime:      st.Host.UTC(),
		UTC:           st.Label.String(),
		Served:        st.Served.Time(),
		OffsetNs:      st.Offset.Nanoseconds(),
		RatePPM:       st.RatePPM,
		LeapIndicator: leapIndicator(st),
		InWindow:      st.InWindow,
		Policy:        policyReport(pol),
		Table: TableReport{Source: t.Source, Verified: t.Verified, Verification: t.Verification,
			Updated: timePtr(t.Updated), Expires: timePtr(t.Expires), Expired: st.Expired(),
			Leaps: len(t.Events), Fingerprint: s.Table().Fingerprint()},
		Clock: ClockReport{Source: st.Clock.Source, Synchronized: st.Synced, SyncAssumed: st.SyncAssumed, Steps: st.Clock.Steps,
			KernelLeaps: st.Clock.KernelLeaps, HostOffsetNs: int64(st.Clock.Offset), ShiftNs: int64(st.Clock.Shift)},
		Requests:    requestStats(st.Packets),
		Reloads:     ReloadReport{Tried: st.Reloads, Failed: st.ReloadFailures, LastError: st.ReloadError},
		LeapSources: newLeapSourcesReport(st.LeapSources),
		Listen:      st.Listen,
		Started:     st.Started.UTC(),
		Build:       Build(),
	}
	r.Problems = []string{}
	for _, p := range st.Problems() {
		r.Problems = append(r.Problems, p.Text)
	}
	if !t.Expires.IsZero() {
		left := t.Expires.Sub(st.UTC()).Seconds()
		r.Table.ExpiresInSeconds = &left
	}
	if st.Rehearsal != nil {
		r.Table.Rehearsal = s.Table().Source
	}
	r.Table.Adopted = r.LeapSources.Adopted
	for _, l := range st.Listeners {
		lr := ListenerReport{Listen: l.Addr, Policy: policyReport(l.Smear.Policy()), OffsetNs: l.Offset.Nanoseconds(),
			RatePPM: l.RatePPM, LeapIndicator: l.LI, InWindow: l.InWindow, Requests: requestStats(l.Packets)}
		if l.V5Smear != nil {
			name := l.V5Smear.Policy().Name
			lr.V5SmearPolicy = &name
		}
		if l.HasNext {
			lr.NextLeap = leapReport(st, l.Next)
		}
		r.Listeners = append(r.Listeners, lr)
	}
	if n := st.NTS; n != nil {
		r.NTS = &NTSReport{KEListen: n.KEListen, NTPServer: n.NTPServer, KeySource: n.KeySource, Keys: n.Keys,
			SealKeyID: fmt.Sprintf("%#08x", n.SealKeyID), NextRotation: n.NextRotation.UTC(),
			CertificateExpires: n.CertNotAfter.UTC(), Require: n.Require,
			HandshakesOK: n.KE.OK, HandshakesFailed: n.KE.Failed,
			Replies:       st.Packets.Verdicts[server.AnsweredNTS],
			NAKs:          map[string]uint64{"cookie": st.Packets.Verdicts[server.NAKCookie], "auth": st.Packets.Verdicts[server.NAKAuth]},
			ReloadsFailed: n.ReloadFailures, LastReloadError: n.ReloadError}
	}
	if st.HasNext {
		r.NextLeap = leapReport(st, st.Next)
	}
	if st.HasLast {
		r.LastLeap = leapReport(st, st.Last)
	}
	return r
}

func policyReport(pol smear.Policy) PolicyReport {
	return PolicyReport{Name: pol.Name, Shape: pol.Shape.String(), Window: pol.Spec(1),
		MaxRatePPM: finiteOrZero(pol.MaxRatePPM(1)), Origin: pol.Origin}
}

func requestStats(p server.Stats) RequestStats {
	r := RequestStats{Received: p.Received, Replies: p.Verdicts[server.Answered], RepliesV5: map[string]uint64{},
		KoD: p.Verdicts[server.Kissed], Dropped: map[string]uint64{}, SendErrors: p.SendErrors, SendDropped: p.SendDropped}
	for _, v := range server.V5Verdicts() {
		ts, _ := v.Timescale()
		r.RepliesV5[ts.String()] = p.Verdicts[v]
	}
	for _, v := range server.DropReasons() {
		r.Dropped[v.String()] = p.Verdicts[v]
	}
	return r
}

func leapReport(st daemon.Status, w smear.Window) *LeapReport {
	t := st.Smear.Table()
	e := w.Event
	return &LeapReport{Leap: e.String(), Effective: e.Effective.UTC(), Delta: e.Delta, TAIUTC: e.TAIUTC, Synthetic: e.Synthetic,
		WindowOpens: t.LabelFromTAI(w.Start).String(), WindowCloses: t.LabelFromTAI(w.End).String(),
		SecondsUntilLeap:   st.Until(e.Jump()).Seconds(),
		SecondsUntilOpens:  st.Until(w.Start).Seconds(),
		SecondsUntilCloses: st.Until(w.End).Seconds()}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// finiteOrZero maps the step policy's infinite rate to 0 (JSON has no
// infinity).
func finiteOrZero(v float64) float64 {
	if v > 1e300 {
		return 0
	}
	return v
}

func serveJSON(w http.ResponseWriter, d Daemon) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(NewReport(d.Status()))
}
