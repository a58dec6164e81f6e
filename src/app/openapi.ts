/**
 * The OpenAPI document served at /docs/openapi.json. Written by hand because the KServe V2 shapes
 * are protocol-defined, not derived from TypeScript classes; a test checks every route here exists.
 */
const errorResponse = {
  description: 'Error',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};
const json = (schema: Record<string, unknown>, description = 'OK') => ({
  description,
  content: { 'application/json': { schema } },
});
const model = { name: 'model', in: 'path', required: true, schema: { type: 'string' } };
const version = {
  name: 'version',
  in: 'path',
  required: true,
  schema: { type: 'integer', minimum: 1 },
};
const jobId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const admin = [{ adminToken: [] }];

/**
 * The V2 infer routes take JSON, or the binary tensor data extension: an
 * `Inference-Header-Content-Length` header, the JSON inference header, then raw tensor bytes.
 */
const inferRequestBody = {
  required: true,
  content: {
    'application/json': { schema: { $ref: '#/components/schemas/InferRequest' } },
    'application/octet-stream': {
      schema: { type: 'string', format: 'binary' },
      description:
        "Binary tensor data extension: the JSON inference header (Inference-Header-Content-Length bytes; inputs with parameters.binary_data_size have no data), then each such input's little-endian bytes in order (BYTES: 4-byte length + UTF-8 per element).",
    },
  },
};

const inferResponses = {
  200: {
    description:
      "The infer response; in the binary form (application/octet-stream, with Inference-Header-Content-Length) when parameters.binary_data_output or an output's parameters.binary_data asks for it.",
    content: {
      'application/json': { schema: { $ref: '#/components/schemas/InferResponse' } },
      'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
    },
  },
  400: errorResponse,
  404: errorResponse,
  413: errorResponse,
  503: errorResponse,
};

