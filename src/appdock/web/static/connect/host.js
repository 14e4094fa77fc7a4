/*
 * appdock host glue for the Atlassian Connect bridge (our code; no framework).
 *
 * Loaded by templates/connect/scripts.html after jquery.js, host-prelude.js and connect-host.js
 * (atlassian-connect-js). It:
 *   - mounts every server-rendered module container (.ap-container[data-ap-module]) as an
 *     iframe created by connectHost.create(), which writes the window.name JSON handshake data
 *     and registers the extension with simple-xdm (origin + source window checks on every
 *     message);
 *   - replaces a frame that has not completed the bridge handshake within options.timeout ms
 *     with a diagnostic box (text only);
 *   - provides what Atlassian products provide and connect-host.js lacks: dialog, flag and
 *     messages rendering (framework-adaptor providers), and the product modules request,
 *     proxyRequest, navigator, cookie and history;
 *   - asks the viewer to grant an app access (a "Grant access" prompt linking to the host's
 *     page) when the app declares an oauthConsumer, or when its AP.request is refused for
 *     want of a grant.
 * App-supplied text is always written with textContent, never innerHTML.
 *
 * Configuration: <script type="application/json" id="appdock-connect-config"> (see
 * appdock.connect.ui.page.bridge_config). Page-level DOM events for host code:
 *   appdock:connect-established, appdock:connect-timeout, appdock:dialog-open,
 *   appdock:dialog-submit, appdock:dialog-cancel, appdock:dialog-close, appdock:flag,
 *   appdock:consent-required.
 */
