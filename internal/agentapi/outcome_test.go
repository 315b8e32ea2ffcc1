package agentapi

import (
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// The agent's cause table (proto) and the domain's (fleet) are one table
// written twice, because the agent may not import the domain: they must
// agree entry by entry, and every code the agent reports must be one the
// server takes.
func TestCauseTablesAgree(t *testing.T) {
	if len(proto.Outcomes) != len(fleet.Outcomes) {
		t.Fatalf("proto has %d causes, fleet %d", len(proto.Outcomes), len(fleet.Outcomes))
	}
	for c, p := range proto.Outcomes {
		f, ok := fleet.Outcomes[fleet.Cause(c)]
		if !ok {
			t.Errorf("cause %s is in proto only", c)
			continue
		}
		if p.Status != string(f.Status) || p.Code != f.Code || string(p.Step) != f.Step {
			t.Errorf("cause %s: proto %+v, fleet %+v", c, p, f)
		}
		if p.Step != "" {
			if got, ok := fleet.ReportedFailure(p.Code, string(p.Step)); !ok || got.Status != f.Status || got.Step != f.Step {
				t.Errorf("cause %s: the server takes a report of it as %+v %v", c, got, ok)
			}
		}
	}
}