export const OPENAPI_DOCUMENT = {
  openapi: '3.0.3',
  info: {
    title: 'Argus',
    version: '0.1.0',
    description:
      'Serve ONNX models and watch them. KServe V2 (Open Inference Protocol) REST, a simple JSON predict API, and the model registry admin API.',
  },
  components: {
    securitySchemes: {
      adminToken: { type: 'http', scheme: 'bearer', description: 'ARGUS_ADMIN_TOKEN' },
    },
    schemas: {
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
      Tensor: {
        type: 'object',
        required: ['name', 'shape', 'datatype', 'data'],
        properties: {
          name: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer' } },
          datatype: {
            type: 'string',
            enum: [
              'BOOL',
              'UINT8',
              'UINT16',
              'UINT32',
              'UINT64',
              'INT8',
              'INT16',
              'INT32',
              'INT64',
              'FP16',
              'FP32',
              'FP64',
              'BYTES',
            ],
          },
          parameters: { type: 'object' },
          data: { type: 'array', items: {} },
        },
      },
      InferRequest: {
        type: 'object',
        required: ['inputs'],
        properties: {
          id: { type: 'string' },
          parameters: { type: 'object' },
          inputs: { type: 'array', items: { $ref: '#/components/schemas/Tensor' } },
          outputs: {
            type: 'array',
            items: { type: 'object', properties: { name: { type: 'string' } } },
          },
        },
      },
      InferResponse: {
        type: 'object',
        properties: {
          model_name: { type: 'string' },
          model_version: { type: 'string' },
          id: { type: 'string' },
          parameters: {
            type: 'object',
            properties: { prediction_ids: { type: 'array', items: { type: 'string' } } },
          },
          outputs: { type: 'array', items: { $ref: '#/components/schemas/Tensor' } },
        },
      },
      PredictRequest: {
        type: 'object',
        required: ['instances'],
        properties: {
          instances: {
            type: 'array',
            items: {
              oneOf: [
                { type: 'array', items: { type: 'number' } },
                { type: 'object', additionalProperties: { type: 'number' } },
              ],
            },
          },
        },
      },
      PredictResponse: {
        type: 'object',
        properties: {
          model: { type: 'string' },
          version: { type: 'integer' },
          request_id: { type: 'string' },
          prediction_ids: { type: 'array', items: { type: 'string' } },
          predictions: { type: 'array', items: { type: 'object' } },
        },
      },
      Manifest: {
        type: 'object',
        description: 'Model version manifest (signature, task, features, classes, lineage).',
      },
      TrainingSpec: {
        type: 'object',
        description:
          "A training job spec (docs/training.md). Empty body or {}: the model's stored spec.",
        properties: {
          kind: {
            type: 'string',
            enum: [
              'mlp',
              'softmax',
              'mlp-regressor',
              'mlp-classifier',
              'softmax-regression',
              'external',
            ],
          },
          data: { type: 'object' },
          hidden: { type: 'array', items: { type: 'integer' } },
          epochs: { type: 'integer' },
          seed: { type: 'integer' },
          options: { type: 'object' },
          classes: { type: 'array', items: { type: 'string' } },
          split: { type: 'object' },
          gate: { type: 'object' },
          reference_sample_size: { type: 'integer' },
          command: { type: 'string' },
          timeout_s: { type: 'number' },
          cwd: { type: 'string' },
          task: { type: 'string', enum: ['classification', 'regression'] },
        },
      },
      TrainingJob: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          model: { type: 'string' },
          kind: { type: 'string' },
          status: {
            type: 'string',
            enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'],
          },
          progress: { type: 'object', nullable: true },
          metrics: { type: 'object', nullable: true },
          logs: { type: 'array', items: { type: 'string' } },
          error: { type: 'string', nullable: true },
          candidate_version: { type: 'integer', nullable: true },
          parent_version: { type: 'integer', nullable: true },
          gate: { type: 'object', nullable: true },
          dataset: { type: 'object', nullable: true },
          created_at: { type: 'string', format: 'date-time' },
          started_at: { type: 'string', format: 'date-time', nullable: true },
          finished_at: { type: 'string', format: 'date-time', nullable: true },
        },
      },
    },
  },
  paths: {
    '/v2': { get: { summary: 'Server metadata', responses: { 200: json({ type: 'object' }) } } },
    '/v2/health/live': {
      get: { summary: 'Liveness', responses: { 200: json({ type: 'object' }) } },
    },
    '/v2/health/ready': {
      get: {
        summary: 'Readiness (every champion loaded and warm)',
        responses: { 200: json({ type: 'object' }), 400: errorResponse },
      },
    },
    '/v2/models/{model}': {
      get: {
        summary: 'Model metadata',
        parameters: [model],
        responses: { 200: json({ type: 'object' }), 404: errorResponse },
      },
    },
    '/v2/models/{model}/versions/{version}': {
      get: {
        summary: 'Model version metadata',
        parameters: [model, version],
        responses: { 200: json({ type: 'object' }), 404: errorResponse },
      },
    },
    '/v2/models/{model}/ready': {
      get: {
        summary: 'Model readiness',
        parameters: [model],
        responses: { 200: json({ type: 'object' }), 400: errorResponse, 404: errorResponse },
      },
    },
    '/v2/models/{model}/versions/{version}/ready': {
      get: {
        summary: 'Model version readiness',
        parameters: [model, version],
        responses: { 200: json({ type: 'object' }), 400: errorResponse, 404: errorResponse },
      },
    },
    '/v2/models/{model}/infer': {
      post: {
        summary: 'Inference on the champion',
        parameters: [model],
        requestBody: inferRequestBody,
        responses: inferResponses,
      },
    },
    '/v2/models/{model}/versions/{version}/infer': {
      post: {
        summary: 'Inference on a pinned version',
        parameters: [model, version],
        requestBody: inferRequestBody,
        responses: inferResponses,
      },
    },
    '/v1/models/{model}/predict': {
      post: {
        summary: 'Simple JSON prediction on the champion',
        parameters: [model],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/PredictRequest' } },
          },
        },
        responses: {
          200: json({ $ref: '#/components/schemas/PredictResponse' }),
          400: errorResponse,
          404: errorResponse,
          503: errorResponse,
        },
      },
    },
    '/v1/models/{model}/versions/{version}/predict': {
      post: {
        summary: 'Simple JSON prediction on a pinned version',
        parameters: [model, version],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/PredictRequest' } },
          },
        },
        responses: {
          200: json({ $ref: '#/components/schemas/PredictResponse' }),
          400: errorResponse,
          404: errorResponse,
          503: errorResponse,
        },
      },
    },
    '/v1/models': { get: { summary: 'List models', responses: { 200: json({ type: 'object' }) } } },
    '/v1/models/{model}': {
      get: {
        summary: 'A model with its versions and aliases',
        parameters: [model],
        responses: { 200: json({ type: 'object' }), 404: errorResponse },
      },
    },
    '/v1/models/{model}/versions': {
      post: {
        summary: 'Register a new version (admin)',
        security: admin,
        parameters: [
          model,
          {
            name: 'alias',
            in: 'query',
            schema: { type: 'string', enum: ['champion', 'challenger', 'shadow', 'canary'] },
          },
        ],
        requestBody: {
          required: true,
          content: {
            'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
            'application/json': {
              schema: {
                type: 'object',
                required: ['onnx_base64'],
                properties: {
                  onnx_base64: { type: 'string' },
                  metadata: { type: 'object' },
                  alias: { type: 'string' },
                },
              },
            },
          },
        },
        responses: {
          201: json({ type: 'object' }, 'Registered'),
          400: errorResponse,
          401: errorResponse,
          403: errorResponse,
          413: errorResponse,
        },
      },
    },
    '/v1/models/{model}/versions/{version}': {
      get: {
        summary: 'A version manifest',
        parameters: [model, version],
        responses: { 200: json({ $ref: '#/components/schemas/Manifest' }), 404: errorResponse },
      },
      delete: {
        summary: 'Delete a version (admin; refused for the champion)',
        security: admin,
        parameters: [model, version],
        responses: {
          200: json({ type: 'object' }),
          401: errorResponse,
          403: errorResponse,
          404: errorResponse,
          409: errorResponse,
        },
      },
    },
    '/v1/models/{model}/aliases/{alias}': {
      put: {
        summary: 'Point an alias at a version (admin)',
        security: admin,
        parameters: [
          model,
          {
            name: 'alias',
            in: 'path',
            required: true,
            schema: { type: 'string', enum: ['champion', 'challenger', 'shadow', 'canary'] },
          },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['version'],
                properties: { version: { type: 'integer' } },
              },
            },
          },
        },
        responses: {
          200: json({ type: 'object' }),
          400: errorResponse,
          401: errorResponse,
          403: errorResponse,
          404: errorResponse,
        },
      },
    },
    '/v1/models/{model}/train': {
      post: {
        summary:
          'Start a training job (admin): spec in the body, or none for the stored spec; the candidate is registered, not promoted',
        security: admin,
        parameters: [model],
        requestBody: {
          required: false,
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/TrainingSpec' } },
          },
        },
        responses: {
          202: json({ $ref: '#/components/schemas/TrainingJob' }, 'Queued'),
          400: errorResponse,
          401: errorResponse,
          403: errorResponse,
          409: errorResponse,
        },
      },
    },
    '/v1/jobs': {
      get: {
        summary: 'Training jobs, newest first (without their logs)',
        parameters: [
          { name: 'model', in: 'query', schema: { type: 'string' } },
          {
            name: 'status',
            in: 'query',
            schema: {
              type: 'string',
              enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'],
            },
          },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
        ],
        responses: {
          200: json({
            type: 'object',
            properties: {
              jobs: { type: 'array', items: { $ref: '#/components/schemas/TrainingJob' } },
            },
          }),
          400: errorResponse,
        },
      },
    },
    '/v1/jobs/{id}': {
      get: {
        summary: 'A training job: status, progress, metrics, gate, logs',
        parameters: [jobId],
        responses: {
          200: json({ $ref: '#/components/schemas/TrainingJob' }),
          404: errorResponse,
        },
      },
    },
    '/v1/jobs/{id}/cancel': {
      post: {
        summary: 'Cancel a queued or running job (admin); nothing is registered',
        security: admin,
        parameters: [jobId],
        responses: {
          200: json({ $ref: '#/components/schemas/TrainingJob' }),
          401: errorResponse,
          403: errorResponse,
          404: errorResponse,
          409: errorResponse,
        },
      },
    },
    '/v1/feedback': {
      post: {
        summary: 'Ground truth for earlier predictions (up to 10 000 rows; all or nothing)',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'array',
                maxItems: 10000,
                items: {
                  type: 'object',
                  required: ['prediction_id'],
                  properties: {
                    prediction_id: { type: 'string', format: 'uuid' },
                    label: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
                    value: { type: 'number' },
                    ts: { oneOf: [{ type: 'integer' }, { type: 'string', format: 'date-time' }] },
                    source: { type: 'string' },
                  },
                },
              },
            },
          },
        },
        responses: {
          200: json({ type: 'object', properties: { accepted: { type: 'integer' } } }),
          400: errorResponse,
          413: errorResponse,
          503: errorResponse,
        },
      },
    },
    '/v1/models/{model}/monitoring': {
      get: {
        summary: 'Latest scheduled monitoring results per version, window, metric and feature',
        parameters: [
          model,
          { name: 'version', in: 'query', schema: { type: 'integer', minimum: 1 } },
        ],
        responses: { 200: json({ type: 'object' }), 400: errorResponse, 404: errorResponse },
      },
    },
    '/v1/models/{model}/quality': {
      get: {
        summary: 'Quality against feedback (and the CBPE estimate) over a window, computed now',
        parameters: [
          model,
          {
            name: 'version',
            in: 'query',
            schema: { type: 'integer', minimum: 1 },
            description: 'default: the champion',
          },
          {
            name: 'from',
            in: 'query',
            schema: { type: 'string' },
            description: 'ISO 8601 or ms since the epoch (default: to − 1 h)',
          },
          {
            name: 'to',
            in: 'query',
            schema: { type: 'string' },
            description: 'ISO 8601 or ms since the epoch, exclusive (default: now)',
          },
          {
            name: 'window',
            in: 'query',
            schema: { type: 'string' },
            description: 'instead of from: 5m, 1h, 1d or rows:<n> ending at to',
          },
        ],
        responses: { 200: json({ type: 'object' }), 400: errorResponse, 404: errorResponse },
      },
    },
    '/v1/models/{model}/drift': {
      get: {
        summary:
          'Drift of a window against the reference profile (or a baseline window), computed now',
        parameters: [
          model,
          {
            name: 'version',
            in: 'query',
            schema: { type: 'integer', minimum: 1 },
            description: 'default: the champion',
          },
          {
            name: 'from',
            in: 'query',
            schema: { type: 'string' },
            description: 'ISO 8601 or ms since the epoch (default: to − 1 h)',
          },
          {
            name: 'to',
            in: 'query',
            schema: { type: 'string' },
            description: 'ISO 8601 or ms since the epoch, exclusive (default: now)',
          },
          {
            name: 'window',
            in: 'query',
            schema: { type: 'string' },
            description: 'instead of from: 5m, 1h, 1d or rows:<n> ending at to',
          },
          { name: 'baseline_from', in: 'query', schema: { type: 'string' } },
          { name: 'baseline_to', in: 'query', schema: { type: 'string' } },
        ],
        responses: { 200: json({ type: 'object' }), 400: errorResponse, 404: errorResponse },
      },
    },
    '/v1/models/{model}/versions/{version}/reference': {
      get: {
        summary: 'The reference profile of a version (available: false while it has none)',
        parameters: [model, version],
        responses: { 200: json({ type: 'object' }), 404: errorResponse },
      },
      put: {
        summary: 'Set the reference of a version from rows (admin; once per version)',
        security: admin,
        parameters: [model, version],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['rows'],
                properties: {
                  rows: {
                    type: 'array',
                    items: { type: 'array', items: { type: 'number', nullable: true } },
                  },
                  labels: {
                    type: 'array',
                    items: { oneOf: [{ type: 'string' }, { type: 'number' }] },
                  },
                },
              },
            },
          },
        },
        responses: {
          200: json({ type: 'object' }),
          400: errorResponse,
          401: errorResponse,
          403: errorResponse,
          404: errorResponse,
          409: errorResponse,
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        responses: { 200: { description: 'Prometheus text format' } },
      },
    },
  },
};
