import { describe, expect, it } from "vitest";
import { ConfigurationError, loadConfig } from "../../lib/config/config.ts";
import { ACTIONS } from "../../lib/events/contract.ts";

const DLQ_URL = "https://sqs.eu-central-1.amazonaws.com/123456789012/cupi-reset-dlq";

/** The minimum the function runs with: one cluster and the DLQ. */
const MINIMAL = {
  CUPI_BASE_URL: "https://cuc-pub.example.com",
  CUPI_SECRET_ID: "cupi-reset/service-account",
  DLQ_URL,
};

const CLUSTERS = JSON.stringify({
  emea: { baseUrl: "https://cuc-emea.example.com", secretId: "cupi-reset/emea" },
  amer: {
    baseUrl: "https://cuc-amer.example.com:8443",
    secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:cupi-reset/amer-AbCdEf",
  },
});

function refusal(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).name).toBe("ConfigurationError");
    return (error as Error).message;
  }
  throw new Error("expected loadConfig to refuse the configuration");
}

describe("defaults", () => {
  it("runs with CUPI_BASE_URL, CUPI_SECRET_ID and DLQ_URL alone", () => {
    const config = loadConfig(MINIMAL);
    expect(config).toEqual({
      defaultCluster: {
        name: "default",
        baseUrl: "https://cuc-pub.example.com",
        secretId: "cupi-reset/service-account",
      },
      clusters: new Map(),
      dlqUrl: DLQ_URL,
      allowedActions: new Set(ACTIONS),
      authorizationPolicyPath: undefined,
      resetSecretPrefix: undefined,
      serviceAccountSecretNames: new Set(["cupi-reset/service-account"]),
      deliverySecretPrefix: undefined,
      cupiMaxInFlight: 2,
      cupiAdaptiveLimit: { maxPauseMs: 20_000, contentionMemoryMs: 30_000 },
      recordConcurrency: 4,
      allowInsecureHttp: false,
      cupiTimeouts: { connectMs: 5_000, headersMs: 10_000, bodyMs: 10_000 },
      circuitBreaker: { failureThreshold: 5, coolDownMs: 30_000 },
      serviceSecretCacheSeconds: 300,
      recordMinTimeMs: 10_000,
      recordTimeoutMs: 20_000,
      deadlineSafetyMs: 2_000,
      stateTable: undefined,
      idempotencyExpirySeconds: 7 * 24 * 3600,
      lostAnswerBaseline: "clock",
      retryBackoff: { baseDelaySeconds: 30, maxDelaySeconds: 900 },
    });
  });

  it("ignores variables it does not know, such as the standard AWS ones", () => {
    const config = loadConfig({
      ...MINIMAL,
      AWS_REGION: "eu-central-1",
      AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:9324",
      AWS_ENDPOINT_URL_SECRETS_MANAGER: "http://127.0.0.1:4584",
    });
    expect(config).toEqual(loadConfig(MINIMAL));
  });

  it("treats blank values as unset and trims the others", () => {
    const config = loadConfig({
      CUPI_BASE_URL: "  https://cuc-pub.example.com \n",
      CUPI_SECRET_ID: " cupi-reset/service-account ",
      DLQ_URL: ` ${DLQ_URL} `,
      CUPI_CLUSTERS: "   ",
      ALLOWED_ACTIONS: " ",
      AUTHORIZATION_POLICY_PATH: " ",
      DELIVERY_SECRET_PREFIX: "  ",
      CUPI_MAX_IN_FLIGHT: "",
      SERVICE_SECRET_CACHE_SECONDS: " ",
      RECORD_MIN_TIME_MS: "",
      DEADLINE_SAFETY_MS: "\t",
    });
    expect(config).toEqual(loadConfig(MINIMAL));
  });

  it("reads every optional setting", () => {
    const config = loadConfig({
      ...MINIMAL,
      DELIVERY_SECRET_PREFIX: "cupi-reset/delivery/",
      CUPI_MAX_IN_FLIGHT: "4",
      CUPI_ALLOW_INSECURE_HTTP: "true",
      SERVICE_SECRET_CACHE_SECONDS: "60",
      RECORD_MIN_TIME_MS: "15000",
      DEADLINE_SAFETY_MS: "500",
    });
    expect(config.deliverySecretPrefix).toBe("cupi-reset/delivery/");
    expect(config.cupiMaxInFlight).toBe(4);
    // Twice the CUPI limit unless set.
    expect(config.recordConcurrency).toBe(8);
    expect(loadConfig({ ...MINIMAL, RECORD_CONCURRENCY: "3" }).recordConcurrency).toBe(3);
    expect(loadConfig({ ...MINIMAL, CUPI_ADAPTIVE_LIMIT: "off" }).cupiAdaptiveLimit).toBe(false);
    expect(
      loadConfig({ ...MINIMAL, CUPI_MAX_PAUSE_MS: "500", CUPI_CONTENTION_MEMORY_MS: "1000" })
        .cupiAdaptiveLimit,
    ).toEqual({ maxPauseMs: 500, contentionMemoryMs: 1_000 });
    expect(refusal({ ...MINIMAL, CUPI_ADAPTIVE_LIMIT: "false" })).toMatch(/"on" or "off"/);
    expect(config.allowInsecureHttp).toBe(true);
    expect(config.serviceSecretCacheSeconds).toBe(60);
    expect(config.recordMinTimeMs).toBe(15_000);
    expect(config.deadlineSafetyMs).toBe(500);
    expect(
      loadConfig({ ...MINIMAL, RETRY_BASE_DELAY_SECONDS: "10", RETRY_MAX_DELAY_SECONDS: "3600" })
        .retryBackoff,
    ).toEqual({ baseDelaySeconds: 10, maxDelaySeconds: 3_600 });
  });

  it.each([
    ["false", false],
    ["", false],
    ["true", true],
    ["TRUE", true],
    [" False ", false],
  ])("reads CUPI_ALLOW_INSECURE_HTTP=%j as %s", (value, allowed) => {
    expect(loadConfig({ ...MINIMAL, CUPI_ALLOW_INSECURE_HTTP: value }).allowInsecureHttp).toBe(
      allowed,
    );
  });
});

