// dynalite ships no types; this is the part of its API the local stack uses.
declare module "dynalite" {
  import type { Server } from "node:http";

  interface DynaliteOptions {
    /** Milliseconds a new table stays CREATING; 0 makes it ACTIVE at once. */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    /** Omitted: an in-memory store. */
    path?: string;
  }

  export default function dynalite(options?: DynaliteOptions): Server;
}
