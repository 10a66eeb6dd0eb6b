// Headwater web UI: live updates from the server's event stream, plus small helpers.
//
// One EventSource per tab (/ui/events). Each "change" message lists {k: kind, r: run id}.
// Page parts that want updates carry data-live (run ids, or "*" for any run), optionally
// data-live-kinds (event kinds they care about) and data-live-any (kinds that concern
// them whatever the run); matching parts are re-fetched through htmx ("hw-refresh"),
// at most one request per part per 250 ms (the first at once). While the stream is down the
// parts are refreshed every 10 s instead, until it is back.
(function () {
  "use strict";
  var THROTTLE_MS = 250;
  var POLL_MS = 10000;
  var pollTimer = null;
  var source = null;
  var lastRefresh = {};

  function setStatus(ok) {
    var el = document.getElementById("live-status");
    if (el) {
      el.className = ok ? "live on" : "live off";
      el.title = ok ? "Live updates on" : "Live updates interrupted; refreshing every 10 s";
    }
  }

  // Leading and trailing throttle: the first change refreshes at once, changes within
  // the next THROTTLE_MS are folded into one more refresh at its end.
  function refresh(el) {
    if (!document.body.contains(el) || el._hwTimer) {
      return;
    }
    var now = Date.now();
    // Keyed by id: a refresh swaps in a new element for the same part.
    var wait = Math.max(0, (lastRefresh[el.id] || 0) + THROTTLE_MS - now);
    el._hwTimer = setTimeout(function () {
      el._hwTimer = null;
      lastRefresh[el.id] = Date.now();
      if (document.body.contains(el)) {
        htmx.trigger(el, "hw-refresh");
      }
    }, wait);
  }

  function words(value) {
    return (value || "").split(/\s+/).filter(Boolean);
  }

  function concerns(el, change) {
    if (change.k === "resync") {
      return true;
    }
    if (words(el.dataset.liveAny).indexOf(change.k) >= 0) {
      return true;
    }
    var kinds = words(el.dataset.liveKinds);
    if (kinds.length && kinds.indexOf(change.k) < 0) {
      return false;
    }
    var want = el.dataset.live;
    return want === "*" || (change.r && words(want).indexOf(change.r) >= 0);
  }

  function onChanges(changes) {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      for (var i = 0; i < changes.length; i++) {
        if (concerns(el, changes[i])) {
          refresh(el);
          return;
        }
      }
    });
    document.querySelectorAll("[data-log-tail]").forEach(function (box) {
      for (var i = 0; i < changes.length; i++) {
        var c = changes[i];
        if (c.k === "resync" || (c.k === "logs" && c.r === box.dataset.logTail)) {
          tail(box);
          return;
        }
      }
    });
  }

  function refreshAll() {
    document.querySelectorAll("[data-live]").forEach(refresh);
    document.querySelectorAll("[data-log-tail]").forEach(tail);
  }

  // -- live log tail ---------------------------------------------------------------
  function tail(box) {
    if (box._hwBusy) {
      box._hwAgain = true;
      return;
    }
    box._hwBusy = true;
    var url = box.dataset.url + "&after_id=" + encodeURIComponent(box.dataset.after || "0");
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("log tail: HTTP " + response.status);
        }
        var last = response.headers.get("X-Last-Log-Id");
        return response.text().then(function (html) {
          return { html: html, last: last };
        });
      })
      .then(function (result) {
        var rows = box.querySelector("tbody");
        if (rows && result.html.trim()) {
          var follow = document.getElementById("log-follow");
          // The rows are rendered (and escaped) by the server's templates.
          rows.insertAdjacentHTML("beforeend", result.html);
          if (!follow || follow.checked) {
            box.scrollTop = box.scrollHeight;
          }
        }
        if (result.last) {
          box.dataset.after = result.last;
        }
      })
      .catch(function () {
        /* the next change or the slow poll tries again */
      })
      .finally(function () {
        box._hwBusy = false;
        if (box._hwAgain) {
          box._hwAgain = false;
          tail(box);
        }
      });
  }

  // -- the stream ------------------------------------------------------------------
  function startPoll() {
    if (!pollTimer) {
      pollTimer = setInterval(refreshAll, POLL_MS);
    }
  }

  function stopPoll() {
    if (pollTimer) {
      clearInterval(pollTimer);
      pollTimer = null;
    }
  }

  function connect() {
    var url = document.body.dataset.stream;
    if (!url || !window.EventSource) {
      startPoll();
      return;
    }
    var wasDown = false;
    source = new EventSource(url);
    source.addEventListener("hello", function () {
      setStatus(true);
      stopPoll();
      if (wasDown) {
        refreshAll();
      }
    });
    source.addEventListener("change", function (event) {
      try {
        onChanges(JSON.parse(event.data));
      } catch (err) {
        refreshAll();
      }
    });
    source.onerror = function () {
      wasDown = true;
      setStatus(false);
      startPoll();
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the server answered 401): try again later.
        setTimeout(connect, POLL_MS);
      }
    };
  }

  window.addEventListener("pagehide", function () {
    if (source) {
      source.close();
    }
  });

  // -- small helpers ---------------------------------------------------------------
  // Keep the checked boxes of a table that is swapped in by a live refresh.
  var checked = {};
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    checked = {};
    if (target && target.querySelectorAll) {
      target.querySelectorAll("input[data-keep-checked]:checked").forEach(function (box) {
        checked[box.value] = true;
      });
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("input[data-keep-checked]").forEach(function (box) {
      if (checked[box.value]) {
        box.checked = true;
      }
    });
  });
  // A 401 from a fragment carries HX-Redirect to the login page; htmx follows it.
  document.addEventListener("htmx:responseError", function (event) {
    var flash = document.getElementById("flash");
    var xhr = event.detail.xhr;
    if (flash && xhr && xhr.status >= 400 && event.detail.target !== flash) {
      flash.textContent = "The server answered " + xhr.status + ": " + (xhr.responseText || "").slice(0, 300);
      flash.className = "flash bad";
    }
  });
  document.addEventListener("click", function (event) {
    var all = event.target.closest("[data-check-all]");
    if (all) {
      var name = all.getAttribute("data-check-all");
      var form = all.closest("form");
      (form || document).querySelectorAll('input[name="' + name + '"]').forEach(function (box) {
        box.checked = all.checked;
      });
    }
    var close = event.target.closest("[data-close]");
    if (close) {
      var panel = document.querySelector(close.getAttribute("data-close"));
      if (panel) {
        panel.remove();
      }
    }
    // Schematic: clicking a task shows its row in the task table.
    var node = event.target.closest("#schematic-svg .node, #gantt-svg .bar");
    if (node) {
      var row = document.querySelector('#tasks-table tr[data-slug="' + CSS.escape(node.dataset.slug) + '"]');
      if (row) {
        row.scrollIntoView({ block: "center" });
        row.classList.add("hl");
        setTimeout(function () { row.classList.remove("hl"); }, 1500);
      }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-log-tail]").forEach(function (box) {
      box.scrollTop = box.scrollHeight;
    });
    connect();
  });
})();
