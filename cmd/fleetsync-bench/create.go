package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/fleetsync/fleetsync/internal/procstat"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
)

// runCreate measures CreateRobot as the account grows to n robots (16
// clients at once, no SDK retries, so every error a client would see is
// counted), printing the rate and fleetsyncd CPU per robot between account
// sizes (--brackets).
func runCreate(bin string, n int) error {
	b, err := newBench(bin, 0)
	if err != nil {
		return err
	}
	defer b.close()
	var marks []int
	if modeOpts.brackets == "" {
		for i := 1; i <= 5; i++ {
			marks = append(marks, n*i/5)
		}
	} else {
		for _, s := range strings.Split(modeOpts.brackets, ",") {
			m, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || m <= 0 {
				return fmt.Errorf("--brackets: %q is not a robot count", s)
			}
			marks = append(marks, min(m, n))
		}
		sort.Ints(marks)
	}
	ids := make([]string, n)
	for i := range ids {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		// Bound to the account the bench signs in as: CreateRobot enrols
		// no unbound (fsa1-) id.
		ids[i] = proto.BoundAgentID(sim.DefaultAccount, pub)
	}
	pid := b.rep.cmd.Process.Pid
	errCount := map[string]int{}
	errFirst := map[string]string{}
	var mu sync.Mutex
	from := 0
	total := time.Duration(0)
	for _, to := range marks {
		if to <= from {
			continue
		}
		cpu0, t0 := procstat.CPUSeconds(pid), time.Now()
		next := make(chan int)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range next {
					_, err := b.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(fmt.Sprintf("r-%06d", i)),
						Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String(ids[i])})
					if err != nil {
						code := "transport"
						if ae, ok := errors.AsType[awserr.Error](err); ok {
							code = ae.Code()
						}
						if strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "SQLITE_BUSY") {
							code += " (database is locked)"
						}
						mu.Lock()
						errCount[code]++
						if errFirst[code] == "" {
							errFirst[code] = err.Error()
						}
						mu.Unlock()
					}
				}
			})
		}
		for i := from; i < to; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		took := time.Since(t0)
		total += took
		cpu := procstat.CPUSeconds(pid) - cpu0
		k := to - from
		fmt.Printf("create robots %6d → %6d: %7.0f robots/s  %.3f ms fleetsyncd CPU/robot  load average %s\n",
			from, to, float64(k)/took.Seconds(), cpu*1000/float64(k), procstat.LoadAvg())
		from = to
	}
	fmt.Printf("created %d robots in %.1fs; errors returned to clients: %d\n", n, total.Seconds(), sum(errCount))
	for code, c := range errCount {
		fmt.Printf("  %s × %d, first: %s\n", code, c, errFirst[code])
	}
	return nil
}

func sum(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}
