package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leapsmear/leapsmear/client"
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
