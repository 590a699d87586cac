package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/client"
	"github.com/leapsmear/leapsmear/ntp"
)

func ExampleQuery() {
	resp, err := client.Query(context.Background(), "127.0.0.1:123", client.Options{Timeout: time.Second})
	var kiss *client.KissError
	switch {
	case errors.As(err, &kiss):
		fmt.Println("server says go away:", kiss.Code)
	case errors.Is(err, client.ErrUnsynchronised):
		fmt.Println("server not synchronised, stratum", resp.Header.Stratum)
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Printf("offset %s, delay %s, stratum %d, refid %s\n",
			resp.Offset, resp.Delay, resp.Header.Stratum, resp.RefID())
	}
}

func ExampleDial() {
	// One socket for many exchanges with the same server, as a watcher does.
	c, err := client.Dial(context.Background(), "[::1]:123", client.Options{Timeout: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	for range 3 {
		resp, err := c.Query(context.Background())
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(resp.T3.Format(time.RFC3339Nano), resp.Offset)
		time.Sleep(time.Second)
	}
}

func ExampleCheckSources() {
	// Ask each of a client's servers what it declares about leap smearing,
	// then check that they can be used together.
	servers := []string{"ntp1.example.net", "ntp2.example.net"}
	var decls []client.SmearDeclaration
	for _, s := range servers {
		resp, err := client.Query(context.Background(), s, client.Options{Timeout: time.Second, SmearInfo: true})
		if err != nil {
			fmt.Println(err)
			return
		}
		d := resp.Smear()
		fmt.Printf("%s smears: %s (%s)\n", s, d.Smearing, d.Evidence)
		decls = append(decls, d)
	}
	if err := client.CheckSources(servers, decls); err != nil {
		fmt.Println("do not use them together:", err)
	}
}

func ExampleOptions_v5() {
	// NTPv5 (draft-ietf-ntp-ntpv5-09): ask for TAI; the reply names the
	// timescale the server served.
	resp, err := client.Query(context.Background(), "127.0.0.1:123", client.Options{Version: 5, Timescale: ntp.TimescaleTAI})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("served", resp.Timescale, "offset", resp.Offset)
}
