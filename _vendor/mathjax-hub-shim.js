// The widget manager (@jupyter-widgets/html-manager 1.x) typesets widget labels with the
// MathJax 2 call `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])` whenever
// window.MathJax exists. Sphinx loads MathJax 3, which has no `Hub`, so every widget
// with a description throws "Cannot read properties of undefined (reading 'Queue')".
// This shim gives whatever object is (or becomes) window.MathJax a non-enumerable
// `Hub.Queue` that forwards to MathJax 3's typesetPromise once MathJax is ready.
(function () {
  var hub = {
    Queue: function () {
      Array.prototype.forEach.call(arguments, function (job) {
        if (!Array.isArray(job) || job[0] !== "Typeset" || !job[2]) return;
        var mj = window.MathJax;
        var ready = mj && mj.startup && mj.startup.promise;
        if (!ready) return;  // MathJax 3 not loaded yet: it typesets the page itself when it starts
        ready.then(function () { return mj.typesetPromise([job[2]]); }).catch(function () {});
      });
    }
  };
  function addHub(obj) {
    if (obj && typeof obj === "object" && !obj.Hub) {
      Object.defineProperty(obj, "Hub", { value: hub, enumerable: false, configurable: true, writable: true });
    }
    return obj;
  }
  var current = addHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () { return current; },
    set: function (value) { current = addHub(value); }
  });
})();
