/** The libstorage driver: a remote libStorage server as a Polly storage backend. */
export { LibStorageDriver, toDriverSnapshot, toDriverVolume } from './libstorage-driver';
export type { LibStorageDriverConfig } from './libstorage-driver';
export { LibStorageHttp, errorForStatus, parseEndpoint } from './libstorage-http';
export type { LibStorageHttpOptions } from './libstorage-http';
export * from './instance-id-header';
export * from './libstorage-wire';
