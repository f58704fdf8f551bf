// Audits a running server against the GraphQL over HTTP specification with
// the graphql-http package. Exits 1 if any MUST or SHOULD audit fails.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
let failed = 0;
for (const result of results) {
  const mandatory = result.name.startsWith('MUST') || result.name.startsWith('SHOULD');
  const mark = result.status === 'ok' ? 'ok  ' : mandatory ? 'FAIL' : 'warn';
  if (result.status !== 'ok' && mandatory) failed += 1;
  console.log(`${mark} ${result.id} ${result.name}${result.status === 'ok' ? '' : ` -- ${result.reason}`}`);
}
const passed = results.filter((r) => r.status === 'ok').length;
console.log(`graphql-http audits: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
