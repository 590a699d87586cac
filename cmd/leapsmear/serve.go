package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/admin"
	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/leap"
	"github.com/leapsmear/leapsmear/leapfile"
	"github.com/leapsmear/leapsmear/leapsource"
	"github.com/leapsmear/leapsmear/ntp"
	"github.com/leapsmear/leapsmear/ratelimit"
	"github.com/leapsmear/leapsmear/server"
	"github.com/leapsmear/leapsmear/smear"
	"github.com/leapsmear/leapsmear/timescale"
)

func init() { register(newServeCmd) }

// serveFlags are the options of leapsmear serve; each is also a key of the
// optional TOML file given with --config.
type serveFlags struct {
	config          string
	listen          []string
	admin           string
	sockets         int
	policy          string
	v5SmearPolicy   string
	refidSmear      string
	clock           string
	timeOffset      time.Duration
	timeOffsetTo    string
	rehearse        string
	assumeSynced    bool
	allowJump       bool
	stratum         uint8
	refid           string
	rootDelay       time.Duration
	rootDispersion  time.Duration
	user            string
	rateLimit       float64
	rateBurst       int
	kissInterval    time.Duration
	rateEntries     int
	rateIPv6Prefix  int
	ratePrefixShare int
	leap            leapFlags
	sources         leapSourceFlags
	adopt           int
	leapCheck       time.Duration
	leapCheckLast   time.Duration
	log             logFlags
	nts             ntsServeFlags
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve smeared time over NTP",
		Long: `Serve time over NTP (RFC 5905, versions 1 to 4) with leap seconds smeared by
the chosen policy. With no flags it listens on 127.0.0.1:123, uses the leap
table built into leapsmear and the noon-to-noon policy.

The served time is a pure function of the leap table, the policy and the
clock: servers given the same table and policy serve the same time, and a
restart in the middle of a smear changes nothing. The host clock is read
through a monotonic anchor, so a kernel that inserts or deletes the leap
second itself does not move the served time.

While the host clock is not synchronised (as adjtimex reports), replies carry
LI=3 and stratum 16, which clients reject; --assume-synced serves anyway.

Smearing policies never announce the leap (LI=0): clients must not apply it a
second time. The step policy serves true UTC and announces the leap during the
last day before it.

With --admin HOST:PORT an HTTP listener serves Prometheus metrics (/metrics),
a health check (/healthz: 200, or 503 with a reason), the state as JSON
(/api/status) and a status page (/). See docs/operations.md.

The server compares the leap seconds announced by the host kernel (always,
unless --kernel=false), upstream NTP servers (--upstream), chronyd
(--chrony-socket) and ptp4l (--ptp-socket) with its table, every 15 minutes and every minute on the
last day of a month, on the served clock: see 'leapsmear leaps' and
docs/leap-sources.md. A leap the table does not have fails /healthz; with
--adopt-announced-leaps N it is adopted once N independent sources announce
it, if its smear window has not opened yet.

Network Time Security (RFC 8915): --nts-cert and --nts-key turn on NTS-KE
(port 4460 of the first --listen host unless --nts-ke-listen) and
authenticated replies; plain requests are still answered unless --require-nts.
Give every server of a fleet the same --nts-key-file so that cookies from one
are accepted by all. See docs/nts.md.

Signals: SIGHUP reloads the leap files, and the NTS certificate and key file
(whatever is bad is logged and the last good kept); SIGTERM and SIGINT stop
the server.

Every flag can also be set in a TOML file given with --config, under its long
name (listen = ["127.0.0.1:123"], policy = "noon-to-noon", ...); flags given
on the command line win over the file.`,
		Example: `  # Serve on the standard port of the loopback address (root or CAP_NET_BIND_SERVICE)
  leapsmear serve

  # Any port, IPv4 and IPv6, Meta's quadratic smear, a cross-checked pair of tables
  leapsmear serve --listen 127.0.0.1:11123 --listen [::1]:11123 --policy quadratic-17h \
      --leap-file /usr/share/zoneinfo/leap-seconds.list --leap-file /usr/share/zoneinfo/right/UTC

  # Replay the 2016 leap: serve time as if it were 2016-12-31T18:00:00Z now
  leapsmear serve --listen 127.0.0.1:11123 --time-offset-to 2016-12-31T18:00:00Z

  # Rehearse a deleted leap second two minutes from now with a 3-minute linear smear
  leapsmear serve --listen 127.0.0.1:11123 --rehearse now+2m,-1 --policy linear:-90s:3m

  # Compare the table with two upstream servers and chronyd; adopt a leap both servers announce
  leapsmear serve --listen 127.0.0.1:11123 --upstream 192.0.2.1:123 --upstream 192.0.2.2:123 \
      --chrony-socket /run/chrony/chronyd.sock --adopt-announced-leaps 2

  # Metrics, health and a status page on http://127.0.0.1:9123/
  leapsmear serve --listen 127.0.0.1:11123 --admin 127.0.0.1:9123

  # NTS with a fleet's cookie key file; chrony: server HOST nts
  leapsmear serve --listen 0.0.0.0:123 --nts-cert /etc/leapsmear/nts.pem --nts-key /etc/leapsmear/nts.key \
      --nts-key-file /etc/leapsmear/nts.keys

  # Everything from a file, the port from the command line
  leapsmear serve --config /etc/leapsmear/leapsmear.toml --listen 127.0.0.1:11123`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.config != "" {
				if err := applyConfigFile(cmd, f.config); err != nil {
					return err
				}
			}
			return fromConfigFile(cmd, runServe(cmd.Context(), cmd.ErrOrStderr(), &f))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "TOML file of options (keys are these flags' long names); flags win over it")
	fl.StringArrayVar(&f.listen, "listen", []string{"127.0.0.1:123"}, "address to serve, HOST:PORT, or HOST:PORT=POLICY with a policy of its own (repeatable;\n[::]:123 is every IPv4 and IPv6 address); one process, one table, one clock")
	fl.StringVar(&f.admin, "admin", "", "HTTP address of the admin endpoints (/metrics, /healthz, /api/status, status page /),\nsuch as 127.0.0.1:9123; off when not given; never the NTP port")
	fl.IntVar(&f.sockets, "sockets", 0, "SO_REUSEPORT sockets per listen address, each with its own goroutine (0: one per CPU)")
	fl.StringVar(&f.policy, "policy", smear.DefaultPolicy, "smear policy: "+strings.Join(smear.PresetNames(), ", ")+",\nor SHAPE:START:LENGTH such as linear:-30s:61s (see 'leapsmear plot')")
	fl.StringVar(&f.v5SmearPolicy, "v5-smear-policy", "", "the smear NTPv5 clients get when they ask for leap-smeared UTC, on every listener\n(default: each listener's own policy when it smears; a stepping listener then answers UTC)")
	fl.StringVar(&f.refidSmear, "refid-smear", "off", "declare the smear in the reference ID of a smearing listener's replies while the\nsmear offset is not zero: draft (254.x.y.z with the offset, draft-stenn-ntp-leap-smear-refid),\nchrony (127.127.1.255), or off")
	fl.StringVar(&f.clock, "clock", "system", "clock source: system (CLOCK_REALTIME through a monotonic anchor) or tai (CLOCK_TAI, which must agree with the table)")
	fl.DurationVar(&f.timeOffset, "time-offset", 0, "serve time as if the host clock read this much later, e.g. -2700h (replays a past leap)")
	fl.StringVar(&f.timeOffsetTo, "time-offset-to", "", "serve time as if it were this instant at start, e.g. 2016-12-31T18:00:00Z")
	fl.StringVar(&f.rehearse, "rehearse", "", "add a synthetic leap second: INSTANT,+1 or INSTANT,-1, INSTANT in RFC 3339 or now+DURATION")
	fl.BoolVar(&f.allowJump, "allow-jump", false, "let a --rehearse start inside its own smear window (clients see the served time jump at start)")
	fl.BoolVar(&f.assumeSynced, "assume-synced", false, "serve as synchronised even when adjtimex says the host clock is not")
	fl.Uint8Var(&f.stratum, "stratum", 2, "stratum announced while synchronised (1 to 15)")
	fl.StringVar(&f.refid, "refid", "LSMR", "reference ID: up to 4 ASCII characters, or an IPv4 address")
	fl.DurationVar(&f.rootDelay, "root-delay", 0, "root delay announced")
	fl.DurationVar(&f.rootDispersion, "root-dispersion", time.Millisecond, "floor of the root dispersion announced; while the host clock is synchronised,\nits maximum error as adjtimex reports it is added")
	fl.Float64Var(&f.rateLimit, "rate-limit", 0, "requests per second allowed to each source address, IPv4 or IPv6 (0: no limit; chrony's\nratelimit default is 0.125, one per 8 s); the excess gets a RATE kiss or is dropped")
	fl.IntVar(&f.rateBurst, "rate-burst", ratelimit.DefaultBurst, "requests a source may send at once above --rate-limit")
	fl.DurationVar(&f.kissInterval, "kiss-interval", ratelimit.DefaultKissInterval, "at most one RATE Kiss-o'-Death per source per interval; the rest of the excess is dropped\n(negative: never send one)")
	fl.IntVar(&f.rateEntries, "rate-entries", ratelimit.DefaultEntries, "sources the rate limiter tracks, in a table of fixed size (64 bytes each; an IPv6\naddress takes two, its own and its prefix's; see docs/operations.md for sizing it)")
	fl.IntVar(&f.rateIPv6Prefix, "rate-ipv6-prefix", ratelimit.DefaultIPv6Prefix, "prefix length by which IPv6 sources are rate-limited as well as one by one: the addresses of\none prefix share its allowance, --rate-ipv6-prefix-share times an address's (128: each address\non its own only)")
	fl.IntVar(&f.ratePrefixShare, "rate-ipv6-prefix-share", ratelimit.DefaultPrefixShare, "N: one IPv6 prefix gets N addresses' allowance (rate and burst), N 2 or more; one address\nalone takes at most 1/N of its prefix's, leaving the rest to its neighbours")
	fl.StringVar(&f.user, "user", "", "after binding the sockets, switch to this unprivileged user (started as root)")
	f.leap.register(cmd)
	f.sources.register(cmd)
	fl.IntVar(&f.adopt, "adopt-announced-leaps", 0, "adopt a leap second the table lacks once this many independent sources announce it\nand its smear window has not opened (0: never; see docs/leap-sources.md)")
	fl.DurationVar(&f.leapCheck, "leap-check-interval", leapsource.DefaultInterval, "how often the leap sources are compared with the table")
	fl.DurationVar(&f.leapCheckLast, "leap-check-last-day", leapsource.DefaultLastDayInterval, "how often during the last day of a month (on the served clock)")
	f.log.register(cmd)
	f.nts.register(cmd)
	return cmd
}

