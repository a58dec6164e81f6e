'use strict';
/**
 * A minimal TypeScript require hook for the benchmark's server children: each .ts file is
 * transpiled with the project's compiler options (ts.transpileModule, no type check), as
 * `ts-node/register/transpile-only` does. Unlike ts-node it does not load `repl` — and with it
 * `domain`, which reroutes every EventEmitter construction and emit in the process through the
 * domain module — nor source-map-support, so a server runs the way it runs from dist/.
 */
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.resolve(__dirname, '..', '..');
const read = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
const { options } = ts.convertCompilerOptionsFromJson(read.config.compilerOptions, root);
const compilerOptions = { ...options, sourceMap: false, inlineSourceMap: false, declaration: false };

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: filename });
  module._compile(outputText, filename);
};
