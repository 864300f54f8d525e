// microdnb: accessibility fixes on every page of the book (listed in html_js_files in
// _config.yml; checked by tests/test_site.py with axe-core and the keyboard).
//
// 1. ipywidgets 8 (controls 5) draws a slider as a noUiSlider whose handle (role="slider")
//    is not tied to the widget's visible <label> (a <label for> cannot name a div). For
//    every widget slider on the page this names the handle by that label. For the
//    scrubbers of microdnb.figures.widgets (the .microdnb-scrubber* classes; their frames
//    are <img> with alt text already, written by the Python side) it also
//    - gives each slider the real axis value as aria-valuetext (the slider runs over
//      indices 0..n-1; the value is what the linked readout beside it shows);
//    - labels the scrubber as a group by its title, and announces each new setting and
//      what the frame now shows in a polite live region, once the reader moves a slider.
// 2. The theme's controls whose accessible name hides their visible text (WCAG 2.5.3,
//    label in name): the search button ("Search Ctrl+K", named "Search") and the
//    show/hide-code toggles ("Show code cell source", named "Toggle hidden content") are
//    named by their text; icon glyphs are hidden from assistive technology.
// It only adds or removes attributes and adds one live region per scrubber; it never
// changes what a control does.
(function () {
  "use strict";
  var uid = 0;
  function id(el, prefix) {
    if (!el.id) el.id = prefix + "-" + (++uid);
    return el.id;
  }
  function text(el) {
    return el ? (el.textContent || "").replace(/\s+/g, " ").trim() : "";
  }
  function visible(el) {
    return el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  }
  function setAttr(el, name, value) {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }

  // Any ipywidgets slider: its handle is labelled by the widget's description.
  function nameSliders(root) {
    root.querySelectorAll(".widget-slider").forEach(function (w) {
      var label = w.querySelector(":scope > label.widget-label");
      w.querySelectorAll(".noUi-handle[role=slider]").forEach(function (handle) {
        if (label && text(label)) {
          setAttr(handle, "aria-labelledby", id(label, "microdnb-label"));
        } else if (w.getAttribute("title") && w.getAttribute("title") !== "null") {
          setAttr(handle, "aria-label", w.getAttribute("title"));
        }
      });
    });
  }

  function scrubberState(box) {
    var parts = [];
    box.querySelectorAll(".microdnb-scrubber-row").forEach(function (row) {
      var label = row.querySelector("label.widget-label");
      var readout = row.querySelector(".microdnb-scrubber-readout");
      var value = text(readout);
      var handle = row.querySelector(".noUi-handle[role=slider]");
      if (handle && value) setAttr(handle, "aria-valuetext", value);
      parts.push((text(label) + " " + value).trim());
    });
    var frame = Array.prototype.filter.call(
      box.querySelectorAll(".microdnb-scrubber-frames img"), visible)[0];
    var alt = frame ? frame.getAttribute("alt") || "" : "";
    var setting = parts.join(", ");
    if (alt && alt.toLowerCase().indexOf(setting.toLowerCase()) === 0) return alt;
    return setting + (alt ? ". " + alt : "");
  }

  function enhanceScrubber(box) {
    if (!box.__microdnb) {
      var title = box.querySelector(".microdnb-scrubber-title");
      setAttr(box, "role", "group");
      if (title && text(title)) setAttr(box, "aria-labelledby", id(title, "microdnb-title"));
      var status = document.createElement("div");
      status.className = "microdnb-sr-only microdnb-scrubber-status";
      status.setAttribute("role", "status");
      status.setAttribute("aria-live", "polite");
      status.setAttribute("aria-atomic", "true");
      box.appendChild(status);
      var state = box.__microdnb = {status: status, last: null, armed: false, timer: null};
      // Announce only what the reader caused (not the first render).
      ["keydown", "pointerdown"].forEach(function (type) {
        box.addEventListener(type, function () { state.armed = true; }, true);
      });
    }
    var s = box.__microdnb;
    var now = scrubberState(box);
    if (s.last === null) { s.last = now; return; }
    if (now === s.last || !s.armed) { s.last = now; return; }
    s.last = now;
    clearTimeout(s.timer);
    // A short pause, so holding an arrow key announces where it stopped, not every step.
    s.timer = setTimeout(function () { s.status.textContent = s.last; }, 250);
  }

  // The theme: names that contain what the control shows.
  function labelInName(root) {
    root.querySelectorAll("i.fa-solid, i.fa-regular, i.fa-brands, i.fab, i.fas, i.far").forEach(function (icon) {
      setAttr(icon, "aria-hidden", "true");
    });
    // Font Awesome draws an icon as <svg> with a <title> ("Light", "Dark", ...): inside a
    // button that has its own name, that title is text the name does not contain.
    root.querySelectorAll("button[aria-label] svg > title, a[aria-label] svg > title").forEach(function (t) {
      var svg = t.parentNode;
      svg.removeAttribute("aria-labelledby");
      setAttr(svg, "aria-hidden", "true");
      t.remove();
    });
    root.querySelectorAll("button.search-button-field[aria-label]").forEach(function (button) {
      if (text(button)) button.removeAttribute("aria-label");   // "Search Ctrl + K"
    });
    root.querySelectorAll("details > summary[aria-label], .toggle-button[aria-label]").forEach(function (el) {
      var shown = Array.prototype.filter.call(el.querySelectorAll("p, span"), visible).map(text).join(" ");
      if (shown) el.removeAttribute("aria-label");   // "Show code cell source"
    });
  }

  var pending = false;
  function enhance() {
    pending = false;
    labelInName(document);
    nameSliders(document);
    document.querySelectorAll(".microdnb-scrubber").forEach(enhanceScrubber);
  }
  function schedule() {
    if (!pending) { pending = true; Promise.resolve().then(enhance); }
  }

  function start() {
    enhance();
    new MutationObserver(schedule).observe(document.body, {
      subtree: true, childList: true, attributes: true,
      // noUiSlider rewrites aria-valuetext on every move
      attributeFilter: ["aria-valuetext"],
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
