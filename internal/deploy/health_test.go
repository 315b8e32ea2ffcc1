package deploy

import (
	"errors"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

func TestHealthSeconds(t *testing.T) {
	for _, c := range []struct {
		name       string
		job, fleet fleet.Tags
		want       int64
		from       string
	}{
		{"none", nil, nil, 0, FromNone},
		{"fleet", nil, fleet.Tags{"fleetsync:healthSeconds": "30"}, 30, FromFleet},
		{"job wins", fleet.Tags{"fleetsync:healthSeconds": "10"}, fleet.Tags{"fleetsync:healthSeconds": "30"}, 10, FromJob},
		{"job 0 turns the fleet's gate off", fleet.Tags{"fleetsync:healthSeconds": "0"}, fleet.Tags{"fleetsync:healthSeconds": "30"}, 0, FromJob},
		{"key case does not matter", fleet.Tags{"FleetSync:HealthSeconds": " 7 "}, nil, 7, FromJob},
		{"unparsable job value falls back", fleet.Tags{"fleetsync:healthSeconds": "x"}, fleet.Tags{"fleetsync:healthSeconds": "5"}, 5, FromFleet},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, from := HealthSeconds(c.job, c.fleet)
			if n != c.want || from != c.from {
				t.Errorf("HealthSeconds = %d from %s, want %d from %s", n, from, c.want, c.from)
			}
		})
	}
}

func TestCheckJobControls(t *testing.T) {
	cfg := fleet.DeploymentConfig{RobotTimeoutSeconds: 600}
	for _, c := range []struct {
		tags fleet.Tags
		ok   bool
	}{
		{nil, true},
		{fleet.Tags{"fleetsync:healthSeconds": "599"}, true},
		{fleet.Tags{"fleetsync:healthSeconds": "600"}, false},
		{fleet.Tags{"fleetsync:healthSeconds": "1.5"}, false},
		{fleet.Tags{"fleetsync:healthSeconds": "-1"}, false},
		{fleet.Tags{"fleetsync:canary": "3"}, true},
		{fleet.Tags{"fleetsync:canary": "many"}, false},
		{fleet.Tags{"other": "anything"}, true},
	} {
		err := checkJobControls(c.tags, cfg)
		if (err == nil) != c.ok {
			t.Errorf("checkJobControls(%v) = %v, want ok=%v", c.tags, err, c.ok)
		}
		if fe, ok := errors.AsType[*fleet.Error](err); err != nil && (!ok || fe.Code != fleet.Invalid) {
			t.Errorf("checkJobControls(%v) = %#v, want an Invalid fleet.Error", c.tags, err)
		}
	}
}
