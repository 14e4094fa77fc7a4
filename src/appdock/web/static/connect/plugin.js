/*
 * appdock: the iframe half of the product modules, appended to atlassian-connect-js'
 * dist/iframe.js when appdock serves /atlassian-connect/all.js.
 *
 * request / proxyRequest: apps call request({url, type, data, contentType, responseType,
 * success, error}) or request(url, options) and may use the returned Promise. Functions cannot
 * cross postMessage, so the host half answers one plain response object and this wrapper calls
 * success(body, statusText, xhr) / error(xhr, statusText, errorThrown) and settles the Promise
 * ({body, xhr} / {err, xhr}). Both AP.request(...) and AP.require('request', fn) reach it.
 *
 * history: AP.history.getState() answers synchronously from a cache (filled from the host at
 * creation and on every push/replace/popstate); with a callback it asks the host.
 */
(function () {
  'use strict';
  var AP = window.AP;
  if (!AP || !AP._hostModules) {
    return;
  }
  var globals = AP._hostModules._globals || {};

  function fakeXhr(response) {
    var headers = response.headers || {};
    return {
      status: response.status,
      statusText: response.statusText,
      responseText: response.body,
      getResponseHeader: function (name) {
        var value = headers[String(name).toLowerCase()];
        return value == null ? null : value;
      },
      getAllResponseHeaders: function () {
        return Object.keys(headers).map(function (k) { return k + ': ' + headers[k]; }).join('\r\n');
      }
    };
  }

  function wrapRequest(raw) {
    if (typeof raw !== 'function') {
      return raw;
    }
    return function (urlOrOptions, maybeOptions) {
      var options = typeof urlOrOptions === 'string'
        ? Object.assign({}, maybeOptions || {}, { url: urlOrOptions })
        : Object.assign({}, urlOrOptions || {});
      var success = options.success;
      var error = options.error;
      delete options.success;
      delete options.error;
      var wantsText = options.responseType === 'text';
      var promise = new Promise(function (resolve, reject) {
        raw(options, function (response) {
          response = response || { status: 0, body: '', error: 'no response' };
          var xhr = fakeXhr(response);
          var ok = response.status >= 200 && response.status < 300;
          var body = response.body;
          if (ok && !wantsText && /json/i.test(response.contentType || '') && body) {
            try { body = JSON.parse(body); } catch (e) { ok = false; response.error = 'invalid JSON'; }
          }
          if (ok) {
            if (typeof success === 'function') { success(body, 'success', xhr); }
            resolve({ body: body, xhr: xhr });
          } else {
            var err = response.error || response.statusText || 'error';
            if (typeof error === 'function') { error(xhr, 'error', err); }
            reject({ err: err, xhr: xhr });
          }
        });
      });
      if (typeof error === 'function') {
        // The app handles failures with its callback: an unused Promise must not report them.
        promise.catch(function () {});
      }
      return promise;
    };
  }

  ['request', 'proxyRequest'].forEach(function (name) {
    if (globals[name]) {
      var wrapped = wrapRequest(globals[name]);
      globals[name] = wrapped;
      AP[name] = wrapped;
    }
  });

  // The env module's functions are also globals on Bitbucket (AP.sizeToParent(), AP.getLocation()).
  var env = AP._hostModules.env || {};
  ['sizeToParent', 'getLocation', 'hideFooter'].forEach(function (name) {
    if (typeof AP[name] !== 'function' && typeof env[name] === 'function') {
      AP[name] = env[name];
      globals[name] = env[name];
    }
  });

  var history = AP._hostModules.history;
  if (history) {
    var data = AP._data || {};
    var state = (data.options && data.options.history && data.options.history.state) || '';
    var rawGet = history.getState;
    var remember = function (fnName) {
      var raw = history[fnName];
      return function (newState) {
        state = newState == null ? '' : String(newState);
        return raw.apply(this, arguments);
      };
    };
    history.pushState = remember('pushState');
    history.replaceState = remember('replaceState');
    history.getState = function () {
      var callback = arguments[arguments.length - 1];
      if (typeof callback === 'function') {
        return rawGet.apply(this, arguments);
      }
      return state;
    };
    if (AP.history && AP.history !== history) {
      AP.history.pushState = history.pushState;
      AP.history.replaceState = history.replaceState;
      AP.history.getState = history.getState;
    }
    if (AP.events && AP.events.on) {
      AP.events.on('history.popstate', function (event) {
        state = event && event.state != null ? String(event.state) : state;
      });
    }
  }
}());
