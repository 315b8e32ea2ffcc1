package awsapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// describeCache keeps, per deployment job, the JSON of each robot's entry
// of robotDeploymentSummary as the last DescribeDeploymentJob encoded it,
// and the revision it was read at. The next Describe of the job reads and
// encodes only the rows changed since (deploy.Service.Describe): a client
// polling a rollout of 10,000 robots cost a read and an encoding of every
// row, about 40 ms of CPU, on each call.
//
// Who may see a job is decided by the domain's Describe, which checks the
// caller's account before any row is read; the cache only saves work. Its
// entries are keyed by the caller's account and the job, so a caller of
// another account naming the job never waits on (or touches) the owner's
// entry, and an entry is kept only after a Describe that succeeded. It is
// bounded by the bytes and the jobs it holds, and evicts the job described
// least recently.
type describeCache struct {
	mu       sync.Mutex
	jobs     map[string]*describedJob
	total    int    // bytes held, the sum of the jobs' held
	tick     uint64 // the last use given out
	maxBytes int
	maxJobs  int
}

// describeCacheBytes bounds the describe cache: a job of 100,000 robots
// holds about 50 MB (about 500 bytes a row: its JSON, about 340 bytes for
// a row with progress, its key, its slot and its index entry; measured
// with runtime.MemStats, and what size counts).
const describeCacheBytes = 128 << 20

// rowOverhead and entryOverhead are what a row and an entry hold besides
// the rows' JSON and keys (the encodedRow, the index's map slot; the
// entry, its key and the map's): counted so that the bound is the memory
// held, and so that entries of jobs without rows are not free.
const rowOverhead, entryOverhead = 96, 512

// describeCacheJobs bounds the jobs the cache holds: finding the job to
// evict walks them all, which a client describing thousands of small jobs
// would otherwise make slow.
const describeCacheJobs = 4096

// describedJob is one job's encoded rows, in start order.
type describedJob struct {
	mu   sync.Mutex // held across a Describe's read and merge
	next int64      // what to pass as since (0: nothing read yet)
	rows []encodedRow
	at   map[string]int // robot ARN → index in rows
	size int            // bytes held: rows' JSON, keys and overheads

	// Guarded by describeCache.mu.
	held int    // size as last accounted in describeCache.total
	used uint64 // when it was last used
}

type encodedRow struct {
	seq   int
	robot string
	json  []byte
}

func newDescribeCache(maxBytes, maxJobs int) *describeCache {
	return &describeCache{jobs: map[string]*describedJob{}, maxBytes: maxBytes, maxJobs: maxJobs}
}

// describeKey is the cache key of an account's Describe of a job.
func describeKey(account, jobARN string) string { return account + " " + jobARN }

// entry returns the entry of key, or a new one that is kept only when done
// is called on it after a successful Describe.
func (c *describeCache) entry(key string) *describedJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.jobs[key]; e != nil {
		return e
	}
	return &describedJob{at: map[string]int{}, size: entryOverhead + len(key)}
}

// done keeps e as the entry of key with its new size, and evicts the jobs
// described least recently while the cache holds more than its bound.
// Called with e.mu held.
func (c *describeCache) done(key string, e *describedJob) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick++
	e.used = c.tick
	cur := c.jobs[key]
	if e.size > c.maxBytes {
		// Larger than the whole cache: not kept, and nothing evicted for it.
		if cur == e {
			c.total -= e.held
			delete(c.jobs, key)
		}
		return
	}
	switch {
	case cur == e:
		c.total += e.size - e.held
	case cur == nil:
		c.jobs[key] = e
		c.total += e.size
	default:
		return // a concurrent first Describe of the job was kept first
	}
	e.held = e.size
	for (c.total > c.maxBytes || len(c.jobs) > c.maxJobs) && len(c.jobs) > 0 {
		var oldest string
		for arn, j := range c.jobs {
			if oldest == "" || j.used < c.jobs[oldest].used {
				oldest = arn
			}
		}
		c.total -= c.jobs[oldest].held
		delete(c.jobs, oldest)
	}
}

// merge replaces the entry's rows by the changed ones and adds those it
// did not have, encoding each; target is the job's ARN (every row's
// progress names it). Every row is encoded before any is merged: on an
// error the entry is as it was.
func (e *describedJob) merge(changed []fleet.RobotDeployment, target string) error {
	encoded := make([][]byte, len(changed))
	var scratch []byte
	for i, r := range changed {
		w := toWireRobotDeploy(r, target)
		var ok bool
		if scratch, ok = appendRobotDeploy(scratch[:0], w); ok {
			encoded[i] = append([]byte(nil), scratch...) // kept: exactly its size
			continue
		}
		b, err := json.Marshal(w)
		if err != nil {
			return err
		}
		encoded[i] = b
	}
	added := false
	for k, r := range changed {
		b := encoded[k]
		if i, ok := e.at[r.Robot]; ok {
			e.size += len(b) - len(e.rows[i].json)
			e.rows[i].json = b
			continue
		}
		e.rows = append(e.rows, encodedRow{seq: r.Seq, robot: r.Robot, json: b})
		e.size += len(b) + len(r.Robot) + rowOverhead
		added = true
	}
	if added {
		slices.SortStableFunc(e.rows, func(a, b encodedRow) int { return a.seq - b.seq })
		for i, r := range e.rows {
			e.at[r.robot] = i
		}
	}
	return nil
}

// response is DescribeDeploymentJob's output: the job encoded without its
// summary, then the summary's rows as the entry holds them now.
func (e *describedJob) response(job wireJob) (encodedJSON, error) {
	head, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	parts := make(encodedJSON, 0, 2*len(e.rows)+2)
	parts = append(parts, append(head[:len(head)-1], `,"robotDeploymentSummary":[`...))
	for i, r := range e.rows {
		if i > 0 {
			parts = append(parts, comma)
		}
		parts = append(parts, r.json)
	}
	return append(parts, tail), nil
}

var comma, tail = []byte(","), []byte("]}\n")

// encodedJSON is an operation's output already encoded, in parts written
// one after another; writeJSON writes it as it is.
type encodedJSON [][]byte

// write sends the parts as the response body, with its length, gathered
// in chunks: a write per part (a row) would be 20,000 writes for a job of
// 10,000 robots.
func (p encodedJSON) write(w http.ResponseWriter, status int) {
	n := 0
	for _, b := range p {
		n += len(b)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(status)
	buf := chunks.Get().(*[]byte)
	defer chunks.Put(buf)
	chunk := (*buf)[:0]
	for _, b := range p {
		if len(chunk)+len(b) > cap(chunk) && len(chunk) > 0 {
			if _, err := w.Write(chunk); err != nil {
				return // the client went away
			}
			chunk = chunk[:0]
		}
		if len(b) > cap(chunk) {
			if _, err := w.Write(b); err != nil {
				return
			}
			continue
		}
		chunk = append(chunk, b...)
	}
	w.Write(chunk)
}

// chunks are the buffers encodedJSON.write gathers parts in.
var chunks = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}