// daemonConfig turns the flags into a daemon configuration, which the daemon
// validates; its complaints become usage errors naming the flag.
func (f *serveFlags) daemonConfig(now time.Time, log *slog.Logger) (daemon.Config, error) {
	cfg := daemon.Config{
		Server:    server.Config{SocketsPerAddress: f.sockets},
		LeapFiles: f.leap.files,
		Parse:     leap.ParseOptions{AcceptUnverified: f.leap.acceptUnverified},
		Source:    timescale.Config{Kind: f.clock, TimeOffset: f.timeOffset, AssumeSynced: f.assumeSynced, Kernel: readKernel},
		User:      f.user,
		AllowJump: f.allowJump,
		Logger:    log,
	}
	var err error
	if cfg.Policy, err = smear.Parse(f.policy); err != nil {
		return cfg, usagef("--policy: %w", err)
	}
	addrs := make([]string, 0, len(f.listen))
	for _, s := range f.listen {
		l, err := daemon.ParseListener(s)
		if err != nil {
			return cfg, optionError("serve", err)
		}
		cfg.Listeners = append(cfg.Listeners, l)
		addrs = append(addrs, l.Addr)
	}
	if f.v5SmearPolicy != "" {
		p, err := smear.Parse(f.v5SmearPolicy)
		if err != nil {
			return cfg, usagef("--v5-smear-policy: %w", err)
		}
		cfg.V5Policy = &p
	}
	refidSmear, err := server.ParseRefIDSmear(f.refidSmear)
	if err != nil {
		return cfg, usagef("--refid-smear %q: %w", f.refidSmear, err)
	}
	if f.timeOffsetTo != "" {
		if cfg.Source.TimeOffsetTo, err = leap.ParseInstant(f.timeOffsetTo); err != nil {
			return cfg, usagef("--time-offset-to: %w", err)
		}
	}
	if f.rehearse != "" {
		r, err := leap.ParseRehearsal(f.rehearse, now)
		if err != nil {
			return cfg, usagef("--rehearse: %w", err)
		}
		cfg.Rehearse = &r
	}
	months, err := f.sources.parseMonths()
	if err != nil {
		return cfg, err
	}
	if f.leapCheck < 0 {
		return cfg, usagef("--leap-check-interval %s: cannot be negative", f.leapCheck)
	}
	cfg.LeapSources = daemon.LeapSources{Upstreams: f.sources.upstream, ChronySocket: f.sources.chrony, PTPSocket: f.sources.ptp, IgnoreKernel: !f.sources.kernel,
		Months: months, Adopt: f.adopt, Interval: f.leapCheck, LastDayInterval: f.leapCheckLast, Timeout: f.sources.timeout}
	refid, err := parseRefID(f.refid)
	if err != nil {
		return cfg, usagef("--refid %q: %w", f.refid, err)
	}
	cfg.Settings = server.Settings{Stratum: f.stratum, RefID: refid, RootDelay: f.rootDelay, RootDispersion: f.rootDispersion,
		RefIDSmear: refidSmear}
	if f.rateIPv6Prefix != 0 && (f.rateIPv6Prefix < ratelimit.MinIPv6Prefix || f.rateIPv6Prefix > 128) {
		return cfg, usagef("--rate-ipv6-prefix %d: want %d to 128", f.rateIPv6Prefix, ratelimit.MinIPv6Prefix)
	}
	if f.ratePrefixShare != 0 && (f.ratePrefixShare < 2 || f.ratePrefixShare > ratelimit.MaxPrefixShare) {
		return cfg, usagef("--rate-ipv6-prefix-share %d: want 2 to %d", f.ratePrefixShare, ratelimit.MaxPrefixShare)
	}
	// The limiter checks its options whatever the rate: a bad --rate-burst
	// is a mistake even while --rate-limit is 0.
	l, err := ratelimit.New(ratelimit.Config{Rate: f.rateLimit, Burst: f.rateBurst, KissInterval: f.kissInterval,
		Entries: f.rateEntries, IPv6Prefix: f.rateIPv6Prefix, IPv6PrefixShare: f.ratePrefixShare})
	if err != nil {
		return cfg, optionError("serve", err)
	}
	if f.rateLimit != 0 {
		cfg.Limiter = l
	}
	if cfg.NTS, err = f.nts.config(addrs); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, optionError("serve", err)
	}
	if f.admin != "" {
		if err := admin.CheckAddress(f.admin, addrs); err != nil {
			return cfg, usagef("--admin: %w", err)
		}
		addr := f.admin
		cfg.Services = append(cfg.Services, func(d *daemon.Daemon) (daemon.Service, error) {
			return admin.Listen(addr, d.Addrs(), d, admin.Options{Logger: log})
		})
	}
	return cfg, nil
}

