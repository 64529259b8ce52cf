// postinstall: fixes local-aws-sqs 2.0.2 (the newest release), whose ChangeMessageVisibility
// counts as a receive: it raises ApproximateReceiveCount, so a message whose retry delay the
// handler sets reaches the redrive limit in half its receives. Real SQS counts receives only.
// The visibility change passes `keepReceiptHandle = true` to the same internal routine as a
// receive; the patch makes that routine count a receive only when it is one. Idempotent; fails
// loudly if local-aws-sqs changed, so the fix is looked at again rather than silently skipped.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
let file;
try {
  file = require.resolve("local-aws-sqs");
} catch {
  process.exit(0); // a production install without devDependencies
}
const receive = "let n=Number(t.record.attributes.ApproximateReceiveCount)+1;";
const receiveOnly = "let n=Number(t.record.attributes.ApproximateReceiveCount)+(i?0:1);";
const source = readFileSync(file, "utf8");
if (source.includes(receiveOnly)) process.exit(0);
const occurrences = source.split(receive).length - 1;
if (occurrences !== 1) {
  console.error(
    `patch-local-aws-sqs: expected the receive count increment once in ${file}, found ${occurrences}`,
  );
  process.exit(1);
}
writeFileSync(file, source.replace(receive, receiveOnly));
