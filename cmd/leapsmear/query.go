package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/internal/netaddr"
	"github.com/leapsmear/leapsmear/internal/textfmt"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/watch/report"
)

func init() { register(newQueryCmd) }

// queryOptions are the flags of the query command.
type queryOptions struct {
	json     bool
	samples  int
	interval time.Duration
	timeout  time.Duration
	version  int
	scale    string
	mixedOK  bool
	nts      ntsClientFlags
	ntsOpts  *client.NTSOptions
}

// maxSamples bounds --samples, so that a typo cannot flood a server.
const maxSamples = 100

func newQueryCmd() *cobra.Command {
	var o queryOptions
	cmd := &cobra.Command{
		Use:   "query HOST[:PORT]...",
		Short: "Ask NTP servers for the time: offset, delay, stratum, leap status",
		Long: `query does one NTP exchange (RFC 5905, client mode) with each server and
shows what it answered, in the spirit of 'chronyc tracking': reference ID,
stratum, leap status, precision, root delay and dispersion, and the offset of
the local clock and the round-trip delay as measured from here.

The offset is the server's clock minus the local clock: positive when the
local clock is behind. With --samples N, N exchanges are made per server
(--interval apart) and the one with the lowest delay is shown, along with the
minimum, median and maximum offset of all of them.

Smear: what each server declares about leap smearing, without waiting for a
leap. An NTPv4 request asks a leapsmear server for its policy and the window
of its next leap (other servers ignore the question) and every server whether
it speaks NTPv5; a reference ID of 254.x.y.z (draft-stenn-ntp-leap-smear-refid,
carrying the offset) or 127.127.1.255 (chrony) says a smear is in progress; an
NTPv5 reply names its timescale. A server that says nothing is taken not to
smear.

NTPv5 (draft-ietf-ntp-ntpv5-09): --version 5 asks in NTPv5, for the timescale
--timescale names (utc, tai or smeared); the reply says which one the server
served, which may differ (a server without a smear answers UTC).

Servers are asked in parallel. The exit status is 1 if any server failed: no
answer, a Kiss-o'-Death, a reply not matching the request, or a server that
says it is not synchronised (its fields are still shown); and if the servers
that answered mix leap smears (some declare smeared time and others do not,
or they smear differently): a client must not use such servers together
(--allow-mixed: the servers are not one client's sources, as when monitoring
a set of unrelated servers). Each failure is one line on standard error. A
server address written wrong (127.0.0.1:abc) is a mistake in the command line:
exit status 2, before any server is asked.`,
		Example: `  leapsmear query pool.ntp.org
  leapsmear query 127.0.0.1:11123 '[::1]:123' --json
  leapsmear query time.example.com --samples 5 --interval 2s
  leapsmear query old-server.example --version 3 --timeout 1s
  leapsmear query 127.0.0.1:11123 --version 5 --timescale tai
  leapsmear query ntp1.example.net ntp2.example.net ntp3.example.net   # exit 1 if they mix smears
  leapsmear query time.cloudflare.com --nts
  leapsmear query 127.0.0.1 --nts --nts-port 14460 --nts-ca ca.pem --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("query: name at least one server: HOST[:PORT]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.samples < 1 || o.samples > maxSamples:
				return usagef("query: --samples %d: want 1 to %d", o.samples, maxSamples)
			case o.version < 3 || o.version > 5:
				return usagef("query: --version %d: want 3, 4 or 5", o.version)
			case o.scale != "" && o.version != 5:
				return usagef("query: --timescale %s: NTPv5 only: add --version 5", o.scale)
			case o.timeout <= 0:
				return usagef("query: --timeout %s: want a positive duration", o.timeout)
			case o.interval < 0:
				return usagef("query: --interval %s: want zero or more", o.interval)
			}
			var err error
			if o.ntsOpts, err = o.nts.options("query"); err != nil {
				return err
			}
			if o.ntsOpts != nil && o.version == 5 {
				return usagef("query: --nts: NTS with NTPv5 is not supported; use --version 4")
			}
			if o.scale != "" {
				if _, err := ntp.ParseTimescale(o.scale); err != nil {
					return usagef("query: --timescale %s: want utc, tai or smeared", o.scale)
				}
			}
			// An address written wrong is the user's mistake, told before
			// any server is asked; one that does not resolve is not.
			for _, s := range args {
				if _, _, err := netaddr.SplitTarget(s, client.DefaultPort); err != nil {
					return usagef("query: server %w", err)
				}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runQuery(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), args, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print a JSON list of objects, one per server, for scripts")
	f.IntVar(&o.samples, "samples", 1, "exchanges per server; the one with the lowest delay is shown")
	f.DurationVar(&o.interval, "interval", time.Second, "pause between the samples of one server")
	f.DurationVar(&o.timeout, "timeout", 2*time.Second, "how long to wait for each answer")
	f.IntVar(&o.version, "version", 4, "NTP version of the requests: 3, 4, or 5 (NTPv5, draft-ietf-ntp-ntpv5-09)")
	f.BoolVar(&o.mixedOK, "allow-mixed", false, "do not fail when the servers mix leap smears (they are not one client's sources)")
	f.StringVar(&o.scale, "timescale", "", "with --version 5, the timescale to ask for: utc, tai or smeared (default utc)")
	o.nts.register(cmd)
	return cmd
}

// serverResult is what the exchanges with one server gave.
type serverResult struct {
	server  string
	addr    string
	best    *client.Response // lowest delay; or the KoD / unsynchronised reply
	offsets []time.Duration  // of the good samples, sorted
	lost    int              // samples that failed
	nts     bool             // asked with NTS
	err     error
}

func runQuery(ctx context.Context, stdout, stderr io.Writer, servers []string, o queryOptions) error {
	results := make([]serverResult, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { results[i] = queryServer(ctx, s, o) })
	}
	wg.Wait()

	if o.json {
		out := make([]queryJSON, len(results))
		for i := range results {
			out[i] = results[i].json()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		first := true
		for i := range results {
			if results[i].best == nil {
				continue
			}
			if !first {
				fmt.Fprintln(stdout)
			}
			first = false
			results[i].print(stdout, o.samples)
		}
	}

	var failed []error
	var names []string
	var decls []client.SmearDeclaration
	for _, r := range results {
		if r.err != nil {
			failed = append(failed, r.err)
		} else if r.best != nil {
			names, decls = append(names, r.server), append(decls, r.best.Smear())
		}
	}
	mixed := client.CheckSources(names, decls)
	if o.mixedOK {
		mixed = nil
	}
	switch {
	case len(failed) == 0 && mixed == nil:
		return nil
	case len(failed) == 0:
		return fmt.Errorf("query: %w", mixed)
	case len(servers) == 1:
		return failed[0] // the one line of the failure
	}
	if mixed != nil {
		fmt.Fprintf(stderr, "leapsmear: query: %v\n", mixed)
	}
	for _, err := range failed {
		fmt.Fprintf(stderr, "leapsmear: %v\n", err)
	}
	return fmt.Errorf("%d of %d servers failed", len(failed), len(servers))
}

// queryServer makes o.samples exchanges with one server. A Kiss-o'-Death
// stops the sampling at once: the server asked us to go away.
func queryServer(ctx context.Context, server string, o queryOptions) serverResult {
	r := serverResult{server: server, nts: o.ntsOpts != nil}
	opt := client.Options{Timeout: o.timeout, Version: uint8(o.version), NTS: o.ntsOpts, SmearInfo: o.version == 4}
	if o.scale != "" {
		opt.Timescale, _ = ntp.ParseTimescale(o.scale)
	}
	c, err := client.Dial(ctx, server, opt)
	if err != nil {
		r.err = err
		return r
	}
	defer c.Close()
	r.addr = c.Addr().String()
	var unsynced *client.Response
	var lastErr error
	for i := range o.samples {
		if i > 0 && o.interval > 0 {
			select {
			case <-ctx.Done():
				r.err = ctx.Err()
				return r
			case <-time.After(o.interval):
			}
		}
		resp, err := c.Query(ctx)
		var kiss *client.KissError
		switch {
		case err == nil:
			r.offsets = append(r.offsets, resp.Offset)
			if r.best == nil || resp.Delay < r.best.Delay {
				r.best = resp
			}
		case errors.As(err, &kiss):
			r.best, r.err = resp, err
			return r
		case errors.Is(err, client.ErrUnsynchronised):
			unsynced, lastErr = resp, err
			r.lost++
		default:
			lastErr = err
			r.lost++
		}
	}
	slices.Sort(r.offsets)
	if r.best == nil {
		r.best, r.err = unsynced, lastErr
	}
	return r
}

// timescaleName words an NTPv5 timescale for people.
func timescaleName(ts ntp.Timescale) string {
	switch ts {
	case ntp.TimescaleUTC:
		return "UTC (leap seconds stepped, announced by the leap indicator)"
	case ntp.TimescaleTAI:
		return "TAI"
	case ntp.TimescaleUT1:
		return "UT1"
	case ntp.TimescaleSmeared:
		return "leap-smeared UTC"
	}
	return ts.String()
}

// median of sorted durations, halfway between the middle two for an even count.
func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	a, b := sorted[n/2-1], sorted[n/2]
	return a + (b-a)/2
}

func (r *serverResult) print(w io.Writer, samples int) {
	resp, h := r.best, r.best.Header
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-16s: %s\n", label, fmt.Sprintf(format, args...))
	}
	if r.addr != "" && r.addr != r.server {
		line("Server", "%s (%s)", r.server, r.addr)
	} else {
		line("Server", "%s", r.server)
	}
	line("Reference ID", "%08X (%s)", h.ReferenceID, resp.RefID())
	line("Stratum", "%d", h.Stratum)
	if h.IsKiss() {
		line("Kiss code", "%s", ntp.KissCode(h.ReferenceID))
	}
	line("Leap status", "%s", ntp.LeapName(h.Leap))
	line("Version", "%d", h.Version)
	if resp.V5 != nil {
		line("Timescale", "%s", timescaleName(resp.Timescale))
	}
	if h.Version == ntp.Version4 && !r.nts && !h.IsKiss() {
		if resp.SpeaksV5 {
			line("NTPv5", "spoken (the upgrade request was echoed)")
		} else {
			line("NTPv5", "not spoken")
		}
	}
	if !h.IsKiss() {
		switch d := resp.Smear(); d.Smearing {
		case client.SmearUnknown:
			line("Smear", "not declared")
		default:
			line("Smear", "%s: %s", d.Smearing, d.Evidence)
			if i := d.Info; i != nil && i.Leap != "" {
				line("Next leap", "%s %+d, window %s to %s", i.Leap, i.Delta, i.Opens, i.Closes)
			}
		}
	}
	if r.nts {
		if resp.Authenticated {
			line("NTS", "authenticated")
		} else {
			line("NTS", "NOT authenticated")
		}
	}
	line("Precision", "%d (%s seconds)", h.Precision, textfmt.Seconds(ntp.PrecisionDuration(h.Precision), false))
	line("Root delay", "%s seconds", textfmt.Seconds(h.RootDelay.Duration(), false))
	line("Root dispersion", "%s seconds", textfmt.Seconds(h.RootDispersion.Duration(), false))
	if resp.T3.IsZero() {
		return // a kiss-o'-death carries no time
	}
	switch {
	case resp.Offset > 0:
		line("Offset", "%s seconds (local clock slow)", textfmt.Seconds(resp.Offset, true))
	case resp.Offset < 0:
		line("Offset", "%s seconds (local clock fast)", textfmt.Seconds(resp.Offset, true))
	default:
		line("Offset", "%s seconds", textfmt.Seconds(resp.Offset, true))
	}
	line("Round-trip delay", "%s seconds", textfmt.Seconds(resp.Delay, false))
	line("Server time", "%s", textfmt.Time(resp.T3))
	if samples > 1 && len(r.offsets) > 0 {
		line("Samples", "%d of %d answered, lowest delay shown", len(r.offsets), len(r.offsets)+r.lost)
		line("Offset range", "min %s median %s max %s seconds", textfmt.Seconds(r.offsets[0], true),
			textfmt.Seconds(median(r.offsets), true), textfmt.Seconds(r.offsets[len(r.offsets)-1], true))
	}
}

// queryJSON is one server in the --json output. The keys are a contract with
// scripts: add new ones, never rename. What the server did not tell is null:
// every field of the reply for a server that never answered, the time
// fields (t2, t3, offset and delay) of a Kiss-o'-Death, which carries no
// time, and the offset range when no exchange gave usable time.
type queryJSON struct {
	Server           string  `json:"server"`
	Address          string  `json:"address"`
	Stratum          *int    `json:"stratum"`
	RefID            *string `json:"refid"`
	RefIDHex         *string `json:"refid_hex"`
	LI               *int    `json:"li"`
	Leap             *string `json:"leap"`
	Version          *int    `json:"version"`
	Precision        *int    `json:"precision"`
	RootDelayNs      *int64  `json:"root_delay_ns"`
	RootDispersionNs *int64  `json:"root_dispersion_ns"`
	OffsetNs         *int64  `json:"offset_ns"`
	DelayNs          *int64  `json:"delay_ns"`
	T1               *string `json:"t1"`
	T2               *string `json:"t2"`
	T3               *string `json:"t3"`
	T4               *string `json:"t4"`
	Samples          int     `json:"samples"`
	Lost             int     `json:"lost"`
	OffsetMinNs      *int64  `json:"offset_min_ns"`
	OffsetMedianNs   *int64  `json:"offset_median_ns"`
	OffsetMaxNs      *int64  `json:"offset_max_ns"`
	KissCode         string  `json:"kiss_code,omitempty"`
	Authenticated    *bool   `json:"authenticated"`
	Error            string  `json:"error,omitempty"`
	// Timescale is the NTPv5 timescale served (utc, tai, ut1, smeared);
	// null for NTPv3 and NTPv4. NTPv5 says whether the server echoed the
	// NTPv5 upgrade request (asked in NTPv4 without NTS; null otherwise).
	Timescale *string `json:"timescale"`
	NTPv5     *bool   `json:"ntpv5"`
	// Smear is what the server declares about leap smearing: "yes", "no"
	// or "unknown" (it says nothing); SmearEvidence how; SmearOffsetNs the
	// offset a leap-smear reference ID carries; SmearPolicy a leapsmear
	// server's policy and next window. Null when there was no reply.
	Smear         *string                 `json:"smear"`
	SmearEvidence *string                 `json:"smear_evidence"`
	SmearOffsetNs *int64                  `json:"smear_offset_ns"`
	SmearPolicy   *report.SmearPolicyJSON `json:"smear_policy"`
}

func (r *serverResult) json() queryJSON {
	j := queryJSON{Server: r.server, Address: r.addr, Samples: len(r.offsets), Lost: r.lost}
	if r.err != nil {
		j.Error = r.err.Error()
	}
	if r.best != nil {
		resp, h := r.best, r.best.Header
		j.Stratum, j.RefID, j.RefIDHex = new(int(h.Stratum)), new(resp.RefID()), new(fmt.Sprintf("%08X", h.ReferenceID))
		j.LI, j.Leap, j.Version, j.Precision = new(int(h.Leap)), new(ntp.LeapName(h.Leap)), new(int(h.Version)), new(int(h.Precision))
		j.RootDelayNs, j.RootDispersionNs = new(int64(h.RootDelay.Duration())), new(int64(h.RootDispersion.Duration()))
		j.T1, j.T4 = new(textfmt.Time(resp.T1)), new(textfmt.Time(resp.T4))
		if h.IsKiss() {
			j.KissCode = ntp.KissCode(h.ReferenceID)
		}
		if !resp.T3.IsZero() { // a Kiss-o'-Death carries no time
			j.OffsetNs, j.DelayNs = new(int64(resp.Offset)), new(int64(resp.Delay))
			j.T2, j.T3 = new(textfmt.Time(resp.T2)), new(textfmt.Time(resp.T3))
		}
		j.Authenticated = new(resp.Authenticated)
		if resp.V5 != nil {
			j.Timescale = new(resp.Timescale.String())
		}
		if h.Version == ntp.Version4 && !r.nts && !h.IsKiss() {
			j.NTPv5 = new(resp.SpeaksV5)
		}
		if !h.IsKiss() {
			d := resp.Smear()
			j.Smear, j.SmearEvidence, j.SmearPolicy = new(d.Smearing.String()), new(d.Evidence), report.NewSmearPolicyJSON(d.Info)
			if d.HasOffset {
				j.SmearOffsetNs = new(int64(d.Offset))
			}
		}
	}
	if n := len(r.offsets); n > 0 {
		j.OffsetMinNs, j.OffsetMedianNs, j.OffsetMaxNs = new(int64(r.offsets[0])), new(int64(median(r.offsets))), new(int64(r.offsets[n-1]))
	}
	return j
}
