// The node's service worker (served at /sw.js, scope /): shows Web Push alerts
// and keeps the last list of active incidents readable offline.
// Push payloads are decrypted by the browser; they hold type, area, level, age
// and a link to this node, never a description (node/push/messages.py).
"use strict";
var CACHE = "vecinos-pages-v1";

function offlineCopy(url) {
  return url.pathname === "/map" || url.pathname === "/map/data.json" ||
    url.pathname.indexOf("/incident/") === 0 || url.pathname.indexOf("/static/") === 0;
}

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || !offlineCopy(url)) return;
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(request).then(function (found) {
        return found || caches.match(request, { ignoreSearch: true });
      }).then(function (found) { return found || Response.error(); });
    })
  );
});

self.addEventListener("push", function (event) {
  var data;
  try { data = event.data.json(); } catch (e) { return; }
  if (!data || !data.title) return;
  event.waitUntil(self.registration.showNotification(data.title, {
    body: data.body || "",
    tag: data.tag,
    lang: data.lang,
    renotify: data.kind !== "all_clear",
    icon: "/static/icons/icon-192.png",
    data: { url: data.url || "/map" },
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL((event.notification.data && event.notification.data.url) || "/map",
    self.location.origin);
  if (target.origin !== self.location.origin) return;  // only ever this node's pages
  event.waitUntil(self.clients.openWindow(target.href));
});
