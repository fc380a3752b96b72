// Vecinos: enhances the report form (/) when JavaScript runs; the form works without it.
// - area suggestions: a <datalist> of the gazetteer's areas and aliases from /api/v1/areas;
// - sending without a page load (POST /api/v1/reports, same field names), errors shown next
//   to their fields in the page's language, the reporter's text untouched.
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
      still_active: still ? still.checked : null
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
    fetch("/api/v1/reports?lang=" + encodeURIComponent(lang), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(fields()),
      credentials: "omit"
    })
      .then(function (r) { return r.json().then(function (body) { return [r.status, body]; }); })
      .then(function (result) {
        var status = result[0], body = result[1];
        if (status === 201) { sent(body); return; }
        if (status === 422 && body.errors) {
          var leftover = showFieldErrors(body.errors);
          showAlert([body.message].concat(leftover).join(" "));
        } else {
          showAlert(body.message || msg("failed"));
        }
      })
      .catch(function () { showAlert(msg("failed")); })
      .then(function () {
        if (button) { button.disabled = false; button.textContent = label; }
      });
  });
})();
