package admin

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/leapcheck"
	"github.com/leapsmear/leapsmear/ntske"
	"github.com/leapsmear/leapsmear/ratelimit"
	"github.com/leapsmear/leapsmear/server"
)

// MetricPrefix starts the name of every leapsmear metric.
const MetricPrefix = "leapsmear_"

// metric describes one metric of the collector.
func metric(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(MetricPrefix+name, help, labels, nil)
}

// The metrics, each read from a daemon.Status at scrape time.
var (
	descReceived = metric("requests_received_total", "NTP datagrams received.")
	descReplies  = metric("replies_sent_total", "Replies with time built for clients (mode 4) of NTPv3 and NTPv4 without NTS (NTS: nts_replies_total; NTPv5: v5_replies_total).")
	descV5       = metric("v5_replies_total", "NTPv5 replies with time, by the timescale served (utc, tai, smeared).", "timescale")
	descKoD      = metric("kod_sent_total", "RATE Kiss-o'-Death replies sent to clients over their rate.")
	descDropped  = metric("packets_dropped_total", "Datagrams left unanswered, by reason.", "reason")
	descSendErrs = metric("send_errors_total", "Replies not sent, by reason: refused (the kernel refused the datagram; read errors count here too), buffer_full (dropped: the socket's send buffer was full).", "reason")

	descRLEntries   = metric("rate_limit_entries", "Sources the rate limiter's table can hold (--rate-entries rounded up to a power of two); 0 when rate limiting is off.")
	descRLInUse     = metric("rate_limit_entries_in_use", "Slots of the rate limiter's table that hold a source (slots are reused, never freed).")
	descRLInserted  = metric("rate_limit_insertions_total", "New sources given a slot of the rate limiter's table (first seen, or seen again after being replaced).")
	descRLEvictions = metric("rate_limit_evictions_total", "Sources forgotten by the rate limiter while still holding spent credit, to make room for new ones: each starts again with a full burst (the limiter fails open). Sustained evictions mean the table is too small for the sources it sees.")

	descOffset    = metric("offset_seconds", "Served time minus true UTC now, in seconds (0 outside leap windows, up to ±1 inside).")
	descRate      = metric("frequency_offset_ratio", "Frequency offset of the served clock now, as a ratio: -1.1574e-05 is 11.574 ppm slow (negative while an inserted second is smeared).")
	descLI        = metric("leap_indicator", "Leap indicator announced now: 0 none, 1 insert, 2 delete (step policy only), 3 unsynchronised.")
	descInWindow  = metric("smear_window_active", "1 while the served time is inside a leap window.")
	descScheduled = metric("next_leap_scheduled", "1 when the table (with the rehearsal leap, if any) has a leap whose window has not ended.")
	descNextLeap  = metric("next_leap_seconds", "Seconds until the next leap second starts (23:59:60, or the deleted 23:59:59); negative once it has passed while its window is still open.")
	descNextOpen  = metric("next_leap_window_opens_seconds", "Seconds until the window of the next leap opens; negative once it is open.")
	descNextClose = metric("next_leap_window_closes_seconds", "Seconds until the window of the next leap closes.")
	descNextInfo  = metric("next_leap_info", "The next leap: its name, sign, and whether it is a rehearsal leap.", "leap", "delta", "synthetic")

	descExpiry    = metric("leap_table_expiry_seconds", "Seconds until the leap table expires (negative after); absent when the table states no expiry.")
	descExpired   = metric("leap_table_expired", "1 when the leap table has expired (or states no expiry).")
	descVerified  = metric("leap_table_verified", "1 when the leap table's integrity was verified (checksum or corroboration).")
	descTableInfo = metric("leap_table_info", "The leap table in use: source, verification, expiry, update time, and a fingerprint of the leaps the smear applies (equal across a fleet that smears identically).", "source", "verified", "expires", "updated", "fingerprint")
	descLeaps     = metric("leap_table_leaps", "Leap seconds in the table (without the rehearsal leap).")
	descReloads   = metric("leap_table_reloads_total", "Leap table reloads tried (SIGHUP).")
	descReloadErr = metric("leap_table_reload_failures_total", "Leap table reloads that failed; the last good table stayed in use.")
	descLastFail  = metric("leap_table_last_reload_failed", "1 when the last reload failed.")
	descPolicy    = metric("policy_info", "The smear policy: its name, shape and window for an inserted second (SHAPE:START:LENGTH).", "policy", "shape", "window")

	descLeapVerdict = metric("leap_sources_verdict", "1 for the verdict of the last comparison of the leap sources with the table (none, agree, table-only, faulty-source, unknown-leap), 0 for the others; absent before the first.", "verdict")
	descLeapChecks  = metric("leap_sources_checks_total", "Comparisons of the leap sources with the table made.")
	descLeapUp      = metric("leap_source_up", "1 when the leap source could be read at the last comparison.", "source", "kind")
	descLeapSign    = metric("leap_source_announced_sign", "The leap second the source announced at the last comparison: 1 inserted, -1 deleted, 0 none.", "source", "kind")
	descLeapAt      = metric("leap_source_announced_leap_seconds", "When the leap second the source announces takes effect (the midnight after it), in POSIX seconds; absent when it announces none.", "source", "kind")
	descLeapFaulty  = metric("leap_source_faulty_total", "Comparisons that found the source faulty (a leap on a date the table rules out, or an impossible date).", "source")
	descLeapAdopted = metric("leap_adopted_leaps", "Leap seconds adopted into the served table from the sources (--adopt-announced-leaps).")

	descSynced      = metric("synchronized", "1 when the host clock is synchronised (adjtimex) or --assume-synced is given; 0 means replies carry LI=3 and stratum 16.")
	descSyncAssumed = metric("sync_assumed", "1 when synchronisation is only assumed (--assume-synced) while adjtimex says the host clock is not synchronised.")
	descSource      = metric("clock_source_info", "The clock source.", "source")
	descSteps       = metric("host_clock_steps_total", "Steps of the host clock that the source followed by re-anchoring.")
	descKernLeaps   = metric("host_kernel_leaps_total", "One-second steps of the host clock at a leap of the table, recognised as the kernel's own leap and not followed.")
	descHostOffset  = metric("host_clock_offset_seconds", "Host clock minus what the source's anchor predicts for it, at the last check (about ±1 s while the host applies a leap differently).")
	descNTSKE       = metric("nts_ke_handshakes_total", "NTS-KE connections: result ok (cookies handed out), or the failure reason (tls, alpn, timeout, bad_request, unsupported, busy, internal).", "result")
	descNTSReplies  = metric("nts_replies_total", "NTS-authenticated replies sent.")
	descNTSNAKs     = metric("nts_naks_total", "NTS NAKs sent: reason cookie (did not decrypt under any key of the ring) or auth (authenticator did not verify).", "reason")
	descNTSKeys     = metric("nts_cookie_keys", "Cookie keys that open cookies (the ring of every secret of the key file).")
	descNTSCert     = metric("nts_certificate_expiry_seconds", "Seconds until the NTS-KE certificate in use expires.")
	descNTSRotation = metric("nts_next_key_rotation_seconds", "Seconds until the next cookie key takes over.")
	descNTSReloadF  = metric("nts_reload_failures_total", "Reloads of the NTS certificate or key file that failed; the last good ones stayed in use.")
	descStart       = metric("start_time_seconds", "When the server started, in POSIX seconds.")

	descListener       = metric("listener_info", "Each NTP listen address: its policy (NTPv3 and NTPv4), shape, window for an inserted second, and NTPv5 smear policy (empty: none offered).", "listen", "policy", "shape", "window", "v5_smear_policy")
	descListenerOffset = metric("listener_offset_seconds", "A listener's served time minus true UTC now, in seconds.", "listen")
	descListenerLI     = metric("listener_leap_indicator", "The leap indicator a listener's NTPv4 replies carry now.", "listen")
	descListenerPkts   = metric("listener_packets_total", "Datagrams a listener received, by what became of them (answered, kod, answered_nts, answered_v5_utc, ..., and the drop reasons).", "listen", "verdict")
	descBuild          = metric("build_info", "The leapsmear build: module version, VCS revision and Go version.", "version", "revision", "goversion")
)

