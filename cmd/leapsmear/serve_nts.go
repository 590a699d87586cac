package main

import (
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/daemon"
	"github.com/leapsmear/leapsmear/internal/netaddr"
	"github.com/leapsmear/leapsmear/nts"
)

// ntsServeFlags are the NTS options of leapsmear serve.
type ntsServeFlags struct {
	keListen  string
	cert, key string
	ntpServer string
	keyFile   string
	require   bool
	keTimeout time.Duration
}

func (f *ntsServeFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.keListen, "nts-ke-listen", "", "NTS-KE address (TLS 1.3, ALPN ntske/1), HOST:PORT or HOST for port 4460;\nNTS is on when this or --nts-cert is given (default: the first --listen host, port 4460)")
	fl.StringVar(&f.cert, "nts-cert", "", "NTS-KE certificate chain, PEM (reloaded on SIGHUP; a bad pair keeps the last good one)")
	fl.StringVar(&f.key, "nts-key", "", "NTS-KE private key, PEM")
	fl.StringVar(&f.ntpServer, "nts-ntp-server", "", "HOST:PORT that NTS-KE names for NTP (default: the first --listen)")
	fl.StringVar(&f.keyFile, "nts-key-file", "", "cookie key file shared by a fleet ('leapsmear nts-keys' makes one; reloaded on SIGHUP);\ndefault: a random key per process, whose cookies die with it")
	fl.BoolVar(&f.require, "require-nts", false, "drop NTP requests that are not NTS-authenticated (counted)")
	fl.DurationVar(&f.keTimeout, "nts-ke-timeout", 5*time.Second, "cut off an NTS-KE client that has not finished within this time")
}

// config turns the NTS flags into the daemon's NTS configuration (which the
// daemon validates); nil when NTS is off.
func (f *ntsServeFlags) config(listen []string) (*daemon.NTSConfig, error) {
	on := f.keListen != "" || f.cert != "" || f.key != ""
	if !on {
		if f.require || f.keyFile != "" || f.ntpServer != "" {
			return nil, usagef("--require-nts, --nts-key-file and --nts-ntp-server need NTS: give --nts-cert and --nts-key")
		}
		return nil, nil
	}
	if f.keTimeout <= 0 {
		return nil, usagef("--nts-ke-timeout %s: want a positive duration", f.keTimeout)
	}
	ke := f.keListen
	if ke == "" {
		host := "127.0.0.1"
		if len(listen) > 0 {
			if ap, err := netaddr.Listen(listen[0]); err == nil {
				host = ap.Addr().String()
			}
		}
		ke = net.JoinHostPort(host, strconv.Itoa(nts.DefaultKEPort))
	} else if host, _, hasPort := netaddr.Split(ke); !hasPort {
		// A host alone: 127.0.0.1, ::1 or [::1].
		ke = net.JoinHostPort(host, strconv.Itoa(nts.DefaultKEPort))
	}
	return &daemon.NTSConfig{KEListen: ke, CertFile: f.cert, KeyFile: f.key, NTPServer: f.ntpServer,
		CookieKeyFile: f.keyFile, Require: f.require, KETimeout: f.keTimeout}, nil
}
