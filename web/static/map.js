// Vecinos: draws the map page's incidents and neighbours' alerts on Leaflet, and keeps them
// fresh. Leaflet is served by this node. Tiles only from the chapter's own configured tile URL;
// with none, the gazetteer's areas are drawn as faint labelled circles on a blank background.
// Every 30 s (while the page is visible) /map/data.json (marker fields only) is asked again
// with If-None-Match; a 304 costs almost nothing. When it changed, the list under the map is
// replaced by the server's own HTML of it (/map/list, same filters), so the list and the map
// never disagree and no data comes twice.
// Leaflet itself (about 47 kB compressed) is loaded by this script: at once on a wide screen or
// when the chapter has tiles; on a phone without tiles only when asked ("Show the live map"),
// so a phone on a data plan gets the list and the area map first.
(function () {
  "use strict";
  var body = document.body;
  var holder = document.getElementById("map");
  if (!holder || !window.fetch) { return; }
  var showButton = document.getElementById("map-show");

  function loadLeaflet(then) {
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = body.getAttribute("data-map-leaflet-css");
    document.head.appendChild(css);
    var js = document.createElement("script");
    js.src = body.getAttribute("data-map-leaflet-js");
    js.onload = then;
    document.head.appendChild(js);
  }
  var narrow = window.matchMedia && window.matchMedia("(max-width: 40rem)").matches;
  if (body.getAttribute("data-map-tiles") || !narrow || !showButton) {
    loadLeaflet(start);
  } else {
    showButton.parentNode.hidden = false;
    Array.prototype.forEach.call(document.querySelectorAll(".no-js-only"), function (el) {
      el.hidden = true;
    });
    showButton.addEventListener("click", function () {
      showButton.disabled = true;
      loadLeaflet(function () { showButton.parentNode.hidden = true; start(); });
    });
  }

  function start() {
    if (!window.L) { return; }

    // Colour and size by level: unverified gray and small ... confirmed red and prominent.
    var STYLE = {
      unverified: { color: "#6b6b6b", fill: "#9e9e9e", radius: 6, weight: 1 },
      possible: { color: "#8a6d00", fill: "#ffd400", radius: 8, weight: 1.5 },
      likely: { color: "#a34a00", fill: "#ff8c00", radius: 11, weight: 2 },
      confirmed: { color: "#7a0000", fill: "#e00000", radius: 15, weight: 3 },
      debunked: { color: "#333333", fill: "#ffffff", radius: 9, weight: 2 },
      archived: { color: "#6b6b6b", fill: "#d0d0d0", radius: 5, weight: 1 }
    };
    var dataUrl = body.getAttribute("data-map-data");
    var listUrl = body.getAttribute("data-map-list");
    var areasUrl = body.getAttribute("data-map-areas");
    var tiles = body.getAttribute("data-map-tiles");
    var poll = (parseInt(body.getAttribute("data-map-poll"), 10) || 30) * 1000;
    var status = document.getElementById("live-status");
    var list = document.getElementById("map-list");

    // Leaflet puts a string tooltip or attribution in as HTML: every text goes in as text.
    function text(value) {
      var span = document.createElement("span");
      span.textContent = String(value);
      return span;
    }
    function escaped(value) { return text(value).innerHTML; }

    Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (el) {
      el.hidden = false;
    });
    Array.prototype.forEach.call(document.querySelectorAll(".no-js-only"), function (el) {
      el.hidden = true;
    });
    holder.hidden = false;

    var map = L.map(holder, { zoomControl: true, attributionControl: !!tiles });
    map.setView([32.7, -117.1], 9);
    if (tiles) {
      L.tileLayer(tiles, {
        maxZoom: 16,
        attribution: escaped(body.getAttribute("data-map-attribution") || "")
      }).addTo(map);
    } else {
      holder.classList.add("no-tiles");
    }
    var areaLayer = L.layerGroup().addTo(map);
    var alertLayer = L.layerGroup().addTo(map);
    var reportLayer = L.layerGroup().addTo(map);
    var framed = false;
    var areaBounds = null;
    var etag = null;

    // Frame what is reported (and neighbours' alerts) when there is any, else the known areas.
    function frame(points) {
      if (framed) { return; }
      var bounds = null;
      points.forEach(function (p) { bounds = bounds ? bounds.extend(p) : L.latLngBounds(p, p); });
      if (!bounds && areaBounds) { bounds = areaBounds; }
      if (bounds && bounds.isValid()) {
        map.fitBounds(bounds.pad(0.2), { maxZoom: points.length ? 11 : 12 });
        framed = true;
      }
    }

    // Area names only when zoomed in enough to read them.
    function labels() { holder.classList.toggle("labels-off", map.getZoom() < 10); }
    map.on("zoomend", labels);
    labels();

    function drawAreas(areas) {
      areas.forEach(function (a) {
        if (typeof a.lat !== "number" || typeof a.lon !== "number") { return; }
        var ll = L.latLng(a.lat, a.lon);
        areaBounds = areaBounds ? areaBounds.extend(ll) : L.latLngBounds(ll, ll);
        if (tiles) { return; } // the tiles already show the places
        L.circle(ll, {
          radius: 1000, color: "#7a8aa0", weight: 1, opacity: 0.5, fillOpacity: 0.06,
          className: "area-circle", interactive: false
        }).addTo(areaLayer).bindTooltip(text(a.name), {
          permanent: true, direction: "center", className: "area-label", interactive: false
        });
      });
    }

    function drawIncidents(incidents) {
      reportLayer.clearLayers();
      var points = [];
      incidents.forEach(function (r) {
        if (typeof r.lat !== "number" || typeof r.lon !== "number") { return; }
        var level = r.shown_level;
        var s = STYLE[level] || STYLE.unverified;
        var ended = r.state !== "active";
        var opacity = Math.max(0.35, Math.min(1, r.opacity));
        var debunked = level === "debunked";
        var marker = L.circleMarker([r.lat, r.lon], {
          radius: s.radius,
          color: s.color,
          weight: s.weight,
          opacity: opacity,
          fillColor: s.fill,
          fillOpacity: debunked || ended ? 0.15 : 0.35 + 0.55 * opacity,
          dashArray: debunked || ended ? "4 3" : null,
          className: "incident-marker level-" + level + (ended ? " ended" : "")
        });
        // One short label per incident; the full facts are in the list and on its page.
        marker.bindTooltip(text(r.type_text + " · " + r.level_text + " · " + r.age_text), {
          direction: "top", offset: [0, -s.radius], className: "age-label level-" + level
        });
        marker.addTo(reportLayer);
        var path = marker.getElement && marker.getElement();
        if (path) { path.setAttribute("data-incident-id", r.id); }
        points.push([r.lat, r.lon]);
      });
      return points;
    }

    function drawAlerts(alerts) {
      alertLayer.clearLayers();
      var points = [];
      alerts.forEach(function (a) {
        if (typeof a.lat !== "number" || typeof a.lon !== "number") { return; }
        var icon = L.divIcon({
          className: "alert-icon level-" + a.level,
          html: '<span class="alert-diamond"></span>',
          iconSize: [18, 18],
          iconAnchor: [9, 9]
        });
        L.marker([a.lat, a.lon], { icon: icon, keyboard: false, title: a.type_text })
          .bindTooltip(text(a.type_text + " · " + a.level_text + " · " + a.chapter), {
            direction: "top", className: "alert-label"
          })
          .addTo(alertLayer);
        points.push([a.lat, a.lon]);
      });
      return points;
    }

    function say(text) { if (status) { status.textContent = text; } }

    function refresh() {
      var headers = { "Accept": "application/json" };
      if (etag) { headers["If-None-Match"] = etag; }
      return fetch(dataUrl, { headers: headers, credentials: "omit", cache: "no-cache" })
        .then(function (r) {
          if (r.status === 304) { return null; }
          if (!r.ok) { throw new Error(String(r.status)); }
          etag = r.headers.get("ETag");
          return r.json();
        })
        .then(function (data) {
          if (data) {
            var points = drawIncidents(data.incidents || []).concat(drawAlerts(data.alerts || []));
            frame(points);
            holder.setAttribute("data-incidents", String((data.incidents || []).length));
            return refreshList();
          }
        })
        .then(function () {
          say(body.getAttribute("data-msg-updated"));
          holder.setAttribute("data-loaded", "true");
        })
        .catch(function () { say(body.getAttribute("data-msg-offline")); });
    }

    // The list's HTML, only after the data changed (the first load already has it).
    var firstList = true;
    function refreshList() {
      if (firstList) { firstList = false; return null; }
      if (!list || !listUrl) { return null; }
      return fetch(listUrl, { headers: { "Accept": "text/html" }, credentials: "omit" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { list.innerHTML = html; } });
    }

    var timer = null;
    function schedule() {
      if (timer) { clearInterval(timer); }
      timer = setInterval(function () { if (!document.hidden) { refresh(); } }, poll);
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { refresh(); }
    });

    fetch(areasUrl, { headers: { "Accept": "application/json" }, credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : { areas: [] }; })
      .catch(function () { return { areas: [] }; })
      .then(function (data) { drawAreas(data.areas || []); })
      .then(refresh)
      .then(function () { frame([]); schedule(); });
  }
})();
