// Sends a new credential value so that a lost answer, an aborted or a killed delivery never turns
// into a second change or a dead letter: what an attempt did is settled by the attempt log.
import type { CupiClient } from "../cupi/client.ts";
import { CupiError } from "../cupi/errors.ts";
import type { CredentialKind } from "../cupi/types.ts";
import { type AttemptLog, isHistoryRejection } from "./attempts.ts";

/** Resends within one delivery after answers that were lost, once CUC shows the value did not land. */
const MAX_UNCERTAIN_RESENDS = 2;

export interface NewValueSend {
  readonly attempts: AttemptLog;
  readonly eventId: string;
  readonly objectId: string;
  readonly kind: CredentialKind;
  /** Runs a CUPI call (with a re-read service account after a 401). */
  readonly cupi: <T>(operation: (client: CupiClient) => Promise<T>) => Promise<T>;
  readonly call: { readonly deadline: number; readonly signal?: AbortSignal };
  /** Just before the first PUT of this delivery (a generated value is delivered here). */
  readonly beforeSending: () => Promise<void>;
  /** The PUT itself. */
  readonly put: () => Promise<void>;
}

/**
 * A PUT of a new value whose answer may be lost after CUC applied it. Resending blindly would
 * bounce off the credential history ("Repeat credentials prohibited") and dead-letter a reset
 * that worked. So the credential's TimeChanged is read before the first attempt (and kept in the
 * attempt log across deliveries); after an uncertain failure, or a history rejection following an
 * earlier uncertain delivery, a moved TimeChanged means the value landed, an unmoved one that a
 * resend is safe. A PUT that landed is marked applied in the log, so a later delivery of the event
 * sends nothing for it. An attempt cut by its delivery's deadline stays in the log as unknown.
 */
export async function sendNewValue(send: NewValueSend): Promise<void> {
  const { attempts, eventId, kind } = send;
  const timeChanged = async (): Promise<string> =>
    (await send.cupi((client) => client.getCredential(send.objectId, kind, send.call)))
      .timeChanged ?? "";
  const start = await attempts.begin(eventId, kind, await timeChanged());
  if (start.alreadyApplied) return;
  await send.beforeSending();
  for (let resends = 0; ; resends++) {
    try {
      await send.put();
      break;
    } catch (error) {
      if (!(error instanceof CupiError)) throw error;
      const uncertain = error.mayHaveTakenEffect;
      const historyAfterUnknown =
        start.earlierAttemptUnknown &&
        error.kind === "rejected" &&
        isHistoryRejection(error.cupiMessage);
      if (uncertain || historyAfterUnknown) {
        const landed = (await timeChanged()) !== start.timeChangedBefore;
        if (landed) break;
        if (uncertain && resends < MAX_UNCERTAIN_RESENDS) continue;
      }
      // An uncertain outcome stays in the log for the next delivery to resolve.
      if (!uncertain) await attempts.forget(eventId, kind);
      throw error;
    }
  }
  await attempts.applied(eventId, kind);
}

/**
 * Settles another event's attempt left unknown (its delivery was killed or cut short mid-PUT),
 * now that this event holds the credential and nothing else can change it: a TimeChanged moved
 * since that attempt's snapshot means its value landed, and it is marked applied, so that its
 * own later delivery reports it applied rather than stale; otherwise it is forgotten.
 */
export async function settleEarlierAttempt(settle: {
  readonly attempts: AttemptLog;
  readonly eventId: string;
  readonly objectId: string;
  readonly kind: CredentialKind;
  readonly cupi: NewValueSend["cupi"];
  readonly call: NewValueSend["call"];
}): Promise<void> {
  const { attempts, eventId, kind } = settle;
  const attempt = await attempts.read(eventId, kind);
  if (attempt === undefined || attempt.applied) return;
  const now = await settle.cupi((client) =>
    client.getCredential(settle.objectId, kind, settle.call),
  );
  if ((now.timeChanged ?? "") !== attempt.timeChangedBefore) await attempts.applied(eventId, kind);
  else await attempts.forget(eventId, kind);
}
