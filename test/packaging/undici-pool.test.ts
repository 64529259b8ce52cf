import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../../", import.meta.url));

/**
 * serverless.yml bundles build/undici-pool.cjs in place of undici's index.js. In a fresh process,
 * where nothing has loaded undici's index.js first: the shim alone must give a Pool whose
 * request() works, and it must be undici's own Pool.
 */
const CHILD = `
const { createServer } = require("node:http");
const { Pool } = require("./build/undici-pool.cjs");
const server = createServer((request, response) => {
  response.setHeader("set-cookie", ["a=1", "b=2"]);
  response.end(request.method + " " + request.url);
});
server.listen(0, "127.0.0.1", async () => {
  const pool = new Pool("http://127.0.0.1:" + server.address().port, { connections: 1 });
  const response = await pool.request({ method: "PUT", path: "/vmrest/users", body: "x" });
  const result = {
    status: response.statusCode,
    body: await response.body.text(),
    cookies: response.headers["set-cookie"],
    sameClass: Pool === require("undici").Pool,
    exports: Object.keys(require("./build/undici-pool.cjs")),
  };
  await pool.close();
  server.close();
  process.stdout.write(JSON.stringify(result));
});
`;

describe("build/undici-pool.cjs", () => {
  it("gives undici's Pool with its request API, without undici's index.js", async () => {
    const { stdout } = await run(process.execPath, ["-e", CHILD], { cwd: REPO, timeout: 15_000 });
    expect(JSON.parse(stdout)).toEqual({
      status: 200,
      body: "PUT /vmrest/users",
      cookies: ["a=1", "b=2"],
      sameClass: true,
      exports: ["Pool"],
    });
  });
});
