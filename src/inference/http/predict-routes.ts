import { Injectable, Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../../http/error-filter';
import { parseVersion } from '../../registry/manifest';
import {
  BinaryInferResponse,
  decodeV1Instances,
  decodeV2InferRequest,
  encodeV2BinaryInferResponse,
  encodeV2InferResponse,
  INFERENCE_HEADER_CONTENT_LENGTH,
  predictionsFromOutputs,
  splitBinaryInferBody,
  V2InferResponseParts,
} from '../codecs';
import { InferenceService } from '../inference.service';

interface ModelParams {
  model: string;
  version?: string;
}

type PredictRequest = FastifyRequest<{ Params: ModelParams; Body: unknown }>;

/** A V2 response in the binary tensor data extension's form (kserve-v2-binary.ts). */
class BinaryReply {
  constructor(readonly response: BinaryInferResponse) {}
}

/**
 * The predict routes — `POST /v1/models/:model[/versions/:version]/predict` and
 * `POST /v2/models/:model[/versions/:version]/infer` — served as plain Fastify routes rather than
 * Nest controller methods. Nest's router adds its proxy, pipes, interceptor chain and exception
 * zone to every request (bench/serving: ~30 µs of server CPU per single-row request, about 12 %
 * of the total); these are the only routes where that is a measurable share. They still run the
 * same data plane (`InferenceService`), the same global Fastify hooks (request id, trace id,
 * OpenTelemetry) and answer errors through the same mapping as the error filter.
 * `src/app/openapi.ts` documents them with the rest of the API.
 */
@Injectable()
export class PredictRoutes {
  private readonly log = new Logger('http');

  constructor(private readonly inference: InferenceService) {}

  /** Adds the routes; call before the server listens. */
  register(fastify: FastifyInstance): void {
    const v1 = (req: PredictRequest, reply: FastifyReply) => this.answer(reply, this.v1(req));
    const v2 = (req: PredictRequest, reply: FastifyReply) => this.answer(reply, this.v2(req));
    fastify.post('/v1/models/:model/predict', v1);
    fastify.post('/v1/models/:model/versions/:version/predict', v1);
    fastify.post('/v2/models/:model/infer', v2);
    fastify.post('/v2/models/:model/versions/:version/infer', v2);
  }

  /**
   * Sends the result or the error; returns the reply so Fastify does not wait for a value.
   * `await` inside a try costs an extra promise per request over `then` with two callbacks.
   */
  private answer(reply: FastifyReply, pending: Promise<unknown>): Promise<FastifyReply> {
    return pending.then(
      (body) =>
        body instanceof BinaryReply
          ? reply
              .code(200)
              .header(INFERENCE_HEADER_CONTENT_LENGTH, body.response.headerLength)
              .type('application/octet-stream')
              .send(body.response.body)
          : reply.code(200).send(body),
      (err: unknown) => {
        sendError(reply, err, this.log);
        return reply;
      },
    );
  }

  private async v1(req: PredictRequest): Promise<unknown> {
    const version = req.params.version === undefined ? undefined : parseVersion(req.params.version);
    const body = req.body;
    const maxRows = this.inference.maxRowsPerRequest;
    const outcome = await this.inference.infer(
      { model: req.params.model, version, requestId: req.id, protocol: 'v1' },
      (manifest) => {
        const { input, rows } = decodeV1Instances(body, manifest, maxRows);
        return { inputs: [input], rows };
      },
    );
    return {
      model: outcome.manifest.name,
      version: outcome.manifest.version,
      request_id: req.id,
      prediction_ids: outcome.predictionIds,
      predictions: predictionsFromOutputs(outcome.manifest, outcome.outputs, outcome.decoded.rows),
    };
  }

  private async v2(req: PredictRequest): Promise<unknown> {
    const version = req.params.version === undefined ? undefined : parseVersion(req.params.version);
    const body = req.body;
    const headerLength = req.headers[INFERENCE_HEADER_CONTENT_LENGTH];
    const maxRows = this.inference.maxRowsPerRequest;
    const outcome = await this.inference.infer(
      { model: req.params.model, version, requestId: req.id, protocol: 'v2' },
      (manifest) => {
        // Inside the decode step, so a malformed binary body is logged as a failed request too.
        if (headerLength === undefined) {
          return decodeV2InferRequest(body, manifest.inputs, manifest.outputs, maxRows);
        }
        const { header, binary } = splitBinaryInferBody(body, headerLength);
        return decodeV2InferRequest(header, manifest.inputs, manifest.outputs, maxRows, binary);
      },
    );
    const { decoded } = outcome;
    const response: V2InferResponseParts = [
      outcome.manifest.name,
      outcome.manifest.version,
      decoded.id ?? req.id,
      outcome.outputs,
      decoded.outputs,
      outcome.predictionIds,
    ];
    return decoded.binaryOutputs.size > 0
      ? new BinaryReply(encodeV2BinaryInferResponse(decoded.binaryOutputs, ...response))
      : encodeV2InferResponse(...response);
  }
}
