/* timeshelf web UI: copy buttons, package search, the snapshot calendar.
 * No framework and no external resource; every value from the server is inserted with
 * textContent, never as HTML. Pages work without this script (it only adds features). */
(function () {
  "use strict";

  var announcer = null;
  function announce(text) {
    announcer = announcer || document.getElementById("announce");
    if (announcer) {
      announcer.textContent = "";
      window.setTimeout(function () { announcer.textContent = text; }, 30);
    }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  /* ---- copy buttons ------------------------------------------------------------------ */

  function fallbackCopy(text) {
    var area = el("textarea", { readonly: "", "aria-hidden": "true" });
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  function setupCopy() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button.copy") : null;
      if (!button) { return; }
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target) { return; }
      var text = target.textContent.replace(/\s+$/, "");
      copyText(text).then(function () {
        button.textContent = "Copied";
        button.classList.add("copied");
        announce("Copied to the clipboard");
        window.setTimeout(function () {
          button.textContent = "Copy";
          button.classList.remove("copied");
        }, 2000);
      }, function () {
        announce("Could not copy: select the text and copy it by hand");
      });
    });
  }

  /* ---- search -------------------------------------------------------------------------- */

  var MAX_RESULTS = 50;

  /* PEP 503: lower case, each run of '-', '_' and '.' one '-' (a prefix the same way:
   * "NC_d" is "nc-d"). squash() also leaves the separators out, so that "ncd" finds
   * "nc-demo" and "nc-d" finds "ncdemo", as the search box's help says. */
  function normalize(name) {
    return name.trim().toLowerCase().replace(/[-_.]+/g, "-");
  }
  function squash(normalized) { return normalized.replace(/-/g, ""); }

  function setupSearch(form) {
    var repos;
    try { repos = JSON.parse(form.getAttribute("data-repos") || "[]"); } catch (e) { repos = []; }
    var root = form.getAttribute("data-root") || "";
    var input = form.querySelector("input[type=search]");
    var results = form.querySelector(".results");
    var shards = {};
    var timer = null;
    var generation = 0;

    function shard(repo, letter) {
      var key = repo + "/" + letter;
      if (!shards[key]) {
        shards[key] = fetch(root + encodeURIComponent(repo) + "/search/" + letter + ".json")
          .then(function (r) { return r.ok ? r.json() : { projects: [] }; })
          .then(function (doc) {
            return (doc.projects || []).map(function (p) {
              var name = normalize(p[0]);
              return { name: name, squashed: squash(name), display: p[0], version: p[1], repo: repo };
            });
          })
          .catch(function () { delete shards[key]; return []; });
      }
      return shards[key];
    }

    function show(query, found) {
      results.textContent = "";
      if (!query) { return; }
      /* One project in two repositories is one project and two results. */
      var total = found.length;
      var names = {};
      found.forEach(function (p) { names[p.name] = true; });
      var projects = Object.keys(names).length;
      results.appendChild(el("p", { class: "meta", id: "results-count" }, total === 0
        ? "No project name starts with \u201c" + query + "\u201d."
        : projects + " project" + (projects === 1 ? "" : "s") + " found" +
          (total > projects ? ", " + total + " results in all repositories" : "") +
          (total > MAX_RESULTS ? ", the first " + MAX_RESULTS + " shown" : "") + "."));
      if (!total) { return; }
      var list = el("ul");
      found.slice(0, MAX_RESULTS).forEach(function (p) {
        var item = el("li");
        item.appendChild(el("a", {
          href: root + encodeURIComponent(p.repo) + "/project/" + encodeURIComponent(p.name) + "/"
        }, p.display));
        item.appendChild(el("span", { class: "version" }, p.version));
        if (repos.length > 1) { item.appendChild(el("span", { class: "repo" }, "in " + p.repo)); }
        list.appendChild(item);
      });
      results.appendChild(list);
    }

    function run() {
      var query = normalize(input.value);
      var loose = squash(query);
      var mine = ++generation;
      if (!loose) { show("", []); return; }
      var letter = loose.charAt(0);
      var wanted = repos.filter(function (r) { return r.shards.indexOf(letter) >= 0; });
      Promise.all(wanted.map(function (r) { return shard(r.name, letter); })).then(function (lists) {
        if (mine !== generation) { return; }
        var found = [];
        lists.forEach(function (list) {
          list.forEach(function (p) {
            if (p.name.indexOf(query) === 0 || p.squashed.indexOf(loose) === 0) { found.push(p); }
          });
        });
        found.sort(function (a, b) {
          return a.name < b.name ? -1 : a.name > b.name ? 1 : (a.repo < b.repo ? -1 : 1);
        });
        show(query, found);
      });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(run, 80);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var first = results.querySelector("a");
      if (first) { window.location.href = first.getAttribute("href"); } else { run(); }
    });
  }

  /* ---- snapshot calendar ------------------------------------------------------------- */

  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  var WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  function iso(date) { return date.toISOString().slice(0, 10); }
  function parseDay(text) {
    return /^\d{4}-\d{2}-\d{2}$/.test(text) ? new Date(text + "T00:00:00Z") : null;
  }
  function addDays(date, n) { return new Date(date.getTime() + n * 86400000); }
  function label(date) {
    return date.getUTCDate() + " " + MONTHS[date.getUTCMonth()] + " " + date.getUTCFullYear();
  }

  function setupCalendar(fieldset) {
    var urlNode = document.getElementById("index-url");
    if (!urlNode) { return; }
    var latestUrl = urlNode.getAttribute("data-latest");
    var base = urlNode.getAttribute("data-base");
    var latestRadio = document.getElementById("view-latest");
    var dateRadio = document.getElementById("view-date");
    var picker = document.getElementById("date-picker");
    var calendar = document.getElementById("calendar");
    var days = {};
    var ordered = [];
    var selected = null;
    var focused = null;

    function setUrl(url) {
      document.querySelectorAll(".index-url").forEach(function (node) { node.textContent = url; });
    }

    function pick(day, keepFocus) {
      selected = day;
      focused = parseDay(day);
      setUrl(base + day + "/simple/");
      /* The grid is rebuilt: focus goes back to the picked day when it was there. */
      render(keepFocus);
      announce("Index URL set to the snapshot of " + label(parseDay(day)));
    }

    function render(moveFocus) {
      var year = focused.getUTCFullYear();
      var month = focused.getUTCMonth();
      calendar.textContent = "";
      var head = el("div", { class: "cal-head" });
      var prev = el("button", { type: "button", "aria-label": "Previous month" }, "\u2039");
      var next = el("button", { type: "button", "aria-label": "Next month" }, "\u203a");
      var title = el("h3", { id: "cal-title", "aria-live": "polite" }, MONTHS[month] + " " + year);
      prev.addEventListener("click", function () { move(monthShift(-1), false); });
      next.addEventListener("click", function () { move(monthShift(1), false); });
      head.appendChild(prev); head.appendChild(title); head.appendChild(next);
      calendar.appendChild(head);
      var table = el("table", { role: "grid", "aria-labelledby": "cal-title" });
      var row = el("tr");
      WEEKDAYS.forEach(function (d) { row.appendChild(el("th", { scope: "col", abbr: d }, d.slice(0, 2))); });
      var thead = el("thead"); thead.appendChild(row); table.appendChild(thead);
      var body = el("tbody");
      var first = new Date(Date.UTC(year, month, 1));
      var offset = (first.getUTCDay() + 6) % 7;
      var cursor = addDays(first, -offset);
      var focusTarget = null;
      for (var week = 0; week < 6; week++) {
        row = el("tr");
        for (var d = 0; d < 7; d++) {
          var cell = el("td");
          if (cursor.getUTCMonth() === month) {
            var day = iso(cursor);
            var has = Object.prototype.hasOwnProperty.call(days, day);
            var button = el("button", {
              type: "button", "data-date": day, tabindex: "-1",
              "aria-label": label(cursor) + (has ? ", snapshot" : ", no snapshot"),
              "aria-pressed": day === selected ? "true" : "false"
            }, String(cursor.getUTCDate()));
            if (has) { button.classList.add("snap"); } else { button.setAttribute("aria-disabled", "true"); }
            if (day === iso(focused)) { button.setAttribute("tabindex", "0"); focusTarget = button; }
            cell.appendChild(button);
          }
          row.appendChild(cell);
          cursor = addDays(cursor, 1);
        }
        body.appendChild(row);
        if (cursor.getUTCMonth() !== month && week >= 3) { break; }
      }
      table.appendChild(body);
      calendar.appendChild(table);
      var legend = el("p", { class: "cal-legend" });
      legend.appendChild(el("span", { class: "snap-key", "aria-hidden": "true" }));
      legend.appendChild(document.createTextNode(" a day with a snapshot (" + ordered.length +
        " from " + ordered[0] + " to " + ordered[ordered.length - 1] + ")"));
      calendar.appendChild(legend);
      if (!focusTarget) {
        focusTarget = calendar.querySelector("button.snap");
        if (focusTarget) { focusTarget.setAttribute("tabindex", "0"); }
      }
      if (moveFocus && focusTarget) { focusTarget.focus(); }
    }

    function monthShift(n) {
      var y = focused.getUTCFullYear();
      var m = focused.getUTCMonth() + n;
      var target = new Date(Date.UTC(y, m, 1));
      var last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
      target.setUTCDate(Math.min(focused.getUTCDate(), last));
      return target;
    }

    function move(date, moveFocus) {
      focused = date;
      render(moveFocus);
    }

    calendar.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[data-date]") : null;
      if (button && button.getAttribute("aria-disabled") !== "true") {
        pick(button.getAttribute("data-date"), true);
      }
    });
    calendar.addEventListener("keydown", function (event) {
      if (!event.target.hasAttribute || !event.target.hasAttribute("data-date")) { return; }
      var steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };
      var target = null;
      if (steps[event.key] !== undefined) {
        target = addDays(focused, steps[event.key]);
      } else if (event.key === "PageUp") {
        target = monthShift(-1);
      } else if (event.key === "PageDown") {
        target = monthShift(1);
      } else if (event.key === "Home") {
        target = addDays(focused, -((focused.getUTCDay() + 6) % 7));
      } else if (event.key === "End") {
        target = addDays(focused, 6 - ((focused.getUTCDay() + 6) % 7));
      }
      if (target) {
        event.preventDefault();
        move(target, true);
      }
    });
    calendar.addEventListener("focusin", function (event) {
      var day = event.target.getAttribute && event.target.getAttribute("data-date");
      if (day) { focused = parseDay(day); }
    });

    function choose() {
      if (dateRadio.checked) {
        picker.hidden = false;
        pick(selected || ordered[ordered.length - 1], false);
      } else {
        picker.hidden = true;
        setUrl(latestUrl);
        announce("Index URL set to latest");
      }
    }

    fetch(fieldset.getAttribute("data-snapshots"))
      .then(function (r) { return r.ok ? r.json() : { snapshots: [] }; })
      .catch(function () { return { snapshots: [] }; })
      .then(function (doc) {
        (doc.snapshots || []).forEach(function (s) {
          if (parseDay(s.date)) { days[s.date] = s; ordered.push(s.date); }
        });
        ordered.sort();
        fieldset.hidden = false;
        if (!ordered.length) {
          dateRadio.disabled = true;
          dateRadio.parentNode.appendChild(el("span", { class: "meta" },
            " (no snapshot yet: the first one exists once a day has ended)"));
          return;
        }
        focused = parseDay(ordered[ordered.length - 1]);
        latestRadio.addEventListener("change", choose);
        dateRadio.addEventListener("change", choose);
        if (dateRadio.checked) { choose(); }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopy();
    document.querySelectorAll("form.search").forEach(setupSearch);
    var fieldset = document.getElementById("view-choice");
    if (fieldset) { setupCalendar(fieldset); }
  });
})();