describe("refused configurations", () => {
  it("CUPI_BASE_URL without CUPI_SECRET_ID, and the other way round", () => {
    const message = "CUPI_BASE_URL and CUPI_SECRET_ID must be set together";
    expect(refusal({ DLQ_URL, CUPI_BASE_URL: MINIMAL.CUPI_BASE_URL })).toBe(message);
    expect(refusal({ DLQ_URL, CUPI_SECRET_ID: MINIMAL.CUPI_SECRET_ID })).toBe(message);
    expect(refusal({ DLQ_URL, CUPI_SECRET_ID: MINIMAL.CUPI_SECRET_ID, CUPI_BASE_URL: " " })).toBe(
      message,
    );
    expect(
      refusal({ DLQ_URL, CUPI_CLUSTERS: CLUSTERS, CUPI_BASE_URL: MINIMAL.CUPI_BASE_URL }),
    ).toBe(message);
  });

  it("no cluster at all", () => {
    expect(refusal({ DLQ_URL })).toBe("set CUPI_BASE_URL and CUPI_SECRET_ID, or CUPI_CLUSTERS");
    expect(refusal({ DLQ_URL, CUPI_CLUSTERS: "{}" })).toBe(
      "set CUPI_BASE_URL and CUPI_SECRET_ID, or CUPI_CLUSTERS",
    );
  });

  it("a retry backoff SQS cannot carry out, or whose base exceeds its maximum", () => {
    expect(refusal({ ...MINIMAL, RETRY_MAX_DELAY_SECONDS: "43201" })).toMatch(
      /RETRY_MAX_DELAY_SECONDS must be at most 43200/,
    );
    expect(refusal({ ...MINIMAL, RETRY_BASE_DELAY_SECONDS: "901" })).toBe(
      "RETRY_BASE_DELAY_SECONDS must not exceed RETRY_MAX_DELAY_SECONDS",
    );
    expect(refusal({ ...MINIMAL, RETRY_BASE_DELAY_SECONDS: "0" })).toMatch(
      /RETRY_BASE_DELAY_SECONDS/,
    );
  });

  it("no DLQ_URL", () => {
    const { DLQ_URL: _dlq, ...withoutDlq } = MINIMAL;
    expect(refusal(withoutDlq)).toBe("DLQ_URL is required");
    expect(refusal({ ...MINIMAL, DLQ_URL: "  " })).toBe("DLQ_URL is required");
  });

  it.each(["cuc-pub.example.com", "https://", "not a url", "//cuc-pub.example.com"])(
    "a CUPI_BASE_URL that is no URL: %j",
    (url) => {
      expect(refusal({ ...MINIMAL, CUPI_BASE_URL: url })).toBe("CUPI_BASE_URL is not a valid URL");
    },
  );

  it("a CUPI_LOST_ANSWER_BASELINE other than clock or timechanged", () => {
    expect(
      loadConfig({ ...MINIMAL, CUPI_LOST_ANSWER_BASELINE: "timechanged" }).lostAnswerBaseline,
    ).toBe("timechanged");
    expect(refusal({ ...MINIMAL, CUPI_LOST_ANSWER_BASELINE: "date" })).toBe(
      'CUPI_LOST_ANSWER_BASELINE must be "clock" or "timechanged", not "date"',
    );
  });

  it.each(["1", "yes", "on", "ture"])("a CUPI_ALLOW_INSECURE_HTTP of %j", (value) => {
    expect(refusal({ ...MINIMAL, CUPI_ALLOW_INSECURE_HTTP: value })).toBe(
      `CUPI_ALLOW_INSECURE_HTTP must be "true" or "false", not "${value}"`,
    );
  });

  it("an http:// CUPI_BASE_URL without CUPI_ALLOW_INSECURE_HTTP, at cold start", () => {
    expect(refusal({ ...MINIMAL, CUPI_BASE_URL: "http://x" })).toBe(
      "CUPI_BASE_URL must use https://; http:// is only for the local simulator, with CUPI_ALLOW_INSECURE_HTTP=true",
    );
    expect(
      loadConfig({ ...MINIMAL, CUPI_BASE_URL: "http://x", CUPI_ALLOW_INSECURE_HTTP: "TRUE" })
        .defaultCluster?.baseUrl,
    ).toBe("http://x");
  });

  it.each([
    ["ftp://cuc.example.com", "CUPI_BASE_URL must use https://, not ftp://"],
    ["https://svc:pw@cuc.example.com", "CUPI_BASE_URL must not contain credentials"],
    ["https://cuc.example.com/?x=1", "CUPI_BASE_URL must not contain a query or fragment"],
  ])("a CUPI_BASE_URL the client would refuse: %j", (url, message) => {
    expect(refusal({ ...MINIMAL, CUPI_BASE_URL: url })).toBe(message);
    // Never the credentials of a pasted URL.
    expect(refusal({ ...MINIMAL, CUPI_BASE_URL: url })).not.toContain("pw");
  });

  it.each([
    ["https://cuc.example.com/vmrest", "https://cuc.example.com"],
    ["https://cuc.example.com/vmrest/", "https://cuc.example.com"],
    ["https://cuc.example.com:8443/proxy/vmrest", "https://cuc.example.com:8443/proxy"],
    ["https://cuc.example.com/", "https://cuc.example.com"],
  ])("accepts a base URL ending in /vmrest as the server's address: %j", (url, expected) => {
    expect(loadConfig({ ...MINIMAL, CUPI_BASE_URL: url }).defaultCluster?.baseUrl).toBe(expected);
    const clusters = JSON.stringify({ emea: { baseUrl: url, secretId: "s" } });
    expect(loadConfig({ DLQ_URL, CUPI_CLUSTERS: clusters }).clusters.get("emea")?.baseUrl).toBe(
      expected,
    );
  });

  it.each([
    "not-a-url",
    "cupi-reset-dlq",
    "arn:aws:sqs:eu-central-1:123456789012:cupi-reset-dlq",
    "https://sqs.eu-central-1.amazonaws.com/123456789012/",
    "https://sqs.eu-central-1.amazonaws.com/123456789012/bad name",
    "ftp://sqs.eu-central-1.amazonaws.com/123456789012/q",
  ])("a DLQ_URL that is no SQS queue URL: %j", (url) => {
    expect(refusal({ ...MINIMAL, DLQ_URL: url })).toMatch(/^DLQ_URL must be an SQS queue URL/);
  });

  it.each([
    "https://sqs.eu-central-1.amazonaws.com/123456789012/cupi-reset-dlq.fifo",
    "http://127.0.0.1:9324/000000000000/cupi-reset-dlq",
  ])("accepts the queue URLs of SQS and of the local emulator: %j", (url) => {
    expect(loadConfig({ ...MINIMAL, DLQ_URL: url }).dlqUrl).toBe(url);
  });

  it.each(["{", "emea", "{'emea': {}}"])("CUPI_CLUSTERS that is not JSON: %j", (value) => {
    expect(refusal({ ...MINIMAL, CUPI_CLUSTERS: value })).toBe("CUPI_CLUSTERS must be JSON");
  });

  it.each(["[]", "null", "42", '"emea"', "true"])("CUPI_CLUSTERS that is no map: %s", (value) => {
    expect(refusal({ ...MINIMAL, CUPI_CLUSTERS: value })).toBe(
      'CUPI_CLUSTERS must map names to { "baseUrl", "secretId" }',
    );
  });

  it.each([
    ["no baseUrl", { secretId: "s" }],
    ["no secretId", { baseUrl: "https://cuc.example.com" }],
    ["an empty secretId", { baseUrl: "https://cuc.example.com", secretId: "" }],
    ["a numeric baseUrl", { baseUrl: 443, secretId: "s" }],
    ["null", null],
    ["a string", "https://cuc.example.com"],
  ])("a CUPI_CLUSTERS entry with %s", (_name, entry) => {
    expect(refusal({ DLQ_URL, CUPI_CLUSTERS: JSON.stringify({ emea: entry }) })).toBe(
      "CUPI_CLUSTERS.emea needs string baseUrl and secretId",
    );
  });

  it("a CUPI_CLUSTERS entry whose baseUrl is no URL", () => {
    const clusters = JSON.stringify({ emea: { baseUrl: "cuc-emea", secretId: "s" } });
    expect(refusal({ DLQ_URL, CUPI_CLUSTERS: clusters })).toBe(
      "CUPI_CLUSTERS.emea.baseUrl is not a valid URL",
    );
  });

  it.each(["nuke", "RESET-PIN", "reset_pin", "reset-pin;offboard"])(
    "an unknown action in ALLOWED_ACTIONS: %j",
    (action) => {
      expect(refusal({ ...MINIMAL, ALLOWED_ACTIONS: `unlock-pin,${action}` })).toBe(
        `ALLOWED_ACTIONS: unknown action ${action}`,
      );
    },
  );

  it.each([
    "CUPI_MAX_IN_FLIGHT",
    "SERVICE_SECRET_CACHE_SECONDS",
    "RECORD_MIN_TIME_MS",
    "DEADLINE_SAFETY_MS",
  ])("%s that is no positive integer", (name) => {
    for (const value of ["0", "-1", "1.5", "abc", "2 requests", "Infinity", "NaN"]) {
      expect(refusal({ ...MINIMAL, [name]: value }), value).toBe(
        `${name} must be a positive integer`,
      );
    }
  });
});

