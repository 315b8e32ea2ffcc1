package agentapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rates are the robots' request buckets (Config.RatePerSecond, Burst): one
// per robot heard recently, kept in generations of the time a bucket takes
// to refill (at least a minute): a bucket left untouched that long is
// full, which is what a new one would be, so forgetting it changes
// nothing, and forgetting costs O(1) under the lock, never a walk over
// every bucket. The table is bounded by the robots talking to this
// replica; a bucket is 16 bytes in its table slot.
type rates struct {
	mu      sync.Mutex
	buckets generations[string, bucket]
}

// bucket is a token bucket: tokens at atNs (Unix ns).
type bucket struct {
	tokens float64
	atNs   int64
}

// take takes one token at nowNs from a bucket refilled at perSecond up to
// burst. It returns the wait until a token is there when none is (and
// then takes nothing: a refused request costs no token).
func (b *bucket) take(nowNs int64, perSecond float64, burst int) time.Duration {
	if elapsed := nowNs - b.atNs; elapsed > 0 {
		b.tokens = min(float64(burst), b.tokens+float64(elapsed)/1e9*perSecond)
		b.atNs = nowNs
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration(math.Ceil((1 - b.tokens) / perSecond * 1e9))
}

// limit takes one request of the robot from its bucket; nil when allowed,
// else a 429 Throttling refusal with the wait in Retry-After (which the
// agent's backoff on errors respects by waiting at least as long).
func (a *API) limit(robotARN string, now time.Time) *refusal {
	if a.cfg.RatePerSecond <= 0 {
		return nil
	}
	burst := max(a.cfg.Burst, 1)
	refill := time.Duration(float64(burst) / a.cfg.RatePerSecond * float64(time.Second))
	t := &a.rates
	t.mu.Lock()
	t.buckets.rotate(now.UnixMilli(), max(refill, time.Minute).Milliseconds())
	b, ok := t.buckets.get(robotARN)
	if !ok {
		b = bucket{tokens: float64(burst), atNs: now.UnixNano()}
	}
	wait := b.take(now.UnixNano(), a.cfg.RatePerSecond, burst)
	t.buckets.put(robotARN, b)
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
	return t.buckets.len()
}
