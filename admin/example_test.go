package admin_test

import (
	"fmt"

	"github.com/leapsmear/leapsmear/admin"
)

// The admin listener never shares a port with NTP.
func ExampleCheckAddress() {
	ntp := []string{"[::]:123", "127.0.0.1:11123"}
	fmt.Println(admin.CheckAddress("127.0.0.1:9123", ntp))
	fmt.Println(admin.CheckAddress("127.0.0.1:11123", ntp))
	// Output:
	// <nil>
	// admin address 127.0.0.1:11123: port 11123 is the NTP listen address 127.0.0.1:11123; give the admin endpoints a port of their own such as 9123
}
