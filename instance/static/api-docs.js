/* /api/docs: Swagger UI on this node's OpenAPI document. A file rather than an
 * inline script, so that the Content-Security-Policy can refuse inline scripts. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle === "undefined") {
    return; // Swagger UI did not load: the document is still at /api/openapi.json
  }
  window.SwaggerUIBundle({
    deepLinking: true,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    showExtensions: true,
    showCommonExtensions: true,
    // The public validator would receive our document's address: not asked.
    validatorUrl: null,
    url: root.dataset.openapiUrl
  });
})();
