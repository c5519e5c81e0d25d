import type { INestApplication, Type } from '@nestjs/common';
import { SECURITY_SCHEMES } from '@sigillum/auth';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';
import type { MetadataStorage } from 'class-transformer/types/MetadataStorage';

// class-transformer keeps @Type() facts in a storage it does not export from its entry point.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as { defaultMetadataStorage: MetadataStorage };

type Schema = Record<string, unknown>;

interface ValidationMetadataLike {
  readonly type: string;
  readonly name?: string;
  readonly propertyName: string;
  readonly constraints?: unknown[];
  readonly each?: boolean;
}

/**
 * The request bodies' schemas come from the class-validator rules that actually validate them, so the
 * document cannot drift from what the API accepts (no second set of @ApiProperty annotations to keep in step).
 */
function schemaOf(target: Function, seen: Set<Function>, schemas: Record<string, Schema>): Schema {
  const ref = { $ref: `#/components/schemas/${target.name}` };
  if (seen.has(target)) return ref;
  seen.add(target);
  const storage = getMetadataStorage() as unknown as { getTargetValidationMetadatas: (...args: unknown[]) => ValidationMetadataLike[] };
  const metadatas = storage.getTargetValidationMetadatas(target, '', true, false);
  const properties: Record<string, Schema> = {};
  const optional = new Set<string>();
  for (const meta of metadatas) {
    if (meta.type === 'whitelistValidation') continue;
    const property = (properties[meta.propertyName] ??= {});
    if (meta.type === 'conditionalValidation') {
      optional.add(meta.propertyName);
      continue;
    }
    const item: Schema = meta.each ? ((property.items as Schema | undefined) ?? ((property.items = {}) as Schema)) : property;
    if (meta.each) property.type = 'array';
    if (meta.type === 'nestedValidation') {
      const typeMeta = defaultMetadataStorage.findTypeMetadata(target, meta.propertyName);
      const nested = typeMeta?.typeFunction() as Function | undefined;
      if (nested && nested !== Object) Object.assign(item, schemaOf(nested, seen, schemas));
      continue;
    }
    applyRule(item, property, meta.name ?? '', meta.constraints ?? []);
  }
  const required = Object.keys(properties).filter((name) => !optional.has(name));
  // OpenAPI 3.0 forbids an empty `required` array: leave it out when every field is optional.
  schemas[target.name] = { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: false };
  return ref;
}

function applyRule(item: Schema, property: Schema, rule: string, constraints: unknown[]): void {
  const [first, second] = constraints;
  switch (rule) {
    case 'isString':
      item.type = 'string';
      break;
    case 'isInt':
      item.type = 'integer';
      break;
    case 'isNumber':
      item.type = 'number';
      break;
    case 'isBoolean':
      item.type = 'boolean';
      break;
    case 'isObject':
      item.type = 'object';
      break;
    case 'isArray':
      property.type = 'array';
      property.items ??= {};
      break;
    case 'isIn':
      item.enum = first as unknown[];
      break;
    case 'isEnum':
      item.enum = Object.values(first as object);
      break;
    case 'isNotEmpty':
      if (item.type === 'string' || item.type === undefined) item.minLength = Math.max(1, Number(item.minLength ?? 1));
      break;
    case 'minLength':
      item.minLength = first;
      break;
    case 'maxLength':
      item.maxLength = first;
      break;
    case 'isLength': // @Length(min, max): class-validator names the rule isLength
    case 'length':
      item.minLength = first;
      if (second !== undefined) item.maxLength = second;
      break;
    case 'min':
      item.minimum = first;
      break;
    case 'max':
      item.maximum = first;
      break;
    case 'matches':
      item.pattern = first instanceof RegExp ? first.source : String(first);
      break;
    case 'isUuid':
    case 'isUUID':
      item.type = 'string';
      item.format = 'uuid';
      break;
    case 'isEmail':
      item.type = 'string';
      item.format = 'email';
      break;
    case 'isIso8601':
    case 'isISO8601':
    case 'isDateString':
      item.type = 'string';
      item.format = 'date-time';
      break;
    case 'arrayMinSize':
      property.minItems = first;
      break;
    case 'arrayMaxSize':
      property.maxItems = first;
      break;
    case 'arrayUnique':
      property.uniqueItems = true;
      break;
    default:
      // Custom rules still document themselves by name.
      item['x-rules'] = [...((item['x-rules'] as string[] | undefined) ?? []), rule];
  }
}

/** Every class that carries class-validator rules, by name. */
function validatedClasses(): Map<string, Function> {
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<Function, unknown[]> | unknown[] };
  const classes = new Map<string, Function>();
  const entries = storage.validationMetadatas;
  if (entries instanceof Map) for (const target of entries.keys()) classes.set(target.name, target);
  else for (const meta of entries as { target: Function }[]) if (typeof meta.target === 'function') classes.set(meta.target.name, meta.target);
  return classes;
}

/** Roles another process serves behind this one (a gateway's ROLE_URLS): their controllers, documented without running them. */
const REMOTE_ROLES = new WeakMap<INestApplication, { readonly roles: readonly string[]; readonly controllers: readonly Type<unknown>[] }>();

