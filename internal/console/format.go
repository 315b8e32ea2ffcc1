package console

import (
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// templateFuncs are the presentation helpers every page may use.
var templateFuncs = template.FuncMap{
	"ms":       formatMs,
	"clock":    formatClock,
	"percent":  formatPercent,
	"eta":      formatETA,
	"name":     arnName,
	"ref":      arnRef,
	"duration": formatSpan,
	"short":    shortHash,
	"op":       operationLabel,
}

// operationLabel is how a job came to be: "Create" or "Sync".
func operationLabel(op string) string {
	return strings.TrimSuffix(op, "DeploymentJob")
}

// arnName is what a person calls the resource an ARN names: its name (a
// deployment job's id, "deployment-…"), or the ARN itself when it is not a
// RoboMaker ARN. Names are embedded in ARNs, so no lookup is needed.
func arnName(arn string) string {
	if a, err := fleet.ParseARN(arn); err == nil {
		return a.Name
	}
	return arn
}

// arnRef shows a resource by name with its ARN on hover and a button that
// copies the ARN (console.js), as the ARN is what the CLI wants.
func arnRef(arn string) template.HTML {
	esc := template.HTMLEscapeString
	return template.HTML(`<span class="ref" title="` + esc(arn) + `">` + esc(arnName(arn)) +
		`</span><button type="button" class="copy" data-copy="` + esc(arn) + `" title="Copy the ARN">copy ARN</button>`)
}

func formatMs(ms int64) string {
	if ms == 0 {
		return "—"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatClock is a time of day, enough within one job's page.
func formatClock(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("15:04:05")
}

// formatSpan is the time from one instant to another as "1h02m", "3m05s",
// "12s" or "0.4s" (console.js formats live durations the same way); "" when either is 0.
func formatSpan(fromMs, toMs int64) string {
	if fromMs == 0 || toMs == 0 {
		return ""
	}
	return formatDuration(toMs - fromMs)
}

func formatDuration(ms int64) string {
	ms = max(ms, 0)
	s := ms / 1000
	switch {
	case s < 10: // tenths, so that 0.9s between 08:00:01 and 08:00:02 does not read "0s"
		return strconv.FormatInt(s, 10) + "." + strconv.FormatInt(ms/100%10, 10) + "s" // truncated, as console.js does
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m" + pad2(s%60) + "s"
	}
	return strconv.FormatInt(s/3600, 10) + "h" + pad2(s/60%60) + "m"
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

func formatPercent(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 0, 64) + "%"
}

func formatETA(s *int64) string {
	if s == nil {
		return ""
	}
	return (time.Duration(*s) * time.Second).String()
}

func formatAgo(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m ago"
	}
	return d.Round(time.Minute).String() + " ago"
}

// shortHash shows the first 12 characters of a hash or ETag (quotes
// dropped); the whole value goes in the title.
func shortHash(h string) string {
	h = strings.Trim(h, `"`)
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
