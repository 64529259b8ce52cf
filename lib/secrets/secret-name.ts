/** A secret's name, from a name or an ARN (whose name ends in a 6-character suffix). */
export function secretName(secretId: string): string {
  const arnName = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$/.exec(
    secretId,
  );
  return arnName?.[1] ?? secretId;
}
