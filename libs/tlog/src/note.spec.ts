import { generateKeyPairSync } from 'node:crypto';
import {
  ed25519KeyId,
  ed25519NoteSigner,
  ed25519PrivateKeyOfSeed,
  ed25519VerifierKey,
  NoteFormatError,
  NoteVerificationError,
  openNote,
  parseNote,
  parseVerifierKey,
  rawEd25519PublicKey,
  signNote,
  signNoteAsync,
} from './note';

// c2sp.org/signed-note, section "Verifier keys", Example.
const SPEC_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const SPEC_NOTE =
  'This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

// golang.org/x/mod sumdb/note/note_test.go, TestSign and TestNewVerifier: the test key of "PeterNeumann"
// (signer key PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz, i.e. 0x01 || seed).
const GO_SEED = Buffer.from('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64').subarray(1);
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

describe('signed-note with Ed25519', () => {
  it('verifies the example note of the spec with its verifier key', () => {
    const verifier = parseVerifierKey(SPEC_VKEY);
    expect(verifier.name).toBe('example.com/foo');
    expect(verifier.keyId.toString('hex')).toBe('530d903a');
    const opened = openNote(SPEC_NOTE, [verifier]);
    expect(opened.text).toBe('This is an example message.\n');
    expect(opened.verifiedBy).toEqual([verifier]);
  });

  it('signs byte-identically to the Go implementation, and derives the same key id and verifier key', () => {
    const signer = ed25519NoteSigner('PeterNeumann', ed25519PrivateKeyOfSeed(GO_SEED));
    expect(signer.keyId.toString('hex')).toBe('c74f20a3');
    expect(ed25519VerifierKey('PeterNeumann', rawEd25519PublicKey(ed25519PrivateKeyOfSeed(GO_SEED)))).toBe(GO_VKEY);
    expect(signNote(GO_TEXT, [signer])).toBe(GO_NOTE);
    expect(openNote(GO_NOTE, [parseVerifierKey(GO_VKEY)]).text).toBe(GO_TEXT);
  });

  it('signNoteAsync (signatures on the threadpool) makes the same note, and uses `sign` for a signer without signAsync', async () => {
    const signer = ed25519NoteSigner('PeterNeumann', ed25519PrivateKeyOfSeed(GO_SEED));
    await expect(signNoteAsync(GO_TEXT, [signer])).resolves.toBe(GO_NOTE);
    const { sign, name, keyId } = signer;
    await expect(signNoteAsync(GO_TEXT, [{ name, keyId, sign }])).resolves.toBe(GO_NOTE);
    const second = ed25519NoteSigner('log.example/b', generateKeyPairSync('ed25519').privateKey);
    await expect(signNoteAsync(GO_TEXT, [signer, second])).resolves.toBe(signNote(GO_TEXT, [signer, second]));
    await expect(signNoteAsync('no final newline', [signer])).rejects.toThrow(NoteFormatError);
    await expect(signNoteAsync(GO_TEXT, [])).rejects.toThrow(NoteFormatError);
  });

  it('ignores unknown keys, refuses a note no trusted key signed, and one whose trusted signature fails', () => {
    const other = parseVerifierKey(GO_VKEY);
    expect(() => openNote(SPEC_NOTE, [other])).toThrow(NoteVerificationError);
    const tampered = SPEC_NOTE.replace('example message', 'exemple message');
    expect(() => openNote(tampered, [parseVerifierKey(SPEC_VKEY)])).toThrow(/does not verify/);
    // A second signature of an unknown key beside a good one: still valid.
    const withUnknown = `${SPEC_NOTE}\u2014 someone.else AAAAAAAAAAAAAAAAAAAA\n`;
    expect(openNote(withUnknown, [parseVerifierKey(SPEC_VKEY)]).signatures).toHaveLength(2);
  });

  it('keeps text and signatures apart at the last blank line; text may hold blank lines (fresh keys, whose base64 may hold "+")', () => {
    for (let run = 0; run < 50; run++) checkFreshKey();
  });

  function checkFreshKey(): void {
    const { privateKey } = generateKeyPairSync('ed25519');
    const signer = ed25519NoteSigner('log.example/a', privateKey);
    const text = 'line one\n\nline three\n';
    const note = signNote(text, [signer]);
    expect(parseNote(note).text).toBe(text);
    const vkey = ed25519VerifierKey('log.example/a', rawEd25519PublicKey(privateKey));
    expect(openNote(note, [parseVerifierKey(vkey)]).text).toBe(text);
    expect(ed25519KeyId('log.example/a', rawEd25519PublicKey(privateKey)).equals(signer.keyId)).toBe(true);
  }

  it('refuses malformed verifier keys and notes', () => {
    for (const bad of [
      'PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==', // from the Go tests
      'PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', // from the Go tests
      GO_VKEY.replace('c74f20a3', 'c74f20a4'),
      GO_VKEY.replace('PeterNeumann', 'Peter Neumann'),
      `${GO_VKEY}+extra`,
      `${GO_VKEY}=`,
    ]) {
      expect(() => parseVerifierKey(bad)).toThrow(NoteFormatError);
    }
    expect(() => parseNote('no blank line\n\u2014 a AAAAAAAA\n')).toThrow(NoteFormatError);
    expect(() => parseNote(SPEC_NOTE.replace('\u2014', '-'))).toThrow(NoteFormatError);
    expect(() => parseNote(SPEC_NOTE.slice(0, -1))).toThrow(NoteFormatError);
    expect(() => parseNote(`tab\there\n${SPEC_NOTE}`)).toThrow(NoteFormatError);
    expect(() => signNote('no final newline', [ed25519NoteSigner('a', ed25519PrivateKeyOfSeed(GO_SEED))])).toThrow(NoteFormatError);
  });
});
