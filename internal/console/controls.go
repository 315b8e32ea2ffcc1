package console

import (
	"net/http"
	"net/url"
)

// Rollout controls of issue 16 in the console: pause and resume a job.

func (c *Console) routesControls() {
	c.mux.HandleFunc("POST /console/jobs/{job}/pause", c.authed(c.pauseAction))
	c.mux.HandleFunc("POST /console/jobs/{job}/resume", c.authed(c.resumeAction))
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
