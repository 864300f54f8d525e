// Tell RequireJS where the vendored widget manager lives. embed-amd.js asks for
// "@jupyter-widgets/html-manager/dist/libembed-amd"; without this mapping RequireJS
// resolves it relative to the page (and its icon fonts 404). The path is taken
// relative to this script, so it works from pages in any sub-folder of the site.
(function () {
  var here = document.currentScript.src.replace(/[^\/]*$/, "");
  require.config({
    paths: { "@jupyter-widgets/html-manager/dist": here + "html-manager/dist" }
  });
})();
