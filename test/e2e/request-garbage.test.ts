import { AsyncResource } from 'node:async_hooks';
import { dirname } from 'node:path';
import { CLASSIFIER_META, irisLikeClassifier } from '../fixtures/models';
import { registerOk, startTestServer, TestServer, waitChampionReady } from './helpers';

/**
 * Guards the p99 floor found in session 7 (docs/architecture.md, "Fastify is 5.12.8").
 *
 * On Node 20, a function made by `AsyncResource.prototype.bind` keeps whatever it closes over alive
 * through young-generation GCs. Fastify up to 5.11 bound each request's body callback that way,
 * so every request's objects were promoted to the old generation: ~15 ms scavenges two or three
 * times a second, which alone set the predict path's p99 (14 ms at 20 % load; 3 ms without).
 * Nothing on the request path may bind an AsyncResource per request: not the body parser, not a
 * Nest interceptor (Nest's run through `AsyncResource.bind` too), not our own code.
 */

describe('request path garbage', () => {
  let server: TestServer;
  const bind = jest.spyOn(AsyncResource.prototype, 'bind');

  beforeAll(async () => {
    server = await startTestServer();
    await registerOk(server, 'iris', irisLikeClassifier(), {
      metadata: CLASSIFIER_META,
      alias: 'champion',
    });
    await waitChampionReady(server, 'iris');
  }, 60_000);

  afterAll(async () => {
    bind.mockRestore();
    await server?.close();
  });

  it('Nest serves through the same Fastify the project pins (package.json overrides)', () => {
    // @nestjs/platform-fastify 11.2.8 depends on fastify 5.11.3 exactly; without the override it
    // would get a nested copy of that version and the fix below would not reach the server.
    const nestAdapter = dirname(require.resolve('@nestjs/platform-fastify/package.json'));
    const fastifyUnderNest = require.resolve('fastify', { paths: [nestAdapter] });
    expect(fastifyUnderNest).toBe(require.resolve('fastify'));
  });

  it('binds no AsyncResource per request on the predict and feedback paths', async () => {
    bind.mockClear();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const v1 = await server.request('POST', '/v1/models/iris/predict', {
        json: { instances: [[5.1, 3.5, 1.4, 0.2]] },
      });
      expect(v1.status).toBe(200);
      ids.push(...(v1.body as { prediction_ids: string[] }).prediction_ids);
      const v2 = await server.request('POST', '/v2/models/iris/infer', {
        json: {
          inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [6.2, 2.9, 4.3, 1.3] }],
        },
      });
      expect(v2.status).toBe(200);
    }
    const feedback = await server.request('POST', '/v1/feedback', {
      json: ids.map((id) => ({ prediction_id: id, label: 'setosa' })),
    });
    expect(feedback.status).toBe(200);
    expect(bind).not.toHaveBeenCalled();
  });
});
