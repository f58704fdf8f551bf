// Audits a running server against the GraphQL over HTTP specification with
// the graphql-http package. Exits 1 if any MUST or SHOULD audit fails; a MAY
// audit that fails is only a warning.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
const isMandatory = (result) => result.name.startsWith('MUST') || result.name.startsWith('SHOULD');
for (const result of results) {
  const mark = result.status === 'ok' ? 'ok  ' : isMandatory(result) ? 'FAIL' : 'warn';
  console.log(`${mark} ${result.id} ${result.name}${result.status === 'ok' ? '' : ` -- ${result.reason}`}`);
}
const tally = (group) => `${group.filter((r) => r.status === 'ok').length} of ${group.length}`;
const mandatory = results.filter(isMandatory);
const optional = results.filter((r) => !isMandatory(r));
console.log(`graphql-http audits: MUST and SHOULD ${tally(mandatory)} pass, MAY ${tally(optional)} pass`);
process.exit(mandatory.every((r) => r.status === 'ok') ? 0 : 1);