// parseRefID reads an IPv4 address or up to four ASCII characters.
func parseRefID(s string) (uint32, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return ntp.RefIDFromAddr(a), nil
	}
	return ntp.RefIDFromString(s)
}

// runServe serves until ctx ends or a signal stops it, logging to logw.
// SIGHUP asks the daemon to reload its leap files; SIGTERM and SIGINT stop
// it.
func runServe(ctx context.Context, logw io.Writer, f *serveFlags) error {
	log, err := f.log.logger(logw)
	if err != nil {
		return err
	}
	cfg, err := f.daemonConfig(time.Now(), log)
	if err != nil {
		return err
	}
	if f.config != "" {
		if w := leapfile.WritableByOthers(f.config); w != "" {
			log.Warn("config file not protected: " + strings.Replace(w, "the leap seconds it serves", "how the server runs", 1))
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// Catch the signals before the start-up summary is logged: a SIGHUP or
	// SIGTERM sent as soon as the server says it serves must not kill it.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	d, err := daemon.Start(ctx, cfg)
	if err != nil {
		return optionError("serve", checksumHint(err))
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case sig := <-signals:
				if sig == syscall.SIGHUP {
					log.Info("SIGHUP: reloading the leap table (and NTS certificate and keys)")
					d.RequestReload()
					continue
				}
				log.Info("stopping", "signal", sig.String())
				stop()
				return
			}
		}
	}()
	return d.Run(ctx)
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