/** Documents, in `app`'s OpenAPI document, the routes of roles other processes serve (their controllers are not in `app`). */
export function documentRemoteRoles(app: INestApplication, roles: readonly string[], controllers: readonly Type<unknown>[]): void {
  REMOTE_ROLES.set(app, { roles, controllers });
}

/** `app` as the Swagger scanner sees it, with the remote roles' controllers as one more module (never instantiated). */
function withRemoteControllers(app: INestApplication): INestApplication {
  const remote = REMOTE_ROLES.get(app);
  if (!remote || remote.controllers.length === 0) return app;
  const internal = app as unknown as {
    container: { getModules(): Map<unknown, unknown> & { applicationId?: string }; isGlobalModule(m: unknown): boolean };
    config: unknown;
  };
  const modules = internal.container.getModules();
  class RemoteRolesModule {}
  const controllers = new Map(remote.controllers.map((metatype) => [metatype, { metatype, instance: Object.create(metatype.prototype) as object }]));
  const merged = Object.assign(new Map([...modules, [RemoteRolesModule, { metatype: RemoteRolesModule, controllers, imports: new Map() }]]), {
    applicationId: modules.applicationId,
  });
  // What SwaggerModule.createDocument reads of an app: its container, its config (prefix, versioning), its HTTP adapter.
  const scanned = {
    container: { getModules: () => merged, isGlobalModule: (m: unknown) => internal.container.isGlobalModule(m) },
    config: internal.config,
    getHttpAdapter: () => app.getHttpAdapter(),
  };
  return scanned as unknown as INestApplication;
}

/** Builds the OpenAPI 3 document of the app's HTTP API, with request schemas taken from the validation rules. */
export function buildOpenApiDocument(app: INestApplication, roles: readonly string[], oidcIssuer?: string): OpenAPIObject {
  const remoteRoles = REMOTE_ROLES.get(app)?.roles ?? [];
  const config = new DocumentBuilder()
    .setTitle('Sigillum')
    .setDescription(
      `Registered electronic correspondence with probative value. Roles served by this process: ${roles.join(', ')}. ` +
        (remoteRoles.length ? `Roles served by other processes behind this gateway: ${remoteRoles.join(', ')}. ` : '') +
        'Bad input answers 400 with `violations` naming each field and rule; unknown fields are refused. ' +
        'Every operation states who may call it (`security`, and `x-sigillum-access` with the exact rules); refusals answer 401 or 403 with the rule named.',
    )
    .setVersion('0.1')
    .addSecurity(SECURITY_SCHEMES.staffOidc, {
      type: 'openIdConnect',
      openIdConnectUrl: `${oidcIssuer ?? 'https://issuer.example'}/.well-known/openid-configuration`,
      description: `Staff: an access token (JWT) of the operator's OIDC issuer (OIDC_ISSUER${oidcIssuer ? '' : ', not configured on this server'}); roles from its roles claim.`,
    })
    .addSecurity(SECURITY_SCHEMES.staffCredential, {
      type: 'http',
      scheme: 'bearer',
      description:
        'Staff: a credential issued by Sigillum (`sgst_…`): the first-start admin credential in <DATA_DIR>/admin-credential, or one issued by POST /staff/credentials.',
    })
    .addSecurity(SECURITY_SCHEMES.partySession, {
      type: 'http',
      scheme: 'bearer',
      description: 'Party: the session credential answered by POST /sessions/{id}/code, sent with the X-Sigillum-Session header.',
    })
    .addSecurity(SECURITY_SCHEMES.partySessionId, {
      type: 'apiKey',
      in: 'header',
      name: 'X-Sigillum-Session',
      description: 'Party: the id of the open session.',
    })
    .addSecurity(SECURITY_SCHEMES.machineCertificate, {
      type: 'http',
      scheme: 'mutual-tls',
      description:
        'Machine: a TLS client certificate issued by the Sigillum CA (profile client), presented on the HTTPS listener (HTTPS_PORT); its subject CN is the party id. OpenAPI 3.0 has no mutual-TLS scheme: this entry documents it.',
    })
    .build();
  const document = SwaggerModule.createDocument(withRemoteControllers(app), config);
  const schemas = (document.components ??= {}).schemas ?? {};
  const seen = new Set<Function>();
  const generated: Record<string, Schema> = {};
  const classes = validatedClasses();
  for (const name of Object.keys(schemas)) {
    const target = classes.get(name);
    if (target) schemaOf(target, seen, generated);
  }
  document.components.schemas = { ...schemas, ...generated } as OpenAPIObject['components'] extends infer C
    ? C extends { schemas?: infer S }
      ? S
      : never
    : never;
  return document;
}

/** Serves the document at `/docs` (UI) and `/docs-json`. */
export function serveOpenApi(app: INestApplication, roles: readonly string[], oidcIssuer?: string): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app, roles, oidcIssuer), { jsonDocumentUrl: 'docs-json' });
}
