/**
 * POST /api/v1/scheduler (and /master/api/v1/scheduler): HTTP-level validation exactly as
 * Master::Http::scheduler does it, then dispatch to the master.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mesos } from '../../generated/mesos';
import { CodecError, MEDIA_TYPES, MessageCodec, formatOfMediaType, type WireFormat } from '../../codec';
import type { LocalMaster } from './local-master';
import { SubscriptionStream } from './subscription-stream';
import { accepts, authenticate, readBody, respond, type Credential } from './http-util';
import { has } from './resources';

const CallType = mesos.v1.scheduler.Call.Type;

const callCodecs: Record<WireFormat, MessageCodec<mesos.v1.scheduler.Call, mesos.v1.scheduler.ICall>> = {
  json: new MessageCodec(mesos.v1.scheduler.Call, 'json', { checkRequired: true }),
  protobuf: new MessageCodec(mesos.v1.scheduler.Call, 'protobuf'),
};
const eventCodecs: Record<WireFormat, MessageCodec<mesos.v1.scheduler.Event, mesos.v1.scheduler.IEvent>> = {
  json: new MessageCodec(mesos.v1.scheduler.Event, 'json'),
  protobuf: new MessageCodec(mesos.v1.scheduler.Event, 'protobuf'),
};

/** validation::scheduler::call::validate. */
export function validateCall(call: mesos.v1.scheduler.ICall, principal?: string): string | undefined {
  if (!has(call, 'type')) return "Expecting 'type' to be present";
  if (call.type === CallType.SUBSCRIBE) {
    if (!has(call, 'subscribe')) return "Expecting 'subscribe' to be present";
    const info = call.subscribe?.framework_info;
    const infoId = has(info, 'id') ? info?.id?.value : undefined;
    const callId = has(call, 'framework_id') ? call.framework_id?.value : undefined;
    if (infoId !== callId) return "'framework_id' differs from 'subscribe.framework_info.id'";
    if (principal !== undefined && has(info, 'principal') && principal !== info?.principal) {
      return `Authenticated principal '${principal}' does not match principal '${info?.principal}' set in \`FrameworkInfo\``;
    }
    return undefined;
  }
  if (!has(call, 'framework_id')) return "Expecting 'framework_id' to be present";
  const need = (field: string): string | undefined => (has(call, field) ? undefined : `Expecting '${field}' to be present`);
  switch (call.type) {
    case CallType.ACCEPT:
      return need('accept');
    case CallType.DECLINE:
      return need('decline');
    case CallType.ACCEPT_INVERSE_OFFERS:
      return need('accept_inverse_offers');
    case CallType.DECLINE_INVERSE_OFFERS:
      return need('decline_inverse_offers');
    case CallType.KILL:
      return need('kill');
    case CallType.SHUTDOWN:
      return need('shutdown');
    case CallType.ACKNOWLEDGE: {
      const missing = need('acknowledge');
      if (missing) return missing;
      return call.acknowledge?.uuid?.length === 16 ? undefined : 'Not a valid UUID';
    }
    case CallType.ACKNOWLEDGE_OPERATION_STATUS: {
      const missing = need('acknowledge_operation_status');
      if (missing) return missing;
      if (call.acknowledge_operation_status?.uuid?.length !== 16) return 'Not a valid UUID';
      if (!has(call.acknowledge_operation_status, 'agent_id')) return "Expecting 'agent_id' to be present";
      return undefined;
    }
    case CallType.RECONCILE:
      return need('reconcile');
    case CallType.RECONCILE_OPERATIONS:
      return need('reconcile_operations');
    case CallType.MESSAGE:
      return need('message');
    case CallType.REQUEST:
      return need('request');
    case CallType.UPDATE_FRAMEWORK: {
      const missing = need('update_framework');
      if (missing) return missing;
      const infoId = call.update_framework?.framework_info?.id?.value;
      if (infoId !== call.framework_id?.value) return "'framework_id' differs from 'update_framework.framework_info.id'";
      return undefined;
    }
    default:
      return undefined;
  }
}

export interface SchedulerEndpointOptions {
  credentials?: readonly Credential[];
  /** Not leading: where the leader is (protocol-relative redirect), or undefined for 503. */
  leader: () => { leading: true } | { leading: false; leaderHostPort?: string };
}

