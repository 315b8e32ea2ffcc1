package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

// Rollout controls of issue 16 in the console: pause and resume a job.

func (c *Console) routesControls() {
	c.mux.HandleFunc("POST /console/jobs/{job}/pause", c.authed(c.pauseAction))
	c.mux.HandleFunc("POST /console/jobs/{job}/resume", c.authed(c.resumeAction))
	c.mux.HandleFunc("POST /console/fleets/{fleet}/release", c.authed(c.releaseAction))
}

// quarantinedRow is one quarantined robot of a fleet page.
type quarantinedRow struct {
	ARN, Name        string
	Failures         int
	LastJob          string
	LastFailure      string
	QuarantinedSince string
}

// quarantineList is the fleet's quarantined robots, named from robots.
func (c *Console) quarantineList(ctx context.Context, s session, fleetARN string, robots []fleet.Robot) ([]quarantinedRow, error) {
	q, err := c.cfg.Deploy.Quarantined(ctx, s.Account, fleetARN)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, r := range robots {
		names[r.ARN] = r.Name
	}
	out := make([]quarantinedRow, 0, len(q))
	for _, f := range q {
		name := names[f.Robot]
		if name == "" {
			name = f.Robot
		}
		out = append(out, quarantinedRow{ARN: f.Robot, Name: name, Failures: f.Failures, LastJob: f.LastJob,
			LastFailure: f.LastCode + ": " + f.LastReason, QuarantinedSince: formatMs(f.QuarantinedMs)})
	}
	return out, nil
}

func (c *Console) releaseAction(w http.ResponseWriter, r *http.Request, s session) {
	fleetARN, robot := r.PathValue("fleet"), r.PostFormValue("robot")
	if err := c.cfg.Deploy.Release(r.Context(), s.Account, robot); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.cfg.Log.Info("console: robot released from quarantine", "access_key_id", s.KeyID, "robot", robot)
	http.Redirect(w, r, "/console/fleets/"+url.PathEscape(fleetARN), http.StatusSeeOther)
}

func (c *Console) pauseAction(w http.ResponseWriter, r *http.Request, s session) {
	arn := r.PathValue("job")
	if _, err := c.cfg.Deploy.Pause(r.Context(), s.Account, arn); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.cfg.Log.Info("console: job paused", "access_key_id", s.KeyID, "job", arn)
	http.Redirect(w, r, "/console/jobs/"+url.PathEscape(arn), http.StatusSeeOther)
}

func (c *Console) resumeAction(w http.ResponseWriter, r *http.Request, s session) {
	arn := r.PathValue("job")
	if _, err := c.cfg.Deploy.Resume(r.Context(), s.Account, arn); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.cfg.Log.Info("console: job resumed", "access_key_id", s.KeyID, "job", arn)
	http.Redirect(w, r, "/console/jobs/"+url.PathEscape(arn), http.StatusSeeOther)
}

func init() {
	templateFuncs["bytes"] = formatBytes
}

// formatBytes shows a byte count the way operators read bandwidth.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// planPanel is the fleet page's sync plan: what the Sync button would do
// now (deploy.PlanSync, the code Sync runs), shown before it is pressed.
func (c *Console) planPanel(ctx context.Context, s session, fleetARN string) (*deploy.DryRun, error) {
	p, err := c.cfg.Deploy.PlanSync(ctx, s.Account, fleetARN)
	if fleet.CodeOf(err) == fleet.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}
