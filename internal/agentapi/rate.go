package agentapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rates are the robots' request buckets (Config.RatePerSecond, Burst): one
// per robot heard recently, swept once full again (a full bucket is what a
// new one would be), so the table is bounded by the robots talking to this
// replica.
type rates struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// limit takes one request of the robot from its bucket; nil when allowed,
// else a 429 Throttling refusal with the wait in Retry-After (which the
// agent's backoff on errors respects by waiting at least as long).
func (a *API) limit(robotARN string, now time.Time) *refusal {
	if a.cfg.RatePerSecond <= 0 {
		return nil
	}
	t := &a.rates
	t.mu.Lock()
	if t.buckets == nil {
		t.buckets = map[string]*rate.Limiter{}
	}
	burst := max(a.cfg.Burst, 1)
	if refill := time.Duration(float64(burst) / a.cfg.RatePerSecond * float64(time.Second)); now.Sub(t.swept) > max(refill, time.Minute) {
		for k, l := range t.buckets {
			if l.TokensAt(now) >= float64(burst) {
				delete(t.buckets, k)
			}
		}
		t.swept = now
	}
	l := t.buckets[robotARN]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(a.cfg.RatePerSecond), burst)
		t.buckets[robotARN] = l
	}
	r := l.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if wait > 0 {
		r.CancelAt(now) // a refused request costs no token
	}
	t.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	return &refusal{status: http.StatusTooManyRequests, code: "Throttling",
		message:    "over this robot's request rate (" + strconv.FormatFloat(a.cfg.RatePerSecond, 'g', -1, 64) + "/s); back off",
		retryAfter: int(math.Ceil(wait.Seconds()))}
}

// held is how many rate buckets are kept (for tests).
func (t *rates) held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buckets)
}
