/** The dashboard URL Polly gives Mesos as `webui_url`. */
import { dashboardUrl } from '../../../../framework/api/ui/dashboard-url';

describe('dashboardUrl', () => {
  it('is <api url>/ui by default', () => {
    expect(dashboardUrl('http://127.0.0.1:7978', '', 'polly-1.example')).toBe('http://127.0.0.1:7978/ui');
    expect(dashboardUrl('https://[::1]:7978', '', 'h')).toBe('https://[::1]:7978/ui');
  });
  it('replaces a wildcard bind address by the announced host name', () => {
    expect(dashboardUrl('http://0.0.0.0:7978', '', 'polly-1.example')).toBe('http://polly-1.example:7978/ui');
    expect(dashboardUrl('http://[::]:7978', '', 'polly-1.example')).toBe('http://polly-1.example:7978/ui');
  });
  it('uses the configured URL as is', () => {
    expect(dashboardUrl('http://0.0.0.0:7978', 'https://polly.example/ui', 'x')).toBe('https://polly.example/ui');
  });
});
