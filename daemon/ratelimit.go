package daemon

import "github.com/leapsmear/leapsmear/ratelimit"

// RateLimitStats returns the counters of the rate limiter (Config.Limiter)
// when it keeps any (a *ratelimit.Limiter does), and a zero Stats otherwise,
// as when rate limiting is off. It walks the limiter's table (see
// ratelimit.Limiter.Stats): call it per metrics scrape, not per request.
func (d *Daemon) RateLimitStats() ratelimit.Stats {
	if l, ok := d.cfg.Limiter.(interface{ Stats() ratelimit.Stats }); ok {
		return l.Stats()
	}
	return ratelimit.Stats{}
}
