/** The API account the standalone simulator and `npm start` use; a demo value, not a secret. */
export const DEMO_ACCOUNT = { username: "helpdesk", password: "Simulated-HelpDesk-1" } as const;
