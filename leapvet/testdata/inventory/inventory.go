// Package inventory is checked with -sources.
package inventory

import (
	"fmt"
	"time"
)

func logAge(sec int64) {
	start := time.Now()
	fmt.Println(time.Since(start))
	age := time.Since(time.Unix(sec, 0)) // want `wall-clock duration \(inventory\): time.Since\(time.Unix\(sec, 0\)\) is read on the wall clock`
	fmt.Println(age, time.Now().Unix()-sec)
	fmt.Println(time.Now().Unix() - time.Unix(sec, 0).Unix()) // want `wall-clock duration \(inventory\): time.Now\(\).Unix\(\) - time.Unix\(sec, 0\).Unix\(\) is a difference`
}