describe("CUPI_CLUSTERS", () => {
  it("maps each name to its cluster", () => {
    const config = loadConfig({ DLQ_URL, CUPI_CLUSTERS: CLUSTERS });
    expect(config.defaultCluster).toBeUndefined();
    expect([...config.clusters.entries()]).toEqual([
      [
        "emea",
        { name: "emea", baseUrl: "https://cuc-emea.example.com", secretId: "cupi-reset/emea" },
      ],
      [
        "amer",
        {
          name: "amer",
          baseUrl: "https://cuc-amer.example.com:8443",
          secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:cupi-reset/amer-AbCdEf",
        },
      ],
    ]);
  });

  it("keeps the default cluster next to the named ones", () => {
    const config = loadConfig({ ...MINIMAL, CUPI_CLUSTERS: CLUSTERS });
    expect(config.defaultCluster?.baseUrl).toBe("https://cuc-pub.example.com");
    expect([...config.clusters.keys()]).toEqual(["emea", "amer"]);
  });

  it("ignores fields of an entry other than baseUrl and secretId", () => {
    const clusters = JSON.stringify({
      emea: { baseUrl: "https://cuc-emea.example.com", secretId: "s", comment: "Frankfurt" },
    });
    expect(loadConfig({ DLQ_URL, CUPI_CLUSTERS: clusters }).clusters.get("emea")).toEqual({
      name: "emea",
      baseUrl: "https://cuc-emea.example.com",
      secretId: "s",
    });
  });
});

