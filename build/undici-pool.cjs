// What the bundle takes from undici: `Pool` and the request API, without undici's index.js, which
// also loads fetch, WebSocket, EventSource, caches, mocks and proxy agents (about 400 kB minified
// that nothing here uses). serverless.yml aliases `undici` to this file for the Lambda bundles only;
// tests and `npm start` use the package itself. test/packaging/undici-pool.test.ts checks that this
// still matches the installed undici.
"use strict";

const Dispatcher = require("../node_modules/undici/lib/dispatcher/dispatcher.js");
const api = require("../node_modules/undici/lib/api/index.js");

// undici's index.js does the same: request(), stream() … are added to every dispatcher.
Object.assign(Dispatcher.prototype, api);

module.exports.Pool = require("../node_modules/undici/lib/dispatcher/pool.js");
