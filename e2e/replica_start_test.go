package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"testing"

	"github.com/aws/aws-sdk-go/service/robomaker"
)

// TestReplicasStartTogetherOnAFreshDatabase starts four fleetsyncd
// processes at the same instant on one empty PostgreSQL database, as a
// deployment of replicas does: without the migration lock all but one fail
// their first migration. Every replica must come up and serve.
func TestReplicasStartTogetherOnAFreshDatabase(t *testing.T) {
	t.Parallel()
	for _, s := range startReplicas(t, 4) { // testenv.StartReplicas launches them concurrently
		if _, err := quiet(s.Client()).ListFleets(&robomaker.ListFleetsInput{}); err != nil {
			t.Errorf("replica %s: ListFleets: %v", s.URL, err)
		}
	}
}
