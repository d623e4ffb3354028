/** Every file a configuration names is checked as Polly will use it, each problem naming its key. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { referencedFileProblems } from '../../../framework/config/config-files';
import { loadConfig } from '../../../framework/config/config-loader';
import type { PollyConfig } from '../../../framework/config/config-schema';
import { CertificateFiles, encryptKey, makeCertificate } from '../../support/tls-files';

describe('referencedFileProblems', () => {
  let dir: string;
  let api: CertificateFiles;
  let other: CertificateFiles;
  let secretFile: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polly-config-files-'));
    api = makeCertificate(dir, 'api');
    other = makeCertificate(dir, 'other');
    secretFile = path.join(dir, 'jwt.secret');
    fs.writeFileSync(secretFile, 'a-secret-of-thirty-two-characters\n');
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, text: string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  const configWith = (doc: Record<string, unknown>): PollyConfig => loadConfig({ file: write('config.yml', YAML.stringify(doc)), env: {} });
  const files = (over: {
    apiTls?: Partial<CertificateFiles>;
    lsTls?: Partial<CertificateFiles>;
    secretFile?: string;
    caFile?: string;
    lsEnabled?: boolean;
  }): PollyConfig =>
    configWith({
      api: { tls: { certFile: '', keyFile: '', ...over.apiTls } },
      mesos: { tls: { caFile: over.caFile ?? '' } },
      libstorage: {
        enabled: over.lsEnabled ?? true,
        ...(over.lsTls ? { tls: over.lsTls } : {}),
        ...(over.secretFile !== undefined ? { jwt: { secretFile: over.secretFile } } : {}),
      },
    });

  it('accepts real, matching, readable files', () => {
    expect(referencedFileProblems(files({ apiTls: api, lsTls: other, secretFile, caFile: api.certFile }))).toEqual([]);
    expect(referencedFileProblems(loadConfig({ file: write('empty.yml', ''), env: {} }))).toEqual([]);
  });

  it('names every missing file with its key, all at once', () => {
    const missing = (name: string): string => path.join(dir, 'missing', name);
    const problems = referencedFileProblems(
      files({
        apiTls: { certFile: missing('a.crt'), keyFile: missing('a.key') },
        lsTls: { certFile: missing('l.crt'), keyFile: missing('l.key') },
        secretFile: missing('jwt'),
        caFile: missing('ca.pem'),
      }),
    );
    expect(problems).toEqual([
      `api.tls.certFile: file ${missing('a.crt')} does not exist`,
      `api.tls.keyFile: file ${missing('a.key')} does not exist`,
      `mesos.tls.caFile: file ${missing('ca.pem')} does not exist`,
      `libstorage.tls.certFile: file ${missing('l.crt')} does not exist`,
      `libstorage.tls.keyFile: file ${missing('l.key')} does not exist`,
      `libstorage.jwt.secretFile: file ${missing('jwt')} does not exist`,
    ]);
  });

  it('refuses what does not parse: no PEM, a broken certificate, a non-key, an encrypted key, a mismatched pair', () => {
    const garbage = write('garbage.pem', 'hello\n');
    const broken = write('broken.crt', '-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n');
    const encrypted = encryptKey(api.keyFile, dir, 'encrypted');
    expect(referencedFileProblems(files({ apiTls: { certFile: garbage, keyFile: api.keyFile } }))).toEqual([
      `api.tls.certFile: ${garbage} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ]);
    expect(referencedFileProblems(files({ apiTls: { certFile: broken, keyFile: api.keyFile } }))).toEqual([
      expect.stringMatching(new RegExp(`^api\\.tls\\.certFile: certificate 1 in ${broken} does not parse \\(.+\\)$`)),
    ]);
    expect(referencedFileProblems(files({ apiTls: { certFile: api.certFile, keyFile: api.certFile } }))).toEqual([
      expect.stringMatching(new RegExp(`^api\\.tls\\.keyFile: ${api.certFile} is not a PEM private key \\(.+\\)$`)),
    ]);
    expect(referencedFileProblems(files({ apiTls: { certFile: api.certFile, keyFile: encrypted } }))).toEqual([
      `api.tls.keyFile: ${encrypted} is an encrypted private key; Polly needs it unencrypted (readable by Polly only)`,
    ]);
    expect(referencedFileProblems(files({ lsTls: { certFile: api.certFile, keyFile: other.keyFile } }))).toEqual([
      `libstorage.tls: ${other.keyFile} is not the private key of the certificate in ${api.certFile}`,
    ]);
    expect(referencedFileProblems(files({ caFile: garbage }))).toEqual([
      `mesos.tls.caFile: ${garbage} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ]);
    expect(referencedFileProblems(files({ caFile: api.keyFile }))).toEqual([
      `mesos.tls.caFile: ${api.keyFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ]);
  });

  it('accepts a CA bundle of several certificates and refuses one with a broken certificate in it', () => {
    const bundle = write('bundle.pem', fs.readFileSync(api.certFile, 'utf8') + fs.readFileSync(other.certFile, 'utf8'));
    expect(referencedFileProblems(files({ caFile: bundle }))).toEqual([]);
    const bad = write('bad-bundle.pem', fs.readFileSync(api.certFile, 'utf8') + '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(referencedFileProblems(files({ caFile: bad }))).toEqual([
      expect.stringMatching(new RegExp(`^mesos\\.tls\\.caFile: certificate 2 in ${bad} does not parse`)),
    ]);
  });

  it('refuses an empty or short secret file, a directory, and half a TLS pair', () => {
    expect(referencedFileProblems(files({ secretFile: write('empty.secret', '\n') }))).toEqual([
      `libstorage.jwt.secretFile: ${path.join(dir, 'empty.secret')} is empty`,
    ]);
    expect(referencedFileProblems(files({ secretFile: write('short.secret', 'tooshort\n') }))).toEqual([
      `libstorage.jwt.secretFile: the secret in ${path.join(dir, 'short.secret')} is shorter than 16 characters`,
    ]);
    expect(referencedFileProblems(files({ secretFile: dir }))).toEqual([`libstorage.jwt.secretFile: ${dir} is not a file`]);
    expect(referencedFileProblems(files({ apiTls: { certFile: api.certFile } }))).toEqual(['api.tls needs both certFile and keyFile (or neither)']);
  });

  it('does not check the files of a disabled libStorage API (they are not used)', () => {
    const missing = path.join(dir, 'missing', 'jwt');
    expect(referencedFileProblems(files({ secretFile: missing, lsEnabled: false }))).toEqual([]);
    expect(referencedFileProblems(files({ secretFile: missing }))).toEqual([`libstorage.jwt.secretFile: file ${missing} does not exist`]);
  });
});
