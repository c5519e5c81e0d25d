import type { ServerResponse } from 'node:http';

/** The gateway's own answers (never a role's), JSON like every refusal of the API, with the rule named. */
export interface GatewayReply {
  readonly statusCode: number;
  readonly message: string;
  readonly reasons: readonly { readonly rule: string; readonly role: string; readonly message: string }[];
}

function reply(statusCode: number, rule: string, role: string, message: string): GatewayReply {
  return { statusCode, message, reasons: [{ rule, role, message }] };
}

/** No URL of the role accepted a connection. */
export const roleUnreachable = (role: string, urls: readonly string[], causes: readonly string[]): GatewayReply =>
  reply(
    503,
    'gateway.role-unreachable',
    role,
    `${role} is unreachable at ${urls.join(', ')}: ${causes.join('; ')}. Retry later; operators: start the ${role} process ` +
      `or fix its address in ROLE_URLS of the gateway (GET /health/roles says which roles answer).`,
  );

/** The role took the connection but went silent (no byte for the timeout) before its answer was complete. */
export const roleTimeout = (role: string, url: string, timeoutMs: number): GatewayReply =>
  reply(
    504,
    'gateway.role-timeout',
    role,
    `${role} at ${url} sent nothing for ${timeoutMs} ms. The request may or may not have been carried out: ` +
      'read the resource back before retrying a change.',
  );

/** The connection to the role broke after the request had started to go out (not retried: it may have been carried out). */
export const roleFailed = (role: string, url: string, cause: string): GatewayReply =>
  reply(
    502,
    'gateway.role-failed',
    role,
    `${role} at ${url} broke the connection before answering (${cause}). The request may or may not have been carried out: ` +
      'read the resource back before retrying a change.',
  );

/** Client certificates end at the gateway's TLS listener: a machine route of a remote role must be called on the role itself. */
export const certificateNotForwarded = (role: string): GatewayReply =>
  reply(
    421,
    'gateway.client-certificate-not-forwarded',
    role,
    `${role} runs in another process and the gateway does not forward client certificates: ` +
      `call the HTTPS listener (HTTPS_PORT) of the ${role} process with your certificate.`,
  );

export function sendReply(response: ServerResponse, body: GatewayReply): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const json = JSON.stringify(body);
  response.writeHead(body.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  response.end(json);
}
