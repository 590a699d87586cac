package main

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/nts"
)

// ntsClientFlags are the NTS options of query and watch.
type ntsClientFlags struct {
	on   bool
	port int
	ca   string
}

func (f *ntsClientFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.on, "nts", false, "authenticate with Network Time Security (RFC 8915): NTS-KE, then authenticated exchanges")
	fl.IntVar(&f.port, "nts-port", nts.DefaultKEPort, "NTS-KE port of each server")
	fl.StringVar(&f.ca, "nts-ca", "", "PEM file of the CA(s) that sign the servers' NTS-KE certificates (default: the system's)")
}

// options returns the client's NTS options, nil when --nts is not given.
func (f *ntsClientFlags) options(cmd string) (*client.NTSOptions, error) {
	if !f.on {
		if f.ca != "" || f.port != nts.DefaultKEPort {
			return nil, usagef("%s: --nts-port and --nts-ca need --nts", cmd)
		}
		return nil, nil
	}
	if f.port < 1 || f.port > 65535 {
		return nil, usagef("%s: --nts-port %d: want 1 to 65535", cmd, f.port)
	}
	o := &client.NTSOptions{Port: f.port}
	if f.ca != "" {
		b, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("--nts-ca: %w", err)
		}
		o.RootCAs = x509.NewCertPool()
		if !o.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--nts-ca %s: no PEM certificate in it", f.ca)
		}
	}
	return o, nil
}
