// Live view of a deployment job: follows the server-sent events of
// /console/jobs/{arn}/events and updates every robot's row in place, so the
// page never reloads.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var table = document.getElementById("job-robots");
  if (!table || !window.EventSource) { return; }
  var body = table.tBodies[0];
  var live = document.getElementById("live");
  var cells = ["name", "status", "step", "percent", "eta", "failure"];

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

  var es = new EventSource(table.dataset.events);
  es.onopen = function () { live.hidden = false; };
  es.onmessage = function (ev) {
    var v = JSON.parse(ev.data);
    var st = document.getElementById("job-status");
    st.textContent = v.status;
    st.className = "status status-" + v.status;
    document.getElementById("job-failure").textContent = v.failureCode ? v.failureCode + ": " + v.failureReason : "";
    v.robots.forEach(function (r) {
      var tr = rowFor(r.arn);
      set(tr, "name", r.name);
      set(tr, "status", r.status);
      tr.querySelector("td.status").className = "status status-" + r.status;
      set(tr, "step", r.step);
      set(tr, "percent", r.percent);
      set(tr, "eta", r.eta);
      set(tr, "failure", r.failure || "");
    });
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
  es.addEventListener("end", function () { es.close(); live.hidden = true; });
  es.onerror = function () { live.hidden = true; };
});
