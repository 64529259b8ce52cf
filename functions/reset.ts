// Lambda entry point: wiring only. The product is in lib/reset/.
import { createResetHandlerFromEnvironment } from "../lib/reset/wiring.ts";

export const handler = createResetHandlerFromEnvironment();
