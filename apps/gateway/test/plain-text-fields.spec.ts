import { type ArgumentMetadata, BadRequestException } from '@nestjs/common';
import { RevokeAttributeBody, CertifyAttributeBody } from '../../certifier/src/attributes/attributes.dto';
import { RevokeCertificateBody } from '../../certifier/src/certificates/certificates.dto';
import { RetryChainBody } from '../../certifier/src/chain/chain.dto';
import { AttributeBody, EnrolChannelBody, RegisterPartyBody, RenamePartyBody, RevokeKeyBody } from '../../directory/src/party/party.dto';
import { RevokeStaffCredentialBody } from '../../directory/src/staff/staff.dto';
import { RefusalBody } from '../../domicile/src/correspondence/correspondence.controller';
import { DraftBody } from '../../domicile/src/draft/draft.dto';
import { RequestSessionBody } from '../../domicile/src/session/session.dto';
import { strictValidationPipe } from '@sigillum/runtime';

const pipe = strictValidationPipe();

/** The violations the app's validation pipe answers for `body` (empty when it passes). */
async function violationsOf(metatype: new () => object, body: object): Promise<{ field: string; rule: string; message: string }[]> {
  try {
    await pipe.transform(body, { type: 'body', metatype } as ArgumentMetadata);
    return [];
  } catch (error) {
    if (!(error instanceof BadRequestException)) throw error;
    return (error.getResponse() as { violations: { field: string; rule: string; message: string }[] }).violations;
  }
}

const digest = `sha256:${'a'.repeat(64)}`;
const draft = (overrides: object = {}) => ({
  recipientIds: ['party-2'],
  subject: 'Invoice 42',
  kind: 'registered',
  parts: [{ digest, name: 'invoice.pdf', contentType: 'application/pdf' }],
  ...overrides,
});
const certify = (evidence: object = {}) => ({
  name: 'legalName',
  level: 'substantial',
  validUntil: '2030-01-01T00:00:00Z',
  evidence: { method: 'id-document', reference: 'REF-1', verifiedBy: 'Clerk', ...evidence },
});

/** Every DTO field of text a person reads, with a good body and how to put `text` into that field. */
const FIELDS: [string, new () => object, (text: string) => object, string][] = [
  ['RegisterPartyBody.displayName', RegisterPartyBody, (text) => ({ kind: 'person', displayName: text }), 'displayName'],
  ['RenamePartyBody.displayName', RenamePartyBody, (text) => ({ displayName: text }), 'displayName'],
  ['AttributeBody.value (legalName)', AttributeBody, (text) => ({ name: 'legalName', value: text }), 'value'],
  [
    'RegisterPartyBody.attributes[].value',
    RegisterPartyBody,
    (text) => ({ kind: 'person', displayName: 'Ada', attributes: [{ name: 'legalName', value: text }] }),
    'attributes.0.value',
  ],
  ['RevokeKeyBody.reason', RevokeKeyBody, (text) => ({ reason: text }), 'reason'],
  ['DraftBody.subject', DraftBody, (text) => draft({ subject: text }), 'subject'],
  ['DraftBody.parts[].name', DraftBody, (text) => draft({ parts: [{ digest, name: `${text}.pdf`, contentType: 'application/pdf' }] }), 'parts.0.name'],
  [
    'DraftBody.parts[].contentType',
    DraftBody,
    (text) => draft({ parts: [{ digest, name: 'a.pdf', contentType: `application/pdf${text}` }] }),
    'parts.0.contentType',
  ],
  [
    'RequestSessionBody.correspondenceKind',
    RequestSessionBody,
    (text) => ({ userId: 'party-1', counterpartIds: ['party-2'], correspondenceKind: text }),
    'correspondenceKind',
  ],
  ['RefusalBody.reason', RefusalBody, (text) => ({ reason: text }), 'reason'],
  ['RevokeStaffCredentialBody.reason', RevokeStaffCredentialBody, (text) => ({ reason: text }), 'reason'],
  ['RevokeCertificateBody.reason', RevokeCertificateBody, (text) => ({ reason: text }), 'reason'],
  ['RevokeAttributeBody.reason', RevokeAttributeBody, (text) => ({ reason: text }), 'reason'],
  ['RetryChainBody.reason', RetryChainBody, (text) => ({ reason: text }), 'reason'],
  ['CertifyAttributeBody.evidence.method', CertifyAttributeBody, (text) => certify({ method: text }), 'evidence.method'],
  ['CertifyAttributeBody.evidence.reference', CertifyAttributeBody, (text) => certify({ reference: text }), 'evidence.reference'],
  ['CertifyAttributeBody.evidence.verifiedBy', CertifyAttributeBody, (text) => certify({ verifiedBy: text }), 'evidence.verifiedBy'],
];

describe('plain-text DTO fields (names, subjects, addresses, file names, reasons)', () => {
  describe.each(FIELDS)('%s', (_name, metatype, bodyWith, field) => {
    it('accepts plain text in any script', async () => {
      expect(await violationsOf(metatype, bodyWith('Zoë Ørsted 😀'))).toEqual([]);
    });

    it.each([
      ['a lone surrogate', 'Zoë\ud800'],
      ['NUL', 'Zoë\u0000'],
      ['CRLF', 'Zoë\r\nBcc: x'],
      ['TAB', 'Zoë\tx'],
      ['a C1 control', 'Zoë\u0085'],
      ['a bidi override', 'Zoë\u202e'],
      ['a bidi isolate', 'Zoë\u2066'],
    ])('refuses %s with rule isPlainText, naming the field', async (_what, text) => {
      expect(await violationsOf(metatype, bodyWith(text))).toContainEqual({
        field,
        rule: 'isPlainText',
        message: expect.stringContaining('must be plain text'),
      });
    });
  });

  it('a postal address attribute may span lines, other attributes may not', async () => {
    expect(await violationsOf(AttributeBody, { name: 'address', value: '3 rue de la Paix\r\n75002 Paris' })).toEqual([]);
    expect(await violationsOf(AttributeBody, { name: 'address', value: '3 rue de la Paix\u202e' })).toContainEqual(
      expect.objectContaining({ field: 'value', rule: 'isPlainText' }),
    );
  });

  it('a second-channel address is plain text (and an e-mail address or an E.164 number)', async () => {
    expect(await violationsOf(EnrolChannelBody, { kind: 'email', address: 'ada@example.org' })).toEqual([]);
    const violations = await violationsOf(EnrolChannelBody, { kind: 'email', address: 'ada@example.org\r\nBcc: x@example.org' });
    expect(violations).toContainEqual(expect.objectContaining({ field: 'address', rule: 'isPlainText' }));
  });

  it('a lone surrogate in a draft subject is refused (the specimen answered 500 on it)', async () => {
    expect(await violationsOf(DraftBody, draft({ subject: 'Relevé \ud83d' }))).toEqual([
      {
        field: 'subject',
        rule: 'isPlainText',
        message: 'subject must be plain text: U+D83D at index 7 is half of a UTF-16 surrogate pair (not well-formed Unicode)',
      },
    ]);
  });
});