// RateLimited is implemented by a Daemon whose requests are rate-limited
// (*daemon.Daemon implements it): the limiter's counters, read at each
// scrape of /metrics only, since reading them walks the limiter's table.
type RateLimited interface {
	RateLimitStats() ratelimit.Stats
}

// collector reads a daemon's status at every scrape: nothing is counted on
// the served path beyond the server's own per-socket counters and the rate
// limiter's per-set counters.
type collector struct {
	d Daemon
}

// Describe sends every descriptor the collector may emit.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReceived, descReplies, descKoD, descDropped, descSendErrs,
		descRLEntries, descRLInUse, descRLInserted, descRLEvictions,
		descOffset, descRate, descLI, descInWindow, descScheduled, descNextLeap, descNextOpen, descNextClose, descNextInfo,
		descExpiry, descExpired, descVerified, descTableInfo, descLeaps, descReloads, descReloadErr, descLastFail, descPolicy,
		descLeapVerdict, descLeapChecks, descLeapUp, descLeapSign, descLeapAt, descLeapFaulty, descLeapAdopted,
		descSynced, descSyncAssumed, descSource, descSteps, descKernLeaps, descHostOffset, descStart, descBuild,
		descNTSKE, descNTSReplies, descNTSNAKs, descNTSKeys, descNTSCert, descNTSRotation, descNTSReloadF,
		descV5, descListener, descListenerOffset, descListenerLI, descListenerPkts} {
		ch <- d
	}
}

