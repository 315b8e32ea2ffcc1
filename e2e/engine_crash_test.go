// Durability of the engine: fleetsyncd SIGKILLed at several points of a
// 200-robot rollout and restarted on the same data; the job finishes with
// every robot deployed exactly once.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"

	"github.com/fleetsync/fleetsync/internal/sim"
)

func TestEngineSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	r := newRollout(t, s, 200)
	for _, sr := range r.robots {
		sr.SetBehavior(sim.Behavior{Delay: 100 * time.Millisecond})
	}
	job := r.create(jobConfig{concurrent: 10, threshold: 100}) // window 20: about ten waves
	completed := func() int {
		n := 0
		for _, sr := range r.robots {
			if count(sr.Completed(), job) > 0 {
				n++
			}
		}
		return n
	}
	for _, at := range []int{1, 50, 100, 150} {
		deadline := time.Now().Add(time.Minute)
		for completed() < at {
			if time.Now().After(deadline) {
				t.Fatalf("only %d robots completed, waiting for %d", completed(), at)
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.Kill()
		t.Logf("%s killed fleetsyncd with %d robots completed", time.Now().Format("15:04:05.000"), completed())
		time.Sleep(100 * time.Millisecond)
		s.Restart()
	}
	t.Logf("%s restarted for the last time", time.Now().Format("15:04:05.000"))
	d, _ := r.wait(job, 2*time.Minute)
	t.Logf("%s job finished", time.Now().Format("15:04:05.000"))
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("job after restarts = %s/%s", aws.StringValue(d.Status), aws.StringValue(d.FailureCode))
	}
	r.deployedExactlyOnce(job, d, 200)
}
