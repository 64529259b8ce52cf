// Runs the EventBridge stand-in standalone:
//   node dev/eventbridge/main.ts [--port 4587] [--host 127.0.0.1] [--region us-east-1]
//     [--sqs-endpoint http://127.0.0.1:9324] [--bus name ...]
// Without --sqs-endpoint it takes events but refuses targets: it would have nowhere to deliver.
import { parseArgs } from "node:util";
import { portArgument, serveUntilInterrupted } from "../aws-json/cli.ts";
import { startEventBridgeStandIn } from "./index.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4587" },
    host: { type: "string", default: "127.0.0.1" },
    region: { type: "string", default: "us-east-1" },
    "sqs-endpoint": { type: "string" },
    bus: { type: "string", multiple: true, default: [] },
  },
});

const port = portArgument(values.port);

const sqsEndpoint = values["sqs-endpoint"];
const standIn = await startEventBridgeStandIn({
  host: values.host,
  port,
  region: values.region,
  eventBuses: values.bus,
  ...(sqsEndpoint === undefined ? {} : { sqsEndpoint }),
});

console.log(`EventBridge stand-in listening on ${standIn.url} (region ${values.region})`);
console.log(`event buses: ${["default", ...values.bus].join(", ")}`);
console.log(
  sqsEndpoint === undefined
    ? "no --sqs-endpoint: rules can be put, targets cannot"
    : `rules deliver to SQS queues at ${sqsEndpoint}`,
);
serveUntilInterrupted(standIn, "AWS_ENDPOINT_URL_EVENTBRIDGE", values.region);