describe("ALLOWED_ACTIONS", () => {
  it("defaults to every action of the contract", () => {
    expect([...loadConfig(MINIMAL).allowedActions].sort()).toEqual([...ACTIONS].sort());
  });

  it("allows only the listed actions, white space and empty items aside", () => {
    const config = loadConfig({ ...MINIMAL, ALLOWED_ACTIONS: " unlock-pin , unlock-password,, " });
    expect(config.allowedActions).toEqual(new Set(["unlock-pin", "unlock-password"]));
    expect(config.allowedActions.has("reset-pin")).toBe(false);
    expect(config.allowedActions.has("offboard")).toBe(false);
  });

  it("takes a single action, and repeats once", () => {
    expect(loadConfig({ ...MINIMAL, ALLOWED_ACTIONS: "offboard,offboard" }).allowedActions).toEqual(
      new Set(["offboard"]),
    );
  });
});

describe("AUTHORIZATION_POLICY_PATH", () => {
  it("is where the authorization policy file is read from, trimmed; unset means the built-in one", () => {
    expect(
      loadConfig({ ...MINIMAL, AUTHORIZATION_POLICY_PATH: " /opt/cupi-reset/policy.json " })
        .authorizationPolicyPath,
    ).toBe("/opt/cupi-reset/policy.json");
    expect(loadConfig(MINIMAL).authorizationPolicyPath).toBeUndefined();
  });
});

