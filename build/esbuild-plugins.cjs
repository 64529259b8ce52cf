// esbuild plugins for the Lambda bundles (serverless.yml custom.esbuild.plugins; the cold-start
// bench builds its floor with them too).
"use strict";

const path = require("node:path");

/**
 * undici carries llhttp twice as WebAssembly: with SIMD, which it loads first, and without, a
 * fallback for CPUs whose Node cannot compile SIMD (riscv64, old ppc64). Lambda's x86_64 and arm64
 * runtimes compile SIMD, so the fallback (72 kB of base64 in the bundle) is replaced by a module
 * that says why it is missing, should it ever be loaded.
 */
const withoutLlhttpFallback = {
  name: "undici-llhttp-simd-only",
  setup(build) {
    build.onResolve({ filter: /[\\/]llhttp[\\/]llhttp-wasm\.js$/ }, () => ({
      path: path.join(__dirname, "llhttp-fallback-left-out.cjs"),
    }));
  },
};

module.exports = [withoutLlhttpFallback];
