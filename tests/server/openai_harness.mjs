// Shared by the openai-client test scripts: loads the official `openai` npm
// client from the node_modules path the C++ test passes, and runs named
// checks (one `ok NAME` / `FAIL NAME: ...` line each; the first failure
// exits 1).
import { pathToFileURL } from 'node:url';

// An OpenAI client for a keel server on 127.0.0.1:port (no retries).
export async function connect(port, modulePath, { apiKey = 'none', timeout = 60000 } = {}) {
  const { default: OpenAI } = await import(pathToFileURL(`${modulePath}/index.mjs`).href);
  return new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey, maxRetries: 0, timeout });
}

export async function check(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  }
}
