// `npm start`: the CUPI side of cupi-reset on this machine, no AWS account and no CUC needed.
// Starts the CUPI simulator over HTTPS with a throwaway CA and drives the real CUPI client through
// the resets a helpdesk asks for and the failures a real CUC produces. `--once` exits afterwards.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { CupiClient, CupiError } from "../lib/cupi/index.ts";
import { generatePassword, generatePin, policyContextFor } from "../lib/policy/index.ts";
import { SecretValue } from "../lib/secrets/secret-value.ts";
import { DEMO_ACCOUNT } from "./cupi-simulator/demo-account.ts";
import { createCupiSimulator, type SimulatedUser } from "./cupi-simulator/index.ts";
import { createDevCertificates } from "./tls.ts";

const { values } = parseArgs({
  options: {
    once: { type: "boolean", default: false },
    port: { type: "string", default: "0" },
  },
});

const users: SimulatedUser[] = JSON.parse(
  await readFile(new URL("./cupi-simulator/users.json", import.meta.url), "utf8"),
);
const certificates = await createDevCertificates();
const simulator = await createCupiSimulator({
  users,
  tls: certificates.server,
  account: DEMO_ACCOUNT,
  port: Number(values.port),
});
const cupi = new CupiClient({
  baseUrl: simulator.url,
  caCertificate: certificates.ca.cert,
  account: { username: DEMO_ACCOUNT.username, password: new SecretValue(DEMO_ACCOUNT.password) },
});

interface Outcome {
  step: string;
  target: string;
  outcome: string;
  detail: string;
}
const outcomes: Outcome[] = [];

/** Runs one demo step and records how it ended; a CupiError is an outcome, not a crash. */
async function step(name: string, target: string, run: () => Promise<string>): Promise<void> {
  const started = performance.now();
  try {
    const detail = await run();
    outcomes.push({ step: name, target, outcome: "applied", detail });
  } catch (error) {
    if (!(error instanceof CupiError)) throw error;
    const verdict = error.retryable ? "retry later" : "permanent";
    outcomes.push({
      step: name,
      target,
      outcome: `${error.kind} (${verdict})`,
      detail: error.cupiMessage ?? error.message,
    });
  }
  const last = outcomes.at(-1);
  if (last) last.detail += ` [${Math.round(performance.now() - started)} ms]`;
}

await step("health check", "/vmrest/version", async () => `CUC ${await cupi.version()}`);

await step("reset PIN (generated, must change)", "jsmith", async () => {
  const user = await cupi.findUserByAlias("jsmith");
  const credential = await cupi.getCredential(user.objectId, "pin");
  const rule = credential.credentialPolicyObjectId
    ? await cupi.getAuthenticationRule(credential.credentialPolicyObjectId)
    : undefined;
  const pin = new SecretValue(generatePin(policyContextFor(user, rule)));
  await cupi.updateCredential(user.objectId, "pin", { Credentials: pin, CredMustChange: true });
  return `new ${pin.length}-digit PIN passed the policy of rule MinLength ${rule?.minLength ?? "?"}`;
});

await step("reset web password (generated)", "jsmith", async () => {
  const user = await cupi.findUserByAlias("jsmith");
  const password = new SecretValue(generatePassword(policyContextFor(user)));
  await cupi.updateCredential(user.objectId, "password", { Credentials: password });
  return `new ${password.length}-character password accepted`;
});

await step("unlock PIN after failed sign-ins", "mrossi", async () => {
  const user = await cupi.findUserByAlias("mrossi");
  simulator.setHackedState(user.objectId, "pin", {
    hackCount: 5,
    timeHacked: "2026-11-28 08:15:00.000",
    locked: true,
  });
  await cupi.updateCredential(user.objectId, "pin", {
    HackCount: 0,
    TimeHacked: "",
    Locked: false,
  });
  const after = await cupi.getCredential(user.objectId, "pin");
  return `HackCount ${after.hackCount}, locked ${after.locked}`;
});

await step("user cannot change PIN (settings only)", "mrossi", async () => {
  const user = await cupi.findUserByAlias("mrossi");
  await cupi.updateCredential(user.objectId, "pin", { CantChange: true });
  return `CantChange ${(await cupi.getCredential(user.objectId, "pin")).cantChange}`;
});

await step("reset PIN to a trivial value", "jsmith", async () => {
  const user = await cupi.findUserByAlias("jsmith");
  await cupi.updateCredential(user.objectId, "pin", { Credentials: new SecretValue("123456") });
  return "accepted (it should not have been)";
});

await step("reset PIN of an administrator", "cucadmin", async () => {
  const user = await cupi.findUserByAlias("cucadmin");
  await cupi.updateCredential(user.objectId, "pin", { Credentials: new SecretValue("860241") });
  return "accepted (it should not have been)";
});

await step("reset PIN while CUC is busy (two 503s)", "lhansen", async () => {
  const user = await cupi.findUserByAlias("lhansen");
  simulator.injectFaults("503", "503");
  await cupi.updateCredential(user.objectId, "pin", { Credentials: new SecretValue("860241") });
  return `applied after ${simulator.stats.throttled + simulator.stats.faults["503"]} busy answer(s)`;
});

await step("look up an unknown alias", "nobody", async () => {
  await cupi.findUserByAlias("nobody");
  return "found (it should not have been)";
});

await step("look up an alias held by two users", "dup.user", async () => {
  await cupi.findUserByAlias("dup.user");
  return "found one (it should not have been)";
});

console.table(outcomes);
console.log(
  `CUC saw ${simulator.stats.requests} requests, ${simulator.stats.freshAuthentications} fresh ` +
    `authentication(s) (sessions reused), at most ${simulator.stats.peakConcurrency} at once.`,
);

if (values.once) {
  await cupi.close();
  await simulator.close();
} else {
  console.log(
    `\nThe simulator stays up at ${simulator.url}/vmrest (account ${DEMO_ACCOUNT.username}).`,
  );
  console.log("Ctrl+C stops it.");
  process.once("SIGINT", () => {
    void Promise.all([cupi.close(), simulator.close()]);
  });
}
