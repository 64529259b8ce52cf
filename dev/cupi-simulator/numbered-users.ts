import type { CupiUser } from "../../lib/cupi/types.ts";
import type { SimulatedUser } from "./directory.ts";

export interface UserSeries {
  /** Eight hex digits that start every objectId of the series, e.g. "50a50000". */
  readonly objectIdPrefix: string;
  /** The alias is this followed by the number, e.g. "soak.user" → "soak.user17". */
  readonly aliasPrefix: string;
  readonly firstName: string;
  /** The primary extension is this plus the number. */
  readonly extensionBase: number;
}

/** User `number` (from 1) of a series, for load runs that need thousands of distinct users. */
export function numberedUser(series: UserSeries, number: number): SimulatedUser {
  return {
    objectId: `${series.objectIdPrefix}-0000-4000-8000-${number.toString(16).padStart(12, "0")}`,
    alias: `${series.aliasPrefix}${number}`,
    firstName: series.firstName,
    lastName: `User${number}`,
    dtmfAccessId: String(series.extensionBase + number),
  };
}

/** The user as the service reads it from CUPI: what the credential policy's checks need. */
export function cupiUserOf(user: SimulatedUser): CupiUser {
  return {
    objectId: user.objectId,
    alias: user.alias,
    dtmfAccessId: user.dtmfAccessId,
    firstName: user.firstName,
    lastName: user.lastName,
    ldapIntegrated: (user.ldapType ?? 0) !== 0,
  };
}
