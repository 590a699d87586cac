package fix

import (
	"math/rand"
	"time"
)

func jitter(sec int64, r *rand.Rand) []byte {
	d := time.Since(time.Unix(sec, 0))
	_ = rand.Int63n(int64(d))             // want `rand.Int63n panics`
	_ = r.Intn(int(d / time.Millisecond)) // want `rand.Intn panics`
	_ = uint64(d)                         // want `wraps it around`
	return make([]byte, d/time.Second)    // want `make panics`
}
