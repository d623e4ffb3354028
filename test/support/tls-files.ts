/**
 * Real PEM files for TLS tests, made by the system's openssl: a self-signed certificate with its
 * unencrypted key, and the same key encrypted with a passphrase.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

/** `<dir>/<name>.crt` (self-signed, CN=localhost) and `<dir>/<name>.key`. */
export function makeCertificate(dir: string, name: string): CertificateFiles {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-days', '2'],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}

/** `keyFile` encrypted with AES-256 under `passphrase`, written to `<dir>/<name>.key`. */
export function encryptKey(keyFile: string, dir: string, name: string, passphrase = 'not-given-to-polly'): string {
  const out = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['pkey', '-in', keyFile, '-aes256', '-passout', `pass:${passphrase}`, '-out', out], { stdio: 'ignore' });
  return out;
}
