// The console's scripts (served from the console itself: the pages allow no
// inline script). Copy buttons put an ARN on the clipboard. On a job page,
// the live view follows the server-sent events of /console/jobs/{arn}/events
// and updates the summary bar and every robot's row in place, so the page
// never reloads; elapsed times tick every second.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.body.addEventListener("click", function (ev) {
    var b = ev.target.closest("button.copy");
    if (!b) { return; }
    var done = function () { b.textContent = "copied"; setTimeout(function () { b.textContent = "copy ARN"; }, 1500); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(b.dataset.copy).then(done, function () { window.prompt("ARN", b.dataset.copy); });
    } else {
      window.prompt("ARN", b.dataset.copy);
    }
  });

  var table = document.getElementById("job-robots");
  var summary = document.getElementById("summary");
  if (!table || !summary) { return; }
  var body = table.tBodies[0];
  var live = document.getElementById("live");
  var cells = ["name", "status", "step", "percent", "eta", "started", "finished", "duration", "failure"];
  // The server's clock: elapsed times do not depend on the browser's.
  var offset = Number(summary.dataset.nowMs) - Date.now();
  var job = { createdMs: Number(summary.dataset.createdMs), finishedMs: Number(summary.dataset.finishedMs) };

  // formatDuration matches the server's (format.go): 0.4s, 12s, 3m05s, 1h02m.
  function formatDuration(ms) {
    ms = Math.max(0, ms);
    var s = Math.floor(ms / 1000);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (s < 10) { return (Math.floor(ms / 100) / 10).toFixed(1) + "s"; }
    if (s < 60) { return s + "s"; }
    if (s < 3600) { return Math.floor(s / 60) + "m" + pad(s % 60) + "s"; }
    return Math.floor(s / 3600) + "h" + pad(Math.floor(s / 60) % 60) + "m";
  }
  function formatClock(ms) {
    return ms ? new Date(ms).toISOString().substring(11, 19) : "";
  }
  function formatTime(ms) {
    return new Date(ms).toISOString().substring(0, 19).replace("T", " ") + " UTC";
  }

  function rowFor(arn) {
    for (var i = 0; i < body.rows.length; i++) {
      if (body.rows[i].dataset.robot === arn) { return body.rows[i]; }
    }
    var tr = body.insertRow(-1);
    tr.dataset.robot = arn;
    cells.forEach(function (c) { tr.insertCell(-1).className = c; });
    return tr;
  }

  function set(tr, cls, text) {
    var td = tr.querySelector("td." + cls);
    if (td.textContent !== text) { td.textContent = text; }
  }

  // renderFailure shows a robot's failure reason and, folded, the output
  // its agent sent (kept open if the reader opened it).
  function renderFailure(td, reason, output) {
    var span = td.querySelector("span.reason");
    if (!span) {
      td.textContent = "";
      span = document.createElement("span");
      span.className = "reason";
      td.appendChild(span);
    }
    if (span.textContent !== reason) { span.textContent = reason; }
    var det = td.querySelector("details.output");
    if (!output) { if (det) { det.remove(); } return; }
    if (!det) {
      det = document.createElement("details");
      det.className = "output";
      var sum = document.createElement("summary");
      sum.textContent = "output";
      det.appendChild(sum);
      det.appendChild(document.createElement("pre"));
      td.appendChild(det);
    }
    var pre = det.querySelector("pre");
    if (pre.textContent !== output) { pre.textContent = output; }
  }

  function sizeBar() {
    var bar = document.getElementById("summary-bar");
    var total = Math.max(1, Number(bar.dataset.targets));
    bar.querySelectorAll(".seg").forEach(function (seg) {
      seg.style.width = (100 * Number(seg.dataset.n) / total) + "%";
    });
  }

  function renderSummary(v) {
    document.getElementById("summary-insync").textContent = v.inSync + " of " + v.targets + " InSync";
    var bar = document.getElementById("summary-bar");
    bar.dataset.targets = v.targets;
    var list = document.getElementById("summary-counts");
    bar.textContent = "";
    list.textContent = "";
    v.summary.forEach(function (t) {
      var seg = document.createElement("span");
      seg.className = "seg seg-" + t.status;
      seg.dataset.n = t.n;
      seg.title = t.status + " " + t.n;
      bar.appendChild(seg);
      var li = document.createElement("li");
      li.className = "status status-" + t.status;
      li.dataset.status = t.status;
      li.appendChild(document.createTextNode(t.status + " "));
      var b = document.createElement("b");
      b.textContent = t.n;
      li.appendChild(b);
      list.appendChild(li);
    });
    if (!v.summary.length) {
      var none = document.createElement("li");
      none.textContent = "no robots";
      list.appendChild(none);
    }
    sizeBar();
  }

  // tick refreshes what depends on the clock: the job's elapsed time and
  // the duration of every robot still deploying.
  function tick() {
    var now = Date.now() + offset;
    var el = document.getElementById("summary-elapsed");
    el.textContent = job.finishedMs ? "took " + formatDuration(job.finishedMs - job.createdMs) : "elapsed " + formatDuration(now - job.createdMs);
    for (var i = 0; i < body.rows.length; i++) {
      var tr = body.rows[i];
      var st = tr.querySelector("td.status").textContent;
      var started = Number(tr.dataset.startedMs);
      if (st === "Deploying" && started) { set(tr, "duration", formatDuration(now - started)); }
    }
  }

  sizeBar();
  tick();
  var timer = setInterval(tick, 1000);
  if (!window.EventSource) { return; }
  var es = new EventSource(table.dataset.events);
  es.onopen = function () { live.hidden = false; };
  es.onmessage = function (ev) {
    var v = JSON.parse(ev.data);
    var st = document.getElementById("job-status");
    st.textContent = v.status;
    st.className = "status status-" + v.status;
    document.getElementById("job-failure").textContent = v.failureCode ? v.failureCode + ": " + v.failureReason : "";
    job.finishedMs = v.finishedMs;
    document.getElementById("job-finished").textContent = v.finishedMs ? formatTime(v.finishedMs) : "not yet";
    renderSummary(v);
    v.robots.forEach(function (r) {
      var tr = rowFor(r.arn);
      tr.dataset.startedMs = r.startedMs;
      set(tr, "name", r.name);
      tr.querySelector("td.name").title = r.arn;
      set(tr, "status", r.status);
      tr.querySelector("td.status").className = "status status-" + r.status;
      var step = tr.querySelector("td.step");
      var stepText = r.agent || r.step;
      if (step.textContent !== stepText) {
        step.textContent = "";
        if (r.agent) {
          var a = document.createElement("span");
          a.className = "agent-state";
          a.textContent = r.agent;
          step.appendChild(a);
        } else {
          step.textContent = r.step;
        }
      }
      set(tr, "percent", r.percent);
      set(tr, "eta", r.eta);
      set(tr, "started", r.started);
      set(tr, "finished", r.finished);
      if (r.status !== "Deploying") { set(tr, "duration", r.duration); }
      renderFailure(tr.querySelector("td.failure"), r.failure || "", r.output || "");
    });
    tick();
    document.getElementById("job-paused").hidden = v.state !== "paused";
    var acts = document.getElementById("job-actions");
    if (acts && !v.done && acts.dataset.state !== v.state) {
      // Paused or resumed elsewhere (API, another operator): show the right button.
      window.location.reload();
      return;
    }
    if (v.done) {
      var actions = document.getElementById("job-actions");
      if (actions) { actions.remove(); }
    }
  };
  es.addEventListener("end", function () { es.close(); live.hidden = true; clearInterval(timer); tick(); });
  es.onerror = function () { live.hidden = true; };
});