export class SchedulerEndpoint {
  constructor(
    private readonly master: () => LocalMaster,
    private readonly options: SchedulerEndpointOptions,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const leader = this.options.leader();
    if (!leader.leading) {
      if (leader.leaderHostPort) return respond(res, 307, '', { Location: `//${leader.leaderHostPort}/api/v1/scheduler` });
      return respond(res, 503, 'No leader elected');
    }
    if (req.method !== 'POST') {
      return respond(res, 405, `Expecting one of { 'POST' }, but received '${req.method}'`, { Allow: 'POST' });
    }
    let principal: string | undefined;
    if (this.options.credentials && this.options.credentials.length > 0) {
      principal = authenticate(req, this.options.credentials);
      if (principal === undefined) {
        return respond(res, 401, '', { 'WWW-Authenticate': 'Basic realm="mesos-master-scheduler"' });
      }
    }
    const contentType = req.headers['content-type'];
    if (contentType === undefined) return respond(res, 400, "Expecting 'Content-Type' to be present");
    const format = formatOfMediaType(contentType);
    if (!format) return respond(res, 415, `Expecting 'Content-Type' of ${MEDIA_TYPES.json} or ${MEDIA_TYPES.protobuf}`);

    const body = await readBody(req);
    let call: mesos.v1.scheduler.Call;
    try {
      call = callCodecs[format].decode(body);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      if (format === 'protobuf') return respond(res, 400, 'Failed to parse body into Call protobuf');
      if (err.kind === 'syntax') return respond(res, 400, `Failed to parse body into JSON: ${err.message}`);
      return respond(res, 400, `Failed to convert JSON into Call protobuf: ${err.message}`);
    }
    const invalid = validateCall(call, principal);
    if (invalid) return respond(res, 400, `Failed to validate scheduler::Call: ${invalid}`);

    const master = this.master();
    if (call.type === CallType.SUBSCRIBE) {
      if (req.headers['mesos-stream-id'] !== undefined) {
        return respond(res, 400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
      }
      const accept = req.headers.accept;
      const eventFormat: WireFormat | undefined = accepts(accept, MEDIA_TYPES.json)
        ? 'json'
        : accepts(accept, MEDIA_TYPES.protobuf)
          ? 'protobuf'
          : undefined;
      if (!eventFormat) {
        return respond(res, 406, `Expecting 'Accept' to allow '${MEDIA_TYPES.protobuf}' or '${MEDIA_TYPES.json}'`);
      }
      const stream = new SubscriptionStream(res, eventCodecs[eventFormat], { sendStreamId: true });
      master.subscribe(stream, call.subscribe as mesos.v1.scheduler.Call.ISubscribe);
      return;
    }

    const framework = master.frameworks.get(call.framework_id?.value ?? '');
    if (!framework) return respond(res, 400, 'Framework cannot be found');
    if (principal !== undefined && principal !== framework.info.principal) {
      return respond(
        res,
        400,
        `Authenticated principal '${principal}' does not match principal '${framework.info.principal ?? ''}' used by framework`,
      );
    }
    if (!framework.connected) return respond(res, 403, 'Framework is not subscribed');
    const streamId = req.headers['mesos-stream-id'];
    if (streamId === undefined) return respond(res, 400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    if (streamId !== framework.stream?.streamId) {
      return respond(
        res,
        400,
        `The stream ID '${String(streamId)}' included in this request didn't match the stream ID currently associated with framework ID ${framework.id}`,
      );
    }

    switch (call.type) {
      case CallType.TEARDOWN:
        master.removeFramework(framework);
        break;
      case CallType.ACCEPT:
        master.accept(framework, call.accept as mesos.v1.scheduler.Call.IAccept);
        break;
      case CallType.DECLINE:
        master.decline(framework, call.decline as mesos.v1.scheduler.Call.IDecline);
        break;
      case CallType.REVIVE:
        master.revive(framework, call.revive?.roles ?? []);
        break;
      case CallType.SUPPRESS:
        master.suppress(framework, call.suppress?.roles ?? []);
        break;
      case CallType.KILL:
        master.kill(framework, call.kill as mesos.v1.scheduler.Call.IKill);
        break;
      case CallType.SHUTDOWN:
        master.shutdownExecutor(framework, call.shutdown as mesos.v1.scheduler.Call.IShutdown);
        break;
      case CallType.ACKNOWLEDGE:
        master.acknowledge(framework, call.acknowledge as mesos.v1.scheduler.Call.IAcknowledge);
        break;
      case CallType.RECONCILE:
        master.reconcile(framework, call.reconcile as mesos.v1.scheduler.Call.IReconcile);
        break;
      case CallType.UPDATE_FRAMEWORK: {
        const error = master.updateFramework(framework, call.update_framework as mesos.v1.scheduler.Call.IUpdateFramework);
        return error ? respond(res, 400, error) : respond(res, 200);
      }
      case CallType.MESSAGE:
      case CallType.REQUEST:
      case CallType.ACCEPT_INVERSE_OFFERS:
      case CallType.DECLINE_INVERSE_OFFERS:
      case CallType.ACKNOWLEDGE_OPERATION_STATUS:
      case CallType.RECONCILE_OPERATIONS:
        // Accepted and ignored: no executors to message, no maintenance, no operation feedback.
        break;
      default:
        return respond(res, 501, `Received unexpected '${CallType[call.type] ?? call.type}' call`);
    }
    respond(res, 202);
  }
}
