// Lambda entry point, invoked by operators: wiring only. The product is in lib/operations/.
//   osls invoke -f replay --data '{"mode":"selected","errorCodes":["SECRET_NOT_FOUND"],"dryRun":true}'
//   osls invoke -f replay --data '{"mode":"all"}'      then '{"mode":"progress"}'
import { SQSClient } from "@aws-sdk/client-sqs";
import { createReplayHandler, replayQueuesFromEnvironment } from "../lib/operations/replay.ts";

export const handler = createReplayHandler(
  new SQSClient({}),
  replayQueuesFromEnvironment(process.env),
);
