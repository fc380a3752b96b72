// /alerts: subscribe this browser to Web Push for the chosen areas (web/push.py).
// No inline code (CSP); texts come from data-msg-* attributes of #push-status,
// already in the page's language. Nothing is sent anywhere but this node; the
// browser's own push service gives the endpoint.
(function () {
  "use strict";
  var body = document.body;
  var status = document.getElementById("push-status");
  if (!status || !body.dataset.pushEnabled) return;
  var lang = body.dataset.pushLang || "en";
  var STORE = "vecinos-push-choice";

  function say(key) { status.textContent = status.dataset["msg" + key] || ""; }
  function checked(name) {
    return Array.prototype.map.call(
      document.querySelectorAll('input[name="' + name + '"]:checked'),
      function (box) { return box.value; });
  }
  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function restore() {
    try {
      var saved = JSON.parse(localStorage.getItem(STORE) || "null");
      if (!saved) return null;
      document.querySelectorAll('input[name="area"]').forEach(function (box) {
        box.checked = saved.areas.indexOf(box.value) >= 0;
      });
      document.querySelectorAll('input[name="type"]').forEach(function (box) {
        box.checked = !saved.types.length || saved.types.indexOf(box.value) >= 0;
      });
      return saved;
    } catch (e) { return null; }
  }
  async function send(subscription, areas, types) {
    var answer = await fetch("/api/v1/push/subscriptions?lang=" + lang, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ subscription: subscription.toJSON(), areas: areas, types: types, lang: lang }),
    });
    if (answer.status === 201) {
      localStorage.setItem(STORE, JSON.stringify({ areas: areas, types: types }));
      return null;
    }
    try { return (await answer.json()).message || null; } catch (e) { return null; }
  }
  async function subscribe() {
    var areas = checked("area");
    var types = checked("type");
    if (!areas.length) { say("Pick"); return; }
    say("Working");
    try {
      var permission = await Notification.requestPermission();
      if (permission !== "granted") { say("Denied"); return; }
      var key = (await (await fetch("/api/v1/push/key")).json()).public_key;
      var registration = await navigator.serviceWorker.ready;
      var subscription = await registration.pushManager.getSubscription() ||
        await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      var problem = await send(subscription, areas, types.length === 4 ? [] : types);
      if (problem) { status.textContent = problem; } else { say("Subscribed"); }
    } catch (e) { say("Failed"); }
  }
  async function unsubscribe() {
    say("Working");
    try {
      var registration = await navigator.serviceWorker.ready;
      var subscription = await registration.pushManager.getSubscription();
      if (subscription) {
        await fetch("/api/v1/push/subscriptions?lang=" + lang, {
          method: "DELETE",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ endpoint: subscription.endpoint }),
        });
        await subscription.unsubscribe();
      }
      localStorage.removeItem(STORE);
      say("Unsubscribed");
    } catch (e) { say("Failed"); }
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window)) { say("Unsupported"); return; }
  document.querySelectorAll(".push-nojs").forEach(function (p) { p.hidden = true; });
  document.querySelectorAll(".push-js").forEach(function (p) { p.hidden = false; });
  document.getElementById("push-subscribe").addEventListener("click", subscribe);
  document.getElementById("push-unsubscribe").addEventListener("click", unsubscribe);
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(async function (registration) {
    var saved = restore();
    var subscription = await registration.pushManager.getSubscription();
    if (subscription && saved) {  // renew: a subscription not renewed expires on the node
      var problem = await send(subscription, saved.areas, saved.types);
      if (!problem) say("Subscribed");
    }
  }).catch(function () { say("Unsupported"); });
})();