describe("values that look right but are not", () => {
  it("refuses an ALLOWED_ACTIONS that lists no action at all", () => {
    expect(() => loadConfig({ ...MINIMAL, ALLOWED_ACTIONS: " , ," })).toThrow(
      "ALLOWED_ACTIONS lists no action",
    );
  });

  it.each(["0x10", "1e3", "2.0", " 3 4"])("refuses %j as a positive integer", (value) => {
    expect(() => loadConfig({ ...MINIMAL, CUPI_MAX_IN_FLIGHT: value })).toThrow(
      "CUPI_MAX_IN_FLIGHT must be a positive integer",
    );
  });

  it("refuses a cluster name that no event could select", () => {
    const clusters = JSON.stringify({
      "eu west": { baseUrl: "https://cuc.example.com", secretId: "s" },
    });
    expect(() => loadConfig({ DLQ_URL, CUPI_CLUSTERS: clusters })).toThrow(
      'CUPI_CLUSTERS: cluster name "eu west" must be 1-64 of A-Z a-z 0-9 . _ -',
    );
  });
});

describe("secrets an event may name", () => {
  it("knows every service-account secret by name, ARNs included", () => {
    const clusters = JSON.stringify({
      lab: {
        baseUrl: "https://cuc-lab.example.com",
        secretId: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cupi-reset/lab-AbC123",
      },
    });
    const config = loadConfig({ ...MINIMAL, CUPI_CLUSTERS: clusters, RESET_SECRET_PREFIX: "r/" });
    expect(config.serviceAccountSecretNames).toEqual(
      new Set(["cupi-reset/service-account", "cupi-reset/lab"]),
    );
    expect(config.resetSecretPrefix).toBe("r/");
  });
});
