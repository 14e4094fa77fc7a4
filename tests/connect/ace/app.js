// A Bitbucket app shaped like the atlassian-connect-express Bitbucket template (app.js + routes),
// with extra routes that appdock's tests read: the statuses ACE answered /installed with, and
// calls back to the host's REST API through ACE's own signed HTTP client.
const express = require("express");
const bodyParser = require("body-parser");
const ace = require("atlassian-connect-express");

const app = express();
const addon = ace(app);
const port = addon.config.port();
app.set("port", port);

app.use(bodyParser.urlencoded({ extended: false }));
app.use(bodyParser.json());

const installedStatuses = [];
app.use((req, res, next) => {
  if (req.method === "POST" && req.path === "/installed") {
    res.on("finish", () => installedStatuses.push(res.statusCode));
  }
  next();
});

// As in the template: use the API root the host sent instead of the web root.
app.post("/installed", (req, res, next) => {
  req.body.baseUrl = req.body.baseApiUrl;
  next();
});

app.use(addon.middleware());

const escapeHtml = value =>
  String(value == null ? "" : value).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);

// The template's iframe route: authenticated with the host's JWT, then calls the host API. The
// page loads the bridge script ACE names in res.locals.hostScriptUrl (AC_HOST_SCRIPT_URL).
app.get("/connect-example", addon.authenticate(), (req, res) => {
  addon.httpClient(req).get("/2.0/workspaces/", (err, response, body) => {
    if (err) {
      res.status(500).send(String(err));
      return;
    }
    const data = JSON.parse(body);
    const slugs = (data.values || []).map(w => w.slug).join(",");
    res.send(`<!doctype html><html><head><meta charset="utf-8"><title>ACE example</title>
<script src="${escapeHtml(res.locals.hostScriptUrl)}"></script></head>
<body><div class="ac-content">
<h1>ACE example page</h1>
<p id="verified">JWT verified by ACE for ${escapeHtml(res.locals.userAccountId)} on ${escapeHtml(res.locals.clientKey)}</p>
<p id="workspaces">${response.statusCode}:${escapeHtml(slugs)}</p>
</div></body></html>`);
  });
});

app.post("/webhook", addon.authenticate(), (req, res) => {
  res.status(204).end();
});

app.get("/test/installed-statuses", (req, res) => {
  res.json(installedStatuses);
});

app.get("/test/call-host", (req, res) => {
  addon
    .httpClient({ clientKey: req.query.clientKey })
    .get(req.query.path, (err, response, body) => {
      if (err) {
        res.status(500).json({ error: String(err) });
        return;
      }
      res.json({ status: response.statusCode, body });
    });
});

// What an app does first with its installation: who am I installed for (/2.0/user/), then a
// repository read; both through ACE's signed client (qsh over /2.0/...).
app.get("/test/user-and-repo", (req, res) => {
  const client = addon.httpClient({ clientKey: req.query.clientKey });
  client.get("/2.0/user/", (err, userResponse, userBody) => {
    if (err) {
      res.status(500).json({ error: String(err) });
      return;
    }
    client.get(`/2.0/repositories/${req.query.repo}`, (err2, repoResponse, repoBody) => {
      if (err2) {
        res.status(500).json({ error: String(err2) });
        return;
      }
      res.json({
        user: { status: userResponse.statusCode, body: JSON.parse(userBody) },
        repository: { status: repoResponse.statusCode, body: JSON.parse(repoBody) },
      });
    });
  });
});

app.listen(port, "127.0.0.1", () => {
  console.log(`ace test app listening on ${port}`);
});
