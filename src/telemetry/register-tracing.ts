// Preload entry: `node --require ./dist/telemetry/register-tracing.js` starts OpenTelemetry
// before anything else is loaded.
import { startTracing } from './tracing';

startTracing();