(function () {
  'use strict';

  var connectHost = window.connectHost;
  if (!connectHost) {
    throw new Error('[appdock] connect-host.js must load before host.js');
  }

  var config = readConfig();
  var established = {};      // extension id -> true once the bridge handshake completed
  var dialogs = [];          // open dialogs, last = active
  var extensionsById = {};   // extension id -> {addonKey, moduleKey, options}

  function readConfig() {
    var node = document.getElementById('appdock-connect-config');
    var parsed = {};
    if (node) {
      try { parsed = JSON.parse(node.textContent || '{}'); } catch (e) { parsed = {}; }
    }
    var meta = document.querySelector('meta[name="csrf-token"]');
    return {
      apiBase: stripSlash(parsed.apiBase || '/api'),
      proxyBase: stripSlash(parsed.proxyBase || '/site/connect/proxy'),
      resolveUrl: parsed.resolveUrl || null,
      addonPageUrl: parsed.addonPageUrl || null,
      navigatorTargets: parsed.navigatorTargets || {},
      csrfToken: (meta && meta.getAttribute('content')) || parsed.csrfToken || '',
      dialogs: parsed.dialogs || {},
      consent: parsed.consent || {},
      page: parsed.page || {},
      sandbox: parsed.sandbox || '',
      timeout: parsed.timeout || 5000
    };
  }

  function stripSlash(s) { return String(s).replace(/\/+$/, ''); }

  function last(args) { return args[args.length - 1]; }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent('appdock:' + name, { detail: detail }));
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text != null) { node.textContent = String(text); }
    return node;
  }

  function isHttpUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === 'https:' || parsed.protocol === 'http:';
    } catch (e) {
      return false;
    }
  }

  function originOf(url) {
    try { return new URL(url, window.location.href).origin; } catch (e) { return ''; }
  }

  // ---------------------------------------------------------------------------------------
  // Creating iframes

  function createFrame(spec, target, extra) {
    // spec: {addonKey, moduleKey, url, options}; returns the iframe's extension id or null.
    if (!isHttpUrl(spec.url) || originOf(spec.url) === window.location.origin) {
      showDiagnostic(target, spec, 'The app URL is not a separate http(s) origin; it was not loaded.');
      return null;
    }
    var options = Object.assign({}, spec.options || {}, extra || {});
    options.hostOrigin = window.location.origin;
    options.sandbox = options.sandbox || config.sandbox;
    options.history = { state: historyState() };
    var $container = connectHost.create({
      addon_key: spec.addonKey,
      key: spec.moduleKey,
      url: spec.url,
      options: options
    });
    var container = $container[0];
    var frame = container.querySelector('iframe');
    target.appendChild(container);
    if (!frame) {
      return null;
    }
    frame.setAttribute('title', (options.appName || spec.addonKey) + ': ' + spec.moduleKey);
    frame.setAttribute('loading', 'eager');
    var id = frame.id;
    extensionsById[id] = { addonKey: spec.addonKey, moduleKey: spec.moduleKey, options: options };
    var timeout = Number(options.timeout) || config.timeout;
    window.setTimeout(function () {
      if (!established[id] && document.getElementById(id)) {
        showDiagnostic(target, spec, null, container);
        emit('connect-timeout', { extensionId: id, addonKey: spec.addonKey, moduleKey: spec.moduleKey });
      }
    }, timeout);
    return id;
  }

  function showDiagnostic(target, spec, message, frameContainer) {
    var appName = (spec.options && spec.options.appName) || spec.addonKey;
    var box = el('div', 'adk-diagnostic');
    box.setAttribute('role', 'alert');
    box.appendChild(el('strong', null, 'The app "' + appName + '" did not load.'));
    box.appendChild(el('p', null, message ||
      'It may send X-Frame-Options or a Content-Security-Policy that forbids framing, be ' +
      'unreachable from your browser, or not load ' + window.location.origin +
      '/atlassian-connect/all.js.'));
    box.appendChild(el('p', 'adk-diagnostic-detail', 'Module ' + spec.moduleKey + ' at ' + originOf(spec.url)));
    if (frameContainer) {
      frameContainer.style.display = 'none';
      var show = el('button', 'adk-diagnostic-show', 'Show the frame anyway');
      show.type = 'button';
      show.addEventListener('click', function () {
        frameContainer.style.display = '';
        box.remove();
      });
      box.appendChild(show);
    }
    target.insertBefore(box, target.firstChild);
  }

  connectHost.onIframeEstablished(function (data) {
    var ext = data.extension || {};
    established[ext.id] = true;
    var frame = document.getElementById(ext.id);
    if (frame) {
      var holder = frame.closest('.ap-container, .adk-dialog-body');
      var diag = holder && holder.querySelector('.adk-diagnostic');
      if (diag) {
        diag.remove();
        var c = frame.closest('.ap-iframe-container');
        if (c) { c.style.display = ''; }
      }
      frame.setAttribute('data-ap-established', 'true');
    }
    var dialog = findDialogByExtension(ext.id);
    if (dialog) {
      setButtonDisabled(dialog, 'submit', false);
      connectHost.onKeyEvent(ext.id, 27, [], function () {
        if (!ext.options || !ext.options.preventDialogCloseOnEscape) { closeDialog(dialog, true); }
      });
    }
    emit('connect-established', { extensionId: ext.id, addonKey: ext.addon_key, moduleKey: ext.key });
  });

  function mountAll(root) {
    var nodes = (root || document).querySelectorAll('.ap-container[data-ap-module]');
    Array.prototype.forEach.call(nodes, function (node) {
      if (node.getAttribute('data-ap-mounted')) { return; }
      node.setAttribute('data-ap-mounted', 'true');
      var spec;
      try { spec = JSON.parse(node.getAttribute('data-ap-module')); } catch (e) { return; }
      createFrame(spec, node);
    });
    var triggers = (root || document).querySelectorAll('.adk-dialog-trigger[data-ap-module]');
    Array.prototype.forEach.call(triggers, function (node) {
      if (node.getAttribute('data-ap-mounted')) { return; }
      node.setAttribute('data-ap-mounted', 'true');
      node.addEventListener('click', function (event) {
        event.preventDefault();
        var spec = JSON.parse(node.getAttribute('data-ap-module'));
        var dialogOptions = (spec.options && spec.options.dialog) || {};
        openDialog({
          addonKey: spec.addonKey,
          moduleKey: spec.moduleKey,
          url: spec.url,
          dialog: dialogOptions,
          appName: spec.options && spec.options.appName
        });
      });
    });
  }

  // ---------------------------------------------------------------------------------------
  // Dialogs

  var dialogCounter = 0;

  function knownModule(addonKey, moduleKey) {
    // {url, dialog} of a module the server signed for this page, or null.
    var byApp = config.dialogs[addonKey];
    if (byApp && byApp[moduleKey]) { return byApp[moduleKey]; }
    var nodes = document.querySelectorAll('[data-ap-module]');
    for (var i = 0; i < nodes.length; i++) {
      try {
        var spec = JSON.parse(nodes[i].getAttribute('data-ap-module'));
        if (spec.addonKey === addonKey && spec.moduleKey === moduleKey && spec.kind !== 'link') {
          return { url: spec.url, dialog: (spec.options && spec.options.dialog) || {} };
        }
      } catch (e) { /* ignore */ }
    }
    return null;
  }

  function resolveUrl(request) {
    // A fresh signed URL for (addonKey, moduleKey | url); resolves to null when impossible.
    var known = request.moduleKey ? knownModule(request.addonKey, request.moduleKey) : null;
    if (known && !(connectHost.hasJwt(known.url) && connectHost.isJwtExpired(known.url))) {
      return Promise.resolve({ url: known.url });
    }
    if (!config.resolveUrl) {
      return Promise.reject(new Error(
        'This page cannot sign a URL for this dialog (it has no module URL endpoint).'));
    }
    return fetch(config.resolveUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': config.csrfToken },
      body: JSON.stringify({
        addonKey: request.addonKey,
        moduleKey: request.moduleKey || null,
        url: request.url || null,
        context: config.page.context || {}
      })
    }).then(function (response) {
      if (!response.ok) {
        throw new Error('The host refused to sign this dialog (' + response.status + ').');
      }
      return response.json();
    });
  }

  function dialogDimension(value, fallback) {
    if (value == null || value === '') { return fallback; }
    var text = String(value);
    return /^\d+$/.test(text) ? text + 'px' : text;
  }

  function openDialog(request) {
    // request: {addonKey, moduleKey?, url?, dialog: {width,height,chrome,header,submitText,
    //           cancelText,size,closeOnEscape,buttons}, customData, openerId, dialogId, appName}
    // The module's own dialog options (its webItem target) are defaults under the caller's.
    var known = request.moduleKey ? knownModule(request.addonKey, request.moduleKey) : null;
    var opts = Object.assign({}, (known && known.dialog) || {}, request.dialog || {});
    var id = request.dialogId || ('appdock-dialog-' + (++dialogCounter));
    var overlay = el('div', 'adk-dialog-overlay');
    var box = el('section', 'adk-dialog');
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-modal', 'true');
    box.setAttribute('data-dialog-id', id);
    box.style.width = dialogDimension(opts.width, '50%');
    box.style.height = dialogDimension(opts.height, '50%');
    var chrome = opts.chrome !== false;
    var header = el('header', 'adk-dialog-header');
    var headerText = typeof opts.header === 'object' && opts.header ? opts.header.value : opts.header;
    var title = el('h2', 'adk-dialog-title', headerText || request.appName || request.addonKey);
    title.id = id + '-title';
    box.setAttribute('aria-labelledby', title.id);
    var closeButton = el('button', 'adk-dialog-close', '\u00d7');
    closeButton.type = 'button';
    closeButton.setAttribute('aria-label', 'Close');
    header.appendChild(title);
    header.appendChild(closeButton);
    var body = el('div', 'adk-dialog-body');
    var footer = el('footer', 'adk-dialog-footer');
    if (chrome) { box.appendChild(header); }
    box.appendChild(body);
    if (chrome) { box.appendChild(footer); }
    overlay.appendChild(box);
    document.body.appendChild(overlay);

    var dialog = {
      id: id,
      addonKey: request.addonKey,
      moduleKey: request.moduleKey || 'url-dialog',
      customData: request.customData,
      openerId: request.openerId || null,
      extensionId: null,
      overlay: overlay,
      buttons: {},
      onHide: request.onHide || null
    };
    dialogs.push(dialog);

    function addButton(identifier, text, kind, disabled, onClick) {
      var button = el('button', 'adk-dialog-button adk-dialog-button-' + kind, text);
      button.type = 'button';
      button.setAttribute('data-identifier', identifier);
      button.disabled = !!disabled;
      button.addEventListener('click', function () { onClick(button); });
      footer.appendChild(button);
      dialog.buttons[identifier] = button;
      return button;
    }
    dialog.addButton = addButton;
    addButton('submit', opts.submitText || 'Submit', 'primary', true, function (b) { buttonClicked(dialog, 'submit', b); });
    addButton('cancel', opts.cancelText || 'Cancel', 'link', false, function (b) { buttonClicked(dialog, 'cancel', b); });
    (Array.isArray(opts.buttons) ? opts.buttons : []).forEach(function (spec, i) {
      var identifier = typeof spec.identifier === 'string' ? spec.identifier : 'user.button.' + i;
      addButton(identifier, spec.text || identifier, 'secondary', spec.disabled === true, function (b) {
        buttonClicked(dialog, identifier, b);
      });
    });
    closeButton.addEventListener('click', function () { closeDialog(dialog, true); });
    overlay.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && opts.closeOnEscape !== false) { closeDialog(dialog, true); }
    });
    box.tabIndex = -1;
    box.focus();
    emit('dialog-open', { dialogId: id, addonKey: dialog.addonKey, moduleKey: dialog.moduleKey });

    resolveUrl(request).then(function (resolved) {
      if (dialogs.indexOf(dialog) < 0) { return; }
      var extra = Object.assign({}, resolved.options || {}, {
        isDialog: true,
        dialogId: id,
        callbackExtensionId: dialog.openerId,
        customData: dialog.customData,
        preventDialogCloseOnEscape: opts.closeOnEscape === false,
        moduleType: 'dialogs',
        appName: request.appName || request.addonKey
      });
      dialog.extensionId = createFrame({
        addonKey: dialog.addonKey,
        moduleKey: dialog.moduleKey,
        url: resolved.url,
        options: extra
      }, body);
    }).catch(function (error) {
      showDiagnostic(body, { addonKey: dialog.addonKey, moduleKey: dialog.moduleKey, url: request.url || '',
        options: { appName: request.appName } }, error.message);
    });
    return dialog;
  }

  function buttonClicked(dialog, identifier, button) {
    if (button.disabled) { return; }
    var eventData = { button: { name: identifier, identifier: identifier, text: button.textContent } };
    emit('dialog-' + (identifier === 'submit' || identifier === 'cancel' ? identifier : 'button'), {
      dialogId: dialog.id, addonKey: dialog.addonKey, moduleKey: dialog.moduleKey, identifier: identifier
    });
    if (!dialog.extensionId || !established[dialog.extensionId]) {
      // Nobody inside can react: submit and cancel simply close.
      if (identifier === 'submit' || identifier === 'cancel') { closeDialog(dialog, true); }
      return;
    }
    var target = { id: dialog.extensionId };
    if (identifier === 'submit' || identifier === 'cancel') {
      // all.js in the dialog runs its handlers, then calls AP.dialog.close() unless told not to.
      connectHost.broadcastEvent('dialog.' + identifier, target, eventData);
    }
    connectHost.broadcastEvent('dialog.button.click', target, eventData);
  }

  function closeDialog(dialog, notify, data) {
    var index = dialogs.indexOf(dialog);
    if (index < 0) { return; }
    dialogs.splice(index, 1);
    if (notify) {
      connectHost.broadcastEvent('dialog.close', { addon_key: dialog.addonKey }, data);
    }
    if (dialog.extensionId) { connectHost.destroy(dialog.extensionId); }
    dialog.overlay.remove();
    if (typeof dialog.onHide === 'function') { dialog.onHide(); }
    emit('dialog-close', { dialogId: dialog.id, addonKey: dialog.addonKey, moduleKey: dialog.moduleKey });
  }

  function activeDialog() { return dialogs[dialogs.length - 1] || null; }

  function findDialogByExtension(extensionId) {
    for (var i = 0; i < dialogs.length; i++) {
      if (dialogs[i].extensionId === extensionId) { return dialogs[i]; }
    }
    return null;
  }

  function setButtonDisabled(dialog, identifier, disabled) {
    var button = dialog && dialog.buttons[identifier];
    if (button) { button.disabled = !!disabled; }
  }

  var dialogProvider = {
    // Used by atlassian-connect-js for dialog.close/getButton/createButton, and for
    // connectHost.dialog.create() calls made by host code.
    create: function (options, extension) {
      var actions = options.actions || [];
      return openDialog({
        addonKey: extension.addon_key,
        moduleKey: extension.key,
        url: extension.url,
        customData: extension.options && extension.options.customData,
        dialog: {
          width: options.width, height: options.height, chrome: options.chrome,
          header: options.header, closeOnEscape: options.closeOnEscape,
          submitText: (actions[0] || {}).text, cancelText: (actions[1] || {}).text
        },
        onHide: options.onHide
      });
    },
    close: function () {
      var dialog = activeDialog();
      if (dialog) { closeDialog(dialog, false); }
    },
    isActiveDialog: function (addonKey) {
      var dialog = activeDialog();
      return !!dialog && dialog.addonKey === addonKey;
    },
    setButtonDisabled: function (identifier, disabled) { setButtonDisabled(activeDialog(), identifier, disabled); },
    isButtonDisabled: function (identifier) {
      var dialog = activeDialog();
      var button = dialog && dialog.buttons[identifier];
      return !button || button.disabled;
    },
    toggleButton: function (identifier) {
      var dialog = activeDialog();
      var button = dialog && dialog.buttons[identifier];
      if (button) { button.disabled = !button.disabled; }
    },
    isButtonHidden: function (identifier) {
      var dialog = activeDialog();
      var button = dialog && dialog.buttons[identifier];
      return !button || button.hidden;
    },
    setButtonHidden: function (identifier, hidden) {
      var dialog = activeDialog();
      var button = dialog && dialog.buttons[identifier];
      if (button) { button.hidden = !!hidden; }
    },
    createButton: function (spec) {
      var dialog = activeDialog();
      if (!dialog) { return; }
      dialog.addButton(spec.identifier, spec.text || spec.identifier, 'secondary', spec.disabled, function () {
        if (typeof spec.onClick === 'function') { spec.onClick(); }
      });
    }
  };

  // AP.dialog.create from an iframe: our own constructor (atlassian-connect-js' version drops
  // the url option and expects AUI), keeping the rest of its dialog module.
  function AppdockDialog(options, callback) {
    callback = last(arguments);
    var opener = callback._context.extension;
    options = options && typeof options === 'object' ? options : {};
    if (!options.key && !options.url) {
      throw new Error('AP.dialog.create needs a module key or a url');
    }
    openDialog({
      addonKey: opener.addon_key,
      moduleKey: options.key,
      url: options.url,
      customData: options.customData,
      dialog: options,
      openerId: opener.id,
      dialogId: 'appdock-dialog-' + callback._id,
      appName: opener.options && opener.options.appName
    });
  }

  function getCustomData(callback) {
    callback = last(arguments);
    var dialog = findDialogByExtension(callback._context.extension.id);
    callback(dialog ? dialog.customData : undefined);
  }

  // ---------------------------------------------------------------------------------------
  // Flags and (deprecated) messages

  function flagRegion() {
    var region = document.getElementById('adk-flags');
    if (!region) {
      region = el('div', 'adk-flags');
      region.id = 'adk-flags';
      region.setAttribute('aria-live', 'polite');
      document.body.appendChild(region);
    }
    return region;
  }

  var FLAG_TYPES = ['info', 'success', 'warning', 'error'];

  var flagProvider = {
    create: function (options) {
      var type = FLAG_TYPES.indexOf(options.type) >= 0 ? options.type : 'info';
      var node = el('div', 'adk-flag adk-flag-' + type);
      node.setAttribute('role', type === 'error' ? 'alert' : 'status');
      node.setAttribute('data-flag-id', String(options.id));
      if (options.title) { node.appendChild(el('strong', 'adk-flag-title', options.title)); }
      if (options.body) { node.appendChild(el('div', 'adk-flag-body', options.body)); }
      var closed = false;
      function close() {
        if (closed) { return; }
        closed = true;
        node.remove();
        if (typeof options.onClose === 'function') { options.onClose(options.id); }
      }
      (options.actions || []).forEach(function (action) {
        var button = el('button', 'adk-flag-action', action.actionText);
        button.type = 'button';
        button.addEventListener('click', function () { action.executeAction(); });
        node.appendChild(button);
      });
      var x = el('button', 'adk-flag-close', '\u00d7');
      x.type = 'button';
      x.setAttribute('aria-label', 'Dismiss');
      x.addEventListener('click', close);
      node.appendChild(x);
      flagRegion().appendChild(node);
      if (options.close === 'auto') { window.setTimeout(close, 8000); }
      emit('flag', { id: options.id, type: type });
      return { close: close };
    }
  };

  var messageCallbacks = {};

  function showMessage(kind, title, body, options) {
    options = options || {};
    var node = el('div', 'adk-message adk-message-' + kind);
    node.id = String(options.id || '');
    node.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    if (title) { node.appendChild(el('strong', 'adk-message-title', title)); }
    if (body) { node.appendChild(el('div', 'adk-message-body', body)); }
    function close() {
      node.remove();
      var cb = messageCallbacks[node.id];
      delete messageCallbacks[node.id];
      if (typeof cb === 'function') { cb(); }
    }
    if (options.closeable !== false) {
      var x = el('button', 'adk-message-close', '\u00d7');
      x.type = 'button';
      x.setAttribute('aria-label', 'Dismiss');
      x.addEventListener('click', close);
      node.appendChild(x);
    }
    var region = document.getElementById('ac-message-container');
    if (!region) {
      region = el('div', 'adk-messages');
      region.id = 'ac-message-container';
      document.body.appendChild(region);
    }
    region.appendChild(node);
    if (options.fadeout) {
      window.setTimeout(close, (Number(options.delay) || 5) * 1000 + (Number(options.duration) || 1) * 1000);
    }
  }

  var messagesProvider = {
    clear: function (id) {
      var node = document.getElementById(id);
      if (node) { node.remove(); }
    },
    onClose: function (id, callback) { messageCallbacks[id] = callback; }
  };
  ['generic', 'info', 'success', 'warning', 'error', 'hint'].forEach(function (kind) {
    messagesProvider[kind] = function (title, body, options) { showMessage(kind, title, body, options); };
  });

  function providerModule(name, provider) {
    return {
      getModuleRegistrationName: function () { return name; },
      isEnabled: function () { return true; },
      getProvider: function () { return provider; }
    };
  }

  var adaptor = connectHost.getFrameworkAdaptor();
  adaptor.registerModule(providerModule('dialog', dialogProvider));
  adaptor.registerModule(providerModule('flag', flagProvider));
  adaptor.registerModule(providerModule('messages', messagesProvider));

  // ---------------------------------------------------------------------------------------
  // The installation behind a frame, and the viewer's grant

  function specsOnPage() {
    var found = [];
    var nodes = document.querySelectorAll('[data-ap-module]');
    for (var i = 0; i < nodes.length; i++) {
      try { found.push(JSON.parse(nodes[i].getAttribute('data-ap-module'))); } catch (e) { /* ignore */ }
    }
    return found;
  }

  function clientKeyOf(extension) {
    // The installation that rendered the frame: from the frame's own registration (set by the
    // server in its options), else from the page's consent data or another module of the app.
    var fromOptions = extension && extension.options && extension.options.clientKey;
    if (fromOptions) { return String(fromOptions); }
    var addonKey = extension && extension.addon_key;
    var consent = config.consent[addonKey];
    if (consent && consent.clientKey) { return String(consent.clientKey); }
    var specs = specsOnPage();
    for (var i = 0; i < specs.length; i++) {
      if (specs[i].addonKey === addonKey && specs[i].options && specs[i].options.clientKey) {
        return String(specs[i].options.clientKey);
      }
    }
    return '';
  }

  var prompted = {};

  function localPath(url) {
    return typeof url === 'string' && url.charAt(0) === '/' && url.charAt(1) !== '/' &&
      url.indexOf('\\') < 0;
  }

  function showConsentPrompt(addonKey, info) {
    // A host-rendered, text-only prompt; the decision is taken on the host's Grant access page.
    if (prompted[addonKey] || !localPath(info.grantUrl)) { return; }
    prompted[addonKey] = true;
    var appName = info.appName || addonKey;
    var box = el('div', 'adk-consent');
    box.setAttribute('role', 'status');
    box.setAttribute('data-app-key', addonKey);
    box.appendChild(el('strong', null, appName + ' wants to act for you on this site.'));
    box.appendChild(el('span', null, ' Review what it asks for before it can use the API as you.'));
    var here = window.location.pathname + window.location.search + window.location.hash;
    var link = el('a', 'adk-consent-grant', 'Review and grant access');
    link.href = info.grantUrl + (info.grantUrl.indexOf('?') >= 0 ? '&' : '?') +
      'next=' + encodeURIComponent(here);
    box.appendChild(link);
    var later = el('button', 'adk-consent-dismiss', 'Not now');
    later.type = 'button';
    later.addEventListener('click', function () { box.remove(); });
    box.appendChild(later);
    var anchor = document.querySelector('.ap-container[data-app-key="' + CSS.escape(addonKey) + '"]');
    if (anchor && anchor.parentNode) {
      anchor.parentNode.insertBefore(box, anchor);
    } else {
      flagRegion().appendChild(box);
    }
    emit('consent-required', { addonKey: addonKey });
  }

  function promptEagerly() {
    var onPage = {};
    specsOnPage().forEach(function (spec) { if (spec.kind !== 'link') { onPage[spec.addonKey] = true; } });
    Object.keys(config.consent).forEach(function (addonKey) {
      var info = config.consent[addonKey] || {};
      if (onPage[addonKey] && info.needsConsent && info.eager) {
        showConsentPrompt(addonKey, { appName: info.appName, grantUrl: info.grantUrl });
      }
    });
  }

  function consentRefusal(response, text) {
    // The REST API's answer when the viewer has not granted the app access: {error: {data:
    // {consent_required, grant_url}}}; null for any other answer.
    if (response.status !== 403) { return null; }
    try {
      var error = JSON.parse(text).error || {};
      return error.data && error.data.consent_required ? error : null;
    } catch (e) {
      return null;
    }
  }

  // ---------------------------------------------------------------------------------------
  // request and proxyRequest

  var ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
  var FORWARDED_HEADERS = ['accept', 'if-match', 'if-none-match', 'if-modified-since'];

  function requestParts(options) {
    // Normalises the request options an app sent (plain data: callbacks were stripped).
    options = options && typeof options === 'object' ? options : {};
    var method = String(options.type || options.method || 'GET').toUpperCase();
    if (ALLOWED_METHODS.indexOf(method) < 0) {
      throw new Error('method ' + method + ' is not allowed');
    }
    var url = String(options.url || '');
    if (url.charAt(0) !== '/' || url.charAt(1) === '/' || url.indexOf('\\') >= 0) {
      throw new Error('url must be a path such as /2.0/user, got "' + url.slice(0, 80) + '"');
    }
    var headers = {};
    var given = options.headers && typeof options.headers === 'object' ? options.headers : {};
    Object.keys(given).forEach(function (name) {
      if (FORWARDED_HEADERS.indexOf(name.toLowerCase()) >= 0) { headers[name] = String(given[name]); }
    });
    var body = null;
    var contentType = options.contentType || null;
    var data = options.data;
    if (data != null) {
      if (method === 'GET' || method === 'HEAD') {
        var query = typeof data === 'string' ? data : new URLSearchParams(data).toString();
        if (query) { url += (url.indexOf('?') >= 0 ? '&' : '?') + query; }
      } else if (typeof data === 'string') {
        body = data;
        contentType = contentType || 'application/x-www-form-urlencoded; charset=UTF-8';
      } else if (contentType && contentType.indexOf('json') >= 0) {
        body = JSON.stringify(data);
      } else {
        body = new URLSearchParams(data).toString();
        contentType = contentType || 'application/x-www-form-urlencoded; charset=UTF-8';
      }
    }
    if (contentType) { headers['Content-Type'] = contentType; }
    if (!Object.keys(headers).some(function (h) { return h.toLowerCase() === 'accept'; })) {
      headers.Accept = options.responseType === 'text' ? 'text/plain, */*' : 'application/json, */*';
    }
    return { method: method, url: url, headers: headers, body: body, cache: options.cache !== false };
  }

  function responsePayload(response, text) {
    var headers = {};
    ['content-type', 'etag', 'last-modified', 'location'].forEach(function (name) {
      var value = response.headers.get(name);
      if (value != null) { headers[name] = value; }
    });
    return {
      status: response.status,
      statusText: response.statusText,
      contentType: response.headers.get('content-type') || '',
      headers: headers,
      body: text
    };
  }

  function failurePayload(message) {
    return { status: 0, statusText: 'error', contentType: 'text/plain', headers: {}, body: '', error: message };
  }

  function hostRequest(options, callback) {
    callback = last(arguments);
    var extension = callback._context.extension;
    var addonKey = extension.addon_key;
    var parts;
    try {
      parts = requestParts(options);
    } catch (e) {
      callback(failurePayload(e.message));
      return;
    }
    var target = new URL(config.apiBase + parts.url, window.location.origin);
    if (target.origin !== window.location.origin || target.pathname.indexOf(config.apiBase + '/') !== 0) {
      callback(failurePayload('url must stay inside the REST API'));
      return;
    }
    parts.headers['X-Appdock-App-Key'] = addonKey;
    parts.headers['X-Appdock-Client-Key'] = clientKeyOf(extension);
    // Every method: the server narrows the session to the app's grant only with this token.
    parts.headers['X-CSRF-Token'] = config.csrfToken;
    fetch(target.toString(), {
      method: parts.method,
      headers: parts.headers,
      body: parts.body,
      credentials: 'same-origin',
      cache: parts.cache ? 'default' : 'no-store',
      redirect: 'error'
    }).then(function (response) {
      return response.text().then(function (text) {
        var payload = responsePayload(response, text);
        var refusal = consentRefusal(response, text);
        if (refusal) {
          var info = config.consent[addonKey] || {};
          showConsentPrompt(addonKey, { appName: info.appName, grantUrl: refusal.data.grant_url });
          payload.error = String(refusal.message || 'consent required') +
            ' (the viewer was asked to grant access)';
        }
        callback(payload);
      });
    }).catch(function (e) {
      callback(failurePayload(String(e && e.message || e)));
    });
  }

  function proxyRequest(options, callback) {
    callback = last(arguments);
    var extension = callback._context.extension;
    var addonKey = extension.addon_key;
    var parts;
    try {
      parts = requestParts(options);
    } catch (e) {
      callback(failurePayload(e.message));
      return;
    }
    var endpoint = config.proxyBase + '/' + encodeURIComponent(addonKey) + parts.url.split('?')[0];
    // Always a POST envelope with the CSRF token: the host signs the forwarded request with the
    // app's secret, so even a proxied GET must not be triggerable cross-site.
    fetch(endpoint, {
      method: 'POST',
      credentials: 'same-origin',
      redirect: 'error',
      headers: {
        'Content-Type': 'application/json',
        'X-CSRF-Token': config.csrfToken,
        'X-Appdock-App-Key': addonKey,
        'X-Appdock-Client-Key': clientKeyOf(extension)
      },
      body: JSON.stringify({ method: parts.method, url: parts.url, headers: parts.headers, body: parts.body,
        context: config.page.context || {} })
    }).then(function (response) {
      return response.text().then(function (text) {
        if (!response.headers.get('x-appdock-proxy') && (response.status === 404 || response.status === 405)) {
          callback(failurePayload('proxyRequest is not available: this appdock server has no proxy endpoint at ' +
            config.proxyBase + '/{app_key}/...'));
          return;
        }
        var payload = responsePayload(response, text);
        if (response.headers.get('x-appdock-proxy') === 'error') {
          try { payload.error = JSON.parse(text).error.message || undefined; } catch (e) { /* app's own body */ }
        }
        callback(payload);
      });
    }).catch(function (e) {
      callback(failurePayload(String(e && e.message || e)));
    });
  }

  // ---------------------------------------------------------------------------------------
  // navigator, cookie, history

  function expandTemplate(template, values) {
    return template.replace(/\{([A-Za-z0-9_.]+)\}/g, function (_, name) {
      var value = values[name];
      return value == null ? '' : encodeURIComponent(String(value));
    });
  }

  function sameOriginUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.origin === window.location.origin ? parsed.toString() : null;
    } catch (e) {
      return null;
    }
  }

  var navigator = {
    go: function (target, context, callback) {
      callback = last(arguments);
      var caller = callback._context.extension;
      context = context && typeof context === 'object' ? context : {};
      var destination = null;
      var name = String(target || '').toLowerCase();
      if (name === 'url' || name === 'site') {
        destination = sameOriginUrl(context.url || context.relativeUrl || '');
      } else if (name === 'addonmodule' && config.addonPageUrl) {
        destination = expandTemplate(config.addonPageUrl, {
          app_key: caller.addon_key,  // an app may only navigate to its own modules
          module_key: context.moduleKey || context.key || caller.key
        });
      } else if (config.navigatorTargets[target]) {
        destination = sameOriginUrl(expandTemplate(config.navigatorTargets[target], context));
      }
      if (!destination) {
        console.warn('[appdock] AP.navigator.go: unsupported target or URL', target);
        return;
      }
      window.location.assign(destination);
    },
    reload: function () { window.location.reload(); },
    getLocation: function (callback) {
      callback = last(arguments);
      callback({
        href: window.location.href,
        target: config.page.target || null,
        context: config.page.context || {}
      });
    }
  };

  function cookieName(addonKey, name) {
    return 'ap.' + encodeURIComponent(addonKey) + '.' + encodeURIComponent(String(name));
  }

  var cookie = {
    save: function (name, value, expires, callback) {
      callback = last(arguments);
      var parts = [cookieName(callback._context.extension.addon_key, name) + '=' + encodeURIComponent(String(value)),
        'path=/', 'SameSite=Lax'];
      var days = Number(expires);
      if (days > 0) { parts.push('max-age=' + Math.round(days * 86400)); }
      if (window.location.protocol === 'https:') { parts.push('Secure'); }
      document.cookie = parts.join('; ');
    },
    read: function (name, callback) {
      callback = last(arguments);
      var wanted = cookieName(callback._context.extension.addon_key, name) + '=';
      var found;
      document.cookie.split('; ').forEach(function (pair) {
        if (pair.indexOf(wanted) === 0) { found = decodeURIComponent(pair.slice(wanted.length)); }
      });
      callback(found);
    },
    erase: function (name, callback) {
      callback = last(arguments);
      document.cookie = cookieName(callback._context.extension.addon_key, name) + '=; path=/; max-age=0; SameSite=Lax';
    }
  };

  function historyState() {
    var hash = window.location.hash || '';
    return hash.indexOf('#!') === 0 ? decodeURIComponent(hash.slice(2)) : '';
  }

  function setHistoryState(replace, state) {
    var url = window.location.pathname + window.location.search + '#!' + encodeURIComponent(String(state == null ? '' : state));
    window.history[replace ? 'replaceState' : 'pushState']({ appdock: true }, '', url);
  }

  var lastState = historyState();
  window.addEventListener('popstate', function () {
    var state = historyState();
    connectHost.broadcastEvent('history.popstate', {}, { oldURL: lastState, newURL: state, state: state });
    lastState = state;
  });

  var historyModule = {
    pushState: function (state, callback) {
      callback = last(arguments);
      setHistoryState(false, typeof state === 'function' ? '' : state);
      lastState = historyState();
    },
    replaceState: function (state, callback) {
      callback = last(arguments);
      setHistoryState(true, typeof state === 'function' ? '' : state);
      lastState = historyState();
    },
    getState: function (callback) {
      callback = last(arguments);
      callback(historyState());
    },
    back: function () { window.history.back(); },
    forward: function () { window.history.forward(); },
    go: function (delta) { window.history.go(Number(delta) || 0); }
  };

  // ---------------------------------------------------------------------------------------
  // Registration

  connectHost.defineModule({ request: hostRequest, proxyRequest: proxyRequest });
  connectHost.defineModule('dialog', {
    create: { constructor: AppdockDialog },
    getCustomData: getCustomData
  });
  connectHost.defineModule('navigator', navigator);
  connectHost.defineModule('cookie', cookie);
  connectHost.defineModule('history', historyModule);

  window.appdockConnect = {
    mount: mountAll,
    openDialog: openDialog,
    isEstablished: function (extensionId) { return !!established[extensionId]; },
    config: config
  };

  function start() {
    mountAll(document);
    promptEagerly();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
