// Vecinos: keeps the map page fresh, and draws its incidents on Leaflet when (and only when)
// the chapter has its own tile server.
// Every 30 s (while the page is visible) the list (/map/list, same filters) and the area map
// (/map/area, same view) are asked again with If-None-Match; the page carries both ETags, so
// nothing new costs two 304s. What changed is replaced by the server's own HTML of it: the SVG
// area map and the list never disagree with the page a browser without JavaScript gets. A part
// with the keyboard focus in it is left alone until the visitor leaves it.
// With a tile URL (data-map-tiles), Leaflet (served by this node) is loaded too and the
// incidents (/map/data.json, marker fields only) are drawn on the chapter's tiles. Without one,
// no Leaflet file is named or asked for: the SVG area map is the map.
(function () {
  "use strict";
  var body = document.body;
  var listUrl = body.getAttribute("data-map-list");
  if (!listUrl || !window.fetch) { return; }
  var areaUrl = body.getAttribute("data-map-area");
  var tags = {};
  tags[listUrl] = body.getAttribute("data-map-list-etag");
  tags[areaUrl] = body.getAttribute("data-map-area-etag");
  var poll = (parseInt(body.getAttribute("data-map-poll"), 10) || 30) * 1000;
  var status = document.getElementById("live-status");
  var holder = document.getElementById("map");
  var tiles = body.getAttribute("data-map-tiles");
  var refreshed = 0;
  var drawer = null; // the Leaflet drawing, with tiles only

  Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (el) {
    el.hidden = false;
  });
  Array.prototype.forEach.call(document.querySelectorAll(".no-js-only"), function (el) {
    el.hidden = true;
  });

  // The status is a polite live region: it is written only when it changes, so a screen
  // reader is not told "updated" again every 30 s when nothing was.
  function say(text) {
    if (status && status.textContent !== text) { status.textContent = text; }
  }

  // A part of the page the visitor is in (keyboard focus) is left alone until they leave it.
  function busy(el) {
    return document.activeElement !== body && el.contains(document.activeElement);
  }

  // A conditional GET of one of the page's parts; `put` puts the new HTML in place and says
  // whether it did. Its ETag is kept only then, so a part left alone is asked again next time.
  function update(url, put) {
    var headers = { "Accept": "text/html" };
    if (tags[url]) { headers["If-None-Match"] = tags[url]; }
    return fetch(url, { headers: headers, credentials: "omit", cache: "no-cache" })
      .then(function (r) {
        if (r.status === 304) { return false; }
        if (!r.ok) { throw new Error(String(r.status)); }
        var etag = r.headers.get("ETag");
        return r.text().then(function (html) {
          if (!put(html)) { return false; }
          tags[url] = etag;
          return true;
        });
      });
  }

  // The area map partial is a whole <section id="area-map">: swap it for the new one.
  function putArea(html) {
    var old = document.getElementById("area-map");
    if (!old || busy(old)) { return false; }
    var box = document.createElement("div");
    box.innerHTML = html;
    var fresh = box.querySelector("#area-map");
    if (!fresh) { return false; }
    old.parentNode.replaceChild(fresh, old);
    return true;
  }

  function putList(html) {
    var list = document.getElementById("map-list");
    if (!list || busy(list)) { return false; }
    list.innerHTML = html;
    return true;
  }

  function refresh() {
    var parts = [update(listUrl, putList)];
    if (areaUrl) { parts.push(update(areaUrl, putArea)); }
    if (drawer) { parts.push(drawer.refresh()); }
    return Promise.all(parts)
      .then(function (done) {
        if (done.indexOf(true) >= 0) {
          refreshed += 1;
          body.setAttribute("data-map-refreshed", String(refreshed));
        }
        say(body.getAttribute("data-msg-updated"));
      })
      .catch(function () { say(body.getAttribute("data-msg-offline")); });
  }

  function schedule() {
    setInterval(function () { if (!document.hidden) { refresh(); } }, poll);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { refresh(); }
    });
    body.setAttribute("data-map-live", "true");
  }

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

  if (tiles && holder && body.getAttribute("data-map-leaflet-js")) {
    loadLeaflet(function () {
      drawer = leafletDrawer();
      if (!drawer) { schedule(); return; }
      drawer.refresh().catch(function () { say(body.getAttribute("data-msg-offline")); })
        .then(schedule);
    });
  } else {
    schedule();
  }

  // The incidents and neighbours' alerts on Leaflet, over the chapter's tiles.
  function leafletDrawer() {
    if (!window.L) { return null; }
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

    // Leaflet puts a string tooltip or attribution in as HTML: every text goes in as text.
    function text(value) {
      var span = document.createElement("span");
      span.textContent = String(value);
      return span;
    }
    function escaped(value) { return text(value).innerHTML; }

    holder.hidden = false;

    var map = L.map(holder, { zoomControl: true, attributionControl: true });
    map.setView([32.7, -117.1], 9);
    L.tileLayer(tiles, {
      maxZoom: 16,
      attribution: escaped(body.getAttribute("data-map-attribution") || "")
    }).addTo(map);
    var alertLayer = L.layerGroup().addTo(map);
    var reportLayer = L.layerGroup().addTo(map);
    var framed = false;
    var etag = null;

    // Frame what is reported (and neighbours' alerts) once there is any.
    function frame(points) {
      if (framed) { return; }
      var bounds = null;
      points.forEach(function (p) { bounds = bounds ? bounds.extend(p) : L.latLngBounds(p, p); });
      if (bounds && bounds.isValid()) {
        map.fitBounds(bounds.pad(0.2), { maxZoom: 11 });
        framed = true;
      }
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

    // The markers' data (a conditional GET): drawn again only when it changed.
    function refresh() {
      var headers = { "Accept": "application/json" };
      if (etag) { headers["If-None-Match"] = etag; }
      return fetch(dataUrl, { headers: headers, credentials: "omit", cache: "no-cache" })
        .then(function (r) {
          if (r.status === 304) { return false; }
          if (!r.ok) { throw new Error(String(r.status)); }
          etag = r.headers.get("ETag");
          return r.json().then(function (data) {
            var points = drawIncidents(data.incidents || []).concat(drawAlerts(data.alerts || []));
            frame(points);
            holder.setAttribute("data-incidents", String((data.incidents || []).length));
            holder.setAttribute("data-loaded", "true");
            return false; // the markers alone: the list and area map say whether anything changed
          });
        });
    }

    return { refresh: refresh };
  }
})();