// Collect takes one status snapshot and turns it into samples.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.Status()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	p := st.Packets
	counter(descReceived, p.Received)
	counter(descReplies, p.Verdicts[server.Answered])
	for _, v := range server.V5Verdicts() {
		ts, _ := v.Timescale()
		counter(descV5, p.Verdicts[v], ts.String())
	}
	counter(descKoD, p.Verdicts[server.Kissed])
	for _, v := range server.DropReasons() {
		counter(descDropped, p.Verdicts[v], v.String())
	}
	counter(descSendErrs, p.SendErrors, "refused")
	counter(descSendErrs, p.SendDropped, "buffer_full")
	var rl ratelimit.Stats
	if r, ok := c.d.(RateLimited); ok {
		rl = r.RateLimitStats()
	}
	gauge(descRLEntries, float64(rl.Entries))
	gauge(descRLInUse, float64(rl.InUse))
	counter(descRLInserted, rl.Inserted)
	counter(descRLEvictions, rl.Evictions)

	gauge(descOffset, st.Offset.Seconds())
	gauge(descRate, st.RatePPM/1e6)
	gauge(descLI, float64(leapIndicator(st)))
	gauge(descInWindow, boolValue(st.InWindow))
	gauge(descScheduled, boolValue(st.HasNext))
	if st.HasNext {
		w := st.Next
		gauge(descNextLeap, st.Until(w.Event.Jump()).Seconds())
		gauge(descNextOpen, st.Until(w.Start).Seconds())
		gauge(descNextClose, st.Until(w.End).Seconds())
		gauge(descNextInfo, 1, w.Event.String(), fmt.Sprintf("%+d", w.Event.Delta), strconv.FormatBool(w.Event.Synthetic))
	}

	t := st.Table
	if !t.Expires.IsZero() {
		gauge(descExpiry, t.Expires.Sub(st.Host).Seconds())
	}
	gauge(descExpired, boolValue(st.Expired()))
	gauge(descVerified, boolValue(t.Verified))
	gauge(descTableInfo, 1, t.Source, strconv.FormatBool(t.Verified), formatTime(t.Expires), formatTime(t.Updated),
		st.Smear.Table().Fingerprint())
	gauge(descLeaps, float64(len(t.Events)))
	counter(descReloads, st.Reloads)
	counter(descReloadErr, st.ReloadFailures)
	gauge(descLastFail, boolValue(st.ReloadError != ""))
	pol := st.Smear.Policy()
	gauge(descPolicy, 1, pol.Name, pol.Shape.String(), pol.Spec(1))

	ls := st.LeapSources
	counter(descLeapChecks, ls.Checks)
	gauge(descLeapAdopted, float64(len(ls.Adopted)))
	for name, n := range ls.Faulty {
		counter(descLeapFaulty, n, name)
	}
	if r := ls.Result; r != nil {
		for _, v := range leapcheck.Verdicts() {
			gauge(descLeapVerdict, boolValue(r.Verdict == v), v.String())
		}
		for _, o := range r.Sources {
			gauge(descLeapUp, boolValue(o.Err == nil), o.Name, string(o.Kind))
			sign := 0
			if a := o.Announces; a != nil {
				sign = a.Sign
				gauge(descLeapAt, float64(a.Effective().Unix()), o.Name, string(o.Kind))
			}
			gauge(descLeapSign, float64(sign), o.Name, string(o.Kind))
		}
	}

	gauge(descSynced, boolValue(st.Synced))
	gauge(descSyncAssumed, boolValue(st.SyncAssumed))
	gauge(descSource, 1, st.Clock.Source)
	counter(descSteps, st.Clock.Steps)
	counter(descKernLeaps, st.Clock.KernelLeaps)
	gauge(descHostOffset, st.Clock.Offset.Seconds())
	gauge(descStart, float64(st.Started.UnixNano())/1e9)
	if n := st.NTS; n != nil {
		counter(descNTSKE, n.KE.OK, "ok")
		for _, r := range ntske.FailReasons() {
			counter(descNTSKE, n.KE.Failed[r], r)
		}
		counter(descNTSReplies, p.Verdicts[server.AnsweredNTS])
		counter(descNTSNAKs, p.Verdicts[server.NAKCookie], "cookie")
		counter(descNTSNAKs, p.Verdicts[server.NAKAuth], "auth")
		gauge(descNTSKeys, float64(n.Keys))
		gauge(descNTSCert, n.CertNotAfter.Sub(st.Host).Seconds())
		gauge(descNTSRotation, n.NextRotation.Sub(st.Host).Seconds())
		counter(descNTSReloadF, n.ReloadFailures)
	}
	for _, l := range st.Listeners {
		pol, v5 := l.Smear.Policy(), ""
		if l.V5Smear != nil {
			v5 = l.V5Smear.Policy().Name
		}
		gauge(descListener, 1, l.Addr, pol.Name, pol.Shape.String(), pol.Spec(1), v5)
		gauge(descListenerOffset, l.Offset.Seconds(), l.Addr)
		gauge(descListenerLI, float64(l.LI), l.Addr)
		for _, v := range server.AllVerdicts() {
			counter(descListenerPkts, l.Packets.Verdicts[v], l.Addr, v.String())
		}
	}
	b := Build()
	gauge(descBuild, 1, b.Version, b.Revision, b.GoVersion)
}

// newRegistry returns a registry with the daemon's metrics and the Go
// runtime and process collectors.
func newRegistry(d Daemon) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{d: d},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// leapIndicator is the LI replies carry now.
func leapIndicator(st daemon.Status) int {
	if !st.Synced {
		return 3
	}
	return st.Smear.LI(st.TAI)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// BuildInfo names the running build.
type BuildInfo struct {
	// Version is the main module's version ("(devel)" for a local build).
	Version string `json:"version"`
	// Revision is the VCS revision, when the build recorded it.
	Revision string `json:"revision"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// Build returns the build information of the running binary.
func Build() BuildInfo {
	b := BuildInfo{Version: "unknown", GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				b.Revision = s.Value
			}
		}
	}
	return b
}
