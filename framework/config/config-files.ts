/**
 * The files a configuration names — secrets, TLS certificates and keys, CA bundles — checked the
 * way Polly will use them, so that a bad one stops `polly start` before anything listens: each
 * exists, is a regular file Polly can read, and parses (a certificate as PEM X.509, a key as an
 * unencrypted PEM private key that matches its certificate, a CA file as PEM certificates, a
 * secret as text of at least the length an inline secret needs). Every problem names its key.
 */
import { createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import type { PollyConfig } from './config-schema';

/** As `libstorage.jwt.secret` (schema): a shorter HMAC secret is guessable. */
export const MIN_SECRET_LENGTH = 16;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PEM_ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/;

/** A file's content, or the problem with reading it (pushed to `problems`). */
function readReferenced(key: string, file: string, problems: string[]): Buffer | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(code === 'ENOENT' ? `${key}: file ${file} does not exist` : `${key}: cannot read ${file} (${code ?? (err as Error).message})`);
    return undefined;
  }
  if (!stat.isFile()) {
    problems.push(`${key}: ${file} is not a file`);
    return undefined;
  }
  try {
    return fs.readFileSync(file);
  } catch (err) {
    problems.push(`${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
}

/** The first line of an OpenSSL message, without its `error:0480006C:PEM routines::` prefix. */
function reason(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return message.replace(/^error:[0-9A-Fa-f]+:[^:]*::?/, '');
}

/** PEM certificates: at least one, each parsing as X.509. */
function parseCertificates(key: string, file: string, pem: Buffer, problems: string[]): X509Certificate[] | undefined {
  const blocks = pem.toString('utf8').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    problems.push(`${key}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return undefined;
  }
  const certificates: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch (err) {
      problems.push(`${key}: certificate ${i + 1} in ${file} does not parse (${reason(err)})`);
      return undefined;
    }
  }
  return certificates;
}

function parsePrivateKey(key: string, file: string, pem: Buffer, problems: string[]): KeyObject | undefined {
  if (PEM_ENCRYPTED_KEY.test(pem.toString('utf8'))) {
    problems.push(`${key}: ${file} is an encrypted private key; Polly needs it unencrypted (readable by Polly only)`);
    return undefined;
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    problems.push(`${key}: ${file} is not a PEM private key (${reason(err)})`);
    return undefined;
  }
}

/** `<prefix>.certFile` and `<prefix>.keyFile`: both or neither, each usable, and the key is the certificate's. */
function checkServerTls(prefix: string, tlsFiles: { certFile?: string; keyFile?: string } | undefined, problems: string[]): void {
  const certFile = tlsFiles?.certFile ?? '';
  const keyFile = tlsFiles?.keyFile ?? '';
  if (!certFile && !keyFile) return;
  if (!certFile || !keyFile) problems.push(`${prefix} needs both certFile and keyFile (or neither)`);
  const certPem = certFile ? readReferenced(`${prefix}.certFile`, certFile, problems) : undefined;
  const keyPem = keyFile ? readReferenced(`${prefix}.keyFile`, keyFile, problems) : undefined;
  const chain = certPem && parseCertificates(`${prefix}.certFile`, certFile, certPem, problems);
  const privateKey = keyPem && parsePrivateKey(`${prefix}.keyFile`, keyFile, keyPem, problems);
  if (!chain || !privateKey || !certPem || !keyPem) return;
  if (!chain[0]!.checkPrivateKey(privateKey)) {
    problems.push(`${prefix}: ${keyFile} is not the private key of the certificate in ${certFile}`);
    return;
  }
  try {
    // Exactly what the HTTPS server will be given.
    tls.createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    problems.push(`${prefix}: ${certFile} and ${keyFile} cannot serve TLS (${reason(err)})`);
  }
}

function checkCaFile(key: string, file: string, problems: string[]): void {
  if (!file) return;
  const pem = readReferenced(key, file, problems);
  if (pem) parseCertificates(key, file, pem, problems);
}

function checkSecretFile(key: string, file: string | undefined, problems: string[]): void {
  if (!file) return;
  const content = readReferenced(key, file, problems);
  if (!content) return;
  // Read as the JWT verifier reads it: UTF-8, surrounding whitespace (a final newline) ignored.
  const secret = content.toString('utf8').trim();
  if (secret.length === 0) problems.push(`${key}: ${file} is empty`);
  else if (secret.length < MIN_SECRET_LENGTH) problems.push(`${key}: the secret in ${file} is shorter than ${MIN_SECRET_LENGTH} characters`);
}

/**
 * Every problem with the files `config` names and Polly would use (a disabled libStorage API's
 * files are not used, so not checked). Empty when all are fine.
 */
export function referencedFileProblems(config: PollyConfig): string[] {
  const problems: string[] = [];
  checkServerTls('api.tls', config.api.tls, problems);
  checkCaFile('mesos.tls.caFile', config.mesos.tls.caFile, problems);
  if (config.libstorage.enabled) {
    checkServerTls('libstorage.tls', config.libstorage.tls, problems);
    checkSecretFile('libstorage.jwt.secretFile', config.libstorage.jwt?.secretFile, problems);
  }
  if (config.csi.tcp) {
    checkServerTls('csi.tcp', config.csi.tcp, problems);
    checkCaFile('csi.tcp.caFile', config.csi.tcp.caFile, problems);
  }
  // services[].libstorage names no file today: its token is inline and its server is reached without client TLS.
  return problems;
}
