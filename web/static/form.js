// Vecinos: enhances the report form (/) when JavaScript runs; the form works without it.
// - area suggestions: a <datalist> of the gazetteer's areas and aliases from /api/v1/areas;
// - sending without a page load (POST /api/v1/reports, same field names), errors shown next
//   to their fields in the page's language, the reporter's text untouched.
// - a shared address (Tor, a big NAT) past its rate limit: the 429's ticket is redeemed with a
//   proof of work (SHA-256 below, run in slices so the page stays responsive) or, when the
//   work would be too long, by waiting the ticket out; then the report is sent again once.
// Texts come from the server, translated, in data-msg-* attributes of the form.
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form || !window.fetch || !window.JSON) { return; }
  var lang = form.getAttribute("data-lang") || "en";
  var alertBox = document.getElementById("form-alert");
  var area = document.getElementById("f-area");

  function msg(name) { return form.getAttribute("data-msg-" + name) || ""; }

  // -- area suggestions ---------------------------------------------------
  if (area) {
    fetch("/api/v1/areas", { headers: { "Accept": "application/json" }, credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.areas) { return; }
        var list = document.createElement("datalist");
        list.id = "area-suggestions";
        var seen = {};
        data.areas.forEach(function (a) {
          [a.name].concat(a.aliases || []).forEach(function (name) {
            if (seen[name]) { return; }
            seen[name] = true;
            var option = document.createElement("option");
            option.value = name;
            list.appendChild(option);
          });
        });
        area.parentNode.appendChild(list);
        area.setAttribute("list", list.id);
        var hint = area.parentNode.querySelector(".hint");
        if (hint) { hint.hidden = false; }
      })
      .catch(function () { /* a plain field is fine */ });
  }

  // -- errors next to the fields -------------------------------------------
  function clearErrors() {
    Array.prototype.forEach.call(form.querySelectorAll(".error.js"), function (p) {
      p.parentNode.removeChild(p);
    });
    Array.prototype.forEach.call(form.querySelectorAll(".error"), function (p) {
      p.hidden = true;
    });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
  }

  function showAlert(text) {
    if (!alertBox) { return; }
    alertBox.textContent = text;
    alertBox.hidden = false;
  }

  function showFieldErrors(errors) {
    var leftover = [];
    Object.keys(errors).forEach(function (field) {
      var holder = form.querySelector('[data-field="' + field + '"]');
      var texts = errors[field];
      if (!holder) { leftover = leftover.concat(texts); return; }
      var p = document.createElement("p");
      p.className = "error js";
      p.id = "err-" + field;
      texts.forEach(function (t, i) {
        if (i) { p.appendChild(document.createElement("br")); }
        p.appendChild(document.createTextNode(t));
      });
      holder.appendChild(p);
      var target = holder.tagName === "FIELDSET" ? holder : holder.querySelector("input,select,textarea");
      if (target) {
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-describedby", p.id);
      }
    });
    return leftover;
  }

  // -- proof of work (node.sources: the leading zero bits of SHA-256("TICKET:NONCE")) --------
  function frac(x) { return ((x - Math.floor(x)) * 4294967296) >>> 0; }
  function ror(x, n) { return (x >>> n) | (x << (32 - n)); }
  var K = [], H0 = [];
  (function () {  // SHA-256's constants: roots of the first 64 primes (FIPS 180-4, 4.2.2, 5.3.3)
    for (var n = 2; K.length < 64; n++) {
      var prime = true;
      for (var d = 2; d * d <= n; d++) { if (n % d === 0) { prime = false; break; } }
      if (!prime) { continue; }
      if (H0.length < 8) { H0.push(frac(Math.sqrt(n))); }
      K.push(frac(Math.cbrt(n)));
    }
  })();

  function zeroBits(text) {  // text: ASCII only (a ticket, ":", digits)
    var bytes = [], i;
    for (i = 0; i < text.length; i++) { bytes.push(text.charCodeAt(i) & 0xff); }
    var bitLength = bytes.length * 8;
    bytes.push(0x80);
    while (bytes.length % 64 !== 56) { bytes.push(0); }
    for (i = 7; i >= 0; i--) { bytes.push(i > 3 ? 0 : (bitLength >>> (i * 8)) & 0xff); }
    var h = H0.slice(), w = new Array(64);
    for (var off = 0; off < bytes.length; off += 64) {
      for (i = 0; i < 16; i++) {
        var j = off + 4 * i;
        w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
      }
      for (i = 16; i < 64; i++) {
        var x = w[i - 15], y = w[i - 2];
        var s0 = ror(x, 7) ^ ror(x, 18) ^ (x >>> 3);
        var s1 = ror(y, 17) ^ ror(y, 19) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (i = 0; i < 64; i++) {
        var t1 = (k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        var t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
    }
    var zeros = 0;
    for (i = 0; i < 8; i++) {
      if (h[i] !== 0) { return zeros + Math.clz32(h[i]); }
      zeros += 32;
    }
    return zeros;
  }

  function solve(token, bits, done) {  // a nonce with `bits` leading zero bits, in slices
    var nonce = 0;
    (function slice() {
      for (var end = nonce + 4000; nonce < end; nonce++) {
        if (zeroBits(token + ":" + nonce) >= bits) { done(token + ":" + nonce); return; }
      }
      setTimeout(slice, 0);
    })();
  }
  window.vecinosProofBits = zeroBits;  // for the browser tests

  // -- sending --------------------------------------------------------------
  function fields() {
    var checked = form.querySelector('input[name="type"]:checked');
    var still = form.querySelector('input[name="still_active"]');
    function value(name) {
      var el = form.elements[name];
      return el && el.value !== "" ? el.value : null;
    }
    return {
      type: checked ? checked.value : null,
      area: value("area"),
      highway: value("highway"),
      description: value("description"),
      still_active: still ? still.checked : null,
      proof: value("proof")  // a ticket the no-JavaScript 429 page put in the form
    };
  }

  function sent(report) {
    var box = document.createElement("section");
    box.className = "sent";
    box.setAttribute("role", "status");
    var h = document.createElement("h1");
    h.id = "sent";
    h.textContent = msg("sent-title");
    var p = document.createElement("p");
    p.textContent = msg("sent-body");
    var line = document.createElement("p");
    line.className = "report status-" + report.status;
    line.textContent = [report.area, report.status_text, report.age_text].join(" · ");
    var a = document.createElement("a");
    a.href = form.getAttribute("data-map");
    a.textContent = msg("see-map");
    var pa = document.createElement("p");
    pa.appendChild(a);
    box.appendChild(h);
    box.appendChild(p);
    box.appendChild(line);
    box.appendChild(pa);
    form.parentNode.replaceChild(box, form);
    h.setAttribute("tabindex", "-1");
    h.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector('button[type="submit"]');
    var label = button ? button.textContent : "";
    if (button) { button.disabled = true; button.textContent = msg("sending"); }
    clearErrors();
    if (alertBox) { alertBox.hidden = true; }
    function done() {
      if (button) { button.disabled = false; button.textContent = label; }
    }
    function send(proof, again) {
      var body = fields();
      if (proof) { body.proof = proof; }
      fetch("/api/v1/reports?lang=" + encodeURIComponent(lang), {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit"
      })
        .then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
        .then(function (result) {
          var status = result[0], answer = result[1], ticket = answer.ticket;
          if (status === 201) { sent(answer); return; }
          if (status === 429 && ticket && again) {  // a shared address: redeem the ticket once
            if (ticket.bits > 0) {
              showAlert(msg("proof"));
              solve(ticket.token, ticket.bits, function (proved) { send(proved, false); });
            } else {
              showAlert(ticket.message);
              setTimeout(function () { send(ticket.token, false); }, ticket.wait_s * 1000 + 500);
            }
            return;
          }
          if (status === 422 && answer.errors) {
            var leftover = showFieldErrors(answer.errors);
            showAlert([answer.message].concat(leftover).join(" "));
          } else {
            showAlert((ticket && ticket.message) || answer.message || msg("failed"));
          }
          done();
        })
        .catch(function () { showAlert(msg("failed")); done(); });
    }
    send(null, true);
  });
})();
