/*
 * appdock: runs after jquery.js and BEFORE connect-host.js (templates/connect/scripts.html).
 *
 * 1. connect-host.js (atlassian-connect-js) expects the host page to provide jQuery as AJS.$
 *    (Atlassian products get it from AUI). We hand it our copy and take jQuery off the global
 *    scope so page code cannot come to depend on it.
 * 2. A message guard, registered before connect-host's own listener: simple-xdm checks the
 *    origin of every message and the source window of every message but "init". The init
 *    message names its extension id; we drop it unless it comes from that very iframe's window,
 *    so another frame of the same app origin cannot take over an extension's channel.
 */
(function () {
  'use strict';
  var jq = window.jQuery && window.jQuery.noConflict(true);
  if (!jq) {
    throw new Error('[appdock] jquery.js must load before host-prelude.js');
  }
  var escapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  window.AJS = window.AJS || {};
  window.AJS.$ = jq;
  window.AJS.escapeHtml = function (text) {
    return String(text == null ? '' : text).replace(/[&<>"']/g, function (c) { return escapes[c]; });
  };

  window.addEventListener('message', function (event) {
    var data = event.data;
    if (!data || typeof data !== 'object' || data.type !== 'init') {
      return;
    }
    var frame = typeof data.eid === 'string' ? document.getElementById(data.eid) : null;
    if (!frame || frame.tagName !== 'IFRAME' || frame.contentWindow !== event.source) {
      event.stopImmediatePropagation();
      if (window.console) {
        console.warn('[appdock] ignored a bridge init message that did not come from the frame it names');
      }
    }
  });
}());
