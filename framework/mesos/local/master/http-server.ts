/** The master's HTTP routes: scheduler API, operator API, and the JSON endpoints the web UI reads. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../../shared/logger';
import type { LocalMaster } from './local-master';
import { MESOS_VERSION } from './local-master';
import type { SchedulerEndpoint } from './scheduler-endpoint';
import type { OperatorEndpoint } from './operator-endpoint';
import { stateJson } from './state-json';
import { respond } from './http-util';

export class MasterHttpServer {
  private readonly server: http.Server;

  constructor(
    private readonly master: () => LocalMaster,
    private readonly scheduler: SchedulerEndpoint,
    private readonly operator: OperatorEndpoint,
    private readonly logger: Logger,
  ) {
    this.server = http.createServer((req, res) => {
      this.route(req, res).catch((err: Error) => {
        this.logger.error('Master request failed', { url: req.url, error: err.message });
        respond(res, 500, err.message);
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    switch (path) {
      case '/api/v1/scheduler':
      case '/master/api/v1/scheduler':
        return this.scheduler.handle(req, res);
      case '/api/v1':
      case '/master/api/v1':
        return this.operator.handle(req, res);
      case '/state':
      case '/state.json':
      case '/master/state':
      case '/master/state.json': {
        const body = JSON.stringify(stateJson(this.master()));
        const callback = url.searchParams.get('jsonp');
        if (callback && /^[A-Za-z_$][\w$.]*$/.test(callback)) {
          res.setHeader('Content-Type', 'text/javascript');
          res.end(`${callback}(${body});`);
          return;
        }
        res.setHeader('Content-Type', 'application/json');
        res.end(body);
        return;
      }
      case '/health':
      case '/master/health':
        return respond(res, 200);
      case '/version':
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ version: MESOS_VERSION, build_date: '', build_time: 0, build_user: '' }));
        return;
      default:
        return respond(res, 404);
    }
  }
}
