// The portal's own script (no CDN, no framework): small live parts on top of pages that work without it.
"use strict";

// Every request a page's script makes carries the session's CSRF token, as its forms do.
window.parsCsrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
