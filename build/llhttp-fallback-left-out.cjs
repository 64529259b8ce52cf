// Stands in for undici's llhttp without WebAssembly SIMD in the Lambda bundles (see
// build/esbuild-plugins.cjs): undici asks for it only when the SIMD build cannot be compiled.
"use strict";

throw new Error(
  "undici's llhttp without WebAssembly SIMD is not in this bundle: it is built for Lambda's x86_64 and arm64 runtimes, which compile SIMD",
);
